"""Passkeys in Chromium with a virtual authenticator (the DevTools protocol's WebAuthn domain, through a
CDP session): add one on the account page, sign out, sign in with the passkey alone through an app's
authorization request and read `amr` in the ID token; the autofill path; the offer after a password
sign-in (OFFER_PASSKEY); rename and removal; joining by invitation with a passkey; and an issuer on
an IP address, which shows a note instead of the controls. Latchkey's issuer here is
http://localhost:PORT (browsers refuse WebAuthn on an IP address). Screenshots at both widths.

Chromium's virtual authenticator with automaticPresenceSimulation answers a conditional-mediation
request (passkey autofill) by itself, as if the person picked the passkey from the username field's
suggestions. The button tests therefore turn autofill off in their page (a browser without it), so
that the button, not autofill, makes the sign-in."""

import types
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt as pyjwt
import pytest
import requests
from helpers import PASSWORD, LiveServer, pkce_pair
from world import AppHost, clients_for, screenshot, sign_in

SHOTS = (("desktop", 1280, 800, "light"), ("phone", 360, 780, "dark"), ("desktop", 1280, 800, "dark"),
         ("phone", 360, 780, "light"))
NO_AUTOFILL = "PublicKeyCredential.isConditionalMediationAvailable = async () => false;"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Latchkey at http://localhost:PORT with OFFER_PASSKEY on, an app host, and a few people."""
    web = AppHost(routes={"/cb": lambda: "<h1>The app got its answer</h1>"})
    idp = LiveServer(tmp_path_factory.mktemp("idp"), clients_text=clients_for(web.url, web.url), host="localhost",
                     settings={"OFFER_PASSKEY": "true"})
    for name in ("alice", "bob", "carol", "dave"):
        result = idp.flask("user", "add", name, "--email", f"{name}@example.org", "--name", name.title(),
                           "--password-stdin", input=PASSWORD + "\n")
        assert result.returncode == 0, result.stderr
    yield types.SimpleNamespace(idp=idp, web=web)
    idp.stop()
    web.stop()


def virtual_authenticator(page, **options):
    """A platform authenticator holding discoverable credentials and verifying the person."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True, **options}})
    return cdp, added["authenticatorId"]


def password_sign_in(page, username):
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(page, site):
    page.goto(site.idp.url + "/logout")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(site.idp.url + "/logout")


def authorization_request(site):
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": "browser-app", "redirect_uri": site.web.url + "/cb",
              "scope": "openid", "state": "st-1", "code_challenge": challenge, "code_challenge_method": "S256"}
    return verifier, f"{site.idp.url}/authorize?{urlencode(params)}"


def id_token_claims(site, page, verifier):
    """Redeem the code the app got back; the ID token's claims."""
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    token = requests.post(site.idp.url + "/token", auth=("browser-app", "browser-app-secret-0123456789"),
                          timeout=10, data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                            "redirect_uri": site.web.url + "/cb"}).json()
    return pyjwt.decode(token["id_token"], options={"verify_signature": False})


def shots(new_page, page, url, name, ready=None):
    """The page at `url`, as this browser's person sees it, at both widths in both schemes."""
    for device, width, height, scheme in SHOTS:
        shot = new_page(color_scheme=scheme, width=width, height=height)
        shot.context.add_cookies(page.context.cookies())
        shot.goto(url)
        if ready:
            ready(shot)
        assert shot.evaluate("document.documentElement.scrollWidth") <= width, (name, device)
        screenshot(shot, f"{name}-{device}-{scheme}")


def test_add_a_passkey_sign_out_and_sign_in_with_it_alone_through_an_app(page, new_page, site):
    page.add_init_script(NO_AUTOFILL)  # so that the button, not autofill, signs in below
    cdp, authenticator = virtual_authenticator(page)
    page.goto(site.idp.url + "/login")
    password_sign_in(page, "alice")
    page.get_by_role("link", name="Not now").click()  # OFFER_PASSKEY's page; the account page adds one too
    page.wait_for_url(site.idp.url + "/account")
    page.get_by_label("Name for a new passkey").fill("Alice's laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(site.idp.url + "/account#passkeys-heading")
    assert "Your passkey was added" in page.get_by_role("status").first.inner_text()
    listed = page.locator(".passkeys li")
    assert listed.count() == 1 and "Alice's laptop" in listed.inner_text()
    assert "This device only" in listed.inner_text() and "never used yet" in listed.inner_text()
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(stored) == 1 and stored[0]["isResidentCredential"] and stored[0]["rpId"] == "localhost"
    shots(new_page, page, site.idp.url + "/account", "account-passkeys",
          ready=lambda p: p.locator(".passkeys details").evaluate("d => d.open = true"))

    sign_out(page, site)
    verifier, url = authorization_request(site)
    page.goto(url)
    assert page.get_by_label("Username").get_attribute("autocomplete") == "username webauthn"
    shots(new_page, page, page.url, "login-passkey")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(site.web.url + "/cb?*")
    claims = id_token_claims(site, page, verifier)
    assert claims["sub"] == "alice" and claims["amr"] == ["hwk", "user", "mfa"]
    page.goto(site.idp.url + "/account")
    assert "last used" in page.locator(".passkeys li").inner_text()


def test_the_username_field_offers_passkeys_as_autofill(page, site):
    """Conditional mediation: Chromium's virtual authenticator picks the passkey itself, as a
    person would from the suggestions under the username field; no button is pressed."""
    virtual_authenticator(page, defaultBackupEligibility=True, defaultBackupState=True)  # a synced passkey
    page.goto(site.idp.url + "/login")
    password_sign_in(page, "carol")
    page.wait_for_url(site.idp.url + "/account/passkeys/offer?**")
    page.get_by_role("button", name="Add a passkey").click()  # OFFER_PASSKEY: then on to where carol was going
    page.wait_for_url(site.idp.url + "/account")
    assert "Synced" in page.locator(".passkeys li").inner_text()
    sign_out(page, site)
    verifier, url = authorization_request(site)
    page.goto(url)  # the login page; autofill does the rest
    page.wait_for_url(site.web.url + "/cb?*")
    claims = id_token_claims(site, page, verifier)
    assert claims["sub"] == "carol" and claims["amr"] == ["swk", "user", "mfa"]


def test_after_a_password_a_passkey_is_offered_and_not_now_goes_on(page, new_page, site):
    verifier, url = authorization_request(site)
    page.goto(url)
    password_sign_in(page, "bob")
    page.wait_for_url(site.idp.url + "/account/passkeys/offer?**")
    assert page.get_by_role("button", name="Add a passkey").is_visible()
    shots(new_page, page, page.url, "passkey-offer")
    page.get_by_role("link", name="Not now").click()
    page.wait_for_url(site.web.url + "/cb?*")
    assert id_token_claims(site, page, verifier)["amr"] == ["pwd"]


def test_a_passkey_is_renamed_and_removed(page, site):
    page.add_init_script(NO_AUTOFILL)
    virtual_authenticator(page)
    page.goto(site.idp.url + "/login")
    password_sign_in(page, "dave")
    page.get_by_role("button", name="Add a passkey").click()  # on the offer page
    page.wait_for_url(site.idp.url + "/account")
    page.goto(site.idp.url + "/account")
    page.locator(".passkeys summary").click()
    page.get_by_label("New name").fill("Dave's phone")
    page.get_by_role("button", name="Rename").click()
    page.wait_for_url(site.idp.url + "/account#passkeys-heading")
    assert "Dave's phone" in page.locator(".passkeys li").inner_text()
    page.locator(".passkeys summary").click()
    page.get_by_role("button", name="Remove the passkey Dave's phone").click()
    page.wait_for_url(site.idp.url + "/account#passkeys-heading")
    assert "was removed" in page.get_by_role("status").first.inner_text()
    assert page.locator(".passkeys li").count() == 0
    # The authenticator still holds it; Latchkey no longer knows it.
    sign_out(page, site)
    page.goto(site.idp.url + "/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(site.idp.url + "/login")
    assert "not registered here" in page.get_by_role("alert").first.inner_text()


def test_an_invited_person_joins_with_a_passkey_and_no_password(page, new_page, site):
    page.add_init_script(NO_AUTOFILL)
    virtual_authenticator(page)
    result = site.idp.flask("user", "invite", "erin", "--email", "erin@example.org", "--name", "Erin Example")
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip().splitlines()[-1]
    assert link.startswith(site.idp.url + "/join/")
    page.goto(link)
    shots(new_page, page, link, "join-passkey")
    page.get_by_role("button", name="Use a passkey instead").click()
    page.wait_for_url(site.idp.url + "/account")
    assert "you have no password" in page.inner_text("main")
    sign_out(page, site)
    verifier, url = authorization_request(site)
    page.goto(url)
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(site.web.url + "/cb?*")
    assert id_token_claims(site, page, verifier)["sub"] == "erin"


def test_an_ip_address_issuer_shows_a_note_instead_of_passkeys(page, new_page, world):
    """world's Latchkey is at http://127.0.0.1:PORT: browsers would refuse passkeys there."""
    page.goto(world.idp.url + "/login")
    assert page.get_by_role("button", name="Sign in with a passkey").count() == 0
    assert page.locator("script").count() == 0
    sign_in(page)
    page.wait_for_url(world.idp.url + "/account")
    assert "Passkeys cannot be used here" in page.locator("#passkeys-unavailable").inner_text()
    assert page.get_by_role("button", name="Add a passkey").count() == 0
    shots(new_page, page, world.idp.url + "/account", "account-passkeys-unavailable")

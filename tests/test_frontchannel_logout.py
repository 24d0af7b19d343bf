"""OpenID Connect Front-Channel Logout 1.0: the signed-out page loads each app's frontchannel_logout_uri
of the ended session in hidden frames (with iss and sid when the app asks), within a CSP that allows
frames from exactly those origins, and then goes on to the app that asked for the sign-out. (Chromium
loading them: tests/interop/test_interop_frontchannel_logout.py.)"""

import html
import re
import textwrap
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import CLIENTS, ISSUER, Flow, csrf_token, login

from idp.clients import ClientsFileError, parse
from idp.settings import DEFAULTS

FRONT = """
[[clients]]
client_id = "photos"
client_name = "Photos"
redirect_uris = ["https://photos.example/cb"]
post_logout_redirect_uris = ["https://photos.example/bye"]
frontchannel_logout_uri = "https://photos.example/logout?from=idp"
frontchannel_logout_session_required = true
token_endpoint_auth_method = "none"
scope = "openid"

[[clients]]
client_id = "wiki"
client_name = "Wiki"
redirect_uris = ["https://wiki.example:8443/cb"]
frontchannel_logout_uri = "https://wiki.example:8443/fc"
token_endpoint_auth_method = "none"
scope = "openid"
"""


@pytest.fixture
def clients_file(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(CLIENTS + FRONT)
    return path


def frames(response):
    return [html.unescape(src) for src in re.findall(r'<iframe class="frontchannel-logout" src="([^"]+)"', response.text)]


def frame_src(response):
    policy = response.headers["Content-Security-Policy"]
    found = [d.strip() for d in policy.split(";") if d.strip().startswith("frame-src")]
    return found[0].split()[1:] if found else None


def sign_out(client):
    page = client.get("/logout")
    return client.post("/logout", data={"csrf_token": csrf_token(page.text)})


def sid_of(flow, client_id):
    import jwt

    id_token = flow.tokens(scope="openid", client_id=client_id, redirect_uri=REDIRECTS[client_id])["id_token"]
    return jwt.decode(id_token, options={"verify_signature": False})["sid"]


REDIRECTS = {"photos": "https://photos.example/cb", "wiki": "https://wiki.example:8443/cb",
             "web": "https://web.example/cb"}


def test_the_signed_out_page_loads_each_apps_frame_with_iss_and_sid_when_asked(flow):
    sid = sid_of(flow, "photos")
    sid_of(flow, "wiki")
    response = sign_out(flow.client)
    assert response.status_code == 200 and "You are signed out" in response.text
    photos, wiki = frames(response)
    assert photos.startswith("https://photos.example/logout?from=idp&")  # the registered query is kept
    assert parse_qs(urlsplit(photos).query) == {"from": ["idp"], "iss": [ISSUER], "sid": [sid]}
    assert wiki == "https://wiki.example:8443/fc"  # no session parameters unless the app asks for them
    assert "Signing you out of Photos and Wiki too." in response.text


def test_frame_src_names_exactly_the_apps_origins(flow):
    sid_of(flow, "photos")
    sid_of(flow, "wiki")
    response = sign_out(flow.client)
    assert sorted(frame_src(response)) == ["https://photos.example", "https://wiki.example:8443"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_without_front_channel_apps_there_are_no_frames_and_no_frame_src(flow):
    flow.tokens(scope="openid")  # "web" has no frontchannel_logout_uri
    response = sign_out(flow.client)
    assert frames(response) == [] and frame_src(response) is None
    assert "Web App keeps its own session" in response.text


def test_only_the_apps_of_this_browsers_session_get_a_frame(app, flow):
    other = Flow(app.test_client())
    login(other.client)
    sid_of(other, "wiki")  # wiki was used in another browser only
    sid_of(flow, "photos")
    response = sign_out(flow.client)
    assert [urlsplit(f).hostname for f in frames(response)] == ["photos.example"]


def test_an_apps_logout_with_a_hint_goes_back_after_the_frames(flow):
    id_token = flow.tokens(scope="openid", client_id="photos", redirect_uri=REDIRECTS["photos"])["id_token"]
    response = flow.client.get("/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": "https://photos.example/bye", "state": "s9"})
    # Not a 302: the page loads the frames first, and its refresh continues once they have loaded.
    assert response.status_code == 200 and len(frames(response)) == 1
    assert '<meta http-equiv="refresh" content="1; url=https://photos.example/bye?state=s9">' in response.text
    assert 'href="https://photos.example/bye?state=s9">Continue to Photos</a>' in response.text


def test_a_page_without_a_way_back_has_no_refresh(flow):
    sid_of(flow, "photos")
    response = sign_out(flow.client)
    assert "http-equiv" not in response.text and "sign in again" in response.text


def test_ending_this_browsers_session_on_the_account_page_loads_the_frames(flow):
    sid_of(flow, "wiki")
    account = flow.client.get("/account")
    handle = re.search(r'name="handle" value="([0-9a-f]+)"', account.text).group(1)
    response = flow.client.post("/account/sessions/end", data={"csrf_token": csrf_token(account.text), "handle": handle})
    assert frames(response) == ["https://wiki.example:8443/fc"]


def test_sign_out_everywhere_loads_the_frames_of_this_browsers_session(app, flow):
    other = Flow(app.test_client())
    login(other.client)
    sid_of(other, "photos")
    sid_of(flow, "wiki")
    account = flow.client.get("/account")
    response = flow.client.post("/account/sign-out-everywhere", data={"csrf_token": csrf_token(account.text)})
    assert frames(response) == ["https://wiki.example:8443/fc"]  # photos' browser cannot be reached from here
    assert other.client.get("/account").status_code == 302


BASE = """\
[[clients]]
client_id = "a"
redirect_uris = ["https://a.example/cb", "http://127.0.0.1:8080/cb"]
token_endpoint_auth_method = "none"
"""


@pytest.mark.parametrize("uri, expected", [
    ("https://b.example/fc", "must be on the scheme, host and port of one of the app's redirect_uris"),
    ("https://a.example:8443/fc", "must be on the scheme, host and port"),
    ("http://a.example/fc", "http is only allowed on a loopback host"),
    ("http://127.0.0.1:9090/fc", "must be on the scheme, host and port"),
    ("https://a.example/fc#x", "a fragment is not allowed"),
    ("https://user@a.example/fc", "no user name"),
    ("https://a.example\\@b.example/fc", "backslashes"),
    ("https://a.example;frame-src/fc", "may hold only letters, digits, dots and dashes"),
    ("com.example.app:/fc", "must be an https URL"),
    ("javascript:alert(1)", "must be https"),
])
def test_frontchannel_logout_uri_must_be_an_origin_of_the_apps_redirect_uris(tmp_path, uri, expected):
    path = tmp_path / "clients.toml"
    path.write_text(BASE + f"frontchannel_logout_uri = {uri!r}\n".replace("'", '"').replace("\\", "\\\\"))
    with pytest.raises(ClientsFileError) as e:
        parse(str(path), DEFAULTS)
    assert any(p.startswith(f"{path}:5: ") and expected in p for p in e.value.problems), e.value.problems


@pytest.mark.parametrize("uri", ["https://a.example/fc?x=1", "http://127.0.0.1:8080/fc"])
def test_a_frontchannel_logout_uri_on_a_redirect_uris_origin_is_accepted(tmp_path, uri):
    path = tmp_path / "clients.toml"
    path.write_text(BASE + f'frontchannel_logout_uri = "{uri}"\nfrontchannel_logout_session_required = true\n')
    client = parse(str(path), DEFAULTS)["a"]
    assert client.frontchannel_logout_uri == uri and client.frontchannel_logout_session_required is True


def test_session_required_without_the_uri_is_a_mistake(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(textwrap.dedent(BASE) + "frontchannel_logout_session_required = true\n")
    with pytest.raises(ClientsFileError) as e:
        parse(str(path), DEFAULTS)
    assert f"{path}:5: frontchannel_logout_session_required needs frontchannel_logout_uri" in e.value.problems

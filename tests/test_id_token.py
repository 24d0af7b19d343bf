"""The ID token: RS256, kid "1", and the claims of OIDC Core §2 and §5.4."""

import base64
import hashlib
import time

import jwt
from helpers import ISSUER


def decode(app, token, audience="web"):
    key = app.extensions["latchkey_key"]
    public = jwt.algorithms.RSAAlgorithm.from_jwk(key.as_dict(private=False))
    return jwt.decode(token, public, algorithms=["RS256"], audience=audience, issuer=ISSUER)


def test_id_token_is_rs256_with_kid_1(flow):
    tokens = flow.tokens()
    header = jwt.get_unverified_header(tokens["id_token"])
    assert header["alg"] == "RS256" and header["kid"] == "1"


def test_id_token_core_claims(flow, app):
    before = int(time.time())
    tokens = flow.tokens(scope="openid", nonce="abc")
    claims = decode(app, tokens["id_token"])
    assert claims["iss"] == ISSUER and claims["sub"] == "alice" and claims["aud"] == "web"
    assert claims["nonce"] == "abc"
    assert before - 5 <= claims["iat"] <= time.time() and claims["exp"] == claims["iat"] + 900
    assert claims["auth_time"] <= claims["iat"]
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_id_token_claims_follow_the_scopes(flow, app):
    claims = decode(app, flow.tokens(scope="openid profile email groups")["id_token"])
    assert claims["name"] == "Alice Liddell" and claims["given_name"] == "Alice"
    assert claims["family_name"] == "Liddell" and claims["nickname"] == "alice"
    assert claims["preferred_username"] == "alice" and claims["locale"] == "en-GB"
    assert claims["email"] == "alice@example.org" and claims["email_verified"] is True
    assert claims["groups"] == ["family", "staff"] and isinstance(claims["updated_at"], int)
    only_openid = decode(app, flow.tokens(scope="openid")["id_token"])
    assert "email" not in only_openid and "name" not in only_openid


def test_id_token_claims_false_leaves_claims_to_userinfo(flow, app):
    tokens = flow.tokens(scope="openid email", client_id="legacy", redirect_uri="https://legacy.example/cb")
    claims = decode(app, tokens["id_token"], audience="legacy")
    assert "email" not in claims and claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == 120  # the client's id_token_ttl
    userinfo = flow.client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert userinfo.json["email"] == "alice@example.org"


def test_default_locale_fills_in_for_users_without_one(client, app):
    from helpers import Flow, add_user, login

    add_user(app, "bob")
    login(client, "bob")
    claims = decode(app, Flow(client).tokens(scope="openid profile")["id_token"])
    assert claims["locale"] == "en-US" and "name" not in claims


def test_no_id_token_without_openid_scope(flow):
    assert "id_token" not in flow.tokens(scope="profile offline_access")


def test_id_tokens_say_how_the_person_signed_in(flow):
    """RFC 8176 amr: a password sign-in is ["pwd"], and a refreshed ID token keeps it."""
    import jwt as pyjwt

    tokens = flow.tokens(scope="openid offline_access")
    assert pyjwt.decode(tokens["id_token"], options={"verify_signature": False})["amr"] == ["pwd"]
    refreshed = flow.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json
    claims = pyjwt.decode(refreshed["id_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd"]

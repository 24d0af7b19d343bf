"""The integration recipes in docs/integrations: every clients.toml block loads, and the custom-scheme
redirect of Immich's mobile app works end to end."""

import re
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from helpers import ROOT, browser_sign_in, pkce_pair

from idp.clients import parse
from idp.passwords import new_client_secret
from idp.settings import DEFAULTS

RECIPES = sorted(Path(ROOT, "docs", "integrations").glob("*.md"))
APPS = ["nextcloud", "grafana", "immich", "jellyfin", "home-assistant", "forgejo", "vaultwarden", "oauth2-proxy",
        "matrix-synapse", "jupyterhub", "streamlit", "django", "authjs", "express-openid-connect"]


def test_there_is_a_recipe_for_every_app():
    assert {p.stem for p in RECIPES} >= set(APPS)


@pytest.mark.parametrize("app", APPS)
def test_recipe_clients_block_is_valid(app, tmp_path):
    text = Path(ROOT, "docs", "integrations", f"{app}.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "one clients.toml block per recipe"
    # the placeholder hash stands where the admin pastes the line from `flask client secret`
    block = re.sub(r'client_secret_hash = "[^"]*"', f'client_secret_hash = "{new_client_secret()[1]}"', blocks[0])
    path = tmp_path / "clients.toml"
    path.write_text(block)
    clients = parse(str(path), DEFAULTS)
    assert app in clients
    assert "redirect_uri" in text or clients[app].redirect_uris


def test_immich_mobile_custom_scheme_redirect_round_trip(world):
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": "browser-app", "redirect_uri": "app.immich:///oauth-callback",
              "scope": "openid email", "state": "m1", "code_challenge": challenge, "code_challenge_method": "S256"}
    callback = browser_sign_in(requests.Session(), f"{world.idp.url}/authorize?{urlencode(params)}")
    assert callback.startswith("app.immich:///oauth-callback?code=")
    code = parse_qs(urlsplit(callback).query)["code"][0]
    token = requests.post(world.idp.url + "/token", auth=("browser-app", "browser-app-secret-0123456789"), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "app.immich:///oauth-callback",
        "code_verifier": verifier})
    assert token.status_code == 200 and "id_token" in token.json()

"""openid-client (npm, the OpenID Certified relying party) as a confidential server-side app:
discovery, code flow with PKCE/state/nonce and full ID-token validation, userinfo, refresh with
rotation, introspection, revocation, and the end-session URL."""

import json
import os
import shutil
import subprocess

import pytest
import requests
from helpers import browser_sign_in
from world import HERE

CHECKS = ["discovery", "code_flow_with_pkce_state_nonce", "id_token_validated", "userinfo",
          "refresh_with_rotation", "introspection", "revocation", "end_session_url"]


@pytest.fixture(scope="module")
def run(world):
    env = {**os.environ, "IDP": world.idp.url, "CLIENT_ID": "node-web", "CLIENT_SECRET": "node-web-secret-0123456789",
           "REDIRECT_URI": world.web.url + "/cb", "POST_LOGOUT": world.web.url + "/bye"}
    node = subprocess.Popen([shutil.which("node") or "node", str(HERE / "openid_client_rp.mjs")], cwd=HERE, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = json.loads(node.stdout.readline() or "{}")
    assert "authorization_url" in first, node.stderr.read()
    browser = requests.Session()
    callback = browser_sign_in(browser, first["authorization_url"])
    out, err = node.communicate(callback + "\n", timeout=60)
    assert node.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    results = {line["name"]: line for line in lines if "name" in line}
    end_session = next(line["end_session_url"] for line in lines if "end_session_url" in line)
    return results, end_session, browser


@pytest.mark.parametrize("name", CHECKS)
def test_openid_client_check(run, name):
    results, _, _ = run
    assert results[name]["ok"], results[name]


def test_openid_client_end_session_url_returns_to_the_app(run, world):
    _, end_session, browser = run
    response = browser.get(end_session, allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == world.web.url + "/bye?state=bye"

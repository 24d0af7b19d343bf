"""The curl walkthrough in the README (curl + openssl doing PKCE by hand), run as a script against the
real server, twice in a row as someone trying it again would, so the README cannot rot."""

import json
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import quote

from helpers import ROOT, LiveServer


def walkthrough():
    text = Path(ROOT, "README.md").read_text(encoding="utf-8")
    section = text.split("## Five-minute walkthrough", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def run(script, server, cwd):
    env = {**server.env, "FLASK_APP": os.path.join(ROOT, "app.py")}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def id_token_claims(stdout):
    """Step 9's output: the ID token's claims, the indented JSON object that ends the output."""
    start = stdout.rindex("\n{\n")
    return json.loads(stdout[start:])


def test_readme_walkthrough_runs_as_written_and_again(tmp_path):
    script = walkthrough()
    assert "\nIDP=http://localhost:5000\n" in script  # the default issuer, as `flask run` serves it
    # A random nonce each run (a fixed one is refused the second time, as a replay).
    assert "\nNONCE=$(openssl rand -hex 16)\n" in script and "&nonce=$NONCE&" in script
    # The ID-token one-liner reads tokens.json: it runs before the block removes that file.
    assert script.index('["id_token"]') < script.index("rm -f jar tokens.json")
    shown = re.search(r'echo "\$CALLBACK" +# (\S+)', script).group(1)
    step_1, rest = script.split("\n# 2. ", 1)
    rest = "# 2. " + rest

    server = LiveServer(tmp_path, clients_text=Path(ROOT, "clients.toml").read_text(), host="localhost")
    try:
        script = script.replace("IDP=http://localhost:5000", f"IDP={server.url}")
        rest = rest.replace("IDP=http://localhost:5000", f"IDP={server.url}")
        first = run(script, server, tmp_path)
        assert first.returncode == 0, first.stdout + first.stderr
        # Pasted again into the same terminal: step 1 says alice exists, everything after it works.
        again_step_1 = run(step_1, server, tmp_path)
        again = run(rest, server, tmp_path)
    finally:
        server.stop()
    assert again_step_1.returncode == 1 and "already exists" in again_step_1.stderr, again_step_1.stderr
    assert again.returncode == 0, again.stdout + again.stderr

    # The callback has the shape the README shows, with the issuer percent-encoded (RFC 9207).
    encoded = quote("http://localhost:5000", safe="")
    assert encoded in shown
    pattern = re.escape(shown.replace(encoded, quote(server.url, safe=""))).replace(re.escape("..."), "[A-Za-z0-9_-]+")
    nonces = []
    for result in (first, again):
        lines = result.stdout.splitlines()
        assert sum(bool(re.fullmatch(pattern, line)) for line in lines) == 1, (pattern, lines)
        assert any('"sub": "alice"' in line and '"email": "alice@example.org"' in line for line in lines)
        assert any('"refresh_token"' in line and '"id_token"' in line for line in lines)
        claims = id_token_claims(result.stdout)  # step 9, the ID-token one-liner, as written
        assert claims["iss"] == server.url and claims["aud"] == "example-web" and claims["sub"] == "alice"
        assert re.fullmatch(r"[0-9a-f]{32}", claims["nonce"])
        nonces.append(claims["nonce"])
    assert "added user alice" in first.stdout.splitlines()
    assert nonces[0] != nonces[1]
    assert not (tmp_path / "tokens.json").exists() and not (tmp_path / "jar").exists()

"""The curl walkthrough in the README (curl + openssl doing PKCE by hand), run as a script against the
real server under gunicorn, so the README cannot rot."""

import os
import re
import subprocess
from pathlib import Path

from helpers import ROOT, LiveServer


def walkthrough():
    text = Path(ROOT, "README.md").read_text(encoding="utf-8")
    section = text.split("## Five-minute walkthrough", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_readme_walkthrough_runs_as_written(tmp_path):
    server = LiveServer(tmp_path, clients_text=Path(ROOT, "clients.toml").read_text(), host="localhost")
    try:
        assert "\nIDP=http://localhost:5000\n" in walkthrough()  # the default issuer, as `flask run` serves it
        script = walkthrough().replace("IDP=http://localhost:5000", f"IDP={server.url}")
        env = {**server.env, "FLASK_APP": os.path.join(ROOT, "app.py")}
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "added user alice" in lines
    assert any(line.startswith("http://127.0.0.1:8080/callback?code=") and "state=xyz" in line for line in lines)
    assert any('"sub": "alice"' in line and '"email": "alice@example.org"' in line for line in lines)
    assert any('"refresh_token"' in line and '"id_token"' in line for line in lines)

"""A real install: `pip install '.[server]'` (not editable) into a fresh virtualenv, then `latchkey
serve` and the admin commands run from folders outside the repository, all finding one instance
through IDP_INSTANCE_PATH and the clients file through its config.toml. And the wheel carries every
file of the package and every template, so nothing added later is forgotten."""

import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt as pyjwt
import pytest
import requests
from helpers import CLIENTS, FAST_ARGON2, PASSWORD, ROOT, WEB_SECRET, auth_params, browser_sign_in, free_port, pkce_pair

from idp.settings import load


def _git_files(*paths):
    """The files a checkout has under `paths`: tracked, or new and not ignored."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths],
                         cwd=ROOT, check=True, capture_output=True).stdout.decode()
    return sorted({name for name in out.split("\0") if name and os.path.isfile(os.path.join(ROOT, name))})


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A clean copy of the checkout: what `pip install .` sees, without the repo's own build/ and
    *.egg-info leftovers (setuptools builds inside the source folder and would reuse them)."""
    copy = tmp_path_factory.mktemp("source")
    for name in _git_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, name), copy / name)
    return copy


def _clean_env(**extra):
    """This machine's environment without Latchkey's and Flask's settings of the test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "FLASK_")) and k != "PYTHONPATH"}
    return {**env, **extra}


def _pip(*args):
    # Reuses pip's cache (no --no-cache-dir): the dependencies are downloaded once per machine.
    result = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
                            capture_output=True, text=True, timeout=900, env=_clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_the_wheel_carries_every_file_of_the_package_and_every_template(source, tmp_path):
    # (--no-build-isolation needs the `wheel` package next to an older setuptools: pip's isolated
    # build gets the setuptools pyproject.toml asks for, from pip's cache.)
    _pip("wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(source))
    [wheel] = tmp_path.glob("latchkey-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    expected = _git_files("idp")
    templates = _git_files("templates")
    assert any(n.endswith(".html") for n in templates) and "idp/static/style.css" in expected
    expected += ["idp/" + n for n in templates]  # templates/ is installed as idp/templates/
    assert [n for n in expected if n not in names] == []
    assert "latchkey = idp.serve:main" in entry_points and "user = idp.cli:user_cli" in entry_points


def test_a_relative_clients_file_in_config_toml_is_beside_it(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.toml").write_text('CLIENTS_FILE = "apps.toml"\n')
    monkeypatch.chdir(tmp_path.parent)
    assert load(environ={"IDP_INSTANCE_PATH": str(instance)})["CLIENTS_FILE"] == str(instance / "apps.toml")
    # From the environment (or the default) it stays relative to the working folder, as documented.
    settings = load(environ={"IDP_INSTANCE_PATH": str(instance), "IDP_CLIENTS_FILE": "other.toml"})
    assert settings["CLIENTS_FILE"] == "other.toml"


def test_an_admin_command_never_creates_an_instance(tmp_path):
    missing = tmp_path / "nowhere" / "instance"
    env = _clean_env(IDP_INSTANCE_PATH=str(missing))
    result = subprocess.run([sys.executable, "-m", "flask", "user", "list"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"no Latchkey instance at {missing}" in result.stderr and "IDP_INSTANCE_PATH" in result.stderr
    assert not (tmp_path / "nowhere").exists()
    # A folder without its database is no instance either (a config.toml written ahead of the first start).
    missing.mkdir(parents=True)
    result = subprocess.run([sys.executable, "-m", "flask", "user", "list"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "it has no database" in result.stderr
    assert os.listdir(missing) == []


def _wait_for(url, process, log):
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError("latchkey serve exited:\n" + log.read_text())
        try:
            return requests.get(url, timeout=5)
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise AssertionError("latchkey serve did not start:\n" + log.read_text())


def test_installed_latchkey_serves_and_administers_from_any_folder(source, tmp_path):
    venv = tmp_path / "venv"
    # No system site-packages: the repo's editable install there would shadow the real one. No pip
    # inside either: this pip installs into it (--python), which saves setting one up.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python, latchkey = venv / "bin" / "python", venv / "bin" / "latchkey"
    _pip("--python", str(python), "install", "--quiet", f"{source}[server]")

    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    instance = tmp_path / "srv" / "latchkey"  # the admin's choice, far from any working folder
    instance.mkdir(parents=True)
    (instance / "apps.toml").write_text(CLIENTS)
    (instance / "config.toml").write_text(textwrap.dedent(f"""\
        ISSUER = "{issuer}"
        CLIENTS_FILE = "apps.toml"
        """) + "".join(f"{k} = {v}\n" for k, v in FAST_ARGON2.items()))
    env = _clean_env(IDP_INSTANCE_PATH=str(instance))
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()

    where = subprocess.run([str(python), "-c", "import idp; print(idp.__file__); print(idp.TEMPLATE_FOLDER)"],
                           cwd=here, env=env, capture_output=True, text=True, timeout=60)
    module, templates = where.stdout.split()
    assert Path(module).is_relative_to(venv) and Path(templates).is_relative_to(venv), where.stdout

    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen([str(latchkey), "serve", "--port", str(port), "--workers", "2"], cwd=here,
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        discovery = _wait_for(issuer + "/.well-known/openid-configuration", server, log).json()
        assert discovery["issuer"] == issuer and discovery["jwks_uri"] == issuer + "/.well-known/jwks.json"
        assert [k["kid"] for k in requests.get(discovery["jwks_uri"], timeout=10).json()["keys"]] == ["1"]
        page = requests.get(issuer + "/login", timeout=10)
        assert page.status_code == 200 and 'name="password"' in page.text, page.text
        assert '<link rel="stylesheet" href="/static/style.css">' in page.text
        style = requests.get(issuer + "/static/style.css", timeout=10)
        assert style.status_code == 200 and style.headers["Content-Type"].startswith("text/css") and style.text
        assert "--workers 2 --blocking-threads 1" in log.read_text()
        assert {p.name for p in instance.iterdir()} >= {"idp.sqlite3", "session_secret", "signing_key.pem"}

        # The admin, in another folder: the same instance, the same clients file.
        added = subprocess.run([str(latchkey), "user", "add", "alice", "--email", "alice@example.org",
                                "--password-stdin"], cwd=elsewhere, env=env, input=PASSWORD + "\n",
                               capture_output=True, text=True, timeout=60)
        assert added.returncode == 0 and "added user alice" in added.stdout, added.stdout + added.stderr
        check = subprocess.run([str(latchkey), "client", "check"], cwd=elsewhere, env=env,
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0 and f"{instance / 'apps.toml'}: 7 clients, all valid" in check.stdout

        # alice signs in to the app "web" (code flow with PKCE) through the login form.
        verifier, challenge = pkce_pair()
        session = requests.Session()
        callback = browser_sign_in(session, issuer + "/authorize?" + urlencode(auth_params(challenge=challenge)))
        assert callback.startswith("https://web.example/cb?")
        code = parse_qs(urlsplit(callback).query)["code"][0]
        tokens = requests.post(discovery["token_endpoint"], auth=("web", WEB_SECRET), timeout=10, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": "https://web.example/cb",
            "code_verifier": verifier}).json()
        claims = pyjwt.decode(tokens["id_token"], options={"verify_signature": False})
        assert claims["sub"] == "alice" and claims["iss"] == issuer and claims["aud"] == "web"
        assert "alice" in session.get(issuer + "/account", timeout=10).text
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0, log.read_text()

    # Pointed at a folder with no instance, an admin command refuses and creates nothing.
    for folder in (here, elsewhere):
        missing = subprocess.run([str(latchkey), "user", "list"], cwd=folder, capture_output=True, text=True,
                                 timeout=60, env=_clean_env())
        assert missing.returncode == 1, missing.stdout + missing.stderr
        assert f"no Latchkey instance at {folder / 'instance'}" in missing.stderr
        assert "IDP_INSTANCE_PATH" in missing.stderr
        assert not (folder / "instance").exists()
    # A new client secret needs no instance at all.
    secret = subprocess.run([str(latchkey), "client", "secret"], cwd=elsewhere, env=_clean_env(),
                            capture_output=True, text=True, timeout=60)
    assert secret.returncode == 0 and "client_secret_hash = " in secret.stdout

"""The systemd unit in docs/latchkey.service (README, "Running it for real"): the README shows the very
file, `systemd-analyze verify` finds nothing to say about it, and its commands are ones `latchkey` has."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

UNIT = Path(ROOT, "docs", "latchkey.service")
VENV_LATCHKEY = "/opt/latchkey/bin/latchkey"


def unit_text():
    return UNIT.read_text(encoding="utf-8")


def test_the_readme_shows_the_unit_file_as_it_is():
    readme = Path(ROOT, "README.md").read_text(encoding="utf-8")
    assert f"```ini\n{unit_text()}```\n" in readme


def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: .ci/run installs Debian's systemd package")
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    # verify checks that every command exists and is executable: the venv's latchkey is played by a
    # stand-in; everything else is the file as it is (systemd need not be running, nor the user exist).
    stand_in = tmp_path / "latchkey"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    assert unit_text().count(VENV_LATCHKEY) == 2  # ExecStart and the check before a reload
    copy = tmp_path / "latchkey.service"
    copy.write_text(unit_text().replace(VENV_LATCHKEY, str(stand_in)), encoding="utf-8")
    result = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60)
    # Unknown keys and unparsable values are only warnings (exit status 0): none may be printed.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def directives():
    return re.findall(r"^(\w+)=(.*)$", unit_text(), re.M)


def test_its_own_user_a_private_instance_folder_restart_and_hardening():
    values = {}
    for key, value in directives():
        values.setdefault(key, []).append(value)
    assert values["User"] == ["latchkey"] and values["Group"] == ["latchkey"]
    assert values["Environment"] == ["IDP_INSTANCE_PATH=/var/lib/latchkey"]
    assert values["StateDirectory"] == ["latchkey"] and values["StateDirectoryMode"] == ["0700"]
    assert values["Restart"] == ["on-failure"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "UMask": "0077"}.items():
        assert values[key] == [value], key
    assert values["ExecReload"][-1] == "/bin/kill -HUP $MAINPID"


def test_its_commands_are_latchkeys():
    # `latchkey serve …` as ExecStart has it and the check before a reload: `--help` after the
    # arguments exits 0 only if every option before it is one the command has.
    latchkey = Path(sys.executable).parent / "latchkey"
    assert latchkey.exists(), "the latchkey command is installed with the package (pip install -e .)"
    commands = [value for key, value in directives() if key in ("ExecStart", "ExecReload")]
    ours = [c.split()[1:] for c in commands if c.startswith(VENV_LATCHKEY + " ")]
    assert [args[0] for args in ours] == ["serve", "client"]
    for args in ours:
        result = subprocess.run([str(latchkey), *args, "--help"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (args, result.stdout + result.stderr)

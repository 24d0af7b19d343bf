"""The benchmark (bench/run.py) runs from start to end at a hundredth of its size: both providers
answer every operation (the script checks each answer) and the report has every row. No timing is
asserted here; the figures are the benchmark's to report."""

import json
import subprocess
import sys

from helpers import ROOT


def test_the_benchmark_runs_and_reports_every_row(tmp_path):
    result = subprocess.run([sys.executable, "bench/run.py", "--smoke", "--out", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = (tmp_path / "results.md").read_text()
    for clients in (1, 4):
        for row in ("sign-in", "sign-in less argon2", "refresh", "userinfo", "discovery", "jwks",
                    "empty WSGI app (the server's floor)"):
            assert f"| {row} | {clients} |" in report
    for part in ("Cold start to the first discovery answer", "Resident memory per Latchkey worker",
                 "Large database", "| userinfo |"):
        assert part in report
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["large"]["purge"]["left"] == 0  # the dead rows were purged while serving
    assert all(row["ops"] > 0 for row in results["table"].values())

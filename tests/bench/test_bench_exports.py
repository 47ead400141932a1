"""The exports part of the scale benchmark (issue 14) at a tiny scale, in its own database.

Runs `python -m bench --scale 0.001 --only exports` in a subprocess and checks what it
reports: the first night exported every entry never exported, in a fresh process whose peak
RSS was measured, the delivered file equals the sealed bytes, empty nights made no batch,
a small night took exactly its new entries, and I12 holds over every row.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_exports_bench_at_tiny_scale(tmp_path):
    results_file = tmp_path / "bench.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--scale",
            "0.001",
            "--only",
            "exports",
            "--db",
            f"settle_bench_exports_smoke_{os.getpid()}",
            "--json",
            str(results_file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    exports = json.loads(results_file.read_text())["exports"]
    first = exports["first_night"]
    assert first["exit_code"] == 0 and first["entries"] == exports["pending"] > 0
    assert first["delivered_file_matches_sha256"] and first["peak_rss_mib"] > 0
    assert exports["empty_night"]["runs"] == 5
    assert exports["small_night"]["entries"] == exports["small_night"]["made"] > 0
    assert set(exports["i12"].values()) == {0} and exports["pending_after"] == 0
    assert "exports" in run.stdout and "empty night" in run.stdout

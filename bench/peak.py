"""`python -m bench.peak COMMAND...`: run COMMAND and print its peak RSS as the last line of stderr.

The bench cannot take the importer's peak from its own wait4: a child started by fork or
vfork keeps its parent's high-water mark across exec, so the bench process, holding the
statement it planned, reported its own size (bench/RESULTS.md, issue 10). This small process
starts the command instead; the figure is the largest of the command and the processes it
waited for (the import's streams), in KiB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MARK = "peak RSS KiB:"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Measured:
    """A command run under this module: wall seconds, exit code, what it printed, its peak RSS."""

    seconds: float
    exit_code: int
    output: str
    errors: str
    peak_rss_mib: float | None


def run_measured(argv: list[str], *, env: dict[str, str]) -> Measured:
    """Run `argv` (a Python command line, from the project's root) under this module in a fresh
    process: the bench's own size never counts, the command's streams' sizes do."""
    command = [sys.executable, "-m", "bench.peak", *argv]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.run(command, env=env, cwd=ROOT, stdout=out, stderr=err, text=True, check=False)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        output, errors = out.read().strip(), err.read().strip()
    peak = [line for line in errors.splitlines() if line.startswith(MARK)]
    return Measured(
        seconds=seconds,
        exit_code=process.returncode,
        output=output,
        errors=errors,
        peak_rss_mib=round(int(peak[-1].split(":")[1]) / 1024, 1) if peak else None,
    )


def main(argv: list[str]) -> int:
    process = subprocess.Popen(argv)
    _, status, usage = os.wait4(process.pid, 0)
    print(f"{MARK} {usage.ru_maxrss}", file=sys.stderr)  # Linux: KiB
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

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

MARK = "peak RSS KiB:"


def main(argv: list[str]) -> int:
    process = subprocess.Popen(argv)
    _, status, usage = os.wait4(process.pid, 0)
    print(f"{MARK} {usage.ru_maxrss}", file=sys.stderr)  # Linux: KiB
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

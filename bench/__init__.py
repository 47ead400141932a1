"""The scale benchmark behind `make bench` (issue 5).

`python -m bench --scale 1.0` creates a separate database (settle_bench), migrates it,
fills it with set-based SQL, proves the data consistent with the SQL of
tests/invariants.py, then measures the work-queue pages, the baselines they replace,
allocation throughput and the nightly drift check, and drops the database again.
"""

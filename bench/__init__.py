"""The scale benchmark behind `make bench` (issue 5).

`python -m bench --scale 1.0` creates a separate database (settle_bench), migrates it,
fills it with set-based SQL, proves the data consistent with the SQL of
tests/invariants.py, then measures the work-queue pages, the baselines they replace,
allocation throughput, the orders (bench/orders.py, issue 12: invoice_order of a 20-line
order and the orders list by status; the data's orders come from bench/generate_orders.py)
and the nightly drift check with the order checks timed apart, then the bank statement import
(bench/intake.py: a generated camt.053 of 100,000 credits over 20,000 customers at scale
1.0, imported and re-imported by `manage.py import_payments` in a fresh process), then
the customer's position (bench/customer.py, issue 11: the customer page, the global
search, a statement of ~1,000 entries, dunning over every account, then the invariants
again), then the installment plans (bench/plans.py, issue 13: the nightly assess_penalties
over every plan, run twice the same day, and the plans list and a plan's page; the data's
100,000 plans of 10 installments at scale 1.0 come from bench/generate_plans.py), then the
nightly window (bench/nightly.py, issue 16: a statement of 100,000 credits imported through
the task queue, auto_allocate, assess_penalties, run_dunning, export_batch and
reconcile_statuses one after another, each in its own process, with invariants and drift
after), and drops the database again. `--only lists`, `--only intake`, `--only customer`,
`--only plans` or `--only nightly` measures one part (`make bench BENCH_ARGS="--scale 0.1 --only customer"`);
`--dunning-seconds` caps the first dunning run (default 60 s, the rest extrapolated).
"""

"""bench.report: issue 16's targets for the list pages and the clerks, beside issue 5's."""

from bench.report import issue16_verdicts


def results(p95: float, collections_p95: float, median: float, sql_median: float, allocs: float) -> dict:
    return {
        "lists": [
            {
                "label": "invoices unpaid",
                "target": "invoices",
                "p95_ms": p95,
                "median_ms": median,
                "baseline": ["invoice", "unpaid"],
            },
            {"label": "collections by balance", "target": "collections", "p95_ms": collections_p95, "median_ms": 30.0},
        ],
        "baselines": {"sql": {"invoice:unpaid": {"median_ms": sql_median}}, "python": {}},
        "throughput": {"distinct": [{"threads": 1, "allocs_per_s": 999}, {"threads": 4, "allocs_per_s": allocs}]},
    }


def verdicts(**figures) -> dict[str, tuple]:
    return {v["target"]: (v["value"], v["goal"], v["met"]) for v in issue16_verdicts(results(**figures))}


def test_each_list_page_the_queue_the_baseline_and_four_clerks_against_issue_16s_targets():
    assert verdicts(p95=24.9, collections_p95=34.9, median=10.0, sql_median=1000.0, allocs=600) == {
        "p95 invoices unpaid (issue 16)": (24.9, "< 25 ms", True),
        "vs on-the-fly SQL invoice:unpaid (issue 16)": (100.0, ">= 100x", True),
        "p95 collections by balance (issue 16)": (34.9, "< 35 ms", True),
        "allocs/s, 4 clerks on distinct payments (issue 16)": (600, ">= 600/s", True),
    }
    missed = verdicts(p95=25.0, collections_p95=35.0, median=10.0, sql_median=999.0, allocs=599)
    assert [met for _, _, met in missed.values()] == [False] * 4
    assert missed["vs on-the-fly SQL invoice:unpaid (issue 16)"][0] == 99.9

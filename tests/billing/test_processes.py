"""billing.processes: how the nightly jobs cut their work for their worker processes."""

import operator

import pytest

from billing.processes import consecutive_runs, in_consecutive_runs, worth_sharing


def test_consecutive_runs_are_as_even_as_can_be_and_keep_the_order():
    assert consecutive_runs([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4, 5]]
    assert consecutive_runs([1, 2, 3, 4, 5, 6], 3) == [[1, 2], [3, 4], [5, 6]]
    assert consecutive_runs([1, 2], 4) == [[1], [2]]  # no empty run
    assert consecutive_runs([1, 2, 3], 1) == [[1, 2, 3]]


@pytest.mark.django_db
def test_work_is_not_shared_inside_a_transaction():
    assert not worth_sharing(2, parts=4, rows=10_000, at_least=2_000)  # the other processes would not see its rows


@pytest.mark.django_db(transaction=True)
def test_work_is_shared_only_when_it_is_worth_it():
    assert not worth_sharing(1, parts=4, rows=10_000, at_least=0)
    assert not worth_sharing(2, parts=1, rows=10_000, at_least=0)
    assert not worth_sharing(2, parts=4, rows=1_999, at_least=2_000)
    assert worth_sharing(2, parts=2, rows=2_000, at_least=2_000)


@pytest.mark.django_db(transaction=True)
def test_each_run_is_worked_in_a_process_of_its_own_with_the_same_arguments_in_order():
    # operator.mul(run, 2): each run (a slice of the parts) repeated, computed in a spawned process.
    assert list(in_consecutive_runs(operator.mul, [1, 2, 3], 2, 2)) == [[1, 1], [2, 3, 2, 3]]

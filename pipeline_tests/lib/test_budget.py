"""The daily spending cap: reservations, settling and many threads (today's starting figure
comes from the ledger: pipeline_tests/lib/test_ledger.py)."""

from __future__ import annotations

import random
import threading

import pytest

from pipeline.lib.billing.budget import DailyBudget
from pipeline.lib.failures import GenerationError

pytestmark = pytest.mark.dates  # `make test-dates` runs these under faketime


def test_reserve_settle_release_keep() -> None:
    budget = DailyBudget(1.0, spent_usd=0.2)
    budget.reserve(0.3).settle(0.1)
    budget.reserve(0.3).release()
    budget.reserve(0.3).keep()
    budget.reserve(0.3).settle(None)  # unknown real cost: the estimate stands
    assert budget.spent_usd == pytest.approx(0.2 + 0.1 + 0.3 + 0.3)
    hold = budget.reserve(0.05)
    hold.settle(0.01)
    hold.settle(0.5)  # a second close is ignored
    assert budget.spent_usd == pytest.approx(0.91)


def test_a_reservation_that_would_pass_the_cap_is_refused() -> None:
    budget = DailyBudget(1.0, spent_usd=0.7)
    first = budget.reserve(0.2)
    with pytest.raises(GenerationError) as caught:
        budget.reserve(0.2)  # 0.7 spent + 0.2 reserved + 0.2 > 1.0
    assert caught.value.happened == "over_budget"
    assert "$0.7000 of $1.00" in str(caught.value)
    first.release()
    budget.reserve(0.2)  # room again once the first request cost nothing
    assert budget.refused == 1
    assert budget.metadata() == {
        "budget_usd": 1.0,
        "spent_today_usd": 0.7,
        "spent_this_run_usd": 0.0,
        "requests_stopped_by_budget": 1,
    }


def test_no_cap_never_refuses() -> None:
    budget = DailyBudget(None)
    for _ in range(100):
        budget.reserve(10.0).keep()
    assert budget.spent_usd == 1000.0


def test_the_cap_holds_with_many_threads() -> None:
    cap = 5.0
    budget = DailyBudget(cap)
    peaks: list[float] = []
    lock = threading.Lock()
    granted = refused = 0

    def worker(seed: int) -> None:
        nonlocal granted, refused
        rng = random.Random(seed)
        for _ in range(200):
            estimate = rng.uniform(0.01, 0.2)
            try:
                hold = budget.reserve(estimate)
            except GenerationError:
                with lock:
                    refused += 1
                continue
            with lock:
                granted += 1
                peaks.append(budget._spent + budget._reserved)
            # Real cost is at most the estimate; some calls are free errors.
            outcome = rng.random()
            if outcome < 0.2:
                hold.release()
            else:
                hold.settle(estimate * rng.uniform(0.5, 1.0))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted > 0 and refused > 0
    assert max(peaks) <= cap + 1e-9
    assert budget.spent_usd <= cap + 1e-9

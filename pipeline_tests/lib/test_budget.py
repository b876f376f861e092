"""The daily spending cap: reservations, settling, many threads, and today's figure from the
database."""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.lib.db import Database, GeneratedImage, InspirationImage
from pipeline.lib.generators import GenerationError
from pipeline.lib.generators.budget import DailyBudget, spent_today

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
    assert (caught.value.kind, caught.value.retryable) == ("budget", True)
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


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_spent_today_sums_costs_recorded_today_utc(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'doppel.db'}"
    else:
        url = request.getfixturevalue("postgres_database")["url"]
    db = Database(url)
    db.upgrade()
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    rows = [
        (0.10, now - timedelta(hours=2)),
        (0.25, now.replace(hour=0, minute=0, second=1)),
        (None, now - timedelta(hours=1)),  # a failure: no cost
        (5.00, now - timedelta(days=1)),  # yesterday's spending
    ]
    with db.session() as session:
        for i, (cost, updated) in enumerate(rows):
            photo = InspirationImage(
                source="samples", source_id=f"p{i}", day=date(2026, 11, 20), rank=i,
                status="stored",
            )  # fmt: skip
            session.add(photo)
            session.flush()
            session.add(
                GeneratedImage(
                    inspiration_id=photo.id,
                    status="succeeded" if cost else "failed",
                    generator="openai",
                    cost_usd=cost,
                    created_at=updated,
                    updated_at=updated,
                )
            )
    assert spent_today(db, now) == pytest.approx(0.35)
    assert spent_today(db, now + timedelta(days=1)) == 0.0
    db.dispose()

"""The gap-fill sensor's decision, day by day, without Dagster."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from pipeline.lib.orchestration.gaps import (
    DayHistory,
    GapPolicy,
    PartState,
    State,
    Waiting,
    find_gaps,
)

MATERIALIZED, FAILED, IN_PROGRESS = PartState.MADE, PartState.FAILED, PartState.RUNNING

pytestmark = pytest.mark.dates  # `make test-dates` runs these under faketime

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DAYS = ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
POLICY = GapPolicy(max_attempts=3, retry_after=timedelta(minutes=30), schedule_time=time(1, 0))


def statuses(photos: list[State], lookalikes: list[State]) -> dict:
    return {
        "photos": dict(zip(DAYS, photos, strict=True)),
        "look-alikes": dict(zip(DAYS, lookalikes, strict=True)),
    }


def decide(photos, lookalikes, history=None, now=NOW, policy=POLICY):  # type: ignore[no-untyped-def]
    return find_gaps(DAYS, statuses(photos, lookalikes), history or {}, now=now, policy=policy)


def test_gap_fill_sensor_takes_missing_and_failed_days_and_leaves_the_rest() -> None:
    report = decide(
        [None, MATERIALIZED, MATERIALIZED, MATERIALIZED],
        [None, FAILED, IN_PROGRESS, MATERIALIZED],
    )
    assert report.days_to_backfill == ["2026-11-24", "2026-11-25"]
    reasons = {d.day: (d.kind, d.reason) for d in report.decisions}
    assert reasons == {
        "2026-11-24": ("gap", "photos and look-alikes missing"),
        "2026-11-25": ("gap", "look-alikes failed"),
        "2026-11-26": ("in_progress", "look-alikes in progress"),
        "2026-11-27": ("done", "done"),
    }


def test_gap_fill_sensor_leaves_a_day_alone_while_either_asset_is_in_progress() -> None:
    report = decide([IN_PROGRESS] * 4, [None, FAILED, None, MATERIALIZED])
    assert report.days_to_backfill == []
    assert {d.kind for d in report.decisions} == {"in_progress"}
    assert report.summary().startswith("2026-11-24..2026-11-27: nothing to fill")


def test_gap_fill_sensor_attempt_cap_stops_a_permanently_broken_day() -> None:
    long_ago = NOW - timedelta(days=2)
    history = {
        "2026-11-24": DayHistory(failed_attempts=3, last_failure_at=long_ago),
        "2026-11-25": DayHistory(failed_attempts=2, last_failure_at=long_ago),
    }
    photos = [FAILED, FAILED, MATERIALIZED, MATERIALIZED]
    report = decide(photos, [None, None, MATERIALIZED, MATERIALIZED], history)
    assert report.days_to_backfill == ["2026-11-25"]
    [capped] = report.of_kind("capped")
    assert capped.day == "2026-11-24"
    assert "after 3 failed attempts" in capped.reason
    assert "doppel backfill --from 2026-11-24 --to 2026-11-24" in capped.reason
    [todo] = [d for d in report.decisions if d.backfill]
    assert todo.reason == "photos failed; look-alikes missing, attempt 3 of 3"
    assert "2026-11-24 left alone after 3 failed attempts" in report.summary()


@pytest.mark.parametrize(
    ("attempts", "minutes_ago", "retried"),
    [(1, 29, False), (1, 31, True), (2, 59, False), (2, 61, True)],
)
def test_gap_fill_sensor_waits_longer_after_each_failed_attempt(
    attempts: int, minutes_ago: int, retried: bool
) -> None:
    history = {
        "2026-11-25": DayHistory(attempts, last_failure_at=NOW - timedelta(minutes=minutes_ago))
    }
    report = decide([MATERIALIZED] * 4, [MATERIALIZED, FAILED, MATERIALIZED, MATERIALIZED], history)
    assert report.days_to_backfill == (["2026-11-25"] if retried else [])
    if not retried:
        [waiting] = report.of_kind("cooling_down")
        assert waiting.reason.startswith("retried after 2026-11-28 ")


def test_gap_fill_sensor_leaves_the_newest_day_to_the_schedule_until_it_has_fired() -> None:
    photos = [MATERIALIZED, MATERIALIZED, MATERIALIZED, None]
    early = decide(photos, photos, now=datetime(2026, 11, 28, 1, 10, tzinfo=UTC))
    assert early.days_to_backfill == []
    [scheduled] = early.of_kind("scheduled")
    assert scheduled.reason == "left to the daily schedule at 2026-11-28 01:00 UTC"
    # After the schedule's time plus grace the day is a gap like any other.
    late = decide(photos, photos, now=datetime(2026, 11, 28, 1, 20, tzinfo=UTC))
    assert late.days_to_backfill == ["2026-11-27"]


def test_gap_fill_sensor_summary_of_an_all_done_window() -> None:
    report = decide([MATERIALIZED] * 4, [MATERIALIZED] * 4)
    assert report.summary() == "2026-11-24..2026-11-27: nothing to fill; 4 done"


def test_gap_fill_sensor_treats_a_failure_stamped_after_now_as_just_now() -> None:
    # Another process's clock ran ahead: its failure "ends" 3 hours after the sensor's now.
    # Read as "just failed", the day cools down from now (with no wait it is due at once),
    # instead of being a failure from the future that no comparison ever makes old enough.
    ahead = {DAYS[-1]: DayHistory(failed_attempts=1, last_failure_at=NOW + timedelta(hours=3))}
    lookalikes = [MATERIALIZED] * 3 + [FAILED]
    cooling = decide([MATERIALIZED] * 4, lookalikes, ahead)
    assert cooling.days_to_backfill == []
    assert "retried after 2026-11-28 12:30 UTC" in cooling.decisions[-1].reason
    no_wait = GapPolicy(max_attempts=3, retry_after=timedelta(0), schedule_time=time(1, 0))
    assert decide([MATERIALIZED] * 4, lookalikes, ahead, policy=no_wait).days_to_backfill == [
        DAYS[-1]
    ]


def test_after_a_permanent_stop_gaps_wait_hours_then_one_day_probes() -> None:
    photos = [MATERIALIZED] * 4
    lookalikes = [FAILED, FAILED, None, MATERIALIZED]
    stopped = NOW - timedelta(hours=1)

    def report_at(now: datetime):  # type: ignore[no-untyped-def]
        return find_gaps(
            DAYS,
            statuses(photos, lookalikes),
            {},
            now=now,
            policy=POLICY,
            generator_stopped_at=stopped,
        )

    held = report_at(NOW)
    assert held.days_to_backfill == []
    assert "held until 2026-11-28 17:00 UTC" in held.decisions[0].reason
    assert POLICY.stop_wait == timedelta(hours=6)  # hours, not the 30 minutes of a blip

    probing = report_at(stopped + POLICY.stop_wait)
    assert probing.days_to_backfill == ["2026-11-24"]  # one day: its run sends one request
    assert [d.kind for d in probing.decisions] == ["gap", "cooling_down", "cooling_down", "done"]


def test_only_the_look_alikes_of_a_made_day_with_photos_due_for_a_retry_are_asked_again() -> None:
    made = [MATERIALIZED] * 4
    waiting = {
        "2026-11-25": Waiting(2, "look-alikes", NOW - timedelta(minutes=1)),  # due
        "2026-11-26": Waiting(1, "look-alikes", NOW + timedelta(minutes=30)),  # not yet
        "2026-11-27": Waiting(1, "look-alikes", None),  # due at once
    }
    report = find_gaps(DAYS, statuses(made, made), {}, now=NOW, policy=POLICY, waiting=waiting)
    assert report.days_by_asset(["photos", "look-alikes"]) == {
        "look-alikes": ["2026-11-25", "2026-11-27"]
    }
    reasons = {d.day: (d.kind, d.reason) for d in report.decisions}
    assert reasons == {
        "2026-11-24": ("done", "done"),  # failed for good or all made: nothing to ask
        "2026-11-25": ("gap", "2 photos waiting for a retry"),
        "2026-11-26": ("cooling_down", "1 photo waiting for a retry, due 2026-11-28 12:30 UTC"),
        "2026-11-27": ("gap", "1 photo waiting for a retry"),
    }


def test_a_day_missing_an_asset_is_filled_whole_even_with_photos_waiting() -> None:
    waiting = {"2026-11-24": Waiting(1, "look-alikes")}
    report = find_gaps(
        DAYS,
        statuses([MATERIALIZED] * 4, [FAILED, *[MATERIALIZED] * 3]),
        {},
        now=NOW,
        policy=POLICY,
        waiting=waiting,
    )
    assert report.days_by_asset(["photos", "look-alikes"]) == {
        "photos": ["2026-11-24"],
        "look-alikes": ["2026-11-24"],
    }

"""Which recent days need a backfill, and why: the gap-fill sensor's decision, as a pure function.

A day needs one when any of its assets is missing or failed, nothing is running for it, the
daily schedule has had its chance at it, and its failed attempts are under the cap and far
enough in the past. A day that is made but has photos waiting for a retry needs its
look-alikes asked for again once the first of them is due; a photo that failed for good is
never asked for again. Every day gets a decision with a reason, so a skipped tick can say
why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Literal

from pipeline.lib.core.clock import not_after_now


class PartState(Enum):
    """Where one asset stands for one day, in this module's own words (the sensor translates
    the orchestrator's statuses into these); None stands for never made nor tried."""

    MADE = "made"
    FAILED = "failed"
    RUNNING = "running"


State = PartState | None


@dataclass(frozen=True)
class DayHistory:
    """A day's failed attempts (failed or canceled runs) and when the newest one ended."""

    failed_attempts: int = 0
    last_failure_at: datetime | None = None


@dataclass(frozen=True)
class Waiting:
    """A made day's photos waiting for a retry: how many, the asset that makes them again,
    and when the first is due (None: now)."""

    photos: int
    asset: str
    due_at: datetime | None = None


@dataclass(frozen=True)
class GapPolicy:
    max_attempts: int = 3
    # Wait after the n-th failed attempt: retry_after * 2**(n-1), so a long outage is not
    # hammered and a short one heals soon.
    retry_after: timedelta = timedelta(minutes=30)
    # When the daily schedule fires (UTC); until then (plus grace) a new day is its job.
    schedule_time: time = time(1, 0)
    schedule_grace: timedelta = timedelta(minutes=15)
    # After the generator refused for good (bad key, no quota), wait this long, then probe
    # with one day (whose run sends one request first), not every gap at once.
    stop_wait: timedelta = timedelta(hours=6)

    def retry_wait(self, failed_attempts: int) -> timedelta:
        return self.retry_after * 2 ** max(0, failed_attempts - 1)


@dataclass(frozen=True)
class DayDecision:
    day: str
    backfill: bool
    reason: str
    kind: Literal["gap", "done", "in_progress", "scheduled", "capped", "cooling_down"]
    assets: tuple[str, ...] = ()  # the assets to backfill; empty: every one


@dataclass(frozen=True)
class GapReport:
    decisions: tuple[DayDecision, ...]

    @property
    def days_to_backfill(self) -> list[str]:
        return [d.day for d in self.decisions if d.backfill]

    def days_by_asset(self, assets: Sequence[str]) -> dict[str, list[str]]:
        """The days to backfill for each of `assets` (labels); assets with none left out."""
        found = {
            asset: [d.day for d in self.decisions if d.backfill and asset in (d.assets or assets)]
            for asset in assets
        }
        return {asset: days for asset, days in found.items() if days}

    def of_kind(self, kind: str) -> list[DayDecision]:
        return [d for d in self.decisions if d.kind == kind]

    def summary(self) -> str:
        """One line for a tick: what is filled and what is left out, with reasons."""
        if not self.decisions:
            return "no days in the look-back window"
        first, last = self.decisions[0].day, self.decisions[-1].day
        parts: list[str] = []
        if todo := [d for d in self.decisions if d.backfill]:
            parts.append("to fill: " + ", ".join(f"{d.day} ({d.reason})" for d in todo))
        else:
            parts.append("nothing to fill")
        if done := self.of_kind("done"):
            parts.append(f"{len(done)} done")
        for kind in ("in_progress", "scheduled", "cooling_down", "capped"):
            for d in self.of_kind(kind):
                parts.append(f"{d.day} {d.reason}")
        return f"{first}..{last}: " + "; ".join(parts)


def find_gaps(
    days: Sequence[str],
    statuses: Mapping[str, Mapping[str, State]],
    history: Mapping[str, DayHistory],
    *,
    now: datetime,
    policy: GapPolicy,
    generator_stopped_at: datetime | None = None,
    waiting: Mapping[str, Waiting] | None = None,
) -> GapReport:
    """Decide for each day (oldest first) whether to backfill it.

    `statuses` maps an asset's label (e.g. "photos") to its status per day; `history` holds
    failed attempts per day (days without an entry have none). `generator_stopped_at` is
    when the generator last refused for good (the ledger knows), if that was its last word.
    `waiting` holds the days with photos waiting for a retry.
    """
    decisions = []
    for day in days:
        per_asset = {label: by_day.get(day) for label, by_day in statuses.items()}
        decision = _decide(day, per_asset, history.get(day, DayHistory()), now, policy)
        if decision.kind == "done" and waiting and day in waiting:
            decision = _retry_waiting(day, waiting[day], now)
        decisions.append(decision)
    if generator_stopped_at is not None:
        decisions = _after_a_stop(decisions, not_after_now(generator_stopped_at, now), now, policy)
    return GapReport(tuple(decisions))


def _retry_waiting(day: str, waiting: Waiting, now: datetime) -> DayDecision:
    photos = f"{waiting.photos} photo{'s' if waiting.photos > 1 else ''}"
    if waiting.due_at is not None and now < waiting.due_at:
        return DayDecision(
            day,
            False,
            f"{photos} waiting for a retry, due {waiting.due_at:%Y-%m-%d %H:%M} UTC",
            "cooling_down",
        )
    reason = f"{photos} waiting for a retry"
    return DayDecision(day, True, reason, "gap", assets=(waiting.asset,))


def _after_a_stop(
    decisions: list[DayDecision], stopped_at: datetime, now: datetime, policy: GapPolicy
) -> list[DayDecision]:
    """Hold every gap until `stop_wait` has passed, then let only the first one probe."""
    probe_at = stopped_at + policy.stop_wait
    out, probing = [], False
    for d in decisions:
        if not d.backfill:
            out.append(d)
        elif now < probe_at:
            reason = (
                f"held until {probe_at:%Y-%m-%d %H:%M} UTC: the generator refused for "
                f"good at {stopped_at:%H:%M} (see the last failed run)"
            )
            out.append(DayDecision(d.day, False, reason, "cooling_down"))
        elif not probing:
            probing = True
            out.append(
                DayDecision(d.day, True, f"{d.reason}; probing after a stop", "gap", d.assets)
            )
        else:
            out.append(DayDecision(d.day, False, "waits for the probe's day", "cooling_down"))
    return out


def _decide(
    day: str,
    per_asset: Mapping[str, State],
    history: DayHistory,
    now: datetime,
    policy: GapPolicy,
) -> DayDecision:
    if running := [label for label, s in per_asset.items() if s is PartState.RUNNING]:
        return DayDecision(day, False, f"{' and '.join(running)} in progress", "in_progress")
    failed = [label for label, s in per_asset.items() if s is PartState.FAILED]
    missing = [label for label, s in per_asset.items() if s is None]
    if not failed and not missing:
        return DayDecision(day, False, "done", "done")
    reason = "; ".join(
        part
        for part in (
            f"{' and '.join(failed)} failed" if failed else "",
            f"{' and '.join(missing)} missing" if missing else "",
        )
        if part
    )

    attempts = history.failed_attempts
    if attempts >= policy.max_attempts:
        return DayDecision(
            day,
            False,
            f"left alone after {attempts} failed attempts ({reason}); fix the cause, then "
            f"`doppel backfill --from {day} --to {day}`",
            "capped",
        )
    if attempts and history.last_failure_at is not None:
        # A failure stamped after `now` (another process's clock) counts as just now.
        failed_at = not_after_now(history.last_failure_at, now)
        retry_at = failed_at + policy.retry_wait(attempts)
        if now < retry_at:
            return DayDecision(
                day,
                False,
                f"retried after {retry_at:%Y-%m-%d %H:%M} UTC (attempt {attempts} failed)",
                "cooling_down",
            )
    if not attempts and not failed:
        scheduled = datetime.combine(
            date.fromisoformat(day) + timedelta(days=1), policy.schedule_time, UTC
        )
        if now < scheduled + policy.schedule_grace:
            return DayDecision(
                day,
                False,
                f"left to the daily schedule at {scheduled:%Y-%m-%d %H:%M} UTC",
                "scheduled",
            )
    if attempts:
        reason += f", attempt {attempts + 1} of {policy.max_attempts}"
    return DayDecision(day, True, reason, "gap")

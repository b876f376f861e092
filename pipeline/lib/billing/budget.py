"""A daily spending cap that holds while several requests are in flight.

Before each paid request a generator reserves its estimated cost; afterwards it settles the
reservation with what the call really cost, or releases it when the API charged nothing (an
error status). A request whose outcome is unknown (timeout, dropped connection) keeps its
estimate, because the server may have finished and billed it. Reservations count against
the cap at once, so N threads can never together start more than the cap allows.

The day is the UTC calendar day of the spending, not the partition: the starting figure is
what the ledger of billed requests records as spent today (`spent_today`).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from pipeline.lib.billing.ledger import Ledger, day_bounds
from pipeline.lib.core import clock
from pipeline.lib.db import Database
from pipeline.lib.failures import GenerationError

log = logging.getLogger(__name__)


def spent_today(db: Database, now: datetime | None = None) -> float:
    """USD of the requests the ledger records as billed, possibly billed or in flight today
    (UTC): paid answers that turned out broken count as much as good ones."""
    return Ledger(db).spent_between(*day_bounds(now or clock.utc_now()))


class Reservation:
    """Money set aside for one request. Settle, release, or leave it spent (the default)."""

    def __init__(self, budget: DailyBudget, amount: float):
        self._budget = budget
        self.amount = amount
        self._open = True

    def settle(self, actual_usd: float | None) -> None:
        """The request was paid: count `actual_usd` (None keeps the estimate)."""
        self._close(self.amount if actual_usd is None else actual_usd)

    def release(self) -> None:
        """The request was not charged (the API answered with an error)."""
        self._close(0.0)

    def keep(self) -> None:
        """The outcome is unknown: assume the estimate was charged."""
        self._close(self.amount)

    def _close(self, spent: float) -> None:
        if self._open:
            self._open = False
            self._budget._close(self.amount, spent)


class DailyBudget:
    """Thread-safe guard: refuses a reservation that would take the day past `cap_usd`."""

    def __init__(self, cap_usd: float | None, spent_usd: float = 0.0):
        self.cap_usd = cap_usd
        self.start_usd = spent_usd
        self._spent = spent_usd
        self._reserved = 0.0
        self._refused = 0
        self._lock = threading.Lock()

    def reserve(self, estimate_usd: float) -> Reservation:
        """Set `estimate_usd` aside or raise `GenerationError` "over_budget" (asking again
        makes sense from the next UTC day)."""
        estimate_usd = max(0.0, estimate_usd)
        with self._lock:
            committed = self._spent + self._reserved
            if self.cap_usd is not None and committed + estimate_usd > self.cap_usd + 1e-9:
                self._refused += 1
                spent, refused = self._spent, self._refused
            else:
                self._reserved += estimate_usd
                return Reservation(self, estimate_usd)
        if refused == 1:
            log.warning("daily budget reached: $%.4f of $%.2f spent", spent, self.cap_usd or 0)
        raise GenerationError(
            f"daily budget reached: ${spent:.4f} of ${self.cap_usd:.2f} spent today (UTC) and "
            f"this request may cost ${estimate_usd:.4f}; it is retried on a later day's run, or "
            "raise DOPPEL_OPENAI_DAILY_BUDGET_USD",
            happened="over_budget",
            retry_at=day_bounds(clock.utc_now())[1],
        )

    def _close(self, reserved: float, spent: float) -> None:
        with self._lock:
            self._reserved = max(0.0, self._reserved - reserved)
            self._spent += max(0.0, spent)

    @property
    def spent_usd(self) -> float:
        with self._lock:
            return self._spent

    @property
    def refused(self) -> int:
        with self._lock:
            return self._refused

    def metadata(self) -> dict[str, Any]:
        """What the Dagster UI shows about today's spending."""
        with self._lock:
            return {
                "budget_usd": self.cap_usd,
                "spent_today_usd": round(self._spent, 4),
                "spent_this_run_usd": round(self._spent - self.start_usd, 4),
                "requests_stopped_by_budget": self._refused,
            }

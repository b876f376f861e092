"""Sending a request that may be billed, for every remote generator (OpenAI, img2img).

Before each try: the budget hold (in memory) and the ledger row (the database, which also
takes one of the photo's paid slots). After it: the row is completed as the one table in
`pipeline.lib.failures` says, and only what was not billed is sent again within
the request. A generator supplies how to send, how to name what went wrong (`classify`),
and how to say it to a person (`explain`); the money and the retries are here, once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline.lib.billing.budget import DailyBudget, Reservation
from pipeline.lib.billing.ledger import LEDGER_OUTCOME, Ledger, LedgerEntry
from pipeline.lib.core.http import HttpRetry
from pipeline.lib.failures import Disposition, disposition_of

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """One failed try, named by a key of `failures.WHAT_HAPPENED`."""

    happened: str
    detail: str
    status: int | None = None  # 200: answered (so billed) but unusable
    request_id: str | None = None
    retry_after_s: float | None = None  # what the server asked for, if it said

    @property
    def disposition(self) -> Disposition:
        return disposition_of(self.happened)


class PaidRequest:
    """One sent request's money: its budget hold and its ledger row, closed together."""

    def __init__(self, hold: Reservation, ledger: Ledger | None, entry: LedgerEntry | None):
        self.hold, self.ledger, self.entry = hold, ledger, entry

    def billed(
        self,
        cost: float | None,
        *,
        usage: dict[str, Any] | None = None,
        request_id: str | None = None,
        detail: str | None = None,
    ) -> float:
        """A 200: billed at `cost` (None: at the estimate). Returns the figure counted."""
        self.hold.settle(cost)
        counted = self.hold.amount if cost is None else cost
        if self.ledger is not None and self.entry is not None:
            self.ledger.complete(
                self.entry,
                "billed",
                http_status=200,
                request_id=request_id,
                usage=usage,
                cost_usd=counted,
                detail=detail,
            )
        return counted

    def unknown(self, detail: str) -> None:
        """Sent, no usable answer: the server may have finished it, so it counts as billed."""
        self.hold.keep()
        if self.ledger is not None and self.entry is not None:
            self.ledger.complete(self.entry, "unknown", detail=detail)

    def not_billed(
        self, outcome: str, status: int | None, request_id: str | None, detail: str
    ) -> None:
        self.hold.release()
        if self.ledger is not None and self.entry is not None:
            self.ledger.complete(
                self.entry, outcome, http_status=status, request_id=request_id, detail=detail
            )

    def failed(self, failure: Failure) -> None:
        """Close the request as the table says for what happened."""
        if failure.disposition is Disposition.BILLED:
            if failure.status == 200:
                self.billed(None, request_id=failure.request_id, detail=failure.detail)
            else:
                self.unknown(failure.detail)
        else:
            self.not_billed(
                LEDGER_OUTCOME[failure.disposition],
                failure.status,
                failure.request_id,
                failure.detail,
            )


class PaidRequests:
    """The send-and-retry loop a remote generator shares with the others. Thread-safe.

    Without a ledger (one file from the shell, no database) nothing is recorded and no cap
    applies; the pipeline always passes one.
    """

    def __init__(
        self,
        generator: str,
        *,
        policy: HttpRetry,
        budget: DailyBudget | None = None,
        ledger: Ledger | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.generator = generator
        self.policy = policy
        self.budget = budget if budget is not None else DailyBudget(None)
        self.ledger = ledger
        self._sleep = sleep
        self._rng = random.Random()

    def reserve(
        self,
        endpoint: str,
        *,
        photo_id: int | None,
        model: str | None,
        size: str | None,
        quality: str | None,
        estimate: float,
    ) -> PaidRequest:
        """Budget first (cheap, in memory), then the ledger row, both before sending."""
        hold = self.budget.reserve(estimate)  # raises GenerationError "over_budget"
        if self.ledger is None or photo_id is None:
            return PaidRequest(hold, None, None)
        try:
            entry = self.ledger.reserve(
                photo_id,
                generator=self.generator,
                endpoint=endpoint,
                model=model,
                size=size,
                quality=quality,
                estimated_usd=estimate,
            )
        except BaseException:
            hold.release()
            raise
        return PaidRequest(hold, self.ledger, entry)

    def send(
        self,
        endpoint: str,
        send: Callable[[int], T],
        *,
        classify: Callable[[Exception], Failure],
        explain: Callable[[Failure, int], Exception],
        photo_id: int | None,
        model: str | None,
        size: str | None = None,
        quality: str | None = None,
        estimate: float = 0.0,
    ) -> tuple[T, PaidRequest]:
        """`send(retry)` (retry counts from 0) returns the answer or raises; `classify` names
        what a raised exception means. Returns the answer and its still-open `PaidRequest`
        (the caller settles it once it has read the answer), or raises `explain(failure,
        tries)`. An interrupt leaves the row pending, which counts as billed."""
        attempts = self.policy.attempts
        for attempt in range(1, attempts + 1):
            paid = self.reserve(
                endpoint,
                photo_id=photo_id,
                model=model,
                size=size,
                quality=quality,
                estimate=estimate,
            )
            try:
                return send(attempt - 1), paid
            except Exception as exc:
                failure = classify(exc)
            paid.failed(failure)
            if failure.disposition is not Disposition.RETRY_NOW or attempt == attempts:
                raise explain(failure, attempt) from None
            delay = self._delay(attempt, failure.retry_after_s)
            if delay is None:
                waited = f" and asked to wait over {self.policy.max_retry_after_s:g}s"
                raise explain(_with_detail(failure, waited), attempt) from None
            log.info(
                "%s %s: %s; retry %d/%d in %.1fs",
                self.generator,
                endpoint,
                failure.detail,
                attempt,
                attempts - 1,
                delay,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, advised: float | None) -> float | None:
        """Seconds before the next try: the server's Retry-After if it sent one, else jittered
        backoff. None if the server asks for longer than the cap: like the SDK, don't wait."""
        if advised is None:
            return self.policy.delay(attempt, None, self._rng)
        return advised if advised <= self.policy.max_retry_after_s else None


def transport_failure(cause: BaseException | None) -> str:
    """Was the request sent, and did any of a reply arrive? Read from the transport's own
    exception (httpx, or the SDK's copy of it), by its class name and message."""
    name = type(cause).__name__ if cause is not None else ""
    if name in ("ConnectError", "ConnectTimeout", "PoolTimeout"):
        return "not_sent"
    if name.endswith("Timeout"):
        return "timeout_after_send"
    if "complete message body" in str(cause) or "incomplete" in str(cause).lower():
        return "reply_cut_short"
    return "reset_before_reply"


def _with_detail(failure: Failure, more: str) -> Failure:
    return Failure(
        failure.happened,
        failure.detail + more,
        failure.status,
        failure.request_id,
        failure.retry_after_s,
    )

"""The one table of what a failure means: where the photo ends up, and, for a request that
was sent, what it means for money.

Whatever goes wrong while one look-alike is made is named by a key of `WHAT_HAPPENED`: the
remote generators name each failed request (`pipeline.lib.billing.paid` acts on it), a
`GenerationError` carries its key, and `happened_of` names any other exception (an offline
generator's, the object store's, the database's). `sort_failure` then gives the photo's
`Outcome` with a one-line reason:

- WAITING, a failure that may pass (a timeout, a 5xx, a reset, a store or database blip, the
  daily budget): the photo is asked for again later, within its paid cap and its bound on
  failures in a row (`pipeline.lib.day.outcomes`);
- FAILED, for good (the photo cannot be used, the paid cap is reached, an unexpected error
  in code that would fail the same way again): only `doppel retry` asks again;
- REFUSED: the generator's safety system declined the photo; final.

For a request that was sent, `Disposition` says what follows at once:

- RETRY_NOW: the server billed nothing (429 rate limit, 5xx, a reset before any reply, a
  connection never made): retry within the request, backing off, honouring Retry-After.
- BILLED: billed or possibly billed (any 200, a timeout after the request was sent, a reply
  cut short): it counts against the photo's cap of paid attempts, and is never retried at
  once; a later run may try again while the photo is under the cap.
- STOP_DAY: the generator refuses every request (bad key, no access, no quota, billing
  limit, unknown model, a request the API will always reject): the day stops at the first
  one, without a Dagster step retry, and the gap-fill sensor waits hours before it sends
  one probe. The photo in flight waits for the fix.
- BAD_INPUT: the photo itself (a refusal, a file the API cannot read): recorded for that
  photo, never retried; the rest of the day carries on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from pipeline.lib.db.models import Outcome


class Disposition(Enum):
    RETRY_NOW = "retry_now"
    BILLED = "billed"
    STOP_DAY = "stop_day"
    BAD_INPUT = "bad_input"


@dataclass(frozen=True)
class Meaning:
    outcome: Outcome  # where the photo ends up
    request: Disposition | None = None  # for a request that was sent
    setting: bool = False  # a setting to fix (the key, the model): `doppel run` exits 2


WAITING, FAILED, REFUSED = Outcome.WAITING, Outcome.FAILED, Outcome.REFUSED

WHAT_HAPPENED: dict[str, Meaning] = {
    # a request, not billed
    "rate_limited": Meaning(WAITING, Disposition.RETRY_NOW),
    "server_error": Meaning(WAITING, Disposition.RETRY_NOW),
    # 408, 409: the API's own retry hint
    "conflict_or_timeout_status": Meaning(WAITING, Disposition.RETRY_NOW),
    "reset_before_reply": Meaning(WAITING, Disposition.RETRY_NOW),
    "not_sent": Meaning(WAITING, Disposition.RETRY_NOW),  # refused connection, connect timeout
    # a request, billed or possibly billed
    "unusable_reply": Meaning(WAITING, Disposition.BILLED),  # a 200 that cannot be used
    "timeout_after_send": Meaning(WAITING, Disposition.BILLED),
    "reply_cut_short": Meaning(WAITING, Disposition.BILLED),
    "sent_outcome_unknown": Meaning(WAITING, Disposition.BILLED),  # any other error once sent
    # a request the generator refuses for good: the day stops
    "bad_key": Meaning(WAITING, Disposition.STOP_DAY, setting=True),
    "forbidden": Meaning(WAITING, Disposition.STOP_DAY, setting=True),
    "out_of_quota": Meaning(WAITING, Disposition.STOP_DAY),
    "billing_limit": Meaning(WAITING, Disposition.STOP_DAY),
    "model_not_found": Meaning(WAITING, Disposition.STOP_DAY, setting=True),
    "invalid_request": Meaning(WAITING, Disposition.STOP_DAY, setting=True),
    # a request about the photo itself
    "refused": Meaning(REFUSED, Disposition.BAD_INPUT),
    "bad_photo": Meaning(FAILED, Disposition.BAD_INPUT),
    # no request sent
    "over_budget": Meaning(WAITING),  # the daily budget: the next UTC day, or a higher cap
    "paid_cap_reached": Meaning(FAILED),  # until `doppel retry` lifts the cap
    "cannot_use_photo": Meaning(FAILED),  # a generator truly cannot take this photo
    "original_unusable": Meaning(FAILED),  # the stored photo is missing or does not decode
    "generator_bug": Meaning(FAILED),  # an unexpected error: it would recur on a retry
    "out_of_memory": Meaning(WAITING),
    "io_error": Meaning(WAITING),  # the object store, a disk or a socket
    "database_blip": Meaning(WAITING),
}

# Blips of the machinery, not of a photo: worth a step retry when they stop a whole step.
BLIPS = frozenset({"out_of_memory", "io_error", "database_blip"})


class GenerationError(Exception):
    """A generation that did not succeed: `happened` is its key in `WHAT_HAPPENED`, and
    `retry_at` when asking again may help, if known (the next day's budget)."""

    def __init__(self, message: str, *, happened: str, retry_at: datetime | None = None):
        if happened not in WHAT_HAPPENED:
            raise KeyError(f"unknown failure {happened!r}")  # a bug, not a retry
        super().__init__(message)
        self.happened = happened
        self.retry_at = retry_at

    @property
    def outcome(self) -> Outcome:
        return WHAT_HAPPENED[self.happened].outcome


class GeneratorUnavailable(Exception):
    """The backend cannot serve any request now (bad key, quota exhausted): stop the day
    at once instead of failing every remaining photo the same way. Never worth a Dagster
    step retry. `happened` names why, where known."""

    def __init__(self, message: str, *, happened: str = "not_sent"):
        super().__init__(message)
        self.happened = happened

    @property
    def setting_to_fix(self) -> bool:
        return WHAT_HAPPENED[self.happened].setting


def disposition_of(what: str) -> Disposition:
    """What follows a sent request that failed; a key with no request meaning is a bug."""
    disposition = WHAT_HAPPENED[what].request
    if disposition is None:
        raise KeyError(f"{what!r} is not something a sent request does")
    return disposition


def passing_status(status: int) -> str | None:
    """The HTTP statuses every API means the same way, all worth a retry within the request:
    the key they name, or None for a status the generator must name itself."""
    if status == 429:
        return "rate_limited"
    if status in (408, 409):
        return "conflict_or_timeout_status"
    if status >= 500:
        return "server_error"
    return None


@dataclass(frozen=True)
class Sorted:
    """A failure, sorted: what happened, the photo's outcome, one line saying why, and
    whether it is the photo's own (it counts towards failing for good; the day's budget or
    a generator that stopped the whole day do not)."""

    happened: str
    outcome: Outcome
    reason: str
    retry_at: datetime | None = None
    the_photos: bool = True


def sort_failure(exc: BaseException) -> Sorted:
    """The one sorting of an error raised while one look-alike was made."""
    happened = happened_of(exc)
    reason = one_line(exc)
    if happened == "generator_bug":
        reason = f"{type(exc).__name__}: {reason}"
    retry_at = exc.retry_at if isinstance(exc, GenerationError) else None
    the_photos = happened != "over_budget" and not isinstance(exc, GeneratorUnavailable)
    return Sorted(happened, WHAT_HAPPENED[happened].outcome, reason, retry_at, the_photos)


def happened_of(exc: BaseException) -> str:
    """The key of `WHAT_HAPPENED` for any exception."""
    from botocore.exceptions import BotoCoreError, ClientError
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, GenerationError):
        return exc.happened
    if isinstance(exc, GeneratorUnavailable):  # the photo in flight waits for the fix
        return exc.happened
    if isinstance(exc, ValueError):  # ImageError too: how the generators say "not this image"
        return "cannot_use_photo"
    if isinstance(exc, MemoryError):
        return "out_of_memory"
    if isinstance(exc, DBAPIError | PoolTimeout):
        return "database_blip"
    if isinstance(exc, OSError | BotoCoreError | ClientError):
        return "io_error"
    return "generator_bug"


def one_line(exc: BaseException, limit: int = 600) -> str:
    """The exception's message on one line (never a traceback), cut at `limit`."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"

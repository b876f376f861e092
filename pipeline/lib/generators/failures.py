"""The one table of what a failed request means for money and for retries.

Every remote generator (OpenAI, img2img) names what happened with one of the keys of
`WHAT_HAPPENED`, and `pipeline.lib.generators.paid` acts on it; the table says whether it
may have been billed and what may follow:

- RETRY_NOW: the server billed nothing (429 rate limit, 5xx, a reset before any reply, a
  connection never made): retry within the request, backing off, honouring Retry-After.
- BILLED: billed or possibly billed (any 200, a timeout after the request was sent, a reply
  cut short): it counts against the photo's cap of paid attempts, and is never retried at
  once; a later run may try again while the photo is under the cap.
- STOP_DAY: permanent (bad key, no access, no quota, billing limit, unknown model, a request
  the API will always reject): the day stops at the first one, without a Dagster step
  retry, and the gap-fill sensor waits hours before it sends one probe.
- BAD_INPUT: the photo itself (a refusal, a file the API cannot read): recorded for that
  photo, never retried; the rest of the day carries on.
"""

from __future__ import annotations

from enum import Enum


class Disposition(Enum):
    RETRY_NOW = "retry_now"
    BILLED = "billed"
    STOP_DAY = "stop_day"
    BAD_INPUT = "bad_input"


WHAT_HAPPENED: dict[str, Disposition] = {
    # not billed
    "rate_limited": Disposition.RETRY_NOW,
    "server_error": Disposition.RETRY_NOW,
    "conflict_or_timeout_status": Disposition.RETRY_NOW,  # 408, 409: the API's own retry hint
    "reset_before_reply": Disposition.RETRY_NOW,
    "not_sent": Disposition.RETRY_NOW,  # refused connection, connect timeout
    # billed or possibly billed
    "unusable_reply": Disposition.BILLED,  # a 200 whose body or image cannot be used
    "timeout_after_send": Disposition.BILLED,
    "reply_cut_short": Disposition.BILLED,
    "sent_outcome_unknown": Disposition.BILLED,  # any other error once the request was sent
    # permanent: stop the day
    "bad_key": Disposition.STOP_DAY,
    "forbidden": Disposition.STOP_DAY,
    "out_of_quota": Disposition.STOP_DAY,
    "billing_limit": Disposition.STOP_DAY,
    "model_not_found": Disposition.STOP_DAY,
    "invalid_request": Disposition.STOP_DAY,
    # the photo itself
    "refused": Disposition.BAD_INPUT,
    "bad_photo": Disposition.BAD_INPUT,
}

# What the ledger records for a finished request, by disposition. "rejected" is not billed
# either, but marks a permanent stop, which the sensor and the next run's probe look for.
LEDGER_OUTCOME = {
    Disposition.RETRY_NOW: "not_billed",
    Disposition.BILLED: "unknown",
    Disposition.STOP_DAY: "rejected",
    Disposition.BAD_INPUT: "not_billed",
}


def disposition_of(what: str) -> Disposition:
    """The row of the table; an unknown key is a bug, not a retry."""
    return WHAT_HAPPENED[what]

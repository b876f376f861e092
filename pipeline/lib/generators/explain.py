"""Saying a failed paid request to a person, the same way for every remote generator: the
exception it becomes (the day stops, or the photo waits or fails) and, where the generator
has no sentence of its own, the one its disposition calls for. A generator gives only its
own words: who it is, the settings to check, and the sentences that name its next steps."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from pipeline.lib.billing.paid import Failure
from pipeline.lib.failures import Disposition, GenerationError, GeneratorUnavailable

# Why a billed failure is not sent again at once; a sentence the person reads in the reason.
MAY_BE_BILLED = "so it is not sent again now (a later run may, within the cap)"


def tries_text(tries: int) -> str:
    return "1 try" if tries == 1 else f"{tries} tries"


def explained(
    failure: Failure,
    tries: int,
    own: Mapping[str, str],
    *,
    who: str,
    settings: str,
    unavailable: Collection[str] = (),
) -> Exception:
    """`own` maps keys of `WHAT_HAPPENED` to the generator's sentence for them; `unavailable`
    names failures that stop the day although a retry might pass (a server that is down)."""
    happened, detail = failure.happened, failure.detail
    disposition = failure.disposition
    message = (
        own.get(happened)
        or {
            Disposition.STOP_DAY: f"{who} rejects every request like this one ({detail}); check "
            f"the {settings} settings",
            Disposition.BAD_INPUT: f"{who} could not use this photo ({detail})",
            Disposition.BILLED: f"{who}: {detail}; the server may have finished and billed it, "
            f"{MAY_BE_BILLED}",
            Disposition.RETRY_NOW: f"{who}: {detail}, after {tries_text(tries)} (none billed); "
            "retried on the next run",
        }[disposition]
    )
    if disposition is Disposition.STOP_DAY or happened in unavailable:
        return GeneratorUnavailable(message, happened=happened)
    return GenerationError(message, happened=happened)

"""The one sorting of errors: every kind that can stop a look-alike lands on one outcome,
with a one-line reason."""

from __future__ import annotations

import pytest
from botocore.exceptions import EndpointConnectionError
from sqlalchemy.exc import OperationalError

from pipeline.lib.billing.ledger import PaidAttemptCapReached
from pipeline.lib.core.images import ImageError
from pipeline.lib.db import Outcome
from pipeline.lib.failures import (
    WHAT_HAPPENED,
    Disposition,
    GenerationError,
    GeneratorUnavailable,
    disposition_of,
    sort_failure,
)


@pytest.mark.parametrize(
    ("error", "happened", "outcome"),
    [
        (GenerationError("HTTP 503", happened="server_error"), "server_error", Outcome.WAITING),
        (GenerationError("timed out", happened="timeout_after_send"), "timeout_after_send",
         Outcome.WAITING),
        (GenerationError("blocked", happened="refused"), "refused", Outcome.REFUSED),
        (GenerationError("bad file", happened="bad_photo"), "bad_photo", Outcome.FAILED),
        (GenerationError("spent", happened="over_budget"), "over_budget", Outcome.WAITING),
        (PaidAttemptCapReached("stopped after 2"), "paid_cap_reached", Outcome.FAILED),
        (GeneratorUnavailable("bad key", happened="bad_key"), "bad_key", Outcome.WAITING),
        (ValueError("the image is 9000×32 px, 281:1"), "cannot_use_photo", Outcome.FAILED),
        (ImageError("the image data is truncated"), "cannot_use_photo", Outcome.FAILED),
        (MemoryError(), "out_of_memory", Outcome.WAITING),
        (ConnectionResetError("reset by peer"), "io_error", Outcome.WAITING),
        (EndpointConnectionError(endpoint_url="http://minio:9000"), "io_error", Outcome.WAITING),
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")),
         "database_blip", Outcome.WAITING),
        (RuntimeError("image is too small (512x25)"), "generator_bug", Outcome.FAILED),
    ],
)  # fmt: skip
def test_every_error_sorts_into_one_outcome(
    error: Exception, happened: str, outcome: Outcome
) -> None:
    found = sort_failure(error)
    assert (found.happened, found.outcome) == (happened, outcome)
    assert found.reason and "\n" not in found.reason


def test_an_unexpected_error_names_its_type_on_one_line() -> None:
    found = sort_failure(RuntimeError("image is too small\n  File 'core.py', line 92"))
    assert found.reason == "RuntimeError: image is too small File 'core.py', line 92"


def test_only_a_setting_to_fix_marks_a_stop_as_one() -> None:
    assert GeneratorUnavailable("401", happened="bad_key").setting_to_fix
    assert not GeneratorUnavailable("no credit", happened="out_of_quota").setting_to_fix
    assert not GeneratorUnavailable("cannot connect").setting_to_fix


def test_the_table_has_a_meaning_for_every_request_and_none_made_up() -> None:
    with pytest.raises(KeyError):
        GenerationError("?", happened="no_such_thing")
    with pytest.raises(KeyError):
        disposition_of("over_budget")  # no request was sent
    assert disposition_of("timeout_after_send") is Disposition.BILLED
    # A request either waits, or is about the photo itself.
    for meaning in WHAT_HAPPENED.values():
        if meaning.request is Disposition.BAD_INPUT:
            assert meaning.outcome in (Outcome.FAILED, Outcome.REFUSED)
        elif meaning.request is not None:
            assert meaning.outcome is Outcome.WAITING

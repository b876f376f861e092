"""What `doppel run` prints for a failed step: the error the step's code raised, in one line,
never Dagster's wrapper around it ("Error occurred while executing op ...") nor its summary
of the step retries ("Exceeded max_retries")."""

from __future__ import annotations

import dagster as dg
import pytest

from pipeline.runner import failure_reason


def failed_run(retry: dg.RetryPolicy | None) -> dg.ExecuteInProcessResult:
    @dg.asset(name="gallery_site", retry_policy=retry)
    def broken() -> None:
        raise FileNotFoundError("templates/index.html.j2 is not in the package\nsecond line")

    result = dg.materialize([broken], raise_on_error=False)
    assert not result.success
    return result


@pytest.mark.parametrize("retry", [None, dg.RetryPolicy(max_retries=1)], ids=["once", "retried"])
def test_a_step_that_raises_is_named_with_its_own_error(retry: dg.RetryPolicy | None) -> None:
    assert failure_reason(failed_run(retry)) == (
        "failed at gallery_site: FileNotFoundError: templates/index.html.j2 is not in the package"
    )

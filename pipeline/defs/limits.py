"""Concurrency pools and step retries for the steps that call out (photo source, generator).

Pools are named for the role, not the vendor: the same step talks to Unsplash or a local
folder, to OpenAI or the CPU-bound patch-remix generator, and each needs a limit for its own
reason (Unsplash's hourly request budget; OpenAI spend and rate limits; two cores for
patch-remix). Limits live in the instance (`dagster.yaml` `concurrency.pools.default_limit`,
or `dagster instance concurrency set image_generator 2`), so they change without a deploy.

Retries come in layers, short to long:
1. the HTTP helper (`pipeline.lib.core.http.send_with_retries`) retries one request, in seconds;
2. `API_STEP_RETRY` re-runs a failed step a couple of times after a short wait, only for a
   blip that costs nothing to repeat (database or store reconnects, a dropped worker).
   Whatever will fail the same way again (a bad key, a setting, a missing upstream day)
   raises `permanent_failure`, with its cause as the run's headline. A photo's own failure
   never fails the step: it is that photo's outcome (`pipeline.lib.failures`),
   and the ledger's per-photo cap bounds what any retry can pay;
3. instance `run_retries` re-launch a run whose worker crashed;
4. the gap-fill sensor comes back for a failed day after 30 min, then 60 min, and leaves it
   to a person after DOPPEL_GAP_MAX_ATTEMPTS failed runs; and for the photos of a day that
   wait for a retry, from the time each was given. Long outages are its job, which is why
   (2) waits seconds, not minutes.
"""

from typing import Any

import dagster as dg

PHOTO_SOURCE_POOL = "photo_source"
IMAGE_GENERATOR_POOL = "image_generator"

# In a failed step's metadata: the cause is a setting to fix (`doppel run` exits 2).
CAUSE = "cause"
SETTING = "a setting to fix"

# Waits about 2 s, then about 6 s (exponential, +/- 2 s of jitter).
API_STEP_RETRY = dg.RetryPolicy(
    max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def permanent_failure(
    description: str, *, setting: bool = False, metadata: dict[str, Any] | None = None
) -> dg.Failure:
    """A step failure no step retry can mend, its `description` the run's headline;
    `setting`: the cause is a setting to fix."""
    marks = {CAUSE: SETTING} if setting else {}
    return dg.Failure(
        description=description, allow_retries=False, metadata={**(metadata or {}), **marks}
    )

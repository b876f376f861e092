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
   Whatever may have been billed, or will fail the same way again (a bad key), raises
   `dg.Failure(allow_retries=False)`: the table in `pipeline.lib.generators.failures` says
   which, and the ledger's per-photo cap bounds what any retry can pay;
3. instance `run_retries` re-launch a run whose worker crashed;
4. the gap-fill sensor comes back for a failed day after 30 min, then 60 min, and leaves it
   to a person after DOPPEL_GAP_MAX_ATTEMPTS failed runs. Long outages are its job, which is
   why (2) waits seconds, not minutes.
"""

import dagster as dg

PHOTO_SOURCE_POOL = "photo_source"
IMAGE_GENERATOR_POOL = "image_generator"

# Waits about 2 s, then about 6 s (exponential, +/- 2 s of jitter).
API_STEP_RETRY = dg.RetryPolicy(
    max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

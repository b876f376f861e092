"""`doppel votes-serve`: the vote service under uvicorn.

uvicorn's access log is off: it would write each voter's address to the logs, and the
service promises to keep none. Each worker process is its own app (its own engine, rate
limiter and counters), made by `app_from_settings` from the same settings as every other
Doppel process.
"""

from __future__ import annotations

import gc
import logging

import uvicorn
from starlette.applications import Starlette

from pipeline.lib.db import Database, schema_problem_at
from pipeline.lib.settings import load_settings
from pipeline.lib.votes.app import create_app

log = logging.getLogger(__name__)


def app_from_settings() -> Starlette:
    """The app on the database the settings name (uvicorn's factory, once per worker)."""
    app = create_app(Database(load_settings().resolved_database_url))
    # Everything imported so far (about 90,000 objects: settings, SQLAlchemy, the models)
    # lives as long as the process. Left to the collector, each full collection walked it
    # all while no request was served: 4 of them in a 10 s bench run, up to 335 ms each on
    # the loaded 2 cores, which was the p99. Frozen, a full collection walks only what the
    # requests made.
    gc.freeze()
    return app


def serve(database_url: str, host: str, port: int, workers: int = 1) -> None:
    # Checked once at start and said in one line; the service goes on, its health check
    # failing, so `docker compose ps` shows what is wrong (as the exporter does).
    if problem := schema_problem_at(database_url):
        log.warning("%s", problem)
    uvicorn.run(
        "pipeline.lib.votes.serve:app_from_settings",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        server_header=False,
        log_level="warning",
    )

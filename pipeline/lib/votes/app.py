"""The vote service: a small ASGI app behind nginx at /api/votes.

Starlette under uvicorn: the lightest of the two the issue allows. Dagster's webserver
already installs both (no new dependency in the image), the service is three routes with no
schema to publish, and FastAPI's request models would be a second place deciding what a
valid vote is, beside `ballot.py`. The database work is SQLAlchemy's, as everywhere in
Doppel, run in Starlette's thread pool: a pair's lookup when the cache misses it, and one
write per batch of concurrent votes (`commit.py`), not one per vote.

Routes: POST /api/votes (201 with whether the answer was right; 4xx with one line, nothing
stored), GET /api/votes/health (the database answers and is at this code's migration) and
GET /metrics (Prometheus: votes accepted and refused by reason; not proxied by nginx).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.lib.core import clock
from pipeline.lib.db import Database
from pipeline.lib.votes.ballot import (
    MAX_BODY_BYTES,
    REFUSAL_REASONS,
    Refusal,
    check_content_type,
    read_ballot,
)
from pipeline.lib.votes.commit import GroupCommit
from pipeline.lib.votes.limits import RateLimiter
from pipeline.lib.votes.store import VoteStore

log = logging.getLogger(__name__)

VOTES_PATH = "/api/votes"
# Answers are about people's privacy as much as the pages: nothing is cached, nothing sniffed.
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class VoteMetrics:
    """Counters of this process (a registry of its own, so two apps in one test process
    never share one)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "doppel_votes_accepted", "Votes stored.", ["mode"], registry=self.registry
        )
        self.refused = Counter(
            "doppel_votes_refused", "Votes refused, by reason.", ["reason"], registry=self.registry
        )
        for reason in REFUSAL_REASONS:  # every reason shows, at 0, from the first scrape
            self.refused.labels(reason)
        for mode in ("pair", "single"):
            self.accepted.labels(mode)


def vote_metric_names() -> set[str]:
    """The sample names the service's /metrics serves (the dashboard test reads them)."""
    return {
        f"{metric.name}_total"
        for metric in VoteMetrics().registry.collect()
        if metric.type == "counter"
    }


def create_app(
    db: Database,
    *,
    now: Callable[[], datetime] = clock.utc_now,
    limiter: RateLimiter | None = None,
) -> Starlette:
    store = VoteStore(db, now=now)
    commits = GroupCommit(store.insert)
    limiter = limiter or RateLimiter(now=now)
    metrics = VoteMetrics()

    async def vote(request: Request) -> Response:
        try:
            check_content_type(request.headers.get("content-type"))
            ballot = read_ballot(await _capped_body(request))
            if not limiter.allow(ballot.browser_id):
                raise Refusal(
                    429, "rate_limited", "too many answers from this browser; wait a moment"
                )
            pair = store.cached_pair(ballot.photo_id, ballot.generator)
            if pair is None:
                pair = await run_in_threadpool(
                    store.published_pair, ballot.photo_id, ballot.generator
                )
            if pair is None:
                raise Refusal(404, "unknown_pair", "no published pair has that photo and generator")
            row, correct = store.row(ballot, pair)
            written = await commits.submit(row)
            if written == "duplicate":
                raise Refusal(409, "duplicate", "this browser has already answered this pair")
            if written == "gone":
                raise Refusal(404, "unknown_pair", "that pair is no longer published")
        except Refusal as refusal:
            metrics.refused.labels(refusal.reason).inc()
            return JSONResponse(
                {"error": refusal.message, "reason": refusal.reason},
                status_code=refusal.status,
                headers=HEADERS,
            )
        metrics.accepted.labels(ballot.mode).inc()
        return JSONResponse({"correct": correct}, status_code=201, headers=HEADERS)

    async def health(request: Request) -> Response:
        try:
            problem = await run_in_threadpool(db.schema_problem)
        except Exception as exc:  # down or unreachable: unhealthy, said in one line
            problem = f"cannot reach the database {db.where}: {type(exc).__name__}"
        if problem:
            return JSONResponse({"ok": False, "error": problem}, status_code=503, headers=HEADERS)
        return JSONResponse({"ok": True}, headers=HEADERS)

    async def scrape(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app = Starlette(
        routes=[
            Route(VOTES_PATH, vote, methods=["POST"]),
            Route(f"{VOTES_PATH}/health", health, methods=["GET"]),
            Route("/metrics", scrape, methods=["GET"]),
        ]
    )
    app.state.metrics = metrics
    return app


async def _capped_body(request: Request) -> bytes:
    """The body, read no further than one byte past the cap (a declared length over it is
    refused before reading at all)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise Refusal(413, "too_large", f"a vote is at most {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Refusal(413, "too_large", f"a vote is at most {MAX_BODY_BYTES} bytes")
    return bytes(body)

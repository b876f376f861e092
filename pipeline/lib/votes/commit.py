"""Group commit: the votes that arrive while one batch is being written go in the next.

Each vote used to be its own transaction: a pool checkout with its ping, BEGIN, INSERT and
COMMIT, four round trips and a WAL flush, in a thread of its own; at 50 concurrent clients
the threads outnumbered the pool's kept connections, so connections were opened and closed
per vote besides. Here one batch at a time is in flight per process: the first vote of an
idle process is written at once (no timer, no added wait), and whatever arrives meanwhile
waits for that write to end and then goes together, as one statement and one commit.

"201 means stored" holds: a vote's future is resolved only after the statement holding it
has returned, i.e. after PostgreSQL flushed the commit. When the write fails (the database
down), every vote of the batch gets the error and none is acknowledged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from pipeline.lib.votes.store import VoteKey, Written, key_of

# Rows in one statement at most: 50 clients per process fit in one; a backlog after a
# stall is written in a few statements rather than one huge one.
MAX_BATCH = 500

Row = dict[str, Any]


class GroupCommit:
    def __init__(self, write: Callable[[list[Row]], dict[VoteKey, Written]]):
        self._write = write  # blocking: run in the thread pool, one call at a time
        self._waiting: list[tuple[Row, asyncio.Future[Written]]] = []
        self._writing = False
        self._drainer: asyncio.Task[None] | None = None  # held: the loop keeps tasks weakly

    async def submit(self, row: Row) -> Written:
        """What became of `row` once its batch is committed."""
        future: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, future))
        if not self._writing:
            self._writing = True
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                await self._commit(batch)
        finally:
            self._writing = False

    async def _commit(self, batch: list[tuple[Row, asyncio.Future[Written]]]) -> None:
        # A browser's second vote on a pair in the same batch is a duplicate however the
        # first one fares (stored now, or already stored before).
        first: dict[VoteKey, Row] = {}
        for row, future in batch:
            if key_of(row) in first:
                _resolve(future, "duplicate")
            else:
                first[key_of(row)] = row
        try:
            written = await run_in_threadpool(self._write, list(first.values()))
        except Exception as exc:  # the database: nothing of this batch is acknowledged
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for row, future in batch:
            if not future.done():
                _resolve(future, written[key_of(row)])


def _resolve(future: asyncio.Future[Written], outcome: Written) -> None:
    if not future.done():  # the request may have gone (client closed): nobody to tell
        future.set_result(outcome)

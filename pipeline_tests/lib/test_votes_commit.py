"""Group commit against a real PostgreSQL: votes that arrive together are written as one
statement, each told what became of it only once that statement has committed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from pipeline.lib.db import Database, Vote
from pipeline.lib.votes.app import create_app
from pipeline.lib.votes.commit import GroupCommit
from pipeline.lib.votes.store import VoteKey, VoteStore, Written
from pipeline_tests.conftest import free_port
from pipeline_tests.fixtures.votes import (
    GENERATOR,
    STORED_AT,
    add_pair,
    digest,
    pair_vote,
    votes_database,
)


@pytest.fixture(scope="module")
def db(postgres_server: str) -> Iterator[Database]:
    with votes_database(postgres_server) as database:
        yield database


@pytest.fixture(scope="module")
def photo(db: Database) -> int:
    return add_pair(db, "lighthouse")


def row(photo_id: int, browser: str | None = None) -> dict[str, Any]:
    return {
        "inspiration_id": photo_id, "generator": GENERATOR, "mode": "pair", "picked": "photo",
        "shown": None, "confidence": None, "correct": True, "answer_ms": 2400,
        "browser_id": browser or str(uuid.uuid4()), "created_at": STORED_AT,
    }  # fmt: skip


def stored(db: Database, *browsers: str) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(Vote).where(Vote.browser_id.in_(browsers))
        return session.scalar(query) or 0


class Recording:
    """The store's write, counting the rows of each call."""

    def __init__(self, store: VoteStore):
        self.store = store
        self.batches: list[int] = []

    def __call__(self, rows: list[dict[str, Any]]) -> dict[VoteKey, Written]:
        self.batches.append(len(rows))
        return self.store.insert(rows)


def submit_together(commits: GroupCommit, rows: list[dict[str, Any]]) -> list[Any]:
    async def together() -> list[Any]:
        return await asyncio.gather(*(commits.submit(r) for r in rows), return_exceptions=True)

    return asyncio.run(together())


def test_votes_arriving_together_are_one_statement_and_each_stored(
    db: Database, photo: int
) -> None:
    write = Recording(VoteStore(db))
    rows = [row(photo) for _ in range(30)]
    outcomes = submit_together(GroupCommit(write), rows)
    assert outcomes == ["stored"] * 30
    assert write.batches == [30]
    # Told "stored" only after the commit: another connection sees every row.
    assert stored(db, *(r["browser_id"] for r in rows)) == 30


def test_a_second_vote_of_a_browser_is_a_duplicate_and_the_rest_of_its_batch_stored(
    db: Database, photo: int
) -> None:
    earlier, twice = str(uuid.uuid4()), str(uuid.uuid4())
    assert submit_together(GroupCommit(VoteStore(db).insert), [row(photo, earlier)]) == ["stored"]
    rows = [row(photo, twice), row(photo, twice), row(photo, earlier), row(photo)]
    outcomes = submit_together(GroupCommit(VoteStore(db).insert), rows)
    assert outcomes == ["stored", "duplicate", "duplicate", "stored"]
    assert stored(db, earlier, twice, rows[3]["browser_id"]) == 3


def test_a_vote_on_a_photo_gone_meanwhile_is_refused_and_its_batch_still_stored(
    db: Database, photo: int
) -> None:
    rows = [row(photo), row(photo + 10_000), row(photo)]  # the middle photo does not exist
    outcomes = submit_together(GroupCommit(VoteStore(db).insert), rows)
    assert outcomes == ["stored", "gone", "stored"]
    assert stored(db, *(r["browser_id"] for r in rows)) == 2


def test_no_vote_is_acknowledged_when_the_write_fails() -> None:
    down = Database(f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/nothing")
    commits = GroupCommit(VoteStore(down).insert)
    try:
        for _ in range(2):  # and the next batch is tried again, not left waiting
            outcomes = submit_together(commits, [row(1), row(1)])
            assert [type(o).__name__ for o in outcomes] == ["OperationalError"] * 2
    finally:
        down.dispose()


def test_concurrent_posts_each_get_their_own_answer(db: Database, photo: int) -> None:
    app = create_app(db, now=lambda: STORED_AT)
    votes = [pair_vote(photo, digest("photo lighthouse")) for _ in range(20)]
    votes.append({**votes[0], "picked": digest("look-alike lighthouse")})  # the same browser

    async def post_all() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://votes") as client:
            answers = await asyncio.gather(*(client.post("/api/votes", json=v) for v in votes))
        return [answer.status_code for answer in answers]

    assert sorted(asyncio.run(post_all())) == [201] * 20 + [409]
    assert stored(db, *(v["browser_id"] for v in votes)) == 20

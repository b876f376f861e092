"""The vote service against a real PostgreSQL: what it stores, and every way a vote is
refused (each refused vote leaves the table as it was)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from pipeline.lib.db import Database, Vote
from pipeline.lib.votes.app import create_app
from pipeline.lib.votes.ballot import MAX_BODY_BYTES, MIN_ANSWER_MS
from pipeline.lib.votes.limits import BURST, RateLimiter
from pipeline_tests.fixtures.votes import (
    GENERATOR,
    STORED_AT,
    add_pair,
    digest,
    pair_vote,
    votes_database,
)

NOW = STORED_AT


@pytest.fixture(scope="module")
def db(postgres_server: str) -> Iterator[Database]:
    with votes_database(postgres_server) as database:
        yield database


@pytest.fixture(scope="module")
def pairs(db: Database) -> dict[str, int]:
    return {
        "published": add_pair(db, "harbour"),
        "second": add_pair(db, "orchard"),
        "failed": add_pair(db, "meadow", status="failed"),
    }


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(db: Database, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(db, now=clock)) as test_client:
        yield test_client


def browser() -> str:
    return str(uuid.uuid4())


def votes(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Vote)) or 0


def post(client: TestClient, vote: Any, **kwargs: Any) -> Any:
    return client.post("/api/votes", json=vote, **kwargs)


def test_a_vote_is_stored_and_its_rightness_is_the_services(
    client: TestClient, db: Database, pairs: dict[str, int]
) -> None:
    photo = pairs["published"]
    right = pair_vote(photo, digest("photo harbour"))
    wrong = pair_vote(photo, digest("look-alike harbour"))
    assert post(client, right).json() == {"correct": True}
    answer = post(client, wrong)
    assert answer.status_code == 201 and answer.json() == {"correct": False}
    assert answer.headers["cache-control"] == "no-store"
    with db.session() as session:
        stored = {
            v.browser_id: v for v in session.scalars(select(Vote).where(Vote.photo_id == photo))
        }
    row = stored[right["browser_id"]]
    assert (row.generator, row.mode, row.picked, row.shown, row.confidence) == (
        GENERATOR, "pair", "photo", None, None)  # fmt: skip
    assert row.correct and row.answer_ms == 2400 and row.created_at == NOW
    assert (
        stored[wrong["browser_id"]].picked == "lookalike"
        and not stored[wrong["browser_id"]].correct
    )


def test_a_single_image_answer_is_right_when_it_names_what_was_shown(
    client: TestClient, db: Database, pairs: dict[str, int]
) -> None:
    photo = pairs["second"]
    base = {"photo_id": photo, "generator": GENERATOR, "mode": "single", "answer_ms": 1800}
    said_machine = {**base, "shown": digest("look-alike orchard"), "answer": "lookalike",
                    "confidence": 80, "browser_id": browser()}  # fmt: skip
    said_photo = {**said_machine, "answer": "photo", "confidence": 50, "browser_id": browser()}
    assert post(client, said_machine).json() == {"correct": True}
    assert post(client, said_photo).json() == {"correct": False}
    with db.session() as session:
        row = session.scalars(
            select(Vote).where(Vote.browser_id == said_machine["browser_id"])
        ).one()
    assert (row.mode, row.shown, row.picked, row.confidence) == (
        "single",
        "lookalike",
        "lookalike",
        80,
    )


def _bad_votes(pairs: dict[str, int]) -> dict[str, tuple[Any, int, str]]:
    """name: (the vote, the status, the reason)."""
    photo = pairs["published"]
    ok = pair_vote(photo, digest("photo harbour"))
    return {
        "unknown pair": (pair_vote(999_999, digest("photo harbour")), 404, "unknown_pair"),
        "unpublished pair": (
            pair_vote(pairs["failed"], digest("photo meadow")),
            404,
            "unknown_pair",
        ),
        "other generator": ({**ok, "generator": "openai"}, 404, "unknown_pair"),
        "image of another pair": (pair_vote(photo, digest("photo orchard")), 422, "not_in_pair"),
        "the client says it was right": ({**ok, "correct": True}, 422, "invalid"),
        "a field missing": ({k: v for k, v in ok.items() if k != "answer_ms"}, 422, "invalid"),
        "not an object": ([ok], 422, "invalid"),
        "photo id as text": ({**ok, "photo_id": str(photo)}, 422, "invalid"),
        "photo id as true": ({**ok, "photo_id": True}, 422, "invalid"),
        "photo id fractional": ({**ok, "photo_id": photo + 0.5}, 422, "invalid"),
        "time as text": ({**ok, "answer_ms": "2400"}, 422, "invalid"),
        "negative time": ({**ok, "answer_ms": -5}, 422, "invalid"),
        "too fast": ({**ok, "answer_ms": MIN_ANSWER_MS - 1}, 422, "too_fast"),
        "unknown mode": ({**ok, "mode": "vote"}, 422, "invalid"),
        "picked as a side": ({**ok, "picked": "photo"}, 422, "invalid"),
        "browser id not a uuid": ({**ok, "browser_id": "x" * 36}, 422, "invalid"),
        "browser id upper case": ({**ok, "browser_id": ok["browser_id"].upper()}, 422, "invalid"),
        "confidence out of range": (
            {
                **{k: v for k, v in ok.items() if k != "picked"},
                "mode": "single",
                "shown": digest("photo harbour"),
                "answer": "photo",
                "confidence": 101,
            },
            422,
            "invalid",
        ),
        "confidence as text": (
            {
                **{k: v for k, v in ok.items() if k != "picked"},
                "mode": "single",
                "shown": digest("photo harbour"),
                "answer": "photo",
                "confidence": "90",
            },
            422,
            "invalid",
        ),
    }


BAD = [
    "unknown pair", "unpublished pair", "other generator", "image of another pair",
    "the client says it was right", "a field missing", "not an object", "photo id as text",
    "photo id as true", "photo id fractional", "time as text", "negative time", "too fast",
    "unknown mode", "picked as a side", "browser id not a uuid", "browser id upper case",
    "confidence out of range", "confidence as text",
]  # fmt: skip


@pytest.mark.parametrize("name", BAD)
def test_a_bad_vote_is_refused_in_one_line_and_never_stored(
    name: str, client: TestClient, db: Database, pairs: dict[str, int]
) -> None:
    vote, status, reason = _bad_votes(pairs)[name]
    before = votes(db)
    answer = post(client, vote)
    assert (answer.status_code, answer.json()["reason"]) == (status, reason), answer.text
    assert "\n" not in answer.json()["error"] and answer.json()["error"]
    assert votes(db) == before


def test_bodies_that_are_not_votes_are_refused(client: TestClient, db: Database) -> None:
    before = votes(db)
    headers = {"content-type": "application/json"}
    cases = {
        "not json": (client.post("/api/votes", content=b"{photo_id: 1", headers=headers), 400),
        "not utf-8": (client.post("/api/votes", content=b'{"a": "\xff"}', headers=headers), 400),
        "nested deep": (
            client.post("/api/votes", content=b"[" * MAX_BODY_BYTES, headers=headers),
            400,
        ),
        "form": (client.post("/api/votes", data={"photo_id": "1"}), 415),
        "no type": (client.post("/api/votes", content=b"{}"), 415),
        "declared too large": (
            client.post("/api/votes", content=b" " * (MAX_BODY_BYTES + 1), headers=headers), 413),
        "streamed too large": (  # no length declared: the reader stops past the cap
            client.post("/api/votes", content=iter([b" " * 1500] * 1000), headers=headers), 413),
        "a GET": (client.get("/api/votes"), 405),
    }  # fmt: skip
    for name, (answer, status) in cases.items():
        assert answer.status_code == status, (name, answer.text)
    assert votes(db) == before


INJECTIONS = [
    "'; DROP TABLE votes; --",
    "1 OR 1=1",
    '" onmouseover="alert(1)',
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "{{ 7*7 }}",
    "\u0000",
]


def single_vote(photo_id: int) -> dict[str, Any]:
    vote = {k: v for k, v in pair_vote(photo_id, "").items() if k != "picked"}
    return vote | {"mode": "single", "shown": digest("photo harbour"), "answer": "photo",
                   "confidence": 80}  # fmt: skip


@pytest.mark.parametrize(
    "field",
    [
        "photo_id",
        "generator",
        "mode",
        "picked",
        "answer_ms",
        "browser_id",
        "single:shown",
        "single:answer",
        "single:confidence",
    ],
)
def test_injection_strings_in_any_field_are_refused_and_not_echoed(
    field: str, client: TestClient, db: Database, pairs: dict[str, int]
) -> None:
    before = votes(db)
    single, _, field = field.rpartition(":")
    photo = pairs["published"]
    base = single_vote(photo) if single else pair_vote(photo, digest("photo harbour"))
    for payload in INJECTIONS:
        vote = {**base, field: payload}
        answer = post(client, vote)
        assert answer.status_code == 422, (field, payload, answer.text)
        assert payload not in answer.text
        # Appended to a valid value too, where a prefix match would let it through.
        if isinstance(vote[field], str):
            valid = base[field]
            answer = post(client, {**vote, field: f"{valid}{payload}"})
            assert answer.status_code == 422 and payload not in answer.text, (field, payload)
    extra = {**pair_vote(pairs["published"], digest("photo harbour")), "<b>": "<script>"}
    assert post(client, extra).status_code == 422
    assert votes(db) == before


def test_one_browser_counts_once_per_pair(
    client: TestClient, db: Database, pairs: dict[str, int]
) -> None:
    vote = pair_vote(pairs["second"], digest("photo orchard"))
    assert post(client, vote).status_code == 201
    before = votes(db)
    again = post(client, {**vote, "picked": digest("look-alike orchard")})
    assert (again.status_code, again.json()["reason"]) == (409, "duplicate")
    assert votes(db) == before


def test_the_service_limits_each_browser_and_no_other(
    db: Database, pairs: dict[str, int], clock: Clock
) -> None:
    app = create_app(db, now=clock, limiter=RateLimiter(1.0, BURST, now=clock))
    with TestClient(app) as client:
        flooder = pair_vote(pairs["published"], digest("photo harbour"))
        answers = [post(client, flooder).status_code for _ in range(BURST + 3)]
        assert answers == [201] + [409] * (BURST - 1) + [429] * 3
        assert (
            post(client, pair_vote(pairs["published"], digest("photo harbour"))).status_code == 201
        )
        clock.now += timedelta(seconds=1)  # one token back
        assert [post(client, flooder).status_code for _ in range(2)] == [409, 429]
        scrape = client.get("/metrics").text
    assert 'doppel_votes_refused_total{reason="rate_limited"} 4.0' in scrape
    assert f'doppel_votes_refused_total{{reason="duplicate"}} {float(BURST)}' in scrape
    assert 'doppel_votes_accepted_total{mode="pair"} 2.0' in scrape
    assert 'doppel_votes_refused_total{reason="too_large"} 0.0' in scrape


def test_health_says_whether_the_database_is_ready(
    client: TestClient, make_postgres_database: Any
) -> None:
    assert client.get("/api/votes/health").json() == {"ok": True}
    empty = Database(make_postgres_database()["url"])
    try:
        with TestClient(create_app(empty)) as unmigrated:
            answer = unmigrated.get("/api/votes/health")
    finally:
        empty.dispose()
    assert answer.status_code == 503 and "doppel migrate" in answer.json()["error"]
    assert json.dumps(answer.json()).count("\\n") == 0


def test_the_exporter_counts_stored_votes_by_generator_and_mode(
    client: TestClient, db: Database, pairs: dict[str, int]
) -> None:
    from pipeline.lib.observability.exporter import DoppelCollector

    assert post(client, pair_vote(pairs["published"], digest("photo harbour"))).status_code == 201
    collector = DoppelCollector(db, None, start_date=NOW.date())
    [family] = [f for f in collector.collect() if f.name == "doppel_votes_stored"]
    counted = {(s.labels["generator"], s.labels["mode"]): s.value for s in family.samples}
    assert counted[(GENERATOR, "pair")] == votes(db) - counted.get((GENERATOR, "single"), 0)


def test_the_votes_url_is_a_path_on_the_gallerys_host_or_off() -> None:
    from pipeline.lib.settings import SettingsError, load_settings

    assert load_settings(_env_file=None).votes_url is None  # off unless asked for
    assert load_settings(_env_file=None, votes_url="").votes_url is None
    assert load_settings(_env_file=None, votes_url="/api/votes").votes_url == "/api/votes"
    for elsewhere in ("https://votes.example/api", "//votes.example/api", "/api/<script>", "api"):
        with pytest.raises(SettingsError, match="path on the gallery's own host"):
            load_settings(_env_file=None, votes_url=elsewhere)

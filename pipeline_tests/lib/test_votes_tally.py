"""A day's votes summed per pair (the `human_votes` asset), every day's summed into the
findings, and the sentences the gallery makes of them: counts only, never a vote's text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from starlette.testclient import TestClient

from pipeline.defs.assets.human_votes import build_human_votes
from pipeline.defs.resources import build_resources
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.db import Database
from pipeline.lib.findings.table import findings_frame
from pipeline.lib.settings import DoppelSettings
from pipeline.lib.site.findings import findings_page, people
from pipeline.lib.votes.app import create_app
from pipeline.lib.votes.tally import day_tally, people_by_pair, read_tallies
from pipeline_tests.fixtures.assets import TEST_PARTITIONS
from pipeline_tests.fixtures.votes import DAY, add_pair, digest, pair_vote, votes_database

FIRST = datetime(2026, 11, 21, 23, 59, 59, tzinfo=UTC)  # the last second of the 21st
SECOND = FIRST + timedelta(seconds=1)  # the first of the 22nd


class Clock:
    def __init__(self, at: datetime) -> None:
        self.now = at

    def __call__(self) -> datetime:
        return self.now


def cast_votes(db: Database, clock: Clock, votes: list[dict[str, Any]]) -> None:
    with TestClient(create_app(db, now=clock)) as client:
        for vote in votes:
            answer = client.post("/api/votes", json=vote)
            assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def db(postgres_server: str) -> Iterator[Database]:
    with votes_database(postgres_server) as database:
        yield database


def test_a_days_tally_counts_that_days_votes_per_pair(db: Database) -> None:
    harbour, orchard = add_pair(db, "harbour"), add_pair(db, "orchard")
    clock = Clock(FIRST)
    photo, made = digest("photo harbour"), digest("look-alike harbour")
    cast_votes(db, clock, [pair_vote(harbour, photo), pair_vote(harbour, photo),
                           pair_vote(harbour, made, answer_ms=900),
                           pair_vote(orchard, digest("look-alike orchard"))])  # fmt: skip
    single = {k: v for k, v in pair_vote(harbour, photo).items() if k != "picked"}
    single |= {"mode": "single", "shown": made, "answer": "lookalike", "confidence": 70}
    cast_votes(db, clock, [single])
    clock.now = SECOND
    cast_votes(db, clock, [pair_vote(harbour, made)])

    first = {row["photo_id"]: row for row in day_tally(db, FIRST.date())}
    assert first[harbour] | {"median_answer_ms": None} == {
        "photo_id": harbour, "generator": "patch-remix", "pair_votes": 3, "photo_picked": 2,
        "single_votes": 1, "single_right": 1, "median_answer_ms": None,
    }  # fmt: skip
    assert first[harbour]["median_answer_ms"] == 2400.0
    assert (first[orchard]["pair_votes"], first[orchard]["photo_picked"]) == (1, 0)
    second = list(day_tally(db, SECOND.date()))
    assert [(r["photo_id"], r["pair_votes"], r["photo_picked"]) for r in second] == [
        (harbour, 1, 0)
    ]
    assert set(second[0]) == {"photo_id", "generator", "pair_votes", "photo_picked",
                              "single_votes", "single_right", "median_answer_ms"}  # fmt: skip
    together = people_by_pair([day_tally(db, FIRST.date()), day_tally(db, SECOND.date())])
    assert together[(harbour, "patch-remix")] == (4, 2)


def test_findings_and_pages_say_how_often_people_picked_the_photo() -> None:
    photos = [{"id": i, "day": str(DAY), "status": "stored", "object_key": f"originals/{i}"}
              for i in (7, 8)]  # fmt: skip
    looks = [{"photo_id": i, "generator": "patch-remix", "status": "succeeded",
              "object_key": f"generated/{i}"} for i in (7, 8)]  # fmt: skip
    frame = findings_frame([(photos, looks)], None, {(7, "patch-remix"): (48, 34)})
    assert list(frame["people_votes"]) == [48, 0] and list(frame["people_photo"]) == [34, 0]
    said = people(frame)
    assert said == {str(DAY): {"7/patch-remix": (
        "People picked the photo 71 % of n = 48 times (95 % interval 57–82 %).")}}  # fmt: skip
    page = findings_page(frame, {})
    [generator] = page["generators"]
    assert generator["people"].startswith(
        "People took its look-alike for the photo in 29 % (95 % interval 18–43 %, n = 48)"
    )


@pytest.mark.slow  # a Dagster materialization: a few seconds under load
def test_human_votes_asset_stores_the_days_tally(
    local_settings: DoppelSettings, tmp_path: Path
) -> None:
    db = Database(local_settings.resolved_database_url)
    try:
        harbour = add_pair(db, "harbour")
        cast_votes(db, Clock(FIRST), [pair_vote(harbour, digest("photo harbour"))])
    finally:
        db.dispose()
    asset = build_human_votes(TEST_PARTITIONS)
    result = dg.materialize(
        [asset], partition_key=FIRST.date().isoformat(), resources=build_resources(local_settings)
    )
    assert result.success
    [event] = result.asset_materializations_for_node("human_votes")
    assert event.metadata["pair_votes"].value == 1
    [tally] = read_tallies(LocalObjectStore(local_settings.objects_dir), "human_votes")
    assert tally.day == FIRST.date().isoformat()
    assert [(r["photo_id"], r["pair_votes"], r["photo_picked"]) for r in tally] == [(harbour, 1, 1)]

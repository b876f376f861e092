"""Two gallery builds at once on one site, into a folder and into S3: the site they leave is
complete and consistent (every page its manifest lists, nothing else, each page what one
build of the newest data makes), never pages of one beside the index of the other."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeline.defs.names import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore, ObjectStore, S3ObjectStore
from pipeline.lib.db import Database
from pipeline.lib.site import build_site
from pipeline.lib.site.publish import published_files, publishing
from pipeline_tests.fixtures import racing
from pipeline_tests.fixtures.small_days import write_day

DAYS = ("2026-11-19", "2026-11-20")


class PausingStore:
    """The data store, holding its reader at the first day table it reads until released."""

    def __init__(self, store: LocalObjectStore, reading: threading.Event, go: threading.Event):
        self.store, self.reading, self.go = store, reading, go

    def get(self, key: str) -> bytes:
        if key.startswith("tables/") and not self.reading.is_set():
            self.reading.set()
            assert self.go.wait(racing.WAIT_S)
        return self.store.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture(params=["folder", "s3"])
def target(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ObjectStore, str, ObjectStore, Database]]:
    """(site store, site prefix, a second prefix for a reference build, the database whose
    lock the builders share): a folder with SQLite, or S3 with PostgreSQL."""
    if request.param == "folder":
        db = Database(f"sqlite:///{tmp_path / 'doppel.db'}")
        site: ObjectStore = LocalObjectStore(tmp_path / "site")
        reference: ObjectStore = LocalObjectStore(tmp_path / "reference")
        yield site, "", reference, db
    else:
        endpoint, bucket = (request.getfixturevalue(n) for n in ("s3_server", "s3_bucket"))
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        db = Database(request.getfixturevalue("postgres_database")["url"])
        yield (
            S3ObjectStore(client, bucket, "doppel"),
            "site",
            S3ObjectStore(client, bucket, "ref"),
            db,
        )
    db.dispose()


def published(store: ObjectStore, prefix: str) -> dict[str, str]:
    """Every file of the site under `prefix`: its path → the SHA-256 of its bytes."""
    start = f"{prefix}/" if prefix else ""
    return {
        key.removeprefix(start): hashlib.sha256(store.get(key)).hexdigest()
        for key in store.list(start)
    }


@pytest.mark.slow
def test_two_builds_at_once_leave_a_complete_site_of_the_newest_data(
    target: tuple[ObjectStore, str, ObjectStore, Database], tmp_path: Path
) -> None:
    site, prefix, reference, db = target
    data = LocalObjectStore(tmp_path / "objects")
    write_day(data, DAYS[0], 1)
    reading, go, waiting = threading.Event(), threading.Event(), threading.Event()
    built: dict[str, Any] = {}

    def build(name: str, store: Any) -> None:
        with publishing(db, site, prefix):
            built[name] = build_site(store, tables=DAY_TABLES, out_store=site, prefix=prefix)

    first = threading.Thread(target=build, args=("first", PausingStore(data, reading, go)))
    first.start()
    try:
        assert reading.wait(racing.WAIT_S)  # the first build has read the day list: one day
        write_day(data, DAYS[1], 3)  # a new day arrives; the second build starts
        with racing.reporting_waits(waiting):
            second = threading.Thread(target=build, args=("second", data))
            second.start()
            for _ in range(int(racing.WAIT_S / 0.02)):  # until it waits, or has built
                if waiting.wait(0.02) or not second.is_alive():
                    break
    finally:
        go.set()
        first.join(racing.WAIT_S)
    second.join(racing.WAIT_S)
    assert (built["first"].days, built["second"].days) == (1, 2)

    files = published(site, prefix)
    listed = {path: entry["sha256"] for path, entry in published_files(site, prefix).items()}
    site_files = {p: h for p, h in files.items() if not p.startswith("_doppel/")}
    assert site_files == listed  # complete
    # ...and what one build of the data as it is now publishes, page for page.
    build_site(data, tables=DAY_TABLES, out_store=reference, prefix=prefix)
    assert files.keys() == published(reference, prefix).keys()
    assert site_files == {
        p: h for p, h in published(reference, prefix).items() if not p.startswith("_doppel/")
    }
    assert all(f"days/{day}.html" in files for day in DAYS)
    assert waiting.is_set()  # how: the second build waited for the first's lock

"""Two runs collecting the same day at once, in two real processes, on SQLite and PostgreSQL:
one set of rows, each photo stored and tracked once, and neither run records the other's
photos as failed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline.lib.db import Database
from pipeline_tests.fixtures import racing

DAY = date(2026, 11, 20)
COUNT = 3


@pytest.mark.slow
def test_two_collectors_of_one_day_leave_one_set_of_rows_and_no_failure(
    either_database: Database, tmp_path: Path
) -> None:
    context = racing.context()
    results, tracked = context.Queue(), context.Value("i", 0)
    first = {name: context.Event() for name in ("fetching", "release", "waiting")}
    second = {name: context.Event() for name in ("fetching", "waiting")}
    objects, url = str(tmp_path / "objects"), either_database.url
    args = (url, objects, DAY, COUNT)

    # The first collector stops inside the day, at its first photo's bytes...
    a = racing.start(racing.collecting, *args, first, tracked, results)
    try:
        racing.wait_for_any([first["fetching"]], [a], "the first collector fetching")
        # ...while the second starts on the same day; it goes on until it waits for the
        # first, or fetches itself, or ends: whatever it does, the first then finishes.
        b = racing.start(racing.collecting, *args, second, tracked, results)
        try:
            racing.wait_for_any(
                [second["waiting"], second["fetching"]], [a, b], "the second collector"
            )
        finally:
            first["release"].set()
            b.join(racing.WAIT_S)
    finally:
        first["release"].set()
        a.join(racing.WAIT_S)
    reports = [results.get(timeout=5) for _ in range(2)]
    assert (a.exitcode, b.exitcode) == (0, 0), reports

    assert sorted((r["fetched"], r["reused"], r["failures"]) for r in reports) == [
        (0, True, []),  # the second found the day collected and reused it
        (COUNT, False, []),
    ]
    photos = either_database.photos_of_day(DAY)
    assert len(photos) == COUNT == len({p.source_id for p in photos})
    assert [(p.status, p.error, p.used) for p in photos] == [("stored", None, True)] * COUNT
    assert tracked.value == COUNT  # each photo's use told to the source once
    stored = sorted(p.relative_to(objects) for p in Path(objects).rglob("*") if p.is_file())
    assert [str(p) for p in stored] == sorted(p.object_key or "" for p in photos)
    # How: the second waited for the first's lock on the day, and fetched nothing itself.
    assert second["waiting"].is_set() and not second["fetching"].is_set()

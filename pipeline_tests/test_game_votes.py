"""The game posting answers to the real vote service over a real PostgreSQL, in a real
browser (Debian's Chromium, driven by Playwright): the site and the service on one origin,
as nginx puts them. From file:// nothing is sent, and a failed post leaves play as it was.
Skips without /usr/bin/chromium, unless DOPPEL_REQUIRE_TOOLS=1 (CI) says fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select
from starlette.staticfiles import StaticFiles

from pipeline.defs.keys import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.db import Database, LookAlike, Photo, Vote
from pipeline.lib.site import build_site
from pipeline.lib.site.data import load_days
from pipeline.lib.votes.app import create_app
from pipeline_tests.conftest import free_port, postgres_databases
from pipeline_tests.fixtures.gallery_days import (
    UNSPLASH_FILE,
    unsplash_photo_bytes,
    write_gallery_days,
)
from pipeline_tests.fixtures.votes import STORED_AT
from pipeline_tests.system_tools import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_game_votes")]
ROUNDS = 5


def mirror_into(db: Database, store: LocalObjectStore) -> None:
    """The fixture days' rows as the pipeline would have left them in the database."""
    with db.session() as session:
        for day in load_days(store, DAY_TABLES):
            for row in day.photos:
                session.add(Photo(
                    id=row["id"], source=row["source"], source_id=row["source_id"],
                    day=date.fromisoformat(day.day), rank=row["rank"] or 0, status=row["status"],
                    sha256=row["sha256"], download_tracked_at=STORED_AT,
                ))  # fmt: skip
            session.flush()
            for row in day.look_alikes:
                session.add(LookAlike(
                    photo_id=row["photo_id"], status=row["status"], generator=row["generator"],
                    sha256=row["sha256"],
                ))  # fmt: skip


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, shared_cache: Path, postgres_server: str
) -> Iterator[tuple[str, Path, Database]]:
    """The gallery built for /api/votes and the vote service, served by one uvicorn."""
    root = tmp_path_factory.mktemp("served")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    store = LocalObjectStore(root)
    (root / "img").mkdir()
    (root / "img" / UNSPLASH_FILE).write_bytes(unsplash_photo_bytes())
    write_gallery_days(store, unsplash_image_base=f"{base}/img", cache=shared_cache)
    build_site(store, tables=DAY_TABLES, image_origins=(base,), votes_url="/api/votes")
    with postgres_databases(postgres_server) as make:
        db = Database(make()["url"])
        db.upgrade()
        mirror_into(db, store)
        app = create_app(db)
        app.mount("/", StaticFiles(directory=root))
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)  # until uvicorn says it listens
        try:
            yield f"{base}/site/", root / "site", db
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def visible_round(page: Any) -> Any:
    return page.locator("[data-round]:visible")


def pick(page: Any, which: str) -> None:
    """Look at the pictures for two seconds (the page's clock), then pick `which` with the
    keyboard (a click would wait for animation frames, which the installed clock holds)."""
    page.clock.run_for(2000)
    choices = visible_round(page).locator("[data-choice]")
    index = 0 if choices.nth(0).get_attribute("data-choice") == which else 1
    page.keyboard.press(str(index + 1))


def test_five_rounds_played_in_a_browser_are_five_votes_in_postgres(
    stack: Any, browser: Any
) -> None:
    url, _, db = stack
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.clock.install()
    page.goto(url + "game.html")
    assert "is also sent" in page.locator("[data-votes-note]").inner_text()
    # The fixture days hold rounds the service could not check (an Unsplash photo without
    # its digest, a hostile generator name): those are played and not posted. The five
    # rounds of a real day are the deploy test's row (deploy/test/votes_rows.py).
    checkable = "[data-round][data-photo-id]:has([data-choice=lookalike][data-generator])"
    postable = min(ROUNDS, page.locator(checkable).count())
    assert postable >= 1
    expected: list[tuple[int, str, bool]] = []
    for i in range(page.locator("[data-round]").count()):
        which = "photo" if i % 2 == 0 else "lookalike"
        photo_id = visible_round(page).get_attribute("data-photo-id")
        named = visible_round(page).locator("[data-choice=lookalike][data-generator]").count()
        if photo_id is None or not named:
            pick(page, which)
        else:
            with page.expect_response("**/api/votes") as answer:
                pick(page, which)
            # The status only: a keepalive fetch's body is not kept for the page's inspector
            # (reading it waits for ever); what was stored is checked below.
            assert answer.value.status == 201
            expected.append((int(photo_id), which, which == "photo"))
        if len(expected) == postable:
            break
        page.keyboard.press("n")
    with db.session() as session:
        votes = list(session.scalars(select(Vote).order_by(Vote.id)))
    assert [(v.photo_id, v.picked, v.correct) for v in votes] == expected
    assert len({v.browser_id for v in votes}) == 1  # one browser, one random id
    assert all(2000 <= v.answer_ms < 3000 for v in votes), [v.answer_ms for v in votes]
    # No cookie was set or sent, and the id is the one in localStorage.
    assert context.cookies() == []
    assert page.evaluate("localStorage.getItem('doppel.browser-id')") == votes[0].browser_id
    context.close()


def test_a_failed_post_leaves_the_game_as_it_was(stack: Any, browser: Any) -> None:
    url, _, _ = stack
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.clock.install()
    page.route("**/api/votes", lambda route: route.abort())
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "game.html")
    first = visible_round(page).get_attribute("data-round")
    pick(page, "photo")
    assert visible_round(page).locator("[data-verdict]").inner_text() == "Right: that is the photo."
    assert page.locator("[data-score]").inner_text() == "1"
    page.keyboard.press("n")
    assert visible_round(page).get_attribute("data-round") != first
    assert errors == []
    context.close()


def test_from_the_file_system_nothing_is_sent_and_the_page_says_so(
    stack: Any, browser: Any
) -> None:
    _, site, _ = stack
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.clock.install()
    sent: list[str] = []
    page.on(
        "request", lambda request: sent.append(request.url) if "api/votes" in request.url else None
    )
    page.goto((site / "game.html").as_uri())
    assert "stay in this browser" in page.locator("[data-votes-note]").inner_text()
    pick(page, "photo")
    assert page.locator("[data-score]").inner_text() == "1"
    assert sent == []
    context.close()

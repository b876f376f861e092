"""The built gallery in a real browser: headless Chromium (Debian's) driven by Playwright.

index → day → pair by clicking links; every image decodes; the overlay slider moves with the
keyboard; no console errors (which includes CSP violations); no horizontal scrolling on a
phone. Screenshots of the index and a pair page are taken, and saved to docs/screenshots/
(the README shows them) only with DOPPEL_SAVE_SCREENSHOTS=1. Skips without
/usr/bin/chromium, unless DOPPEL_REQUIRE_TOOLS=1 (CI) says fail.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageChops

from pipeline.defs.names import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.site import build_site
from pipeline_tests.fixtures.findings import write_findings
from pipeline_tests.fixtures.gallery_days import (
    DAY_SAMPLES,
    DAY_UNSPLASH,
    UNSPLASH_FILE,
    unsplash_photo_bytes,
    write_gallery_days,
)
from pipeline_tests.system_tools import CHROMIUM, CHROMIUM_ARGS, require_chromium

# A real Chromium, made once: one worker takes the whole module.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_gallery_browser")]

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def playwright_api() -> Any:
    require_chromium()
    from playwright.sync_api import sync_playwright

    return sync_playwright


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served_site(
    tmp_path_factory: pytest.TempPathFactory, shared_cache: Path
) -> Iterator[tuple[str, Path]]:
    """Fixture days built into a store that a local http.server serves on 127.0.0.1.

    The same server stands in for Unsplash's image host (`/img/...`), so the hotlinked
    original is fetched over HTTP like the real one, and nothing leaves the machine.
    """
    root = tmp_path_factory.mktemp("served")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        store = LocalObjectStore(root)
        (root / "img").mkdir()
        (root / "img" / UNSPLASH_FILE).write_bytes(unsplash_photo_bytes())
        write_gallery_days(store, unsplash_image_base=f"{base}/img", cache=shared_cache)
        # The imitation image host, as the CSP allows.
        # With the judge's verdicts (findings.html, the pair pages, the game).
        findings = write_findings(store)
        build_site(store, tables=DAY_TABLES, image_origins=(base,), findings_key=findings)
        yield f"{base}/site/", root / "site"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(playwright_api: Any) -> Iterator[Any]:
    with playwright_api() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class _Watch:
    """Console errors, uncaught exceptions and failed requests of one page."""

    def __init__(self, page: Any):
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _failed(self, request: Any) -> None:
        # A load the page itself cancelled (a reload mid-way, a lazy image no longer wanted)
        # is not a broken file; those show as HTTP errors or decode failures.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"failed: {request.url} ({request.failure})")

    def _console(self, message: Any) -> None:
        if message.type in {"error", "warning"}:
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")


def save_screenshot(page: Any, name: str, **options: Any) -> None:
    """Take the screenshot; save it to docs/screenshots/ only when asked
    (DOPPEL_SAVE_SCREENSHOTS=1), and then only if the committed one does not look the same.

    A test run never writes into the checkout uninvited. Chromium's image scaling differs by
    a few levels in a few pixels between runs; keeping the old file then stops a refresh
    from dirtying the repository.
    """
    path = SCREENSHOTS / name
    new = Image.open(io.BytesIO(page.screenshot(**options))).convert("RGB")
    if os.environ.get("DOPPEL_SAVE_SCREENSHOTS") != "1":
        return
    if path.is_file():
        old = Image.open(path).convert("RGB")
        if old.size == new.size:
            diff = np.asarray(ImageChops.difference(old, new)).max(axis=2)
            if diff.max() <= 16 and (diff > 0).mean() < 0.005:
                return
    path.parent.mkdir(parents=True, exist_ok=True)
    new.save(path, optimize=True)


def assert_images_decode(page: Any) -> int:
    """Scroll every shown image into view (they load lazily), then check each one decoded.
    (Images in hidden parts, like the game's later rounds, load when they are shown.)"""
    shown = page.locator("img:visible")
    count = shown.count()
    for i in range(count):
        shown.nth(i).scroll_into_view_if_needed()
    visible = "[...document.images].filter(i => i.checkVisibility())"
    page.wait_for_function(f"{visible}.every(i => i.complete)", timeout=15_000, polling=100)
    broken = page.evaluate(
        f"{visible}.filter(i => !(i.naturalWidth > 0)).map(i => i.currentSrc || i.src)"
    )
    assert broken == [], broken
    return count


def test_index_to_day_to_pair_with_a_keyboard_slider(browser: Any, served_site: Any) -> None:
    url, _ = served_site
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    watch = _Watch(page)

    page.goto(url + "index.html")
    assert page.title() == "Doppel"
    assert assert_images_decode(page) >= 10
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "gallery-index.png")

    page.get_by_role("link", name="Thursday 19 November 2026").first.click()
    page.wait_for_url(f"**/days/{DAY_UNSPLASH}.html")
    assert page.locator("h1").inner_text() == "Thursday 19 November 2026"
    assert assert_images_decode(page) == 3  # a refused look-alike shows its reason instead
    assert "Refused: moderation_blocked" in page.locator(".card--refused").inner_text()

    page.get_by_role("link", name="A rocket lifting off at dusk").click()
    page.wait_for_url(f"**/pairs/{DAY_UNSPLASH}/01-*.html")
    assert assert_images_decode(page) == 4  # side by side, and the overlay's two layers
    credit = page.locator("p.credit")
    assert credit.inner_text() == "Photo by Jane Doe on Unsplash"
    photo = page.get_by_role("img", name="Photo: Falcon 9 lifting off at dusk, by Jane Doe")
    assert "/img/photo-unsplash-1.jpg?ixid=TESTIXID" in photo.evaluate("i => i.currentSrc")

    # The overlay appears only with JavaScript, and its range input takes the arrow keys.
    stage = page.locator(".compare-stage")
    slider = page.get_by_role(
        "slider", name="Overlay split: photo on the left, look-alike on the right"
    )
    assert page.locator("section.compare").is_visible()
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    assert slider.input_value() == "60"
    assert stage.evaluate("s => s.style.getPropertyValue('--split')") == "60%"
    assert slider.get_attribute("aria-valuetext") == "60% photo, 40% look-alike"
    clip = page.locator(".compare-lookalike").evaluate("i => getComputedStyle(i).clipPath")
    assert "60%" in clip
    page.keyboard.press("Home")
    assert slider.input_value() == "0"
    page.keyboard.press("End")
    assert slider.input_value() == "100"
    page.keyboard.press("PageDown")
    assert slider.input_value() == "90"
    stage.scroll_into_view_if_needed()
    page.keyboard.press("Home")
    for _ in range(5):
        page.keyboard.press("PageUp")  # back to the middle for the screenshot
    slider.blur()
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "gallery-pair.png", full_page=True)

    assert watch.problems == []
    context.close()


def test_every_page_loads_clean_and_fits_a_phone(browser: Any, served_site: Any) -> None:
    url, site = served_site
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    watch = _Watch(page)
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    assert len(pages) >= 14
    for path in pages:
        page.goto(url + path)
        assert_images_decode(page)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
    assert watch.problems == []
    context.close()


def test_works_from_the_file_system_without_a_server(browser: Any, served_site: Any) -> None:
    """`make run` prints a local index.html: opened as a file, the pages still work."""
    _, site = served_site
    page = browser.new_page()
    watch = _Watch(page)
    page.goto((site / "index.html").as_uri())
    assert_images_decode(page)
    page.get_by_role("link", name="Coffee").first.click()
    page.wait_for_url(f"**/pairs/{DAY_SAMPLES}/01-coffee.html")
    assert page.locator("section.compare").is_visible()  # the script ran from file://
    assert_images_decode(page)
    assert watch.problems == []
    page.close()


def _visible_round(page: Any) -> Any:
    return page.locator("[data-round]:not([hidden])")


def _choice_index(page: Any, kind: str) -> int:
    """Where the script put the photo (or the look-alike) this time: 0 or 1."""
    return int(
        _visible_round(page)
        .locator("[data-choice]")
        .evaluate_all(f"bs => bs.findIndex(b => b.dataset.choice === '{kind}')")
    )


def _score(page: Any) -> tuple[str, ...]:
    return tuple(
        page.locator(f"[data-{name}]").inner_text() for name in ("score", "played", "streak")
    )


def test_which_is_human_picks_reveals_and_keeps_the_score(browser: Any, served_site: Any) -> None:
    url, _ = served_site
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    watch = _Watch(page)
    page.goto(url + "index.html")
    page.get_by_role("link", name="Which is human?").click()
    page.wait_for_url("**/game.html")

    ids = page.locator("[data-round]").evaluate_all("rs => rs.map(r => r.dataset.round)")
    assert ids[0].startswith(DAY_SAMPLES)  # newest day first
    assert not any(i.startswith(f"{DAY_SAMPLES}/02-") for i in ids)  # the flagged one is out
    assert _visible_round(page).count() == 1 and _score(page) == ("0", "0", "0")
    first = _visible_round(page).get_attribute("data-round")
    assert_images_decode(page)

    # Keyboard: "1" picks the first picture, "2" the second.
    page.keyboard.press(str(_choice_index(page, "photo") + 1))
    answer = _visible_round(page).locator("[data-answer]")
    assert answer.is_visible()
    assert answer.locator("[data-verdict]").inner_text() == "Right: that is the photo."
    assert (
        answer.get_by_role("link", name="The pair, compared")
        .get_attribute("href")
        .startswith("pairs/")
    )
    assert "what it shows" in answer.inner_text().lower()
    assert _score(page) == ("1", "1", "1")
    if _choice_index(page, "photo") == 0:  # the order is random; keep the screenshot stable
        save_screenshot(page, "gallery-game.png")

    page.reload()  # the score and the rounds played survive
    assert _score(page) == ("1", "1", "1")
    second = _visible_round(page).get_attribute("data-round")
    assert second != first
    _visible_round(page).locator("[data-choice]").nth(_choice_index(page, "lookalike")).click()
    assert _visible_round(page).locator("[data-verdict]").inner_text().startswith("No")
    assert _score(page) == ("1", "2", "0") and page.locator("[data-best]").inner_text() == "1"
    page.keyboard.press("n")
    assert _visible_round(page).get_attribute("data-round") not in {first, second}
    assert watch.problems == []
    context.close()


def test_findings_page_and_the_judge_in_the_game(browser: Any, served_site: Any) -> None:
    """findings.html from the nav; after a pair, the judge's verdict; then "photo or
    machine?" from file:// (no server): one picture, a confidence, a Brier score at the end."""
    url, site = served_site
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    watch = _Watch(page)
    page.goto(url + "index.html")
    page.get_by_role("link", name="Findings").click()
    page.wait_for_url("**/findings.html")
    headline = page.locator("[data-findings]")
    assert "95 % interval" in headline.inner_text() and "n = " in headline.inner_text()
    # docs/screenshots/findings.png comes from a real `make run`: these fixture days carry
    # hostile names on purpose, which the README should not show.

    page.goto((site / "game.html").as_uri())
    page.keyboard.press(str(_choice_index(page, "photo") + 1))
    said = _visible_round(page).locator("[data-judge-said]").inner_text()
    assert said.startswith("The machine judge called the photo a photo (80 % sure)"), said

    page.get_by_role("button", name="Photo or machine?").click()
    rounds, judged = page.locator("[data-round]").count(), 0
    for played in range(1, rounds + 1):
        current = _visible_round(page)
        assert current.locator("[data-choice]:visible").count() == 1  # one picture at a time
        shown = current.locator("[data-choice]:visible").get_attribute("data-choice")
        current.locator("[data-confidence]").fill("90")
        assert current.locator("[data-confidence-out]").inner_text() == "90 %"
        if played == 1:
            assert_images_decode(page)
            if shown == "lookalike":  # drawn at random; keep the screenshot stable
                save_screenshot(page, "game-photo-or-machine.png")
        current.get_by_role("button", name="A photo").click()
        verdict = current.locator("[data-verdict]").inner_text()
        assert verdict.startswith("Right" if shown == "photo" else "No"), verdict
        said = current.locator("[data-judge-said]").inner_text()
        if current.get_attribute("data-judge-photo") is None:  # a pair the judge has not seen
            assert said == ""
        else:
            judged += 1
            assert said.startswith("The machine judge called it"), said
        assert page.locator("[data-single-played]").inner_text() == str(played)
        current.get_by_role("button", name="Next pair").click()
    final = page.locator("[data-single-done]")
    assert final.is_visible()
    brier = float(page.locator("[data-brier]").inner_text())
    assert judged and 0.0 <= brier <= 0.81 and "machine judge's" in final.inner_text()
    assert watch.problems == []
    context.close()


def test_an_injected_inline_script_is_blocked_and_the_page_still_works(
    browser: Any, served_site: Any
) -> None:
    """Suppose an escaping slip let markup through: the page's CSP still stops it running."""
    url, site = served_site
    [pair] = site.glob(f"pairs/{DAY_UNSPLASH}/01-*.html")
    injected = pair.with_name("injected.html")
    slip = (
        "<script>window.injected = 'inline script ran'</script>"
        '<button id="slip" onclick="window.injected = \'handler ran\'">slip</button>'
    )
    injected.write_text(pair.read_text().replace("<h1>", slip + "<h1>", 1))
    page = browser.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    try:
        page.goto(url + f"pairs/{DAY_UNSPLASH}/injected.html")
        page.locator("#slip").click()
        assert page.evaluate("window.injected === undefined")
        assert sum("Content Security Policy" in m for m in messages) >= 2, messages
        assert page.locator("section.compare").is_visible()  # the site's own script runs
        assert_images_decode(page)  # the hotlinked photo is allowed, from its own host
    finally:
        page.close()
        injected.unlink()


ROWS_BY_CARDS = {1: [1], 2: [2], 3: [3], 4: [2, 2], 5: [3, 2], 6: [3, 3]}


@pytest.mark.parametrize("width", [1280, 800])
def test_a_days_grid_leaves_no_card_alone_for_1_to_6_photos(
    browser: Any, served_site: Any, width: int
) -> None:
    """The stylesheet's grid--nN rules, on the day page's real cards (the builder gives the
    fixture day's 2 cards grid--n2)."""
    url, _ = served_site
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url + f"days/{DAY_SAMPLES}.html")
    assert page.locator(".grid.grid--n2 > .card").count() == 2
    for n, expected in ROWS_BY_CARDS.items():
        rows = page.evaluate(
            """n => {
              const grid = document.querySelector('.grid');
              const card = grid.querySelector('.card');
              grid.replaceChildren(...Array.from({length: n}, () => card.cloneNode(true)));
              grid.className = 'grid grid--n' + n;
              const tops = [...grid.children].map(c => Math.round(c.getBoundingClientRect().top));
              return [...new Set(tops)].map(t => tops.filter(x => x === t).length);
            }""",
            n,
        )
        assert rows == expected, (width, n, rows)
    page.close()


def test_a_round_with_several_machines_draws_one_and_names_it_from_file(
    browser: Any, tmp_path: Path, shared_cache: Path
) -> None:
    """DOPPEL_GENERATORS: a photo's round holds each machine's look-alike; the page shows the
    photo and one of them, drawn at random, and its answer names that machine. From file://,
    as `make run` opens the gallery; the pair page shows all of them side by side."""
    import json

    store = LocalObjectStore(tmp_path)
    write_gallery_days(store, unsplash_image_base="http://127.0.0.1:9/img", cache=shared_cache)
    made = json.loads(store.get(f"tables/generated_images/{DAY_SAMPLES}.json"))
    made["rows"] = [r for row in made["rows"] for r in (row, dict(row, generator="style-transfer"))]
    store.put(f"tables/generated_images/{DAY_SAMPLES}.json", json.dumps(made).encode())
    build_site(store, tables=DAY_TABLES)
    site = tmp_path / "site"

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    watch = _Watch(page)
    drawn: set[str] = set()
    for _ in range(12):  # each load draws again: both machines come up (1 in 2048 not)
        page.goto((site / "game.html").as_uri())
        page.evaluate("window.localStorage.clear()")
        page.reload()
        round_ = _visible_round(page)
        assert round_.get_attribute("data-round") == f"{DAY_SAMPLES}/01-coffee"
        assert round_.locator("[data-choice]").count() == 2  # the photo and one look-alike
        round_.locator("[data-choice]").nth(_choice_index(page, "photo")).click()
        answer = round_.locator("[data-answer]").inner_text()
        [machine] = [g for g in ("patch-remix", "style-transfer") if f"is by {g}" in answer]
        drawn.add(machine)
        if len(drawn) == 2:
            break
    assert drawn == {"patch-remix", "style-transfer"}

    page.goto((site / f"pairs/{DAY_SAMPLES}/01-coffee.html").as_uri())
    assert page.locator(".pair-duo--of-2 figure").count() == 3  # the photo and both
    assert_images_decode(page)
    assert [p for p in watch.problems if "127.0.0.1:9" not in p] == []
    page.close()

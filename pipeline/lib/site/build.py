"""Build the gallery: day tables in, static site out, only changed files written.

    build_site(data_store, tables=folders, out_store=..., prefix="site")

reads every day table in `tables` (the asset folders under `tables/`, named by the
caller), makes WebP copies of the images the site serves itself, renders an index, a page
per month, day and pair, a stats page and an about/credits page, and publishes them under
`prefix` (see `publish.SiteWriter` for what is skipped).

Cost grows with what changed, not with the size of the gallery: each day's tables are hashed
as read; a day whose digest matches the manifest's keeps its summary from there (counts,
chart sums, credits, image sources) and is not parsed, unless one of its pages must be
rendered again (a new neighbour, the front page's newest days).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.lib.core.storage import ObjectStore
from pipeline.lib.day.summaries import Markdown, Summary, escape
from pipeline.lib.day.tables import TableFolders
from pipeline.lib.site import game, syndication
from pipeline.lib.site.data import RawDay, read_days
from pipeline.lib.site.findings import (
    FINDINGS_PATH,
    findings_page,
    people,
    read_findings,
    verdict_key,
    verdicts,
)
from pipeline.lib.site.media import Media, MediaReport, MediaSource, ensure_media
from pipeline.lib.site.pages.days import INDEX_DAYS, day_page, index_page, month_page
from pipeline.lib.site.pages.pair import pair_page
from pipeline.lib.site.pages.shared import Pair, day_path, month_path, pairs_of_day
from pipeline.lib.site.pages.stats import about_page, day_info, months_summary, stats_page, totals
from pipeline.lib.site.publish import PublishCounts, SiteWriter
from pipeline.lib.site.render import DEFAULT_IMAGE_ORIGINS, Rendered, Renderer

log = logging.getLogger(__name__)

INDEX = "index.html"
NOT_FOUND = "404.html"  # what S3 website hosting, GitHub Pages and nginx serve for a miss


@dataclass
class SiteBuild:
    index_uri: str
    local_index: Path | None
    days: int
    pairs: int
    files: PublishCounts
    media: MediaReport
    seconds: float
    days_parsed: int = 0
    problems: list[str] = field(default_factory=list)

    def report(self) -> Summary:
        """What `gallery_site` reports (see `pipeline.lib.day.summaries`); the caller adds
        the index's address."""
        summary: Summary = {
            "days": self.days,
            "pairs": self.pairs,
            "files_written": self.files.written,
            "files_unchanged": self.files.unchanged,
            "pages_skipped": self.files.skipped,
            "files_deleted": self.files.deleted,
            "images_made": self.media.made,
            "images_reused": self.media.reused,
            "build_seconds": self.seconds,
        }
        if self.problems:
            summary["problems"] = Markdown("\n".join(f"- {escape(p)}" for p in self.problems[:50]))
        return summary

    def summary(self) -> str:
        f = self.files
        return (
            f"gallery: {self.days} days, {self.pairs} pairs; {f.written} files written, "
            f"{f.unchanged} unchanged, {f.skipped} skipped, {f.deleted} deleted; "
            f"{self.media.made} images made, {self.media.reused} reused; "
            f"{self.days_parsed} days parsed ({self.seconds:.1f} s)"
        )


class _Day:
    """One day: its raw tables, its summary, and its pairs parsed only when needed."""

    def __init__(self, raw: RawDay, cached: dict[str, Any] | None):
        self.raw = raw
        self.day = raw.day
        self.digest = raw.digest
        self._parsed: tuple[list[Pair], list[dict[str, Any]], list[str]] | None = None
        if cached is not None and cached.get("digest") == self.digest:
            self.info: dict[str, Any] = cached["info"]
        else:
            self.info = day_info(*self.parsed())

    def parsed(self) -> tuple[list[Pair], list[dict[str, Any]], list[str]]:
        if self._parsed is None:
            self._parsed = parse_day(self.raw)
        return self._parsed

    @property
    def pairs(self) -> list[Pair]:
        return self.parsed()[0]

    @property
    def was_parsed(self) -> bool:
        return self._parsed is not None

    def sources(self) -> list[MediaSource | None]:
        return [MediaSource(s[0], s[1]) if s else None for s in self.info["sources"]]


def build_site(
    data_store: ObjectStore,
    *,
    tables: TableFolders,
    out_store: ObjectStore | None = None,
    prefix: str = "site",
    force: bool = False,
    source_dir: Path | None = None,
    workers: int = 2,
    render_workers: int | None = None,
    image_origins: tuple[str, ...] = DEFAULT_IMAGE_ORIGINS,
    site_url: str | None = None,
    findings_key: str | None = None,
    votes_url: str | None = None,
) -> SiteBuild:
    """Build and publish the gallery; `out_store` defaults to the data store itself.

    `workers` threads make image copies; `render_workers` processes render pages when there
    are many (default: one per CPU). `image_origins`: where hotlinked photos come from
    besides the site itself (the pages' Content-Security-Policy allows only these).
    `site_url`: the site's public address, for absolute share links and the sitemap.
    `findings_key`: where the findings table is in `data_store` (findings.html, the judge's
    verdicts on the pair pages and in the game); without it the page says there are none.
    `votes_url`: where the game posts each answer (a path on the site's host); None: nowhere.
    """
    started = time.perf_counter()
    out = out_store if out_store is not None else data_store
    renderer = Renderer(
        source_dir, image_origins=image_origins, site_url=site_url, votes_url=votes_url
    )
    writer = SiteWriter(out, prefix, builder=renderer.version, force=force)

    days = [_Day(raw, writer.old_days.get(raw.day)) for raw in read_days(data_store, tables)]
    # The judge's verdicts are part of a day's pages: retrained each build, a day's pages are
    # rendered again when a verdict on them changes (to the shown whole percent).
    found = read_findings(data_store, findings_key)
    judged = verdicts(found)
    peopled = people(found)
    problems = [p for d in days for p in d.info["problems"]]
    days = [d for d in days if d.info["shown"]]
    for d in days:
        writer.days[d.day] = {"digest": d.digest, "info": d.info}

    renderer.publish_static(writer)
    sources = [s for d in days for s in d.sources() if s is not None]
    media, media_report = ensure_media(sources, data_store, writer, workers=workers)
    problems += list(media_report.failed.values())

    # A day's pages depend only on its tables, which of its images have copies (their names
    # and sizes follow from the images' content) and, for the day page, its neighbours.
    day_keys = {
        d.day: _digest(
            [
                d.digest,
                [s is not None and s.id in media for s in d.sources()],
                judged.get(d.day),
                peopled.get(d.day),
            ]
        )
        for d in days
    }
    jobs: list[DayJob] = []
    names = [d.day for d in days]
    for i, d in enumerate(days):
        key = day_keys[d.day]
        pair_jobs = []
        for slug in d.info["slugs"]:
            digest = writer.needs(f"pairs/{d.day}/{slug}.html", ["pair.html.j2", [key, slug]])
            if digest is not None:
                pair_jobs.append((slug, digest))
        prev_day = names[i - 1] if i > 0 else None
        next_day = names[i + 1] if i + 1 < len(names) else None
        digest = writer.needs(day_path(d.day), ["day.html.j2", [key, prev_day, next_day]])
        day_job = (digest, prev_day, next_day) if digest is not None else None
        if pair_jobs or day_job:
            copies = {s.id: media[s.id].as_record() for s in d.sources() if s and s.id in media}
            jobs.append(
                DayJob(
                    d.raw, copies, pair_jobs, day_job, judged.get(d.day, {}), peopled.get(d.day, {})
                )
            )
    for path, digest, html in renderer.run(
        jobs, render_day, workers=render_workers, size=lambda job: len(job.pairs) + 1
    ):
        writer.put_page(path, html, digest)

    def page(path: str, template: str, inputs: Any, model: Callable[[], dict[str, Any]]) -> None:
        """A page whose model is built (and rendered) only if `inputs` changed."""
        writer.page(path, [template, inputs], lambda: renderer.render(template, model()))

    months: dict[str, list[_Day]] = {}
    for d in days:
        months.setdefault(d.day[:7], []).append(d)
    month_names = sorted(months)
    for i, month in enumerate(month_names):
        prev_month = month_names[i - 1] if i > 0 else None
        next_month = month_names[i + 1] if i + 1 < len(month_names) else None
        inputs = [[day_keys[d.day] for d in months[month]], prev_month, next_month]
        page(month_path(month), "month.html.j2", inputs,
             _month_model(month, months[month], media, prev_month, next_month))  # fmt: skip

    infos = [(d.day, d.info) for d in days]
    summary = totals([info for _, info in infos])
    newest = [(d.day, d.pairs) for d in reversed(days[-INDEX_DAYS:])]
    # Cheap to build, so their models are their own inputs.
    for path, template, model in (
        ("stats.html", "stats.html.j2", stats_page(infos, summary)),
        ("about.html", "about.html.j2", about_page([i for _, i in infos], summary)),
        (INDEX, "index.html.j2",
         index_page(newest, months_summary(infos), media, summary)),
        (game.GAME_PATH, "game.html.j2", game.game_page(newest, media, judged)),
        (FINDINGS_PATH, "findings.html.j2", findings_page(found, _linked(found, days))),
        # Served for a miss at any depth, so its links are absolute when they can be.
        (NOT_FOUND, "404.html.j2", {"root": renderer.site_url or ""}),
    ):  # fmt: skip
        writer.page(path, [template, model], partial(renderer.render, template, model))
    feed = syndication.feed_xml(newest, media, renderer.site_url)
    writer.page(syndication.FEED_PATH, feed, lambda: feed)
    if renderer.site_url:
        listed = [(d.day, list(d.info["slugs"])) for d in days]
        sitemap = syndication.sitemap_xml(listed, renderer.site_url)
        writer.page(syndication.SITEMAP_PATH, sitemap, lambda: sitemap)

    files = writer.finish()
    local = getattr(out, "path", None)
    result = SiteBuild(
        index_uri=writer.uri(INDEX),
        local_index=local(writer.key(INDEX)) if callable(local) else None,
        days=len(days),
        pairs=sum(len(d.info["slugs"]) for d in days),
        files=files,
        media=media_report,
        seconds=round(time.perf_counter() - started, 3),
        days_parsed=sum(1 for d in days if d.was_parsed),
        problems=problems,
    )
    log.info(result.summary())
    return result


@dataclass(frozen=True)
class DayJob:
    """A day's pages to render, with all they need: sent as is to a worker process."""

    raw: RawDay
    copies: dict[str, Any]  # media id → `Media.as_record()`
    pairs: list[tuple[str, str]]  # (slug, input digest) of the pair pages to render
    day_page: tuple[str, str | None, str | None] | None  # (input digest, prev day, next day)
    verdicts: dict[str, Any] = field(default_factory=dict)  # verdict_key → the judge's word
    people: dict[str, str] = field(default_factory=dict)  # verdict_key → what people picked


def parse_day(raw: RawDay) -> tuple[list[Pair], list[dict[str, Any]], list[str]]:
    """A day's pairs, its photos that could not be stored, and what is wrong with its tables."""
    tables = raw.tables()
    problems = list(tables.problems)
    if tables.look_alikes and not tables.photos:
        problems.append(f"{raw.day}: look-alikes without a photos table; not shown")
        return [], [], problems
    pairs, skipped = pairs_of_day(tables)
    return pairs, skipped, problems


def render_day(renderer: Renderer, job: DayJob) -> list[Rendered]:
    """Build and render a day's pair pages and day page (in a worker process, or here)."""
    pairs, skipped, _ = parse_day(job.raw)
    media = {k: m for k, v in job.copies.items() if (m := Media.from_record(v)) is not None}
    index = {pair.slug: i for i, pair in enumerate(pairs)}
    out: list[Rendered] = []
    for slug, digest in job.pairs:
        i = index[slug]
        prev = pairs[i - 1] if i > 0 else None
        next_ = pairs[i + 1] if i + 1 < len(pairs) else None
        model = pair_page(pairs[i], media, prev, next_)
        model["judge"] = job.verdicts.get(_pair_key(pairs[i]))
        model["people"] = job.people.get(_pair_key(pairs[i]))
        out.append((pairs[i].path, digest, renderer.render("pair.html.j2", model)))
    if job.day_page is not None:
        digest, prev_day, next_day = job.day_page
        model = day_page(job.raw.day, pairs, skipped, media, prev_day, next_day)
        out.append((day_path(job.raw.day), digest, renderer.render("day.html.j2", model)))
    return out


def _month_model(
    month: str, days: list[_Day], media: dict[str, Media], prev: str | None, next_: str | None
) -> Callable[[], dict[str, Any]]:
    return lambda: month_page(month, [(d.day, d.pairs) for d in days], media, prev, next_)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()


def _pair_key(pair: Pair) -> str:
    return verdict_key(pair.photo.get("id"), (pair.look_alike or {}).get("generator"))


def _linked(found: Any, days: list[_Day]) -> dict[str, dict[str, Any]]:
    """The pages of the pairs findings.html names (most and least convincing): only their
    days are parsed."""
    if found is None or found.empty:
        return {}
    from pipeline.lib.findings.summary import convincing
    from pipeline.lib.site.findings import CONVINCING

    named = {str(day) for part in convincing(found, CONVINCING) for day in part["day"]}
    out: dict[str, dict[str, Any]] = {}
    for d in days:
        if d.day in named:
            for pair in d.pairs:
                out[_pair_key(pair)] = {"href": pair.path, "title": pair.title}
    return out

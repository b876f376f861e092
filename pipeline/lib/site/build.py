"""Build the gallery: day tables in, static site out, only changed files written.

    build_site(data_store, tables=folders, out_store=..., prefix="site")

reads every day table in `tables` (the asset folders under `tables/`, named by the
caller), makes WebP copies of the images the site serves itself, renders an index, a page
per month, day and pair, a stats page and an about/credits page, and publishes them under
`prefix` (see `publish.SiteWriter` for what is skipped).

Cost grows with what changed, not with the size of the gallery. The store's listing gives
each day's tables a version (`data.day_versions`), so no table is read to learn that it did
not change. The manifest is kept by month (`publish`): a build loads the months that hold a
changed day, a neighbour of one (its day page links it) or one of the newest days (the front
page, game and feed show them), and leaves every other month's pages, copies and summaries
as they are. In a loaded month, a day whose version matches the manifest's keeps its summary
from there (counts, chart sums, credits, image sources) and is not read, unless one of its
pages must be rendered again. The pages made from every day (front page, stats, about) read
the months' summaries, which the main manifest keeps; a history longer than the charts' day
and week grains (~14 months) is charted by month from them alone.

Profile (bench/site_build.py): the cost that grew with history was reading and hashing every
table, and parsing and writing one manifest of every page, image and day.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.lib.core.storage import ObjectStore
from pipeline.lib.day.summaries import Markdown, Summary, escape
from pipeline.lib.day.tables import TableFolders
from pipeline.lib.site import syndication
from pipeline.lib.site.charts import choose_grain
from pipeline.lib.site.data import RawDay, day_versions, read_day
from pipeline.lib.site.findings import (
    FINDINGS_PATH,
    findings_page,
    people,
    read_findings,
    verdict_key,
    verdicts,
)
from pipeline.lib.site.media import (
    Made,
    Media,
    MediaCopies,
    MediaReport,
    MediaSource,
    ToMake,
    make_copies,
)
from pipeline.lib.site.pages import game_page
from pipeline.lib.site.pages.days import INDEX_DAYS, day_page, index_page, month_page
from pipeline.lib.site.pages.pair import pair_page
from pipeline.lib.site.pages.shared import Pair, day_path, month_path, pairs_of_day
from pipeline.lib.site.pages.stats import (
    about_page,
    credits,
    day_info,
    month_summary,
    months_summary,
    stats_page,
    totals,
)
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
    """One day: its summary, and its tables read and parsed only when needed."""

    def __init__(
        self,
        day: str,
        version: str,
        cached: dict[str, Any] | None,
        read: _Reader,
        raw: RawDay | None = None,
    ):
        self.day = day
        self.version = version
        self._read = read
        self._raw = raw
        self.parses = 0
        if cached is not None and cached.get("version") == version:
            self.digest: str = cached["digest"]
            self.info: dict[str, Any] = cached["info"]
        else:
            self.digest = self.raw.digest
            self.info = day_info(*self.parsed())

    @property
    def raw(self) -> RawDay:
        if self._raw is None:
            self._raw = self._read(self.day)
        return self._raw

    def parsed(self) -> tuple[list[Pair], list[dict[str, Any]], list[str]]:
        """Parsed again at each call, never kept: a full build of 100,000 pairs kept them all
        (as dicts, ~15 KB a pair) and peaked at 2.4 GB; parsing a day takes ~0.5 ms."""
        self.parses += 1
        return parse_day(self.raw)

    @property
    def pairs(self) -> list[Pair]:
        return self.parsed()[0]

    @property
    def was_parsed(self) -> bool:
        return self.parses > 0

    def sources(self) -> list[MediaSource | None]:
        return [MediaSource(s[0], s[1]) if s else None for s in self.info["sources"]]

    def entry(self) -> dict[str, Any]:
        return {"version": self.version, "digest": self.digest, "info": self.info}


_Reader = Callable[[str], RawDay]


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

    `workers` threads read the sources of image copies; `render_workers` processes make the
    copies and render pages when there are many (default: one per CPU).
    `image_origins`: where hotlinked photos come from besides the site itself (the pages'
    Content-Security-Policy allows only these).
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
    build = _Build(data_store, tables, writer, renderer, read_findings(data_store, findings_key))
    build.load_days()
    renderer.publish_static(writer)
    copies = MediaCopies(data_store, writer, workers=workers)
    try:
        build.render_days(copies, render_workers)
    finally:
        copies.close()
    media, media_report = copies.found, copies.report
    build.month_pages(media)
    build.site_pages(media)
    files = build.finish()
    local = getattr(out, "path", None)
    result = SiteBuild(
        index_uri=writer.uri(INDEX),
        local_index=local(writer.key(INDEX)) if callable(local) else None,
        days=len(build.shown),
        pairs=sum(s["pairs"] for s in build.summaries.values()),
        files=files,
        media=media_report,
        seconds=round(time.perf_counter() - started, 3),
        days_parsed=sum(1 for d in build.loaded.values() if d.was_parsed),
        problems=build.problems + list(media_report.failed.values()),
    )
    log.info(result.summary())
    return result


class _Build:
    """One build's steps, in the order `build_site` runs them, and what they share."""

    def __init__(
        self,
        data_store: ObjectStore,
        tables: TableFolders,
        writer: SiteWriter,
        renderer: Renderer,
        found: Any,
    ):
        self.writer, self.renderer, self.found = writer, renderer, found
        self.versions = day_versions(data_store, tables)
        self.read = partial(read_day, data_store, tables)
        self.data_store = data_store
        # The judge's verdicts are part of a day's pages: retrained each build, a day's pages
        # are rendered again when a verdict on them changes (to the shown whole percent), so
        # a day whose verdicts changed counts as changed. People's rate on a pair (the votes,
        # through the findings) is part of its page too.
        self.judged, self.peopled = verdicts(found), people(found)
        unjudged = _digest([None, None])[:16]  # no verdicts nor votes: hashed once, not per day
        self.judged_digest = {
            d: _digest([self.judged.get(d), self.peopled.get(d)])[:16]
            if d in self.judged or d in self.peopled
            else unjudged
            for d in self.versions
        }
        old = writer.old_day_versions
        self.changed = {
            d
            for d in set(self.versions) | set(old)
            if _state(old.get(d)) != _state([self.versions.get(d), None, self.judged_digest.get(d)])
        }
        self.loaded: dict[str, _Day] = {}
        self.shown: list[str] = []
        self.days: list[_Day] = []
        self.days_by_month: dict[str, list[_Day]] = {}
        self.summaries: dict[str, Any] = {}
        self.problems: list[str] = []
        self.day_keys: dict[str, str] = {}

    def load_months(self, months: set[str]) -> None:
        """Load the manifest's parts and the days of `months` (those not loaded yet)."""
        writer = self.writer
        months -= writer.loaded
        for month in sorted(months):
            writer.load_month(month)
        todo = sorted(d for d in self.versions if d[:7] in months)
        # On S3 each read is a GET: the changed days' tables are fetched in parallel.
        reads = [
            d for d in todo if (writer.old_days.get(d) or {}).get("version") != self.versions[d]
        ]
        with ThreadPoolExecutor(max_workers=8) as pool:
            fetched = dict(zip(reads, pool.map(self.read, reads), strict=True))
        for d in todo:
            self.loaded[d] = _Day(
                d, self.versions[d], writer.old_days.get(d), self.read, fetched.get(d)
            )

    def load_days(self) -> None:
        """Load what this build must render (every month, in a first build), then say which
        days are shown and sum each loaded month's days."""
        writer, old = self.writer, self.writer.old_day_versions
        every_month = {d[:7] for d in self.versions} | writer.known_months
        self.load_months(every_month if not old else {d[:7] for d in self.changed})
        # Now every changed day is loaded, so which days are shown is known for all of them.
        self.shown = sorted(
            d
            for d in self.versions
            if (self.loaded[d].info["shown"] if d in self.loaded else bool(old[d][1]))
        )
        if choose_grain(self.shown) != "month":
            self.load_months(every_month)
        else:  # ...and the days findings.html links (its most and least convincing pairs)
            named = {d[:7] for d in _named(self.found)}
            self.load_months(_neighbours(self.shown, self.changed, old) | named)
        self.days = [self.loaded[d] for d in self.shown if d in self.loaded]
        self.problems = [p for d in self.loaded.values() for p in d.info["problems"]]
        for d in self.loaded.values():
            writer.days[d.day] = d.entry()
        for d in self.days:
            self.days_by_month.setdefault(d.day[:7], []).append(d)
        summaries = {m: s for m, s in writer.old_months.items() if m not in writer.loaded}
        for s in summaries.values():
            self.problems += s.get("problems", [])
        summaries |= {
            m: month_summary([d.info for d in ds]) for m, ds in self.days_by_month.items()
        }
        self.summaries = dict(sorted(summaries.items()))

    def render_days(self, copies: MediaCopies, render_workers: int | None) -> None:
        """The pair and day pages whose inputs changed, rendered by day (in worker processes
        when there are many), with the image copies the day is first to show: so the main
        process only plans and publishes, and the copies' decoding and encoding, most of a
        full build's CPU, runs on every core."""
        writer = self.writer
        for done in self.renderer.run(
            self._day_jobs(copies), render_day, workers=render_workers, size=_job_size
        ):
            copies.record(done.made, done.failed)
            for path, digest, html in done.pages:
                writer.put_page(path, html, digest)
            if done.failed:
                # Its pages were planned with every copy there: whatever those that were not
                # rendered now show, they and its month's page are rendered again next build.
                writer.forget_inputs(self._day_paths(self.loaded[done.day]))

    def _day_paths(self, d: _Day) -> list[str]:
        """The pages whose inputs are the day's key: its pair pages, its day and its month."""
        pairs = [f"pairs/{d.day}/{slug}.html" for slug in d.info["slugs"]]
        return [*pairs, day_path(d.day), month_path(d.day[:7])]

    def _day_jobs(self, copies: MediaCopies) -> Iterator[DayJob]:
        writer, shown = self.writer, self.shown
        position = {name: i for i, name in enumerate(shown)}
        for d in self.days:
            sources = d.sources()
            media, make = copies.plan(s for s in sources if s is not None)
            # A day's pages depend only on its tables, which of its images have copies (their
            # names and sizes follow from the images' content), the judge's and people's word
            # on it and, for the day page, its neighbours. A copy still to make counts as
            # there: if it cannot be made, the day's pages are rendered again next build.
            copied = set(media) | {source_id for source_id, _, _ in make}
            key = self.day_keys[d.day] = _digest(
                [
                    d.digest,
                    [s is not None and s.id in copied for s in sources],
                    self.judged.get(d.day),
                    self.peopled.get(d.day),
                ]
            )
            i = position[d.day]
            pair_jobs = []
            for slug in d.info["slugs"]:
                digest = writer.needs(f"pairs/{d.day}/{slug}.html", ["pair.html.j2", [key, slug]])
                if digest is not None:
                    pair_jobs.append((slug, digest))
            prev_day = shown[i - 1] if i > 0 else None
            next_day = shown[i + 1] if i + 1 < len(shown) else None
            digest = writer.needs(day_path(d.day), ["day.html.j2", [key, prev_day, next_day]])
            day_job = (digest, prev_day, next_day) if digest is not None else None
            if pair_jobs or day_job or make:
                copies_of_day = {source_id: m.as_record() for source_id, m in media.items()}
                judged, peopled = self.judged.get(d.day, {}), self.peopled.get(d.day, {})
                yield DayJob(d.raw, copies_of_day, pair_jobs, day_job, judged, peopled, make)

    def page(self, path: str, template: str, inputs: Any, model: Callable[[], Any]) -> None:
        """A page whose model is built (and rendered) only if `inputs` changed."""
        render = self.renderer.render
        self.writer.page(path, [template, inputs], lambda: render(template, model()))

    def month_pages(self, media: dict[str, Media]) -> None:
        month_names = list(self.summaries)
        for i, month in enumerate(month_names):
            if month not in self.days_by_month:
                continue
            days = self.days_by_month[month]
            prev_month = month_names[i - 1] if i > 0 else None
            next_month = month_names[i + 1] if i + 1 < len(month_names) else None
            inputs = [[self.day_keys[d.day] for d in days], prev_month, next_month]
            model = _month_model(month, days, media, prev_month, next_month)
            self.page(month_path(month), "month.html.j2", inputs, model)

    def site_pages(self, media: dict[str, Media]) -> None:
        """The pages made from every day's summary or the newest days: cheap to build, so
        their models are their own inputs; and the feed and sitemaps."""
        writer, renderer, days, shown = self.writer, self.renderer, self.days, self.shown
        summary = totals(list(self.summaries.values()))
        newest = [(d.day, self.loaded[d.day].pairs) for d in reversed(days[-INDEX_DAYS:])]
        if choose_grain(shown) == "month":
            charted = [(f"{m}-01", s) for m, s in self.summaries.items()]
            stats = stats_page(charted, summary, "month")
        else:
            stats = stats_page([(d.day, d.info) for d in days], summary)
        months = months_summary(self.summaries)
        found = self.found
        for path, template, model in (
            ("stats.html", "stats.html.j2", stats),
            ("about.html", "about.html.j2", about_page(months, summary)),
            (INDEX, "index.html.j2", index_page(newest, months, media, summary)),
            (game_page.GAME_PATH, "game.html.j2", game_page.game_page(newest, media, self.judged)),
            (FINDINGS_PATH, "findings.html.j2", findings_page(found, _linked(found, days))),
            # Served for a miss at any depth, so its links are absolute when they can be.
            (NOT_FOUND, "404.html.j2", {"root": renderer.site_url or ""}),
        ):
            writer.page(path, [template, model], partial(renderer.render, template, model))
        feed = syndication.feed_xml(newest, media, renderer.site_url)
        writer.page(syndication.FEED_PATH, feed, lambda: feed)
        if renderer.site_url:
            _sitemaps(writer, renderer.site_url, shown, self.days_by_month, list(self.summaries))

    def finish(self) -> PublishCounts:
        position = set(self.shown)
        day_state = {
            d: [self.versions[d], d in position, self.judged_digest[d]] for d in self.versions
        }
        month_sources = {
            m: {s.id for d in ds for s in d.sources() if s is not None}
            for m, ds in self.days_by_month.items()
        }
        return self.writer.finish(day_state, self.summaries, month_sources)


def _sitemaps(
    writer: SiteWriter,
    site_url: str,
    shown: list[str],
    days: dict[str, list[_Day]],
    months: list[str],
) -> None:
    """The sitemap: its index, the site's pages, and the loaded months' pair pages."""
    parts = {
        syndication.SITEMAP_PATH: syndication.sitemap_index_xml(
            syndication.sitemap_paths(months), site_url
        )
    }
    parts[syndication.PAGES_SITEMAP] = syndication.pages_sitemap_xml(
        shown, site_url, (FINDINGS_PATH,)
    )
    for month, month_days in days.items():
        listed = [(d.day, list(d.info["slugs"])) for d in month_days]
        parts[syndication.month_sitemap_path(month)] = syndication.month_sitemap_xml(
            listed, site_url
        )
    for path, xml in parts.items():
        writer.page(path, xml, partial(str, xml))


def _state(entry: list[Any] | None) -> tuple[Any, Any]:
    """A day's manifest entry ([table version, shown, verdicts' digest]) as what, changed,
    makes its pages change: its tables and the judge's verdicts on it."""
    entry = entry or []
    return (entry[0] if entry else None, entry[2] if len(entry) > 2 else None)


def _neighbours(shown: list[str], changed: set[str], old: dict[str, list[Any]]) -> set[str]:
    """The months to load besides the changed days': the newest days' (the front page, game
    and feed show them), each changed day's neighbours before and after the change (their
    day pages link it), and, for a month that appears or goes, the months beside it."""
    months = {d[:7] for d in shown[-INDEX_DAYS:]}
    before = sorted(d for d, entry in old.items() if entry[1])
    for listing in (shown, before):
        for d in changed:
            i = bisect.bisect_left(listing, d)
            for j in (i - 1, i + 1 if i < len(listing) and listing[i] == d else i):
                if 0 <= j < len(listing):
                    months.add(listing[j][:7])
    now, then = sorted({d[:7] for d in shown}), sorted({d[:7] for d in before})
    for listing, others in ((now, set(then)), (then, set(now))):
        for i, month in enumerate(listing):
            if month not in others:
                months.update(listing[max(0, i - 1) : i + 2])
    return months


@dataclass(frozen=True)
class DayJob:
    """A day's pages to render, with all they need: sent as is to a worker process."""

    raw: RawDay
    copies: dict[str, Any]  # media id → `Media.as_record()`
    pairs: list[tuple[str, str]]  # (slug, input digest) of the pair pages to render
    day_page: tuple[str, str | None, str | None] | None  # (input digest, prev day, next day)
    verdicts: dict[str, Any] = field(default_factory=dict)  # verdict_key → the judge's word
    people: dict[str, str] = field(default_factory=dict)  # verdict_key → what people picked
    make: list[ToMake] = field(default_factory=list)  # the image copies to make first


@dataclass(frozen=True)
class DayDone:
    """What a worker sends back for a day: its pages, and the copies made or not made."""

    day: str
    pages: list[Rendered]
    made: dict[str, Made]
    failed: dict[str, str]  # media id → why there is no copy (one line)


def _job_size(job: DayJob) -> int:
    """A job's weight in a worker batch: its pages, and its sources' bytes (about one page a
    200 KB), so that the batches in flight hold a bounded amount of image data."""
    return len(job.pairs) + 1 + sum(len(data) for _, _, data in job.make) // 200_000


def parse_day(raw: RawDay) -> tuple[list[Pair], list[dict[str, Any]], list[str]]:
    """A day's pairs, its photos that could not be stored, and what is wrong with its tables."""
    tables = raw.tables()
    problems = list(tables.problems)
    if tables.look_alikes and not tables.photos:
        problems.append(f"{raw.day}: look-alikes without a photos table; not shown")
        return [], [], problems
    pairs, skipped = pairs_of_day(tables)
    return pairs, skipped, problems


def render_day(renderer: Renderer, job: DayJob) -> DayDone:
    """Make a day's new image copies, then build and render its pair pages and day page (in a
    worker process, or here). A page that shows an image whose copy could not be made is
    published without its input digest, so that the next build renders it again."""
    made, failed = make_copies(job.make)
    copies = job.copies | {source_id: record for source_id, (record, _) in made.items()}
    pairs, skipped, _ = parse_day(job.raw)
    media = {k: m for k, v in copies.items() if (m := Media.from_record(v)) is not None}
    index = {pair.slug: i for i, pair in enumerate(pairs)}
    out: list[Rendered] = []
    for slug, digest in job.pairs:
        i = index[slug]
        prev = pairs[i - 1] if i > 0 else None
        next_ = pairs[i + 1] if i + 1 < len(pairs) else None
        model = pair_page(pairs[i], media, prev, next_)
        model["judge"] = job.verdicts.get(_pair_key(pairs[i]))
        # Several machines: each look-alike side by side carries the judge's word on it.
        variants = pairs[i].variants() if model["lookalikes"] else []
        for machine, variant in zip(model["lookalikes"], variants, strict=True):
            machine["judge"] = job.verdicts.get(_pair_key(variant))
        # What people said of each machine's look-alike (votes are per photo and generator).
        shown = variants if len(variants) > 1 else [pairs[i]]
        said = [
            (f"{(v.look_alike or {}).get('generator')}: " if len(shown) > 1 else "") + line
            for v in shown
            if (line := job.people.get(_pair_key(v)))
        ]
        model["people"] = " ".join(said) or None
        out.append(
            (pairs[i].path, digest if not failed else "", renderer.render("pair.html.j2", model))
        )
    if job.day_page is not None:
        digest, prev_day, next_day = job.day_page
        model = day_page(job.raw.day, pairs, skipped, media, prev_day, next_day)
        html = renderer.render("day.html.j2", model)
        out.append((day_path(job.raw.day), digest if not failed else "", html))
    return DayDone(job.raw.day, out, made, failed)


def _month_model(
    month: str, days: list[_Day], media: dict[str, Media], prev: str | None, next_: str | None
) -> Callable[[], dict[str, Any]]:
    return lambda: month_page(
        month, [(d.day, d.pairs) for d in days], media, prev, next_, credits([d.info for d in days])
    )


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()


def _pair_key(pair: Pair) -> str:
    return verdict_key(pair.photo.get("id"), (pair.look_alike or {}).get("generator"))


def _named(found: Any) -> set[str]:
    """The days of the pairs findings.html names (most and least convincing)."""
    if found is None or found.empty:
        return set()
    from pipeline.lib.findings.summary import convincing
    from pipeline.lib.site.findings import CONVINCING

    return {str(day) for part in convincing(found, CONVINCING) for day in part["day"]}


def _linked(found: Any, days: list[_Day]) -> dict[str, dict[str, Any]]:
    """The pages of the pairs findings.html names: only their days are parsed."""
    named = _named(found)
    out: dict[str, dict[str, Any]] = {}
    for d in days:
        if d.day in named:
            for pair in d.pairs:
                out[_pair_key(pair)] = {"href": pair.path, "title": pair.title}
    return out

"""Build the gallery: day tables in, static site out, only changed files written.

    build_site(data_store, out_store=..., prefix="site")

reads every day table under `tables/`, makes WebP copies of the images the site serves
itself, renders an index, a page per month, day and pair, a stats page and an about/credits
page, and publishes them under `prefix` (see `publish.SiteWriter` for what is skipped).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.lib.site import pages
from pipeline.lib.site.data import TABLES_PREFIX, load_days
from pipeline.lib.site.media import MediaReport, MediaSource, ensure_media
from pipeline.lib.site.publish import PublishCounts, SiteWriter
from pipeline.lib.site.render import SITE_SOURCE_DIR, Renderer
from pipeline.lib.storage import ObjectStore

log = logging.getLogger(__name__)

INDEX = "index.html"


@dataclass
class SiteBuild:
    index_uri: str
    local_index: Path | None
    days: int
    pairs: int
    files: PublishCounts
    media: MediaReport
    seconds: float
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        f = self.files
        return (
            f"gallery: {self.days} days, {self.pairs} pairs; {f.written} files written, "
            f"{f.unchanged} unchanged, {f.skipped} skipped, {f.deleted} deleted; "
            f"{self.media.made} images made, {self.media.reused} reused "
            f"({self.seconds:.1f} s)"
        )


def build_site(
    data_store: ObjectStore,
    *,
    out_store: ObjectStore | None = None,
    prefix: str = "site",
    tables_prefix: str = TABLES_PREFIX,
    force: bool = False,
    source_dir: Path = SITE_SOURCE_DIR,
    workers: int = 2,
) -> SiteBuild:
    """Build and publish the gallery; `out_store` defaults to the data store itself."""
    started = time.perf_counter()
    out = out_store if out_store is not None else data_store
    renderer = Renderer(source_dir)
    writer = SiteWriter(out, prefix, builder=renderer.version, force=force)

    tables = [t for t in load_days(data_store, tables_prefix) if t.photos or t.generations]
    problems = [p for t in tables for p in t.problems]
    days: list[tuple[str, list[pages.Pair]]] = []
    skipped: dict[str, list[dict[str, Any]]] = {}
    for t in tables:
        pairs, not_stored = pages.pairs_of_day(t)
        if t.generations and not t.photos:
            problems.append(f"{t.day}: look-alikes without a photos table; not shown")
            continue
        days.append((t.day, pairs))
        skipped[t.day] = not_stored
    all_pairs = [p for _, pairs in days for p in pairs]

    renderer.publish_static(writer)
    sources: list[MediaSource] = [
        s for p in all_pairs for s in (p.photo_source(), p.lookalike_source()) if s is not None
    ]
    media, media_report = ensure_media(sources, data_store, writer, workers=workers)
    problems += list((media_report.failed or {}).values())

    def page(path: str, template: str, model: dict[str, Any]) -> None:
        writer.page(path, [template, model], lambda: renderer.render(template, model))

    for _, pairs in days:
        for i, pair in enumerate(pairs):
            prev = pairs[i - 1] if i > 0 else None
            next_ = pairs[i + 1] if i + 1 < len(pairs) else None
            page(pair.path, "pair.html.j2", pages.pair_page(pair, media, prev, next_))
    names = [d for d, _ in days]
    for i, (day, pairs) in enumerate(days):
        prev_day = names[i - 1] if i > 0 else None
        next_day = names[i + 1] if i + 1 < len(names) else None
        model = pages.day_page(day, pairs, skipped[day], media, prev_day, next_day)
        page(pages.day_path(day), "day.html.j2", model)
    months = sorted({d[:7] for d in names})
    for i, month in enumerate(months):
        in_month = [(d, pairs) for d, pairs in days if d.startswith(month)]
        prev_month = months[i - 1] if i > 0 else None
        next_month = months[i + 1] if i + 1 < len(months) else None
        model = pages.month_page(month, in_month, media, prev_month, next_month)
        page(pages.month_path(month), "month.html.j2", model)
    summary = pages.totals(all_pairs, len(days))
    page("stats.html", "stats.html.j2", pages.stats_page(days, summary))
    page("about.html", "about.html.j2", pages.about_page(all_pairs, summary))
    page(INDEX, "index.html.j2", pages.index_page(days, media, summary))

    files = writer.finish()
    local = getattr(out, "path", None)
    result = SiteBuild(
        index_uri=writer.uri(INDEX),
        local_index=local(writer.key(INDEX)) if callable(local) else None,
        days=len(days),
        pairs=len(all_pairs),
        files=files,
        media=media_report,
        seconds=round(time.perf_counter() - started, 3),
        problems=problems,
    )
    log.info(result.summary())
    return result

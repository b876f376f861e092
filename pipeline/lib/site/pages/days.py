"""The day, month and front (index) pages."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pipeline.lib.site.links import relative, share_facts
from pipeline.lib.site.media import Media
from pipeline.lib.site.pages.pair import measures
from pipeline.lib.site.pages.shared import (
    Pair,
    card,
    day_label,
    day_path,
    link,
    lookalike_image,
    money,
    month_label,
    month_path,
    outcome_counts,
    photo_image,
    short_day,
    tidy,
)
from pipeline.lib.site.readings import number

INDEX_DAYS = 7  # days shown with pictures on the front page; older ones via the months
INDEX_CARDS = 4  # pairs per day on the front page
MONTH_CARDS = 3  # pairs per day on a month page


def _day_summary(pairs: list[Pair]) -> dict[str, Any]:
    generators = sorted({g for p in pairs if (g := tidy((p.look_alike or {}).get("generator")))})
    cost = sum(number((p.look_alike or {}).get("cost_usd")) or 0.0 for p in pairs)
    return {
        "photos": len(pairs),
        **outcome_counts(Counter(p.status for p in pairs)),
        "generators": ", ".join(generators),
        "cost": money(cost) if any(p.look_alike for p in pairs) else None,
    }


def day_page(
    day: str,
    pairs: list[Pair],
    skipped: list[dict[str, Any]],
    media: dict[str, Media],
    prev: str | None,
    next_: str | None,
) -> dict[str, Any]:
    root = "../"
    cards = [card(p, media, root) for p in pairs]
    shown = next(
        (c["lookalike"] or c["photo"] for c in cards if c["lookalike"] or c["photo"]), None
    )
    return {
        "root": root,
        "day": day,
        "label": day_label(day),
        "social": share_facts(
            f"{day_label(day)} · Doppel",
            f"{len(pairs)} of the day's popular photos beside machine-made look-alikes.",
            shown,
            day_path(day),
        ),
        "month": {"href": relative(root, month_path(day[:7])), "label": month_label(day[:7])},
        "summary": _day_summary(pairs),
        "cards": cards,
        "skipped": skipped,
        "prev": link(root, day_path(prev), short_day(prev)) if prev else None,
        "next": link(root, day_path(next_), short_day(next_)) if next_ else None,
    }


def _day_teaser(
    day: str, pairs: list[Pair], media: dict[str, Media], root: str, limit: int
) -> dict[str, Any]:
    shown = sorted(pairs, key=lambda p: p.status != "succeeded")[:limit]
    return {
        "day": day,
        "label": day_label(day),
        "href": relative(root, day_path(day)),
        "summary": _day_summary(pairs),
        "cards": [card(p, media, root) for p in shown],
        "more": max(0, len(pairs) - len(shown)),
    }


def month_page(
    month: str,
    days: list[tuple[str, list[Pair]]],
    media: dict[str, Media],
    prev: str | None,
    next_: str | None,
    credits: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`credits`: the month's photographers (`stats.credits`), listed at the foot."""
    root = "../"
    return {
        "root": root,
        "label": month_label(month),
        "days": [_day_teaser(d, pairs, media, root, MONTH_CARDS) for d, pairs in reversed(days)],
        "credits": credits or [],
        "prev": link(root, month_path(prev), month_label(prev)) if prev else None,
        "next": link(root, month_path(next_), month_label(next_)) if next_ else None,
    }


def index_page(
    newest: list[tuple[str, list[Pair]]],
    months: list[dict[str, Any]],
    media: dict[str, Media],
    totals: dict[str, Any],
) -> dict[str, Any]:
    """The front page: the newest days (newest first) with pictures, then every month."""
    root = ""
    hero = None
    for _, pairs in newest[:1]:
        for pair in pairs:
            photo = photo_image(pair, media, root, large=True)
            lookalike = lookalike_image(pair, media, root, large=True)
            if photo and lookalike:
                hero = card(pair, media, root) | {
                    "photo": photo,
                    "lookalike": lookalike,
                    "readings": measures(pair)[:3],
                }
                break
    return {
        "root": root,
        "hero": hero,
        "days": [_day_teaser(d, p, media, root, INDEX_CARDS) for d, p in newest[:INDEX_DAYS]],
        "months": [
            m | {"href": month_path(m["month"]), "label": month_label(m["month"])} for m in months
        ],
        "totals": totals,
    }

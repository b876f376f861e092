"""Page models: one plain, JSON-able dict per page, built from the day tables.

A page is rendered from its model alone, and the model's hash decides whether it is rendered
again (see `publish.SiteWriter.page`). So everything a page shows is in its model and nothing
volatile (like the build time) is, and a page's links are written relative to it (`root`),
so the site works from a folder, `file://`, or any S3 prefix.

Strings from the tables go into the models as they are: the templates escape them. URLs are
checked here (`links.safe_url`), since escaping does not make `javascript:` harmless.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from pipeline.lib.site.charts import Series, bucket_means, bucket_of, choose_grain, line_chart
from pipeline.lib.site.data import DayTables
from pipeline.lib.site.labels import pair_labels, subject_kept
from pipeline.lib.site.links import (
    relative,
    safe_url,
    share_facts,
    sized_hotlink,
    slug,
    with_utm,
)
from pipeline.lib.site.media import Media, MediaSource
from pipeline.lib.site.readings import (
    IMAGE_MEASURES,
    PAIR_MEASURES,
    number,
    read_image_measure,
)

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")  # fmt: skip
INDEX_DAYS = 7  # days shown with pictures on the front page; older ones via the months
INDEX_CARDS = 4  # pairs per day on the front page
MONTH_CARDS = 3  # pairs per day on a month page
HOTLINK_THUMB, HOTLINK_LARGE = 400, 1080  # Unsplash's `small` and `regular` widths
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
UNSPLASH_HOME = "https://unsplash.com/"
BY_GENERATOR = "by_generator."  # day series per generator, for the stats page's comparison
COMPARED_MEASURES = ("semantic_similarity", "ssim", "colour_distance", "patch_swd")
SUBJECT = "subject_kept."  # day series per generator: 1 when the photo's top label is kept
GENERATOR_LINES = 4  # distinct line colours for per-generator series (style.css .series--genN)


def day_label(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{DAY_NAMES[d.weekday()]} {d.day} {MONTH_NAMES[d.month - 1]} {d.year}"


def short_day(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{DAY_NAMES[d.weekday()][:3]} {d.day} {MONTH_NAMES[d.month - 1][:3]}"


def month_label(month: str) -> str:
    d = date.fromisoformat(month + "-01")
    return f"{MONTH_NAMES[d.month - 1]} {d.year}"


def _text(value: Any, limit: int | None = None) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = " ".join(str(value).split())
    if not text:
        return None
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


# Pairs


@dataclass
class Pair:
    day: str
    slug: str
    photo: dict[str, Any]
    look_alike: dict[str, Any] | None

    @property
    def path(self) -> str:
        return f"pairs/{self.day}/{self.slug}.html"

    @property
    def status(self) -> str:
        status = (self.look_alike or {}).get("status")
        if status == "budget":  # a table written before outcomes had names: it waited
            return "waiting"
        return status if isinstance(status, str) and status else "pending"

    @property
    def unsplash(self) -> bool:
        credit = self.photo.get("credit")
        provider = credit.get("provider") if isinstance(credit, dict) else None
        return provider == "unsplash" or self.photo.get("source") == "unsplash"

    @cached_property
    def credit(self) -> dict[str, Any]:
        return credit(self.photo, self.unsplash)

    @property
    def comparisons(self) -> dict[str, Any]:
        value = (self.look_alike or {}).get("comparisons")
        return value if isinstance(value, dict) else {}

    @property
    def title(self) -> str:
        raw = _text(self.photo.get("title")) or _text(self.photo.get("description"))
        raw = raw or _text(self.photo.get("source_id")) or "Untitled"
        return raw[:1].upper() + raw[1:]

    def photo_source(self) -> MediaSource | None:
        """The stored original, for photos the site may show from its own copy."""
        key = self.photo.get("object_key")
        if self.unsplash or not isinstance(key, str) or not key:
            return None
        sha = self.photo.get("sha256")
        return MediaSource(key, sha if isinstance(sha, str) and sha else None)

    def lookalike_source(self) -> MediaSource | None:
        gen = self.look_alike or {}
        key = gen.get("object_key")
        if self.status != "succeeded" or not isinstance(key, str) or not key:
            return None
        sha = gen.get("sha256")
        return MediaSource(key, sha if isinstance(sha, str) and sha else None)


def pairs_of_day(tables: DayTables) -> tuple[list[Pair], list[dict[str, Any]]]:
    """The day's stored photos with their look-alikes (rank order), and the photos not stored."""
    by_photo: dict[Any, dict[str, Any]] = {}
    for row in tables.look_alikes:
        by_photo[row.get("photo_id")] = row
        by_photo.setdefault(("source_id", row.get("source_id")), row)
    pairs: list[Pair] = []
    skipped: list[dict[str, Any]] = []
    used: set[str] = set()
    # The tables are typed (`pipeline.lib.day.tables`): rank and id are ints or None.
    ranked = sorted(tables.photos, key=lambda p: (p["rank"] or 1e9, str(p["id"])))
    for photo in ranked:
        if photo.get("status") != "stored":
            skipped.append(
                {"title": _text(photo.get("title") or photo.get("source_id"), 120) or "Untitled",
                 "error": _text(photo.get("error"), 400) or "not stored"}
            )  # fmt: skip
            continue
        gen: dict[str, Any] | None = by_photo.get(photo.get("id")) or by_photo.get(
            ("source_id", photo.get("source_id"))
        )
        rank = photo["rank"]
        base = f"{rank:02d}-" if rank is not None else ""
        name = base + slug(photo.get("title") or photo.get("source_id"), 48)
        if name in used:  # two sources on one day can share ranks and titles
            name = f"{name}-{slug(photo.get('id'), 12)}"
        used.add(name)
        pairs.append(Pair(tables.day, name, photo, gen))
    return pairs, skipped


# Pieces of pages


def credit(photo: dict[str, Any], unsplash: bool) -> dict[str, Any]:
    raw = photo.get("credit")
    info: dict[str, Any] = raw if isinstance(raw, dict) else {}
    name = _text(info.get("name")) or _text(photo.get("photographer_name"))
    if unsplash:
        username = _text(info.get("username"))
        profile = info.get("profile_url") or photo.get("photographer_url")
        if not safe_url(profile) and username:
            profile = f"{UNSPLASH_HOME}@{username}"
        return {
            "kind": "unsplash",
            "name": name or username or "an Unsplash photographer",
            "profile_url": with_utm(profile),
            "unsplash_url": with_utm(info.get("unsplash_url")) or with_utm(UNSPLASH_HOME),
            "photo_page_url": with_utm(info.get("photo_page_url") or photo.get("page_url")),
        }
    return {
        "kind": "licence",
        "name": name,
        "url": safe_url(photo.get("photographer_url")),
        "license": _text(photo.get("license")) or "licence not recorded",
        "source_url": safe_url(photo.get("page_url")),
    }


def _image(
    src: str, width: Any, height: Any, alt: str, srcset: str | None = None
) -> dict[str, Any]:
    w, h = number(width), number(height)
    return {
        "src": src,
        "srcset": srcset,
        "width": int(w) if w else None,
        "height": int(h) if h else None,
        "alt": alt,
    }


def photo_alt(pair: Pair) -> str:
    what = _text(pair.photo.get("description"), 200) or pair.title
    name = pair.credit["name"]
    return f"Photo: {what}" + (f", by {name}" if name else "")


def lookalike_alt(pair: Pair) -> str:
    generator = _text((pair.look_alike or {}).get("generator")) or "a generator"
    return f"Look-alike of “{_text(pair.title, 120)}”, made by {generator}"


def photo_image(pair: Pair, media: dict[str, Media], root: str, *, large: bool) -> dict | None:
    alt = photo_alt(pair)
    if pair.unsplash:
        # Unsplash's terms: show the original only from Unsplash's own URL (ixid kept).
        display = safe_url(pair.photo.get("display_url"))
        if display is None:
            return None
        info = pair.photo.get("credit")
        thumb_url = info.get("thumb_url") if isinstance(info, dict) else None
        thumb = safe_url(thumb_url) or sized_hotlink(display, HOTLINK_THUMB)
        w, h = number(pair.photo.get("width")), number(pair.photo.get("height"))
        tw = HOTLINK_THUMB if large is False else HOTLINK_LARGE
        th = round(tw * h / w) if w and h else None
        if not large:
            return _image(thumb or display, tw, th, alt)
        return _image(display, tw, th, alt, f"{thumb} {HOTLINK_THUMB}w, {display} {HOTLINK_LARGE}w")
    return _media_image(pair.photo_source(), media, root, alt, large=large)


def lookalike_image(pair: Pair, media: dict[str, Media], root: str, *, large: bool) -> dict | None:
    return _media_image(pair.lookalike_source(), media, root, lookalike_alt(pair), large=large)


def _media_image(
    source: MediaSource | None, media: dict[str, Media], root: str, alt: str, *, large: bool
) -> dict | None:
    found = media.get(source.id) if source is not None else None
    if found is None:
        return None
    if not large:
        r = found.thumb
        return _image(relative(root, r.path), r.width, r.height, alt)
    t, r = found.thumb, found.large
    srcset = None
    if t.path != r.path:
        srcset = f"{relative(root, t.path)} {t.width}w, {relative(root, r.path)} {r.width}w"
    return _image(relative(root, r.path), r.width, r.height, alt, srcset)


def quality_flag(pair: Pair) -> dict[str, str] | None:
    quality = (pair.look_alike or {}).get("quality")
    if not isinstance(quality, dict) or quality.get("accepted") is not False:
        return None
    reason = _text(quality.get("reason"), 300)
    return {
        "short": "Below the quality gate",
        "text": "None of the generator's attempts passed its own quality check; this is the "
        "least bad one." + (f" The generator's note: {reason}." if reason else ""),
    }


# A pair's outcome: its look-alike's status (`Outcome`), or "pending" for a photo without
# one yet (its day's generation has not run). Every page counts them with `outcome_counts`,
# under these names.
OUTCOME_COUNTS = (("succeeded", "made"), ("refused", "refused"), ("failed", "failed"),
                  ("waiting", "waiting"), ("pending", "pending"))  # fmt: skip


def outcome_counts(statuses: Mapping[str, int]) -> dict[str, int]:
    return {name: statuses.get(status, 0) for status, name in OUTCOME_COUNTS}


def _reason(pair: Pair) -> str | None:
    """What became of a pair without a look-alike, in one line."""
    if pair.status == "succeeded":
        return None
    if pair.status == "pending":
        return "No look-alike yet: this day's generation has not run."
    error = _text((pair.look_alike or {}).get("error"), 600)
    if pair.status == "waiting":
        when = _text((pair.look_alike or {}).get("retry_at"), 40)
        verb = f"Waiting for a retry (from {when[:16].replace('T', ' ')} UTC)" if when else (
            "Waiting for a retry")  # fmt: skip
    else:
        verb = "Refused" if pair.status == "refused" else "Failed"
    return f"{verb}: {error}" if error else verb


def card(pair: Pair, media: dict[str, Media], root: str) -> dict[str, Any]:
    headline = None
    ssim = number(pair.comparisons.get("ssim"))
    if ssim is not None:
        headline = f"Structure {ssim:.2f}"
    return {
        "href": relative(root, pair.path),
        "title": _text(pair.title, 90),
        "photo": photo_image(pair, media, root, large=False),
        "lookalike": lookalike_image(pair, media, root, large=False),
        "status": pair.status,
        "reason": _text(_reason(pair), 160),
        "generator": _text((pair.look_alike or {}).get("generator"), 40),
        "credit": pair.credit,
        "flag": (quality_flag(pair) or {}).get("short"),
        "headline": headline,
    }


def _money(value: Any) -> str | None:
    v = number(value)
    if v is None:
        return None
    return "free (runs locally)" if v == 0 else f"${v:.3f}" if v < 0.1 else f"${v:.2f}"


_ATTEMPT_SUFFIX = re.compile(r",? attempt \d+ \([^)]*\)$")


def _strategy(value: Any) -> str | None:
    """Older patch remixes put "attempt N (accepted)" in their strategy; attempts have their
    own line now, read from the gate's record, so they read the same everywhere."""
    text = _text(value, 120)
    return _ATTEMPT_SUFFIX.sub("", text) or None if text else None


def _attempts(quality: Any) -> str | None:
    """The generator's own tries (patch remix): how many, and which one was kept."""
    if not isinstance(quality, dict) or not isinstance(quality.get("attempts"), list):
        return None
    tried, kept = len(quality["attempts"]), number(quality.get("attempt"))
    if not tried or kept is None:
        return None
    state = "passed the quality gate" if quality.get("accepted") else "the least bad; none passed"
    return f"{tried}; no. {kept:.0f} kept ({state})"


def _total_money(value: float) -> str:
    """A total for a stats tile: always a short figure (the tile's note says why it is 0)."""
    return f"${value:.2f}" if value >= 0.1 or value == 0 else f"${value:.3f}"


def _seconds(value: Any) -> str | None:
    v = number(value)
    return None if v is None else f"{v:.1f} s" if v < 100 else f"{v / 60:.1f} min"


GATE_MEASURES = ("zero_shift", "largest_copied_region")
"""Measured by the generator's own quality gate too (patch remix): its receipt's figure is
the one shown, so the gallery and the receipt never disagree about the same look-alike."""


def measures(pair: Pair) -> list[dict[str, str]]:
    out = []
    gate = (pair.look_alike or {}).get("quality")
    for m in PAIR_MEASURES:
        v = number(pair.comparisons.get(m.key))
        if m.key in GATE_MEASURES and isinstance(gate, dict):
            v = number(gate.get(m.key)) if number(gate.get(m.key)) is not None else v
        if v is not None:
            out.append({"key": m.key, "label": m.label, "value": m.fmt(v), "reading": m.read(v),
                        "what": m.what})  # fmt: skip
    return out


def image_measures(pair: Pair) -> list[dict[str, Any]]:
    photo, made = pair.comparisons.get("original"), pair.comparisons.get("generated")
    if not isinstance(photo, dict) or not isinstance(made, dict):
        return []
    out = []
    for m in IMAGE_MEASURES:
        a, b = number(photo.get(m.key)), number(made.get(m.key))
        if a is None or b is None:
            continue
        out.append(
            {"label": m.label, "what": m.what, "photo": m.fmt(a), "lookalike": m.fmt(b),
             "photo_bar": round(min(1.0, max(0.0, a / m.top)) * 100, 1),
             "lookalike_bar": round(min(1.0, max(0.0, b / m.top)) * 100, 1),
             "reading": read_image_measure(m, a, b)}
        )  # fmt: skip
    return out


def palette(stats: Any) -> list[dict[str, Any]]:
    colours = stats.get("dominant_colours") if isinstance(stats, dict) else None
    if not isinstance(colours, list):
        return []
    swatches, x = [], 0.0
    for item in colours[:5]:
        hex_colour = item.get("hex") if isinstance(item, dict) else None
        share = number(item.get("share")) if isinstance(item, dict) else None
        if not isinstance(hex_colour, str) or not _HEX.match(hex_colour) or share is None:
            continue
        share = min(1.0, max(0.0, share))
        swatches.append({"hex": hex_colour.lower(), "share": f"{share * 100:.0f}%",
                         "x": round(x * 100, 2), "width": round(share * 100, 2)})  # fmt: skip
        x += share
    return swatches


def style_line(pair: Pair) -> str | None:
    """What a style-transfer look-alike was painted like, from its receipt."""
    quality = (pair.look_alike or {}).get("quality")
    style = _text(quality.get("style"), 80) if isinstance(quality, dict) else None
    if not style:
        return None
    strength = number(quality.get("strength")) if isinstance(quality, dict) else None
    blend = f" ({strength * 100:.0f}% painting, the rest the photo)" if strength else ""
    return f"Painted in the manner of {style}{blend}."


def generation_facts(pair: Pair) -> list[dict[str, str]]:
    gen = pair.look_alike or {}
    facts = [
        ("Generator", _text(gen.get("generator"), 80)),
        ("Model", _text(gen.get("model"), 120)),
        ("Strategy", _strategy(gen.get("strategy"))),
        ("Cost", _money(gen.get("cost_usd"))),
        ("Time", _seconds(gen.get("latency_s"))),
        ("Seed", _text(gen.get("seed"))),
        ("Attempts", _attempts(gen.get("quality"))),
        ("Generator calls", _text(gen.get("attempts"))),
    ]
    return [{"label": label, "value": value} for label, value in facts if value]


# Pages


def pair_page(
    pair: Pair, media: dict[str, Media], prev: Pair | None, next_: Pair | None
) -> dict[str, Any]:
    root = "../../"
    description = _text(pair.photo.get("description"), 600)
    photo = photo_image(pair, media, root, large=True)
    lookalike = lookalike_image(pair, media, root, large=True)
    published = _text(pair.photo.get("published_at"))
    return {
        "root": root,
        "title": pair.title,
        "description": description if description and description != pair.title else None,
        "day": {"href": relative(root, day_path(pair.day)), "label": day_label(pair.day)},
        "rank": number(pair.photo.get("rank")),
        "likes": number(pair.photo.get("likes")),
        "published": published[:10] if published else None,
        "photo": photo,
        "photo_unavailable": None if photo is not None else _photo_unavailable(pair),
        "lookalike": lookalike,
        "status": pair.status,
        "reason": _reason(pair) if lookalike is None or pair.status != "succeeded" else None,
        "generator": _text((pair.look_alike or {}).get("generator"), 80) or "the generator",
        "style": style_line(pair) if lookalike is not None else None,
        "credit": pair.credit,
        "facts": generation_facts(pair),
        "prompt": _text((pair.look_alike or {}).get("prompt"), 4000),
        "flag": quality_flag(pair),
        "measures": measures(pair),
        "image_measures": image_measures(pair),
        "labels": pair_labels(pair.comparisons, _caption(pair)),
        "social": share_facts(
            pair.title,
            f"A photo and a machine-made look-alike of it, compared ({day_label(pair.day)}).",
            lookalike or photo,
            pair.path,
        ),
        "palettes": {
            "photo": palette(pair.comparisons.get("original")),
            "lookalike": palette(pair.comparisons.get("generated")),
        },
        "prev": _link(root, prev.path, _text(prev.title, 60)) if prev else None,
        "next": _link(root, next_.path, _text(next_.title, 60)) if next_ else None,
    }


def _caption(pair: Pair) -> str | None:
    """Unsplash's own caption (`alt_description`, kept as the photo's description)."""
    return _text(pair.photo.get("description"), 300) if pair.unsplash else None


def _link(root: str, path: str, label: str | None) -> dict[str, str | None]:
    return {"href": relative(root, path), "label": label}


def _photo_unavailable(pair: Pair) -> str:
    if pair.unsplash:
        return (
            "This photo's Unsplash address is missing, and Unsplash photos are shown only "
            "from Unsplash."
        )
    return "The stored photo could not be read; it is tried again on the next build."


def day_path(day: str) -> str:
    return f"days/{day}.html"


def month_path(month: str) -> str:
    return f"months/{month}.html"


def _day_summary(pairs: list[Pair]) -> dict[str, Any]:
    generators = sorted({g for p in pairs if (g := _text((p.look_alike or {}).get("generator")))})
    cost = sum(number((p.look_alike or {}).get("cost_usd")) or 0.0 for p in pairs)
    return {
        "photos": len(pairs),
        **outcome_counts(Counter(p.status for p in pairs)),
        "generators": ", ".join(generators),
        "cost": _money(cost) if any(p.look_alike for p in pairs) else None,
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
        "prev": _link(root, day_path(prev), short_day(prev)) if prev else None,
        "next": _link(root, day_path(next_), short_day(next_)) if next_ else None,
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
) -> dict[str, Any]:
    root = "../"
    return {
        "root": root,
        "label": month_label(month),
        "days": [_day_teaser(d, pairs, media, root, MONTH_CARDS) for d, pairs in reversed(days)],
        "prev": _link(root, month_path(prev), month_label(prev)) if prev else None,
        "next": _link(root, month_path(next_), month_label(next_)) if next_ else None,
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


# Day summaries: what the index, stats and about pages need from each day. They are small and
# kept in the site manifest, so a day whose tables did not change is never parsed again.


def day_info(pairs: list[Pair], skipped: list[dict[str, Any]], problems: list[str]) -> dict:
    series: dict[str, list[float]] = {}  # name → [sum, count] over the day's look-alikes

    def add(name: str, raw: Any) -> None:
        if (v := number(raw)) is not None:
            total = series.setdefault(name, [0.0, 0])
            total[0] += v
            total[1] += 1

    cost = 0.0
    generators: Counter[str] = Counter()
    credits: dict[str, list[Any]] = {}
    for p in pairs:
        gen = p.look_alike or {}
        cost += number(gen.get("cost_usd")) or 0.0
        if g := _text(gen.get("generator"), 80):
            generators[g] += 1
        c = p.credit
        who = repr((c["kind"], c["name"], c.get("profile_url") or c.get("url"), c.get("license")))
        credits.setdefault(who, [c, 0])[1] += 1
        if p.status != "succeeded":
            continue
        add("latency", gen.get("latency_s"))
        comparisons = p.comparisons
        by = f"{BY_GENERATOR}{_text(gen.get('generator'), 80) or 'unknown'}."
        quality = gen.get("quality")
        add(by + "made", 1.0)
        add(by + "flagged", float(isinstance(quality, dict) and quality.get("accepted") is False))
        add(by + "latency", gen.get("latency_s"))
        add(by + "cost", gen.get("cost_usd"))
        for key in COMPARED_MEASURES:
            add(by + key, comparisons.get(key))
        if (kept := subject_kept(comparisons)) is not None:
            add(f"subject_kept.{_text(gen.get('generator'), 80) or 'unknown'}", float(kept))
            add(by + "subject_kept", float(kept))
        for measure in PAIR_MEASURES:
            add(measure.key, comparisons.get(measure.key))
        for role in ("original", "generated"):
            stats = comparisons.get(role)
            for own in IMAGE_MEASURES:
                add(f"{role}.{own.key}", stats.get(own.key) if isinstance(stats, dict) else None)
    series["cost"] = [cost, 1]
    return {
        "shown": bool(pairs or skipped),
        "slugs": [p.slug for p in pairs],
        "sources": [
            [source.object_key, source.sha256] if source is not None else None
            for p in pairs
            for source in (p.photo_source(), p.lookalike_source())
        ],
        "statuses": dict(Counter(p.status for p in pairs)),
        "cost": cost,
        "generators": dict(generators),
        "series": series,
        "credits": list(credits.values()),
        "problems": problems,
    }


def totals(infos: list[dict[str, Any]]) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    generators: Counter[str] = Counter()
    latency = [0.0, 0]
    for info in infos:
        statuses.update(info["statuses"])
        generators.update(info["generators"])
        day_latency = info["series"].get("latency", [0.0, 0])
        latency = [latency[0] + day_latency[0], latency[1] + day_latency[1]]
    return {
        "compare": compare_generators(infos) if len(generators) > 1 else [],
        "days": len(infos),
        "pairs": sum(statuses.values()),
        **outcome_counts(statuses),
        "cost": _total_money(sum(info["cost"] for info in infos)),
        "cost_note": "free: runs locally" if not any(info["cost"] for info in infos) else None,
        "latency": _seconds(latency[0] / latency[1]) if latency[1] else None,
        "generators": [{"name": g, "count": n} for g, n in generators.most_common()],
    }


def compare_generators(infos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per generator over all days: how many, how often flagged, and the mean of
    each compared measure, so a site made by more than one generator can set them side by
    side."""
    sums: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for info in infos:
        for name, (total, count) in info["series"].items():
            if name.startswith(BY_GENERATOR):
                generator, _, key = name[len(BY_GENERATOR) :].rpartition(".")
                acc = sums[generator].setdefault(key, [0.0, 0])
                acc[0] += total
                acc[1] += count

    def mean(values: dict[str, list[float]], key: str) -> float | None:
        total, count = values.get(key, [0.0, 0])
        return total / count if count else None

    rows = []
    for generator, values in sorted(sums.items(), key=lambda kv: -kv[1].get("made", [0, 0])[0]):
        cells = [  # in the order of compared_measure_labels()
            m.fmt(v) if (v := mean(values, m.key)) is not None else None
            for m in PAIR_MEASURES
            if m.key in COMPARED_MEASURES
        ]
        flagged, kept = mean(values, "flagged"), mean(values, "subject_kept")
        rows.append({
            "name": generator,
            "made": int(values.get("made", [0, 0])[0]),
            "flagged": None if flagged is None else f"{flagged * 100:.0f}%",
            "subject_kept": None if kept is None else f"{kept * 100:.0f}%",
            "time": _seconds(mean(values, "latency")),
            "cost": _money(mean(values, "cost")),
            "measures": cells,
        })  # fmt: skip
    return rows


def compared_measure_labels() -> list[dict[str, str]]:
    return [{"key": m.key, "label": m.label, "what": m.what}
            for m in PAIR_MEASURES if m.key in COMPARED_MEASURES]  # fmt: skip


def months_summary(days: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each month with its number of days and photos, newest first."""
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for day, info in days:
        months[day[:7]][0] += 1
        months[day[:7]][1] += len(info["slugs"])
    return [
        {"month": m, "days": d, "pairs": n} for m, (d, n) in sorted(months.items(), reverse=True)
    ]


def stats_page(days: list[tuple[str, dict[str, Any]]], summary: dict[str, Any]) -> dict[str, Any]:
    names = [d for d, _ in days]
    charts: list[dict[str, Any] | None] = []
    if names:
        grain = choose_grain(names)
        buckets = sorted({bucket_of(d, grain) for d in names})

        def means(name: str) -> dict[str, float | None]:
            return bucket_means({d: info["series"].get(name, [0.0, 0]) for d, info in days}, grain)

        def chart(title: str, *series: Series) -> None:
            charts.append(line_chart(title, buckets, grain, series, floor=0.0))

        for own in IMAGE_MEASURES:
            chart(f"{own.label} ({own.what})",
                  Series("Photos", "photo", means(f"original.{own.key}")),
                  Series("Look-alikes", "lookalike", means(f"generated.{own.key}")))  # fmt: skip
        for measure in PAIR_MEASURES[:4]:
            chart(f"{measure.label} ({measure.what})",
                  Series("Mean over the day's pairs", "measure", means(measure.key)))  # fmt: skip
        kept = sorted({n for _, info in days for n in info["series"] if n.startswith(SUBJECT)})
        chart("How often the look-alike keeps the photo's main subject (share of pairs)",
              *(Series(n[len(SUBJECT):], f"gen{i % GENERATOR_LINES}", means(n))
                for i, n in enumerate(kept)))  # fmt: skip
        chart("Cost per day (USD)", Series("Cost per day", "measure", means("cost")))
        chart("Generation time (seconds per look-alike)",
              Series("Mean time", "measure", means("latency")))  # fmt: skip
    return {
        "root": "",
        "totals": summary,
        "compared": compared_measure_labels(),
        "charts": [c for c in charts if c],
    }


def about_page(infos: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    people: dict[str, dict[str, Any]] = {}
    for info in infos:
        for c, count in info["credits"]:
            who = repr((c["kind"], c["name"], c.get("profile_url") or c.get("url"),
                        c.get("license")))  # fmt: skip
            people.setdefault(who, c | {"count": 0})["count"] += count
    credits = sorted(people.values(), key=lambda c: (str(c["name"] or "").lower(), c["kind"]))
    return {
        "root": "",
        "measures": [{"label": m.label, "what": m.what} for m in PAIR_MEASURES],
        "image_measures": [{"label": m.label, "what": m.what} for m in IMAGE_MEASURES],
        "credits": credits,
        "totals": summary,
    }

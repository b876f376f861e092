"""Pieces every page uses: labels, paths and short texts; a pair (`Pair`), its pictures
and its card."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from typing import Any

from pipeline.lib.site.data import DayTables
from pipeline.lib.site.links import relative, safe_url, sized_hotlink, slug, with_utm
from pipeline.lib.site.media import Media, MediaSource
from pipeline.lib.site.readings import number

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
HOTLINK_THUMB, HOTLINK_LARGE = 400, 1080  # Unsplash's `small` and `regular` widths
UNSPLASH_HOME = "https://unsplash.com/"


def day_label(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{DAY_NAMES[d.weekday()]} {d.day} {MONTH_NAMES[d.month - 1]} {d.year}"


def short_day(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{DAY_NAMES[d.weekday()][:3]} {d.day} {MONTH_NAMES[d.month - 1][:3]}"


def month_label(month: str) -> str:
    d = date.fromisoformat(month + "-01")
    return f"{MONTH_NAMES[d.month - 1]} {d.year}"


def tidy(value: Any, limit: int | None = None) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = " ".join(str(value).split())
    if not text:
        return None
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def day_path(day: str) -> str:
    return f"days/{day}.html"


def month_path(month: str) -> str:
    return f"months/{month}.html"


def link(root: str, path: str, label: str | None) -> dict[str, str | None]:
    return {"href": relative(root, path), "label": label}


def money(value: Any) -> str | None:
    v = number(value)
    if v is None:
        return None
    return "free (runs locally)" if v == 0 else f"${v:.3f}" if v < 0.1 else f"${v:.2f}"


def seconds(value: Any) -> str | None:
    v = number(value)
    return None if v is None else f"{v:.1f} s" if v < 100 else f"{v / 60:.1f} min"


# Pairs


@dataclass
class Pair:
    """A photo and its look-alike: the lead generator's (the first made), with the other
    generators' look-alikes of the same photo in `others` (DOPPEL_GENERATORS)."""

    day: str
    slug: str
    photo: dict[str, Any]
    look_alike: dict[str, Any] | None
    others: list[dict[str, Any]] = field(default_factory=list)

    def variants(self) -> list[Pair]:
        """The photo with each of its look-alikes in turn, the lead first: every page piece
        made for a pair (pictures, measures, facts) reads one generator's this way."""
        return [self, *(replace(self, look_alike=row, others=[]) for row in self.others)]

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
        raw = tidy(self.photo.get("title")) or tidy(self.photo.get("description"))
        raw = raw or tidy(self.photo.get("source_id")) or "Untitled"
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
    """The day's stored photos with their look-alikes (rank order), and the photos not stored.
    A photo's look-alikes keep the table's order (the order they were first made): its
    first is the lead, shown on cards."""
    by_photo: dict[Any, list[dict[str, Any]]] = {}
    for row in tables.look_alikes:
        by_photo.setdefault(row.get("photo_id"), []).append(row)
        # Found by source id when the ids do not match (a table from before they did).
        by_photo.setdefault(("source_id", row.get("source_id")), []).append(row)
    pairs: list[Pair] = []
    skipped: list[dict[str, Any]] = []
    used: set[str] = set()
    # The tables are typed (`pipeline.lib.day.tables`): rank and id are ints or None.
    ranked = sorted(tables.photos, key=lambda p: (p["rank"] or 1e9, str(p["id"])))
    for photo in ranked:
        if photo.get("status") != "stored":
            skipped.append(
                {
                    "title": tidy(photo.get("title") or photo.get("source_id"), 120) or "Untitled",
                    "error": tidy(photo.get("error"), 400) or "not stored",
                }
            )
            continue
        made = by_photo.get(photo.get("id")) or by_photo.get(("source_id", photo.get("source_id")))
        gen, others = (made[0], made[1:]) if made else (None, [])
        rank = photo["rank"]
        base = f"{rank:02d}-" if rank is not None else ""
        name = base + slug(photo.get("title") or photo.get("source_id"), 48)
        if name in used:  # two sources on one day can share ranks and titles
            name = f"{name}-{slug(photo.get('id'), 12)}"
        used.add(name)
        pairs.append(Pair(tables.day, name, photo, gen, others))
    return pairs, skipped


# Pieces of pages


def credit(photo: dict[str, Any], unsplash: bool) -> dict[str, Any]:
    raw = photo.get("credit")
    info: dict[str, Any] = raw if isinstance(raw, dict) else {}
    name = tidy(info.get("name")) or tidy(photo.get("photographer_name"))
    if unsplash:
        username = tidy(info.get("username"))
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
        "license": tidy(photo.get("license")) or "licence not recorded",
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
    what = tidy(pair.photo.get("description"), 200) or pair.title
    name = pair.credit["name"]
    return f"Photo: {what}" + (f", by {name}" if name else "")


def lookalike_alt(pair: Pair) -> str:
    generator = tidy((pair.look_alike or {}).get("generator")) or "a generator"
    return f"Look-alike of “{tidy(pair.title, 120)}”, made by {generator}"


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
    reason = tidy(quality.get("reason"), 300)
    return {
        "short": "Below the quality gate",
        "text": "None of the generator's attempts passed its own quality check; this is the "
        "least bad one." + (f" The generator's note: {reason}." if reason else ""),
    }


# A pair's outcome: its look-alike's status (`Outcome`), or "pending" for a photo without
# one yet (its day's generation has not run). Every page counts them with `outcome_counts`,
# under these names.
OUTCOME_COUNTS = (
    ("succeeded", "made"),
    ("refused", "refused"),
    ("failed", "failed"),
    ("waiting", "waiting"),
    ("pending", "pending"),
)


def outcome_counts(statuses: Mapping[str, int]) -> dict[str, int]:
    return {name: statuses.get(status, 0) for status, name in OUTCOME_COUNTS}


def outcome_reason(pair: Pair) -> str | None:
    """What became of a pair without a look-alike, in one line."""
    if pair.status == "succeeded":
        return None
    if pair.status == "pending":
        return "No look-alike yet: this day's generation has not run."
    error = tidy((pair.look_alike or {}).get("error"), 600)
    if pair.status == "waiting":
        when = tidy((pair.look_alike or {}).get("retry_at"), 40)
        verb = (
            f"Waiting for a retry (from {when[:16].replace('T', ' ')} UTC)"
            if when
            else ("Waiting for a retry")
        )
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
        "title": tidy(pair.title, 90),
        "photo": photo_image(pair, media, root, large=False),
        "lookalike": lookalike_image(pair, media, root, large=False),
        "status": pair.status,
        "reason": tidy(outcome_reason(pair), 160),
        "generator": tidy((pair.look_alike or {}).get("generator"), 40),
        "credit": pair.credit,
        "flag": (quality_flag(pair) or {}).get("short"),
        "headline": headline,
    }

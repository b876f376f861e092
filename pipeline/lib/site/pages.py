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
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipeline.lib.site.charts import Series, bucket_means, bucket_of, choose_grain, line_chart
from pipeline.lib.site.data import DayTables
from pipeline.lib.site.links import relative, safe_url, sized_hotlink, slug, with_utm
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
    generation: dict[str, Any] | None

    @property
    def path(self) -> str:
        return f"pairs/{self.day}/{self.slug}.html"

    @property
    def status(self) -> str:
        status = (self.generation or {}).get("status")
        return status if isinstance(status, str) and status else "pending"

    @property
    def unsplash(self) -> bool:
        credit = self.photo.get("credit")
        provider = credit.get("provider") if isinstance(credit, dict) else None
        return provider == "unsplash" or self.photo.get("source") == "unsplash"

    @property
    def comparisons(self) -> dict[str, Any]:
        value = (self.generation or {}).get("comparisons")
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
        gen = self.generation or {}
        key = gen.get("object_key")
        if self.status != "succeeded" or not isinstance(key, str) or not key:
            return None
        sha = gen.get("sha256")
        return MediaSource(key, sha if isinstance(sha, str) and sha else None)


def pairs_of_day(tables: DayTables) -> tuple[list[Pair], list[dict[str, Any]]]:
    """The day's stored photos with their look-alikes (rank order), and the photos not stored."""
    by_photo: dict[Any, dict[str, Any]] = {}
    for gen in tables.generations:
        by_photo[gen.get("inspiration_id")] = gen
        by_photo.setdefault(("source_id", gen.get("source_id")), gen)
    pairs: list[Pair] = []
    skipped: list[dict[str, Any]] = []
    used: set[str] = set()
    ranked = sorted(tables.photos, key=lambda p: (number(p.get("rank")) or 1e9, str(p.get("id"))))
    for photo in ranked:
        if photo.get("status") != "stored":
            skipped.append(
                {"title": _text(photo.get("title") or photo.get("source_id"), 120) or "Untitled",
                 "error": _text(photo.get("error"), 400) or "not stored"}
            )  # fmt: skip
            continue
        gen = by_photo.get(photo.get("id")) or by_photo.get(("source_id", photo.get("source_id")))
        rank = number(photo.get("rank"))
        base = f"{int(rank):02d}-" if rank is not None else ""
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
    name = credit(pair.photo, pair.unsplash)["name"]
    return f"Photo: {what}" + (f", by {name}" if name else "")


def lookalike_alt(pair: Pair) -> str:
    generator = _text((pair.generation or {}).get("generator")) or "a generator"
    return f"Look-alike of “{_text(pair.title, 120)}”, made by {generator}"


def photo_image(pair: Pair, media: dict[str, Media], root: str, *, large: bool) -> dict | None:
    alt = photo_alt(pair)
    if pair.unsplash:
        # Unsplash's terms: show the original only from Unsplash's own URL (ixid kept).
        display = safe_url(pair.photo.get("display_url"))
        if display is None:
            return None
        info = pair.photo.get("credit") if isinstance(pair.photo.get("credit"), dict) else {}
        thumb = safe_url(info.get("thumb_url")) or sized_hotlink(display, HOTLINK_THUMB)
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
    quality = (pair.generation or {}).get("quality")
    if isinstance(quality, dict) and quality.get("accepted") is False:
        return {
            "short": "Below the quality gate",
            "text": "None of the generator's attempts passed its own quality check; this is "
            "the least bad one." + (f" ({_text(quality.get('reason'), 300)})"
                                    if _text(quality.get("reason")) else ""),
        }  # fmt: skip
    return None


def _reason(pair: Pair) -> str | None:
    if pair.status == "succeeded":
        return None
    if pair.status == "pending":
        return "No look-alike yet: this day's generation has not run."
    error = _text((pair.generation or {}).get("error"), 600)
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
        "generator": _text((pair.generation or {}).get("generator"), 40),
        "credit": credit(pair.photo, pair.unsplash),
        "flag": (quality_flag(pair) or {}).get("short"),
        "headline": headline,
    }


def _money(value: Any) -> str | None:
    v = number(value)
    if v is None:
        return None
    return "free (runs locally)" if v == 0 else f"${v:.3f}" if v < 0.1 else f"${v:.2f}"


def _seconds(value: Any) -> str | None:
    v = number(value)
    return None if v is None else f"{v:.1f} s" if v < 100 else f"{v / 60:.1f} min"


def measures(pair: Pair) -> list[dict[str, str]]:
    out = []
    for m in PAIR_MEASURES:
        v = number(pair.comparisons.get(m.key))
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


def generation_facts(pair: Pair) -> list[dict[str, str]]:
    gen = pair.generation or {}
    facts = [
        ("Generator", _text(gen.get("generator"), 80)),
        ("Model", _text(gen.get("model"), 120)),
        ("Strategy", _text(gen.get("strategy"), 120)),
        ("Cost", _money(gen.get("cost_usd"))),
        ("Time", _seconds(gen.get("latency_s"))),
        ("Seed", _text(gen.get("seed"))),
        ("Attempts", _text(gen.get("attempts"))),
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
        "generator": _text((pair.generation or {}).get("generator"), 80) or "the generator",
        "credit": credit(pair.photo, pair.unsplash),
        "facts": generation_facts(pair),
        "prompt": _text((pair.generation or {}).get("prompt"), 4000),
        "flag": quality_flag(pair),
        "measures": measures(pair),
        "image_measures": image_measures(pair),
        "palettes": {
            "photo": palette(pair.comparisons.get("original")),
            "lookalike": palette(pair.comparisons.get("generated")),
        },
        "prev": _link(root, prev.path, _text(prev.title, 60)) if prev else None,
        "next": _link(root, next_.path, _text(next_.title, 60)) if next_ else None,
    }


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
    statuses = Counter(p.status for p in pairs)
    generators = sorted({g for p in pairs if (g := _text((p.generation or {}).get("generator")))})
    cost = sum(number((p.generation or {}).get("cost_usd")) or 0.0 for p in pairs)
    return {
        "photos": len(pairs),
        "made": statuses.get("succeeded", 0),
        "failed": statuses.get("failed", 0),
        "refused": statuses.get("refused", 0),
        "pending": statuses.get("pending", 0),
        "generators": ", ".join(generators),
        "cost": _money(cost) if any(p.generation for p in pairs) else None,
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
    return {
        "root": root,
        "day": day,
        "label": day_label(day),
        "month": {"href": relative(root, month_path(day[:7])), "label": month_label(day[:7])},
        "summary": _day_summary(pairs),
        "cards": [card(p, media, root) for p in pairs],
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
    days: list[tuple[str, list[Pair]]], media: dict[str, Media], totals: dict[str, Any]
) -> dict[str, Any]:
    root = ""
    newest = list(reversed(days))
    hero = None
    for _, pairs in newest[:1]:
        for pair in pairs:
            photo = photo_image(pair, media, root, large=True)
            lookalike = lookalike_image(pair, media, root, large=True)
            if photo and lookalike:
                hero = card(pair, media, root) | {"photo": photo, "lookalike": lookalike}
                break
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for day, pairs in days:
        months[day[:7]][0] += 1
        months[day[:7]][1] += len(pairs)
    return {
        "root": root,
        "hero": hero,
        "days": [_day_teaser(d, p, media, root, INDEX_CARDS) for d, p in newest[:INDEX_DAYS]],
        "months": [
            {"href": month_path(m), "label": month_label(m), "days": n_days, "pairs": n_pairs}
            for m, (n_days, n_pairs) in sorted(months.items(), reverse=True)
        ],
        "totals": totals,
    }


def totals(all_pairs: list[Pair], days: int) -> dict[str, Any]:
    statuses = Counter(p.status for p in all_pairs)
    cost = sum(number((p.generation or {}).get("cost_usd")) or 0.0 for p in all_pairs)
    latencies = [v for p in all_pairs if p.status == "succeeded"
                 and (v := number((p.generation or {}).get("latency_s"))) is not None]  # fmt: skip
    generators = Counter(
        g for p in all_pairs if (g := _text((p.generation or {}).get("generator")))
    )
    return {
        "days": days,
        "pairs": len(all_pairs),
        "made": statuses.get("succeeded", 0),
        "failed": statuses.get("failed", 0),
        "refused": statuses.get("refused", 0),
        "cost": _money(cost) or "$0.00",
        "latency": _seconds(sum(latencies) / len(latencies)) if latencies else None,
        "generators": [{"name": g, "count": n} for g, n in generators.most_common()],
    }


def stats_page(days: list[tuple[str, list[Pair]]], summary: dict[str, Any]) -> dict[str, Any]:
    names = [d for d, _ in days]
    charts: list[dict[str, Any]] = []
    if names:
        grain = choose_grain(names)
        buckets = sorted({bucket_of(d, grain) for d in names})

        def per_day(pick: Any) -> dict[str, list[float]]:
            out: dict[str, list[float]] = {}
            for day, pairs in days:
                out[day] = [v for p in pairs if p.status == "succeeded"
                            and (v := number(pick(p))) is not None]  # fmt: skip
            return out

        def stat(role: str, key: str) -> Any:
            return lambda p: (p.comparisons.get(role) or {}).get(key)

        for m in IMAGE_MEASURES:
            charts.append(line_chart(
                f"{m.label} ({m.what})", buckets, grain,
                [Series("Photos", "photo", bucket_means(per_day(stat("original", m.key)), grain)),
                 Series("Look-alikes", "lookalike",
                        bucket_means(per_day(stat("generated", m.key)), grain))],
                floor=0.0,
            ))  # fmt: skip
        for m in PAIR_MEASURES[:4]:
            charts.append(line_chart(
                f"{m.label} ({m.what})", buckets, grain,
                [Series("Mean over the day's pairs", "measure",
                        bucket_means(per_day(lambda p, k=m.key: p.comparisons.get(k)), grain))],
                floor=0.0,
            ))  # fmt: skip
        costs = {
            day: [sum(number((p.generation or {}).get("cost_usd")) or 0.0 for p in pairs)]
            for day, pairs in days
        }
        charts.append(line_chart(
            "Cost per day (USD)", buckets, grain,
            [Series("Cost per day", "measure", bucket_means(costs, grain))], floor=0.0,
        ))  # fmt: skip
        charts.append(line_chart(
            "Generation time (seconds per look-alike)", buckets, grain,
            [Series("Mean time", "measure",
                    bucket_means(per_day(lambda p: (p.generation or {}).get("latency_s")), grain))],
            floor=0.0,
        ))  # fmt: skip
    return {"root": "", "totals": summary, "charts": [c for c in charts if c]}


def about_page(all_pairs: list[Pair], summary: dict[str, Any]) -> dict[str, Any]:
    people: dict[tuple[Any, ...], dict[str, Any]] = {}
    for pair in all_pairs:
        c = credit(pair.photo, pair.unsplash)
        key = (c["kind"], c["name"], c.get("profile_url") or c.get("url"), c.get("license"))
        entry = people.setdefault(key, c | {"count": 0})
        entry["count"] += 1
    credits = sorted(people.values(), key=lambda c: (str(c["name"] or "").lower(), c["kind"]))
    return {
        "root": "",
        "measures": [{"label": m.label, "what": m.what} for m in PAIR_MEASURES],
        "image_measures": [{"label": m.label, "what": m.what} for m in IMAGE_MEASURES],
        "credits": credits,
        "totals": summary,
    }

"""The pair page: a photo beside its look-alike, with the measures, the generation's
facts and the palettes; with several generators, every look-alike of the photo side by side
and their measures machine by machine."""

from __future__ import annotations

import re
from typing import Any

from pipeline.lib.site.labels import pair_labels
from pipeline.lib.site.links import relative, share_facts
from pipeline.lib.site.media import Media
from pipeline.lib.site.pages.shared import (
    Pair,
    day_label,
    day_path,
    link,
    lookalike_image,
    money,
    outcome_reason,
    photo_image,
    quality_flag,
    seconds,
    tidy,
)
from pipeline.lib.site.readings import IMAGE_MEASURES, PAIR_MEASURES, number, read_image_measure

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")

GATE_MEASURES = ("zero_shift", "largest_copied_region")
"""Measured by the generator's own quality gate too (patch remix): its receipt's figure is
the one shown, so the gallery and the receipt never disagree about the same look-alike."""


_ATTEMPT_SUFFIX = re.compile(r",? attempt \d+ \([^)]*\)$")


def _strategy(value: Any) -> str | None:
    """Older patch remixes put "attempt N (accepted)" in their strategy; attempts have their
    own line now, read from the gate's record, so they read the same everywhere."""
    text = tidy(value, 120)
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


def measures(pair: Pair) -> list[dict[str, str]]:
    out = []
    gate = (pair.look_alike or {}).get("quality")
    for m in PAIR_MEASURES:
        v = number(pair.comparisons.get(m.key))
        if m.key in GATE_MEASURES and isinstance(gate, dict):
            v = number(gate.get(m.key)) if number(gate.get(m.key)) is not None else v
        if v is not None:
            out.append(
                {
                    "key": m.key,
                    "label": m.label,
                    "value": m.fmt(v),
                    "reading": m.read(v),
                    "what": m.what,
                }
            )
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
            {
                "label": m.label,
                "what": m.what,
                "photo": m.fmt(a),
                "lookalike": m.fmt(b),
                "photo_bar": round(min(1.0, max(0.0, a / m.top)) * 100, 1),
                "lookalike_bar": round(min(1.0, max(0.0, b / m.top)) * 100, 1),
                "reading": read_image_measure(m, a, b),
            }
        )
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
        swatches.append(
            {
                "hex": hex_colour.lower(),
                "share": f"{share * 100:.0f}%",
                "x": round(x * 100, 2),
                "width": round(share * 100, 2),
            }
        )
        x += share
    return swatches


def style_line(pair: Pair) -> str | None:
    """What a style-transfer look-alike was painted like, from its receipt."""
    quality = (pair.look_alike or {}).get("quality")
    style = tidy(quality.get("style"), 80) if isinstance(quality, dict) else None
    if not style:
        return None
    strength = number(quality.get("strength")) if isinstance(quality, dict) else None
    blend = f" ({strength * 100:.0f}% painting, the rest the photo)" if strength else ""
    return f"Painted in the manner of {style}{blend}."


def generation_facts(pair: Pair) -> list[dict[str, str]]:
    gen = pair.look_alike or {}
    facts = [
        ("Generator", tidy(gen.get("generator"), 80)),
        ("Model", tidy(gen.get("model"), 120)),
        ("Strategy", _strategy(gen.get("strategy"))),
        ("Cost", money(gen.get("cost_usd"))),
        ("Time", seconds(gen.get("latency_s"))),
        ("Seed", tidy(gen.get("seed"))),
        ("Attempts", _attempts(gen.get("quality"))),
        ("Generator calls", tidy(gen.get("attempts"))),
    ]
    return [{"label": label, "value": value} for label, value in facts if value]


def pair_page(
    pair: Pair, media: dict[str, Media], prev: Pair | None, next_: Pair | None
) -> dict[str, Any]:
    root = "../../"
    description = tidy(pair.photo.get("description"), 600)
    photo = photo_image(pair, media, root, large=True)
    lookalike = lookalike_image(pair, media, root, large=True)
    published = tidy(pair.photo.get("published_at"))
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
        "reason": outcome_reason(pair) if lookalike is None or pair.status != "succeeded" else None,
        "generator": tidy((pair.look_alike or {}).get("generator"), 80) or "the generator",
        "style": style_line(pair) if lookalike is not None else None,
        "credit": pair.credit,
        "facts": generation_facts(pair),
        "prompt": tidy((pair.look_alike or {}).get("prompt"), 4000),
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
        "prev": link(root, prev.path, tidy(prev.title, 60)) if prev else None,
        "next": link(root, next_.path, tidy(next_.title, 60)) if next_ else None,
        # Several generators: each look-alike beside the photo, and a measure per machine.
        "lookalikes": [_machine(v, media, root) for v in pair.variants()] if pair.others else [],
        "machines": machines(pair) if pair.others else None,
    }


def _machine(pair: Pair, media: dict[str, Media], root: str) -> dict[str, Any]:
    """One generator's look-alike of the photo, for the side-by-side row."""
    image = lookalike_image(pair, media, root, large=True)
    return {
        "generator": tidy((pair.look_alike or {}).get("generator"), 80) or "a generator",
        "image": image,
        "status": pair.status,
        "reason": outcome_reason(pair) if image is None or pair.status != "succeeded" else None,
        "flag": (quality_flag(pair) or {}).get("short"),
        "style": style_line(pair) if image is not None else None,
        "facts": [f for f in generation_facts(pair) if f["label"] in ("Cost", "Time")],
    }


def machines(pair: Pair) -> dict[str, Any]:
    """Each measure of the photo's look-alikes, one column per generator (a blank where a
    generator has no figure)."""
    variants = pair.variants()
    readings = [{m["key"]: m for m in measures(v)} for v in variants]
    rows = []
    for m in PAIR_MEASURES:
        values = [found[m.key]["value"] if m.key in found else None for found in readings]
        if any(v is not None for v in values):
            rows.append({"label": m.label, "what": m.what, "values": values})
    names = [tidy((v.look_alike or {}).get("generator"), 80) or "a generator" for v in variants]
    return {"generators": names, "rows": rows}


def _caption(pair: Pair) -> str | None:
    """Unsplash's own caption (`alt_description`, kept as the photo's description)."""
    return tidy(pair.photo.get("description"), 300) if pair.unsplash else None


def _photo_unavailable(pair: Pair) -> str:
    if pair.unsplash:
        return (
            "This photo's Unsplash address is missing, and Unsplash photos are shown only "
            "from Unsplash."
        )
    return "The stored photo could not be read; it is tried again on the next build."

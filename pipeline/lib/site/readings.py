"""Each comparison measure in one line of plain language.

The thresholds follow what the measures do on the bundled photos and their look-alikes (see
`pipeline/lib/measures/metrics.py`): SSIM ≈ 1 for a copy and 0.1–0.7 for a variation; patch-SWD ≈ 0
for a copy, 1–3 for a good variation, above ~4 for "texture soup"; pHash distance ≈ 32 for
unrelated pictures. Semantic similarity (7 photos, network input 192 px): 0.90–0.98 for a
flip, 0.74–0.95 for a crop, 0.70–0.92 for a patch remix (default settings, seed 1), at most
0.37 between unrelated photos (at 224 px: 0.91–0.98, 0.74–0.97, 0.64–0.94 and 0.42). On
the 35 pairs of `bench/comparisons.py` only the 0.9 edge saw crossings, 4 pairs, 2 each way
(by ≤ 0.08): the edges at 0.45 and 0.6, between a kept and a lost subject, read the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    what: str  # what the number is, for the card's small print and the about page
    fmt: Callable[[float], str]
    read: Callable[[float], str]


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%" if value >= 0.01 or value == 0 else "<1%"


def _band(value: float, bands: list[tuple[float, str]], last: str) -> str:
    for limit, text in bands:
        if value < limit:
            return text
    return last


def read_ssim(v: float) -> str:
    return _band(
        v,
        [
            (0.2, "a different arrangement altogether"),
            (0.45, "the layout is rearranged, not copied"),
            (0.7, "keeps the photo's broad layout; the details are new"),
            (0.9, "the layout closely follows the photo"),
        ],
        "nearly the same picture: close to a copy",
    )


def read_colour_distance(v: float) -> str:
    return _band(
        v,
        [
            (0.02, "the same palette, in the same amounts"),
            (0.05, "very close colours"),
            (0.1, "similar colours, shifted in tone"),
            (0.2, "a noticeably different palette"),
        ],
        "a different palette altogether",
    )


def read_patch_swd(v: float) -> str:
    return _band(
        v,
        [
            (0.5, "the same textures, patch for patch"),
            (3.0, "the same kinds of texture, rearranged"),
            (5.0, "textures loosely related to the photo's"),
        ],
        "textures unlike the photo's",
    )


def read_phash(v: float) -> str:
    return _band(
        v,
        [
            (7, "at a glance, the same picture"),
            (15, "at a glance, a close likeness"),
            (25, "at a glance, a family resemblance"),
        ],
        "at a glance, unrelated pictures",
    )


def read_zero_shift(v: float) -> str:
    if v < 0.01:
        return "almost nothing is copied in place"
    if v < 0.1:
        return f"small areas are copied in place ({_pct(v)} of the patches)"
    if v < 0.5:
        return f"large areas are copied in place ({_pct(v)} of the patches)"
    return "most of the picture is copied in place"


def read_copied_region(v: float) -> str:
    if v < 0.02:
        return "no sizeable block is copied as is"
    if v < 0.15:
        return f"one small block is copied as is ({_pct(v)} of the frame)"
    return f"a block of {_pct(v)} of the frame is copied as is"


def read_semantic_similarity(v: float) -> str:
    return _band(
        v,
        [
            (0.45, "shows something else than the photo"),
            (0.6, "keeps a little of what the photo shows"),
            (0.9, "shows the same kind of subject, made anew"),
        ],
        "shows the same things, much as they are",
    )


PAIR_MEASURES = (
    Measure(
        "ssim", "Structure", "SSIM of the luma, 0–1 (1 = identical)", "{:.2f}".format, read_ssim
    ),
    Measure(
        "colour_distance",
        "Colour",
        "colour-distribution distance, 0–1 (0 = same)",
        "{:.3f}".format,
        read_colour_distance,
    ),
    Measure(
        "patch_swd",
        "Texture",
        "patch-distribution distance (0 = same patches)",
        "{:.2f}".format,
        read_patch_swd,
    ),
    Measure(
        "phash_distance",
        "At a glance",
        "perceptual-hash distance, 0–64 bits",
        lambda v: f"{v:.0f}/64",
        read_phash,
    ),
    Measure(
        "zero_shift",
        "Copied in place",
        "share of patches copied at the same spot",
        _pct,
        read_zero_shift,
    ),
    Measure(
        "largest_copied_region",
        "Largest copied block",
        "largest region pasted rigidly, share of the frame",
        _pct,
        read_copied_region,
    ),
    Measure(
        "semantic_similarity",
        "What it shows",
        "similarity of an image network's features, 0–1 (1 = the same content)",
        "{:.2f}".format,
        read_semantic_similarity,
    ),
)


@dataclass(frozen=True)
class ImageMeasure:
    key: str
    label: str
    what: str
    top: float  # the bar's full scale
    fmt: Callable[[float], str]
    small: float  # differences below this read as "the same"
    large: float  # differences from this read as "much"
    more: str
    less: str
    same: str


IMAGE_MEASURES = (
    ImageMeasure(
        "brightness",
        "Brightness",
        "mean luma, 0–1",
        1.0,
        "{:.2f}".format,
        0.03,
        0.12,
        "brighter",
        "darker",
        "equally bright",
    ),
    ImageMeasure(
        "colourfulness",
        "Colourfulness",
        "Hasler–Süsstrunk, 0 = grey, 100+ = vivid",
        120.0,
        "{:.0f}".format,
        5.0,
        18.0,
        "more colourful",
        "less colourful",
        "equally colourful",
    ),
    ImageMeasure(
        "contrast",
        "Contrast",
        "RMS contrast of the luma, 0–0.5",
        0.5,
        "{:.2f}".format,
        0.02,
        0.07,
        "punchier",
        "softer",
        "the same contrast",
    ),
    ImageMeasure(
        "entropy",
        "Detail",
        "entropy of the tones, 0–8 bits",
        8.0,
        "{:.1f}".format,
        0.2,
        0.8,
        "richer in tones",
        "poorer in tones",
        "as rich in tones",
    ),
)


def read_image_measure(m: ImageMeasure, photo: float, lookalike: float) -> str:
    diff = lookalike - photo
    if abs(diff) < m.small:
        return f"the look-alike is {m.same}"
    amount = "much " if abs(diff) >= m.large else "a little "
    return f"the look-alike is {amount}{m.more if diff > 0 else m.less}"


def number(value: Any) -> float | None:
    """A finite float from a table cell (JSON null, NaN and strings read as missing)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None

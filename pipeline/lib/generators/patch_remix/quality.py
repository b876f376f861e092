"""The quality gate: is a remix a copy, "texture soup", or a new-but-similar image?

A copy is a large block pasted rigidly, many patches left in place, or a near-copy as a
whole (SSIM above the "not a copy" line: what a remix of a flat graphic comes out as).

Copy and coherence measures are read from a match field (output patch → nearest source
patch), warm-started from the synthesis's own last field; the rest come from
`pipeline.lib.measures.metrics`. Thresholds live in `RemixSettings`; see remix.py for calibration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from pipeline.lib.generators.patch_remix.settings import RemixSettings
from pipeline.lib.measures import metrics
from pipeline.lib.measures.nearest import copy_measures

Verdict = Literal["ok", "copy", "soup"]


@dataclass(frozen=True)
class Measures:
    patch_swd: float
    incoherence: float
    colour_distance: float
    zero_shift: float
    largest_copied_region: float
    piece_coverage: float
    ssim: float

    def as_record(self) -> dict[str, Any]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def measure(
    source: np.ndarray, output: np.ndarray, patch: int, field: np.ndarray | None = None
) -> Measures:
    """All gate measures of `output` against `source` (same-size float arrays on [0, 1])."""
    copies, incoherence = copy_measures(source, output, patch, field)
    return Measures(
        patch_swd=metrics.patch_swd(output, source),
        incoherence=incoherence,
        colour_distance=metrics.colour_distance(output, source),
        zero_shift=copies.zero_shift,
        largest_copied_region=copies.largest_region,
        piece_coverage=copies.piece_coverage,
        ssim=metrics.ssim(source, output),
    )


def predict(
    source: np.ndarray, output: np.ndarray, patch: int, field: np.ndarray, s: RemixSettings
) -> tuple[Verdict, dict[str, float]]:
    """Screening verdict at a coarse level, where a full gate would be premature: copying
    there predicts copying at full size (the fine levels only add to it, hence stricter
    limits), and a colour shift persists; patch-SWD and incoherence are still high for
    good candidates at ~50 px, so they are left to the full gate."""
    copies, _ = copy_measures(source, output, patch, field, steps=1)
    colour = metrics.colour_distance(output, source)
    values = {
        "zero_shift": round(copies.zero_shift, 4),
        "largest_copied_region": round(copies.largest_region, 4),
        "colour_distance": round(colour, 4),
    }
    if copies.largest_region > s.screen_copied_region or copies.zero_shift > s.screen_zero_shift:
        return "copy", values
    if colour > s.screen_colour:
        return "soup", values
    return "ok", values


def _checks(m: Measures, s: RemixSettings) -> dict[str, list[tuple[str, float, float]]]:
    return {
        "copy": [
            ("largest copied region", m.largest_copied_region, s.max_copied_region),
            ("zero-shift share", m.zero_shift, s.max_zero_shift),
            ("SSIM", m.ssim, s.max_ssim),
        ],
        "soup": [
            ("patch-SWD", m.patch_swd, s.max_swd),
            ("incoherence", m.incoherence, s.max_incoherence),
            ("fragmentation", 1.0 - m.piece_coverage, 1.0 - s.min_piece_coverage),
            ("colour distance", m.colour_distance, s.max_colour),
        ],
    }


def judge(m: Measures, s: RemixSettings) -> tuple[Verdict, str]:
    """("ok" | "copy" | "soup", one-line reason). Copy is judged first: a copy is the
    failure that must never pass, and more noise is its remedy."""
    checks = _checks(m, s)
    for kind in ("copy", "soup"):
        failed = [f"{name} {v:.3g} > {lim:.3g}" for name, v, lim in checks[kind] if v > lim]
        if failed:
            return kind, f"{kind}: " + ", ".join(failed)  # type: ignore[return-value]
    passed = ", ".join(
        f"{name} {v:.3g} ≤ {lim:.3g}" for name, v, lim in checks["copy"] + checks["soup"]
    )
    return "ok", f"passed: {passed}"


def badness(m: Measures, s: RemixSettings) -> float:
    """The worst measure as a multiple of its threshold (≤ 1 passes); ranks failed attempts."""
    return max(v / lim for group in _checks(m, s).values() for _, v, lim in group)

"""The measured comparisons stored with every look-alike (and shown in the gallery).

Built on the weight-free measures in `metrics` (pair measures), `image_stats` (per-image
measures), the quality gate's copy measure and `semantic` (what each image shows), so any
generator's output is compared with its photo the same way. `bench/comparisons.py` prints
the cost per pair and per step: the copy search takes about a third, patch-SWD a quarter,
the network (both images) a sixth, the rest is shrinking, palettes, SSIM and colour
histograms.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

from pipeline.lib.measures import metrics, nearest, semantic
from pipeline.lib.measures.image_stats import image_stats, phash_distance

MEASURE_SIDE = 256  # bounded cost: a 4K look-alike is measured like a 256 px one
COPY_SIDE = 128  # the copy search is the dearest measure: 256 px has 4 times the patches
COLOUR_SIDE = 2048  # Pillow counts a 2048 px image's colours in ~8 ms
PAIR_SWD_PROJECTIONS = 64
PAIR_SWD_PATCHES = 8192
"""patch-SWD of a pair on 64 directions and at most 8,192 patches per scale, not the
gate's 128 and 16,384: a third of the cost. See `bench/comparisons.py` for how far the
figures move; the patch remix's gate keeps its own, finer estimate."""


def compare_images(
    original: Image.Image,
    generated: Image.Image,
    timings: dict[str, float] | None = None,
    *,
    receipt: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Pair measures at the top level, each image's own measures under its role.

    Keys: ssim, colour_distance, patch_swd, zero_shift, largest_copied_region, phash_distance,
    semantic_similarity, original and generated (each the dict of `image_stats.image_stats`
    plus `labels`: the network's top ImageNet labels, [{name, share}]). With `timings`, the
    CPU seconds of each step are added to it under the step's name (`bench/comparisons.py`).
    `receipt` is the generator's quality record: when its own gate already measured the
    copy figures (a patch remix), they are taken from it, not searched for again.
    """
    clock = _StepClock(timings)
    gate = gate_copy_measures(receipt)
    with clock("resize"):
        # Each image is shrunk once to the measuring size; the pixel measures read that copy.
        photo = metrics.cap_side(original, MEASURE_SIDE)
        lookalike = metrics.cap_side(generated, MEASURE_SIDE)
        # SSIM compares pixel for pixel, so the look-alike takes the photo's exact size.
        aligned = (
            lookalike
            if lookalike.shape == photo.shape
            else metrics.fit_to(generated, photo.shape[0], photo.shape[1])
        )
    with clock("copy"):
        # The quality gate's own copy measure (one measure, one name): a patch remix's
        # receipt has it already; other generators' look-alikes are searched here.
        copied = gate if gate is not None else _copy_measures(photo, aligned)
    with clock("image_stats"):
        original_stats, generated_stats = image_stats(original), image_stats(generated)
    with clock("semantic"):
        original_meaning, generated_meaning = (
            semantic.semantics(original),
            semantic.semantics(generated),
        )
    with clock("ssim"):
        ssim = metrics.ssim(photo, aligned)
    with clock("colour"):
        # Histograms of every pixel (up to COLOUR_SIDE), not of the 256 px copies: small
        # bright detail (the deep field's stars) keeps its real share there.
        colour = metrics.colour_distance(original, generated, max_side=COLOUR_SIDE)
    with clock("patch_swd"):
        swd = metrics.patch_swd(
            photo,
            lookalike,
            max_side=None,
            projections=PAIR_SWD_PROJECTIONS,
            max_patches=PAIR_SWD_PATCHES,
        )
    original_stats["labels"] = semantic.labels_record(original_meaning)
    generated_stats["labels"] = semantic.labels_record(generated_meaning)
    return {
        "ssim": round(ssim, 4),
        "colour_distance": round(colour, 5),
        "patch_swd": round(swd, 3),
        "zero_shift": round(copied.zero_shift, 4),
        "largest_copied_region": round(copied.largest_region, 4),
        "phash_distance": phash_distance(original_stats["phash"], generated_stats["phash"]),
        "semantic_similarity": round(semantic.similarity(original_meaning, generated_meaning), 3),
        "original": original_stats,
        "generated": generated_stats,
    }


def gate_copy_measures(receipt: Mapping[str, Any] | None) -> metrics.CopyMeasures | None:
    """The copy figures a generator's quality gate recorded (both or none), if any."""
    if receipt is None:
        return None
    zero_shift = _number(receipt.get("zero_shift"))
    largest = _number(receipt.get("largest_copied_region"))
    if zero_shift is None or largest is None:
        return None
    return metrics.CopyMeasures(zero_shift, largest)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _copy_measures(photo: np.ndarray, aligned: np.ndarray) -> metrics.CopyMeasures:
    """A cold copy search at COPY_SIDE px of `aligned` (the look-alike at the photo's size)."""
    source = metrics.cap_side(photo, COPY_SIDE)
    output = metrics.fit_to(aligned, source.shape[0], source.shape[1])
    copied, _ = nearest.copy_measures(source, output, metrics.PATCH)
    return copied


class _StepClock:
    """Adds each `with clock(name):` block's CPU seconds to `timings[name]` (None: no-op)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.name = ""
        self.started = 0.0

    def __call__(self, name: str) -> _StepClock:
        self.name = name
        return self

    def __enter__(self) -> None:
        self.started = time.process_time()

    def __exit__(self, *exc: object) -> None:
        if self.timings is not None:
            spent = time.process_time() - self.started
            self.timings[self.name] = self.timings.get(self.name, 0.0) + spent

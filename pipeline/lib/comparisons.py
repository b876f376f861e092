"""The measured comparisons stored with every look-alike (and shown in the gallery).

Built on the weight-free measures in `metrics`, so any generator's output can be compared
with its photo the same way.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from pipeline.lib import metrics

MEASURE_SIDE = 256  # bounded cost: a 4K look-alike is measured like a 256 px one


def compare_images(original: Image.Image, generated: Image.Image) -> dict[str, Any]:
    copied = metrics.copy_measures(generated, original)
    return {
        "ssim": round(metrics.ssim(original, generated, max_side=MEASURE_SIDE), 4),
        "colour_distance": round(metrics.colour_distance(original, generated), 5),
        "patch_swd": round(metrics.patch_swd(original, generated, max_side=MEASURE_SIDE), 3),
        "zero_shift": round(copied.zero_shift, 4),
        "largest_copied_region": round(copied.largest_region, 4),
    }

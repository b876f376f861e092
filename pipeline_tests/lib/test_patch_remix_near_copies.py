"""Patch remix never ships a near-copy: what its gate accepts, an independent SSIM passes.

Flat graphics (a colour wheel, gradients, a flag) are where a remix of a photo's own patches
cannot help coming out close to the photo: every patch looks like its neighbours. The gate
must flag those; on the bundled photos it must accept what is new. The independent judge is
SSIM as Wang et al. (2004) define it and scikit-image computes it (11×11 Gaussian window,
σ 1.5, only windows inside the image), written here from the paper; when it was written it
gave what scikit-image 0.26's `structural_similarity` gives (Gaussian weights, population
covariance) to 4 decimals on 8 pairs of sample photos. The gate's own SSIM is the gallery's
(every pixel counted, the border mirrored): a different computation of the same measure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.signal import fftconvolve

from pipeline.lib.core.images import load_image_file, resize_long_side
from pipeline.lib.generators.patch_remix.remix import remix
from pipeline.lib.generators.patch_remix.settings import RemixSettings

pytestmark = [pytest.mark.xdist_group("test_patch_remix_near_copies"), pytest.mark.slow]

SAMPLES = Path(__file__).parents[2] / "pipeline" / "lib" / "sources" / "sample_photos"
NOT_A_COPY = 0.8  # the "not a copy" line: SSIM below it
# At 96 px the 5 px border the standard SSIM leaves out is a fifth of the image, and the two
# definitions part by up to 0.04; at 128 px by at most 0.03 on these images.
SETTINGS = RemixSettings(work_size=128)
SEED = 1


def reference_ssim(a: Image.Image, b: Image.Image) -> float:
    """Mean SSIM of the BT.601 luma on [0, 1]: Gaussian window σ 1.5 cut at 11×11, K1 0.01,
    K2 0.03, population (co)variances, only windows that lie inside the image."""

    def luma(img: Image.Image) -> np.ndarray:
        rgb = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
        return rgb @ np.array([0.299, 0.587, 0.114])

    x, y = luma(a), luma(b)
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()

    def mean(z: np.ndarray) -> np.ndarray:
        return fftconvolve(z, window, mode="valid")

    mx, my = mean(x), mean(y)
    vx, vy, cxy = mean(x * x) - mx * mx, mean(y * y) - my * my, mean(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    ssim = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(ssim.mean())


def colour_wheel(side: int = 192) -> Image.Image:
    """Hue round the circle, saturation out from the centre, white outside."""
    y, x = (np.mgrid[0:side, 0:side] - (side - 1) / 2) / ((side - 1) / 2)
    radius = np.hypot(x, y)
    hue = np.arctan2(y, x) / (2 * np.pi) % 1.0
    hsv = np.stack([hue, np.clip(radius, 0, 1), np.ones_like(radius)], axis=-1) * 255
    rgb = np.asarray(Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")).copy()
    rgb[radius > 1] = 255
    return Image.fromarray(rgb)


def linear_gradient(width: int = 192, height: int = 144) -> Image.Image:
    t = np.linspace(0.0, 1.0, width)[None, :, None]
    rgb = np.array([30, 60, 200]) * (1 - t) + np.array([250, 200, 40]) * t
    return Image.fromarray(np.repeat(rgb, height, axis=0).astype(np.uint8))


def radial_gradient(side: int = 160) -> Image.Image:
    y, x = np.mgrid[0:side, 0:side]
    r = np.clip(np.hypot(x - side / 2, y - side / 2) / (side / 2), 0, 1)
    rgb = np.stack([255 * (1 - r), 80 + 100 * r, np.full_like(r, 160)], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


def tricolour(width: int = 192, height: int = 128) -> Image.Image:
    rgb = np.empty((height, width, 3), np.uint8)
    thirds = np.array_split(np.arange(width), 3)
    for part, colour in zip(thirds, [(200, 30, 40), (250, 250, 250), (20, 60, 160)], strict=True):
        rgb[:, part] = colour
    return Image.fromarray(rgb)


GRAPHICS = {
    "colour wheel": colour_wheel,
    "linear gradient": linear_gradient,
    "radial gradient": radial_gradient,
    "tricolour": tricolour,
}


def judged(image: Image.Image) -> tuple[dict[str, object], float]:
    """The remix's record, and the independent SSIM of what it ships against the photo."""
    result = remix(image, seed=SEED, settings=SETTINGS)
    photo = resize_long_side(image.convert("RGB"), max(result.image.size))
    return result.record, reference_ssim(photo, result.image)


def assert_gate_agrees(record: dict[str, object], independent: float) -> None:
    gate = float(record["ssim"])  # type: ignore[arg-type]
    assert gate == pytest.approx(independent, abs=0.03)
    near_copy = independent >= NOT_A_COPY
    assert (gate > SETTINGS.max_ssim) == near_copy, (gate, independent)
    if near_copy:  # never shipped as a success, and the reason says why
        assert record["accepted"] is False and record["flagged"] is True
        assert "copy: SSIM" in str(record["reason"])


@pytest.mark.parametrize("name", sorted(GRAPHICS))
def test_a_flat_graphic_is_flagged_as_the_near_copy_it_is(name: str) -> None:
    record, independent = judged(GRAPHICS[name]())
    assert independent >= NOT_A_COPY  # the remix cannot help copying these...
    assert_gate_agrees(record, independent)  # ...and the gate says so


@pytest.mark.parametrize("name", sorted(p.stem for p in SAMPLES.glob("*.jpg")))
def test_on_every_sample_photo_the_gate_and_an_independent_ssim_agree(name: str) -> None:
    record, independent = judged(load_image_file(SAMPLES / f"{name}.jpg"))
    assert_gate_agrees(record, independent)
    assert independent < NOT_A_COPY  # photos have detail to rearrange: no near-copies

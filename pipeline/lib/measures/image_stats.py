"""Measures of one image on its own: palette, brightness, colourfulness, contrast, entropy, pHash.

The gallery sets these side by side for a photo and its look-alike ("the machine's version is
darker and less colourful"), and the perceptual hash gives an at-a-glance likeness score. All of
it is deterministic, needs only numpy, scipy and Pillow, and works on a small copy of the image
so its cost does not grow with the image (a few milliseconds per image).
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np
from PIL import Image
from scipy.fft import dctn

from pipeline.lib.measures.metrics import ImageLike

STATS_SIDE = 256
"""Images are measured at most this many pixels on the long side."""

PALETTE_SIDE = 64
"""Dominant colours are clustered on at most this many pixels on the long side (≤ 4096 px)."""

PALETTE_SIZE = 5
KMEANS_ITERATIONS = 25
HASH_SIDE = 32
HASH_BITS_SIDE = 8  # 8 × 8 low frequencies → a 64-bit hash


class Swatch(TypedDict):
    hex: str
    share: float


def image_stats(img: ImageLike) -> dict[str, Any]:
    """All per-image measures as a JSON-ready dict (stored with each generation).

    brightness: mean luma on [0, 1]. contrast: RMS contrast, the standard deviation of the luma
    on [0, 1]. colourfulness: Hasler–Süsstrunk M on 0–255 RGB (0 = grey, ~33 moderately, ~59
    quite, ≥ ~82 highly colourful). entropy: Shannon entropy of the luma histogram in bits
    (0–8). dominant_colours: the 5 main colours with their share of the pixels, largest first.
    phash: the 64-bit DCT perceptual hash as 16 hex digits.
    """
    small = _rgb_image(img, STATS_SIDE)
    rgb = np.asarray(small, dtype=np.float64)
    luma = np.asarray(small.convert("L"), dtype=np.float64) / 255.0
    return {
        "brightness": round(float(luma.mean()), 4),
        "contrast": round(float(luma.std()), 4),
        "colourfulness": round(colourfulness(rgb), 2),
        "entropy": round(_entropy(luma), 3),
        "dominant_colours": dominant_colours(small),
        "phash": phash(small),
    }


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness M of an (H, W, 3) array on 0–255."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    spread = np.hypot(rg.std(), yb.std())
    centre = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * centre)


def _entropy(luma: np.ndarray) -> float:
    counts = np.bincount(np.clip(np.rint(luma * 255.0), 0, 255).astype(np.intp).ravel(), None, 256)
    p = counts[counts > 0] / luma.size
    return float(-(p * np.log2(p)).sum())


def dominant_colours(img: ImageLike, k: int = PALETTE_SIZE) -> list[Swatch]:
    """The `k` dominant colours by k-means in RGB, largest share first.

    Seeded k-means++ on a ≤ 64 px copy, so the same image always gives the same palette.
    Images with fewer than `k` distinct colours give fewer swatches.
    """
    pixels = np.asarray(_rgb_image(img, PALETTE_SIDE), dtype=np.float64).reshape(-1, 3)
    centres = _kmeans_pp_init(pixels, k, np.random.default_rng(0))
    labels = np.zeros(len(pixels), dtype=np.intp)
    planes = pixels.T.copy()  # one contiguous row per channel: the loop below reads channels
    for _ in range(KMEANS_ITERATIONS):
        # Squared distances summed channel by channel, in the order a sum over RGB takes;
        # one row per centre, so the nearest is found across a few long rows (twice as fast
        # as along many rows of k).
        dist = (planes[0][None, :] - centres[:, 0, None]) ** 2
        dist += (planes[1][None, :] - centres[:, 1, None]) ** 2
        dist += (planes[2][None, :] - centres[:, 2, None]) ** 2
        labels = dist.argmin(axis=0)
        counts = np.bincount(labels, minlength=len(centres))[:, None]
        sums = np.stack(
            [np.bincount(labels, planes[ch], minlength=len(centres)) for ch in range(3)], 1
        )
        moved = np.where(counts > 0, sums / np.maximum(counts, 1), centres)
        # np.allclose(moved, centres, atol=0.25), without its general-case overhead
        if (np.abs(moved - centres) <= 0.25 + 1e-5 * np.abs(centres)).all():
            centres = moved
            break
        centres = moved
    shares = np.bincount(labels, minlength=len(centres)) / len(pixels)
    swatches: dict[str, float] = {}
    for c in np.argsort(-shares, kind="stable"):
        if shares[c] <= 0:
            continue
        hex_colour = "#{:02x}{:02x}{:02x}".format(*np.clip(np.rint(centres[c]), 0, 255).astype(int))
        swatches[hex_colour] = swatches.get(hex_colour, 0.0) + float(shares[c])
    return [{"hex": h, "share": round(s, 3)} for h, s in swatches.items()]


def _kmeans_pp_init(pixels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    # Pixels are whole 0–255 values: packed into one integer each, counting the distinct
    # colours is a fast 1-D unique; the row-wise one runs only for the rare tiny palettes.
    packed = (pixels[:, 0] * 65536.0 + pixels[:, 1] * 256.0 + pixels[:, 2]).astype(np.int64)
    if len(np.unique(packed)) <= k:
        return np.unique(pixels, axis=0)
    centres = [pixels[rng.integers(len(pixels))]]
    nearest = ((pixels - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = nearest.sum()
        if total <= 0:
            break
        centres.append(pixels[rng.choice(len(pixels), p=nearest / total)])
        nearest = np.minimum(nearest, ((pixels - centres[-1]) ** 2).sum(axis=1))
    return np.array(centres)


def phash(img: ImageLike) -> str:
    """64-bit DCT perceptual hash (16 hex digits).

    The luma is reduced to 32 × 32, transformed with a 2-D DCT, and each of the 8 × 8 lowest
    frequencies becomes one bit: above or below their median (the DC term is left out of the
    median, as it only says how bright the image is).
    """
    grey = _rgb_image(img, None).convert("L").resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BOX)
    low = slice(0, HASH_BITS_SIDE)
    coeffs = dctn(np.asarray(grey, dtype=np.float64), norm="ortho")[low, low]
    median = np.median(coeffs.ravel()[1:])
    bits = (coeffs > median).ravel()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:016x}"


def phash_distance(a: str, b: str) -> int:
    """Hamming distance between two pHashes: 0 = same picture, ~32 = unrelated, 64 = inverse."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _rgb_image(img: ImageLike, max_side: int | None) -> Image.Image:
    """An RGB PIL image at most `max_side` px on the long side (box filter: fast, antialiased)."""
    if isinstance(img, Image.Image):
        im = img if img.mode == "RGB" else img.convert("RGB")
    else:
        arr = np.asarray(img)
        if arr.dtype != np.uint8:
            arr = np.clip(np.rint(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        im = Image.fromarray(np.ascontiguousarray(arr[:, :, :3]), "RGB")
    if max_side is not None and max(im.size) > max_side:
        scale = max_side / max(im.size)
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(size, Image.Resampling.BOX)
    return im

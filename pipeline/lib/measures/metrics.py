"""Weight-free image comparison measures: is a look-alike similar, new, and not a copy?

Everything here compares two RGB images (PIL images or arrays, uint8 or float on [0, 1]) that
may differ in size, needs no downloaded weights, and is deterministic. The patch generator uses
these measures for its quality gate and the gallery uses them to compare any photo with any
look-alike, so this module knows nothing about how an image was made.

Typical values on the 7 sample photos at 256 px (the patch remix's gate and its calibration
are in `pipeline/lib/generators/patch_remix/settings.py`):

| measure | copy | accepted patch remix | 8 px block shuffle ("soup") |
|---|---|---|---|
| patch-SWD (×100) | 0 | 0.4–2.3 | 0.6–8.3 |
| SSIM | 1 | 0.27–0.80 (the gate's line) | 0.03–0.28 |
| largest copied region | 1 | 0.07–0.30 | ≈ 0 |
| incoherence | 0 | 0.01–0.13 | 0.5–3.8 |
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

ImageLike = Image.Image | np.ndarray

PATCH = 7
SWD_SCALES = (1.0, 0.5, 0.25)
SWD_PROJECTIONS = 128
SWD_MAX_PATCHES = 16384
MEASURE_SIDE = 256
"""Images are measured at most this many pixels on the long side, so cost is bounded."""

COPY_MSE = 1e-4
"""A patch counts as copied when its per-pixel mean squared error to its match is below this
(on [0, 1]; about 2.5/255 RMS, i.e. re-encoding noise)."""

COPY_REL = 0.1
"""...or below this share of the patch's own variance (JPEG error grows with detail)."""

PIECE_MIN = 0.01
"""Rigid pieces smaller than this share of the image count as fragments, not pieces."""

COPY_TEXTURE_VAR = 1e-3
"""Patches with at least this pixel variance (std ≈ 8/255) count fully as copy evidence."""


@dataclass(frozen=True)
class CopyMeasures:
    """How much of an image is pasted from another, read from a nearest-neighbour field.

    zero_shift: share of patches whose near-exact match sits at the same relative position.
    largest_region: share of patches in the largest 4-connected region that shares one
        displacement with near-exact matches (a rigidly copied block, wherever it moved).
    piece_coverage: share of patches in such regions of at least PIECE_MIN each. A copy is
        one piece; a coherent rearrangement is a few sizeable pieces; "texture soup" is
        fragments, so little of it is covered (sample photos: soup 0.13–0.36, good 0.34+).
    """

    zero_shift: float
    largest_region: float
    piece_coverage: float = 0.0


def to_float(img: ImageLike) -> np.ndarray:
    """An (H, W, 3) float32 array on [0, 1] from a PIL image or a uint8/float array."""
    if isinstance(img, Image.Image):
        arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    else:
        arr = np.asarray(img)
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"expected an RGB image array, got shape {arr.shape}")
        arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    return np.ascontiguousarray(arr)


def resize_array(arr: np.ndarray, height: int, width: int) -> np.ndarray:
    """Antialiased resize of a float (H, W, 3) array: Pillow's bicubic per channel, clipped."""
    if arr.shape[:2] == (height, width):
        return arr
    planes = [
        np.asarray(Image.fromarray(arr[:, :, c]).resize((width, height), Image.Resampling.BICUBIC))
        for c in range(arr.shape[2])
    ]
    return np.clip(np.stack(planes, axis=2), 0.0, 1.0).astype(np.float32)


def cap_side(img: ImageLike, max_side: int | None) -> np.ndarray:
    """`to_float`, downscaled so the long side is at most `max_side` (None: as is). PIL
    images are shrunk before conversion, so a 4K photo never becomes a 4K float array."""
    if isinstance(img, Image.Image):
        img = _shrunk(img, max_side)
    arr = to_float(img)
    h, w = arr.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return arr
    s = max_side / max(h, w)
    return resize_array(arr, max(1, round(h * s)), max(1, round(w * s)))


def _shrunk(img: Image.Image, max_side: int | None) -> Image.Image:
    """`img` (bicubic) downscaled so the long side is at most `max_side` (None: as is)."""
    if max_side is None or max(img.size) <= max_side:
        return img
    s = max_side / max(img.size)
    size = (max(1, round(img.width * s)), max(1, round(img.height * s)))
    return img.convert("RGB").resize(size, Image.Resampling.BICUBIC)


def fit_to(img: ImageLike, height: int, width: int) -> np.ndarray:
    """`to_float` resized to exactly (height, width); PIL images are resized by Pillow first."""
    if isinstance(img, Image.Image):
        if img.size != (width, height):
            img = img.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
        return to_float(img)
    return resize_array(to_float(img), height, width)


def patch_matrix(arr: np.ndarray, patch: int = PATCH) -> np.ndarray:
    """All stride-1 patches as rows of an (N, patch·patch·C) float32 matrix, row-major order."""
    win = sliding_window_view(arr, (patch, patch), axis=(0, 1))  # (Hp, Wp, C, p, p)
    return np.ascontiguousarray(win.reshape(win.shape[0] * win.shape[1], -1), dtype=np.float32)


def patch_swd_scales(
    a: ImageLike,
    b: ImageLike,
    *,
    scales: Sequence[float] = SWD_SCALES,
    projections: int = SWD_PROJECTIONS,
    max_patches: int = SWD_MAX_PATCHES,
    patch: int = PATCH,
    max_side: int | None = MEASURE_SIDE,
    seed: int = 0,
) -> list[float]:
    """Sliced Wasserstein distance between the patch distributions of `a` and `b`, per scale.

    At each scale both images are downscaled, all 7×7 RGB patches (at most `max_patches`, a
    seeded random subset) are projected on the same `projections` random unit directions
    (fixed `seed`), and the sorted projections are compared at common quantiles (so sizes may
    differ). Result: mean absolute gap ×100 on [0, 1] pixels.
    """
    fa, fb = cap_side(a, max_side), cap_side(b, max_side)
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal((patch * patch * 3, projections)).astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    # The directions were drawn for patches read channel by channel; the patches below are
    # read pixel by pixel (all three channels at once), so the rows are put in that order.
    dirs = np.ascontiguousarray(dirs.reshape(3, patch * patch, -1).transpose(1, 0, 2))
    dirs = dirs.reshape(patch * patch * 3, -1)
    out = []
    for s in scales:
        pa, pb = _scaled(fa, s, patch), _scaled(fb, s, patch)
        if pa is None or pb is None:
            continue
        gap = sorted_gap(
            _projections(pa, dirs, patch, seed, max_patches),
            _projections(pb, dirs, patch, seed, max_patches),
        )
        out.append(gap * 100.0)
    return out


SORT_LEVELS = 65535
"""Projections are sorted as 16-bit integers over each direction's range (see `sorted_gap`)."""


def sorted_gap(pa: np.ndarray, pb: np.ndarray) -> float:
    """Mean absolute gap between the sorted rows of `pa` and `pb` ((directions, n) arrays),
    compared at common quantiles: the mean 1-D Wasserstein distance over the directions.

    Sorting is most of patch-SWD's cost, so each direction's values (both images' together)
    are rounded to one of 65,536 levels over their joint range and sorted as 16-bit
    integers, which numpy radix-sorts 4–5× faster than floats. Each value moves by at most
    half a level, so a row's mean gap by at most one level (its range / 65,535), and
    identical rows still give 0 (`test_metrics.py` holds it to the float sort).
    """
    lo = np.minimum(pa.min(axis=1), pb.min(axis=1))[:, None]
    level = (np.maximum(pa.max(axis=1), pb.max(axis=1))[:, None] - lo) / SORT_LEVELS
    level[level <= 0] = 1.0  # a direction every patch projects alike: all values level 0
    qa, qb = _sorted_levels(pa, lo, level), _sorted_levels(pb, lo, level)
    n = min(qa.shape[1], qb.shape[1])
    # Same-length lists (two large images both sampled) need no re-indexing: the common
    # quantiles are then every column.
    if qa.shape[1] != n:
        qa = qa[:, _quantile_cols(qa.shape[1], n)]
    if qb.shape[1] != n:
        qb = qb[:, _quantile_cols(qb.shape[1], n)]
    gaps = np.abs(np.subtract(qa, qb, dtype=np.int32)).sum(axis=1, dtype=np.int64)
    return float((gaps * level[:, 0]).sum()) / (qa.shape[0] * n)


def _sorted_levels(values: np.ndarray, lo: np.ndarray, level: np.ndarray) -> np.ndarray:
    scaled = np.subtract(values, lo, dtype=np.float32)
    scaled /= level
    levels = np.rint(scaled, out=scaled).astype(np.uint16)
    levels.sort(axis=1, kind="stable")  # a radix sort for 16-bit integers
    return levels


def _projections(
    arr: np.ndarray, dirs: np.ndarray, patch: int, seed: int, max_patches: int
) -> np.ndarray:
    """(projections, n) projections of at most `max_patches` patches of `arr`, each patch
    read pixel by pixel with its three channels (the row order of `dirs`).

    Sorting them dominates patch-SWD's cost, so big images are measured on a random subset
    of patches; the subset depends only on the patch count and `seed`, so identical images
    still score 0. Only the picked patches are copied out of the image.
    """
    h, w = arr.shape[:2]
    wp = w - patch + 1
    corners = _patch_sample((h - patch + 1) * wp, max_patches, seed)
    ys, xs = np.divmod(corners, wp)
    offsets = (np.arange(patch)[:, None] * w + np.arange(patch)[None, :]).ravel()
    pixels = np.ascontiguousarray(arr, dtype=np.float32).reshape(h * w, -1)
    # np.take, not fancy indexing: 4× faster for this gather of whole pixels
    patches = np.take(pixels, (ys * w + xs)[:, None] + offsets[None, :], axis=0)
    patches = patches.reshape(len(corners), -1)
    return dirs.T @ patches.T  # rows are contiguous, so the sort is cache-friendly


@functools.lru_cache(maxsize=32)
def _patch_sample(count: int, max_patches: int, seed: int) -> np.ndarray:
    """Sorted indices of the patches measured: all `count`, or a seeded random subset."""
    if count <= max_patches:
        sample = np.arange(count)
    else:
        sample = np.sort(np.random.default_rng(seed).choice(count, max_patches, replace=False))
    sample.flags.writeable = False  # shared by every later call
    return sample


def patch_swd(
    a: ImageLike,
    b: ImageLike,
    *,
    max_side: int | None = MEASURE_SIDE,
    seed: int = 0,
    projections: int = SWD_PROJECTIONS,
    max_patches: int = SWD_MAX_PATCHES,
) -> float:
    """Mean of `patch_swd_scales` over the scales 1, 1/2, 1/4 (×100 on [0, 1] pixels)."""
    per_scale = patch_swd_scales(
        a, b, max_side=max_side, seed=seed, projections=projections, max_patches=max_patches
    )
    return float(np.mean(per_scale)) if per_scale else float("nan")


def _scaled(arr: np.ndarray, scale: float, patch: int) -> np.ndarray | None:
    h, w = arr.shape[:2]
    hh, ww = round(h * scale), round(w * scale)
    if min(hh, ww) < patch + 2:
        return None
    return resize_array(arr, hh, ww)


def _quantile_cols(length: int, n: int) -> np.ndarray:
    return ((np.arange(n) + 0.5) * (length / n)).astype(np.intp)


def nn_field(
    output: ImageLike,
    source: ImageLike,
    *,
    patch: int = PATCH,
    max_side: int | None = 128,
    chunk: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest source patch for every output patch.

    `source` is capped to `max_side` (exact search is quadratic) and `output` is resized to the
    source's size, so positions are comparable. Returns (field, mse): field is (Hp, Wp, 2) int
    (y, x) of the matched source patch's top-left corner, mse the per-pixel mean squared error.
    When a patch matches its own position as well as any other (flat areas), the own position
    wins, so an untouched copy reads as zero displacement.
    """
    src = cap_side(source, max_side)
    out = fit_to(output, src.shape[0], src.shape[1])
    hp, wp = src.shape[0] - patch + 1, src.shape[1] - patch + 1
    keys, queries = patch_matrix(src, patch), patch_matrix(out, patch)
    dim = keys.shape[1]
    k2 = np.einsum("ij,ij->i", keys, keys)
    best = np.empty(len(queries), dtype=np.intp)
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk]
        d = k2[None, :] - 2.0 * (q @ keys.T)
        best[start : start + chunk] = np.argmin(d, axis=1)
    idx = np.arange(len(queries))
    mse = ((queries - keys[best]) ** 2).sum(axis=1) / dim
    own = ((queries - keys) ** 2).sum(axis=1) / dim
    best = np.where(own <= mse + 1e-7, idx, best)
    mse = np.minimum(own, mse)
    field = np.stack(np.divmod(best, wp), axis=-1).reshape(hp, wp, 2)
    return field, mse.reshape(hp, wp).astype(np.float32)


def patch_variance(image: ImageLike, *, patch: int = PATCH) -> np.ndarray:
    """(Hp, Wp) pixel variance of every patch (mean over channels), on the top-left grid."""
    arr = to_float(image)
    mean = ndimage.uniform_filter(arr, size=(patch, patch, 1), mode="nearest")
    sq = ndimage.uniform_filter(arr * arr, size=(patch, patch, 1), mode="nearest")
    var = np.maximum(sq - mean * mean, 0.0).mean(axis=2)
    c = patch // 2
    return var[c : arr.shape[0] - c, c : arr.shape[1] - c].astype(np.float32)


def copy_measures_from_field(
    field: np.ndarray,
    mse: np.ndarray,
    variance: np.ndarray | None = None,
) -> CopyMeasures:
    """Copy measures from a match field (Hp, Wp, 2) of (y, x) and its per-patch mse (Hp, Wp).

    The field maps each output patch to a source patch on a grid of the same size. With the
    output's `patch_variance`, a match counts as exact below COPY_MSE + COPY_REL × variance
    (re-encoding noise grows with detail), and shares are weighted by min(1, variance /
    COPY_TEXTURE_VAR): they read as "share of the image's detail", not of its flat
    background, because a flat patch (sky, black border) matches many places equally well.
    """
    hp, wp = mse.shape
    w: np.ndarray
    limit: np.ndarray
    if variance is None:
        w = np.ones((hp, wp), np.float32)
        limit = np.full((hp, wp), COPY_MSE, np.float32)
    else:
        w = np.minimum(variance / COPY_TEXTURE_VAR, 1.0)
        limit = COPY_MSE + COPY_REL * variance
    total = float(w.sum())
    if total <= 1e-6 * hp * wp:  # a flat image has no detail to copy: count every patch
        w, total = np.ones((hp, wp), np.float32), float(hp * wp)
    ys, xs = np.mgrid[0:hp, 0:wp]
    dy, dx = field[..., 0] - ys, field[..., 1] - xs
    exact = mse < limit
    zero_shift = float(w[exact & (dy == 0) & (dx == 0)].sum()) / total
    pieces = _rigid_pieces(dy, dx, exact, w) / total
    largest = float(pieces.max()) if pieces.size else 0.0
    return CopyMeasures(zero_shift, largest, float(pieces[pieces >= PIECE_MIN].sum()))


def copy_measures(
    output: ImageLike, source: ImageLike, *, max_side: int | None = 128
) -> CopyMeasures:
    """`nn_field` then `copy_measures_from_field`: how much of `output`'s detail is pasted
    rigidly from `source` (output resized to the capped source size first)."""
    field, mse = nn_field(output, source, max_side=max_side)
    src_shape = (field.shape[0] + PATCH - 1, field.shape[1] + PATCH - 1)
    out = fit_to(output, *src_shape)
    return copy_measures_from_field(field, mse, patch_variance(out))


def incoherence_from_field(mse: np.ndarray, source_variance: np.ndarray) -> float:
    """Mean error of each output patch to its nearest source patch, over the source's mean
    patch variance: ≈ 0 when every patch of the output exists in the source (a copy or a
    clean rearrangement); large when seams or mush make patches the source never had."""
    return float(mse.mean()) / max(float(source_variance.mean()), 1e-6)


def incoherence(output: ImageLike, source: ImageLike, *, max_side: int | None = 128) -> float:
    """`incoherence_from_field` with an exact `nn_field` (output resized to the capped source)."""
    _, mse = nn_field(output, source, max_side=max_side)
    return incoherence_from_field(mse, patch_variance(cap_side(source, max_side)))


def _rigid_pieces(
    dy: np.ndarray, dx: np.ndarray, valid: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Weight of every 4-connected set of valid positions sharing one displacement."""
    if not valid.any():
        return np.zeros(0)
    hp, wp = dy.shape
    ids = np.arange(hp * wp).reshape(hp, wp)
    rows, cols = [], []
    for sl_a, sl_b in (
        ((slice(None), slice(0, -1)), (slice(None), slice(1, None))),
        ((slice(0, -1), slice(None)), (slice(1, None), slice(None))),
    ):
        same = valid[sl_a] & valid[sl_b] & (dy[sl_a] == dy[sl_b]) & (dx[sl_a] == dx[sl_b])
        rows.append(ids[sl_a][same])
        cols.append(ids[sl_b][same])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), np.int8), (r, c)), shape=(hp * wp, hp * wp))
    _, labels = connected_components(graph, directed=False)
    v = valid.ravel()
    return np.bincount(labels[v], weights=weights.ravel()[v])


def ssim(a: ImageLike, b: ImageLike, *, max_side: int | None = None) -> float:
    """Mean structural similarity of the luma (BT.601) of `a` and `b`.

    Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03, data range 1. If the sizes differ, `b` is
    resized (Pillow bicubic, antialiased) to `a`'s size, after `a` is capped to `max_side`.
    """
    fa = cap_side(a, max_side)
    fb = fit_to(b, fa.shape[0], fa.shape[1])
    x, y = _luma(fa).astype(np.float64), _luma(fb).astype(np.float64)
    c1, c2 = 0.01**2, 0.03**2

    def blur(z: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(z, 1.5, truncate=3.5, mode="reflect")

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * cxy + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    return float(np.mean(num / den))


def colour_distance(
    a: ImageLike, b: ImageLike, *, bins: int = 256, max_side: int | None = 512
) -> float:
    """Mean over R, G, B of the 1-D Wasserstein distance between pixel-value histograms on [0, 1].

    Sizes may differ (each image is capped to `max_side` first, which barely changes a
    histogram: PIL images by averaging whole blocks of pixels, arrays bicubic); 0 means
    identical colour distributions, 1 is the maximum.
    """
    total = 0.0
    for ha, hb in zip(_histograms(a, bins, max_side), _histograms(b, bins, max_side), strict=True):
        total += float(np.abs(np.cumsum(ha) - np.cumsum(hb)).sum()) / bins
    return total / 3.0


def _histograms(img: ImageLike, bins: int, max_side: int | None) -> list[np.ndarray]:
    """Each channel's share of pixels per bin, `bins` equal bins on [0, 1]."""
    if bins == 256 and isinstance(img, Image.Image):
        # Byte k is k/255 on [0, 1], which lies in [k/256, (k + 1)/256): 256 bins count the
        # bytes themselves, which Pillow does at ~2 ms a megapixel. Larger images are first
        # reduced by whole blocks (no resampling filter to pay for, and a star keeps its
        # share of a block), so the cost stays bounded.
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        if max_side is not None and max(rgb.size) > max_side:
            rgb = rgb.reduce(math.ceil(max(rgb.size) / max_side))
        counts = np.asarray(rgb.histogram(), dtype=np.float64).reshape(3, 256)
        return list(counts / (rgb.width * rgb.height))
    f = cap_side(img, max_side)
    return [
        np.histogram(f[:, :, c], bins=bins, range=(0.0, 1.0))[0] / f[:, :, c].size for c in range(3)
    ]


def pixel_diversity(outputs: Sequence[ImageLike], source: ImageLike) -> float:
    """SinGAN-style diversity: per-pixel std of the luma over `outputs`, averaged over pixels,
    divided by the std of the source's luma. Outputs and source are resized to the first
    output's size. 0 means every output is the same image; needs at least two outputs.
    """
    if len(outputs) < 2:
        raise ValueError("pixel diversity needs at least two outputs")
    first = to_float(outputs[0])
    h, w = first.shape[:2]
    stack = np.stack([_luma(fit_to(o, h, w)) for o in outputs])
    ref = _luma(fit_to(source, h, w))
    spread = float(ref.std())
    return float(stack.std(axis=0).mean() / spread) if spread > 0 else 0.0


def _luma(arr: np.ndarray) -> np.ndarray:
    return arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32)

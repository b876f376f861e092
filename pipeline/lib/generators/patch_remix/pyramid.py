"""Image pyramid, patch folding and field rescaling for the coarse-to-fine remix."""

from __future__ import annotations

import numpy as np

from pipeline.lib.measures.metrics import resize_array


def level_shapes(height: int, width: int, ratio: float, min_side: int) -> list[tuple[int, int]]:
    """(h, w) per level, finest first, shrinking by `ratio` until the short side would drop
    below `min_side`."""
    shapes = [(height, width)]
    while True:
        h, w = shapes[-1]
        nh, nw = round(h * ratio), round(w * ratio)
        if min(nh, nw) < min_side or (nh, nw) == (h, w):
            return shapes
        shapes.append((nh, nw))


def build_pyramid(image: np.ndarray, shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    """Each level resized straight from the full image (antialiased), not cascaded."""
    return [resize_array(image, h, w) for h, w in shapes]


def fold_weights(patch: int, sigma: float) -> np.ndarray:
    """Gaussian weights over a patch: centre pixels count more than the edges when patches
    overlap. A plain mean blurs, and repeated blurring over the fine levels faded small
    bright detail (the deep field lost ~30 % of its bright pixels at sigma 2; sigma 1 keeps
    more and lowered its patch-SWD from 1.5 to 1.1)."""
    c = (patch - 1) / 2
    g = np.exp(-((np.arange(patch) - c) ** 2) / (2 * sigma**2))
    return np.outer(g, g).astype(np.float32)


def fold(values: np.ndarray, field: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rebuild an image from overlapping value patches.

    `field` ((hq, wq) flat indices of top-left corners in `values`, an (H, W, 3) array) says
    which value patch lands at each query position; every output pixel is the weighted mean
    of the patch pixels that cover it (`weights`: one (p, p) weight per patch pixel).
    """
    h, w = values.shape[:2]
    p = weights.shape[0]
    hq, wq = field.shape
    planes = np.ascontiguousarray(values.transpose(2, 0, 1).reshape(3, h * w))
    acc = np.zeros((3, hq + p - 1, wq + p - 1), np.float32)
    norm = np.zeros((hq + p - 1, wq + p - 1), np.float32)
    base = field.ravel()
    for dy in range(p):
        for dx in range(p):
            got = np.take(planes, base + (dy * w + dx), axis=1).reshape(3, hq, wq)
            acc[:, dy : dy + hq, dx : dx + wq] += got * weights[dy, dx]
            norm[dy : dy + hq, dx : dx + wq] += weights[dy, dx]
    return (acc / np.maximum(norm, 1e-12)).transpose(1, 2, 0)


def centre_fold(values: np.ndarray, field: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Like `fold`, but every pixel a patch centre covers takes exactly that centre's value.

    Averaging 49 unrelated patches turns an incoherent start into grey mush, which later
    levels then match to flat background (content disappears); taking centres keeps every
    colour of the rearranged start and leaves the smoothing to the next level.
    """
    out = fold(values, field, weights)
    p = weights.shape[0]
    c = p // 2
    h, w = values.shape[:2]
    hq, wq = field.shape
    flat = values.reshape(h * w, 3)
    out[c : c + hq, c : c + wq] = np.take(flat, field.ravel() + (c * w + c), axis=0).reshape(
        hq, wq, 3
    )
    return out


def rescale_field(
    field: np.ndarray,
    old_keys: tuple[int, int],
    new_queries: tuple[int, int],
    new_keys: tuple[int, int],
) -> np.ndarray:
    """Carry a match field to the next finer level: each new query takes the match of its
    position on the coarse query grid (plus its offset inside that coarse cell), scaled to
    the new key grid, so neighbouring queries keep neighbouring keys."""
    ohq, owq = field.shape
    sy, sx = np.divmod(field, old_keys[1])
    iy, fy = _cells(new_queries[0], ohq)
    ix, fx = _cells(new_queries[1], owq)
    ky = (sy[iy[:, None], ix[None, :]] + fy[:, None]) * (new_keys[0] / old_keys[0])
    kx = (sx[iy[:, None], ix[None, :]] + fx[None, :]) * (new_keys[1] / old_keys[1])
    ky = np.clip(np.rint(ky), 0, new_keys[0] - 1).astype(np.intp)
    kx = np.clip(np.rint(kx), 0, new_keys[1] - 1).astype(np.intp)
    return ky * new_keys[1] + kx


def _cells(n_new: int, n_old: int) -> tuple[np.ndarray, np.ndarray]:
    """For each new index: its coarse cell and the fractional position inside that cell."""
    pos = np.arange(n_new) * (n_old / n_new)
    cell = np.minimum(pos.astype(np.intp), n_old - 1)
    return cell, pos - cell

"""Patch nearest-neighbour search: exact with completeness for small levels, PatchMatch above.
The patch remix synthesises with it; the comparisons measure copying with it.

Patches are rows of a matrix (see `metrics.patch_matrix`); distances are per-value mean
squared differences on [0, 1] pixels, so the completeness constant alpha has GPNN's units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from pipeline.lib.measures import metrics
from pipeline.lib.measures.metrics import patch_matrix

COLD_STEPS = 2
"""PatchMatch steps of a copy search with no earlier field to start from (`cold_start`)."""


def exact_nn(
    queries: np.ndarray, keys: np.ndarray, *, alpha: float | None = None, claim: bool = False
) -> np.ndarray:
    """Index of the best key for every query (small levels only: the full distance matrix
    is held, 25 MB at 2,500 patches).

    With `alpha`, the score is D(q, k) / (alpha + min over queries of D(·, k)): keys that no
    query is close to become cheap, which spreads the output over all of the input
    ("completeness") instead of tiling it with a few favourite patches. With `claim`, every
    key still unused then takes over its nearest query. alpha alone cannot put a unique
    patch (the retina's optic disc, a tower) into a region made of plain ones, because the
    plain patches stay closer; claiming keeps such content alive.
    """
    d = _sq_dists(queries, keys) / queries.shape[1]
    col_min = d.min(axis=0)
    score = d if alpha is None else d / (alpha + col_min)[None, :]
    best = np.argmin(score, axis=1)
    if claim:
        unused = np.ones(len(keys), dtype=bool)
        unused[best] = False
        lonely = np.flatnonzero(unused)
        nearest = np.argmin(d[:, lonely], axis=0)
        order = np.argsort(-col_min[lonely])  # the closest claims are written last and win
        best[nearest[order]] = lonely[order]
    return best


def _sq_dists(queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
    q2 = np.einsum("ij,ij->i", queries, queries)
    k2 = np.einsum("ij,ij->i", keys, keys)
    return np.maximum(q2[:, None] + k2[None, :] - 2.0 * (queries @ keys.T), 0.0)


def assign(queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """One-to-one matching of queries to keys with the least total distance.

    Used at the small start levels: every input patch appears exactly once, so a noisy start
    can rearrange the layout but cannot drop or multiply content. Exact (Jonker-Volgenant):
    5-170 ms at 400-1,000 patches. A sparse nearest-candidates version was no faster there,
    and its fallback edges biased the result towards a copy.
    """
    return linear_sum_assignment(_sq_dists(queries, keys))[1]


@dataclass(frozen=True)
class Projection:
    """A PCA basis for patch descriptors: PatchMatch compares 24 numbers instead of 147."""

    offset: np.ndarray  # mean @ basis, subtracted after projecting (saves a full-size temp)
    basis: np.ndarray  # (dim, k), columns orthonormal

    def apply(self, patches: np.ndarray) -> np.ndarray:
        out = patches @ self.basis
        out -= self.offset
        return out


def fit_projection(
    patches: np.ndarray, dims: int, rng: np.random.Generator, sample: int = 4096
) -> Projection:
    """PCA on a random sample of patches (eigenvectors of the sample covariance)."""
    rows = patches if len(patches) <= sample else patches[rng.choice(len(patches), sample)]
    # Summed and centred in float64 straight from the float32 rows: the same numbers as
    # converting the rows first, without that copy.
    mean = rows.mean(axis=0, dtype=np.float64)
    centred = rows - mean
    _, vecs = np.linalg.eigh(centred.T @ centred)
    basis = np.ascontiguousarray(vecs[:, ::-1][:, :dims], dtype=np.float32)
    return Projection((mean @ basis).astype(np.float32), basis)


class PatchMatch:
    """Approximate nearest key patch for every query patch, over the whole field at once.

    Queries live on an (hq, wq) grid and keys on an (hk, wk) grid; the field holds, for each
    query, the flat index of its key. Each `step` runs jump-flood propagation (a neighbour's
    match, shifted back, is tried at distances 8, 4, 2, 1 in four directions) and then random
    search in windows halving down to one pixel. All randomness comes from the caller's rng.
    """

    def __init__(self, key_desc: np.ndarray, key_shape: tuple[int, int]):
        self.keys = key_desc
        self.hk, self.wk = key_shape

    def cost(self, query_desc: np.ndarray, idx: np.ndarray) -> np.ndarray:
        diff = query_desc - np.take(self.keys, idx.ravel(), axis=0)
        return np.einsum("ij,ij->i", diff, diff).reshape(idx.shape)

    def step(
        self,
        query_desc: np.ndarray,
        field: np.ndarray,
        rng: np.random.Generator,
        *,
        jumps: tuple[int, ...] = (8, 4, 2, 1),
        radius: int | None = None,
        cost: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Improve `field` ((hq, wq) flat key indices); returns (field, squared distances).
        `cost`, the squared distances of `field` (the previous step's), saves computing them."""
        fy, fx = np.divmod(field, self.wk)
        best = self.cost(query_desc, field) if cost is None else cost.copy()
        hq, wq = field.shape
        ys, xs = np.arange(hq), np.arange(wq)
        scratch = np.empty_like(query_desc)
        for j in jumps:
            for shift in (j, -j):
                # A shift along one axis leaves the other coordinate as it is: the
                # neighbours' matches are whole rows (or columns) of the field.
                rows = np.clip(ys + shift, 0, hq - 1)
                cy = _clamped(fy[rows] - (rows - ys)[:, None], self.hk)
                self._keep_better(query_desc, best, fy, fx, cy, fx[rows], scratch)
            for shift in (j, -j):
                cols = np.clip(xs + shift, 0, wq - 1)
                cx = _clamped(fx[:, cols] - (cols - xs)[None, :], self.wk)
                self._keep_better(query_desc, best, fy, fx, fy[:, cols], cx, scratch)
        r = radius if radius is not None else max(self.hk, self.wk) // 2
        while r >= 1:
            cy = _clamped(fy + rng.integers(-r, r + 1, fy.shape), self.hk)
            cx = _clamped(fx + rng.integers(-r, r + 1, fx.shape), self.wk)
            self._keep_better(query_desc, best, fy, fx, cy, cx, scratch)
            r //= 2
        return fy * self.wk + fx, best

    def _keep_better(
        self,
        query_desc: np.ndarray,
        best: np.ndarray,
        fy: np.ndarray,
        fx: np.ndarray,
        cy: np.ndarray,
        cx: np.ndarray,
        scratch: np.ndarray,
    ) -> None:
        """Where the candidate (cy, cx) is closer, take it: `best`, `fy`, `fx` in place."""
        np.take(self.keys, (cy * self.wk + cx).ravel(), axis=0, out=scratch)
        np.subtract(query_desc, scratch, out=scratch)
        c = np.einsum("ij,ij->i", scratch, scratch).reshape(best.shape)
        better = c < best
        np.copyto(best, c, where=better)
        np.copyto(fy, cy, where=better)
        np.copyto(fx, cx, where=better)


def _clamped(values: np.ndarray, size: int) -> np.ndarray:
    """`values` clipped to 0 … size − 1, in place (np.clip's own checks cost more here)."""
    np.maximum(values, 0, out=values)
    return np.minimum(values, size - 1, out=values)


def match_field(
    output: np.ndarray,
    source: np.ndarray,
    rng: np.random.Generator,
    *,
    patch: int,
    dims: int = 24,
    init: np.ndarray | None = None,
    steps: int = 4,
) -> np.ndarray:
    """Approximate nearest source patch for every patch of `output` (same-size float images):
    the match field the quality gate reads copies and incoherence from. Warm-started from
    `init` (e.g. the synthesis's last field) if given, else cold (`cold_start`)."""
    hq, wq = output.shape[0] - patch + 1, output.shape[1] - patch + 1
    key_shape = (source.shape[0] - patch + 1, source.shape[1] - patch + 1)
    keys = patch_matrix(source, patch)
    proj = fit_projection(keys, dims, rng)
    matcher = PatchMatch(proj.apply(keys), key_shape)
    query = proj.apply(patch_matrix(output, patch))
    field = init if init is not None else cold_start((hq, wq), key_shape, rng)
    cost = None
    for _ in range(steps):
        field, cost = matcher.step(query, field, rng, cost=cost)
    if init is None:
        # A last pass among near neighbours, no random search: a cold field's pieces are
        # still ragged at their edges (off the exact search by up to 0.01 without it).
        field, _ = matcher.step(query, field, rng, cost=cost, jumps=(2, 1), radius=0)
    return field


def cold_start(
    query_shape: tuple[int, int], key_shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """A first match field with no earlier one to start from: on a checkerboard, half the
    patches start at their own position and half at random. A part copied in place is then
    found at once and spreads to its neighbours, and the random half finds what moved.

    On the 35 check pairs of `bench/comparisons.py`, COLD_STEPS steps from here and a last
    short pass put the copy measures within 0.005 of the exact search with each of the
    random seeds 0-2, where three steps from random matches alone were off by up to 0.07
    (0.007 with seed 0, the one used), for three quarters of the work."""
    hq, wq = query_shape
    field = rng.integers(0, key_shape[0] * key_shape[1], (hq, wq))
    ys, xs = (
        np.minimum(np.arange(hq), key_shape[0] - 1),
        np.minimum(np.arange(wq), key_shape[1] - 1),
    )
    own = ys[:, None] * key_shape[1] + xs[None, :]
    black = (ys[:, None] + xs[None, :]) % 2 == 0
    field[black] = own[black]
    return field


def patch_errors(
    image: np.ndarray, values: np.ndarray, field: np.ndarray, patch: int
) -> np.ndarray:
    """Per-pixel mean squared error between each patch of `image` and its matched value patch."""
    h, w = values.shape[:2]
    hq, wq = field.shape
    planes = np.ascontiguousarray(values.transpose(2, 0, 1).reshape(3, h * w))
    img = image.transpose(2, 0, 1)
    base = field.ravel()
    err = np.zeros((hq, wq), np.float32)
    for dy in range(patch):
        for dx in range(patch):
            got = np.take(planes, base + (dy * w + dx), axis=1).reshape(3, hq, wq)
            err += ((img[:, dy : dy + hq, dx : dx + wq] - got) ** 2).sum(axis=0)
    return err / (3 * patch * patch)


def copy_measures(
    source: np.ndarray,
    output: np.ndarray,
    patch: int,
    field: np.ndarray | None = None,
    steps: int | None = None,
) -> tuple[metrics.CopyMeasures, float]:
    """(copy measures, incoherence) of `output` against `source` (same-size float arrays),
    read from a match field: output patch → nearest source patch. `field` (e.g. the
    synthesis's last one) only warm-starts the search; without it the search starts cold."""
    rng = np.random.default_rng(0)  # measuring must not depend on the remix's seed
    steps = steps if steps is not None else (2 if field is not None else COLD_STEPS)
    field = match_field(output, source, rng, patch=patch, init=field, steps=steps)
    wk = source.shape[1] - patch + 1
    ky, kx = np.divmod(field, wk)
    mse = patch_errors(output, source, ky * source.shape[1] + kx, patch)
    copies = metrics.copy_measures_from_field(
        np.stack([ky, kx], axis=-1), mse, metrics.patch_variance(output, patch=patch)
    )
    incoherence = metrics.incoherence_from_field(mse, metrics.patch_variance(source, patch=patch))
    return copies, incoherence

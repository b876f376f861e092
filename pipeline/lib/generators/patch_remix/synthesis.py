"""Coarse-to-fine patch nearest-neighbour synthesis (the GPNN idea, re-implemented).

Start from a small pyramid level plus noise; at every level replace each 7×7 patch of the
current image by its nearest patch of the input at that level and average the overlaps;
upsample and repeat. Layout (and so diversity) is decided at the coarse levels, where exact
search is cheap; finer levels only refine, with PatchMatch warm-started from the previous
iteration or the coarser level's field.

Two changes to GPNN keep content from disappearing (measured on the sample photos: without
them stars, towers and the retina's optic disc vanished as noise rose):
* the first `assign_levels` levels match one-to-one (every input patch used exactly once),
  so a rearranged start cannot drop or multiply content;
* the noisy start level keeps each patch's centre pixel instead of averaging 49 unrelated
  patches into grey mush, which the next level would match to flat background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.lib.generators.patch_remix.pyramid import (
    centre_fold,
    fold,
    fold_weights,
    rescale_field,
)
from pipeline.lib.generators.patch_remix.settings import RemixSettings
from pipeline.lib.measures.metrics import patch_matrix, resize_array
from pipeline.lib.measures.nearest import PatchMatch, assign, exact_nn, fit_projection


@dataclass
class State:
    """The synthesis at one pyramid level."""

    level: int
    image: np.ndarray  # (h, w, 3) float32 on [0, 1]
    field: np.ndarray  # (h - p + 1, w - p + 1) flat key-grid index of each patch's source


def begin(
    pyramid: list[np.ndarray],
    start: int,
    noise_std: float,
    rng: np.random.Generator,
    settings: RemixSettings,
) -> State:
    """pyramid[start] + Gaussian noise, matched (one-to-one) to pyramid[start]'s patches."""
    values = pyramid[start]
    noisy = values + noise_std * rng.standard_normal(values.shape, np.float32)
    state = State(start, noisy, np.zeros((0, 0), np.intp))
    return _run_level(pyramid, state, start, settings.start_iterations, rng, settings, start)


def advance(
    pyramid: list[np.ndarray],
    state: State,
    stop: int,
    rng: np.random.Generator,
    settings: RemixSettings,
    start: int,
) -> State:
    """Continue from `state` down to level `stop` (0 = finest)."""
    for level in range(state.level - 1, stop - 1, -1):
        h, w = pyramid[level].shape[:2]
        up = State(level, resize_array(state.image, h, w), state.field)
        state = _run_level(
            pyramid, up, state.level, settings.iterations(level), rng, settings, start
        )
    return state


def _run_level(
    pyramid: list[np.ndarray],
    state: State,
    from_level: int,
    iterations: int,
    rng: np.random.Generator,
    settings: RemixSettings,
    start: int,
) -> State:
    """EM iterations at `state.level`: match every patch, then rebuild from the matches."""
    p, level = settings.patch, state.level
    values = pyramid[level]
    h, w = values.shape[:2]
    key_shape = (h - p + 1, w - p + 1)
    weights = fold_weights(p, settings.fold_sigma)
    # The upsampled image is blurry, so its first pass compares it with an equally blurry
    # copy of this level; later passes compare sharp with sharp.
    blurry = resize_array(pyramid[level + 1], h, w) if level + 1 < len(pyramid) else values
    sharp_keys, blurry_keys = patch_matrix(values, p), patch_matrix(blurry, p)
    image, field = state.image, state.field
    if len(sharp_keys) <= settings.exact_max_patches:
        one_to_one = (
            start - level < settings.assign_levels
            and len(sharp_keys) <= settings.assign_max_patches
        )
        for it in range(iterations):
            keys = blurry_keys if it == 0 and level != start else sharp_keys
            queries = patch_matrix(image, p)
            if one_to_one and it < settings.assign_iterations:
                best = assign(queries, keys)
            else:
                best = exact_nn(queries, keys, alpha=settings.alpha, claim=settings.claim)
            field = best.reshape(key_shape)
            folder = centre_fold if level == start else fold
            image = folder(values, to_value_index(field, w, key_shape), weights)
        return State(level, image, field)

    proj = fit_projection(sharp_keys, settings.pca_dims, rng)
    if field.size == 0:
        field = np.arange(key_shape[0] * key_shape[1]).reshape(key_shape)
    elif field.shape != key_shape:
        old = pyramid[from_level].shape[:2]
        field = rescale_field(field, (old[0] - p + 1, old[1] - p + 1), key_shape, key_shape)
    matchers = (
        PatchMatch(proj.apply(blurry_keys), key_shape),
        PatchMatch(proj.apply(sharp_keys), key_shape),
    )
    for it in range(iterations):
        query = proj.apply(patch_matrix(image, p))
        # the first pass may move far (new level); later passes only polish locally
        radius = max(key_shape) // 4 if it == 0 else settings.polish_radius
        field, _ = matchers[min(it, 1)].step(query, field, rng, radius=radius)
        image = fold(values, to_value_index(field, w, key_shape), weights)
    return State(level, image, field)


def to_value_index(field: np.ndarray, width: int, key_shape: tuple[int, int]) -> np.ndarray:
    """Flat key-grid indices → flat indices of the same top-left pixel in the value image."""
    ky, kx = np.divmod(field, key_shape[1])
    return ky * width + kx

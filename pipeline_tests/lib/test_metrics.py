"""The weight-free measures tell a copy, a shifted copy, a shuffle and a stranger apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.lib.core.images import load_image_file, resize_long_side
from pipeline.lib.measures import metrics, nearest

# One worker takes the whole module, so its module fixtures are made once.
pytestmark = pytest.mark.xdist_group("test_metrics")

SAMPLES = Path(__file__).parents[2] / "pipeline" / "lib" / "sources" / "sample_photos"


@pytest.fixture(scope="module")
def coffee() -> Image.Image:
    return resize_long_side(load_image_file(SAMPLES / "coffee.jpg"), 128)


@pytest.fixture(scope="module")
def rocket() -> Image.Image:
    return resize_long_side(load_image_file(SAMPLES / "rocket.jpg"), 128)


def shuffle_blocks(img: Image.Image, block: int, seed: int = 0) -> Image.Image:
    """The image cut into block×block tiles, put back in random order (texture soup)."""
    a = np.asarray(img)
    h, w = a.shape[0] // block * block, a.shape[1] // block * block
    tiles = a[:h, :w].reshape(h // block, block, w // block, block, 3).swapaxes(1, 2)
    tiles = tiles.reshape(-1, block, block, 3)
    tiles = tiles[np.random.default_rng(seed).permutation(len(tiles))]
    out = a.copy()
    out[:h, :w] = (
        tiles.reshape(h // block, w // block, block, block, 3).swapaxes(1, 2).reshape(h, w, 3)
    )
    return Image.fromarray(out)


def test_patch_swd_is_zero_for_a_copy_and_grows_with_shuffling(coffee: Image.Image) -> None:
    assert metrics.patch_swd(coffee, coffee) == 0.0
    coarse = metrics.patch_swd(coffee, shuffle_blocks(coffee, 32))
    fine = metrics.patch_swd(coffee, shuffle_blocks(coffee, 4))
    assert 0.0 < coarse < fine


def test_patch_swd_is_deterministic_symmetric_and_size_tolerant(
    coffee: Image.Image, rocket: Image.Image
) -> None:
    d = metrics.patch_swd(coffee, rocket)
    assert d == metrics.patch_swd(coffee, rocket)
    assert d == pytest.approx(metrics.patch_swd(rocket, coffee), rel=1e-6)
    assert len(metrics.patch_swd_scales(coffee, rocket)) == 3
    # a different size of the same photo is far closer than a different photo
    assert metrics.patch_swd(coffee, resize_long_side(coffee, 100)) < d / 3


def float_sort_patch_swd(
    a: Image.Image, b: Image.Image, projections: int, max_patches: int
) -> float:
    """patch-SWD as first written: patches channel by channel, projections sorted as floats."""
    fa, fb = metrics.cap_side(a, metrics.MEASURE_SIDE), metrics.cap_side(b, metrics.MEASURE_SIDE)
    dirs = np.random.default_rng(0).standard_normal((147, projections)).astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    gaps = []
    for scale in metrics.SWD_SCALES:
        sorted_rows = []
        for f in (fa, fb):
            f = metrics.resize_array(f, round(f.shape[0] * scale), round(f.shape[1] * scale))
            patches = metrics.patch_matrix(f)
            if len(patches) > max_patches:
                rows = np.random.default_rng(0).choice(len(patches), max_patches, replace=False)
                patches = patches[np.sort(rows)]
            sorted_rows.append(np.sort(dirs.T @ patches.T, axis=1))
        n = min(q.shape[1] for q in sorted_rows)
        qa, qb = (q[:, ((np.arange(n) + 0.5) * (q.shape[1] / n)).astype(int)] for q in sorted_rows)
        gaps.append(float(np.abs(qa - qb).mean()) * 100)
    return float(np.mean(gaps))


def test_patch_swd_sorted_as_16_bit_levels_agrees_with_the_float_sort() -> None:
    """Each projection is rounded to 1/65,535 of its direction's range before sorting; the
    gallery shows patch-SWD to 2 decimals, the receipts to 4: neither may move. (The pair
    measure's sampling; the gate's differs only in its counts.)"""
    projections, max_patches = 64, 8192
    photos = {name: load_image_file(SAMPLES / f"{name}.jpg") for name in ("coffee", "rocket")}
    pairs = [
        (photos["coffee"], photos["rocket"]),  # unrelated, sizes differ
        (photos["rocket"], photos["rocket"].transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    ]
    for a, b in pairs:
        ours = metrics.patch_swd(a, b, projections=projections, max_patches=max_patches)
        exact = float_sort_patch_swd(a, b, projections, max_patches)
        assert ours == pytest.approx(exact, abs=1e-5), (ours, exact)  # measured: ≤ 6e-7


@pytest.mark.slow
def test_copy_measures_see_a_copy_and_a_moved_copy(coffee: Image.Image) -> None:
    same = metrics.copy_measures(coffee, coffee)
    assert same.zero_shift > 0.99 and same.largest_region > 0.99
    moved = Image.fromarray(np.roll(np.asarray(coffee), (10, 20), axis=(0, 1)))
    shifted = metrics.copy_measures(moved, coffee)
    assert shifted.zero_shift < 0.05 and shifted.largest_region > 0.5


@pytest.mark.slow
def test_the_cold_patchmatch_search_reads_copies_as_the_exact_search_does(
    coffee: Image.Image, rocket: Image.Image
) -> None:
    """compare_images searches copies approximately (a checkerboard of own positions and
    random matches, then PatchMatch); it must read what the exact search reads."""
    small = resize_long_side(coffee, 96)  # the exact search is quadratic: seconds at 128 px
    photo = np.asarray(small)
    middle = photo.shape[1] // 2
    half = photo.copy()
    half[:, middle:] = np.asarray(rocket.resize(small.size))[:, middle:]
    cases = {
        "copy": photo,
        "moved copy": np.roll(photo, (10, 20), axis=(0, 1)),
        "half pasted in place": half,
        "mirror": photo[:, ::-1],
    }
    source = metrics.to_float(photo)
    for name, lookalike in cases.items():
        exact = metrics.copy_measures(lookalike, photo, max_side=None)
        ours, _ = nearest.copy_measures(source, metrics.to_float(lookalike), metrics.PATCH)
        assert ours.zero_shift == pytest.approx(exact.zero_shift, abs=0.005), name
        assert ours.largest_region == pytest.approx(exact.largest_region, abs=0.005), name


@pytest.mark.slow
def test_copy_measures_survive_jpeg_recompression(coffee: Image.Image) -> None:
    from pipeline.lib.core.images import decode_image, encode_image

    recompressed = decode_image(encode_image(coffee, "JPEG", quality=85))
    assert metrics.copy_measures(recompressed, coffee).largest_region > 0.3  # the gate's limit


@pytest.mark.slow
def test_copy_measures_of_soup_and_a_stranger_are_low(
    coffee: Image.Image, rocket: Image.Image
) -> None:
    soup = metrics.copy_measures(shuffle_blocks(coffee, 8), coffee)
    assert soup.zero_shift < 0.05 and soup.largest_region < 0.05
    stranger = metrics.copy_measures(rocket, coffee)
    assert stranger.largest_region < 0.05


def test_copy_measures_from_a_given_field() -> None:
    hp, wp = 20, 30
    ys, xs = np.mgrid[0:hp, 0:wp]
    field = np.stack([ys, xs], axis=-1)
    field[:, 15:, 1] -= 5  # right half: a block copied from 5 px further left
    mse = np.zeros((hp, wp), np.float32)
    m = metrics.copy_measures_from_field(field, mse)
    assert m.zero_shift == pytest.approx(0.5)
    assert m.largest_region == pytest.approx(0.5)
    mse[:, :15] = 1.0  # the left half's matches are poor: not copies
    m = metrics.copy_measures_from_field(field, mse)
    assert m.zero_shift == 0.0 and m.largest_region == pytest.approx(0.5)
    # flat patches carry no weight: a textured right half is all the evidence there is
    variance = np.zeros((hp, wp), np.float32)
    variance[:, 15:] = 1.0
    m = metrics.copy_measures_from_field(field, np.zeros((hp, wp), np.float32), variance)
    assert m.zero_shift == 0.0 and m.largest_region == pytest.approx(1.0)


@pytest.mark.slow
def test_incoherence_is_zero_for_a_copy_and_high_for_soup(coffee: Image.Image) -> None:
    assert metrics.incoherence(coffee, coffee) < 1e-3
    assert metrics.incoherence(shuffle_blocks(coffee, 8), coffee) > 0.5


def test_ssim(coffee: Image.Image, rocket: Image.Image) -> None:
    assert metrics.ssim(coffee, coffee) == pytest.approx(1.0)
    assert metrics.ssim(coffee, rocket) < 0.5
    # different sizes: the second image is resized to the first
    assert metrics.ssim(coffee, resize_long_side(coffee, 200)) > 0.85


def test_colour_distance(coffee: Image.Image) -> None:
    assert metrics.colour_distance(coffee, coffee) == 0.0
    assert metrics.colour_distance(coffee, shuffle_blocks(coffee, 8)) < 0.01
    darker = Image.fromarray((np.asarray(coffee) * 0.5).astype(np.uint8))
    assert metrics.colour_distance(coffee, darker) > 0.1
    black, white = Image.new("RGB", (40, 40)), Image.new("RGB", (40, 40), "white")
    assert metrics.colour_distance(black, white) == pytest.approx(1.0, abs=0.01)


def test_pixel_diversity(coffee: Image.Image, rocket: Image.Image) -> None:
    assert metrics.pixel_diversity([coffee, coffee, coffee], coffee) == pytest.approx(0.0, abs=1e-6)
    varied = [coffee, shuffle_blocks(coffee, 16, seed=1), shuffle_blocks(coffee, 16, seed=2)]
    assert metrics.pixel_diversity(varied, coffee) > 0.3
    with pytest.raises(ValueError):
        metrics.pixel_diversity([coffee], coffee)


def test_arrays_and_images_measure_alike(coffee: Image.Image) -> None:
    arr = np.asarray(coffee)
    assert metrics.patch_swd(arr, coffee) == 0.0
    assert metrics.ssim(arr.astype(np.float32) / 255.0, coffee) == pytest.approx(1.0)


def test_colour_distance_counts_bytes_as_the_float_histogram_would(
    coffee: Image.Image, rocket: Image.Image
) -> None:
    # PIL images are histogrammed by Pillow counting bytes; float arrays go through
    # np.histogram. Unshrunk, both must give the same figure.
    as_images = metrics.colour_distance(coffee, rocket, max_side=None)
    as_arrays = metrics.colour_distance(metrics.to_float(coffee), metrics.to_float(rocket))
    assert as_images == pytest.approx(as_arrays, abs=1e-12)
    assert as_images > 0.01
    # Shrunk by whole blocks, a histogram barely moves.
    assert metrics.colour_distance(coffee, rocket, max_side=40) == pytest.approx(
        as_images, abs=0.01
    )
    grey = Image.new("L", (30, 20), 128)  # other modes are counted as RGB
    assert metrics.colour_distance(grey, Image.new("RGB", (5, 5), (128,) * 3)) == 0.0

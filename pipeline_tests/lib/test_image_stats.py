"""Per-image measures and the comparison record built on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from pipeline.lib.core.images import load_image_file
from pipeline.lib.generators.patch_remix.remix import remix
from pipeline.lib.generators.patch_remix.settings import RemixSettings
from pipeline.lib.measures import metrics
from pipeline.lib.measures.comparisons import compare_images
from pipeline.lib.measures.image_stats import (
    colourfulness,
    dominant_colours,
    image_stats,
    phash,
    phash_distance,
)
from pipeline.lib.sources.folder import SAMPLE_PHOTOS_DIR


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (80, 60)) -> Image.Image:
    return Image.new("RGB", size, colour)


def scene(seed: int = 0, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A smooth gradient with a few shapes: structure a hash and a palette can see."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    base = np.stack([x * 255 / size[0], y * 255 / size[1], np.full_like(x, 90.0)], axis=2)
    img = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(4):
        x0, y0 = rng.integers(0, size[0] - 40), rng.integers(0, size[1] - 40)
        fill = tuple(int(v) for v in rng.integers(0, 255, 3))
        draw.ellipse((x0, y0, x0 + 40, y0 + 40), fill=fill)
    return img


def test_flat_images_have_the_expected_extremes() -> None:
    black, white = image_stats(solid((0, 0, 0))), image_stats(solid((255, 255, 255)))
    assert black["brightness"] == 0 and white["brightness"] == 1
    for stats in (black, white):
        assert stats["contrast"] == 0 and stats["entropy"] == 0 and stats["colourfulness"] == 0
    assert black["dominant_colours"] == [{"hex": "#000000", "share": 1.0}]


def test_colourfulness_orders_grey_muted_and_vivid() -> None:
    grey = np.asarray(ImageOps.grayscale(scene()).convert("RGB"), dtype=np.float64)
    vivid = np.zeros((40, 40, 3))
    vivid[:, :20] = (255, 0, 0)
    vivid[:, 20:] = (0, 0, 255)
    muted = 0.7 * np.full_like(vivid, 128.0) + 0.3 * vivid
    assert colourfulness(grey) == pytest.approx(0, abs=1e-9)
    assert 0 < colourfulness(muted) < colourfulness(vivid)
    assert colourfulness(vivid) > 100  # "extremely colourful" on Hasler–Süsstrunk's scale


def test_contrast_and_entropy_grow_with_spread() -> None:
    halves = np.zeros((40, 40, 3), np.uint8)
    halves[:, 20:] = 255
    ramp = np.repeat(np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 40, 0), 3, 2)
    halves_stats, ramp_stats = image_stats(halves), image_stats(ramp)
    assert halves_stats["contrast"] == pytest.approx(0.5, abs=1e-3)
    assert halves_stats["entropy"] == pytest.approx(1.0, abs=1e-3)  # two equal levels: 1 bit
    assert ramp_stats["entropy"] > 7.5  # all 256 levels (after the 256 px cap)


def test_dominant_colours_find_the_blocks_and_their_shares() -> None:
    img = Image.new("RGB", (100, 100), (200, 30, 30))
    ImageDraw.Draw(img).rectangle((0, 0, 99, 24), fill=(20, 40, 220))
    palette = dominant_colours(img)
    assert [c["hex"] for c in palette] == ["#c81e1e", "#1428dc"]
    assert [c["share"] for c in palette] == pytest.approx([0.75, 0.25], abs=0.02)


def test_palette_of_a_photo_is_deterministic_and_ordered() -> None:
    photo = load_image_file(SAMPLE_PHOTOS_DIR / "coffee.jpg")
    first, again = dominant_colours(photo), dominant_colours(photo.copy())
    assert first == again
    assert len(first) == 5
    shares = [c["share"] for c in first]
    assert shares == sorted(shares, reverse=True) and sum(shares) == pytest.approx(1, abs=0.01)


def test_phash_is_robust_to_resizing_and_sees_different_pictures() -> None:
    a, b = scene(1), scene(2)
    resized = a.resize((97, 71), Image.Resampling.LANCZOS)
    assert len(phash(a)) == 16
    assert phash_distance(phash(a), phash(resized)) <= 4
    assert phash_distance(phash(a), phash(b)) >= 12
    assert phash_distance("0" * 16, "f" * 16) == 64


def test_array_input_matches_image_input() -> None:
    img = scene(3)
    as_floats = np.asarray(img, dtype=np.float32) / 255.0
    assert image_stats(as_floats) == image_stats(img)


def test_compare_images_keeps_old_keys_and_adds_both_images_stats() -> None:
    photo = load_image_file(SAMPLE_PHOTOS_DIR / "chelsea.jpg")
    lookalike = ImageOps.mirror(photo).resize((300, 200))
    record = compare_images(photo, lookalike)
    for key in ("ssim", "colour_distance", "patch_swd", "zero_shift", "largest_copied_region"):
        assert isinstance(record[key], float)
    labels = {role: record[role].pop("labels") for role in ("original", "generated")}
    assert record["original"] == image_stats(photo)
    assert record["generated"] == image_stats(lookalike)
    assert labels["original"][0]["name"] == labels["generated"][0]["name"]  # a mirrored cat
    assert 0.85 < record["semantic_similarity"] <= 1.0
    assert record["phash_distance"] == phash_distance(
        record["original"]["phash"], record["generated"]["phash"]
    )
    assert json.loads(json.dumps(record)) == record  # stored as JSON as it is
    same = compare_images(photo, photo)
    assert same["phash_distance"] == 0 and same["ssim"] > 0.99
    assert same["semantic_similarity"] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
def test_the_gates_copy_measure_reads_as_the_exact_search_did() -> None:
    """compare_images now uses the quality gate's (approximate) copy search: on remixes it
    must give the figures the exact search gave, within 0.01."""
    for name in ("coffee.jpg", "rocket.jpg"):
        photo = load_image_file(SAMPLE_PHOTOS_DIR / name)
        lookalike = remix(photo, seed=1, settings=RemixSettings(work_size=128, max_attempts=1))
        exact = metrics.copy_measures(lookalike.image, photo)
        record = compare_images(photo, lookalike.image)
        assert record["zero_shift"] == pytest.approx(exact.zero_shift, abs=0.01)
        assert record["largest_copied_region"] == pytest.approx(exact.largest_region, abs=0.01)
        assert record["zero_shift"] > 0.01  # a remix copies a little in place: not vacuous


@pytest.mark.slow
def test_a_receipts_copy_figures_are_taken_not_searched_again() -> None:
    """After a patch remix, the gate's own copy figures are the pair's (one measure, one
    source); a receipt without them (another generator's) leaves the search to run."""
    photo = load_image_file(SAMPLE_PHOTOS_DIR / "coffee.jpg")
    lookalike = remix(photo, seed=1, settings=RemixSettings(work_size=128, max_attempts=1))
    searched = compare_images(photo, lookalike.image)
    timings: dict[str, float] = {}
    taken = compare_images(photo, lookalike.image, timings, receipt=lookalike.record)
    assert taken["zero_shift"] == lookalike.record["zero_shift"]
    assert taken["largest_copied_region"] == lookalike.record["largest_copied_region"]
    assert (taken["zero_shift"], taken["largest_copied_region"]) != (
        searched["zero_shift"],
        searched["largest_copied_region"],
    )  # the two measurements differ, so the test shows which one was kept
    assert timings["copy"] < 0.005  # no search ran
    unrelated = {"model": "gpt-image-1", "zero_shift": "n/a"}
    assert compare_images(photo, lookalike.image, receipt=unrelated) == searched
    rest = {k: v for k, v in taken.items() if k not in ("zero_shift", "largest_copied_region")}
    assert rest == {k: v for k, v in searched.items() if k in rest}

"""The patch remix: deterministic, the right size, and never a silent copy or soup."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.lib.core.images import ImageError, decode_image, load_image_file, resize_long_side
from pipeline.lib.db import Outcome
from pipeline.lib.failures import GenerationError
from pipeline.lib.generators import LoadedPhoto
from pipeline.lib.generators.patch_remix.files import generate_file
from pipeline.lib.generators.patch_remix.generator import PatchRemixGenerator
from pipeline.lib.generators.patch_remix.quality import judge, measure
from pipeline.lib.generators.patch_remix.remix import remix
from pipeline.lib.generators.patch_remix.settings import RemixSettings
from pipeline.lib.measures.metrics import to_float
from pipeline_tests.fixtures.offline_generators import made_alone_and_in_threads, png

# One worker takes the whole module, so its module fixtures are made once.
pytestmark = pytest.mark.xdist_group("test_patch_remix")

SAMPLES = Path(__file__).parents[2] / "pipeline" / "lib" / "sources" / "sample_photos"
SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.jpg"))
SMALL = RemixSettings(work_size=96)


@pytest.fixture(scope="module")
def coffee() -> Image.Image:
    return load_image_file(SAMPLES / "coffee.jpg")


def shuffle_blocks(arr: np.ndarray, block: int, seed: int = 0) -> np.ndarray:
    """The image cut into block×block tiles put back in random order: texture soup."""
    h, w = arr.shape[0] // block * block, arr.shape[1] // block * block
    tiles = arr[:h, :w].reshape(h // block, block, w // block, block, 3).swapaxes(1, 2)
    tiles = tiles.reshape(-1, block, block, 3)[
        np.random.default_rng(seed).permutation((h // block) * (w // block))
    ]
    out = arr.copy()
    out[:h, :w] = (
        tiles.reshape(h // block, w // block, block, block, 3).swapaxes(1, 2).reshape(h, w, 3)
    )
    return out


@pytest.mark.slow
def test_same_seed_same_bytes_and_other_seed_differs(coffee: Image.Image) -> None:
    a = remix(coffee, seed=11, settings=SMALL)
    b = remix(coffee, seed=11, settings=SMALL)
    c = remix(coffee, seed=12, settings=SMALL)
    assert png(a.image) == png(b.image)
    assert png(a.image) != png(c.image)
    untimed = [
        [{k: v for k, v in x.items() if k != "seconds"} for x in r.record["attempts"]]
        for r in (a, b)
    ]
    assert untimed[0] == untimed[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("size", "settings", "expected"),
    [
        ((600, 400), SMALL, (96, 64)),
        ((400, 600), RemixSettings(work_size=96, output_size=300), (200, 300)),
        ((900, 300), RemixSettings(work_size=96, output_size=450), (450, 150)),
        ((70, 50), RemixSettings(work_size=256), (256, 183)),  # small input: works at 70 px
    ],
)
def test_output_size_and_aspect(
    coffee: Image.Image,
    size: tuple[int, int],
    settings: RemixSettings,
    expected: tuple[int, int],
) -> None:
    out = remix(coffee.resize(size), seed=1, settings=settings)
    assert out.image.size == expected and out.image.mode == "RGB"
    assert out.record["output_size"] == list(expected)
    assert abs(expected[0] / expected[1] - size[0] / size[1]) < 0.02


@pytest.mark.slow
def test_record_says_what_was_done(coffee: Image.Image) -> None:
    record = remix(coffee, seed=5, settings=SMALL).record
    json.dumps(record)  # JSON-serialisable as it is
    for key in (
        "settings",
        "attempts",
        "accepted",
        "reason",
        "seconds",
        "seed",
        "patch_swd",
        "ssim",
        "zero_shift",
        "largest_copied_region",
        "incoherence",
        "piece_coverage",
    ):
        assert key in record
    assert record["seed"] == 5 and record["settings"]["work_size"] == 96
    assert 1 <= len(record["attempts"]) <= SMALL.max_attempts
    for attempt in record["attempts"]:
        assert attempt["verdict"] in ("ok", "copy", "soup") and attempt["reason"]
    chosen = record["attempts"][record["attempt"] - 1]
    assert record["accepted"] == (chosen["verdict"] == "ok")


@pytest.mark.slow
def test_a_copy_is_never_returned_silently(coffee: Image.Image) -> None:
    """Without noise the synthesis reproduces the photo; the gate must flag it."""
    settings = RemixSettings(work_size=96, noise_ladder=(0.0,), start_step=0, max_attempts=1)
    record = remix(coffee, seed=1, settings=settings).record
    assert record["accepted"] is False and record["flagged"] is True
    assert record["attempts"][0]["verdict"] == "copy"
    assert "no attempt passed" in record["reason"] and "copy" in record["reason"]


@pytest.mark.slow
def test_best_attempt_is_returned_when_none_passes(coffee: Image.Image) -> None:
    settings = RemixSettings(work_size=96, max_swd=0.01, max_attempts=2)  # everything is soup
    result = remix(coffee, seed=1, settings=settings)
    assert result.record["accepted"] is False
    assert len(result.record["attempts"]) == 2
    assert result.image.size == (96, 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_gate_rejects_a_copy_and_soup_on_every_sample(name: str) -> None:
    source = to_float(resize_long_side(load_image_file(SAMPLES / f"{name}.jpg"), 256))
    settings = RemixSettings()
    verdict, reason = judge(measure(source, source, settings.patch), settings)
    assert verdict == "copy", reason
    soup = shuffle_blocks(source, 8)
    verdict, reason = judge(measure(source, soup, settings.patch), settings)
    assert verdict == "soup", reason


def test_tiny_image_is_a_value_error_not_a_crash() -> None:
    with pytest.raises(ValueError):
        remix(Image.new("RGB", (12, 12)), seed=0)


@pytest.mark.slow
def test_generator_fills_a_generation_and_is_thread_safe(coffee: Image.Image) -> None:
    gen = PatchRemixGenerator(work_size=96)
    assert gen.name == "patch-remix" and gen.settings.work_size == 96
    g = made_alone_and_in_threads(gen, coffee)
    assert g.generator == "patch-remix" and g.model and g.model.startswith("patch-remix")
    assert g.cost_usd == 0.0 and g.prompt is None and g.seconds is not None
    assert g.quality["seed"] == 1 and "accepted" in g.quality and g.strategy


def test_generator_rejects_unknown_settings_and_tiny_images() -> None:
    with pytest.raises(TypeError):
        PatchRemixGenerator(no_such_setting=1)
    tiny = LoadedPhoto(image=Image.new("RGB", (10, 10)), data=b"", content_type="", seed=0)
    with pytest.raises(GenerationError) as exc:
        PatchRemixGenerator().generate(tiny)
    assert exc.value.outcome is Outcome.FAILED


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_generate_file_writes_the_format_of_its_extension(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"lookalike{suffix}"
    record = generate_file(SAMPLES / "rocket.jpg", out, seed=3, size=96)
    img = decode_image(out.read_bytes())
    assert img.size == (96, 64) and record["output"] == str(out)
    assert record["output_size"] == [96, 64]


def test_generate_file_refuses_bad_arguments_before_working(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported output"):
        generate_file(SAMPLES / "rocket.jpg", tmp_path / "out.gif")
    with pytest.raises(ValueError, match="unknown generator"):
        generate_file(SAMPLES / "rocket.jpg", tmp_path / "out.png", generator="dall-e")
    with pytest.raises(ValueError, match="does not exist"):
        generate_file(SAMPLES / "rocket.jpg", tmp_path / "missing" / "out.png")
    with pytest.raises(ImageError, match="no such file"):
        generate_file(tmp_path / "nope.jpg", tmp_path / "out.png")
    assert not list(tmp_path.iterdir())

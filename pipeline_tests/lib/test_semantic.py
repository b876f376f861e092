"""What an image shows: the torch-free EfficientNet-Lite0 features and labels."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.lib.core.images import load_image_file
from pipeline.lib.generators.patch_remix.remix import remix
from pipeline.lib.generators.patch_remix.settings import RemixSettings
from pipeline.lib.measures import semantic
from pipeline.lib.measures.semantic.torch_legacy_file import (
    LEGACY_MAGIC,
    LEGACY_PROTOCOL,
    TorchFileError,
    read_state_dict,
)

# One worker takes the whole module, so its module fixtures are made once; slow, as
# the network's weights load once per module, seconds.
pytestmark = [pytest.mark.xdist_group("test_semantic"), pytest.mark.slow]

SAMPLES = Path(__file__).parents[2] / "pipeline" / "lib" / "sources" / "sample_photos"
DOMESTIC_CATS = range(281, 286)  # ImageNet's tabby, tiger, Persian, Siamese and Egyptian cats


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    return {p.stem: load_image_file(p) for p in sorted(SAMPLES.glob("*.jpg"))}


@pytest.fixture(scope="module")
def originals(photos: dict[str, Image.Image]) -> dict[str, semantic.Semantics]:
    return {name: semantic.semantics(img) for name, img in photos.items()}


def _variants(img: Image.Image) -> dict[str, Image.Image]:
    w, h = img.size
    return {
        "flip": img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "centre crop": img.crop((w // 10, h // 10, w - w // 10, h - h // 10)),
        "corner crop": img.crop((0, 0, int(w * 0.7), int(h * 0.7))),
    }


@pytest.fixture(scope="module")
def variants(photos: dict[str, Image.Image]) -> dict[tuple[str, str], semantic.Semantics]:
    return {
        (name, kind): semantic.semantics(v)
        for name, img in photos.items()
        for kind, v in _variants(img).items()
    }


def test_the_shipped_weights_read_without_torch() -> None:
    state = read_state_dict(semantic.weights_path())
    params = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert sum(v.size for v in params.values()) == 4_694_024
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert all(v.dtype == np.float32 and v.flags.c_contiguous for v in params.values())
    assert np.isfinite(state["_fc.weight"]).all()


def _legacy_file(tmp_path: Path, body: bytes, tail: bytes = b"") -> Path:
    head = b"".join(
        pickle.dumps(x, protocol=2)
        for x in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True})
    )
    path = tmp_path / "weights.pth"
    path.write_bytes(head + body + tail)
    return path


def test_a_file_naming_any_other_global_is_refused_unrun(tmp_path: Path) -> None:
    hostile = _legacy_file(tmp_path, pickle.dumps({"w": os.system}, protocol=2))
    with pytest.raises(TorchFileError, match="unexpected object"):
        read_state_dict(hostile)


def test_a_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    data = Path(semantic.weights_path()).read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TorchFileError, match="truncated"):
        read_state_dict(cut)
    other = tmp_path / "other.pth"
    other.write_bytes(b"".join(pickle.dumps(x) for x in (1, 2, {}, {}, [])) + struct.pack("<q", 0))
    with pytest.raises(TorchFileError, match="not a legacy"):
        read_state_dict(other)


def test_the_cat_and_the_espresso_are_named(originals: dict[str, semantic.Semantics]) -> None:
    cats = {semantic.label_names()[i] for i in DOMESTIC_CATS}
    assert {label.name for label in originals["chelsea"].labels} & cats
    assert originals["coffee"].labels[0].name == "espresso"
    assert originals["rocket"].labels[0].name == "missile"
    for meaning in originals.values():
        assert 1 <= len(meaning.labels) <= semantic.TOP_LABELS
        shares = [label.share for label in meaning.labels]
        assert shares == sorted(shares, reverse=True)
        assert len({label.name for label in meaning.labels}) == len(meaning.labels)


def test_every_flip_and_crop_beats_every_unrelated_photo(
    originals: dict[str, semantic.Semantics],
    variants: dict[tuple[str, str], semantic.Semantics],
) -> None:
    own = [semantic.similarity(v, originals[name]) for (name, _), v in variants.items()]
    unrelated = [
        semantic.similarity(v, originals[other])
        for (name, _), v in variants.items()
        for other in originals
        if other != name
    ]
    assert min(own) > max(unrelated)
    assert min(own) > 0.6 and max(unrelated) < 0.45  # measured at 192 px: 0.74 and 0.37


def test_each_patch_remix_finds_its_own_original_7_of_7(
    photos: dict[str, Image.Image], originals: dict[str, semantic.Semantics]
) -> None:
    small = RemixSettings(work_size=96, max_attempts=1)  # the look, not the gate, is tested
    for name, img in photos.items():
        lookalike = semantic.semantics(remix(img, seed=1, settings=small).image)
        nearest = max(originals, key=lambda o: semantic.similarity(lookalike, originals[o]))
        assert nearest == name


def test_features_are_unit_length_and_an_image_matches_itself(
    photos: dict[str, Image.Image], originals: dict[str, semantic.Semantics]
) -> None:
    for name, meaning in originals.items():
        assert meaning.features.shape == (1280,)
        assert np.linalg.norm(meaning.features) == pytest.approx(1.0, abs=1e-5)
        assert semantic.similarity(meaning, semantic.semantics(photos[name])) == pytest.approx(1)
    tiny = semantic.semantics(Image.new("RGB", (3, 2), (200, 10, 10)))
    assert np.isfinite(tiny.features).all()

"""Each image's features: computed once, reused by its bytes, one bad image costs its pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.lib.core.images import encode_image
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.findings.features import (
    CHEAP_STATS,
    LOOK_ALIKE,
    PHOTO,
    WIDTH,
    cheap_stats,
    compute_day_features,
    decode_features,
    encode_features,
    features_key,
    gather_features,
    read_day_features,
)


def _store(tmp_path: Path) -> tuple[LocalObjectStore, list[dict], list[dict]]:
    store = LocalObjectStore(tmp_path)
    rng = np.random.default_rng(1)
    photos, looks = [], []
    for i in (1, 2, 3):
        pixels = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
        store.put(f"p{i}.png", encode_image(Image.fromarray(pixels)))
        store.put(f"g{i}.png", encode_image(Image.fromarray(255 - pixels)))
        photos.append({"id": i, "status": "stored", "object_key": f"p{i}.png", "sha256": f"p{i}"})
        looks.append({"photo_id": i, "status": "succeeded", "generator": "patch-remix",
                      "object_key": f"g{i}.png", "sha256": f"g{i}"})  # fmt: skip
    looks.append({"photo_id": 3, "status": "failed", "generator": "other", "object_key": None})
    return store, photos, looks


def _counting() -> tuple[list[int], object]:
    calls: list[int] = []

    def features_of(image: Image.Image) -> np.ndarray:
        calls.append(1)
        return np.full(WIDTH, float(image.getpixel((0, 0))[0]), np.float32)

    return calls, features_of


def test_computed_once_and_reused_while_the_bytes_are_the_same(tmp_path: Path) -> None:
    store, photos, looks = _store(tmp_path)
    calls, features_of = _counting()
    held, report = compute_day_features(store, photos, looks, None, features_of)
    assert (report.computed, report.reused, len(held)) == (6, 0, 6) and len(calls) == 6
    assert held.kinds.count(PHOTO) == 3 and held.kinds.count(LOOK_ALIKE) == 3

    again, report = compute_day_features(store, photos, looks, held, features_of)
    assert (report.computed, report.reused) == (0, 6) and len(calls) == 6
    # A look-alike made again (new bytes) is measured again; the rest is kept.
    looks[0] = looks[0] | {"sha256": "g1-redone"}
    _, report = compute_day_features(store, photos, looks, again, features_of)
    assert (report.computed, report.reused) == (1, 5)


def test_an_unreadable_image_leaves_out_its_pair_alone(tmp_path: Path) -> None:
    store, photos, looks = _store(tmp_path)
    store.put("g2.png", b"not an image")
    held, report = compute_day_features(store, photos, looks, None, _counting()[1])
    assert sorted(set(held.photo_ids)) == [1, 3] and len(held) == 4
    assert len(report.problems) == 1 and "look_alike 2" in report.problems[0]


def test_stored_float16_without_pickles_and_gathered_by_day(tmp_path: Path) -> None:
    store, photos, looks = _store(tmp_path)
    held, _ = compute_day_features(store, photos, looks, None, _counting()[1])
    store.put(features_key("2026-11-20"), encode_features(held))
    store.put(features_key("2026-11-21"), b"garbage")  # unreadable: treated as missing
    back = decode_features(encode_features(held))
    assert back.matrix().dtype == np.float16 and back.matrix().shape == (6, WIDTH)
    assert back.generators == held.generators and back.shas == held.shas
    assert read_day_features(store, "2026-11-21") is None
    images, matrix, missing = gather_features(store, ["2026-11-20", "2026-11-21", "2026-11-22"])
    assert missing == ["2026-11-21", "2026-11-22"] and matrix.shape == (6, WIDTH)
    assert list(images.columns) == ["day", "kind", "photo_id", "generator", "sha"]
    with pytest.raises(ValueError, match="wrong shape"):
        decode_features(_narrow(held))


def _narrow(held) -> bytes:  # type: ignore[no-untyped-def]
    held.vectors = [v[:10] for v in held.vectors]
    return encode_features(held)


def test_cheap_statistics_tell_noise_from_a_smooth_image() -> None:
    rng = np.random.default_rng(2)
    noise = Image.fromarray(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8))
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))
    smooth = Image.fromarray(np.stack([ramp, ramp // 2, ramp // 3], axis=2))
    n, s = cheap_stats(noise), cheap_stats(smooth)
    assert len(n) == len(CHEAP_STATS)
    assert n[0] > 10 * s[0] and n[1] > 10 * s[1]  # noise residual, high-frequency energy
    assert 0 <= s[2] <= 1 and 0 <= n[2] <= 1

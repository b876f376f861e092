"""Each image's features, computed once and kept per day in the object store.

What the judge reads: the image network's 1280 pooled features (`semantic.pooled_features`,
the same network the comparisons use) and three cheap statistics a generator tends to get
wrong (`CHEAP_STATS`). Computing them takes the network's time per image, hours for 100,000
pairs, so each day's are stored once as `features/<day>.npz` (float16, no pickles) and
reused: a day is computed by its partition of `image_features`, older days by a backfill,
and an image already there with the same bytes (sha256) is never computed again.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from pipeline.lib.core.images import ImageError, decode_image
from pipeline.lib.core.storage import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)

FEATURES_PREFIX = "features"
POOLED = 1280
CHEAP_STATS = ("noise_residual", "high_frequency_energy", "saturation")
WIDTH = POOLED + len(CHEAP_STATS)
STATS_SIDE = 256  # the cheap statistics read a copy this long, so their cost is bounded
PHOTO, LOOK_ALIKE = "photo", "look_alike"

ImageFeatures = Callable[[Image.Image], np.ndarray]


def features_key(day: str) -> str:
    return f"{FEATURES_PREFIX}/{day}.npz"


def image_features(image: Image.Image) -> np.ndarray:
    """(WIDTH,) float32: the pooled features, then `CHEAP_STATS` in that order."""
    from pipeline.lib.measures.semantic import pooled_features

    return np.concatenate([pooled_features(image), cheap_stats(image)]).astype(np.float32)


def cheap_stats(image: Image.Image) -> np.ndarray:
    """Noise residual (the grey image minus its 3×3 median, RMS on 0–1: camera noise a
    generator rarely makes), high-frequency energy (the share of the spectrum's power beyond
    a quarter of the sampling rate), mean HSV saturation (0–1)."""
    from scipy.ndimage import median_filter

    small = image.convert("RGB")
    small.thumbnail((STATS_SIDE, STATS_SIDE), Image.Resampling.BILINEAR)
    grey = np.asarray(small.convert("L"), dtype=np.float32) / 255.0
    residual = float(np.sqrt(np.mean((grey - median_filter(grey, size=3)) ** 2)))
    power = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
    fy = np.abs(np.fft.fftfreq(grey.shape[0]))[:, None]
    fx = np.abs(np.fft.fftfreq(grey.shape[1]))[None, :]
    total = float(power.sum())
    high = float(power[np.hypot(fy, fx) > 0.25].sum()) / total if total > 0 else 0.0
    saturation = float(np.asarray(small.convert("HSV"), dtype=np.float32)[..., 1].mean() / 255)
    return np.array([residual, high, saturation], dtype=np.float32)


@dataclass
class DayFeatures:
    """One day's images: who each row is, and its features (n, WIDTH) float16."""

    kinds: list[str] = field(default_factory=list)  # PHOTO or LOOK_ALIKE
    photo_ids: list[int] = field(default_factory=list)
    generators: list[str] = field(default_factory=list)  # "" for a photo
    shas: list[str] = field(default_factory=list)  # of the image's bytes ("" if unknown)
    vectors: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.kinds)

    def add(self, ident: tuple[str, int, str], sha: str, vector: np.ndarray) -> None:
        kind, photo_id, generator = ident
        self.kinds.append(kind)
        self.photo_ids.append(photo_id)
        self.generators.append(generator)
        self.shas.append(sha)
        self.vectors.append(np.asarray(vector, dtype=np.float16))

    def lookup(self) -> dict[tuple[str, int, str], tuple[str, np.ndarray]]:
        return {
            (k, p, g): (s, v)
            for k, p, g, s, v in zip(
                self.kinds, self.photo_ids, self.generators, self.shas, self.vectors, strict=True
            )
        }

    def matrix(self) -> np.ndarray:
        return np.stack(self.vectors) if self.vectors else np.zeros((0, WIDTH), np.float16)


def encode_features(features: DayFeatures) -> bytes:
    out = io.BytesIO()
    np.savez_compressed(
        out,
        kinds=np.array(features.kinds, dtype="U10"),
        photo_ids=np.array(features.photo_ids, dtype=np.int64),
        generators=np.array(features.generators, dtype="U64"),
        shas=np.array(features.shas, dtype="U64"),
        vectors=features.matrix(),
    )
    return out.getvalue()


def decode_features(data: bytes) -> DayFeatures:
    """ValueError if `data` is not a features file of this width."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            vectors = np.asarray(npz["vectors"], dtype=np.float16)
            columns = [npz[name].tolist() for name in ("kinds", "photo_ids", "generators", "shas")]
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"not a features file ({exc})") from exc
    if (
        vectors.ndim != 2
        or vectors.shape[1] != WIDTH
        or any(len(c) != len(vectors) for c in columns)
    ):
        raise ValueError(f"features of the wrong shape {vectors.shape}; expected (n, {WIDTH})")
    kinds, photo_ids, generators, shas = columns
    return DayFeatures(kinds, [int(p) for p in photo_ids], generators, shas, list(vectors))


def read_day_features(store: ObjectStore, day: str) -> DayFeatures | None:
    """The day's stored features; None if there are none (or they cannot be read)."""
    try:
        return decode_features(store.get(features_key(day)))
    except ObjectNotFound:
        return None
    except ValueError as exc:
        log.warning("%s: %s; materialize image_features for %s again", features_key(day), exc, day)
        return None


@dataclass
class FeatureReport:
    computed: int = 0
    reused: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "images_computed": self.computed,
            "images_reused": self.reused,
            "images_unreadable": len(self.problems),
        }


def pairs_to_measure(
    photos: Iterable[Mapping[str, Any]], look_alikes: Iterable[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(photo row, look-alike row) of every succeeded look-alike whose photo was stored."""
    by_id = {p.get("id"): p for p in photos if p.get("status") == "stored" and p.get("object_key")}
    return [
        (by_id[g["photo_id"]], g)
        for g in look_alikes
        if g.get("status") == "succeeded" and g.get("object_key") and g.get("photo_id") in by_id
    ]


def compute_day_features(
    store: ObjectStore,
    photos: Iterable[Mapping[str, Any]],
    look_alikes: Iterable[Mapping[str, Any]],
    previous: DayFeatures | None = None,
    features_of: ImageFeatures = image_features,
) -> tuple[DayFeatures, FeatureReport]:
    """The features of the day's pairs, reusing `previous` where an image's bytes are the
    same. An image that cannot be read leaves out its pair alone (named in the report)."""
    known = previous.lookup() if previous is not None else {}
    out, report = DayFeatures(), FeatureReport()
    done: set[tuple[str, int, str]] = set()
    for photo, look_alike in pairs_to_measure(photos, look_alikes):
        photo_id, generator = int(photo["id"]), str(look_alike.get("generator") or "")
        wanted = [
            ((PHOTO, photo_id, ""), photo),
            ((LOOK_ALIKE, photo_id, generator), look_alike),
        ]
        vectors: list[tuple[tuple[str, int, str], str, np.ndarray | None]] = []
        for ident, row in wanted:
            sha = str(row.get("sha256") or "")
            if ident in done:
                vectors.append((ident, sha, None))  # a photo shared by several generators
                continue
            held = known.get(ident)
            if held is not None and sha and held[0] == sha:
                report.reused += 1
                vectors.append((ident, sha, held[1]))
                continue
            try:
                image = decode_image(store.get(str(row["object_key"])))
            except (ObjectNotFound, ImageError) as exc:
                report.problems.append(f"{ident[0]} {photo_id} ({generator}): {exc}")
                break
            report.computed += 1
            vectors.append((ident, sha, features_of(image)))
        else:
            for ident, sha, vector in vectors:
                if vector is not None:
                    out.add(ident, sha, vector)
                    done.add(ident)
    return out, report


def gather_features(store: ObjectStore, days: Iterable[str]) -> tuple[Any, np.ndarray, list[str]]:
    """Every image of `days` that has stored features: a DataFrame of (day, kind, photo_id,
    generator, sha) per row, the (n, WIDTH) float16 matrix, and the days that have none yet (to
    backfill). Each day's block is freed as it is copied into the matrix, so the peak is
    about one matrix (100,000 pairs: 513 MB), not two."""
    import pandas as pd

    columns: dict[str, list[Any]] = {
        "day": [], "kind": [], "photo_id": [], "generator": [], "sha": []
    }  # fmt: skip
    blocks: list[np.ndarray] = []
    missing: list[str] = []
    for day in days:
        held = read_day_features(store, day)
        if held is None:
            missing.append(day)
            continue
        columns["day"] += [day] * len(held)
        columns["kind"] += held.kinds
        columns["photo_id"] += held.photo_ids
        columns["generator"] += held.generators
        columns["sha"] += held.shas
        blocks.append(held.matrix())
    matrix = np.empty((sum(len(b) for b in blocks), WIDTH), np.float16)
    start = freed = 0
    blocks.reverse()
    while blocks:
        block = blocks.pop()
        matrix[start : start + len(block)] = block
        start += len(block)
        freed += block.nbytes
        del block
        if freed > RELEASE_EVERY:
            freed = _release_freed_memory()
    return pd.DataFrame(columns), matrix, missing


RELEASE_EVERY = 32 * 2**20


def _release_freed_memory() -> int:
    """Give the blocks already copied back to the system. A day's block (half a megabyte)
    lives on the C heap, which keeps what is freed for reuse: without this the matrix
    filled up beside every block it came from (100,000 pairs: 1.24 GB at the peak, twice the
    matrix). glibc's malloc_trim does it; elsewhere this does nothing."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return 0

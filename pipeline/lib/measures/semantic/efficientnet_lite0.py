"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant: ReLU6, no squeeze-excite), run by
onnxruntime on one core.

Inference only, one image at a time. The graph is built in memory from the state dict when
the weights are loaded (`onnx_model`; nothing is written to disk): batch norm is folded
into the convolution before it, so each layer is one Conv node. The layer sizes come from the
weights; only the strides are fixed by the architecture. onnxruntime runs it in about 7 ms
at 192 px on one core, against 25 ms for the same layers in numpy, whose depthwise
convolutions ran at memory speed (`bench/comparisons.py`); the features agree to 1e-5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.lib.measures.semantic import onnx_model

BN_EPS = 1e-3
# Index of every block that halves the resolution (the first block of stages 2, 3, 4 and 6).
DOWNSAMPLING_BLOCKS = frozenset({1, 3, 5, 11})
FEATURES = 1280
OPSET = 17


@dataclass(frozen=True)
class Lite0:
    session: Any  # onnxruntime.InferenceSession: "image" (1, 3, H, W) → "features" (1, 1280)
    classifier_weight: np.ndarray  # (1280, classes)
    classifier_bias: np.ndarray

    def features(self, image: np.ndarray) -> np.ndarray:
        """The 1280 pooled features of a normalised (H, W, 3) float32 image (any size: the
        layers are convolutions and the features a global mean; trained at 224 px)."""
        batch = np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)
        result: np.ndarray = self.session.run(None, {"image": batch})[0][0]
        return result

    def logits(self, features: np.ndarray) -> np.ndarray:
        return features @ self.classifier_weight + self.classifier_bias


def build(state: dict[str, np.ndarray]) -> Lite0:
    """The network from a state dict with EfficientNet-PyTorch-style names."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # One core per image: parallel look-alikes are measured in parallel threads, and idle
    # threads must not spin on the cores those share.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(_graph(state), opts, providers=["CPUExecutionProvider"])
    return Lite0(
        session,
        np.ascontiguousarray(state["_fc.weight"].T, dtype=np.float32),
        state["_fc.bias"].astype(np.float32),
    )


def _graph(state: dict[str, np.ndarray]) -> bytes:
    """The serialised ONNX model: stem, the MBConv blocks, head, global average pool."""
    graph = onnx_model.Graph()
    graph.weight("zero", np.zeros(()))  # ReLU6's bounds
    graph.weight("six", np.full((), 6.0))
    x = _conv(graph, "image", *_folded(state, "_conv_stem.weight", "_bn0"), stride=2, relu6=True)
    index = 0
    while f"_blocks.{index}._depthwise_conv.weight" in state:
        x = _block(graph, state, index, x)
        index += 1
    x = _conv(graph, x, *_folded(state, "_conv_head.weight", "_bn1"), relu6=True)
    graph.node("GlobalAveragePool", [x], "pooled")
    graph.node("Flatten", ["pooled"], "features")
    return onnx_model.model(
        graph,
        "efficientnet_lite0",
        inputs=[("image", [1, 3, "height", "width"])],
        outputs=[("features", [1, FEATURES])],
        opset=OPSET,
    )


def _block(graph: onnx_model.Graph, state: dict[str, np.ndarray], index: int, x: str) -> str:
    """One MBConv block: 1×1 expansion (not in the first), depthwise, 1×1 projection."""
    prefix = f"_blocks.{index}."
    inner = x
    if prefix + "_expand_conv.weight" in state:
        expand = _folded(state, prefix + "_expand_conv.weight", prefix + "_bn0")
        inner = _conv(graph, x, *expand, relu6=True)
    depthwise = _folded(state, prefix + "_depthwise_conv.weight", prefix + "_bn1")
    stride = 2 if index in DOWNSAMPLING_BLOCKS else 1
    channels = depthwise[0].shape[0]
    inner = _conv(graph, inner, *depthwise, stride=stride, groups=channels, relu6=True)
    project = _folded(state, prefix + "_project_conv.weight", prefix + "_bn2")
    out = _conv(graph, inner, *project)
    in_channels = state[prefix + "_depthwise_conv.weight"].shape[0]
    if prefix + "_expand_conv.weight" in state:
        in_channels = state[prefix + "_expand_conv.weight"].shape[1]
    if stride == 1 and in_channels == project[0].shape[0]:
        return graph.node("Add", [out, x], f"{out}+")
    return out


def _conv(
    graph: onnx_model.Graph,
    x: str,
    weight: np.ndarray,
    bias: np.ndarray,
    *,
    stride: int = 1,
    groups: int = 1,
    relu6: bool = False,
) -> str:
    """A convolution (weight (out, in / groups, k, k)) padded to keep the size / stride."""
    k = weight.shape[-1]
    name = f"conv{len(graph.nodes)}"
    inputs = [x, graph.weight(name + ".w", weight), graph.weight(name + ".b", bias)]
    pads = [k // 2] * 4
    out = graph.node(
        "Conv", inputs, name, kernel_shape=[k, k], strides=[stride, stride], pads=pads, group=groups
    )
    return graph.node("Clip", [out, "zero", "six"], name + ".relu6") if relu6 else out


def _folded(state: dict[str, np.ndarray], weight: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    scale = state[bn + ".weight"] / np.sqrt(state[bn + ".running_var"] + BN_EPS)
    w = state[weight] * scale.reshape(-1, *([1] * (state[weight].ndim - 1)))
    b = state[bn + ".bias"] - state[bn + ".running_mean"] * scale
    return w.astype(np.float32), b.astype(np.float32)

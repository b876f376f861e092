"""The in-memory ONNX writer: onnxruntime reads what it writes and computes what numpy does."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from pipeline.lib.measures.semantic import onnx_model


def run(model: bytes, **inputs: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    result: np.ndarray = session.run(None, inputs)[0]
    return result


def test_a_strided_grouped_convolution_with_a_clip_runs_as_numpy_computes_it() -> None:
    rng = np.random.default_rng(0)
    image = rng.standard_normal((1, 2, 9, 7)).astype(np.float32)
    weight = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)  # 2 groups, 2 outputs each
    bias = rng.standard_normal(4).astype(np.float32)
    graph = onnx_model.Graph()
    inputs = ["image", graph.weight("w", weight), graph.weight("b", bias)]
    conv = graph.node(
        "Conv", inputs, "conv", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4, group=2
    )
    graph.weight("lo", np.zeros(()))
    graph.weight("hi", np.full((), 0.5))
    graph.node("Clip", [conv, "lo", "hi"], "out")
    model = onnx_model.model(
        graph, "test", [("image", [1, 2, "h", "w"])], [("out", [1, 4, "oh", "ow"])], opset=17
    )

    padded = np.pad(image[0], ((0, 0), (1, 1), (1, 1)))
    expected = np.empty((4, 5, 4), np.float32)
    for out in range(4):
        channel = padded[out // 2]  # group g reads input channel g
        for y in range(5):
            for x in range(4):
                window = channel[2 * y : 2 * y + 3, 2 * x : 2 * x + 3]
                expected[out, y, x] = (window * weight[out, 0]).sum() + bias[out]
    got = run(model, image=image)
    np.testing.assert_allclose(got[0], np.clip(expected, 0.0, 0.5), atol=1e-5)


def test_a_varint_spans_bytes_and_negative_numbers_are_refused() -> None:
    assert onnx_model._varint(0) == b"\x00"
    assert onnx_model._varint(300) == b"\xac\x02"  # protobuf's own example
    with pytest.raises(ValueError, match="non-negative"):
        onnx_model._varint(-1)

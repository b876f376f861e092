"""Just enough of the ONNX format to hand onnxruntime a graph built in memory.

An ONNX model is a protobuf message; this writes the few message types a feed-forward
network of float32 tensors needs (ModelProto, GraphProto, NodeProto, AttributeProto,
TensorProto, ValueInfoProto), with the field numbers of onnx.proto. The `onnx` package
would write the same bytes, but importing it costs 0.7 s of CPU (2 s of wall time on a busy
machine: its numpy dtype extension), in every process that measures images.
`pipeline_tests/lib/test_semantic.py` holds the result to what onnxruntime reads back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

IR_VERSION = 8  # the ONNX IR version of opset 17's release; onnxruntime reads 3 and later
FLOAT = 1  # TensorProto.DataType
_ATTRIBUTE_INT, _ATTRIBUTE_INTS = 2, 7  # AttributeProto.AttributeType
_VARINT, _LENGTH_DELIMITED = 0, 2  # protobuf wire types


@dataclass
class Graph:
    """Nodes and named float32 weights, written out by `model`."""

    nodes: list[bytes] = field(default_factory=list)
    initializers: list[bytes] = field(default_factory=list)

    def node(
        self, op_type: str, inputs: Sequence[str], output: str, **attributes: int | list[int]
    ) -> str:
        """Adds a node with one output; integer and integer-list attributes only."""
        parts = [_string(1, name) for name in inputs] + [_string(2, output), _string(4, op_type)]
        parts += [_message(5, _attribute(name, value)) for name, value in attributes.items()]
        self.nodes.append(b"".join(parts))
        return output

    def weight(self, name: str, values: np.ndarray) -> str:
        """Adds a float32 tensor the nodes can name as an input."""
        data = np.ascontiguousarray(values, dtype="<f4")
        parts = [_int(1, d) for d in data.shape] + [_int(2, FLOAT), _string(8, name)]
        self.initializers.append(b"".join(parts) + _bytes(9, data.tobytes()))
        return name


def model(
    graph: Graph,
    name: str,
    inputs: Iterable[tuple[str, Sequence[int | str]]],
    outputs: Iterable[tuple[str, Sequence[int | str]]],
    opset: int,
) -> bytes:
    """A serialised ModelProto; each input and output is (name, shape) of float32, a str
    in a shape naming a free dimension."""
    body = [_message(1, n) for n in graph.nodes] + [_string(2, name)]
    body += [_message(5, t) for t in graph.initializers]
    body += [_message(11, _value_info(n, s)) for n, s in inputs]
    body += [_message(12, _value_info(n, s)) for n, s in outputs]
    opset_id = _string(1, "") + _int(2, opset)
    return _int(1, IR_VERSION) + _message(8, opset_id) + _message(7, b"".join(body))


def _value_info(name: str, shape: Sequence[int | str]) -> bytes:
    dims = b"".join(_message(1, _string(2, d) if isinstance(d, str) else _int(1, d)) for d in shape)
    tensor_type = _int(1, FLOAT) + _message(2, dims)
    return _string(1, name) + _message(2, _message(1, tensor_type))


def _attribute(name: str, value: int | list[int]) -> bytes:
    if isinstance(value, int):
        return _string(1, name) + _int(3, value) + _int(20, _ATTRIBUTE_INT)
    return _string(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _ATTRIBUTE_INTS)


def _varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("only non-negative integers are written")
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3 | _VARINT) + _varint(value)


def _bytes(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(data)) + data


def _string(number: int, text: str) -> bytes:
    return _bytes(number, text.encode())


def _message(number: int, encoded: bytes) -> bytes:
    return _bytes(number, encoded)

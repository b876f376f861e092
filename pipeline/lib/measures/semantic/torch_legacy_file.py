"""Read a PyTorch state dict saved in the legacy (pre-zip) format, without torch.

Such a file is five pickles in a row (magic number, protocol version, system info, the state
dict, the list of storage keys) followed by each storage's raw bytes, prefixed by its element
count. The state dict refers to storages by key; tensors are views (offset, shape, stride) of
them. The unpickler below accepts only the handful of globals such a file needs, so reading a
file cannot run code from it.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class TorchFileError(ValueError):
    """The file is not a legacy-format state dict this reader understands."""


@dataclass
class _StorageRef:
    dtype: np.dtype[Any]
    numel: int
    data: np.ndarray | None = None


@dataclass
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def to_array(self) -> np.ndarray:
        if self.storage.data is None:
            raise TorchFileError("a tensor refers to a storage the file does not contain")
        if len(self.shape) != len(self.stride):
            raise TorchFileError("a tensor's shape and stride disagree")
        spans = zip(self.shape, self.stride, strict=True)
        need = self.offset + sum((n - 1) * s for n, s in spans) + 1
        if min(self.shape, default=1) > 0 and need > self.storage.numel:
            raise TorchFileError("a tensor reaches past the end of its storage")
        item = self.storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset :],
            shape=self.shape,
            strides=tuple(s * item for s in self.stride),
        )
        return np.ascontiguousarray(view).copy()  # own memory: the file buffer can go


def _rebuild_tensor(
    storage: _StorageRef,
    offset: int,
    shape: tuple[int, ...],
    stride: tuple[int, ...],
    *_ignored: Any,
) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, storages: dict[str, _StorageRef]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        raise TorchFileError(f"unexpected object in the file: {module}.{name}")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise TorchFileError(f"unexpected persistent id: {pid!r:.80}")
        _, dtype, key, _location, numel, view = pid
        if view is not None or not isinstance(dtype, np.dtype):
            raise TorchFileError("storage views are not supported")
        return self.storages.setdefault(str(key), _StorageRef(dtype, int(numel)))


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise TorchFileError(f"unexpected object in the file header: {module}.{name}")


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of the file as a numpy array, by name (in the file's order)."""
    buffer = io.BytesIO(Path(path).read_bytes())
    try:
        magic = _PlainUnpickler(buffer).load()
        protocol = _PlainUnpickler(buffer).load()
        sys_info = _PlainUnpickler(buffer).load()
        if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL:
            raise TorchFileError("not a legacy-format torch file")
        if not sys_info.get("little_endian", False):
            raise TorchFileError("big-endian torch files are not supported")
        storages: dict[str, _StorageRef] = {}
        state = _StateDictUnpickler(buffer, storages).load()
        keys = _PlainUnpickler(buffer).load()
    except (pickle.UnpicklingError, EOFError, AttributeError) as exc:
        raise TorchFileError(f"unreadable torch file: {exc}") from exc
    raw = buffer.getbuffer()
    position = buffer.tell()
    for key in keys:
        storage = storages.get(str(key))
        if storage is None:
            raise TorchFileError(f"storage {key} is listed but never used")
        (numel,) = struct.unpack_from("<q", raw, position)
        position += 8
        end = position + numel * storage.dtype.itemsize
        if numel != storage.numel or end > len(raw):
            raise TorchFileError(f"storage {key} is truncated or mis-sized")
        storage.data = np.frombuffer(raw[position:end], dtype=storage.dtype)
        position = end
    if not isinstance(state, dict):
        raise TorchFileError("the file does not hold a state dict")
    return {str(name): ref.to_array() for name, ref in state.items()}

"""The numpy EfficientNet-Lite0 and the torch-free weight reader against PyTorch itself.

Runs where torch is installed (CI installs the CPU build); the default install has no torch.
The reference network below is written in plain torch layers from the same architecture
description, so a slip in the numpy convolutions, the batch-norm folding or the reader shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.lib.core.images import load_image_file
from pipeline.lib.measures import semantic
from pipeline.lib.measures.semantic import efficientnet_lite0
from pipeline.lib.measures.semantic.torch_legacy_file import read_state_dict
from pipeline_tests.system_tools import require_module

# One worker takes the whole module, so its module fixtures are made once.
pytestmark = pytest.mark.xdist_group("test_semantic_reference")

torch = require_module("torch", "pip install torch==2.13.0, the CPU build; see .ci/run")
nn = torch.nn

SAMPLES = Path(__file__).parents[2] / "pipeline" / "lib" / "sources" / "sample_photos"
# (expansion, kernel, stride, output channels, repeats) per stage of EfficientNet-Lite0
STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]  # fmt: skip


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=efficientnet_lite0.BN_EPS)


class ReferenceBlock(nn.Module):
    def __init__(self, c_in: int, expansion: int, kernel: int, stride: int, c_out: int) -> None:
        super().__init__()
        mid = c_in * expansion
        if expansion != 1:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self.expansion = expansion
        self._depthwise_conv = nn.Conv2d(
            mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False
        )
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):  # type: ignore[no-untyped-def]
        y = x
        if self.expansion != 1:
            y = nn.functional.relu6(self._bn0(self._expand_conv(y)))
        y = nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class ReferenceLite0(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = _bn(32)
        blocks, c_in = [], 32
        for expansion, kernel, stride, c_out, repeats in STAGES:
            for i in range(repeats):
                blocks.append(
                    ReferenceBlock(c_in, expansion, kernel, stride if i == 0 else 1, c_out)
                )
                c_in = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, x):  # type: ignore[no-untyped-def]
        x = nn.functional.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return nn.functional.relu6(self._bn1(self._conv_head(x))).mean(dim=(2, 3))


@pytest.fixture(scope="module")
def reference() -> ReferenceLite0:
    model = ReferenceLite0()
    model.load_state_dict(torch.load(semantic.weights_path(), map_location="cpu"), strict=True)
    return model.eval()


def test_the_reader_gives_what_torch_load_gives() -> None:
    ours = read_state_dict(semantic.weights_path())
    theirs = torch.load(semantic.weights_path(), map_location="cpu")
    assert list(ours) == list(theirs)
    for name, tensor in theirs.items():
        np.testing.assert_array_equal(ours[name], tensor.numpy(), err_msg=name)


def test_the_reader_handles_views_and_integer_storages(tmp_path: Path) -> None:
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = {"transposed": base.t(), "slice": base[1:, 2:5], "count": torch.tensor(7)}
    path = tmp_path / "legacy.pth"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    ours = read_state_dict(path)
    for name, tensor in state.items():
        np.testing.assert_array_equal(ours[name], tensor.numpy(), err_msg=name)


@pytest.mark.slow
def test_features_match_pytorch_to_1e_4_on_the_sample_photos(reference: ReferenceLite0) -> None:
    net = semantic.network()
    for path in sorted(SAMPLES.glob("*.jpg")):
        pixels = semantic.network_input(load_image_file(path))
        ours = net.features(pixels)
        with torch.no_grad():
            theirs = reference(torch.from_numpy(pixels).permute(2, 0, 1)[None])[0].numpy()
        np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0, err_msg=path.name)
        logits = net.logits(ours)
        expected = reference._fc(torch.from_numpy(theirs)).detach().numpy()
        np.testing.assert_allclose(logits, expected, atol=1e-3, rtol=0, err_msg=path.name)

"""The onnxruntime EfficientNet-Lite0 and the torch-free weight reader against PyTorch itself.

Runs where torch is installed (CI installs the CPU build); the default install has no torch.
The reference network (pipeline_tests/fixtures/torch_reference.py) is plain torch layers from
the same architecture description, so a slip in the ONNX graph, the batch-norm folding or the
reader shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.lib.core.images import load_image_file
from pipeline.lib.measures import semantic
from pipeline.lib.measures.semantic.torch_legacy_file import read_state_dict
from pipeline_tests.system_tools import require_module

# One worker takes the whole module, so its module fixtures are made once; slow, as
# importing torch alone takes seconds.
pytestmark = [pytest.mark.xdist_group("test_semantic_reference"), pytest.mark.slow]

SAMPLES = Path(__file__).parents[2] / "pipeline" / "lib" / "sources" / "sample_photos"


@pytest.fixture(scope="module")
def torch() -> Any:
    # Imported here, not at the top: collecting the suite should not pay torch's import.
    return require_module("torch", "pip install torch==2.13.0, the CPU build; see .ci/run")


@pytest.fixture(scope="module")
def reference(torch: Any) -> Any:
    from pipeline_tests.fixtures.torch_reference import ReferenceLite0

    model = ReferenceLite0()
    model.load_state_dict(torch.load(semantic.weights_path(), map_location="cpu"), strict=True)
    return model.eval()


def test_the_reader_gives_what_torch_load_gives(torch: Any) -> None:
    ours = read_state_dict(semantic.weights_path())
    theirs = torch.load(semantic.weights_path(), map_location="cpu")
    assert list(ours) == list(theirs)
    for name, tensor in theirs.items():
        np.testing.assert_array_equal(ours[name], tensor.numpy(), err_msg=name)


def test_the_reader_handles_views_and_integer_storages(tmp_path: Path, torch: Any) -> None:
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = {"transposed": base.t(), "slice": base[1:, 2:5], "count": torch.tensor(7)}
    path = tmp_path / "legacy.pth"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    ours = read_state_dict(path)
    for name, tensor in state.items():
        np.testing.assert_array_equal(ours[name], tensor.numpy(), err_msg=name)


def test_features_match_pytorch_to_1e_4_on_the_sample_photos(reference: Any, torch: Any) -> None:
    net = semantic.network()
    for path in sorted(SAMPLES.glob("*.jpg")):
        photo = load_image_file(path)
        pixels = semantic.network_input(photo)
        ours = semantic.pooled_features(photo)
        with torch.no_grad():
            theirs = reference(torch.from_numpy(pixels).permute(2, 0, 1)[None])[0].numpy()
        np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0, err_msg=path.name)
        logits = net.logits(ours)
        expected = reference._fc(torch.from_numpy(theirs)).detach().numpy()
        np.testing.assert_allclose(logits, expected, atol=1e-3, rtol=0, err_msg=path.name)

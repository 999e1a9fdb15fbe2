"""Engines run one model on a float32 NCHW batch and return its output as numpy.

The pipeline only sees this interface, so dygraph, Paddle Inference, ONNX Runtime and Paddle-Lite are
interchangeable and give the pipeline the same pre- and post-processing.
"""
from .base import Engine, DygraphEngine, OnnxEngine  # noqa: F401

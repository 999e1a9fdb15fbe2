"""Engines run one model on a float32 NCHW batch and return its output as numpy.

The pipeline only sees this interface, so dygraph, Paddle Inference and ONNX Runtime are
interchangeable and share the same pre- and post-processing.
"""
from .base import DygraphEngine, Engine, OnnxEngine  # noqa: F401

ENGINES = ("onnx", "paddle", "dygraph", "lite")

from __future__ import annotations

import os
from typing import Protocol

import numpy as np


class Engine(Protocol):
    def __call__(self, batch: np.ndarray) -> np.ndarray:
        ...


class DygraphEngine:
    """Runs a paddle.nn.Layer (eval mode, no autograd)."""

    def __init__(self, model) -> None:
        self.model = model
        self.model.eval()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import paddle

        with paddle.no_grad():
            out = self.model(paddle.to_tensor(np.ascontiguousarray(batch, dtype=np.float32)))
        return out.numpy()


# onnxruntime's WeightBiasQuantization turns a float-weight Conv between a DequantizeLinear and a QuantizeLinear into an
# int8 QLinearConv with weights it quantizes itself, which would change what a PACT model's fake-quant graph computes
# (slim/int8_onnx.py; its Clip before each QuantizeLinear keeps the pattern out today, this keeps it out for good).
# Graphs whose weights are meant to be int8 carry their own DequantizeLinear and do not need it.
DISABLED_OPTIMIZERS = ("WeightBiasQuantization",)
# onnxruntime's worker threads spin-wait for more work after a run, holding a core. A system runs three sessions in
# turn (det, cls, rec), each with its own pool, so on a machine with few cores the threads still spinning for one
# stage take the CPU from the next (docs/results.md, "Speed and memory": off is faster with two threads).
ALLOW_SPINNING = False


class OnnxEngine:
    """Runs an ONNX file in onnxruntime on the CPU (the reference for parity, and a deploy path)."""

    def __init__(self, path: os.PathLike, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if ALLOW_SPINNING else "0")
        options.log_severity_level = 3  # the official det graph declares a fixed output shape; silence that
        self.path = str(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                            disabled_optimizers=list(DISABLED_OPTIMIZERS))
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]

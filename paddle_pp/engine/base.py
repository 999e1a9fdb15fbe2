from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Protocol, Sequence

import numpy as np


class Engine(Protocol):
    """Runs one batch. An engine that can run several batches at once also has `concurrency` (how many) and
    `run_many(batches)` (their outputs, in order); the pipeline's cls and rec stages use them
    (`pipeline.run_in_groups`)."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        ...


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
    """Runs an ONNX file in onnxruntime on the CPU (the reference for parity, and a deploy path).

    One batch runs on `threads` intra-op threads (0: onnxruntime's default, one per core). Several batches
    (`run_many`) run one per thread at once, each on one thread of a second, single-threaded session: the small
    recognition and classification batches use two threads poorly (a batch of 6 crops at 32x320 takes 0.75 times
    as long on two threads as on one; two batches at once, 0.54 times as long each; docs/inference.md). Each
    batch is computed alone either way, so the outputs are those of one batch at a time.

    The file is read once, here: the second session is made from the same bytes when first needed, so a model
    cache replaced meanwhile (another paddle-pp version preparing its models in the same directory) cannot take
    the file from under a running engine."""

    def __init__(self, path: os.PathLike, threads: int = 0) -> None:
        self.path = str(path)
        with open(self.path, "rb") as f:
            self.model_bytes = f.read()
        self.threads = int(threads)
        self.session = self._session(self.threads)
        self.input_name = self.session.get_inputs()[0].name
        self.concurrency = self.threads or available_cores()
        self._single: Optional[object] = None  # the one-thread session and the pool of run_many, made on first use
        self._pool: Optional[ThreadPoolExecutor] = None
        self._pool_pid = 0  # a forked child inherits the pool but not its threads: it makes its own
        self._lock = threading.Lock()

    def _session(self, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if ALLOW_SPINNING else "0")
        options.log_severity_level = 3  # the official det graph declares a fixed output shape; silence that
        return ort.InferenceSession(self.model_bytes, options, providers=["CPUExecutionProvider"],
                                    disabled_optimizers=list(DISABLED_OPTIMIZERS))

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._run(self.session, batch)

    def _run(self, session, batch: np.ndarray) -> np.ndarray:
        return session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]

    def run_many(self, batches: Sequence[np.ndarray]) -> List[np.ndarray]:
        """The outputs of `batches`, in order, `concurrency` at a time (a session may be run from several threads
        at once; onnxruntime releases the GIL while it runs)."""
        if self.concurrency < 2 or len(batches) < 2:
            return [self(batch) for batch in batches]
        with self._lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._single = self._single or self._session(1)
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="onnx-batch")
                self._pool_pid = os.getpid()
        single = self._single
        return list(self._pool.map(lambda batch: self._run(single, batch), batches))

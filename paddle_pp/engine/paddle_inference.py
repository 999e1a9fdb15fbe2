"""Paddle Inference engine: an exported model (PIR `inference.json` or legacy `inference.pdmodel`)."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, TypeVar

import numpy as np

from paddle_pp.model_dir import LEGACY_MODEL, PARAMS, PIR_MODEL, inference_files


# oneDNN kernels used with the legacy format: every op of the det/cls/rec programs (and the fused ops the IR
# passes make of them) except two whose oneDNN kernels are much slower here than Paddle's own:
# `reduce_mean` (the SE blocks' global pooling, 18 per rec call: ~55% of rec time with oneDNN on) and
# `expand_v2` (DBFPN's upsampling, ~70% of det time). Measured with paddle 3.3.1 on the real batch shapes.
ONEDNN_OPS = (
    "conv2d", "depthwise_conv2d", "conv2d_transpose", "fused_conv2d", "batch_norm", "hard_swish", "hard_sigmoid",
    "relu", "sigmoid", "elementwise_add", "elementwise_mul", "fused_elementwise_add", "fused_elementwise_mul",
    "pool2d", "fc", "matmul_v2", "fused_matmul", "softmax", "transpose2", "fused_transpose", "reshape2",
    "squeeze2", "unsqueeze2", "flatten_contiguous_range", "concat", "slice", "scale", "pad3d", "shape",
    "fill_constant",
)


T = TypeVar("T")


def find_inference_files(model_dir: os.PathLike, prefer_legacy: bool = False) -> tuple:
    """(model file, params file) of the exported model in `model_dir`: PIR first unless `prefer_legacy`."""
    found = inference_files(model_dir, prefer_legacy)
    if found is not None:
        return found
    raise FileNotFoundError(f"{model_dir}: no exported model ({PIR_MODEL} or {LEGACY_MODEL} with {PARAMS}); "
                            f"export one with deploy/export_model.py")


class PaddleInferenceEngine:
    """One predictor, reused for every call; oneDNN (MKL-DNN) on by default.

    `mkldnn_cache_capacity` bounds oneDNN's per-shape kernel cache: detection and recognition see a new
    input shape for almost every image, and an unbounded cache grows memory without limit.

    Both formats run; the legacy one (`inference.pdmodel`, read with the legacy IR) is the fast one on the
    CPU because it lets us keep `reduce_mean` and `expand_v2` off oneDNN (`ONEDNN_OPS`); PIR ignores
    `set_mkldnn_op` and runs every op with a oneDNN kernel in oneDNN. Outputs of the two formats and of
    oneDNN on/off agree to ~1e-4 (oneDNN's own float rounding), see tests/test_export.py.
    """

    def __init__(self, model_dir: os.PathLike, enable_mkldnn: bool = True, cpu_threads: Optional[int] = None,
                 mkldnn_cache_capacity: int = 10, prefer_legacy: bool = False) -> None:
        from paddle import inference

        model_file, params_file = find_inference_files(model_dir, prefer_legacy)
        self.legacy = model_file.name == LEGACY_MODEL
        config = inference.Config(str(model_file), str(params_file))
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(int(cpu_threads or os.cpu_count() or 1))
        if self.legacy:
            config.enable_new_ir(False)
        if enable_mkldnn:
            config.enable_mkldnn()
            config.set_mkldnn_cache_capacity(int(mkldnn_cache_capacity))
            if self.legacy:
                config.set_mkldnn_op(set(ONEDNN_OPS))
        else:
            config.disable_mkldnn()
        config.switch_ir_optim(True)
        config.disable_glog_info()
        self._runner = ThreadPoolExecutor(1, thread_name_prefix="paddle-inference")
        self._runner_pid = os.getpid()  # the process whose thread runs the predictor
        self._lock = threading.Lock()
        self.predictor = self._on_own_thread(lambda: inference.create_predictor(config))
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])
        if enable_mkldnn and not self.legacy:
            self._on_own_thread(self._first_run_quietly)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        return self._on_own_thread(lambda: self._run(batch))

    def _run(self, batch: np.ndarray) -> np.ndarray:
        self.input.reshape(list(batch.shape))
        self.input.copy_from_cpu(batch)
        self.predictor.run()
        return self.output.copy_to_cpu()

    def _first_run_quietly(self) -> None:
        """A PIR predictor's first run with oneDNN prints one `ReduceMeanCheckIfOneDNNSupport` per reduce_mean op
        to stdout from C++ (18 lines for the recognizer); make that run here, on a 1x3x32x32 input (which every
        det, cls and rec network of PP-OCR takes), with the output thrown away. Later runs print nothing. A model
        that needs another input shape just prints on its first real run."""
        from paddle_pp.utils.quiet import output_to

        with output_to(os.devnull):
            try:
                self._run(np.zeros((1, 3, 32, 32), dtype=np.float32))
            except Exception:  # noqa: BLE001 - only a warm-up: the real input's errors are reported by __call__
                pass

    def _on_own_thread(self, work: Callable[[], T]) -> T:
        """Run `work` on this engine's own thread, one call at a time, from whichever thread calls.

        A predictor run from threads that come and go fails now and then inside Paddle with oneDNN ("RuntimeError:
        std::exception", as in a web server's thread pool), and two runs at once would share its input and output.
        In a child forked after the engine was made (multiprocessing's default on Linux) a new thread fails the same
        way every time, but the thread that forked (the child's only one) runs the predictor well; a child's calls
        therefore run on the calling thread, one at a time."""
        if self._runner_pid != os.getpid():
            with self._lock:
                return work()
        return self._runner.submit(work).result()

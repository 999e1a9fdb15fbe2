"""Paddle Inference engine: an exported model (PIR `inference.json` or legacy `inference.pdmodel`)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from paddle_pp.export import LEGACY_MODEL, PARAMS, PIR_MODEL


def find_inference_files(model_dir: os.PathLike) -> tuple:
    model_dir = Path(model_dir)
    for name in (PIR_MODEL, LEGACY_MODEL):
        if (model_dir / name).is_file() and (model_dir / PARAMS).is_file():
            return model_dir / name, model_dir / PARAMS
    raise FileNotFoundError(f"{model_dir}: no exported model ({PIR_MODEL} or {LEGACY_MODEL} with {PARAMS}); "
                            f"export one with deploy/export_model.py")


class PaddleInferenceEngine:
    """One predictor, reused for every call; oneDNN (MKL-DNN) on by default.

    `mkldnn_cache_capacity` bounds oneDNN's per-shape kernel cache: detection and recognition see a new
    input shape for almost every image, and an unbounded cache grows memory without limit.
    """

    def __init__(self, model_dir: os.PathLike, enable_mkldnn: bool = True, cpu_threads: Optional[int] = None,
                 mkldnn_cache_capacity: int = 10) -> None:
        from paddle import inference

        model_file, params_file = find_inference_files(model_dir)
        config = inference.Config(str(model_file), str(params_file))
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(int(cpu_threads or os.cpu_count() or 1))
        if enable_mkldnn:
            config.enable_mkldnn()
            config.set_mkldnn_cache_capacity(int(mkldnn_cache_capacity))
        config.switch_ir_optim(True)
        config.disable_glog_info()
        self.predictor = inference.create_predictor(config)
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        self.input.reshape(list(batch.shape))
        self.input.copy_from_cpu(batch)
        self.predictor.run()
        return self.output.copy_to_cpu()

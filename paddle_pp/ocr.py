"""PPOCR: text out of an image in three lines.

    from paddle_pp import PPOCR
    ocr = PPOCR()
    for line in ocr("receipt.jpg"):
        print(line["transcription"], line["score"], line["points"])
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from paddle_pp.config import load_config
from paddle_pp.engine import DygraphEngine, Engine
from paddle_pp.pipeline import (SYSTEM_KEYS, TextClassifier, TextDetector, TextRecognizer, TextSystem,
                                apply_options, resolve_dict_path)
from paddle_pp.utils.image_io import ImageInput, to_bgr

ENGINES = ("dygraph",)


def load_stage_config(name: str, model_dir: Optional[os.PathLike]) -> Tuple[Dict[str, Any], Optional[Path]]:
    """The config that drives a stage: the model directory's own, or configs/<name>.yml for the official one."""
    if model_dir is None:
        return load_config(name), None
    model_dir = Path(model_dir)
    if not (model_dir / "config.yml").is_file():
        raise FileNotFoundError(f"{model_dir}: not a paddle-pp model directory (config.yml is missing)")
    return load_config(model_dir / "config.yml"), model_dir


def build_engine(name: str, model_dir: Optional[Path], engine: str, cache_dir: Optional[os.PathLike]) -> Engine:
    from paddle_pp.weights import import_official, load_model_dir

    if engine not in ENGINES:
        raise ValueError(f"unknown engine '{engine}'; choose one of {ENGINES}")
    directory = model_dir if model_dir is not None else import_official(name, cache_dir)
    return DygraphEngine(load_model_dir(directory))


class PPOCR:
    """The PP-OCR system. Options mirror PaddleOCR's predictor flags; None means "the YAML's default".

    Args:
        det_model_dir / cls_model_dir / rec_model_dir: model directories (config.yml + weights); None uses
            the official models, imported on first use into the model cache.
        use_angle_cls: run the 0/180 classifier on each crop (configs/system.yml default: true).
        drop_score: drop results whose recognition score is below this (default 0.5).
        engine: 'dygraph' (the Paddle dygraph models).
        **options: det_limit_side_len, det_limit_type, det_db_thresh, det_db_box_thresh, det_db_unclip_ratio,
            det_db_score_mode, use_dilation, max_candidates, cls_batch_num, cls_thresh, rec_batch_num,
            rec_char_dict_path, use_space_char.
    """

    def __init__(self, det_model_dir: Optional[os.PathLike] = None, cls_model_dir: Optional[os.PathLike] = None,
                 rec_model_dir: Optional[os.PathLike] = None, use_angle_cls: Optional[bool] = None,
                 drop_score: Optional[float] = None, engine: str = "dygraph",
                 cache_dir: Optional[os.PathLike] = None, **options: Any) -> None:
        system = load_config("system")["System"]
        self.use_angle_cls = system["use_angle_cls"] if use_angle_cls is None else bool(use_angle_cls)
        self.drop_score = system["drop_score"] if drop_score is None else float(drop_score)

        dirs = {"det": det_model_dir, "cls": cls_model_dir, "rec": rec_model_dir}
        configs, bases = {}, {}
        for name, directory in dirs.items():
            configs[name], bases[name] = load_stage_config(name, directory)
        apply_options(configs, options)
        self.configs = configs

        detector = TextDetector(configs["det"], build_engine("det", bases["det"], engine, cache_dir))
        classifier = None
        if self.use_angle_cls:
            classifier = TextClassifier(configs["cls"], build_engine("cls", bases["cls"], engine, cache_dir))
        recognizer = TextRecognizer(configs["rec"], build_engine("rec", bases["rec"], engine, cache_dir),
                                    resolve_dict_path(configs["rec"], bases["rec"]))
        self.system = TextSystem(detector, recognizer, classifier, self.drop_score)

    def __call__(self, image: ImageInput) -> List[Dict[str, Any]]:
        """OCR one image (a path, or a BGR / gray / BGRA numpy array) -> results in reading order."""
        return [r.to_dict() for r in self.system(to_bgr(image))]

    ocr = __call__

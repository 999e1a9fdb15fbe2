"""Write the C++ demo's key-value config from configs/*.yml, so its defaults have one source.

    python deploy/lite/make_cpp_config.py --out DIR/ocr_config.txt [--det_config configs/det.yml ...] [--as_paddleocr]

Keys are PaddleOCR's flag names where one exists; float values are written with repr(), which reads back as
the same double in C++ (strtod). Model and dictionary paths are relative to the config file's directory.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from paddle_pp.defaults import CLS_LABEL_LIST
from paddle_pp.utils.dicts import use_space_char

CONFIG_NAME = "ocr_config.txt"
DICT_NAME = "ppocr_keys_v1.txt"


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return " ".join(_fmt(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def cpp_config_lines(det_cfg: Dict, cls_cfg: Dict, rec_cfg: Dict, system: Dict, dict_name: str = DICT_NAME,
                     cpu_threads: int = 2, power_mode: str = "LITE_POWER_HIGH") -> List[str]:
    from paddle_pp.pipeline import (DENSE_KEYS, INKED_END_KEYS, UNSURE_KEYS, max_pad_ratio, rec_inference_flag,
                                    rec_inference_values)
    from paddle_pp.postprocess.ctc_decode import mixed_case_prior

    det_inf, det_post = det_cfg["Inference"], det_cfg.get("PostProcess") or {}
    db_score_mode = det_post.get("score_mode", "fast")
    cls_inf, rec_inf = cls_cfg["Inference"], rec_cfg["Inference"]
    values = [
        ("det_model_path", "det.nb"), ("cls_model_path", "cls.nb"), ("rec_model_path", "rec.nb"),
        ("rec_char_dict_path", dict_name),
        ("cpu_threads", cpu_threads), ("lite_power_mode", power_mode),
        ("det_limit_side_len", int(det_inf["limit_side_len"])), ("det_limit_type", det_inf["limit_type"]),
        ("det_max_side_limit", int(det_inf.get("max_side_limit") or 0)),  # 0: no cap (PaddleOCR 2.x)
        ("det_long_image_aspect", float(det_inf.get("long_image_aspect") or 0.0)),  # 0: PaddleOCR's resize
        ("det_window_overlap", float(det_inf.get("window_overlap") or 0.0)),  # 0: long images shrunk to the cap
        ("det_window_below", float(1.0 if det_inf.get("window_below") is None else det_inf["window_below"])),
        ("det_border_below", int(det_inf.get("border_below") or 0)),      # 0: no border (PaddleOCR)
        ("det_border_ratio", float(det_inf.get("border_ratio") or 0.0)),
        ("det_border_unclip_ratio", float(det_inf.get("border_unclip_ratio") or 0.0)),  # 0: det_db_unclip_ratio
        ("det_small_text_below", float(det_inf.get("small_text_below") or 0.0)),  # 0: one pass (PaddleOCR)
        ("det_small_text_zoom", float(det_inf.get("small_text_zoom") or 1.0)),
        ("det_small_text_height", float(det_inf.get("small_text_height") or 0.0)),  # 0: always the zoom
        ("det_small_text_unclip_ratio", float(det_inf.get("small_text_unclip_ratio") or 0.0)),  # 0: as the first
        ("det_small_text_score_mode", det_inf.get("small_text_score_mode") or db_score_mode),  # empty: the first's
        ("det_small_text_empty_zoom", float(det_inf.get("small_text_empty_zoom") or 0.0)),  # 0: nothing found stands
        ("det_small_text_empty_unread", bool(det_inf.get("small_text_empty_unread", False))),  # nothing read stands
        ("det_small_text_rendered_share", float(det_inf.get("small_text_rendered_share") or 0.0)),  # 0: own size
        ("det_small_text_past_aspect", float(det_inf.get("small_text_past_aspect") or 0.0)),  # 0: any shape
        ("det_small_text_grey", bool(det_inf.get("small_text_grey", False))),  # false: in colour, as the first
        ("det_large_text_above", float(det_inf.get("large_text_above") or 0.0)),  # 0: split lines stand
        ("det_large_text_height", float(det_inf.get("large_text_height") or 0.0)),
        ("det_mean", [float(v) for v in det_inf["mean"]]), ("det_std", [float(v) for v in det_inf["std"]]),
        ("det_scale", float(det_inf["scale"])),
        ("det_db_thresh", float(det_post.get("thresh", 0.3))),
        ("det_db_box_thresh", float(det_post.get("box_thresh", 0.6))),
        ("det_db_max_candidates", int(det_post.get("max_candidates", 1000))),
        ("det_db_unclip_ratio", float(det_post.get("unclip_ratio", 1.5))),
        ("det_use_dilation", bool(det_post.get("use_dilation", False))),
        ("det_db_score_mode", db_score_mode),
        ("det_db_nested_thresh", float(det_post.get("nested_thresh") or 0.0)),  # 0: keep nested boxes
        ("cls_image_shape", [int(v) for v in cls_inf["image_shape"]]),
        ("cls_batch_num", int(cls_inf["batch_num"])), ("cls_thresh", float(cls_inf["thresh"])),
        ("cls_pieces_above", float(cls_inf.get("pieces_above") or 0.0)),  # 0: whole crops only (PaddleOCR)
        ("cls_max_pieces", int(cls_inf.get("max_pieces") or 0)),
        ("cls_upright_sure", float(cls_inf.get("upright_sure", 1.0))),   # 1: no crop is taken as it is
        ("cls_turned_view", bool(cls_inf.get("turned_view", False))),    # no turned view (PaddleOCR)
        ("cls_label_list", [str(v) for v in cls_cfg["Global"].get("label_list", CLS_LABEL_LIST)]),
        ("rec_image_shape", [int(v) for v in rec_inf["image_shape"]]),
        ("rec_batch_num", int(rec_inf["batch_num"])),
        ("rec_max_pad_ratio", max_pad_ratio(rec_inf) or 0.0),  # 0: no limit (PaddleOCR's batches)
        ("use_space_char", use_space_char(rec_cfg["Global"])),
        ("rec_mixed_case_prior", mixed_case_prior(rec_cfg) or 0.0),  # 0: greedy decoding only
        *zip((f"rec_{key}" for key in INKED_END_KEYS), rec_inference_values(rec_inf, INKED_END_KEYS)),
        ("rec_drop_bullets", rec_inference_flag(rec_inf, "drop_bullets")),  # a leading bullet cut off
        *zip((f"rec_{key}" for key in DENSE_KEYS), rec_inference_values(rec_inf, DENSE_KEYS)),  # pitch 0: once
        *zip((f"rec_{key}" for key in UNSURE_KEYS), rec_inference_values(rec_inf, UNSURE_KEYS)),  # blur 0: never
        ("use_angle_cls", bool(system["use_angle_cls"])), ("drop_score", float(system["drop_score"])),
        ("reading_order", system["reading_order"]),
        ("light_text_share", float(system.get("light_text_share", 1.0))),   # 1: pages read as they are
        ("light_text_height", float(system.get("light_text_height", 0.0))),
        ("use_doc_orientation_classify", bool(system.get("use_doc_orientation_classify", False))),
    ]
    header = ["# Generated by deploy/lite/make_cpp_config.py from configs/*.yml: edit the YAML, not this file."]
    return header + [f"{key} {_fmt(value)}" for key, value in values]


def write_cpp_config(out: Path, det: Optional[str] = None, cls: Optional[str] = None, rec: Optional[str] = None,
                     system: Optional[str] = None, as_paddleocr: Optional[bool] = None, **kwargs) -> Path:
    """The config from these YAML files (default: the packaged ones); `as_paddleocr` (default: System.as_paddleocr)
    sets them to give PaddleOCR's results (pipeline.as_paddleocr), as PPOCR(as_paddleocr=True) does."""
    from paddle_pp.config import load_config
    from paddle_pp.pipeline import as_paddleocr as as_paddleocr_configs

    cfgs = {name: load_config(path or name) for name, path in (("det", det), ("cls", cls), ("rec", rec))}
    system_cfg = dict(load_config(system or "system")["System"])
    if system_cfg.get("as_paddleocr") if as_paddleocr is None else as_paddleocr:
        as_paddleocr_configs(cfgs, system_cfg)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(cpp_config_lines(cfgs["det"], cfgs["cls"], cfgs["rec"], system_cfg, **kwargs)) + "\n",
                   encoding="utf-8")
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help=f"output file, e.g. DIR/{CONFIG_NAME}")
    for name in ("det", "cls", "rec", "system"):
        parser.add_argument(f"--{name}_config", default=None, help=f"default: configs/{name}.yml")
    parser.add_argument("--cpu_threads", type=int, default=2)
    parser.add_argument("--power_mode", default="LITE_POWER_HIGH")
    parser.add_argument("--as_paddleocr", action="store_true",
                        help="PaddleOCR's results with these models: what paddle-pp adds to its detection, "
                             "classification, cropping and batching turned off, and its reading order")
    args = parser.parse_args(argv)
    path = write_cpp_config(Path(args.out), args.det_config, args.cls_config, args.rec_config, args.system_config,
                            as_paddleocr=args.as_paddleocr or None, cpu_threads=args.cpu_threads,
                            power_mode=args.power_mode)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

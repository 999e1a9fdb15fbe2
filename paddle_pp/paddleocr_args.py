"""PaddleOCR's arguments that paddle-pp takes so that a PaddleOCR command line or `PaddleOCR(...)` call runs as it
is, and what each one becomes here.

| PaddleOCR | here |
|---|---|
| `--draw_img_save_dir DIR` | `--output DIR` (the same default, ./inference_results) |
| `--use_gpu false` / `use_gpu=False` | nothing to do: paddle-pp runs on the CPU (`true` is an error, not a CPU run) |
| `--use_onnx true|false` | `--engine onnx` / `--engine paddle` (PaddleOCR's default backend is Paddle Inference) |
| `--page_num N` | `--pages 1-N` (0: every page) |
| `--save_crop_res true --crop_res_save_dir DIR` | every kept line's crop, and their texts as a rec label file |
| `show_log=False` | nothing printed while the models are prepared |
| `ocr_version="PP-OCR"` / `--ocr_version PP-OCR` | nothing to do: these are PP-OCR's models (another version is an error) |
| `--use_mp true --total_process_num N` | N worker processes share the images (tools/utility.py: results in input order) |
| `--det false` / `--rec false` (the `paddleocr` command) | `paddle-pp ocr` runs one stage: rec (cls first), cls, or det |
| `ocr(inv=, bin=, alpha_color=)`, `--invert`, `--binarize`, `--alphacolor` | the same image options (utils/image_io.py) |
| `rec_image_shape`, `cls_image_shape`, `label_list` | checked against the model's config.yml (pipeline.MODEL_FACTS) |
| the flags of NO_EFFECT (`ir_optim`, `gpu_mem`, `use_tensorrt`, `max_text_length`, `det_algorithm`, ...) | nothing: taken when their value asks for what paddle-pp does anyway |

A PaddleOCR flag that would change nothing here is still an error when it asks for what cannot be done, and an
argument that contradicts its paddle-pp twin (`--use_onnx true --engine paddle`) is a usage error naming both.
This module imports nothing from the package, so the tools and the API share it.
"""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Dict, Mapping, Optional, Tuple

CROP_LABELS = "rec_gt.txt"        # PPOCRLabel's name for the recognition labels of its crops
CROP_SUFFIX = ".jpg"              # PaddleOCR writes its crops as JPEG
PAGE_MARK = "#page="              # documents.page_name: `scan.pdf#page=3`


def check_use_gpu(use_gpu: Optional[bool]) -> None:
    """PaddleOCR's `use_gpu`: false (or not given) is what paddle-pp does anyway; true is a ValueError."""
    if use_gpu:
        raise ValueError("use_gpu is true, but paddle-pp runs on the CPU only (it uses no GPU build of Paddle); "
                         "leave use_gpu out or set it to false")


OCR_VERSION = "PP-OCR"   # PaddleOCR's name for the 2020 models this project reproduces


_CPU = "paddle-pp runs on the CPU"
# PaddleOCR's arguments that change nothing here: name -> (the values that ask for what paddle-pp does anyway, None
# for any value; why). Another value is a ValueError rather than a run that quietly does something else.
NO_EFFECT: Dict[str, Tuple[Optional[Tuple[Any, ...]], str]] = {
    "use_tensorrt": ((False,), f"{_CPU}, without TensorRT"),
    "use_xpu": ((False,), f"{_CPU}, not on a Kunlun XPU"),
    "use_npu": ((False,), f"{_CPU}, not on an Ascend NPU"),
    "use_mlu": ((False,), f"{_CPU}, not on an MLU"),
    "gpu_mem": (None, "a GPU setting"),
    "gpu_id": (None, "a GPU setting"),
    "min_subgraph_size": (None, "a TensorRT setting"),
    "ir_optim": (None, "Paddle Inference's graph optimisations are always on here"),
    "warmup": (None, "the models are ready when PPOCR is built"),
    "benchmark": ((False,), "the benchmarks are `paddle-pp bench` and deploy/benchmark.py"),
    "use_pdserving": ((False,), "the server is `paddle-pp serve`"),
    "max_text_length": (None, "CTC decoding reads lines of any length"),
    "rec_image_inverse": (None, "CRNN reads the crop as it is"),
    "det_algorithm": (("DB",), "PP-OCR's detector is DB"),
    "rec_algorithm": (("CRNN",), "PP-OCR's recognizer is CRNN"),
    "det_box_type": (("quad",), "DB gives quadrilaterals"),
    "type": (("ocr",), "paddle-pp is PP-OCR's text system, not PP-Structure"),
}


def flag_text(value: Any) -> str:
    """A value as a command line spells it: booleans in lower case (true, false), the rest as they print."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_no_effect(values: Mapping[str, Any]) -> None:
    """PaddleOCR's arguments of NO_EFFECT, as given (None: not given): a ValueError naming the first whose value
    asks for something paddle-pp does not do."""
    for name, value in values.items():
        accepted, why = NO_EFFECT[name]
        if value is not None and accepted is not None and value not in accepted:
            raise ValueError(f"{name} {flag_text(value)}: {why}; leave {name} out or set it to "
                             f"{flag_text(accepted[0])}")


def check_ocr_version(ocr_version: Optional[str]) -> None:
    """PaddleOCR's `ocr_version`: "PP-OCR" (or not given) is what paddle-pp runs; another version (PP-OCRv2 to v4,
    PaddleOCR's later defaults) is a ValueError, not a silent run of other models."""
    if ocr_version is not None and ocr_version != OCR_VERSION:
        raise ValueError(f"ocr_version {ocr_version}: paddle-pp runs {OCR_VERSION}'s models (Du et al. 2020), the "
                         f"official weights and its own; leave ocr_version out or set it to {OCR_VERSION}")


def engine_for(use_onnx: Optional[bool], engine: Optional[str]) -> Optional[str]:
    """The engine PaddleOCR's `use_onnx` asks for (true: onnx, false: paddle, PaddleOCR's Paddle Inference), or
    `engine` when use_onnx is not given; a ValueError when both are given and disagree."""
    if use_onnx is None:
        return engine
    wanted = "onnx" if use_onnx else "paddle"
    if engine is not None and engine != wanted:
        raise ValueError(f"use_onnx {flag_text(bool(use_onnx))} asks for engine {wanted}, "
                         f"but engine {engine} is given; pass one of them")
    return wanted


def pages_for(page_num: Optional[int], pages: Optional[str]) -> Optional[str]:
    """PaddleOCR's `page_num` (the first N pages of each PDF; 0: all) as a page list, or `pages` when page_num is
    not given; a ValueError when both are given."""
    if page_num is None:
        return pages
    if pages is not None:
        raise ValueError(f"page_num {page_num} and pages {pages} both choose pages; pass one of them")
    if page_num < 0:
        raise ValueError(f"page_num must be an integer >= 0, got {page_num}")
    return f"1-{page_num}" if page_num else None


def crop_file(name: str, index: int) -> str:
    """Where the `index`-th kept line (0-based, reading order) of the image or page named `name` in the results goes,
    relative to the crop directory: `photos/a.jpg` -> `photos/a.jpg_crop_0.jpg`, `scan.pdf#page=3` ->
    `scan.pdf_page3_crop_0.jpg`. The image's whole name stays in it, so `a.jpg` and `a.png` never share a crop."""
    if index < 0:
        raise ValueError(f"crop index must be >= 0, got {index}")
    source, _, page = name.partition(PAGE_MARK)
    stem = f"{source}_page{page}" if page else source
    path = PurePosixPath(stem)
    if path.is_absolute() or ".." in path.parts:  # a results name is relative; never write outside the directory
        raise ValueError(f"{name}: not a relative image name")
    return f"{stem}_crop_{index}{CROP_SUFFIX}"

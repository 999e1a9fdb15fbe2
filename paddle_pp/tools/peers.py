"""The peer OCR system the tools measure ours against (``--compare rapidocr``): RapidOCR (rapidocr-onnxruntime,
requirements-bench.txt) with its packaged models and its config.yaml defaults, as its users run it. It is
optional: nothing at run time needs it, and a tool asked to compare without it says how to install it."""
from __future__ import annotations

from typing import Any, Callable, List, Sequence, Tuple

import numpy as np

PEERS = ("rapidocr",)
INSTALL_HINT = "pip install --no-deps -r requirements-bench.txt"


def rapidocr(cpu_threads: int = 0) -> Any:
    """A RapidOCR engine (det + cls + rec); cpu_threads 0 keeps its own default."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise RuntimeError(f"--compare rapidocr needs rapidocr-onnxruntime ({exc}): {INSTALL_HINT}") from None
    kwargs = {"intra_op_num_threads": int(cpu_threads)} if cpu_threads else {}
    return RapidOCR(**kwargs)


def rapidocr_recognizer(engine: Any) -> Callable[[Sequence[np.ndarray]], List[Tuple[str, float]]]:
    """RapidOCR's recognizer alone on BGR line crops -> [(text, score)], as our recognizer answers."""
    def recognize(crops: Sequence[np.ndarray]) -> List[Tuple[str, float]]:
        results, _elapsed = engine.text_rec(list(crops))
        return [(str(text), float(score)) for text, score in results]
    return recognize


def rapidocr_lines(engine: Any, image: np.ndarray) -> List[Tuple[np.ndarray, str]]:
    """RapidOCR's whole system on a BGR image -> [(4x2 points, text)] (its own drop of low-scored lines)."""
    result, _elapsed = engine(image)
    return [(np.asarray(box, dtype=np.float64), str(text)) for box, text, _score in (result or [])]

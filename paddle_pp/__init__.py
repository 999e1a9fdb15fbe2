"""paddle-pp: PP-OCR (DB detection, 0/180 classification, CRNN recognition) in PaddlePaddle."""
from typing import Any

__version__ = "0.1.0"
__all__ = ["PPOCR", "draw_ocr", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import paddle_pp` (and the tools that only need configs) does not load Paddle.
    if name == "PPOCR":
        from paddle_pp.ocr import PPOCR

        return PPOCR
    if name == "draw_ocr":  # PaddleOCR's `from paddleocr import PaddleOCR, draw_ocr`
        from paddle_pp.utils.visualize import draw_ocr

        return draw_ocr
    raise AttributeError(f"module 'paddle_pp' has no attribute '{name}'")

"""Drawing OCR results: detection boxes, and PaddleOCR's `draw_ocr_box_txt` layout for the whole system.

`draw_ocr_box_txt` gives an image twice as wide as the input: on the left the input with every box filled
in a random color blended at 50%, on the right a white panel with each text rendered black, warped into its
box's place and outlined in the same color. The font is a CJK-capable one when the system has one
(WenQuanYi / Noto CJK), else DejaVu Sans from matplotlib, else Pillow's built-in font.
"""
from __future__ import annotations

import math
import random
from functools import lru_cache
from typing import Optional, Sequence

import cv2
import numpy as np


def default_font_path() -> Optional[str]:
    from paddle_pp.utils.text_render import cjk_font_path, latin_font_path

    path = cjk_font_path()
    if path:
        return path
    try:
        return latin_font_path()
    except ImportError:  # no matplotlib: Pillow's built-in font
        return None


@lru_cache(maxsize=256)
def _font(font_path: Optional[str], size: int):
    from PIL import ImageFont

    size = max(1, int(size))
    if font_path:
        try:
            return ImageFont.truetype(font_path, size, encoding="utf-8")
        except OSError:
            pass
    return ImageFont.load_default(size)


def _fitted_font(text: str, width: int, height: int, font_path: Optional[str]):
    """The largest font (0.99 of the box height) whose rendering of `text` fits the box width."""
    font = _font(font_path, int(height * 0.99))
    length = font.getlength(text)
    if length > width > 0:
        font = _font(font_path, int(int(height * 0.99) * width / length))
    return font


def _text_patch(text: str, box_w: int, box_h: int, font_path: Optional[str]) -> np.ndarray:
    """Black text on white, box_w x box_h (RGB); a tall narrow box gets its text written sideways."""
    from PIL import Image, ImageDraw

    vertical = box_h > 2 * box_w and box_h > 30
    size = (box_h, box_w) if vertical else (box_w, box_h)
    patch = Image.new("RGB", size, (255, 255, 255))
    if text:
        ImageDraw.Draw(patch).text((0, 0), text, fill=(0, 0, 0), font=_fitted_font(text, size[0], size[1], font_path))
    if vertical:
        patch = patch.transpose(Image.Transpose.ROTATE_270)
    return np.asarray(patch, dtype=np.uint8)


def _paste_text(panel: np.ndarray, box: np.ndarray, text: str, font_path: Optional[str]) -> None:
    """Warp the text patch into the box on the panel (darkest wins, as PaddleOCR's bitwise AND)."""
    box_h = int(math.hypot(*(box[0] - box[3])))
    box_w = int(math.hypot(*(box[0] - box[1])))
    if box_w < 1 or box_h < 1:
        return
    h, w = panel.shape[:2]
    x0, y0 = (max(0, int(math.floor(v))) for v in box.min(axis=0))
    x1, y1 = min(w, int(math.ceil(box[:, 0].max())) + 1), min(h, int(math.ceil(box[:, 1].max())) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    patch = _text_patch(text, box_w, box_h, font_path)
    src = np.float32([[0, 0], [box_w, 0], [box_w, box_h], [0, box_h]])
    matrix = cv2.getPerspectiveTransform(src, (box - np.float32([x0, y0])).astype(np.float32))
    warped = cv2.warpPerspective(patch, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_NEAREST,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    np.minimum(panel[y0:y1, x0:x1], warped, out=panel[y0:y1, x0:x1])


def _outline_words(image: np.ndarray, boxes: Sequence, word_boxes: Sequence[Sequence],
                   scores: Optional[Sequence[float]], drop_score: float) -> None:
    """Thin outlines of each line's words, in its colour darkened (the colours draw_ocr_box_txt gave the lines)."""
    rng = random.Random(0)
    for idx, words in enumerate(word_boxes[:len(boxes)]):
        if scores is not None and scores[idx] < drop_score:
            continue
        color = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        dark = tuple(int(c * 0.45) for c in color[::-1])
        for word in words:
            pts = np.asarray(word, dtype=np.float32).reshape(-1, 1, 2).astype(np.int32)
            cv2.polylines(image, [pts], True, dark, 1, lineType=cv2.LINE_AA)


def draw_det_boxes(image: np.ndarray, boxes: Sequence, color=(255, 255, 0), thickness: int = 2) -> np.ndarray:
    """The image (BGR) with each quadrilateral outlined, as PaddleOCR's predict_det draws them."""
    out = np.ascontiguousarray(image.copy())
    for box in boxes:
        pts = np.asarray(box, dtype=np.float32).reshape(-1, 1, 2).astype(np.int32)
        cv2.polylines(out, [pts], True, color, thickness)
    return out


def draw_reading_order(image: np.ndarray, boxes: Sequence, label: Optional[str] = None) -> np.ndarray:
    """The image (BGR) with the boxes outlined in the order given: a path through their centres, and each box's
    place in the order (1, 2, ...) at its top-left corner; `label` is written below. For looking at reading orders
    (utils/reading_order.py): `draw_reading_order(img, ocr.ocr(img, rec=False)[0])`."""
    quads = [np.asarray(box, dtype=np.float32).reshape(4, 2) for box in boxes]
    out = np.ascontiguousarray(image.copy())
    if len(quads) > 1:
        path = out.copy()
        centres = np.int32([quad.mean(axis=0) for quad in quads]).reshape(-1, 1, 2)
        cv2.polylines(path, [centres], False, (0, 140, 255), 3, cv2.LINE_AA)
        out = cv2.addWeighted(out, 0.4, path, 0.6, 0)
    for k, quad in enumerate(quads):
        cv2.polylines(out, [quad.astype(np.int32).reshape(-1, 1, 2)], True, (0, 160, 0), 2)
        x, y = int(quad[:, 0].min()), int(quad[:, 1].min())
        text = str(k + 1)
        (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.55, 2)
        cv2.circle(out, (x, y), max(w, h) // 2 + 6, (0, 0, 200), -1, cv2.LINE_AA)
        cv2.putText(out, text, (x - w // 2, y + h // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 2,
                    cv2.LINE_AA)
    if label:
        band = np.full((40, out.shape[1], 3), 255, np.uint8)
        cv2.putText(band, label, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2, cv2.LINE_AA)
        out = np.concatenate([out, band], axis=0)
    return out


def draw_ocr_box_txt(image: np.ndarray, boxes: Sequence, txts: Optional[Sequence[str]] = None,
                     scores: Optional[Sequence[float]] = None, drop_score: float = 0.5,
                     font_path: Optional[str] = None, word_boxes: Optional[Sequence[Sequence]] = None) -> np.ndarray:
    """PaddleOCR's side-by-side visualisation of a BGR image -> BGR image of shape (h, 2w, 3).

    `word_boxes[i]`: the word boxes of line i (return_word_box), outlined 1 px in the line's colour, darkened,
    over the left image, so they show inside the line's filled box.

    Boxes whose score is below `drop_score` are skipped; colors come from random.Random(0), so a given
    result always looks the same. `font_path` None picks `default_font_path()`.
    """
    if font_path is None:
        font_path = default_font_path()
    h, w = image.shape[:2]
    rng = random.Random(0)
    left = np.ascontiguousarray(image.copy())
    panel = np.full((h, w, 3), 255, dtype=np.uint8)
    txts = list(txts) if txts is not None and len(txts) == len(boxes) else [None] * len(boxes)
    for idx, (box, txt) in enumerate(zip(boxes, txts)):
        if scores is not None and scores[idx] < drop_score:
            continue
        color = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))  # RGB, as PaddleOCR
        bgr = color[::-1]
        box = np.asarray(box, dtype=np.float32).reshape(4, 2)
        pts = box.astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(left, [pts], bgr)
        _paste_text(panel, box, txt or "", font_path)  # the panel is RGB until the end
        cv2.polylines(panel, [pts], True, color, 1)
    left = cv2.addWeighted(image, 0.5, left, 0.5, 0)
    if word_boxes is not None:
        _outline_words(left, boxes, word_boxes, scores, drop_score)
    return np.concatenate([left, cv2.cvtColor(panel, cv2.COLOR_RGB2BGR)], axis=1)


def draw_ocr(image, boxes: Sequence, txts: Optional[Sequence[str]] = None, scores: Optional[Sequence[float]] = None,
             drop_score: float = 0.5, font_path: Optional[str] = None) -> np.ndarray:
    """PaddleOCR's `draw_ocr` call, for scripts that draw what `PPOCR.ocr` returned: an RGB image (a numpy array
    or a PIL image) and the lines' boxes, texts and scores -> an RGB uint8 array.

    With `txts`, the picture is `draw_ocr_box_txt`'s, the input and a panel with each text in its box's place (wider
    than PaddleOCR's numbered list beside the image, and it needs no font file: `font_path` None, or a file that
    cannot be opened, uses `default_font_path()`'s). Without `txts`, the image with the boxes outlined, as
    PaddleOCR's. Lines scoring below `drop_score` are left out.
    """
    if hasattr(image, "convert"):  # a PIL image
        image = image.convert("RGB")
    rgb = np.asarray(image)
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"draw_ocr: expected an RGB uint8 image (HxWx3) or a PIL image, got an array of shape "
                         f"{rgb.shape} and dtype {rgb.dtype}")
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    if txts is None:
        kept = [box for i, box in enumerate(boxes) if scores is None or scores[i] >= drop_score]
        drawn = draw_det_boxes(bgr, kept, color=(0, 0, 255))  # red, as PaddleOCR's (BGR here)
    else:
        drawn = draw_ocr_box_txt(bgr, boxes, txts, scores, drop_score, font_path)
    return np.ascontiguousarray(drawn[:, :, ::-1])

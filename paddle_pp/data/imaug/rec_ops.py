"""Recognizer / classifier crop preprocessing, identical to PaddleOCR 2.x inference.

Mirrors ``resize_norm_img`` of ``tools/infer/predict_rec.py`` (CRNN, 'ch') and
of ``tools/infer/predict_cls.py``: keep the aspect ratio, resize to a fixed
height, scale to [-1, 1] and zero-pad on the right.
"""
import math
from typing import List, Sequence, Tuple

import cv2
import numpy as np


def _resize_norm_pad(img: np.ndarray, img_c: int, img_h: int, img_w: int) -> np.ndarray:
    """Shared resize/normalize/pad step; rejects inputs that would crash cv2.resize."""
    if img.ndim != 3 or img.shape[2] != img_c:
        raise ValueError(f"expected an HxWx{img_c} crop, got shape {img.shape}")
    h, w = img.shape[:2]
    if h <= 0 or w <= 0:
        raise ValueError(f"empty crop (height {h}, width {w}): filter it before recognition")
    if img_w <= 0:
        raise ValueError(f"target width {img_w} is not positive (max_wh_ratio too small)")
    resized_w = resized_width(img, img_h, img_w)
    resized = cv2.resize(img, (resized_w, img_h))
    resized = resized.astype("float32")
    resized = resized.transpose((2, 0, 1)) / 255
    resized -= 0.5
    resized /= 0.5
    padded = np.zeros((img_c, img_h, img_w), dtype=np.float32)
    padded[:, :, 0:resized_w] = resized
    return padded


def resize_norm_rec(img: np.ndarray, max_wh_ratio: float, img_h: int = 32,
                    img_w: int = 320) -> np.ndarray:
    """Prepare one text crop for CRNN: float32 [3, img_h, int(img_h*max_wh_ratio)].

    As in PaddleOCR's 'ch' mode the batch width comes from ``max_wh_ratio`` (the
    widest crop in the batch), not from ``img_w``; ``img_w`` is kept for
    signature compatibility and is what callers use to floor the ratio
    (``max_wh_ratio >= img_w / img_h``).
    """
    del img_w  # the 'ch' branch of PaddleOCR overrides imgW with img_h * max_wh_ratio
    target_w = int(img_h * max_wh_ratio)
    return _resize_norm_pad(img, 3, img_h, target_w)


def resized_width(crop: np.ndarray, img_h: int, img_w: int) -> int:
    """The width a crop is resized to, `img_h` high, in an input `img_w` wide (the rest is padding): its own aspect
    ratio's, at most img_w (as preprocess.cc's RecResizedWidth)."""
    return min(int(math.ceil(img_h * (crop.shape[1] / float(crop.shape[0])))), img_w)


def stretched(crop: np.ndarray, factor: float) -> np.ndarray:
    """The crop `factor` times as wide, as tall (bilinear; the width rounded half up, as the C++ demo does)."""
    width = max(1, int(math.floor(crop.shape[1] * factor + 0.5)))
    return cv2.resize(crop, (width, crop.shape[0]), interpolation=cv2.INTER_LINEAR)


def blurred(crop: np.ndarray, sigma: float, img_h: int) -> np.ndarray:
    """The crop blurred (Gaussian, OpenCV's kernel for `sigma`) by `sigma` pixels of the recognizer's img_h-pixel
    input: more of the crop's own where it is taller and will be shrunk, `sigma` of them where it is not."""
    return cv2.GaussianBlur(crop, (0, 0), sigma * max(1.0, crop.shape[0] / float(img_h)))


def resize_norm_cls(img: np.ndarray, img_shape: Sequence[int] = (3, 48, 192)) -> np.ndarray:
    """Prepare one crop for the direction classifier: float32 [3, 48, 192], right zero pad."""
    img_c, img_h, img_w = (int(v) for v in img_shape)
    return _resize_norm_pad(img, img_c, img_h, img_w)


def cls_piece_spans(width: int, height: int, img_shape: Sequence[int], pieces_above: float,
                    max_pieces: int) -> List[Tuple[int, int]]:
    """The [left, right) columns of the pieces a long crop is also classified in, or [] for a crop classified
    whole only.

    The classifier sees a crop squeezed into its input (48x192): a line 30 times as wide as high becomes a smear, and
    the official classifier turns some upright book lines and keeps some turned ones. A crop wider than
    `pieces_above` times its height is also cut into pieces of the input's shape (192/48: 4 heights wide), at most
    `max_pieces`, from its left edge to its right edge, evenly spaced (overlapping when fewer fit). Integers only,
    so the C++ demo cuts the same pixels (deploy/lite/cpp/src/preprocess.cc, ClsPieceSpans).
    """
    _, img_h, img_w = (int(v) for v in img_shape)
    piece = height * img_w // img_h
    if not pieces_above or max_pieces < 2 or height <= 0 or piece <= 0 or width <= pieces_above * height:
        return []
    count = min(max_pieces, (width + piece - 1) // piece)
    if count < 2:
        return []
    starts = [i * (width - piece) // (count - 1) for i in range(count)]
    return [(start, start + piece) for start in starts]

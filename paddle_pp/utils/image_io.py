"""Decoding images: one place, with errors that name the file and the problem."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import cv2
import numpy as np

ImageInput = Union[str, os.PathLike, np.ndarray]
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pbm", ".pgm", ".ppm")


class ImageReadError(ValueError):
    """An input that is not a usable image; the message starts with the file name."""


def read_image(path: Union[str, os.PathLike]) -> np.ndarray:
    """Decode a file to a 3-channel uint8 BGR array, applying the EXIF orientation (OpenCV does)."""
    path = Path(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # np.fromfile + imdecode: non-ASCII paths work
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file")
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageReadError(f"{path}: not a decodable image (corrupt, truncated or not an image format)")
    return img


def to_bgr(image: ImageInput) -> np.ndarray:
    """Accept a path or an array (HxW gray, HxWx3 BGR, HxWx4 BGRA; uint8 or uint16) and give uint8 BGR."""
    if not isinstance(image, np.ndarray):
        return read_image(image)
    img = image
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageReadError(f"array input: expected uint8 or uint16 pixels, got {img.dtype}")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif not (img.ndim == 3 and img.shape[2] == 3):
        raise ImageReadError(f"array input: expected HxW, HxWx3 or HxWx4, got shape {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ImageReadError(f"array input: empty image of shape {img.shape}")
    return img

"""Decoding images: one place, with errors that name the file and the problem.

What a file becomes (`read_image`), always a 3-channel uint8 BGR array of at least 1x1:

- JPEG: decoded by OpenCV, which applies the EXIF orientation tag (a phone photo comes out upright).
- Grayscale and 16-bit images: converted to 8-bit BGR by OpenCV (16-bit values are scaled by 1/256).
- PNG with an alpha channel (RGBA, gray+alpha, or a palette with transparency): composited over white, as an
  image viewer shows it (dropping the alpha would turn black text on a transparent background into black on
  black). Fully opaque pixels are unchanged.
- A truncated JPEG (no end-of-image marker after the scan data) or PNG (no IEND chunk) is an error, not a
  partial decode: libjpeg would fill the missing part with gray and the OCR would silently miss its text.
- An empty file, a file that is not an image (a text file named .jpg), a format OpenCV cannot decode (GIF,
  PDF, HEIC) and corrupt data are errors too.

Every problem is an `ImageReadError` whose message is one line, `path: problem`; no OpenCV exception or
traceback escapes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import cv2
import numpy as np

from paddle_pp.utils.errors import InputError

ImageInput = Union[str, os.PathLike, np.ndarray]
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pbm", ".pgm", ".ppm")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageReadError(InputError):
    """An input that is not a usable image; the message starts with the file name."""


def sniff_format(data: bytes) -> Optional[str]:
    """The image format from the first bytes ('jpeg', 'png', ...), or None when it is not a known one."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head.startswith(b"BM"):
        return "bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51")):
        return "jpeg2000"
    if len(head) >= 2 and head[0:1] == b"P" and head[1:2] in b"123456" and head[1:2] != b"":
        return "pnm"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
        return "heif"
    return None


_UNSUPPORTED = {"gif": "GIF is not supported (convert it to PNG)",
                "pdf": "PDF is not supported (render its pages to images first)",
                "heif": "HEIC/AVIF is not supported (convert it to JPEG or PNG)"}


def jpeg_is_truncated(data: bytes) -> bool:
    """True when a JPEG stream ends before its end-of-image marker.

    Walks the marker segments up to the first start-of-scan, then looks for the EOI marker (FF D9) after it:
    entropy-coded data stuffs every FF byte, so FF D9 there is always a real marker. An embedded EXIF
    thumbnail's EOI lies before the first scan and does not count. A malformed header returns False (the
    decoder then decides).
    """
    pos, size = 2, len(data)
    while pos < size:
        if data[pos] != 0xFF:
            return False
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            return True
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            return False
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone markers
            continue
        if pos + 2 > size:
            return True
        length = (data[pos] << 8) | data[pos + 1]
        if marker == 0xDA:
            return data.find(b"\xff\xd9", pos + length) < 0
        pos += length
    return True


def png_is_truncated(data: bytes) -> bool:
    return data.rfind(b"IEND") < 0


def _png_may_have_alpha(data: bytes) -> bool:
    """Color type 4 (gray+alpha) or 6 (RGBA) in IHDR, or a tRNS chunk (palette / color-key transparency)."""
    if len(data) > 25 and data[12:16] == b"IHDR" and data[25] in (4, 6):
        return True
    idat = data.find(b"IDAT")
    return data.find(b"tRNS", 0, idat if idat > 0 else len(data)) >= 0


def flatten_alpha(img: np.ndarray, background: int = 255) -> np.ndarray:
    """HxWx4 BGRA (uint8 or uint16) -> HxWx3 uint8 BGR composited over a flat background (white)."""
    top = 65535.0 if img.dtype == np.uint16 else 255.0
    alpha = img[:, :, 3:4].astype(np.float32) / top
    bgr = img[:, :, :3].astype(np.float32) * (255.0 / top)
    out = bgr * alpha + float(background) * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def decode_image(data: bytes, name: Union[str, os.PathLike] = "<bytes>") -> np.ndarray:
    """Encoded image bytes -> uint8 BGR (see the module docstring); ImageReadError naming `name` otherwise."""
    if len(data) == 0:
        raise ImageReadError(f"{name}: empty file")
    fmt = sniff_format(data)
    if fmt in _UNSUPPORTED:
        raise ImageReadError(f"{name}: {_UNSUPPORTED[fmt]}")
    if fmt == "jpeg" and jpeg_is_truncated(data):
        raise ImageReadError(f"{name}: truncated JPEG (the data ends before the end-of-image marker)")
    if fmt == "png" and png_is_truncated(data):
        raise ImageReadError(f"{name}: truncated PNG (the data ends before the IEND chunk)")
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        img = None
        if fmt == "png" and _png_may_have_alpha(data):
            raw = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
            if raw is not None and raw.ndim == 3 and raw.shape[2] == 4:
                img = flatten_alpha(raw)
        if img is None:
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "OpenCV error"
        raise ImageReadError(f"{name}: cannot decode ({reason})") from None
    except MemoryError:
        raise ImageReadError(f"{name}: too large to decode (out of memory)") from None
    if img is None:
        if fmt is None:
            raise ImageReadError(f"{name}: not a decodable image (not a known image format)")
        raise ImageReadError(f"{name}: not a decodable image (corrupt or unsupported {fmt.upper()} data)")
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
        raise ImageReadError(f"{name}: decoded to an unusable array of shape {img.shape}")
    return img


def read_image(path: Union[str, os.PathLike]) -> np.ndarray:
    """Decode a file to a 3-channel uint8 BGR array, applying the EXIF orientation (OpenCV does)."""
    path = Path(path)
    try:
        data = path.read_bytes()  # bytes + imdecode: non-ASCII paths work
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    return decode_image(data, path)


def to_bgr(image: ImageInput) -> np.ndarray:
    """Accept a path or an array (HxW gray, HxWx1, HxWx3 BGR, HxWx4 BGRA; uint8 or uint16) and give uint8 BGR.

    A BGRA array is composited over white, as a PNG file with alpha is.
    """
    if not isinstance(image, np.ndarray):
        return read_image(image)
    img = image
    if img.ndim == 3 and img.shape[2] == 4:
        if img.dtype not in (np.uint8, np.uint16):
            raise ImageReadError(f"array input: expected uint8 or uint16 pixels, got {img.dtype}")
        img = flatten_alpha(img)
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageReadError(f"array input: expected uint8 or uint16 pixels, got {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim < 2 or img.shape[0] < 1 or img.shape[1] < 1:
        raise ImageReadError(f"array input: empty image of shape {img.shape}")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif not (img.ndim == 3 and img.shape[2] == 3):
        raise ImageReadError(f"array input: expected HxW, HxWx3 or HxWx4, got shape {img.shape}")
    return img

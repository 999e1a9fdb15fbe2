"""Decoding images: one place, with errors that name the file and the problem.

What a file becomes (`read_image`), always a 3-channel uint8 BGR array of at least 1x1:

- JPEG: decoded by OpenCV, which applies the EXIF orientation tag (a phone photo comes out upright).
- Grayscale and 16-bit images: converted to 8-bit BGR by OpenCV (16-bit values are scaled by 1/256).
- PNG with an alpha channel (RGBA, gray+alpha, or a palette with transparency): composited over white, as an
  image viewer shows it (dropping the alpha would turn black text on a transparent background into black on
  black). Fully opaque pixels are unchanged.
- A truncated JPEG (no end-of-image marker after the scan data) or PNG (no IEND chunk) is an error, not a
  partial decode: libjpeg would fill the missing part with gray and the OCR would silently miss its text.
- GIF: its first frame, as PaddleOCR reads it (decoded by PIL; OpenCV has no GIF reader), transparency composited
  over white; an animated GIF logs a notice that only frame 1 is read.
- An empty file, a file that is not an image (a text file named .jpg), a format no reader here decodes (PDF as one
  image, HEIC) and corrupt data are errors too.
- An image with more pixels than `max_pixels` is refused before it is decoded (`ImageTooLargeError`): the width
  and height come from the header (a 1 MB PNG can hold 30000x30000 pixels, 2.7 GB decoded, several times that
  through the pipeline). The default is configs/system.yml `System.max_pixels`; 0 means no limit.
  Decoded arrays, PIL images and encoded bytes given to the API are checked against the same limit.
- A multi-page TIFF is read here as its first page, with a notice naming the file and its page count (logged on
  the `paddle_pp.input` logger); paddle_pp.documents, which PPOCR and the CLI use, reads every page.

Every problem is an `ImageReadError` whose message is one line, `path: problem`; no OpenCV exception or
traceback escapes.
"""
from __future__ import annotations

import io
import logging
import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from paddle_pp.utils.errors import InputError

# A path, a decoded array, a PIL image or the bytes of an encoded image file.
ImageInput = Union[str, os.PathLike, np.ndarray, bytes, Any]
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".jp2", ".pbm", ".pgm",
                    ".ppm")
# Documents, read page by page by paddle_pp.documents (multi-page TIFFs are found by their image extension).
DOCUMENT_EXTENSIONS = (".pdf",)
INPUT_EXTENSIONS = IMAGE_EXTENSIONS + DOCUMENT_EXTENSIONS

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# Notices about inputs that are used but not as a whole (a multi-page TIFF); tools print them as plain lines.
input_log = logging.getLogger("paddle_pp.input")


class ImageReadError(InputError):
    """An input that is not a usable image; the message starts with the file name."""


class ImageTooLargeError(ImageReadError):
    """An image with more pixels than the limit (max_pixels), refused before it is decoded or processed."""


class ImageTypeError(ImageReadError, TypeError):
    """An input of a type that is not an image (None, a number, a list, ...)."""


@lru_cache(maxsize=1)
def default_max_pixels() -> int:
    """configs/system.yml `System.max_pixels`: the one default of the CLI, the API and every tool."""
    from paddle_pp.config import load_config  # config reading only; imported late so this module stays light

    return int(load_config("system")["System"]["max_pixels"])


def resolve_max_pixels(max_pixels: Optional[int]) -> int:
    """None -> the system default; 0 means no limit; a negative value is a ValueError naming the option."""
    value = default_max_pixels() if max_pixels is None else max_pixels
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"max_pixels must be a whole number >= 0 (0 = no limit), got {value!r}")
    return int(value)


def check_pixels(name: Union[str, os.PathLike], width: int, height: int, max_pixels: Optional[int] = None) -> None:
    """ImageTooLargeError naming the input, its size and the limit when width x height exceeds it."""
    limit = resolve_max_pixels(max_pixels)
    if limit and width * height > limit:
        raise ImageTooLargeError(
            f"{name}: {width}x{height} pixels{_megapixels(width * height)} is more than the limit of {limit:,} "
            f"pixels{_megapixels(limit)}; raise max_pixels (--max_pixels; 0 = no limit) to read it")


def _megapixels(pixels: int) -> str:
    return f" ({pixels / 1e6:.1f} MP)" if pixels >= 1_000_000 else ""


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


_UNSUPPORTED = {"pdf": "PDF is not supported as one image (PPOCR, paddle-pp ocr and paddle_pp.documents read it page by page)",
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


def _webp_size(data: bytes) -> Optional[Tuple[int, int]]:
    """Width and height from a WebP header (VP8, VP8L or VP8X chunk). Read here, not by PIL: its WebP plugin
    creates a decoder, which allocates the whole canvas, when it opens the file."""
    chunk = data[12:16]
    try:
        if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        if chunk == b"VP8L" and data[20:21] == b"\x2f":
            bits = struct.unpack("<I", data[21:25])[0]
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8X":
            return (int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1)
    except struct.error:
        return None
    return None


_PIL_PLUGINS = {"png": ("PngImagePlugin", "PngImageFile"), "jpeg": ("JpegImagePlugin", "JpegImageFile"),
                "bmp": ("BmpImagePlugin", "BmpImageFile"), "tiff": ("TiffImagePlugin", "TiffImageFile"),
                "jpeg2000": ("Jpeg2KImagePlugin", "Jpeg2KImageFile"), "pnm": ("PpmImagePlugin", "PpmImageFile"),
                "gif": ("GifImagePlugin", "GifImageFile")}


def _open_header(data: bytes, fmt: Optional[str]) -> Any:
    """The format's PIL plugin class opened on `data`: it reads the header only, and skips PIL's own
    decompression-bomb check (Image.open's, whose threshold is not ours: that is max_pixels). None for a format
    without a plugin here; a header the plugin cannot read raises."""
    if fmt not in _PIL_PLUGINS:
        return None
    import importlib

    module, cls = _PIL_PLUGINS[fmt]
    return getattr(importlib.import_module(f"PIL.{module}"), cls)(io.BytesIO(data))


def read_header(data: bytes, fmt: Optional[str] = None) -> Optional[Tuple[int, int, int]]:
    """(width, height, pages) from an encoded image's header, without decoding its pixels; None when the
    header cannot be read (the decoder then decides, and the decoded size is checked)."""
    fmt = fmt or sniff_format(data)
    if fmt == "webp":
        size = _webp_size(data)
        return None if size is None else (size[0], size[1], 1)
    try:
        header = _open_header(data, fmt)
        if header is None:
            return None
        with header:
            width, height = header.size
            pages = getattr(header, "n_frames", 1) if fmt == "tiff" else 1
            if fmt == "gif" and header.is_animated:  # is_animated looks for a second frame only
                pages = 2
    except Exception:  # noqa: BLE001 - an unreadable header is the decoder's to report
        return None
    return int(width), int(height), int(pages or 1)


def stored_dpi(data: bytes) -> Optional[float]:
    """The horizontal DPI an image file records (JPEG JFIF/EXIF, PNG pHYs, TIFF, BMP), or None: from the
    header, so an image of any size is read without PIL's decompression-bomb warning."""
    try:
        header = _open_header(data, sniff_format(data))
        if header is None:
            return None
        with header:
            dpi = header.info.get("dpi")
        value = float(dpi[0]) if dpi else None
    except Exception:  # noqa: BLE001 - the DPI is a nicety: a header that cannot say it has none
        return None
    return value if value and 1 <= value <= 10000 else None


Background = Union[int, Tuple[int, int, int]]   # a gray level or a BGR colour that transparency is composited over
WHITE = 255


def flatten_alpha(img: np.ndarray, background: Background = WHITE) -> np.ndarray:
    """HxWx4 BGRA (uint8 or uint16) -> HxWx3 uint8 BGR composited over a flat background (white, or a gray level or
    BGR colour).

    Done in bands of rows: the float temporaries (~50 bytes a pixel) stay small for a large image."""
    top = 65535.0 if img.dtype == np.uint16 else 255.0
    out = np.empty(img.shape[:2] + (3,), np.uint8)
    rows = max(1, (1 << 20) // max(1, img.shape[1]))
    for start in range(0, img.shape[0], rows):
        band = img[start:start + rows]
        alpha = band[:, :, 3:4].astype(np.float32) / top
        bgr = band[:, :, :3].astype(np.float32) * (255.0 / top)
        flat = bgr * alpha + np.asarray(background, np.float32) * (1.0 - alpha)
        out[start:start + rows] = np.clip(np.rint(flat), 0, 255)
    return out


def decode_image(data: bytes, name: Union[str, os.PathLike] = "<bytes>",
                 max_pixels: Optional[int] = None, background: Background = WHITE) -> np.ndarray:
    """Encoded image bytes -> uint8 BGR (see the module docstring); ImageReadError naming `name` otherwise.
    `max_pixels`: None = configs/system.yml System.max_pixels, 0 = no limit; a PNG's transparency is composited
    over `background`."""
    if len(data) == 0:
        raise ImageReadError(f"{name}: empty file")
    fmt = sniff_format(data)
    if fmt in _UNSUPPORTED:
        raise ImageReadError(f"{name}: {_UNSUPPORTED[fmt]}")
    if fmt == "jpeg" and jpeg_is_truncated(data):
        raise ImageReadError(f"{name}: truncated JPEG (the data ends before the end-of-image marker)")
    if fmt == "png" and png_is_truncated(data):
        raise ImageReadError(f"{name}: truncated PNG (the data ends before the IEND chunk)")
    header = read_header(data, fmt)
    if header is not None:
        width, height, pages = header
        check_pixels(name, width, height, max_pixels)
        if pages > 1 and fmt == "tiff":
            input_log.warning("%s: TIFF with %d pages: only page 1 is read", name, pages)
        elif pages > 1:
            input_log.warning("%s: animated GIF: only frame 1 is read", name)
    if fmt == "gif":
        return _decode_gif(data, name, max_pixels)
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        img = None
        if fmt == "png" and _png_may_have_alpha(data):
            raw = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
            if raw is not None and raw.ndim == 3 and raw.shape[2] == 4:
                img = flatten_alpha(raw, background)
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
    if header is None:  # a format whose header we cannot read: at least the pipeline never sees it
        check_pixels(name, img.shape[1], img.shape[0], max_pixels)
    return img


def _decode_gif(data: bytes, name: Union[str, os.PathLike], max_pixels: Optional[int]) -> np.ndarray:
    """A GIF's first frame as uint8 BGR (PIL: OpenCV reads no GIF). A truncated or corrupt GIF is an error."""
    try:
        header = _open_header(data, "gif")
        with header:
            header.seek(0)
            header.load()
            return pil_to_bgr(header, max_pixels)
    except ImageReadError as exc:  # pil_to_bgr names "PIL image": name the file instead
        raise type(exc)(f"{name}: {str(exc).split(': ', 1)[-1]}") from None
    except MemoryError:
        raise ImageReadError(f"{name}: too large to decode (out of memory)") from None
    except Exception as exc:  # noqa: BLE001 - PIL raises OSError, SyntaxError, ValueError, EOFError for bad data
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ImageReadError(f"{name}: not a decodable image (corrupt or truncated GIF data: {reason})") from None


def url_problem(name: Union[str, os.PathLike]) -> Optional[str]:
    """What to say when a path that does not exist is a URL (PaddleOCR fetches `--image_dir https://...`; paddle-pp
    downloads nothing at run time), else None."""
    text = os.fsdecode(name)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("http", "https", "ftp", "s3", "gs") and not os.path.exists(text):
        return ("a URL: paddle-pp reads local files and downloads nothing; download it first (curl -O URL), then "
                "pass the file")
    return None


def read_image(path: Union[str, os.PathLike], max_pixels: Optional[int] = None,
               background: Background = WHITE) -> np.ndarray:
    """Decode a file to a 3-channel uint8 BGR array, applying the EXIF orientation (OpenCV does).
    `max_pixels`: None = configs/system.yml System.max_pixels, 0 = no limit; transparency goes over `background`."""
    problem = url_problem(path)  # before Path(), which folds the URL's "//"
    if problem:
        raise ImageReadError(f"{os.fsdecode(path)}: {problem}")
    path = Path(path)
    try:
        data = path.read_bytes()  # bytes + imdecode: non-ASCII paths work
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    return decode_image(data, path, max_pixels, background)


def _is_pil_image(image: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - PIL is a dependency
        return False
    return isinstance(image, Image.Image)


def pil_to_bgr(image: Any, max_pixels: Optional[int] = None, background: Background = WHITE) -> np.ndarray:
    """A PIL image -> uint8 BGR, as the same picture read from a file would be: the size is checked before
    the pixels are loaded (PIL opens lazily), the EXIF orientation is applied, transparency is composited
    over `background` (white), 16-bit gray is scaled to 8 bits; other modes (CMYK, YCbCr, 1, I, F, ...) go
    through RGB."""
    from PIL import ImageOps

    name = f"PIL image{' ' + str(image.filename) if getattr(image, 'filename', '') else ''}"
    check_pixels(name, image.width, image.height, max_pixels)
    try:
        image = ImageOps.exif_transpose(image) or image
        if image.mode in ("I;16", "I;16L", "I;16B"):
            return to_bgr(np.asarray(image).astype(np.uint16), max_pixels)
        has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
        if has_alpha:
            rgba = np.asarray(image.convert("RGBA"))
            return flatten_alpha(rgba[:, :, [2, 1, 0, 3]], background)
        if image.mode == "L":
            return to_bgr(np.asarray(image), max_pixels)
        rgb = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as exc:  # a lazily opened file that turns out to be bad
        raise ImageReadError(f"{name}: cannot decode ({' '.join(str(exc).split())})") from None
    return np.ascontiguousarray(rgb[:, :, ::-1])


def to_bgr(image: ImageInput, max_pixels: Optional[int] = None, background: Background = WHITE) -> np.ndarray:
    """Accept a path, an array (HxW gray, HxWx1, HxWx3 BGR, HxWx4 BGRA; uint8 or uint16), a PIL image or the
    bytes of an encoded image file, and give uint8 BGR.

    A BGRA array is composited over `background` (white), as a PNG file with alpha is. Every kind is checked against
    `max_pixels` (None = configs/system.yml System.max_pixels, 0 = no limit) before it is converted;
    any other type is an ImageTypeError.
    """
    if isinstance(image, (str, os.PathLike)):
        return read_image(image, max_pixels, background)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(bytes(image), "<bytes>", max_pixels, background)
    if _is_pil_image(image):
        return pil_to_bgr(image, max_pixels, background)
    if not isinstance(image, np.ndarray):
        raise ImageTypeError(f"{type(image).__name__} input: not an image (expected a file path, a numpy array, "
                             "a PIL image or the bytes of an image file)")
    img = image
    if img.ndim >= 2:
        check_pixels(f"array input of shape {img.shape}", img.shape[1], img.shape[0], max_pixels)
    if img.ndim == 3 and img.shape[2] == 4:
        if img.dtype not in (np.uint8, np.uint16):
            raise ImageReadError(f"array input: expected uint8 or uint16 pixels, got {img.dtype}")
        img = flatten_alpha(img, background)
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


def adjust_for_ocr(img: np.ndarray, invert: bool = False, binarize: bool = False) -> np.ndarray:
    """PaddleOCR's `ocr(inv=..., bin=...)` on a uint8 BGR image: `invert` for light text on a dark ground (the
    models read dark on light), then `binarize`, black and white by Otsu's threshold of the gray image."""
    if invert:
        img = cv2.bitwise_not(img)
    if binarize:
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        img = cv2.cvtColor(cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1], cv2.COLOR_GRAY2BGR)
    return img


def bgr_of_rgb(color: Sequence[int]) -> Tuple[int, int, int]:
    """PaddleOCR's `alpha_color` (R, G, B, each 0-255) as the BGR triple flatten_alpha takes; a ValueError otherwise."""
    values = tuple(color) if isinstance(color, (list, tuple, np.ndarray)) else ()
    if len(values) != 3 or not all(isinstance(v, (int, np.integer)) and 0 <= v <= 255 for v in values):
        raise ValueError(f"alpha_color must be three integers 0-255 (R, G, B), got {color!r}")
    return int(values[2]), int(values[1]), int(values[0])



@dataclass(frozen=True)
class ImageOptions:
    """PaddleOCR 2.7's image options, as every front end takes them (ocr(inv=, bin=, alpha_color=), `paddle-pp
    ocr --invert --binarize --alphacolor`, the server's query options and `paddle-pp batch`'s flags): how an input
    is decoded (`alphacolor`, the (R, G, B) transparency is composited over) and what is done to each page before
    it is read (`invert`, then `binarize`). Pictures and page images handed back show the page as decoded."""
    invert: bool = False
    binarize: bool = False
    alphacolor: Optional[Tuple[int, int, int]] = None    # None: white

    def __post_init__(self) -> None:
        if self.alphacolor is not None:
            bgr_of_rgb(self.alphacolor)    # a ValueError now, not at the first transparent image

    @classmethod
    def of(cls, values: Any) -> "ImageOptions":
        """From an argparse namespace or a mapping with any of the keys invert, binarize and alphacolor."""
        get = values.get if isinstance(values, Mapping) else lambda name, default=None: getattr(values, name, default)
        color = get("alphacolor", None)
        return cls(bool(get("invert", False)), bool(get("binarize", False)),
                   tuple(color) if isinstance(color, (list, tuple)) else color)

    @property
    def background(self) -> Background:
        """What decoding composites transparency over (flatten_alpha's BGR)."""
        return bgr_of_rgb(self.alphacolor) if self.alphacolor is not None else WHITE

    def adjust(self, img: np.ndarray) -> np.ndarray:
        """A decoded page as the models are to read it (adjust_for_ocr)."""
        return adjust_for_ocr(img, self.invert, self.binarize)

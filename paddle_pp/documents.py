"""Documents as pages: the one reader every entry point (the API, the CLI, later services) turns inputs into pages with.

    for page in iter_pages("scan.pdf", pdf_dpi=200, pages="1-3,7"):
        if page.error: print(page.error)          # a named error for this page; the next page still comes
        else: ocr_the(page.image)                 # uint8 BGR, as utils.image_io gives

What becomes pages:

- PDF (pypdfium2, Apache-2.0/BSD): each page rendered at `pdf_dpi` (configs/system.yml `System.pdf_dpi`) with its
  /Rotate applied, one page at a time: a 2,000-page PDF never sits in memory at once (pdfium reads a file
  lazily; bytes given to the API are held as they are, encoded). A page that already has a text layer is still
  OCRed (`Page.has_text` says it has one; `embedded_text` reads it).
- TIFF with several pages (a fax): each page through Pillow's frames, lazily (one decoded page at a time).
- Any other image (and a one-page TIFF): one page, read by utils.image_io exactly as before.

Problems are named errors (all InputError / ImageReadError, one line starting with the name): a document that
cannot be opened (`PDFPasswordError` for an encrypted PDF without the right `pdf_password`, `DocumentReadError`
for a corrupt one, `EmptyDocumentError` for zero pages) comes as one Page with `number` None and the error;
a page over the pixel limit (`ImageTooLargeError`, checked from its size before it is rendered) or one that
cannot be rendered comes as that page with its error, and the next pages still come.
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import AbstractSet, Any, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from paddle_pp.config_schema import DOCUMENT, SYSTEM, page_ranges
from paddle_pp.utils.image_io import (WHITE, Background, ImageReadError, ImageTooLargeError, check_pixels, decode_image,
                                      pil_to_bgr, read_header, resolve_max_pixels, sniff_format, stored_dpi,
                                      url_problem)

DocumentInput = Union[str, os.PathLike, bytes, bytearray, memoryview]
POINTS_PER_INCH = 72.0


class DocumentError(ImageReadError):
    """A document (PDF, multi-page TIFF) or one of its pages that cannot be used; the message names it."""


class PDFPasswordError(DocumentError):
    """An encrypted PDF opened without its password (or with a wrong one): give it with --pdf_password."""


class DocumentReadError(DocumentError):
    """A corrupt or unreadable document, or a page of it that cannot be rendered."""


class EmptyDocumentError(DocumentError):
    """A document with no pages."""


class PageNotFoundError(DocumentError):
    """A page asked for (--pages) that the document does not have."""


# ------------------------------------------------------------------------------------------- page selection

def select_pages(pages: Optional[str], count: int) -> List[int]:
    """The 1-based page numbers a selection names, in its order, without repeats; None = every page. Numbers
    past `count` are kept (the reader reports each as PageNotFoundError), except an open range's end."""
    if pages is None:
        return list(range(1, count + 1))
    DOCUMENT["pages"].check(pages, "pages")
    chosen: Dict[int, None] = {}
    for first, last in page_ranges(pages):
        for number in range(first, (count if last is None else last) + 1):
            if last is None or number <= max(count, first):
                chosen.setdefault(number)
    return list(chosen)


# ------------------------------------------------------------------------------------------- pages

@dataclass
class Page:
    """One page of an input: its image (uint8 BGR) or the error that stopped it.

    `source` is the input's name; `number` the 1-based page of a document (None for a plain image, and for an
    error about the whole document); `dpi` the resolution the image has (a PDF's render DPI, a TIFF's or an
    image's stored DPI, else None); `count` the document's number of pages."""

    source: str
    number: Optional[int] = None
    image: Optional[np.ndarray] = None
    error: Optional[ImageReadError] = None
    dpi: Optional[float] = None
    count: Optional[int] = None
    kind: str = "image"              # 'image', 'pdf' or 'tiff'
    has_text: bool = False           # a PDF page with a text layer of its own (OCRed all the same)
    embedded_text: Optional[str] = None  # that layer's text, when asked for (iter_pages(embedded_text=True))

    @property
    def name(self) -> str:
        """How results name the page: `file.pdf#page=3`, or the input's name for a plain image."""
        return page_name(self.source, self.number)


def page_name(source: str, number: Optional[int]) -> str:
    return source if number is None else f"{source}#page={number}"


def _load(source: DocumentInput, name: Optional[str]) -> Tuple[Optional[Path], Optional[bytes], str]:
    """(path, None, name) for a path, (None, bytes, name) for bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return None, bytes(source), name or "<bytes>"
    return Path(source), None, name or str(source)


def _head(path: Optional[Path], data: Optional[bytes], name: str) -> bytes:
    if data is not None:
        return data[:32]
    try:
        with open(path, "rb") as f:
            return f.read(32)
    except OSError as exc:
        raise ImageReadError(f"{name}: cannot read file ({exc.strerror or exc})") from None


def document_kind(source: DocumentInput) -> str:
    """'pdf', 'tiff' (more than one page) or 'image' (anything else, also what cannot be read: the image reader
    then names the problem)."""
    path, data, name = _load(source, None)
    try:
        head = _head(path, data, name)
    except ImageReadError:
        return "image"
    fmt = sniff_format(head)
    if fmt == "pdf":
        return "pdf"
    if fmt == "tiff":
        header = read_header(data if data is not None else _read_all(path))
        if header is not None and header[2] > 1:
            return "tiff"
    return "image"


def _read_all(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def iter_pages(source: DocumentInput, name: Optional[str] = None, pdf_dpi: Optional[float] = None,
               pages: Optional[str] = None, pdf_password: Optional[str] = None,
               max_pixels: Optional[int] = None, embedded_text: bool = False,
               skip: AbstractSet[int] = frozenset(), background: Background = WHITE) -> Iterator[Page]:
    """The pages of a file path or the bytes of a file, lazily, each with its image or its error (see the
    module docstring). `name` is what results call the input (default: the path as given, or '<bytes>');
    `pdf_dpi` None = configs/system.yml System.pdf_dpi; `pages` a selection such as '1-3,7' (documents only; a
    plain image is its one page); `max_pixels` None = System.max_pixels, 0 = no limit; `skip`: page numbers of
    a document not to read at all (a resumed batch job's pages already done); `background`: what a plain image's
    transparency is composited over (PDF pages are rendered on white)."""
    path, data, name = _load(source, name)
    kind = document_kind(data if data is not None else path)
    if kind == "pdf":
        yield from _pdf_pages(path, data, name, resolve_pdf_dpi(pdf_dpi), pages, pdf_password,
                              resolve_max_pixels(max_pixels), embedded_text, skip)
    elif kind == "tiff":
        yield from _tiff_pages(path, data, name, pages, resolve_max_pixels(max_pixels), skip)
    else:
        yield _image_page(path, data, name, max_pixels, background)


def _image_page(path: Optional[Path], data: Optional[bytes], name: str, max_pixels: Optional[int],
                background: Background = WHITE) -> Page:
    try:
        if data is None:
            try:
                data = path.read_bytes()
            except OSError as exc:
                problem = url_problem(name) or f"cannot read file ({exc.strerror or exc})"
                raise ImageReadError(f"{name}: {problem}") from None
        return Page(name, image=decode_image(data, name, max_pixels, background), dpi=stored_dpi(data))
    except ImageReadError as exc:
        return Page(name, error=exc)


def resolve_pdf_dpi(pdf_dpi: Optional[float]) -> float:
    """None -> configs/system.yml System.pdf_dpi; otherwise checked against its range (config_schema)."""
    if pdf_dpi is None:
        from paddle_pp.config import load_config

        pdf_dpi = load_config("system")["System"]["pdf_dpi"]
    return float(SYSTEM["pdf_dpi"].check(pdf_dpi, "pdf_dpi"))


# ------------------------------------------------------------------------------------------- PDF

def _open_pdf(path: Optional[Path], data: Optional[bytes], name: str, password: Optional[str]):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path) if data is None else data, password=password)
    except pdfium.PdfiumError as exc:
        reason = str(exc)
        if "password" in reason.lower():
            hint = "wrong password (--pdf_password)" if password else "encrypted: give its password with --pdf_password"
            raise PDFPasswordError(f"{name}: PDF is {hint}") from None
        if "file" in reason.lower() and data is None and not path.is_file():
            raise DocumentReadError(f"{name}: cannot read file") from None
        raise DocumentReadError(f"{name}: not a readable PDF ({' '.join(reason.split()).rstrip('.')})") from None
    except OSError as exc:
        raise DocumentReadError(f"{name}: cannot read file ({exc.strerror or exc})") from None


def _pdf_pages(path: Optional[Path], data: Optional[bytes], name: str, dpi: float, pages: Optional[str],
               password: Optional[str], max_pixels: int, embedded_text: bool,
               skip: AbstractSet[int] = frozenset()) -> Iterator[Page]:
    try:
        pdf = _open_pdf(path, data, name, password)
    except DocumentError as exc:
        yield Page(name, error=exc, kind="pdf")
        return
    try:
        count = len(pdf)
        if count == 0:
            yield Page(name, error=EmptyDocumentError(f"{name}: PDF has no pages"), kind="pdf", count=0)
            return
        for number in select_pages(pages, count):
            if number not in skip:
                yield _pdf_page(pdf, name, number, count, dpi, max_pixels, embedded_text)
    finally:
        pdf.close()


def _pdf_page(pdf: Any, name: str, number: int, count: int, dpi: float, max_pixels: int,
              embedded_text: bool) -> Page:
    page = Page(name, number, dpi=dpi, count=count, kind="pdf")
    if number > count:
        page.error = PageNotFoundError(f"{page.name}: no such page (the PDF has {count})")
        return page
    pdf_page = None
    try:
        pdf_page = pdf[number - 1]
        width_pt, height_pt = pdf_page.get_size()  # points, /Rotate applied (as rendered)
        # pdfium makes the bitmap ceil(points x scale) pixels: a page size stored as a float32 a hair over its
        # true value would gain a row and a column of white and resample the whole scan; the shrink (1 ppm)
        # keeps an image placed at exactly `dpi` on its own pixel grid (docs/results.md, "Documents")
        scale = dpi / POINTS_PER_INCH * (1 - 1e-6)
        width, height = math.ceil(width_pt * scale), math.ceil(height_pt * scale)
        try:
            check_pixels(page.name, width, height, max_pixels)
        except ImageTooLargeError as exc:
            raise ImageTooLargeError(f"{exc}, or lower --pdf_dpi ({width_pt:g}x{height_pt:g} points at "
                                     f"{dpi:g} dpi)") from None
        if width < 1 or height < 1:
            raise DocumentReadError(f"{page.name}: empty page ({width_pt:g}x{height_pt:g} points)")
        text = _text_layer(pdf_page)
        page.has_text = bool(text.strip())
        page.embedded_text = text if embedded_text else None
        bitmap = pdf_page.render(scale=scale, may_draw_forms=True)
        page.image = _bitmap_to_bgr(bitmap)
    except ImageReadError as exc:
        page.error = exc
    except MemoryError:
        page.error = DocumentReadError(f"{page.name}: too large to render (out of memory); lower --pdf_dpi")
    except Exception as exc:  # noqa: BLE001 - pdfium's errors on a damaged page: that page alone fails
        page.error = DocumentReadError(f"{page.name}: cannot render page ({' '.join(str(exc).split())})")
    finally:
        if pdf_page is not None:
            pdf_page.close()
    return page


def _text_layer(pdf_page: Any) -> str:
    try:
        textpage = pdf_page.get_textpage()
        try:
            return textpage.get_text_range()
        finally:
            textpage.close()
    except Exception:  # noqa: BLE001 - a broken text layer does not stop the OCR of the page
        return ""


def _bitmap_to_bgr(bitmap: Any) -> np.ndarray:
    """A pdfium bitmap (BGR, BGRx or BGRA; white background) -> contiguous uint8 BGR, owning its memory (the
    bitmap's buffer is freed with it)."""
    array = bitmap.to_numpy()
    mode = getattr(bitmap, "mode", "BGR")
    if array.ndim == 2:
        import cv2

        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if mode in ("RGB", "RGBA", "RGBX"):
        array = array[:, :, [2, 1, 0]]
    return np.ascontiguousarray(array[:, :, :3]).copy()


# ------------------------------------------------------------------------------------------- TIFF

def _tiff_pages(path: Optional[Path], data: Optional[bytes], name: str, pages: Optional[str],
                max_pixels: int, skip: AbstractSet[int] = frozenset()) -> Iterator[Page]:
    from PIL import TiffImagePlugin

    try:
        # the plugin class reads headers only (no PIL decompression-bomb threshold: ours is max_pixels)
        tiff = TiffImagePlugin.TiffImageFile(str(path) if data is None else io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001
        yield Page(name, error=DocumentReadError(f"{name}: not a readable TIFF ({' '.join(str(exc).split())})"),
                   kind="tiff")
        return
    try:
        count = int(getattr(tiff, "n_frames", 1))
        for number in select_pages(pages, count):
            if number not in skip:
                yield _tiff_page(tiff, name, number, count, max_pixels)
    finally:
        tiff.close()


def _tiff_page(tiff: Any, name: str, number: int, count: int, max_pixels: int) -> Page:
    page = Page(name, number, count=count, kind="tiff")
    if number > count:
        page.error = PageNotFoundError(f"{page.name}: no such page (the TIFF has {count})")
        return page
    try:
        tiff.seek(number - 1)
        dpi = tiff.info.get("dpi")
        page.dpi = float(dpi[0]) if dpi and dpi[0] else None
        check_pixels(page.name, tiff.width, tiff.height, max_pixels)
        frame = tiff.copy()  # decodes this page only
        frame.filename = page.name
        page.image = pil_to_bgr(frame, max_pixels)
    except ImageReadError as exc:
        page.error = exc
    except Exception as exc:  # noqa: BLE001 - a damaged page: that page alone fails
        page.error = DocumentReadError(f"{page.name}: cannot decode page ({' '.join(str(exc).split())})")
    return page


# ------------------------------------------------------------------------------------------- results

@dataclass
class PageResult:
    """What the OCR of one page gave: its lines (PaddleOCR's result dicts: transcription, points, score, and
    words with return_word_box) or its error, with what writers need to place them (size, DPI)."""

    source: str
    number: Optional[int] = None
    lines: List[Dict[str, Any]] = field(default_factory=list)
    error: Optional[ImageReadError] = None
    width: int = 0
    height: int = 0
    dpi: Optional[float] = None
    has_text: bool = False
    # the counter-clockwise turn that made the page upright (use_doc_orientation_classify); None: not looked for
    angle: Optional[int] = None

    @property
    def name(self) -> str:
        return page_name(self.source, self.number)

    @classmethod
    def of(cls, page: Page, lines: Optional[List[Dict[str, Any]]] = None,
           error: Optional[ImageReadError] = None, angle: Optional[int] = None) -> "PageResult":
        height, width = page.image.shape[:2] if page.image is not None else (0, 0)
        return cls(page.source, page.number, list(lines or []), error or page.error, width, height, page.dpi,
                   page.has_text, angle)

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "page": self.number, "width": self.width, "height": self.height,
                               "results": self.lines}
        if self.angle is not None:
            out["angle"] = self.angle
        if self.error is not None:
            out["error"] = str(self.error)
        return out

"""What the server reads and writes: an upload -> its pages (`decode_upload`), the pages' results -> a response
body (`ResponseBuilder`).

Reading is the documents issue's reader (paddle_pp/documents.py `iter_pages`), the same one `paddle-pp ocr` and
`PPOCR.pages` use: an image is one page, a PDF or a multi-page TIFF one page per document page, rendered one at a
time (`pages=`, `pdf_dpi`, `pdf_password`), with the pixel limit checked before a page is rendered. A problem
with the whole upload (not decodable, encrypted, corrupt, empty, too many pages) is an exception for the whole
request; a problem with one page of a document is that page's error, and the other pages still run.

Writing is the documents issue's writers (paddle_pp/output: txt, hOCR, searchable PDF), fed page by page as
the pages finish and turned into bytes in memory (`to_bytes`): nothing is written to a path, and no path ever
comes from a request. `json` is the server's own shape ({"pages": [...], "timing_ms"}), built here.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np

from paddle_pp.documents import (DocumentReadError, EmptyDocumentError, Page, PageNotFoundError, PageResult,
                                 PDFPasswordError, iter_pages, select_pages)
from paddle_pp.utils.image_io import WHITE, Background, ImageReadError, ImageTooLargeError, decode_image, sniff_format

# Formats no reader takes: 415 (unsupported media type), not 422 (a broken file).
UNSUPPORTED_FORMATS = ("heif",)
DOCUMENT_FORMATS = ("pdf",)   # what only POST /ocr reads (hubserving takes images, as PaddleOCR's)
JPEG_QUALITY = 85             # of the page images sent back with include_image
MEDIA_TYPES = {"json": "application/json", "txt": "text/plain; charset=utf-8", "hocr": "text/html; charset=utf-8",
               "pdf": "application/pdf"}
XHTML = "application/xhtml+xml; charset=utf-8"   # hOCR when the client asks for XHTML by its Accept header


class UnsupportedFormat(ImageReadError):
    """A file of a kind the server does not read (415)."""


class TooManyPages(ImageReadError):
    """A document with more pages to read than the server's --max_pages (413)."""


def decode_upload(data: bytes, name: str, max_pixels: int, max_pages: int, pages: Optional[str] = None,
                  pdf_dpi: Optional[float] = None, pdf_password: Optional[str] = None,
                  documents: bool = True, background: Background = WHITE) -> Iterator[Page]:
    """An uploaded file -> its pages, lazily (one page image in memory at a time).

    Raises ImageReadError for the whole upload: UnsupportedFormat (415), ImageTooLargeError for an image over
    `max_pixels` (413), TooManyPages when `pages` selects more than `max_pages` of a document (413, before the
    second page is rendered), PDFPasswordError / DocumentReadError / EmptyDocumentError for a document that
    cannot be opened, ImageReadError for an image that cannot be decoded (422). A document page that fails
    comes as a Page with its error. `documents=False` (hubserving): one image per upload, no PDFs. `background`: what
    an image's transparency is composited over.
    """
    kind = sniff_format(data)
    if kind in UNSUPPORTED_FORMATS or (kind in DOCUMENT_FORMATS and not documents):
        hint = "; send documents to POST /ocr" if kind in DOCUMENT_FORMATS else ""
        raise UnsupportedFormat(f"{name}: {kind.upper()} is not supported here{hint}")
    if not documents:
        yield Page(name, image=decode_image(data, name, max_pixels, background))
        return
    checked = False
    for page in iter_pages(data, name, pdf_dpi, pages, pdf_password, max_pixels, background=background):
        if page.number is None and page.error is not None:
            raise page.error               # the whole upload: an image, or a document that cannot be opened
        if not checked and page.count is not None:
            checked = True
            wanted = len(select_pages(pages, page.count))
            if wanted > max_pages:
                raise TooManyPages(f"{name}: {wanted} pages to read (the document has {page.count}); the server "
                                   f"reads at most {max_pages} per request (--max_pages): choose pages with "
                                   f"pages=, e.g. pages=1-{max_pages}")
        yield page


def error_status(exc: ImageReadError, password_given: bool = False) -> Tuple[int, str, str]:
    """(HTTP status, error code, message) of a reading error, for the request or for one page."""
    if isinstance(exc, ImageTooLargeError):
        return 413, "too_many_pixels", str(exc)
    if isinstance(exc, TooManyPages):
        return 413, "too_many_pages", str(exc)
    if isinstance(exc, UnsupportedFormat):
        return 415, "unsupported_format", str(exc)
    if isinstance(exc, PDFPasswordError):
        name = str(exc).split(": ", 1)[0]
        if password_given:
            return 422, "pdf_password_wrong", f"{name}: the pdf_password given does not open this PDF"
        return 422, "pdf_password_required", (f"{name}: the PDF is encrypted: send its password as the "
                                              "pdf_password form field (multipart) or JSON key")
    if isinstance(exc, EmptyDocumentError):
        return 422, "empty_document", str(exc)
    if isinstance(exc, PageNotFoundError):
        return 422, "page_not_found", str(exc)
    if isinstance(exc, DocumentReadError):
        return 422, "unreadable_document", str(exc)
    return 422, "unreadable_image", str(exc)


def line_json(result: Dict[str, Any]) -> Dict[str, Any]:
    """A PPOCR result dict -> a response line {"text", "score", "points"}, and "words" (each {"text", "score",
    "points"}) when the request asked for word boxes."""
    line = {"text": result["transcription"], "score": round(float(result["score"]), 5), "points": result["points"]}
    if result.get("words") is not None:
        line["words"] = [{"text": w["transcription"], "score": round(float(w["score"]), 5), "points": w["points"]}
                         for w in result["words"]]
    return line


def image_url(image: np.ndarray) -> Optional[str]:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii") if ok else None


class ResponseBuilder:
    """Collects a request's pages as they finish and gives the response body in the asked format.

    Each page is reduced to what the format needs when it is added (its lines; for json with include_image its
    JPEG; the pdf writer keeps its own JPEG), so the raw page images are never held all at once."""

    def __init__(self, fmt: str, source: str = "", include_image: bool = False, password_given: bool = False,
                 media_type: Optional[str] = None) -> None:
        from paddle_pp.output import writer_class

        self.fmt, self.include_image, self.password_given = fmt, include_image, password_given
        self.media_type = media_type or MEDIA_TYPES[fmt]
        self.writer = writer_class(fmt)(source) if fmt != "json" else None
        self.pages: List[Dict[str, Any]] = []     # the JSON pages (every format: hubserving and headers read them)
        self.first_error: Optional[ImageReadError] = None
        self.succeeded = 0

    def add(self, page: Page, lines: Optional[List[Dict[str, Any]]] = None,
            error: Optional[ImageReadError] = None, angle: Optional[int] = None) -> None:
        """One page: its PPOCR result dicts (and the angle it was read at, when looked for), or its error (or the
        page's own)."""
        error = error or page.error
        height, width = page.image.shape[:2] if page.image is not None and error is None else (0, 0)
        out: Dict[str, Any] = {"page": page.number or 1, "id": page.name, "width": int(width), "height": int(height)}
        if error is not None:
            self.first_error = self.first_error or error
            _, code, message = error_status(error, self.password_given)
            out["error"] = {"code": code, "message": message}
        else:
            self.succeeded += 1
            out["lines"] = [line_json(line) for line in lines or []]
            if angle is not None:
                out["angle"] = angle
            if self.include_image and self.fmt == "json":
                out["image"] = image_url(page.image)
        if self.writer is not None:
            self.writer.add(PageResult.of(page, lines, error, angle), page.image if error is None else None)
        self.pages.append(out)

    def name(self, source: str) -> None:
        """The document's name, as the writers show it (hOCR's title): the upload's file name."""
        if self.writer is not None:
            self.writer.source = source

    def failed_pages(self) -> List[int]:
        return [page["page"] for page in self.pages if "error" in page]

    def document(self) -> Optional[bytes]:
        """The writer's output (txt, hocr, pdf), in memory; None for json. Run it in the worker: a searchable PDF
        of many pages takes a while. Raises the first page's error when no page could be read."""
        if self.succeeded == 0 and self.first_error is not None:
            raise self.first_error
        return self.writer.to_bytes() if self.writer is not None else None

    def body(self, document: Optional[bytes], timing_ms: Dict[str, float]) -> bytes:
        if document is not None:
            return document
        return json.dumps({"pages": self.pages, "timing_ms": timing_ms}, ensure_ascii=False).encode("utf-8")

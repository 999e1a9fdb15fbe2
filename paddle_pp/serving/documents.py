"""What the server reads and writes: an upload -> pages (`decode_upload`), a result -> a response body (`render`).

Images only for now, through the project's image reader (paddle_pp/utils/image_io.py) with its pixel limit.
The documents issue (PDF pages, multi-page TIFF, word boxes, hOCR/PDF writers) plugs in HERE and nowhere else:
the lead wires its reader into `decode_upload` (one Page per document page, ids like "file.pdf#page=3",
`max_pages` enforced there, a page that fails carrying `error`) and its writers into `render` (FORMATS in
options.py grows by hocr and pdf). The response shape already holds several pages, and so does the web page.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from paddle_pp.utils.image_io import ImageReadError, decode_image, sniff_format

# Formats the image reader refuses by design: 415 (unsupported media type), not 422 (a broken file).
UNSUPPORTED_FORMATS = ("gif", "pdf", "heif")


@dataclass
class Page:
    """One page of an upload: its id (the file name, or "file.pdf#page=3"), number (1-based) and pixels."""
    id: str
    number: int
    image: Optional[np.ndarray]
    error: Optional[str] = None   # a page that could not be read (documents: the others still run)
    lines: List[Dict[str, Any]] = field(default_factory=list)


class UnsupportedFormat(ImageReadError):
    """A file of a kind the server does not read (415)."""


def decode_upload(data: bytes, name: str, max_pixels: int, max_pages: int) -> List[Page]:
    """An uploaded file -> its pages. ImageReadError (ImageTooLargeError: 413) for a file that cannot be read.

    `max_pages` bounds a document's pages (unused until the documents issue's reader is wired here).
    """
    kind = sniff_format(data)
    if kind in UNSUPPORTED_FORMATS:
        raise UnsupportedFormat(f"{name}: {kind.upper()} files are not supported by this server yet"
                                if kind == "pdf" else f"{name}: {kind.upper()} is not supported")
    return [Page(id=name, number=1, image=decode_image(data, name, max_pixels))]


def page_json(page: Page, include_image: bool = False) -> Dict[str, Any]:
    """One page of the JSON response: {"page", "id", "width", "height", "lines"} (or "error")."""
    height, width = page.image.shape[:2] if page.image is not None else (0, 0)
    out: Dict[str, Any] = {"page": page.number, "id": page.id, "width": int(width), "height": int(height)}
    if page.error is not None:
        out["error"] = {"code": "page_unreadable", "message": page.error}
        return out
    out["lines"] = page.lines
    if include_image and page.image is not None:
        ok, buf = cv2.imencode(".jpg", page.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if ok:
            out["image"] = "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")
    return out


def render(pages: List[Page], fmt: str, timing_ms: Dict[str, float],
           include_image: bool = False) -> Tuple[bytes, str]:
    """The response body and its media type for `fmt` ("json" or "txt"; the documents issue adds hocr, pdf)."""
    if fmt == "txt":
        text = "\n\n".join("\n".join(line["text"] for line in page.lines) for page in pages)
        return (text + "\n").encode("utf-8"), "text/plain; charset=utf-8"
    body = {"pages": [page_json(page, include_image) for page in pages], "timing_ms": timing_ms}
    return json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"


def line_json(result: Dict[str, Any]) -> Dict[str, Any]:
    """A PPOCR result -> a response line {"text", "score", "points"} (word boxes come with the documents issue)."""
    return {"text": result["transcription"], "score": round(float(result["score"]), 5), "points": result["points"]}

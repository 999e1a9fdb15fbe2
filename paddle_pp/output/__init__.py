"""Writers of OCR results, one module per format, each the only owner of its format:

- `json_doc`: a document's pages and their results as one JSON object (the CLI's `json` is PaddleOCR's
  system_results.txt, written by tools/predict_system.py; this is the per-document form services return);
- `txt`: the text in reading order, one line per row (a row's lines separated by a tab), pages separated by a form
  feed;
- `hocr`: hOCR 1.2 (ocr_page / ocr_line / ocrx_word with bbox and x_wconf);
- `pdf`: a searchable PDF, each page's image under an invisible text layer whose words sit on their boxes.

Every writer is a `DocumentWriter`: `add(result, image)` for each page as it finishes (documents.PageResult; the
image only matters to `pdf`), then `to_bytes()` or `write(path)`, which writes atomically (utils.files: a
temporary file moved into place), so a reader sees no file or a whole one. Writers are independent: one that
fails loses nothing of the others (`write_all`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Type

import numpy as np

from paddle_pp.documents import PageResult
from paddle_pp.utils.files import write_bytes_atomic


class DocumentWriter:
    """One document in one format: pages added in order, written at the end."""

    extension = ""

    def __init__(self, source: str = "") -> None:
        self.source = source

    def add(self, result: PageResult, image: Optional[np.ndarray] = None) -> None:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        raise NotImplementedError

    def write(self, path: os.PathLike) -> Path:
        """Write atomically: the old file or the whole new one, never half of it."""
        return write_bytes_atomic(path, self.to_bytes())


def writer_class(fmt: str) -> Type[DocumentWriter]:
    """The writer of a format name (config_schema.OUTPUT_FORMATS)."""
    from paddle_pp.output.hocr import HocrWriter
    from paddle_pp.output.json_doc import JsonWriter
    from paddle_pp.output.pdf import PdfWriter
    from paddle_pp.output.txt import TextWriter

    classes = {"json": JsonWriter, "txt": TextWriter, "hocr": HocrWriter, "pdf": PdfWriter}
    if fmt not in classes:
        raise ValueError(f"unknown output format '{fmt}'; choose from {', '.join(FORMATS)}")
    return classes[fmt]


FORMATS = ("json", "txt", "hocr", "pdf")


def render(fmt: str, pages: Iterable[Tuple[PageResult, Optional[np.ndarray]]], source: str = "") -> bytes:
    """A whole document in one format, as bytes (for a service answering a request)."""
    writer = writer_class(fmt)(source)
    for result, image in pages:
        writer.add(result, image)
    return writer.to_bytes()


def write_all(writers: Dict[Path, DocumentWriter]) -> List[str]:
    """Write each writer to its path; a writer that fails is one line in the returned problems and the
    others are still written."""
    problems = []
    for path, writer in writers.items():
        try:
            writer.write(path)
        except Exception as exc:  # noqa: BLE001 - one format's failure must not lose the others
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
            problems.append(f"{path}: cannot write ({' '.join(str(reason).split())})")
    return problems


# ------------------------------------------------------------------------------- what every format reads

def line_words(line: dict) -> List[dict]:
    """A result line's words (return_word_box), or the whole line as one word when it has none."""
    words = line.get("words")
    if words:
        return words
    return [{"transcription": line["transcription"], "points": line["points"], "score": line["score"]}]


def bbox(points) -> Tuple[int, int, int, int]:
    """The axis-aligned box (x0, y0, x1, y1) around a quadrilateral."""
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, y0 = np.floor(arr.min(axis=0))
    x1, y1 = np.ceil(arr.max(axis=0))
    return int(x0), int(y0), int(x1), int(y1)

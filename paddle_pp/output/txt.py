"""Plain text: each page's lines in reading order, one line of text per row of the page (the lines of one row
separated by a tab), pages separated by a form feed (U+000C, as pdftotext does), UTF-8. A page that failed or holds
no text is an empty page."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from paddle_pp.documents import PageResult
from paddle_pp.output import DocumentWriter
from paddle_pp.utils.page_orientation import points_after_turn
from paddle_pp.utils.reading_order import same_row_runs

ROW_SEPARATOR = "\t"   # between the lines of one row: a receipt's "TOTAL" and "27.30", a form's label and value


def row_texts(texts: Sequence[str], points: Sequence, angle: Optional[int] = None,
              shape: Optional[Tuple[int, int]] = None) -> List[str]:
    """The text of a page's lines (in their order, each with its 4 corners) as text rows: consecutive lines that
    share a row (utils/reading_order.py's rows) joined by ROW_SEPARATOR, every other line a row of its own.
    The rows of a page the system turned upright (`angle`, the page's (height, width) `shape`) are those of the
    upright page, though its lines' points are in the page as given."""
    if not texts:
        return []
    flat = [text.replace("\n", " ").replace(ROW_SEPARATOR, " ") for text in texts]
    corners = np.asarray(points, dtype=np.float64)
    if angle:
        corners = points_after_turn(corners, angle, shape)
    return [ROW_SEPARATOR.join(flat[i] for i in run) for run in same_row_runs(corners)]


def page_text(result: PageResult) -> str:
    rows = row_texts([line["transcription"] for line in result.lines], [line["points"] for line in result.lines],
                     result.angle, (result.height, result.width))
    return "".join(row + "\n" for row in rows)


class TextWriter(DocumentWriter):
    extension = ".txt"

    def __init__(self, source: str = "") -> None:
        super().__init__(source)
        self.pages: List[str] = []

    def add(self, result: PageResult, image: Optional[np.ndarray] = None) -> None:
        self.pages.append(page_text(result))

    def to_bytes(self) -> bytes:
        return "\f".join(self.pages).encode("utf-8")

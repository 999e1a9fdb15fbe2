"""Plain text: each page's lines in reading order, one line of text per result line, pages separated by a form
feed (U+000C, as pdftotext does), UTF-8. A page that failed or holds no text is an empty page."""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from paddle_pp.documents import PageResult
from paddle_pp.output import DocumentWriter


def page_text(result: PageResult) -> str:
    return "".join(line["transcription"].replace("\n", " ") + "\n" for line in result.lines)


class TextWriter(DocumentWriter):
    extension = ".txt"

    def __init__(self, source: str = "") -> None:
        super().__init__(source)
        self.pages: List[str] = []

    def add(self, result: PageResult, image: Optional[np.ndarray] = None) -> None:
        self.pages.append(page_text(result))

    def to_bytes(self) -> bytes:
        return "\f".join(self.pages).encode("utf-8")

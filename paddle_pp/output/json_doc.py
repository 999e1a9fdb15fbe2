"""A document as one JSON object: {"source": name, "pages": [{"name": "scan.pdf#page=1", "page": 1, "width",
"height", "results": [PaddleOCR's result dicts, with "words" when asked], "error": message (a failed page)}]}."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import numpy as np

from paddle_pp.documents import PageResult
from paddle_pp.output import DocumentWriter


class JsonWriter(DocumentWriter):
    extension = ".json"

    def __init__(self, source: str = "") -> None:
        super().__init__(source)
        self.pages: List[Dict[str, Any]] = []

    def add(self, result: PageResult, image: Optional[np.ndarray] = None) -> None:
        self.pages.append(result.to_dict())

    def to_bytes(self) -> bytes:
        return json.dumps({"source": self.source, "pages": self.pages}, ensure_ascii=False, indent=1).encode("utf-8")

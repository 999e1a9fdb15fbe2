"""hOCR 1.2 (http://kba.github.io/hocr-spec/1.2/): XHTML whose elements carry the layout in `title` properties.

One `ocr_page` per page (`bbox 0 0 width height`, `ppageno`, `image`, `scan_res` when the DPI is known), one
`ocr_line` per result line in reading order (`bbox` around its quadrilateral, `x_wconf` its score as 0-100,
`textangle` when the line is turned), one `ocrx_word` per word (`bbox`, `x_wconf`): the words of
return_word_box, or the whole line as one word when there are none. A failed page is an empty `ocr_page` with
no bbox. The document declares ocr-capabilities ocr_page ocr_line ocrx_word ocrp_wconf.
"""
from __future__ import annotations

import math
from typing import List, Optional
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from paddle_pp.documents import PageResult
from paddle_pp.output import DocumentWriter, bbox, line_words

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>{title}</title>
  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>
  <meta name="ocr-system" content="paddle-pp {version}"/>
  <meta name="ocr-capabilities" content="ocr_page ocr_line ocrx_word ocrp_wconf"/>
 </head>
 <body>
"""
TAIL = """ </body>
</html>
"""


def _xml_text(text: str) -> str:
    """Escaped for XML, without the characters XML 1.0 cannot hold."""
    return escape(_clean(text))


def _clean(text: str) -> str:
    """Without the characters XML 1.0 cannot hold (control characters a model or a file name could bring)."""
    return ("".join(ch for ch in text if ch in "\t\n" or (ord(ch) >= 0x20 and not 0xD800 <= ord(ch) <= 0xDFFF
                                                                and ch not in "\ufffe\uffff")))


def _conf(score: float) -> int:
    return int(round(max(0.0, min(1.0, float(score))) * 100))


def _title(*props: str) -> str:
    return quoteattr("; ".join(p for p in props if p))


def _text_angle(points) -> int:
    """The line's angle in degrees counter-clockwise (hOCR textangle), from its top edge as the text reads."""
    p = np.asarray(points, dtype=np.float64).reshape(4, 2)
    dx, dy = p[1] - p[0]
    return int(round(math.degrees(math.atan2(-dy, dx)))) % 360


def page_hocr(result: PageResult, index: int) -> str:
    """One ocr_page element; `index` counts pages from 0 in this document (ppageno)."""
    number = result.number or index + 1
    props = [f"image {_quote_prop(_clean(result.name))}", f"ppageno {index}"]
    if result.error is None:
        props.insert(1, f"bbox 0 0 {result.width} {result.height}")
        if result.dpi:
            props.append(f"scan_res {int(round(result.dpi))} {int(round(result.dpi))}")
    out = [f'  <div class="ocr_page" id="page_{number}" title={_title(*props)}>\n']
    for n, line in enumerate(result.lines, 1):
        angle = _text_angle(line["points"])
        # the first word's angle tells a turned line's reading direction (the line's points are the detector's)
        words = line_words(line)
        angle = _text_angle(words[0]["points"]) if line.get("words") else angle
        line_props = ["bbox %d %d %d %d" % bbox(line["points"]), f"x_wconf {_conf(line['score'])}"]
        if angle:
            line_props.append(f"textangle {angle}")
        out.append(f'   <span class="ocr_line" id="line_{number}_{n}" title={_title(*line_props)}>')
        for m, word in enumerate(words, 1):
            word_props = ["bbox %d %d %d %d" % bbox(word["points"]), f"x_wconf {_conf(word['score'])}"]
            out.append(f'<span class="ocrx_word" id="word_{number}_{n}_{m}" title={_title(*word_props)}>'
                       f'{_xml_text(word["transcription"])}</span>' + (" " if m < len(words) else ""))
        out.append("</span>\n")
    out.append("  </div>\n")
    return "".join(out)


def _quote_prop(text: str) -> str:
    """A string property value: double-quoted, with backslash and double quote escaped (hOCR 1.2, 'delimited string')."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class HocrWriter(DocumentWriter):
    extension = ".hocr"

    def __init__(self, source: str = "") -> None:
        super().__init__(source)
        self.pages: List[str] = []

    def add(self, result: PageResult, image: Optional[np.ndarray] = None) -> None:
        self.pages.append(page_hocr(result, len(self.pages)))

    def to_bytes(self) -> bytes:
        from paddle_pp import __version__

        head = HEAD.format(title=_xml_text(self.source), version=escape(__version__))
        return (head + "".join(self.pages) + TAIL).encode("utf-8")

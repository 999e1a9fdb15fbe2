"""Searchable PDF: each page's image, with an invisible text layer whose words sit on their boxes.

Written with pikepdf (MPL-2.0, the PDF library OCRmyPDF is built on; qpdf inside): it writes valid,
compressed PDF objects and lets us write the page content ourselves, which the text layer needs. (reportlab,
BSD, would do too, but its text API wants a real font for every script; PyMuPDF is AGPL.)

- The page is the image at its DPI (a PDF page rendered at --pdf_dpi comes back at its own size in points; an
  image without a stored DPI is taken at 72 dpi: one pixel per point), embedded as JPEG (quality 90; gray
  when the page is gray).
- The text is drawn in text render mode 3 (invisible: neither filled nor stroked), which is what viewers
  select, search and copy. Each word is placed on its box: its baseline along the box's bottom edge, turned
  with the box (rotated and upside-down lines too), the font size the box height, and the horizontal scaling
  (Tz) set so the word's advance is exactly the box width.
- The font is a "glyphless" CID font (as Tesseract's and OCRmyPDF's text layers): Identity-H with 2-byte codes
  equal to the Unicode code points (any character of the Basic Multilingual Plane; others become U+FFFD), every
  glyph half an em wide, and a ToUnicode map so copied text is the recognized text. No font program is
  embedded: nothing is ever painted with it.
- A page that failed is left out (the failure is reported by whoever ran the OCR).
"""
from __future__ import annotations

import io
from typing import Any, List, Optional

import cv2
import numpy as np

from paddle_pp.documents import PageResult
from paddle_pp.output import DocumentWriter, line_words

GLYPH_WIDTH = 500          # of 1000 units per em: the advance of every glyph of the glyphless font
JPEG_QUALITY = 90
DEFAULT_DPI = 72.0


def _to_unicode_cmap() -> bytes:
    """Code = code point for the whole BMP (surrogates excepted), in ranges that change only the last byte."""
    ranges = [f"<{hi:02X}00> <{hi:02X}FF> <{hi:02X}00>" for hi in range(256) if not 0xD8 <= hi <= 0xDF]
    blocks = []
    for start in range(0, len(ranges), 100):  # at most 100 entries per block (PDF reference)
        chunk = ranges[start:start + 100]
        blocks.append(f"{len(chunk)} beginbfrange\n" + "\n".join(chunk) + "\nendbfrange")
    return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n" + "\n".join(blocks) +
            "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n").encode("ascii")


def _glyphless_font(pdf: Any) -> Any:
    import pikepdf
    from pikepdf import Array, Dictionary, Name

    descriptor = pdf.make_indirect(Dictionary(
        Type=Name.FontDescriptor, FontName=Name.GlyphLessFont, Flags=5, FontBBox=Array([0, 0, GLYPH_WIDTH, 1000]),
        ItalicAngle=0, Ascent=1000, Descent=0, CapHeight=1000, StemV=80))
    cid_font = pdf.make_indirect(Dictionary(
        Type=Name.Font, Subtype=Name.CIDFontType2, BaseFont=Name.GlyphLessFont,
        CIDSystemInfo=Dictionary(Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"),
                                 Supplement=0),
        FontDescriptor=descriptor, DW=GLYPH_WIDTH, CIDToGIDMap=Name.Identity))
    return pdf.make_indirect(Dictionary(
        Type=Name.Font, Subtype=Name.Type0, BaseFont=Name.GlyphLessFont, Encoding=Name("/Identity-H"),
        DescendantFonts=Array([cid_font]), ToUnicode=pdf.make_stream(_to_unicode_cmap())))


def encode_text(text: str) -> str:
    """A hex string of 2-byte codes (= BMP code points) for the glyphless font."""
    codes = [ord(ch) if ord(ch) <= 0xFFFF and not 0xD800 <= ord(ch) <= 0xDFFF else 0xFFFD for ch in text]
    return "<" + "".join(f"{code:04X}" for code in codes) + ">"


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def word_ops(text: str, points: Any, scale: float, page_height: float, after: str = "") -> str:
    """The text operators that lay one word on its quadrilateral (image pixels; tl, tr, br, bl as it reads);
    `after` (a space) follows the word, past its box."""
    if not text:
        return ""
    p = np.asarray(points, dtype=np.float64).reshape(4, 2) * scale
    p[:, 1] = page_height - p[:, 1]                       # PDF's y grows upwards
    origin = p[3]                                         # bottom-left as the word reads: on the baseline
    along = p[2] - p[3]
    width = float(np.hypot(*along))
    height = float(np.hypot(*(p[0] - p[3])))
    if width <= 0 or height <= 0:
        return ""
    cos, sin = along / width
    size = height
    advance = len(text) * GLYPH_WIDTH / 1000.0 * size
    stretch = 100.0 * width / advance
    return (f"{_num(cos)} {_num(sin)} {_num(-sin)} {_num(cos)} {_num(origin[0])} {_num(origin[1])} Tm "
            f"/F1 {_num(size)} Tf {_num(stretch)} Tz {encode_text(text + after)} Tj\n")


def _is_gray(image: np.ndarray) -> bool:
    return bool(np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 1], image[:, :, 2]))


def _jpeg(image: np.ndarray) -> tuple:
    gray = _is_gray(image)
    ok, buf = cv2.imencode(".jpg", image[:, :, 0] if gray else image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("cannot encode the page image as JPEG")
    return buf.tobytes(), gray


class PdfWriter(DocumentWriter):
    """Pages are added as they finish; each page's image is held JPEG-encoded until the PDF is written."""

    extension = ".pdf"

    def __init__(self, source: str = "") -> None:
        import pikepdf

        super().__init__(source)
        self.pdf = pikepdf.new()
        self.font = _glyphless_font(self.pdf)
        self.pages = 0

    def add(self, result: PageResult, image: Optional[np.ndarray] = None) -> None:
        import pikepdf
        from pikepdf import Dictionary, Name

        if result.error is not None or image is None:
            return
        dpi = float(result.dpi or DEFAULT_DPI)
        scale = 72.0 / dpi                                   # points per pixel
        height_px, width_px = image.shape[:2]
        width_pt, height_pt = width_px * scale, height_px * scale
        data, gray = _jpeg(image)
        picture = pikepdf.Stream(self.pdf, data, Type=Name.XObject, Subtype=Name.Image, Width=width_px,
                                 Height=height_px, BitsPerComponent=8, Filter=Name.DCTDecode,
                                 ColorSpace=Name.DeviceGray if gray else Name.DeviceRGB)
        ops: List[str] = [f"q {_num(width_pt)} 0 0 {_num(height_pt)} 0 0 cm /Im0 Do Q\n", "BT 3 Tr\n"]
        for line in result.lines:
            words = line_words(line)
            for i, word in enumerate(words):
                # a space after every word but the last keeps the words apart when the text is copied
                after = " " if i < len(words) - 1 else ""
                ops.append(word_ops(word["transcription"], word["points"], scale, height_pt, after))
        ops.append("ET\n")
        page = self.pdf.add_blank_page(page_size=(width_pt, height_pt))
        page.obj.Resources = Dictionary(XObject=Dictionary(Im0=picture), Font=Dictionary(F1=self.font))
        page.obj.Contents = self.pdf.make_stream("".join(ops).encode("ascii"))
        self.pages += 1

    def to_bytes(self) -> bytes:
        if self.pages == 0:
            raise ValueError("no page could be read: nothing to write")
        self.pdf.docinfo["/Producer"] = "paddle-pp"
        buffer = io.BytesIO()
        self.pdf.save(buffer, compress_streams=True)
        return buffer.getvalue()

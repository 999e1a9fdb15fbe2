"""Render text onto images with a real font: the demo images and the tests' fixtures come from here.

Only fonts on the machine are used (nothing downloads): DejaVu ships with matplotlib; a CJK font
(WenQuanYi / Noto CJK from Debian packages) is used when present.
"""
from __future__ import annotations

import glob
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

CJK_FONT_GLOBS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/*.tt[cf]",
                  "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/**/*CJK*.tt[cf]")


def latin_font_path() -> str:
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")


def cjk_font_path() -> Optional[str]:
    for pattern in CJK_FONT_GLOBS:
        hits = sorted(glob.glob(pattern, recursive=True))
        if hits:
            return hits[0]
    return None


def render_lines(lines: Sequence[Tuple[str, int]], size: Tuple[int, int] = (960, 640), font_path: Optional[str] = None,
                 margin: int = 40, line_gap: int = 28, background: int = 250, color: int = 20,
                 ) -> Tuple[np.ndarray, List[List[Tuple[int, int]]]]:
    """Draw (text, font_size) lines top to bottom on a flat background.

    Returns a BGR uint8 image and, per line, the 4 corners of the text's ink bounding box.
    """
    from PIL import Image, ImageDraw, ImageFont

    width, height = size
    canvas = Image.new("RGB", (width, height), (background,) * 3)
    draw = ImageDraw.Draw(canvas)
    y = margin
    boxes = []
    for text, font_size in lines:
        font = ImageFont.truetype(font_path or latin_font_path(), font_size)
        left, top, right, bottom = draw.textbbox((margin, y), text, font=font)
        draw.text((margin, y), text, font=font, fill=(color,) * 3)
        boxes.append([(left, top), (right, top), (right, bottom), (left, bottom)])
        y = bottom + line_gap
    rgb = np.asarray(canvas)
    return np.ascontiguousarray(rgb[:, :, ::-1]), boxes


def render_line(text: str, font_size: int = 28, height: int = 40, font_path: Optional[str] = None,
                pad: int = 8) -> np.ndarray:
    """A single cropped text line (BGR), as a recognizer sees it."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_path or latin_font_path(), font_size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    width = right - left + 2 * pad
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    ImageDraw.Draw(canvas).text((pad - left, (height - (bottom - top)) // 2 - top), text, font=font, fill=(0, 0, 0))
    return np.ascontiguousarray(np.asarray(canvas)[:, :, ::-1])

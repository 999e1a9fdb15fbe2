"""Draw a text line as an alpha mask (uint8, 255 = ink) with PIL/FreeType.

Spacing, curved baselines and vertical stacking are drawn character by character; a plain line is drawn
in one call (faster, and keeps the font's kerning). The mask is cropped to the ink, and the ink box is
returned so that callers can build exact polygons.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw

from paddle_pp.dataset_tools.fonts import FontInfo, pil_font


@dataclass
class TextStyle:
    """How to draw one line; all sizes are in pixels of the rendering canvas."""
    font_size: int = 32
    char_spacing: float = 0.0          # extra advance between characters, in pixels (may be negative)
    curve_amplitude: float = 0.0       # peak vertical offset of a sine baseline, in pixels
    curve_periods: float = 0.5         # how many sine periods along the line
    vertical: bool = False             # stack characters top to bottom (CJK)
    underline: bool = False
    stroke_width: int = 0              # faux bold


def _ink_box(mask: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of the nonzero pixels, exclusive ends; None when there is no ink."""
    rows = np.flatnonzero(mask.max(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.max(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _draw_plain(text: str, font, style: TextStyle, margin: int) -> Image.Image:
    left, top, right, bottom = font.getbbox(text, stroke_width=style.stroke_width)
    canvas = Image.new("L", (right - left + 2 * margin, bottom - top + 2 * margin + style.font_size // 4), 0)
    ImageDraw.Draw(canvas).text((margin - left, margin - top), text, fill=255, font=font,
                                stroke_width=style.stroke_width, stroke_fill=255)
    return canvas


def _draw_per_char(text: str, font, style: TextStyle, margin: int) -> Image.Image:
    """Characters one by one along a (possibly curved) baseline with extra spacing."""
    ascent, descent = font.getmetrics()
    advances = [font.getlength(char) for char in text]
    total = sum(advances) + style.char_spacing * max(len(text) - 1, 0)
    amplitude = abs(style.curve_amplitude)
    width = int(np.ceil(max(total, 1))) + 2 * margin + style.font_size
    height = ascent + descent + 2 * margin + int(np.ceil(2 * amplitude)) + style.font_size // 4
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    x = float(margin)
    baseline = margin + amplitude + ascent
    for char, advance in zip(text, advances):
        phase = (x + advance / 2 - margin) / max(total, 1) * style.curve_periods * 2 * np.pi
        y = baseline + style.curve_amplitude * np.sin(phase)
        if not char.isspace():
            draw.text((x, y), char, fill=255, font=font, anchor="ls",
                      stroke_width=style.stroke_width, stroke_fill=255)
        x += advance + style.char_spacing
    return canvas


def _draw_vertical(text: str, font, style: TextStyle, margin: int) -> Image.Image:
    """Upright characters stacked top to bottom, centred on one column."""
    step = style.font_size + style.char_spacing
    width = style.font_size * 2 + 2 * margin
    height = int(np.ceil(step * len(text) + style.font_size)) + 2 * margin
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for position, char in enumerate(text):
        if not char.isspace():
            draw.text((width / 2, margin + step * position + style.font_size / 2), char, fill=255, font=font,
                      anchor="mm", stroke_width=style.stroke_width, stroke_fill=255)
    return canvas


def render_text_mask(text: str, font_info: FontInfo, style: TextStyle) -> Optional[np.ndarray]:
    """Mask cropped to the ink (plus the underline); None when the text draws no ink at all."""
    font = pil_font(font_info.path, font_info.index, int(style.font_size))
    margin = 2 + style.stroke_width + style.font_size // 8
    if style.vertical:
        canvas = _draw_vertical(text, font, style, margin)
    elif style.char_spacing or style.curve_amplitude:
        canvas = _draw_per_char(text, font, style, margin)
    else:
        canvas = _draw_plain(text, font, style, margin)
    mask = np.asarray(canvas)
    box = _ink_box(mask)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    mask = mask[y0:y1, x0:x1]
    if style.underline and not style.vertical:
        thickness = max(1, style.font_size // 16)
        gap = max(1, style.font_size // 10)
        underlined = np.zeros((mask.shape[0] + gap + thickness, mask.shape[1]), np.uint8)
        underlined[:mask.shape[0]] = mask
        underlined[-thickness:] = 255
        mask = underlined
    return np.ascontiguousarray(mask)

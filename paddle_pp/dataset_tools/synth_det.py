"""Synthesize detection images: text instances rendered onto backgrounds with exact polygons.

    python dataset_tools/synth_det.py --num 1000 --out train_data/synth_det --mode scene --seed 0 --workers 4
    python dataset_tools/synth_det.py --num 500 --out synth_docs --mode doc --lang ch
    python dataset_tools/synth_det.py --num 200 --out synth_forms --mode form
    python dataset_tools/synth_det.py --num 20 --out pages --mode page
    python dataset_tools/synth_det.py --num 20 --out slides --mode slide

scene: words or lines in several fonts and sizes, each with its own rotation and perspective, placed
without overlaps on flat / gradient / texture / user-image backgrounds. doc: horizontal lines on a page,
then the whole page is slightly rotated and warped. form: a form's fields, checkboxes and table on a page. page:
body text on an A4 page (a title, then paragraphs of lines set to the text width), warped as doc's. slide: a 16:9
slide as exported or captured (a bold title, points, its number), never warped. Every
instance's polygon is the image of a rectangle around its ink under the same homography that warps the ink, so it
contains all of the instance's pixels.
Instances whose polygon is thinner than --min_readable pixels are labelled "###" (don't care).

Output: DIR/label.txt in the detection format (`images/x.jpg<TAB>[{"transcription", "points"}]`), the
images, and DIR/montage.png with polygons drawn (green: text, red: ###).
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import numpy as np

import cv2
from tqdm import tqdm

from paddle_pp.dataset_tools import effects
from paddle_pp.dataset_tools.fonts import pil_font
from paddle_pp.dataset_tools.synth_rec import RecSynthesizer, make_synthesizer
from paddle_pp.dataset_tools.text_corpus import CORPUS_DIR, read_corpus_lines
from paddle_pp.dataset_tools.text_render import TextStyle, render_text_mask
from paddle_pp.dataset_tools.tool_io import (DataToolError, encode_image, make_montage, tool_main,
                                             write_montage_png)
from paddle_pp.utils.files import write_bytes_atomic, write_text_atomic
from paddle_pp.utils.label_files import format_det_label

DONT_CARE = "###"


MODES = ("scene", "doc", "form", "page", "slide")
# form pages are drawn at the size of a page scanned at 100-150 dpi (A4 or letter), unless a config says otherwise
FORM_PAGE = {"width": (800, 1240), "height": (1100, 1754)}
# body-text pages: A4 (8.27 x 11.69 in) at 150-300 dpi; the height follows the width
A4_INCHES = (8.27, 11.69)
BODY_PAGE = {"width": (1240, 2480), "height": (1754, 3508)}
# slides: 16:9 screen captures or exports, 1280-1920 px wide; the height follows the width
SLIDE_PAGE = {"width": (1280, 1920), "height": (720, 1080)}
# backgrounds (flat, gradient, noise, texture, image) of doc and form pages, of page mode's mostly plain paper, and of
# a slide's theme (a flat or graded colour, light or dark)
PAGE_BACKGROUNDS = (3, 0, 1, 6, 0)
BODY_PAGE_BACKGROUNDS = (6, 1, 2, 1, 0)
SLIDE_BACKGROUNDS = (3, 1, 0, 0, 0)


@dataclass
class DetSynthConfig:
    mode: str = "scene"                               # scene | doc | form | page | slide
    width: Tuple[int, int] = (512, 960)
    height: Tuple[int, int] = (512, 960)
    instances: Tuple[int, int] = (4, 14)              # attempted instances per scene image
    line_prob: float = 0.6                            # line (several words) rather than one word
    font_size: Tuple[int, int] = (8, 64)              # drawn log-uniformly: many small, some large
    rotation_prob: float = 0.6
    rotation_degrees: Tuple[float, float] = (-30.0, 30.0)
    perspective_prob: float = 0.5
    perspective_jitter: float = 0.15
    page_rotation_degrees: Tuple[float, float] = (-4.0, 4.0)   # doc, form and page modes
    page_jitter: float = 0.02                          # doc, form and page modes, fraction of the page height
    body_points: Tuple[float, float] = (9.0, 12.0)    # page mode: the body text's size in points at the page's dpi
    min_readable: float = 10.0                        # polygon thickness (px) below which text is "###"
    ink_margin: int = 2                               # pixels between ink and polygon
    gap: int = 4                                      # minimum pixels between instances
    min_contrast: float = 60.0
    background_weights: Tuple[float, ...] = (2, 3, 2, 3, 4)   # flat, gradient, noise, texture, image
    bold_prob: float = 0.15
    blur_prob: float = 0.2
    blur_sigma: Tuple[float, float] = (0.3, 1.0)
    noise_prob: float = 0.3
    noise_sigma: Tuple[float, float] = (2.0, 10.0)
    jpeg_prob: float = 0.3
    jpeg_quality: Tuple[int, int] = (40, 90)
    brightness_prob: float = 0.3


@dataclass
class Instance:
    text: str
    polygon: np.ndarray          # 4x2 float, image coordinates
    mask: Optional[np.ndarray]   # full-image ink mask (kept only on request, for checks)


def image_share_weights(weights: Sequence[float], share: float) -> Tuple[float, ...]:
    """Background weights (flat, gradient, noise, texture, image) rescaled so that images get `share` of draws."""
    if not 0.0 <= share <= 1.0:
        raise DataToolError(f"--bg_share must be in [0, 1], got {share}")
    image = effects.BACKGROUND_KINDS.index("image")
    rescaled = np.asarray(weights, dtype=np.float64)
    others = np.arange(len(rescaled)) != image
    rescaled[others] *= (1.0 - share) / rescaled[others].sum()
    rescaled[image] = share
    return tuple(rescaled.tolist())


def polygon_thickness(polygon: np.ndarray) -> float:
    """Shorter of the two mean side lengths of a quad: the height of a horizontal line of text."""
    sides = [np.linalg.norm(polygon[(i + 1) % 4] - polygon[i]) for i in range(4)]
    return min((sides[0] + sides[2]) / 2, (sides[1] + sides[3]) / 2)


class DetSynthesizer:
    def __init__(self, config: DetSynthConfig, text_maker: RecSynthesizer, seed: int):
        if config.mode not in MODES:
            raise DataToolError(f"unknown --mode {config.mode!r}: use {', '.join(MODES)}")
        self.config, self.text_maker, self.seed = config, text_maker, seed
        # page mode's body text: sentences of the English corpus's words
        self.prose_words = ([w for w in read_corpus_lines(CORPUS_DIR / "en_words.txt") if w.isalpha()]
                            if config.mode in ("page", "slide") else [])

    # --- one instance
    def instance_text(self, rng: np.random.Generator, line: bool):
        text, font = self.text_maker.choose_text_and_font(rng)
        if not line and " " in text:
            words = [w for w in text.split(" ") if w]
            text = words[int(rng.integers(len(words)))]
        return text, font

    def font_size(self, rng: np.random.Generator, low: int, high: int) -> int:
        return int(round(np.exp(rng.uniform(np.log(low), np.log(high)))))

    def render(self, rng: np.random.Generator, text: str, font, size: int) -> Optional[np.ndarray]:
        """Ink mask with `ink_margin` empty pixels on every side (the polygon is this mask's border)."""
        style = TextStyle(font_size=size)
        if rng.random() < self.config.bold_prob:
            style.stroke_width = max(1, size // 24)
        return self.ink(text, font, style)

    def ink(self, text: str, font: Any, style: TextStyle) -> Optional[np.ndarray]:
        """`render`'s mask for a given style."""
        mask = render_text_mask(text, font, style)
        if mask is None:
            return None
        margin = self.config.ink_margin
        return cv2.copyMakeBorder(mask, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0)

    @staticmethod
    def paste(canvas: np.ndarray, occupancy: np.ndarray, mask: np.ndarray, polygon: np.ndarray,
              rng: np.random.Generator, min_contrast: float, gap: int) -> np.ndarray:
        """Blend ink of a contrasting colour at the mask's place; mark the dilated polygon as occupied."""
        region = cv2.boundingRect(polygon.astype(np.float32))
        x, y, w, h = region
        local = canvas[y:y + h, x:x + w]
        luma = effects.luminance(cv2.mean(local)[:3]) if local.size else 128.0
        colour = effects.contrasting_colour(rng, luma, min_contrast)
        alpha = mask.astype(np.float32)[..., None] * (1.0 / 255.0)
        canvas[:] = canvas * (1 - alpha) + colour.astype(np.float32) * alpha
        cv2.fillPoly(occupancy, [np.round(polygon).astype(np.int32)], 255)
        if gap:
            occupancy[:] = cv2.dilate(occupancy, np.ones((2 * gap + 1, 2 * gap + 1), np.uint8))
        return canvas

    # --- scene
    def scene(self, rng: np.random.Generator, canvas: np.ndarray, keep_masks: bool) -> List[Instance]:
        c = self.config
        height, width = canvas.shape[:2]
        occupancy = np.zeros((height, width), np.uint8)
        instances: List[Instance] = []
        for _ in range(int(rng.integers(c.instances[0], c.instances[1] + 1))):
            text, font = self.instance_text(rng, bool(rng.random() < c.line_prob))
            mask = self.render(rng, text, font, self.font_size(rng, *c.font_size))
            if mask is None:
                continue
            angle = effects.uniform(rng, c.rotation_degrees) if rng.random() < c.rotation_prob else 0.0
            jitter = c.perspective_jitter if rng.random() < c.perspective_prob else 0.0
            mh, mw = mask.shape
            homography = effects.perspective_homography(rng, mw, mh, angle, jitter)
            warped, full = effects.warp_mask(mask, homography)
            polygon = effects.transform_points(np.array([[0, 0], [mw, 0], [mw, mh], [0, mh]], np.float64), full)
            wh, ww = warped.shape
            if wh >= height or ww >= width:
                continue
            for _attempt in range(15):
                x, y = int(rng.integers(0, width - ww)), int(rng.integers(0, height - wh))
                placed = polygon + [x, y]
                footprint = np.zeros((height, width), np.uint8)
                cv2.fillPoly(footprint, [np.round(placed).astype(np.int32)], 255)
                if not np.any(footprint & occupancy):
                    break
            else:
                continue
            full_mask = np.zeros((height, width), np.uint8)
            full_mask[y:y + wh, x:x + ww] = warped
            self.paste(canvas, occupancy, full_mask, placed, rng, c.min_contrast, c.gap)
            instances.append(Instance(text, placed, full_mask if keep_masks else None))
        return instances

    # --- document
    def document(self, rng: np.random.Generator, canvas: np.ndarray, keep_masks: bool) -> List[Instance]:
        """Horizontal lines down a page; the caller warps page and polygons together afterwards."""
        c = self.config
        height, width = canvas.shape[:2]
        occupancy = np.zeros((height, width), np.uint8)
        instances: List[Instance] = []
        margin = int(width * rng.uniform(0.04, 0.12))
        y = int(height * rng.uniform(0.03, 0.1))
        base_size = self.font_size(rng, max(c.font_size[0], 10), min(c.font_size[1], 36))
        while y < height - margin:
            size = base_size if rng.random() < 0.7 else self.font_size(rng, max(c.font_size[0], 8), c.font_size[1])
            text, font = self.instance_text(rng, bool(rng.random() < 0.85))
            mask = self.render(rng, text, font, size)
            if mask is None:
                continue
            mh, mw = mask.shape
            if y + mh >= height:
                break
            x = margin + int(rng.integers(0, max(1, width // 4))) if rng.random() < 0.3 else margin
            if x + mw >= width:
                y += mh
                continue
            polygon = np.array([[x, y], [x + mw, y], [x + mw, y + mh], [x, y + mh]], np.float64)
            full_mask = np.zeros((height, width), np.uint8)
            full_mask[y:y + mh, x:x + mw] = mask
            self.paste(canvas, occupancy, full_mask, polygon, rng, c.min_contrast, 0)
            instances.append(Instance(text, polygon, full_mask if keep_masks else None))
            y += mh + int(size * rng.uniform(0.2, 1.2)) + c.gap
        return instances

    # --- form
    def form(self, rng: np.random.Generator, canvas: np.ndarray, keep_masks: bool) -> List[Instance]:
        """A form down a page: a title, then blocks until the page is full: fields, each a label and its value
        written on a rule or inside a drawn box; a question with checkboxes; a ruled table with one text per cell.
        Every label, value and cell is an instance of its own; the rules, boxes and grid are ink with no label, as
        on a real form, and never inside a polygon. The caller warps page and polygons together afterwards (as for
        `document`)."""
        form = _FormPage(self, rng, canvas, keep_masks)
        y = form.title(int(canvas.shape[0] * rng.uniform(0.03, 0.07)))
        blocks = {"fields": form.fields, "checkboxes": form.checkboxes, "table": form.table}
        while y is not None and y < form.bottom - 3 * form.size:
            y = blocks[str(rng.choice(list(blocks), p=[0.45, 0.2, 0.35]))](y)
        return form.instances

    # --- page of body text
    def page(self, rng: np.random.Generator, canvas: np.ndarray, keep_masks: bool) -> List[Instance]:
        """Body text down an A4 page (a report, a letter, a book): a title, then paragraphs of 2-8 lines set to the
        text width in one face at `body_points` (the page's dpi from its width), 1.2-1.5 lines apart (never closer
        than their polygons allow), the last line of each paragraph shorter, printed black to dark grey on the
        page's light paper. Each line is an instance. The caller warps page and polygons together afterwards (as for
        `document`)."""
        c = self.config
        height, width = canvas.shape[:2]
        dpi = width / A4_INCHES[0]
        margin = int(dpi * rng.uniform(0.6, 1.0))
        _, font = self.text_maker.choose_text_and_font(rng)
        size = int(round(effects.uniform(rng, c.body_points) * dpi / 72))
        pitch = int(round(size * rng.uniform(1.2, 1.5)))
        colour = np.full(3, rng.uniform(0, 70))           # printer's ink: black to dark grey, on light paper
        words = _prose(rng, self.prose_words)
        instances: List[Instance] = []

        def put(text: str, mask: np.ndarray, y: int) -> None:
            instances.append(blend_line(canvas, text, mask, margin, y, colour, keep_masks))

        title_words = [next(words).strip(".,;").capitalize() for _ in range(int(rng.integers(2, 7)))]
        title = self.ink(" ".join(title_words), font, TextStyle(font_size=int(size * rng.uniform(1.5, 2.0))))
        y = margin
        if title is not None and title.shape[1] <= width - 2 * margin:
            put(" ".join(title_words), title, y)
            y += title.shape[0] + 2 * pitch
        while True:
            lines = int(rng.integers(2, 9))
            for k in range(lines):
                share = rng.uniform(0.3, 0.9) if k == lines - 1 else 1.0
                text, mask = self.set_line(words, font, size, int((width - 2 * margin) * share))
                if mask is None or y + mask.shape[0] >= height - margin:
                    return instances
                put(text, mask, y)
                y += max(pitch, mask.shape[0] + 1)      # tall ink (a face's large ascenders) never overlaps
            y += int(pitch * rng.uniform(0.4, 1.0))

    def slide(self, rng: np.random.Generator, canvas: np.ndarray, keep_masks: bool) -> List[Instance]:
        """A presentation slide as exported or captured from the screen: a title in bold, 6.5-10 % of the slide's
        height, of 2-6 capitalised words; then 3-6 points in one face at 3.5-5 % of the height, each of 3-9 words
        (half the slides mark them with a round bullet, which is not text); now and then the slide's number in a
        corner. One ink colour that stands out from the theme's background (light or dark). Each line, the title
        and the number are instances."""
        height, width = canvas.shape[:2]
        margin = int(width * rng.uniform(0.05, 0.08))
        _, font = self.text_maker.choose_text_and_font(rng)
        colour = effects.contrasting_colour(rng, effects.luminance(cv2.mean(canvas)[:3]), 120.0)
        words = _prose(rng, self.prose_words)
        instances: List[Instance] = []

        def put(text: str, mask: Optional[np.ndarray], x: int, y: int) -> bool:
            if mask is None or x + mask.shape[1] > width - margin // 2 or y + mask.shape[0] > height:
                return False
            instances.append(blend_line(canvas, text, mask, x, y, colour, keep_masks))
            return True

        title_size = int(height * rng.uniform(0.065, 0.1))
        title_words = [next(words).strip(".,;").capitalize() for _ in range(int(rng.integers(2, 7)))]
        while title_words:
            title = " ".join(title_words)
            mask = self.ink(title, font, TextStyle(font_size=title_size, stroke_width=max(1, title_size // 24)))
            if mask is not None and mask.shape[1] <= width - 2 * margin:
                put(title, mask, margin, int(height * rng.uniform(0.06, 0.1)))
                break
            title_words.pop()
        size = int(height * rng.uniform(0.035, 0.05))
        bullet = rng.random() < 0.5
        indent = margin + (int(size * 1.2) if bullet else 0)
        y = int(height * rng.uniform(0.25, 0.3))
        for _ in range(int(rng.integers(3, 7))):
            words_in_line = [next(words).strip(".,;") for _ in range(int(rng.integers(3, 10)))]
            text = " ".join([words_in_line[0].capitalize()] + words_in_line[1:])
            mask = self.ink(text, font, TextStyle(font_size=size))
            if mask is None or not put(text, mask, indent, y):
                break
            if bullet:
                radius = max(2, size // 7)
                cv2.circle(canvas, (margin + radius, y + mask.shape[0] // 2), radius,
                           tuple(float(v) for v in colour), -1, cv2.LINE_AA)
            y += int(mask.shape[0] + size * rng.uniform(0.8, 1.4))
        if rng.random() < 0.7:
            number = str(int(rng.integers(2, 40)))
            mask = self.ink(number, font, TextStyle(font_size=max(12, int(height * 0.025))))
            if mask is not None:
                put(number, mask, width - margin - mask.shape[1], height - margin // 2 - mask.shape[0])
        return instances

    def set_line(self, words: Iterator[str], font: Any, size: int, room: int) -> Tuple[str, Optional[np.ndarray]]:
        """(text, ink mask) of the next words that fit in `room` pixels (at least one word)."""
        measure = pil_font(font.path, font.index, size)
        line = [next(words)]
        while True:
            word = next(words)
            if measure.getlength(" ".join(line + [word])) > room:
                break
            line.append(word)
        mask = self.ink(" ".join(line), font, TextStyle(font_size=size))
        while mask is not None and mask.shape[1] > room and len(line) > 1:
            line.pop()
            mask = self.ink(" ".join(line), font, TextStyle(font_size=size))
        return " ".join(line), mask

    def warp_page(self, rng: np.random.Generator, canvas: np.ndarray, instances: List[Instance]) -> np.ndarray:
        c = self.config
        height, width = canvas.shape[:2]
        homography = effects.perspective_homography(rng, width, height, effects.uniform(rng, c.page_rotation_degrees),
                                                    c.page_jitter)
        # Keep the page size: map the warped page's bounding box back onto the same canvas size.
        corners = effects.transform_points(np.array([[0, 0], [width, 0], [width, height], [0, height]]), homography)
        span = corners.max(axis=0) - corners.min(axis=0)
        fit = np.diag([width / span[0], height / span[1], 1.0]) @ homography
        # A constant fill (the page's mean colour) rather than reflection: reflecting would mirror text
        # near the edges into copies that have no label.
        fill = tuple(float(v) for v in cv2.mean(canvas)[:3])
        warped = cv2.warpPerspective(canvas, fit, (width, height), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
        for instance in instances:
            instance.polygon = effects.transform_points(instance.polygon, fit)
            if instance.mask is not None:
                instance.mask = cv2.warpPerspective(instance.mask, fit, (width, height), flags=cv2.INTER_LINEAR)
        return warped

    # --- whole image
    def degrade(self, rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
        c = self.config
        if rng.random() < c.blur_prob:
            image = effects.gaussian_blur(image, effects.uniform(rng, c.blur_sigma))
        if rng.random() < c.noise_prob:
            image = effects.add_noise(rng, image, effects.uniform(rng, c.noise_sigma))
        if rng.random() < c.brightness_prob:
            image = effects.brightness_contrast(image, rng.uniform(0.75, 1.2), rng.uniform(-30, 30))
        image = effects.to_uint8(image)
        if rng.random() < c.jpeg_prob:
            image = effects.jpeg_artefacts(image, int(rng.integers(c.jpeg_quality[0], c.jpeg_quality[1] + 1)))
        return image

    def sample(self, index: int, keep_masks: bool = False) -> Tuple[np.ndarray, List[dict], List[Instance]]:
        """(image, label items, instances) of sample `index`; masks are kept for checks on request."""
        c = self.config
        rng = np.random.default_rng([self.seed, index])
        width, height = int(rng.integers(c.width[0], c.width[1] + 1)), int(rng.integers(c.height[0], c.height[1] + 1))
        if c.mode == "page":
            height = int(round(width * A4_INCHES[1] / A4_INCHES[0]))
        if c.mode == "slide":
            height = int(round(width * 9 / 16))
        page = c.mode in ("doc", "form", "page")
        light = True if page else None
        weights = {"page": BODY_PAGE_BACKGROUNDS, "slide": SLIDE_BACKGROUNDS}.get(
            c.mode, PAGE_BACKGROUNDS if page else c.background_weights)
        canvas = effects.make_background(rng, height, width, weights, self.text_maker.backgrounds, light)
        canvas = np.ascontiguousarray(canvas, dtype=np.float32)
        if page:
            instances = {"doc": self.document, "form": self.form, "page": self.page}[c.mode](rng, canvas, keep_masks)
            canvas = self.warp_page(rng, canvas, instances)
        elif c.mode == "slide":
            instances = self.slide(rng, canvas, keep_masks)
        else:
            instances = self.scene(rng, canvas, keep_masks)
        if c.mode == "slide":   # a screen capture or an export: saved as JPEG at times, never photographed
            image = effects.to_uint8(canvas)
            if rng.random() < c.jpeg_prob:
                image = effects.jpeg_artefacts(image, int(rng.integers(70, 96)))
        else:
            image = self.degrade(rng, canvas)
        items = []
        for instance in instances:
            readable = polygon_thickness(instance.polygon) >= c.min_readable
            points = [[int(round(px)), int(round(py))] for px, py in instance.polygon]
            items.append({"transcription": instance.text if readable else DONT_CARE, "points": points})
        return image, items, instances


def blend_line(canvas: np.ndarray, text: str, mask: np.ndarray, x: int, y: int, colour: np.ndarray,
               keep_masks: bool) -> Instance:
    """A line's ink mask blended into the canvas (float32, in place) in `colour` with its top left at (x, y), and
    its instance: the mask's rectangle (and the mask over the whole canvas, on request)."""
    h, w = mask.shape
    alpha = mask.astype(np.float32)[..., None] * (1.0 / 255.0)
    region = canvas[y:y + h, x:x + w]
    region[:] = region * (1 - alpha) + colour.astype(np.float32) * alpha
    full_mask = None
    if keep_masks:
        full_mask = np.zeros(canvas.shape[:2], np.uint8)
        full_mask[y:y + h, x:x + w] = mask
    return Instance(text, np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64), full_mask)


def _prose(rng: np.random.Generator, words: Sequence[str]) -> Iterator[str]:
    """Endless sentences of 5-16 of `words`, word by word: a capital to begin, a full stop to end, now and then a
    comma or a number."""
    while True:
        sentence = [str(words[int(i)]) for i in rng.integers(0, len(words), size=int(rng.integers(5, 17)))]
        sentence[0] = sentence[0].capitalize()
        for i in range(len(sentence) - 1):
            roll = rng.random()
            if roll < 0.08:
                sentence[i] += ","
            elif roll < 0.11:
                sentence[i] += f" {int(rng.integers(1, 2000))}"
        sentence[-1] += "."
        yield from " ".join(sentence).split(" ")


class _FormPage:
    """The drawing state of one form page (DetSynthesizer.form): its canvas, the instances drawn so far, one rule
    colour and thickness, the text size. Each block draws from a top `y` and returns the `y` below it, or None when
    nothing more fits."""

    def __init__(self, synthesizer: "DetSynthesizer", rng: np.random.Generator, canvas: np.ndarray,
                 keep_masks: bool) -> None:
        c = synthesizer.config
        self.synthesizer, self.rng, self.canvas, self.keep_masks = synthesizer, rng, canvas, keep_masks
        self.height, self.width = canvas.shape[:2]
        self.occupancy = np.zeros((self.height, self.width), np.uint8)
        self.instances: List[Instance] = []
        self.margin = int(self.width * rng.uniform(0.05, 0.1))
        self.bottom = self.height - self.margin
        self.size = synthesizer.font_size(rng, max(c.font_size[0], 12), min(c.font_size[1], 28))
        self.rule = tuple(float(v) for v in effects.contrasting_colour(
            rng, effects.luminance(cv2.mean(canvas)[:3]), c.min_contrast))
        self.thick = max(1, self.size // 14)

    def put(self, text: str, font: Any, x: int, y: int, size: Optional[int] = None,
            mask: Optional[np.ndarray] = None) -> Optional[Tuple[int, int, int, int]]:
        """Draw `text` with its mask's top-left at (x, y): its polygon's (x0, y0, x1, y1), or None where it does
        not fit (then nothing is drawn)."""
        if mask is None:
            mask = self.synthesizer.render(self.rng, text, font, size or self.size)
        if mask is None:
            return None
        mh, mw = mask.shape
        if x + mw > self.width - self.margin // 2 or y + mh > self.bottom:
            return None
        polygon = np.array([[x, y], [x + mw, y], [x + mw, y + mh], [x, y + mh]], np.float64)
        # pasted into the mask's own rectangle of the page (the polygon's): the same pixels, without a page-sized
        # blend per text
        self.synthesizer.paste(self.canvas[y:y + mh, x:x + mw], self.occupancy[y:y + mh, x:x + mw], mask,
                               polygon - [x, y], self.rng, self.synthesizer.config.min_contrast, 0)
        full_mask = None
        if self.keep_masks:
            full_mask = np.zeros((self.height, self.width), np.uint8)
            full_mask[y:y + mh, x:x + mw] = mask
        self.instances.append(Instance(text, polygon, full_mask))
        return x, y, x + mw, y + mh

    def text(self, line: bool) -> Tuple[str, Any]:
        return self.synthesizer.instance_text(self.rng, line)

    def label(self) -> Tuple[str, Any]:
        text, font = self.text(line=True)
        return " ".join(text.split(" ")[:int(self.rng.integers(1, 3))]).rstrip(":") + ":", font

    def gap(self, low: float, high: float) -> int:
        return int(self.size * self.rng.uniform(low, high))

    def title(self, y: int) -> Optional[int]:
        box = self.put(*self.text(line=True), self.margin, y, int(self.size * self.rng.uniform(1.3, 1.8)))
        return (box[3] if box else y) + self.gap(1.0, 2.0)

    def fields(self, y: int) -> Optional[int]:
        rng, size = self.rng, self.size
        for _ in range(int(rng.integers(2, 6))):
            label = self.put(*self.label(), self.margin, y)
            if label is None:
                return None
            pad = int(rng.integers(4, max(5, size // 2) + 1))
            value = self.put(*self.text(line=True), label[2] + self.gap(0.8, 2.5) + pad, y)
            bottom = label[3]
            if value is not None and rng.random() < 0.4:            # in a box, clear of its polygon
                cv2.rectangle(self.canvas, (value[0] - pad, value[1] - pad), (value[2] + pad, value[3] + pad),
                              self.rule, self.thick)
                bottom = max(bottom, value[3] + pad)
            elif value is not None:                                   # on a rule under it, clear of its polygon
                under = value[3] + int(rng.integers(2, max(3, size // 5) + 1))
                end = min(self.width - self.margin, value[2] + int(rng.integers(0, 4 * size + 1)))
                cv2.line(self.canvas, (value[0] - size // 3, under), (end, under), self.rule, self.thick)
                bottom = max(bottom, under + self.thick)
            y = bottom + self.gap(0.7, 1.5)
        return y

    def checkboxes(self, y: int) -> Optional[int]:
        question = self.put(*self.label(), self.margin, y)
        if question is None:
            return None
        x, side = question[2] + self.size, max(6, int(self.size * 0.8))
        for _ in range(int(self.rng.integers(2, 5))):
            top = (question[1] + question[3] - side) // 2
            if x + side + self.size >= self.width - self.margin:
                break
            cv2.rectangle(self.canvas, (x, top), (x + side, top + side), self.rule, self.thick)
            if self.rng.random() < 0.5:                               # ticked
                cv2.line(self.canvas, (x + 2, top + 2), (x + side - 2, top + side - 2), self.rule, self.thick)
                cv2.line(self.canvas, (x + side - 2, top + 2), (x + 2, top + side - 2), self.rule, self.thick)
            option = self.put(*self.text(line=False), x + side + max(4, self.size // 3), question[1])
            if option is None:
                break
            x = option[2] + self.size
        return question[3] + self.gap(1.0, 2.0)

    def table(self, y: int) -> Optional[int]:
        rng, size, thick = self.rng, self.size, self.thick
        columns = int(rng.integers(2, 6))
        shares = rng.uniform(0.6, 1.6, columns)
        edges = (self.margin + np.concatenate([[0], np.cumsum(shares / shares.sum())])
                 * (self.width - 2 * self.margin)).astype(int)
        row_height = self.gap(1.6, 2.2)
        rows = min(int(rng.integers(2, 9)), (self.bottom - y) // row_height)
        if rows < 2:
            return None
        for row in range(rows + 1):
            cv2.line(self.canvas, (edges[0], y + row * row_height), (edges[-1], y + row * row_height), self.rule,
                     thick)
        for edge in edges:
            cv2.line(self.canvas, (edge, y), (edge, y + rows * row_height), self.rule, thick)
        cell_pad = max(4, size // 3)
        for row in range(rows):
            for left, right in zip(edges[:-1], edges[1:]):
                text, font = self.text(line=rng.random() < 0.3)
                mask = self.synthesizer.render(rng, text, font, size)
                if mask is None or mask.shape[1] > right - left - 2 * cell_pad - thick or \
                        mask.shape[0] > row_height - 2 * thick - 2:
                    continue                                          # left empty: the text does not fit
                self.put(text, font, left + cell_pad, y + row * row_height + (row_height - mask.shape[0]) // 2,
                         mask=mask)
        return y + rows * row_height + self.gap(1.0, 2.0)


# ----------------------------------------------------------------------------- batch driver
_WORKER: Optional[DetSynthesizer] = None


def _init_worker(synthesizer: DetSynthesizer) -> None:
    global _WORKER
    _WORKER = synthesizer
    cv2.setNumThreads(1)


def _work(task: Tuple[int, str]) -> Tuple[int, str]:
    index, out_dir = task
    image, items, _ = _WORKER.sample(index)
    relpath = f"images/{index // 10000:04d}/{index:06d}.jpg"
    write_bytes_atomic(Path(out_dir) / relpath, encode_image(image, "jpg", 95), durable=False)
    return index, f"{relpath}\t{format_det_label(items)}"


def generate(synthesizer: DetSynthesizer, num: int, out: Path, workers: int = 1, overwrite: bool = False,
             progress: bool = True) -> dict:
    out = Path(out)
    if (out / "label.txt").exists() and not overwrite:
        raise DataToolError(f"{out}/label.txt exists; pass --overwrite to replace the set")
    lines: List[Optional[str]] = [None] * num
    start = time.perf_counter()
    pool = multiprocessing.get_context("fork").Pool(workers, _init_worker, (synthesizer,)) if workers > 1 else None
    try:
        if pool is None:
            _init_worker(synthesizer)
            results = map(_work, [(i, str(out)) for i in range(num)])
        else:
            results = pool.imap_unordered(_work, [(i, str(out)) for i in range(num)], chunksize=4)
        for index, line in tqdm(results, total=num, desc="synth_det", unit="img", disable=not progress):
            lines[index] = line
    finally:
        if pool is not None:
            pool.terminate()
    write_text_atomic(out / "label.txt", "\n".join(lines) + "\n")
    elapsed = time.perf_counter() - start
    return {"num": num, "seconds": elapsed}


def draw_polygons(image: np.ndarray, items: Sequence[dict]) -> np.ndarray:
    image = image.copy()
    for item in items:
        colour = (0, 0, 255) if item["transcription"] == DONT_CARE else (0, 200, 0)
        cv2.polylines(image, [np.array(item["points"], np.int32)], True, colour, 2)
    return image


def write_montage(synthesizer: DetSynthesizer, num: int, count: int, path: Path, seed: int) -> Path:
    rng = np.random.default_rng([seed, 1 << 30])
    indices = sorted(rng.choice(num, size=min(count, num), replace=False).tolist())
    images = []
    for index in indices:
        image, items, _ = synthesizer.sample(index)
        images.append(draw_polygons(image, items))
    write_montage_png(path, make_montage(images, columns=min(3, len(images)), cell_width=300, cell_height=300))
    return path


@tool_main
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--mode", choices=MODES, default="scene",
                        help="scene: words and lines anywhere; doc: lines down a page; form: fields on rules and in "
                             "boxes, checkboxes and a ruled table on a page; page: a title and paragraphs of body "
                             "text on an A4 page at 150-300 dpi (English); slide: a bold title and points on a 16:9 "
                             "slide (English)")
    parser.add_argument("--lang", choices=["en", "ch"], default="en")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--corpus_file", type=Path)
    parser.add_argument("--word_list", type=Path)
    parser.add_argument("--dict", dest="dict_path", type=Path)
    parser.add_argument("--font_dir", type=Path, action="append")
    parser.add_argument("--bg_dir", type=Path, help="folder of images to use as backgrounds")
    parser.add_argument("--bg_share", type=float,
                        help="fraction of scene backgrounds cropped from --bg_dir images (default: 4 in 14)")
    parser.add_argument("--min_readable", type=float, default=10.0,
                        help="polygons thinner than this many pixels are labelled ###")
    parser.add_argument("--montage", type=int, default=6, help="images in DIR/montage.png (0: none)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--no_progress", action="store_true")
    args = parser.parse_args(argv)
    if args.num <= 0:
        raise DataToolError("--num must be positive")
    text_maker = make_synthesizer(args.lang, args.seed, args.font_dir, args.corpus_file, args.word_list,
                                  args.dict_path, bg_dir=args.bg_dir)
    page_size = {"form": FORM_PAGE, "page": BODY_PAGE, "slide": SLIDE_PAGE}.get(args.mode, {})
    config = DetSynthConfig(mode=args.mode, min_readable=args.min_readable, **page_size)
    if args.bg_share is not None:
        if not args.bg_dir:
            raise DataToolError("--bg_share needs --bg_dir")
        config.background_weights = image_share_weights(config.background_weights, args.bg_share)
    synthesizer = DetSynthesizer(config, text_maker, args.seed)
    stats = generate(synthesizer, args.num, args.out, max(1, args.workers), args.overwrite, not args.no_progress)
    print(f"{stats['num']} images in {stats['seconds']:.1f} s -> {args.out}/label.txt")
    if args.montage:
        print(f"montage: {write_montage(synthesizer, args.num, args.montage, args.out / 'montage.png', args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

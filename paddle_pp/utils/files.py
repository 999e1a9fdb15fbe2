"""Finding input images and writing outputs atomically."""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import List, Tuple, Union

from paddle_pp.utils.image_io import IMAGE_EXTENSIONS

_GLOB_CHARS = "*?["


def is_image_name(path: Union[str, os.PathLike]) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(image_dir: Union[str, os.PathLike]) -> Tuple[List[Path], Path]:
    """A file, a directory (recursive, sorted) or a glob -> (image paths, the root names are relative to).

    A single file is taken whatever its extension (and named by its file name); a directory or a glob keeps
    the files with an image extension (IMAGE_EXTENSIONS, any case). A glob's root is its directory part
    before the first wildcard (`photos/**/*.jpg` -> `photos`); `**` is recursive.
    """
    text = str(image_dir)
    path = Path(text)
    if path.is_file():
        return [path], path.parent
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and is_image_name(p))
        return files, path
    if any(ch in text for ch in _GLOB_CHARS):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file() and is_image_name(p))
        prefix = []
        for part in path.parts:
            if any(ch in part for ch in _GLOB_CHARS):
                break
            prefix.append(part)
        root = Path(*prefix) if prefix else Path(".")
        return files, root
    raise FileNotFoundError(f"{image_dir}: no such file or directory")


def display_name(path: Path, root: Path) -> str:
    """The name an image gets in result files: its path relative to the root, else its file name."""
    try:
        name = path.relative_to(root).as_posix()
    except ValueError:
        return path.name
    return name if name not in ("", ".") else path.name


def _replace_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def write_text_atomic(path: Union[str, os.PathLike], text: str) -> None:
    """Write a UTF-8 text file via a temporary file and os.replace: readers see the old or the new file."""
    _replace_atomic(Path(path), text.encode("utf-8"))


def write_bytes_atomic(path: Union[str, os.PathLike], data: bytes) -> None:
    _replace_atomic(Path(path), bytes(data))

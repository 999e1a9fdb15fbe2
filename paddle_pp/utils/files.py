"""Finding input images and writing outputs atomically."""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import List, Tuple, Union

from paddle_pp.utils.image_io import IMAGE_EXTENSIONS


def list_images(image_dir: Union[str, os.PathLike]) -> Tuple[List[Path], Path]:
    """A file, a directory (recursive, sorted) or a glob -> (image paths, the root names are relative to)."""
    text = str(image_dir)
    path = Path(text)
    if path.is_file():
        return [path], path.parent
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        return files, path
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        root = Path(os.path.commonpath([str(p.parent) for p in files])) if files else Path(".")
        return files, root
    raise FileNotFoundError(f"{image_dir}: no such file or directory")


def display_name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def write_text_atomic(path: Union[str, os.PathLike], text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)

"""Finding input images, writing files atomically (the one temp-file-then-rename helper), file digests."""
from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from paddle_pp.utils.image_io import INPUT_EXTENSIONS, input_log, url_problem

_GLOB_CHARS = "*?["


def is_image_name(path: Union[str, os.PathLike]) -> bool:
    return Path(path).suffix.lower() in INPUT_EXTENSIONS


Report = Callable[[str], None]


def _log_skip(message: str) -> None:
    input_log.warning("%s", message)


def _link_problem(path: Path) -> Optional[str]:
    """Why a symlink cannot be followed (dangling, a loop), or None when it can."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return f"dangling symlink to {os.readlink(path)}"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        return f"cannot follow symlink ({exc.strerror or exc})"
    return None


def _walk_images(root: Path, report: Report) -> List[Path]:
    """Image files under `root`, following symlinked folders; symlink loops, dangling links and folders that
    cannot be listed are reported (`report`, one line each) and skipped."""
    found: List[Path] = []

    def visit(directory: Path, ancestors: Dict[Tuple[int, int], Path]) -> None:
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)  # reports in a stable order
        except OSError as exc:
            report(f"{directory}: folder skipped (cannot list it: {exc.strerror or exc})")
            return
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink():
                problem = _link_problem(path)
                if problem:
                    report(f"{path}: skipped ({problem})")
                    continue
            try:
                is_dir = entry.is_dir()
            except OSError as exc:
                report(f"{path}: skipped ({exc.strerror or exc})")
                continue
            if is_dir:
                try:
                    info = os.stat(path)
                except OSError as exc:
                    report(f"{path}: folder skipped ({exc.strerror or exc})")
                    continue
                key = (info.st_dev, info.st_ino)
                if key in ancestors:  # a link back up the tree: following it would never end
                    report(f"{path}: skipped (symlink loop back to {ancestors[key]})")
                    continue
                visit(path, {**ancestors, key: path})
            elif is_image_name(path) and entry.is_file():
                found.append(path)

    info = os.stat(root)
    visit(root, {(info.st_dev, info.st_ino): root})
    return sorted(found)


def list_images(image_dir: Union[str, os.PathLike], report: Optional[Report] = None) -> Tuple[List[Path], Path]:
    """A file, a directory (recursive, sorted) or a glob -> (image paths, the root names are relative to).

    A single file is taken whatever its extension (and named by its file name); a directory or a glob keeps
    the files with an image or document extension (INPUT_EXTENSIONS, any case). A glob's root is its directory part
    before the first wildcard (`photos/**/*.jpg` -> `photos`); `**` is recursive.
    Symlinked folders are followed; symlink loops, dangling links and folders that cannot be listed are
    skipped and reported, one line each, through `report` (default: a warning on the paddle_pp.input logger).
    """
    report = report or _log_skip
    text = str(image_dir)
    path = Path(text)
    problem = url_problem(text)
    if problem:
        raise FileNotFoundError(f"{image_dir}: {problem}")
    if path.is_file():
        return [path], path.parent
    if path.is_dir():
        return _walk_images(path, report), path
    if path.is_symlink():
        raise FileNotFoundError(f"{image_dir}: {_link_problem(path) or 'not a file or directory'}")
    if any(ch in text for ch in _GLOB_CHARS):
        files = []
        for match in sorted(Path(p) for p in glob.glob(text, recursive=True)):
            problem = _link_problem(match) if match.is_symlink() else None
            if problem:
                if is_image_name(match):
                    report(f"{match}: skipped ({problem})")
            elif match.is_file() and is_image_name(match):
                files.append(match)
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


# Files are created through mkstemp (a unique name, safe between threads and processes), which makes them
# private; results, data sets and model caches are shared, so they get the mode a plain open() would give.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def write_atomic(path: Union[str, os.PathLike], write: Callable[[Path], None]) -> Path:
    """Let `write(tmp)` produce the file at a temporary path beside `path`, then move it into place with
    os.replace: readers see the old file or the whole new one, never half of it; a failure leaves the old
    file and no temporary behind. For writers that want a file name (paddle.save, savefig, paddle2onnx)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    return path


def _write_data(data: bytes, durable: bool) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
    return write


def write_text_atomic(path: Union[str, os.PathLike], text: str, durable: bool = True) -> Path:
    """Write a UTF-8 text file via a temporary file and os.replace: readers see the old or the new file.
    `durable` syncs the data to disk before the rename (survives a power cut); generators writing many
    thousands of images turn it off."""
    return write_atomic(path, _write_data(text.encode("utf-8"), durable))


def write_bytes_atomic(path: Union[str, os.PathLike], data: bytes, durable: bool = True) -> Path:
    return write_atomic(path, _write_data(bytes(data), durable))


def write_json_atomic(path: Union[str, os.PathLike], value: Any, **dumps_options: Any) -> Path:
    """JSON (indent 1 unless told otherwise) written atomically."""
    dumps_options.setdefault("indent", 1)
    return write_text_atomic(path, json.dumps(value, **dumps_options))


def file_md5(path: Union[str, os.PathLike]) -> str:
    """Hex MD5 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

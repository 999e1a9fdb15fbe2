"""What a batch job reads: the input listing (a directory, a glob or a manifest file, on any filesystem pyarrow
understands), each input's identity (the key that makes a re-run skip it), and its pages (`pages_of`: the
documents reader, one page at a time).

The listing runs once, on the driver, with pyarrow.fs: only names, sizes and modification times travel to the
workers, never bytes; each worker reads its own inputs, so nothing is assumed shared but the storage.
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import AbstractSet, Any, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from paddle_pp.utils.image_io import IMAGE_EXTENSIONS, WHITE, Background

# What a directory or a glob keeps: images, and the documents the documents issue turns into pages.
DOCUMENT_EXTENSIONS = (".pdf",)
INPUT_EXTENSIONS = IMAGE_EXTENSIONS + DOCUMENT_EXTENSIONS
_GLOB_CHARS = "*?["
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class InputFile:
    """One input: its path on `fs`, the name results give it (relative to the listing's root), its size and
    modification time, and its key: what "already done" means (see `input_key`)."""
    path: str
    source: str
    size: int
    mtime_ns: int
    key: str
    content_hash: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def input_key(path: str, size: int, mtime_ns: int, content_hash: Optional[str] = None) -> str:
    """The identity of an input: its path with its size and mtime (a changed file is a new input), or with its
    content hash (--hash: a copied or touched file with the same bytes is the same input)."""
    ident = f"{path}\0{content_hash}" if content_hash else f"{path}\0{size}\0{mtime_ns}"
    return hashlib.sha1(ident.encode("utf-8", "surrogateescape")).hexdigest()


def resolve_filesystem(spec: str) -> Tuple[Any, str]:
    """(pyarrow filesystem, path on it) for a local path or a URI (file://, s3://, gs://, hdfs://, ...)."""
    from pyarrow import fs as pafs

    if "://" in spec:
        return pafs.FileSystem.from_uri(spec)
    return pafs.LocalFileSystem(), os.path.abspath(spec)


def _join(root: str, name: str) -> str:
    return name if name.startswith("/") or "://" in name else f"{root.rstrip('/')}/{name}"


def _relative(path: str, root: str) -> str:
    prefix = root.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else path.rsplit("/", 1)[-1]


def _wanted(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in INPUT_EXTENSIONS


def _read_manifest(fs: Any, path: str) -> List[str]:
    """A manifest: one path a line (relative ones to the manifest's folder); blank lines and # comments skipped."""
    with fs.open_input_stream(path) as f:
        text = f.read().decode("utf-8", "surrogateescape")
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    lines = (line.strip() for line in text.splitlines())
    return [_join(folder, line) for line in lines if line and not line.startswith("#")]


def list_inputs(spec: str, content_hash: bool = False) -> Tuple[Any, List[InputFile], List[str]]:
    """DIR (recursive), GLOB (`**` too) or MANIFEST (a file that is not an image: paths, one a line) ->
    (filesystem, inputs sorted by path, problems). A manifest entry that is missing is a problem (one line
    each), not an error: the others still run. FileNotFoundError when `spec` names nothing."""
    from pyarrow import fs as pafs

    fs, path = resolve_filesystem(spec)
    problems: List[str] = []
    if any(ch in path for ch in _GLOB_CHARS):
        root = path[:min(path.find(ch) for ch in _GLOB_CHARS if ch in path)].rsplit("/", 1)[0]
        found = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        infos = [i for i in found if i.type == pafs.FileType.File and fnmatch.fnmatch(i.path, path) and _wanted(i.path)]
    else:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(f"{spec}: no such file, directory or glob match")
        if info.type == pafs.FileType.Directory:
            root = path
            found = fs.get_file_info(pafs.FileSelector(path, recursive=True))
            infos = [i for i in found if i.type == pafs.FileType.File and _wanted(i.path)
                     and not any(part.startswith(".") for part in _relative(i.path, root).split("/"))]
        elif _wanted(path):  # one image or document
            root, infos = path.rsplit("/", 1)[0], [info]
        else:
            root = path.rsplit("/", 1)[0]
            listed = _read_manifest(fs, path)
            infos = []
            for entry, entry_info in zip(listed, fs.get_file_info(listed) if listed else []):
                if entry_info.type == pafs.FileType.File:
                    infos.append(entry_info)
                else:
                    problems.append(f"{entry}: listed in {spec} but {'a folder' if entry_info.type == pafs.FileType.Directory else 'not found'}; skipped")
    inputs, seen = [], set()
    for info in sorted(infos, key=lambda i: i.path):
        if info.path in seen:  # a manifest naming a file twice: one input
            continue
        seen.add(info.path)
        mtime_ns = int(info.mtime_ns or 0)
        digest = file_sha256(fs, info.path) if content_hash else None
        inputs.append(InputFile(info.path, _relative(info.path, root), int(info.size or 0), mtime_ns,
                                input_key(info.path, int(info.size or 0), mtime_ns, digest), digest))
    return fs, inputs, problems


def file_sha256(fs: Any, path: str) -> str:
    digest = hashlib.sha256()
    with fs.open_input_stream(path) as f:
        while True:
            chunk = f.read(_HASH_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


# The page number of a row about a whole document that has no pages to give (corrupt, encrypted, empty): 0, not
# null, so that (input, page) stays a key every row has; real pages count from 1, a plain image is page 1.
DOCUMENT_PAGE = 0
IMAGE_PAGE = 1


@dataclass
class PageImage:
    """One page of an input: its number (1-based; 0 for an error about the whole document), its id in results
    ("a.png", "doc.pdf#page=3"), and either its pixels (uint8 BGR) or the error that stopped it."""
    number: int
    page_id: str
    image: Optional[np.ndarray] = None
    error: Optional[BaseException] = None


def pages_of(source: Union[bytes, str], name: str, max_pixels: int, pdf_dpi: Optional[float] = None,
             pages: Optional[str] = None, pdf_password: Optional[str] = None,
             skip: AbstractSet[int] = frozenset(), background: Background = WHITE) -> Iterator[PageImage]:
    """An input (its bytes, or a local path: PDFs and TIFFs are then read lazily from the file) -> its pages,
    lazily, one rendered page at a time, each with its image or its error: paddle_pp.documents.iter_pages, the
    reader `paddle-pp ocr` uses, with the same --pdf_dpi, --pages and --pdf_password.

    A plain image is page 1; a document's pages have the reader's numbers; a document that cannot be opened at
    all (PDFPasswordError, DocumentReadError, EmptyDocumentError) is one page 0 with the error. `skip`: page
    numbers already committed by an earlier attempt, not read again; `background`: what an image's transparency is
    composited over.
    """
    from paddle_pp.documents import iter_pages

    document = source if isinstance(source, bytes) else Path(source)
    for page in iter_pages(document, name=name, pdf_dpi=pdf_dpi, pages=pages, pdf_password=pdf_password,
                           max_pixels=max_pixels, skip=skip, background=background):
        if page.number is not None:
            number = page.number
        else:
            number = IMAGE_PAGE if page.kind == "image" else DOCUMENT_PAGE
        if number in skip:
            continue
        yield PageImage(number, page.name, image=page.image, error=page.error)

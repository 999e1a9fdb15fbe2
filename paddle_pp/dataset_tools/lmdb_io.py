"""LMDB in the deep-text-recognition-benchmark layout (SPEC.md): `num-samples`, `image-%09d`, `label-%09d`,
indices from 1.

Writing is crash-safe twice over: samples go in batched transactions into `<out>.incomplete/`, the
`num-samples` key is written in the very last transaction, and only then is the folder renamed to `<out>`.
An interrupted build therefore leaves either nothing at `<out>` or, if someone points a reader at the
partial folder, a DB without `num-samples`, which LmdbReader refuses as incomplete.

Reading never maps a file before paddle_pp.utils.lmdb_file has checked it against its header (a truncated
data.mdb would otherwise kill the process with SIGBUS), and every lmdb error becomes an LmdbDamagedError (a
DataToolError) naming the folder.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import lmdb

from paddle_pp.dataset_tools.tool_io import DataToolError
from paddle_pp.utils.lmdb_file import LmdbDamagedError, LmdbHeader, parse_num_samples, read_lmdb_header

NUM_SAMPLES_KEY = b"num-samples"
INCOMPLETE_SUFFIX = ".incomplete"


def image_key(index: int) -> bytes:
    return b"image-%09d" % index


def label_key(index: int) -> bytes:
    return b"label-%09d" % index


class LmdbWriter:
    """Append (image bytes, label) pairs; finish() marks the DB complete and moves it into place.

    Use as a context manager: leaving the block by an exception leaves the DB unfinished (no num-samples,
    still under the .incomplete name), which is exactly what an interrupted build must look like.
    """

    def __init__(self, out_dir: os.PathLike, overwrite: bool = False, map_size: int = 64 << 20,
                 commit_every: int = 1000):
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not overwrite:
            raise DataToolError(f"{self.out_dir}: output exists; pass --overwrite to replace it")
        self.work_dir = self.out_dir.with_name(self.out_dir.name + INCOMPLETE_SUFFIX)
        if self.work_dir.exists():  # left by an interrupted build: never resume from unknown state
            shutil.rmtree(self.work_dir)
        self.work_dir.mkdir(parents=True)
        self.map_size = int(map_size)
        self.env = lmdb.open(str(self.work_dir), map_size=self.map_size, subdir=True, meminit=False)
        self.commit_every = max(1, int(commit_every))
        self.pending: Dict[bytes, bytes] = {}
        self.count = 0
        self.finished = False

    def add(self, image_bytes: bytes, label: str) -> int:
        """Queue one sample; returns its 1-based index."""
        self.count += 1
        self.pending[image_key(self.count)] = image_bytes
        self.pending[label_key(self.count)] = label.encode("utf-8")
        if len(self.pending) >= 2 * self.commit_every:
            self._commit(self.pending)
            self.pending = {}
        return self.count

    def _commit(self, items: Dict[bytes, bytes]) -> None:
        """Write items in one transaction; on MapFullError double the map and retry the whole batch."""
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for key, value in items.items():
                        txn.put(key, value)
                return
            except lmdb.MapFullError:
                self.map_size *= 2  # the aborted transaction left nothing behind; grow and redo it
                self.env.set_mapsize(self.map_size)

    def finish(self) -> Path:
        """Write the rest and num-samples (last), close, and move the DB to its final name."""
        self.pending[NUM_SAMPLES_KEY] = str(self.count).encode()
        self._commit(self.pending)
        self.pending = {}
        self.env.sync()
        self.env.close()
        if self.out_dir.exists():
            shutil.rmtree(self.out_dir)
        os.replace(self.work_dir, self.out_dir)
        self.finished = True
        return self.out_dir

    def close_unfinished(self) -> None:
        """Close without marking complete (used on errors and interrupts)."""
        if not self.finished:
            self.env.close()

    def __enter__(self) -> "LmdbWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.close_unfinished()


def open_checked(path: os.PathLike) -> Tuple["lmdb.Environment", LmdbHeader]:
    """A read-only environment over an LMDB folder whose data.mdb passed the header check."""
    header = read_lmdb_header(path)
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
    except lmdb.Error as error:
        raise LmdbDamagedError(f"{path}: cannot open the LMDB ({error})") from None
    return env, header


def read_num_samples(env: "lmdb.Environment", path: os.PathLike) -> Optional[int]:
    """num-samples of an open environment (None when absent); lmdb errors and nonsense values are damage."""
    try:
        with env.begin() as txn:
            raw = txn.get(NUM_SAMPLES_KEY)
        entries = env.stat()["entries"]
    except lmdb.Error as error:
        raise LmdbDamagedError(f"{path}: corrupt LMDB ({error})") from None
    return parse_num_samples(raw, str(path), entries)


class LmdbReader:
    """Read a finished LMDB; refuses one without num-samples (an interrupted build) and a damaged one."""

    def __init__(self, path: os.PathLike):
        self.path = Path(path)
        self.env, self.header = open_checked(self.path)
        try:
            num_samples = read_num_samples(self.env, self.path)
        except LmdbDamagedError:
            self.env.close()
            raise
        if num_samples is None:
            self.env.close()
            raise DataToolError(f"{self.path}: incomplete LMDB (no 'num-samples' key; an interrupted build?)")
        self.num_samples = num_samples

    def __len__(self) -> int:
        return self.num_samples

    def get(self, index: int) -> Tuple[bytes, str]:
        """Sample `index` (1-based): (encoded image bytes, label)."""
        try:
            with self.env.begin() as txn:
                image = txn.get(image_key(index))
                label = txn.get(label_key(index))
        except lmdb.Error as error:
            raise LmdbDamagedError(f"{self.path}: sample {index}: corrupt LMDB ({error})") from None
        if image is None or label is None:
            raise LmdbDamagedError(f"{self.path}: sample {index} is missing")
        try:
            return bytes(image), bytes(label).decode("utf-8")
        except UnicodeDecodeError as error:
            raise LmdbDamagedError(f"{self.path}: sample {index}: label is not UTF-8 "
                                   f"(byte 0x{error.object[error.start]:02x} at offset {error.start})") from None

    def __iter__(self) -> Iterator[Tuple[int, bytes, str]]:
        for index in range(1, self.num_samples + 1):
            image, label = self.get(index)
            yield index, image, label

    def close(self) -> None:
        self.env.close()

    def __enter__(self) -> "LmdbReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def find_lmdb_dirs(root: os.PathLike) -> List[Path]:
    """Every folder under root (root included) that holds a data.mdb, sorted."""
    root = Path(root)
    if not root.exists():
        raise DataToolError(f"{root}: no such folder")
    return sorted(path.parent for path in root.rglob("data.mdb"))


def has_num_samples(path: os.PathLike) -> Optional[int]:
    """num-samples of an LMDB folder, or None when the key is absent (unfinished); LmdbDamagedError when the
    folder is damaged."""
    env, _ = open_checked(path)
    try:
        return read_num_samples(env, path)
    finally:
        env.close()

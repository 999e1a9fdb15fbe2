"""LMDB in the deep-text-recognition-benchmark layout (SPEC.md): `num-samples`, `image-%09d`, `label-%09d`,
indices from 1.

Writing is crash-safe twice over: samples go in batched transactions into `<out>.incomplete/`, the
`num-samples` key is written in the very last transaction, and only then is the folder renamed to `<out>`.
An interrupted build therefore leaves either nothing at `<out>` or, if someone points a reader at the
partial folder, a DB without `num-samples`, which LmdbReader refuses as incomplete.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import lmdb

from paddle_pp.dataset_tools.tool_io import DataToolError

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


class LmdbReader:
    """Read a finished LMDB; refuses one without num-samples (an interrupted build)."""

    def __init__(self, path: os.PathLike):
        self.path = Path(path)
        if not (self.path / "data.mdb").is_file():
            raise DataToolError(f"{self.path}: not an LMDB folder (no data.mdb)")
        self.env = lmdb.open(str(self.path), readonly=True, lock=False, readahead=False, meminit=False)
        with self.env.begin() as txn:
            raw = txn.get(NUM_SAMPLES_KEY)
        if raw is None:
            self.env.close()
            raise DataToolError(f"{self.path}: incomplete LMDB (no 'num-samples' key; an interrupted build?)")
        self.num_samples = int(raw)

    def __len__(self) -> int:
        return self.num_samples

    def get(self, index: int) -> Tuple[bytes, str]:
        """Sample `index` (1-based): (encoded image bytes, label)."""
        with self.env.begin() as txn:
            image = txn.get(image_key(index))
            label = txn.get(label_key(index))
        if image is None or label is None:
            raise DataToolError(f"{self.path}: sample {index} is missing")
        return bytes(image), label.decode("utf-8")

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
    """num-samples of an LMDB folder, or None when the key is absent (unfinished)."""
    env = lmdb.open(str(path), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            raw = txn.get(NUM_SAMPLES_KEY)
        return int(raw) if raw is not None else None
    finally:
        env.close()

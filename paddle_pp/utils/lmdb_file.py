"""Sanity of an LMDB's data.mdb, checked with plain reads before lmdb maps it.

py-lmdb maps data.mdb into memory. Touching a page past the end of a truncated file raises SIGBUS, which kills
the interpreter without a message (exit 135) and cannot be caught in Python. LMDB keeps two meta pages at the
start of the file; the current one (the higher transaction id) records the page size and the last page in
use, so an intact file holds at least (last page + 1) * page size bytes. Checking that here catches truncated,
emptied and overwritten files with a precise message before the file is mapped. Damage inside the pages
(flipped bytes) is not visible here: lmdb reports most of it as lmdb.Error, and `build_lmdb --check` reads
each LMDB in a child process for the rest.

Layout (lmdb 0.9 `MDB_page` / `MDB_meta`, a 64-bit build in native byte order, as every platform paddle-pp
runs on writes it): page header {pgno u64, pad u16, flags u16, lower u16, upper u16}; at byte 16 the meta
{magic u32, version u32, address u64, mapsize u64, dbs[2] of {pad u32, flags u16, depth u16, branch_pages,
leaf_pages, overflow_pages, entries, root: u64}, last_pgno u64, txnid u64}. The page size is dbs[0].pad.

Also here: `parse_num_samples`, the one reading of the `num-samples` key (deep-text-recognition-benchmark
layout), shared by the data-set tools and the training dataset.
"""
from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from paddle_pp.utils.errors import InputError

META_MAGIC = 0xBEEFC0DE
DATA_VERSION = 1
P_META = 0x08
NO_PAGE = 0xFFFFFFFFFFFFFFFF  # root of an empty database

_PAGE_HEADER = struct.Struct("=QHH")  # pgno, pad, flags
_META_HEAD = struct.Struct("=IIQQ")  # magic, version, address, mapsize
_DB = struct.Struct("=IHHQQQQQ")  # pad (page size in dbs[0]), flags, depth, branch, leaf, overflow, entries, root
_META_TAIL = struct.Struct("=QQ")  # last_pgno, txnid
_META_AT, _DBS_AT = 16, 40
_TAIL_AT = _DBS_AT + 2 * _DB.size
META_BYTES = _TAIL_AT + _META_TAIL.size  # 152

_COUNT = re.compile(rb"[0-9]{1,18}")


class LmdbDamagedError(InputError):
    """An LMDB that cannot be read safely; the message names the folder and the damage."""


@dataclass(frozen=True)
class LmdbHeader:
    """What the current meta page of data.mdb says."""
    page_size: int
    last_page: int
    map_size: int
    txn_id: int
    entries: int  # keys in the main database
    file_size: int

    @property
    def required_size(self) -> int:
        return (self.last_page + 1) * self.page_size


@dataclass(frozen=True)
class _Meta:
    page_size: int
    map_size: int
    entries: int
    root: int
    last_page: int
    txn_id: int


def _parse_meta(data: bytes, which: int, where: str) -> _Meta:
    if len(data) < META_BYTES:
        raise LmdbDamagedError(f"{where}: data.mdb is truncated: meta page {which} is incomplete")
    _, _, flags = _PAGE_HEADER.unpack_from(data, 0)
    magic, version, _, map_size = _META_HEAD.unpack_from(data, _META_AT)
    if magic != META_MAGIC or not flags & P_META:
        raise LmdbDamagedError(f"{where}: data.mdb header is overwritten or this is not an LMDB "
                               f"(meta page {which} has no LMDB magic number)")
    if version != DATA_VERSION:
        raise LmdbDamagedError(f"{where}: data.mdb has LMDB data version {version}, expected {DATA_VERSION}")
    page_size = _DB.unpack_from(data, _DBS_AT)[0]
    entries, root = _DB.unpack_from(data, _DBS_AT + _DB.size)[6:8]
    last_page, txn_id = _META_TAIL.unpack_from(data, _TAIL_AT)
    return _Meta(page_size, map_size, entries, root, last_page, txn_id)


def read_lmdb_header(lmdb_dir: Union[str, os.PathLike]) -> LmdbHeader:
    """Validate `lmdb_dir/data.mdb` against its own header without mapping it; LmdbDamagedError otherwise.

    Checks, in LMDB's own order: both meta pages are LMDB meta pages of the expected version, the page size is
    sane, and the file is as long as the current meta page (higher transaction id, as LMDB picks it) says.
    """
    where = str(lmdb_dir)
    data_mdb = Path(lmdb_dir) / "data.mdb"
    try:
        with open(data_mdb, "rb") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            first = handle.read(META_BYTES)
            if file_size == 0:
                raise LmdbDamagedError(f"{where}: data.mdb is empty (0 bytes)")
            meta0 = _parse_meta(first, 0, where)
            if not (512 <= meta0.page_size <= 65536 and meta0.page_size & (meta0.page_size - 1) == 0):
                raise LmdbDamagedError(f"{where}: data.mdb header is damaged (page size {meta0.page_size})")
            handle.seek(meta0.page_size)
            meta1 = _parse_meta(handle.read(META_BYTES), 1, where)
    except FileNotFoundError:
        raise LmdbDamagedError(f"{where}: not an LMDB folder (no data.mdb)") from None
    except OSError as error:
        raise LmdbDamagedError(f"{where}: cannot read data.mdb ({error.strerror or error})") from None
    current = meta1 if meta1.txn_id > meta0.txn_id else meta0
    header = LmdbHeader(meta0.page_size, current.last_page, current.map_size, current.txn_id, current.entries,
                        file_size)
    if current.last_page < 1 or (current.root != NO_PAGE and not 2 <= current.root <= current.last_page):
        raise LmdbDamagedError(f"{where}: data.mdb header is damaged (root page {current.root}, last page "
                               f"{current.last_page})")
    if file_size < header.required_size:
        raise LmdbDamagedError(
            f"{where}: data.mdb is truncated: {file_size} bytes, but its header records "
            f"{current.last_page + 1} pages of {header.page_size} bytes ({header.required_size} bytes)")
    return header


def parse_num_samples(raw: Optional[bytes], where: str, entries: Optional[int] = None) -> Optional[int]:
    """The value of the `num-samples` key as a count; None when the key is absent (an unfinished build).

    With `entries` (keys in the database), a count that cannot fit (2 keys a sample + num-samples) is damage:
    trusting it would send readers after millions of missing samples."""
    if raw is None:
        return None
    raw = bytes(raw)
    if not _COUNT.fullmatch(raw):
        raise LmdbDamagedError(f"{where}: 'num-samples' is not a count: {raw[:40]!r}")
    count = int(raw)
    if entries is not None and 2 * count + 1 > entries:
        raise LmdbDamagedError(f"{where}: 'num-samples' says {count} samples but the database holds only "
                               f"{entries} keys (2 per sample + num-samples)")
    return count

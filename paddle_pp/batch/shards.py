"""The output of a batch job: parts committed atomically, each with a manifest of the (input, page)s it holds.

    OUTPUT/part-<shard>-<n>.parquet | .jsonl   one row per (input, page); the dataset is the folder (pyarrow,
                                               Ray, pandas, DuckDB and Spark skip names starting with _ or .)
    OUTPUT/_manifests/<shard>-<n>.json         the inputs the part holds: their keys, page numbers, and whether
                                               the part holds their last page (complete)
    OUTPUT/_batch.json                         the format the folder is written in (a re-run keeps it)
    OUTPUT/_summary.json                       the last run's summary

A shard is a chunk of the sorted listing (--shard_size inputs), one Ray task; it is committed in parts of at
most --shard_size pages, in order: n = 0, 1, 2, ... A shard of images is one part; a 2,000-page PDF is many, so
the unit of commit and of retry is at most --shard_size pages, never a whole document.

Exactly once: a part is written under a temporary name and renamed into place (the commit). A shard's id is a
hash of the keys of its whole chunk (committed inputs included), so a re-run of an unchanged listing gives it the
same id; a task (a retry of an actor that died, a re-run) first reads the parts of its shard already committed
and the pages the driver says are committed elsewhere, skips those (input, page)s and goes on at the next part
number. Rows come in a fixed order, so a straggler writing the same part writes the same rows: it replaces,
never adds. A part whose manifest was not written before a crash is found by its file; its manifest is rebuilt
from its own input_key and page columns.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

import pyarrow as pa

from paddle_pp.batch.inputs import InputFile

MANIFESTS = "_manifests"
SETTINGS_FILE = "_batch.json"
SUMMARY_FILE = "_summary.json"
PART_PREFIX = "part-"

LINE_TYPE = pa.struct([("text", pa.string()), ("score", pa.float32()),
                       ("points", pa.list_(pa.list_(pa.int32())))])
WORD_TYPE = pa.struct([("text", pa.string()), ("score", pa.float32()),
                       ("points", pa.list_(pa.list_(pa.int32()))), ("line", pa.int32())])
SCHEMA = pa.schema([
    ("source", pa.string()),          # the input's name, relative to the listing's root
    ("page", pa.int32()),             # 1-based page of a document, 1 for an image, 0: the whole input failed
    ("page_id", pa.string()),         # "a.png", or "doc.pdf#page=3" for a document's page
    ("width", pa.int32()), ("height", pa.int32()),   # null when the page could not be read
    ("angle", pa.int32()),            # --use_doc_orientation_classify: the turn that made the page upright; else null
    ("lines", pa.list_(LINE_TYPE)),   # reading order
    ("text", pa.string()),            # the lines' text in reading order, one row a line (tabs within a row)
    ("words", pa.list_(WORD_TYPE)),   # --return_word_box: every line's words, `line` its index in lines; else null
    ("error", pa.string()),           # null, or the one-line message of what stopped this page
    ("error_type", pa.string()),      # the error's class (ImageReadError, ImageTooLargeError, ...): failures by cause
    ("models", pa.string()),          # det/cls/rec models and engine
    ("paddle_pp_version", pa.string()),
    ("elapsed_ms", pa.float64()),     # decoding + OCR of the page
    ("node_id", pa.string()),         # the Ray node that did it
    ("input_key", pa.string()),       # what makes a re-run skip the input (inputs.input_key)
    ("path", pa.string()),            # the full path on its filesystem
    ("size", pa.int64()), ("mtime_ns", pa.int64()), ("content_hash", pa.string()),
])


def shard_id(keys: Iterable[str]) -> str:
    return hashlib.sha1("\n".join(sorted(keys)).encode()).hexdigest()[:20]


def part_id(shard: str, index: int) -> str:
    return f"{shard}-{index:05d}"


def part_name(part: str, fmt: str) -> str:
    return f"{PART_PREFIX}{part}.{fmt}"


@dataclass
class Shard:
    """A chunk of the listing: its id (of the whole chunk) and its inputs not yet complete."""
    id: str
    inputs: List[InputFile]


def plan_shards(inputs: Sequence[InputFile], complete: Dict[str, str], shard_size: int) -> List[Shard]:
    """The inputs not yet complete, in shards of `shard_size`. Chunks are cut from the whole sorted listing
    and named by all their keys before the complete inputs are taken out, so an unchanged folder gives a re-run
    the same shards (and names) as the run it resumes: a straggling task of a killed run can only rewrite a
    part, never add one that overlaps."""
    shards = []
    for start in range(0, len(inputs), shard_size):
        chunk = inputs[start:start + shard_size]
        todo = [item for item in chunk if item.key not in complete]
        if todo:
            shards.append(Shard(shard_id(item.key for item in chunk), todo))
    return shards


def rows_table(rows: List[Dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def encode_rows(rows: List[Dict[str, Any]], fmt: str) -> bytes:
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(rows_table(rows), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def commit_file(fs: Any, path: str, data: bytes) -> None:
    """Make `path` hold `data` all at once: a local file goes through utils.files' temp-file-then-rename (with
    fsync); an object store (S3, GCS) makes an object visible only when its upload completes."""
    from pyarrow import fs as pafs

    if isinstance(fs, pafs.LocalFileSystem):
        from paddle_pp.utils.files import write_bytes_atomic

        write_bytes_atomic(path, data)
        return
    with fs.open_output_stream(path) as f:
        f.write(data)


def manifest_entry(item: InputFile, pages: Sequence[int] = (), complete: bool = True) -> Dict[str, Any]:
    """What a manifest says of one input: the page numbers this part holds, and whether its last page is here."""
    return {"key": item.key, "source": item.source, "pages": list(pages), "complete": complete}


def write_part(fs: Any, output: str, part: str, entries: List[Dict[str, Any]], rows: List[Dict[str, Any]],
               fmt: str) -> Dict[str, Any]:
    """Commit one part, then its manifest (a crash between the two leaves a part the next run still sees: its
    manifest is rebuilt from its rows). Returns the manifest."""
    commit_file(fs, f"{output}/{part_name(part, fmt)}", encode_rows(rows, fmt))
    manifest = {"part": part, "file": part_name(part, fmt), "rows": len(rows), "committed": time.time(),
                "inputs": entries}
    commit_file(fs, f"{output}/{MANIFESTS}/{part}.json", json.dumps(manifest).encode())
    return manifest


def _rows_in_part(fs: Any, path: str, fmt: str) -> List[Dict[str, Any]]:
    """(input_key, page) of every row of a part, in order."""
    with fs.open_input_file(path) as f:
        data = f.read()
    if fmt == "jsonl":
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
        return [{"input_key": row["input_key"], "page": row["page"], "source": row.get("source")} for row in rows]
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data), columns=["input_key", "page", "source"]).to_pylist()


def _rebuild_manifest(fs: Any, output: str, part: str, path: str, fmt: str) -> Dict[str, Any]:
    """The manifest of a part committed without one (a kill between the two renames), from its own rows. Its
    last input may have had more pages to come: it is marked incomplete, so the next attempt reads on after
    the pages here (and, if there are none, records it complete in a part of its own)."""
    entries: Dict[str, Dict[str, Any]] = {}
    rows = _rows_in_part(fs, path, fmt)
    for row in rows:
        entry = entries.setdefault(row["input_key"], {"key": row["input_key"], "source": row["source"],
                                                      "pages": [], "complete": True})
        entry["pages"].append(int(row["page"]))
    if entries:
        list(entries.values())[-1]["complete"] = False
    manifest = {"part": part, "file": path.rsplit("/", 1)[-1], "rows": len(rows), "rebuilt": True,
                "inputs": list(entries.values())}
    commit_file(fs, f"{output}/{MANIFESTS}/{part}.json", json.dumps(manifest).encode())
    return manifest


def _read_manifest(fs: Any, output: str, part: str, path: str, fmt: str) -> Dict[str, Any]:
    try:
        with fs.open_input_stream(f"{output}/{MANIFESTS}/{part}.json") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return _rebuild_manifest(fs, output, part, path, fmt)


def read_manifests(fs: Any, output: str, fmt: str) -> List[Dict[str, Any]]:
    """The manifest of every committed part in `output` (a part is committed when its file is there; a
    manifest without its part is a crash before the part's commit, and ignored)."""
    from pyarrow import fs as pafs

    found = fs.get_file_info(pafs.FileSelector(output, allow_not_found=True))
    parts = {info.base_name[len(PART_PREFIX):-len(fmt) - 1]: info.path for info in found
             if info.type == pafs.FileType.File and info.base_name.startswith(PART_PREFIX)
             and info.base_name.endswith("." + fmt)}
    return [_read_manifest(fs, output, part, path, fmt) for part, path in sorted(parts.items())]


def shard_parts(fs: Any, output: str, shard: str, fmt: str) -> List[Dict[str, Any]]:
    """The manifests of one shard's committed parts, 0, 1, ... up to the first one missing (parts are
    committed in order), without listing the folder: what a task (a retry, a resumed run) does not redo."""
    manifests = []
    while True:
        part = part_id(shard, len(manifests))
        path = f"{output}/{part_name(part, fmt)}"
        if not _exists(fs, path):
            return manifests
        manifests.append(_read_manifest(fs, output, part, path, fmt))


def _exists(fs: Any, path: str) -> bool:
    from pyarrow import fs as pafs

    return fs.get_file_info(path).type == pafs.FileType.File


@dataclass
class Committed:
    """What an output folder holds: the complete inputs ({key: part}), every committed page of every input
    ({key: {page, ...}}), rows, and how many (input, page)s are in more than one part (0 unless broken)."""
    complete: Dict[str, str] = field(default_factory=dict)
    pages: Dict[str, Set[int]] = field(default_factory=dict)
    rows: int = 0
    duplicates: int = 0

    def add(self, manifest: Dict[str, Any]) -> None:
        self.rows += int(manifest.get("rows", 0))
        for entry in manifest["inputs"]:
            pages = self.pages.setdefault(entry["key"], set())
            for page in entry.get("pages", ()):
                if page in pages:
                    self.duplicates += 1
                pages.add(page)
            if entry.get("complete", True):
                self.complete.setdefault(entry["key"], manifest["part"])


def committed_inputs(fs: Any, output: str, fmt: str) -> Committed:
    """Everything committed in `output` (read from the manifests; a part without one gets it rebuilt)."""
    committed = Committed()
    for manifest in read_manifests(fs, output, fmt):
        committed.add(manifest)
    return committed


def remove_stale_temporaries(fs: Any, output: str) -> int:
    """Delete the half-written temporaries (.part-*.tmp) a killed run left behind; their shards are redone."""
    from pyarrow import fs as pafs

    removed = 0
    for folder in (output, f"{output}/{MANIFESTS}"):
        for info in fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
            if info.type == pafs.FileType.File and info.base_name.startswith(".") and info.base_name.endswith(".tmp"):
                fs.delete_file(info.path)
                removed += 1
    return removed


def check_format(fs: Any, output: str, fmt: str) -> Optional[str]:
    """Record the output format on the first run; a problem message when a re-run asks for another one."""
    from pyarrow import fs as pafs

    path = f"{output}/{SETTINGS_FILE}"
    if fs.get_file_info(path).type == pafs.FileType.File:
        with fs.open_input_stream(path) as f:
            settings = json.loads(f.read())
        recorded = settings.get("format")
        if recorded != fmt:
            return f"{output} holds a {recorded} dataset; resume it with --format {recorded} (or use another --output)"
        columns = settings.get("schema", SCHEMA.names)
        if columns != SCHEMA.names:  # parts with other columns in one dataset: readers keep one file's columns
            changed = sorted(set(columns) ^ set(SCHEMA.names)) or ["their order"]
            return (f"{output} was written by a paddle-pp version with other columns (differing: "
                    f"{', '.join(changed)}); finish it with that version, or use another --output")
        return None
    fs.create_dir(output, recursive=True)
    commit_file(fs, path, json.dumps({"format": fmt, "schema": SCHEMA.names}).encode())
    return None


def read_rows(output: str, columns: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    """Every row of a finished local output folder (either format): for tests and small checks."""
    from pyarrow import fs as pafs

    fs, path = pafs.LocalFileSystem(), output
    with fs.open_input_stream(f"{path}/{SETTINGS_FILE}") as f:
        fmt = json.loads(f.read())["format"]
    rows: List[Dict[str, Any]] = []
    for info in sorted(fs.get_file_info(pafs.FileSelector(path)), key=lambda i: i.path):
        if info.base_name.startswith(PART_PREFIX) and info.base_name.endswith("." + fmt):
            if fmt == "jsonl":
                with open(info.path, encoding="utf-8") as f:
                    rows += [json.loads(line) for line in f if line.strip()]
            else:
                import pyarrow.parquet as pq

                rows += pq.read_table(info.path, columns=columns).to_pylist()
    if columns:
        rows = [{name: row[name] for name in columns} for row in rows]
    return rows

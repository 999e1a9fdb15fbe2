"""The output of a batch job: shards committed atomically, each with a manifest of the inputs it holds.

    OUTPUT/part-<shard>.parquet | .jsonl   one row per (input, page); the dataset is the folder (pyarrow, Ray,
                                           pandas, DuckDB and Spark skip names starting with _ or .)
    OUTPUT/_manifests/<shard>.json         the keys of the inputs the shard holds, and their page counts
    OUTPUT/_batch.json                     the format the folder is written in (a re-run keeps it)
    OUTPUT/_summary.json                   the last run's summary

Exactly once: a shard is written under a temporary name and renamed into place (the commit); its id is a
hash of the keys of its inputs, so a retried task (an actor that died, even after its rename) writes the very
same name again and replaces it with the same rows. A re-run reads the manifests (or, for a shard whose
manifest was not written before a crash, the shard's own input_key column) and skips every committed input.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence

import pyarrow as pa

from paddle_pp.batch.inputs import InputFile

MANIFESTS = "_manifests"
SETTINGS_FILE = "_batch.json"
SUMMARY_FILE = "_summary.json"
PART_PREFIX = "part-"

LINE_TYPE = pa.struct([("text", pa.string()), ("score", pa.float32()),
                       ("points", pa.list_(pa.list_(pa.int32())))])
SCHEMA = pa.schema([
    ("source", pa.string()),          # the input's name, relative to the listing's root
    ("page", pa.int32()),             # 1-based page of the input (1 for an image)
    ("page_id", pa.string()),         # "a.png", or "doc.pdf#page=3" for a document's page
    ("width", pa.int32()), ("height", pa.int32()),   # null when the page could not be read
    ("lines", pa.list_(LINE_TYPE)),   # reading order
    ("text", pa.string()),            # the lines' text, one a line, in reading order
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


def part_name(shard: str, fmt: str) -> str:
    return f"{PART_PREFIX}{shard}.{fmt}"


def plan_shards(inputs: Sequence[InputFile], committed: Dict[str, str], shard_size: int) -> List[List[InputFile]]:
    """The inputs not yet committed, in shards of `shard_size`. Chunks are cut from the whole sorted listing
    before the committed inputs are taken out, so an unchanged folder gives a re-run the same shards (and
    names) as the run it resumes: a straggling task of a killed run can only rewrite a shard, never add one
    that overlaps."""
    shards = []
    for start in range(0, len(inputs), shard_size):
        todo = [item for item in inputs[start:start + shard_size] if item.key not in committed]
        if todo:
            shards.append(todo)
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


def write_shard(fs: Any, output: str, shard: str, inputs: Sequence[InputFile], rows: List[Dict[str, Any]],
                fmt: str) -> None:
    """Commit one shard, then its manifest (a crash between the two leaves a shard the next run still sees:
    `committed_inputs` reads its keys from the shard itself)."""
    commit_file(fs, f"{output}/{part_name(shard, fmt)}", encode_rows(rows, fmt))
    pages: Dict[str, int] = {item.key: 0 for item in inputs}
    for row in rows:
        pages[row["input_key"]] += 1
    manifest = {"shard": shard, "file": part_name(shard, fmt), "rows": len(rows), "committed": time.time(),
                "inputs": [{"key": item.key, "source": item.source, "pages": pages[item.key]} for item in inputs]}
    commit_file(fs, f"{output}/{MANIFESTS}/{shard}.json", json.dumps(manifest).encode())


def _keys_in_part(fs: Any, path: str, fmt: str) -> List[str]:
    with fs.open_input_file(path) as f:
        data = f.read()
    if fmt == "jsonl":
        return sorted({json.loads(line)["input_key"] for line in data.decode("utf-8").splitlines() if line.strip()})
    import pyarrow.parquet as pq

    return sorted(set(pq.read_table(io.BytesIO(data), columns=["input_key"]).column(0).to_pylist()))


def committed_inputs(fs: Any, output: str, fmt: str) -> Dict[str, str]:
    """{input key: shard} of every committed shard in `output`. A shard without a manifest (the driver or the
    worker died between the two renames) gets one written from its own rows."""
    from pyarrow import fs as pafs

    found = fs.get_file_info(pafs.FileSelector(output, allow_not_found=True))
    parts = {info.base_name[len(PART_PREFIX):-len(fmt) - 1]: info.path for info in found
             if info.type == pafs.FileType.File and info.base_name.startswith(PART_PREFIX)
             and info.base_name.endswith("." + fmt)}
    manifests = {info.base_name[:-5]: info.path
                 for info in fs.get_file_info(pafs.FileSelector(f"{output}/{MANIFESTS}", allow_not_found=True))
                 if info.type == pafs.FileType.File and info.base_name.endswith(".json")
                 and not info.base_name.startswith(".")}
    committed: Dict[str, str] = {}
    for shard, part in sorted(parts.items()):
        if shard in manifests:
            with fs.open_input_stream(manifests[shard]) as f:
                keys = [entry["key"] for entry in json.loads(f.read())["inputs"]]
        else:
            keys = _keys_in_part(fs, part, fmt)
            manifest = {"shard": shard, "file": part.rsplit("/", 1)[-1], "rebuilt": True,
                        "inputs": [{"key": key} for key in keys]}
            commit_file(fs, f"{output}/{MANIFESTS}/{shard}.json", json.dumps(manifest).encode())
        for key in keys:
            committed.setdefault(key, shard)
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
            recorded = json.loads(f.read()).get("format")
        if recorded != fmt:
            return f"{output} holds a {recorded} dataset; resume it with --format {recorded} (or use another --output)"
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

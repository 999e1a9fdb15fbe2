"""The actor of a batch job: one PPOCR, loaded once from its own node's package and model cache; each call takes
one shard, reads its inputs page by page (paddle_pp.documents, one rendered page in memory at a time), OCRs them
and commits them in parts of at most `part_pages` rows (shards.write_part), yielding one small summary row per
committed part: pages never travel through Ray, and a 2,000-page PDF is many small commits, not one.

Nothing here stops the job for a bad input: an input that cannot be read, a document that cannot be opened, a
page that cannot be rendered or decoded and a page whose OCR raises are rows with `error` and `error_type`.
What does stop it is an output that cannot be written (the dataset would be wrong), raised to Ray Data, which
fails the job with the message.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from typing import Any, Dict, Iterator, List, Optional, Set, Union

import numpy as np

from paddle_pp.batch.inputs import DOCUMENT_PAGE, InputFile, PageImage, pages_of, resolve_filesystem
from paddle_pp.batch.shards import manifest_entry, part_id, shard_parts, write_part
from paddle_pp.output.txt import row_texts
from paddle_pp.utils.errors import printable
from paddle_pp.utils.image_io import ImageOptions

# Test hook: a folder where each actor announces "<pid>" when it starts a shard, so a test can kill it mid-job.
ANNOUNCE_ENV = "PADDLE_PP_BATCH_ANNOUNCE"
# An input on a remote filesystem bigger than this is copied to the node's temp folder in 1 MiB chunks and read
# from there (pdfium and Pillow read a file lazily); a smaller one is read into memory.
SPOOL_BYTES = 64 << 20
_CHUNK = 1 << 20


def _one_line(exc: BaseException) -> str:
    return printable(" ".join(str(exc).split()) or type(exc).__name__)


def _error_row(exc: BaseException) -> Dict[str, Any]:
    return {"error": _one_line(exc), "error_type": type(exc).__name__}


def _points(points: Any) -> List[List[int]]:
    return [[int(round(x)), int(round(y))] for x, y in np.asarray(points).reshape(-1, 2)]


def _lines(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [{"text": r["transcription"], "score": float(r["score"]), "points": _points(r["points"])}
            for r in results]


def _words(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every line's words (return_word_box), flat, each with `line`: its line's index in `lines`."""
    return [{"text": w["transcription"], "score": float(w["score"]), "points": _points(w["points"]), "line": index}
            for index, r in enumerate(results) for w in r.get("words") or ()]


def model_names(ocr_options: Dict[str, Any]) -> str:
    """'det=det cls=cls rec=rec engine=onnx': the models a row was made with (a directory given by hand is named
    by its path), so a dataset mixing runs with other models can tell them apart."""
    from paddle_pp.ocr import system_defaults

    system = system_defaults()
    lang = ocr_options.get("lang") or system["lang"]
    slim = ocr_options.get("slim") if ocr_options.get("slim") is not None else system["slim"]
    defaults = {"det": "det", "cls": "cls", "rec": system["rec_models"].get(lang, lang)}
    parts = []
    for stage in ("det", "cls", "rec"):
        given = ocr_options.get(f"{stage}_model_dir")
        parts.append(f"{stage}={given or (('slim/' if slim else '') + defaults[stage])}")
    engine = ocr_options.get("engine") or (system["slim_engine"] if slim else system["engine"])
    return " ".join(parts + [f"engine={engine}"])


class PartWriter:
    """The rows of one shard on their way to its parts: a part is committed when it holds `part_pages` rows and
    another row comes (so whether its last input is complete is known), and at the end of the shard."""

    def __init__(self, fs: Any, output: str, fmt: str, shard: str, first_part: int, part_pages: int) -> None:
        self.fs, self.output, self.fmt, self.shard = fs, output, fmt, shard
        self.index, self.part_pages = first_part, part_pages
        self.rows: List[Dict[str, Any]] = []
        self.entries: Dict[str, Dict[str, Any]] = {}

    def add(self, item: InputFile, row: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """Add a row; the manifest of the part this committed first, if it did."""
        committed = self.commit() if len(self.rows) >= self.part_pages else None
        self.rows.append(row)
        self._entry(item)["pages"].append(row["page"])
        return committed

    def finish(self, item: InputFile) -> None:
        """The input has no more pages: the part that holds its last row (or none) says it is complete."""
        self._entry(item)["complete"] = True

    def _entry(self, item: InputFile) -> Dict[str, Any]:
        if item.key not in self.entries:
            self.entries[item.key] = manifest_entry(item, complete=False)
        return self.entries[item.key]

    def commit(self) -> Optional[Dict[str, Any]]:
        if not self.entries:
            return None
        manifest = write_part(self.fs, self.output, part_id(self.shard, self.index), list(self.entries.values()),
                              self.rows, self.fmt)
        manifest["errors"] = [row["error_type"] for row in self.rows if row["error_type"]]
        self.index += 1
        self.rows, self.entries = [], {}
        return manifest


class OcrShardWorker:
    """Ray Data calls an instance per actor with batches of one shard each: {"shard": [...], "task": [json]};
    it yields one summary row per committed part (a generator: Ray Data streams them to the driver)."""

    def __init__(self, ocr_options: Dict[str, Any], input_spec: str, output: str, fmt: str, max_pixels: int,
                 pages: Optional[str] = None, pdf_password: Optional[str] = None,
                 image_options: Optional[Dict[str, Any]] = None) -> None:
        from paddle_pp import PPOCR, __version__

        self.ocr = PPOCR(**ocr_options)
        self.max_pixels = max_pixels
        self.pages, self.pdf_password = pages, pdf_password
        self.image = ImageOptions.of(image_options or {})
        self.fmt = fmt
        self.out_fs, self.output = resolve_filesystem(output)
        self.models = model_names(ocr_options)
        self.version = __version__
        self.node_id = _node_id()
        # paths in a listing are paths on the input's filesystem (a manifest's entries: on the manifest's)
        self.in_fs = resolve_filesystem(input_spec)[0]

    def __call__(self, batch: Dict[str, np.ndarray]) -> Iterator[Dict[str, List[Any]]]:
        for shard, encoded in zip(batch["shard"], batch["task"]):
            _announce(str(shard))
            for manifest in self.run_shard(str(shard), json.loads(encoded)):
                yield self._summary(manifest)

    def run_shard(self, shard: str, task: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
        """OCR a shard's inputs, skipping what is committed (by the driver's account and this shard's own parts:
        a retried task or a resumed run), and commit the rest part by part; yields each part's manifest."""
        done: Dict[str, Set[int]] = {key: set(pages) for key, pages in task.get("done", {}).items()}
        complete: Set[str] = set()
        earlier = shard_parts(self.out_fs, self.output, shard, self.fmt)
        for manifest in earlier:
            for entry in manifest["inputs"]:
                done.setdefault(entry["key"], set()).update(entry["pages"])
                if entry.get("complete", True):
                    complete.add(entry["key"])
        writer = PartWriter(self.out_fs, self.output, self.fmt, shard, len(earlier), int(task["part_pages"]))
        for item in (InputFile(**fields) for fields in task["inputs"]):
            if item.key in complete:
                continue
            for row in self.rows_of(item, done.get(item.key, set())):
                committed = writer.add(item, row)
                if committed:
                    yield committed
            writer.finish(item)
        committed = writer.commit()
        if committed:
            yield committed

    def _summary(self, manifest: Dict[str, Any]) -> Dict[str, List[Any]]:
        complete = [entry for entry in manifest["inputs"] if entry["complete"]]
        return {"part": [manifest["part"]], "pages": [manifest["rows"]], "inputs_done": [len(complete)],
                "errors": [json.dumps(manifest["errors"])], "node_id": [self.node_id], "pid": [os.getpid()]}

    @contextlib.contextmanager
    def _source(self, item: InputFile) -> Iterator[Union[bytes, str]]:
        """What the reader reads: a local file's path (read lazily, never whole), a small remote file's bytes,
        a big remote file's copy in the node's temp folder (deleted after). OSError when it cannot be read."""
        from pyarrow import fs as pafs

        if isinstance(self.in_fs, pafs.LocalFileSystem):
            with open(item.path, "rb") as f:   # readable now, else the row says why
                f.read(1)
            yield item.path
            return
        if item.size <= SPOOL_BYTES:
            with self.in_fs.open_input_stream(item.path) as f:
                yield f.read()
            return
        folder = tempfile.mkdtemp(prefix="paddle_pp_batch_")
        try:
            copy = os.path.join(folder, "input")
            with self.in_fs.open_input_stream(item.path) as src, open(copy, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
            yield copy
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def rows_of(self, item: InputFile, skip: Set[int]) -> Iterator[Dict[str, Any]]:
        """One input -> one row a page, lazily (an input that cannot be read, or a document that cannot be
        opened: one row, page 0, with its error); pages in `skip` are committed already and not read."""
        base = {"source": item.source, "input_key": item.key, "path": item.path, "size": item.size,
                "mtime_ns": item.mtime_ns, "content_hash": item.content_hash, "models": self.models,
                "paddle_pp_version": self.version, "node_id": self.node_id}
        start = time.perf_counter()
        with contextlib.ExitStack() as stack:
            try:
                source = stack.enter_context(self._source(item))
            except Exception as exc:  # noqa: BLE001 - a vanished or unreadable file is a row
                if DOCUMENT_PAGE not in skip:
                    error = OSError(f"{item.source}: cannot read file ({_one_line(exc)})")
                    yield self._row(base, PageImage(DOCUMENT_PAGE, item.source), start, error=error)
                return
            pages = pages_of(source, item.source, self.max_pixels, self.ocr.pdf_dpi, self.pages, self.pdf_password,
                             skip=frozenset(skip), background=self.image.background)
            while True:
                try:
                    page = next(pages)
                except StopIteration:
                    return
                except Exception as exc:  # noqa: BLE001 - a reader that breaks mid-document: the pages so far stay
                    if DOCUMENT_PAGE not in skip:
                        yield self._row(base, PageImage(DOCUMENT_PAGE, item.source), start, error=exc)
                    return
                yield self._ocr_page(base, page, start)
                start = time.perf_counter()

    def _ocr_page(self, base: Dict[str, Any], page: PageImage, start: float) -> Dict[str, Any]:
        if page.error is not None:
            return self._row(base, page, start, error=page.error)
        try:
            read = self.ocr.ocr_results(self.image.adjust(page.image))
        except Exception as exc:  # noqa: BLE001 - one page's failure is its row, the job goes on
            return self._row(base, page, start, error=exc)
        return self._row(base, page, start, results=[line.to_dict() for line in read],
                         angle=self.ocr.page_angle(read))

    def _row(self, base: Dict[str, Any], page: PageImage, start: float,
             results: Optional[List[Dict[str, Any]]] = None, error: Optional[BaseException] = None,
             angle: Optional[int] = None) -> Dict[str, Any]:
        height, width = (page.image.shape[:2] if page.image is not None else (None, None))
        page.image = None   # the pixels are done with: only the row stays until the part is committed
        lines = _lines(results or [])
        words = _words(results or []) if self.ocr.return_word_box else None
        row = dict(base, page=page.number, page_id=page.page_id, width=width, height=height, angle=angle,
                   lines=lines, text="\n".join(row_texts([line["text"] for line in lines],
                                                          [line["points"] for line in lines], angle or 0,
                                                          (height, width))),
                   words=words,
                   error=None, error_type=None, elapsed_ms=(time.perf_counter() - start) * 1000.0)
        if error is not None:
            row.update(_error_row(error))
        return row


def _node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - outside Ray (a unit test calling the worker directly)
        return "local"


def _announce(shard: str) -> None:
    folder = os.environ.get(ANNOUNCE_ENV)
    if folder:
        with open(os.path.join(folder, f"{os.getpid()}"), "a", encoding="utf-8") as f:
            f.write(shard + "\n")

"""The actor of a batch job: one PPOCR, loaded once from its own node's package and model cache; each call
reads one shard's inputs, OCRs their pages and commits the shard (shards.write_shard).

Nothing here stops the job for a bad input: an input that cannot be read, a page that cannot be decoded and a
page whose OCR raises are rows with `error` and `error_type`. What does stop it is an output that cannot be
written (the dataset would be wrong), raised to Ray Data, which fails the job with the message.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Optional

import numpy as np

from paddle_pp.batch.inputs import InputFile, PageImage, pages_of, resolve_filesystem
from paddle_pp.batch.shards import write_shard
from paddle_pp.utils.errors import printable

# Test hook: a folder where each actor announces "<pid>" when it starts a shard, so a test can kill it mid-job.
ANNOUNCE_ENV = "PADDLE_PP_BATCH_ANNOUNCE"


def _one_line(exc: BaseException) -> str:
    return printable(" ".join(str(exc).split()) or type(exc).__name__)


def _error_row(exc: BaseException) -> Dict[str, Any]:
    return {"error": _one_line(exc), "error_type": type(exc).__name__}


def _lines(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [{"text": r["transcription"], "score": float(r["score"]),
             "points": [[int(round(x)), int(round(y))] for x, y in np.asarray(r["points"]).reshape(-1, 2)]}
            for r in results]


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


class OcrShardWorker:
    """Ray Data calls an instance per actor with batches of one shard each: {"shard": [...], "inputs": [json]}."""

    def __init__(self, ocr_options: Dict[str, Any], input_spec: str, output: str, fmt: str, max_pixels: int) -> None:
        from paddle_pp import PPOCR, __version__

        self.ocr = PPOCR(**ocr_options)
        self.max_pixels = max_pixels
        self.fmt = fmt
        self.out_fs, self.output = resolve_filesystem(output)
        self.models = model_names(ocr_options)
        self.version = __version__
        self.node_id = _node_id()
        # paths in a listing are paths on the input's filesystem (a manifest's entries: on the manifest's)
        self.in_fs = resolve_filesystem(input_spec)[0]

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, List[Any]]:
        summary: Dict[str, List[Any]] = {"shard": [], "input_key": [], "source": [], "pages": [], "errors": [],
                                         "node_id": [], "pid": []}
        for shard, encoded in zip(batch["shard"], batch["inputs"]):
            _announce(str(shard))
            inputs = [InputFile(**item) for item in json.loads(encoded)]
            rows = []
            for item in inputs:
                item_rows = self.process(item)
                rows += item_rows
                summary["shard"].append(str(shard))
                summary["input_key"].append(item.key)
                summary["source"].append(item.source)
                summary["pages"].append(len(item_rows))
                summary["errors"].append(json.dumps([r["error_type"] for r in item_rows if r["error_type"]]))
                summary["node_id"].append(self.node_id)
                summary["pid"].append(os.getpid())
            write_shard(self.out_fs, self.output, str(shard), inputs, rows, self.fmt)
        return summary

    def _read(self, item: InputFile) -> bytes:
        with self.in_fs.open_input_stream(item.path) as f:
            return f.read()

    def process(self, item: InputFile) -> List[Dict[str, Any]]:
        """One input -> one row a page (an unreadable input: one row with its error)."""
        base = {"source": item.source, "input_key": item.key, "path": item.path, "size": item.size,
                "mtime_ns": item.mtime_ns, "content_hash": item.content_hash, "models": self.models,
                "paddle_pp_version": self.version, "node_id": self.node_id}
        start = time.perf_counter()
        try:
            data = self._read(item)
        except Exception as exc:  # noqa: BLE001 - a vanished or unreadable file is a row
            error = OSError(f"{item.source}: cannot read file ({_one_line(exc)})")
            return [self._row(base, PageImage(1, item.source), start, error=error)]
        rows = []
        pages = pages_of(data, item.source, self.max_pixels)
        while True:
            try:
                page = next(pages)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - a reader that breaks mid-document: the pages so far stay
                rows.append(self._row(base, PageImage(len(rows) + 1, item.source), start, error=exc))
                break
            rows.append(self._ocr_page(base, page, start))
            start = time.perf_counter()
        return rows

    def _ocr_page(self, base: Dict[str, Any], page: PageImage, start: float) -> Dict[str, Any]:
        if page.error is not None:
            return self._row(base, page, start, error=page.error)
        try:
            results = self.ocr(page.image)
        except Exception as exc:  # noqa: BLE001 - one page's failure is its row, the job goes on
            return self._row(base, page, start, error=exc)
        lines = _lines(results)
        return self._row(base, page, start, lines=lines)

    def _row(self, base: Dict[str, Any], page: PageImage, start: float, lines: Optional[List[Dict[str, Any]]] = None,
             error: Optional[BaseException] = None) -> Dict[str, Any]:
        height, width = (page.image.shape[:2] if page.image is not None else (None, None))
        row = dict(base, page=page.number, page_id=page.page_id, width=width, height=height,
                   lines=lines or [], text="\n".join(line["text"] for line in lines or []),
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

"""The driver of a batch job: list, skip what is committed, run the rest on Ray Data, check, summarize.

    list inputs (driver) -> shards of inputs (from_items, a block each: a few KB of JSON) -> OcrShardWorker
    actor pool (read each input page by page, OCR, commit parts of <= --shard_size pages) -> one small summary
    row per committed part streamed back to the driver (pixels and rows never travel through Ray)

Without an address a local Ray instance is started on this machine's cores (and stopped at the end); with
--address auto or ray://host:10001 the job runs on that cluster, whose nodes have paddle-pp installed.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import logging
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from paddle_pp.batch import DEFAULT_SHARD_SIZE, FORMATS, ray_available
from paddle_pp.batch.inputs import list_inputs, resolve_filesystem
from paddle_pp.batch.shards import (SUMMARY_FILE, Committed, check_format, commit_file, committed_inputs,
                                    plan_shards, remove_stale_temporaries)
from paddle_pp.batch.worker import ANNOUNCE_ENV, OcrShardWorker



STARTUP_TIMEOUT_S = 900   # seconds the actors may take to start (a first run imports the official models)


class BatchError(RuntimeError):
    """A job that cannot start or finish (bad input spec, an output in another format, Ray failed)."""


def _start_ray(address: Optional[str], num_cpus: Optional[int]) -> bool:
    """Connect to (or start) Ray; True when this call started it, so the job stops it at the end."""
    import ray

    if ray.is_initialized():
        return False
    env = {ANNOUNCE_ENV: os.environ[ANNOUNCE_ENV]} if os.environ.get(ANNOUNCE_ENV) else {}
    options: Dict[str, Any] = {"logging_level": logging.WARNING, "include_dashboard": False} if address is None \
        else {"logging_level": logging.WARNING}
    if address is None and num_cpus:
        options["num_cpus"] = num_cpus
    ray.init(address=address, runtime_env={"env_vars": env} if env else None, **options)
    return True


def _actor_pool(actors: Optional[int], threads: int, shards: int) -> Any:
    """A pool of --actors, else one sized by the cluster when the job starts: its CPUs / threads per actor,
    never more than shards. Fixed, so every actor has loaded its models before the shards are handed out (a
    growing pool would give a short job to the first actor alone). Two shards in flight per actor: the next
    one waits on the actor while one runs; a dead actor takes both with it, and both are done again."""
    import ray
    from ray.data import ActorPoolStrategy

    if actors:
        size = min(actors, shards)
    else:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        size = max(1, min(shards, cpus // max(1, threads)))
    return ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=2)


def run_batch(input: str, output: str, *, address: Optional[str] = None, fmt: str = "parquet",
              content_hash: bool = False, actors: Optional[int] = None, shard_size: int = DEFAULT_SHARD_SIZE,
              num_cpus: Optional[int] = None, cpu_threads: Optional[int] = None, max_pixels: Optional[int] = None,
              progress: bool = True, report: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
              pages: Optional[str] = None, pdf_password: Optional[str] = None, invert: bool = False,
              binarize: bool = False, alphacolor: Optional[Sequence[int]] = None,
              **ocr_options: Any) -> Dict[str, Any]:
    """OCR every image, PDF and multi-page TIFF under `input` (a folder, a glob or a manifest; a local path or a
    URI) into `output` (a Parquet or JSONL dataset, one row per page), resuming what a previous run into
    `output` committed.

    `ocr_options` are PPOCR's (lang, engine, det_db_thresh, pdf_dpi, return_word_box, ...; paddle-pp ocr's
    flags); `pages` ('1-3,7') and `pdf_password` apply to every document, and PaddleOCR's image options
    (`invert`, `binarize`, `alphacolor`: utils/image_io.ImageOptions) to every page, as in paddle-pp ocr;
    `cpu_threads` is per actor (default 1: more actors scale better than more threads); `num_cpus` caps a local
    Ray instance.
    Returns the summary (also written to OUTPUT/_summary.json). BatchError for a job that cannot run.
    """
    from paddle_pp.config_schema import DOCUMENT, check_values
    from paddle_pp.utils.image_io import ImageOptions, resolve_max_pixels

    if fmt not in FORMATS:
        raise BatchError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")
    if shard_size < 1:
        raise BatchError(f"shard_size must be >= 1, got {shard_size}")
    try:
        check_values({"pages": pages, "pdf_password": pdf_password}, DOCUMENT)
        image = ImageOptions.of({"invert": invert, "binarize": binarize, "alphacolor": alphacolor})
    except ValueError as exc:
        raise BatchError(str(exc)) from None
    hint = ray_available()
    if hint:
        raise BatchError(hint)
    started = time.perf_counter()
    max_pixels = resolve_max_pixels(max_pixels)
    threads = 1 if cpu_threads is None else int(cpu_threads)
    out_fs, out_path = resolve_filesystem(output)
    problem = check_format(out_fs, out_path, fmt)
    if problem:
        raise BatchError(problem)
    remove_stale_temporaries(out_fs, out_path)
    try:
        _, inputs, problems = list_inputs(input, content_hash)
    except (FileNotFoundError, OSError) as exc:
        raise BatchError(str(exc)) from None
    for line in problems:
        report(line)
    committed = committed_inputs(out_fs, out_path, fmt)
    shards = plan_shards(inputs, committed.complete, shard_size)
    todo = sum(len(shard.inputs) for shard in shards)
    partial = sum(1 for shard in shards for item in shard.inputs if committed.pages.get(item.key))
    report(f"paddle-pp batch: {len(inputs)} inputs, {len(inputs) - todo} already committed in {output}, "
           f"{todo} to do in {len(shards)} shards" + (f" ({partial} documents resumed after their committed "
                                                      f"pages)" if partial else ""))
    tasks = [_task(shard, committed.pages, shard_size) for shard in shards]
    job = {"input_spec": input, "output": output, "fmt": fmt, "max_pixels": max_pixels, "pages": pages,
           "pdf_password": pdf_password, "image_options": dataclasses.asdict(image),
           "ocr_options": dict(ocr_options, cpu_threads=threads)}
    done = _execute(tasks, todo, job, address, num_cpus, actors, threads, progress) if shards else _empty_tally()
    summary = _summarize(inputs, todo, done, committed, out_fs, out_path, fmt, time.perf_counter() - started,
                         problems)
    commit_file(out_fs, f"{out_path}/{SUMMARY_FILE}", json.dumps(summary, indent=1).encode())
    return summary


def _task(shard: Any, committed_pages: Dict[str, Any], part_pages: int) -> Dict[str, Any]:
    """What an actor gets for a shard (a few KB): its inputs, the pages of them committed already (a document
    a killed run left half done, possibly in another shard) and the part size."""
    done = {item.key: sorted(committed_pages[item.key]) for item in shard.inputs if committed_pages.get(item.key)}
    return {"shard": shard.id, "task": json.dumps({"inputs": [item.to_dict() for item in shard.inputs],
                                                   "done": done, "part_pages": part_pages})}


def _empty_tally() -> Dict[str, Any]:
    return {"inputs": 0, "pages": 0, "failures": collections.Counter(), "nodes": collections.Counter(),
            "seconds": 0.0}


def _execute(tasks: List[Dict[str, Any]], total: int, job: Dict[str, Any], address: Optional[str],
             num_cpus: Optional[int], actors: Optional[int], threads: int, progress: bool) -> Dict[str, Any]:
    import ray
    import ray.data
    from tqdm import tqdm

    owns_ray = _start_ray(address, num_cpus)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False   # one bar, ours, counting inputs
        context.enable_operator_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)   # its per-operator INFO lines, every few seconds
        # every actor of the pool loads its models before shards are handed out (else the first one ready takes
        # a short job alone); bounded, so a cluster without room for the pool fails with Ray's message
        context.wait_for_min_actors_s = STARTUP_TIMEOUT_S
        # one block a shard: a task is a shard, whatever its pages; its output is one summary row a part
        dataset = ray.data.from_items(tasks, override_num_blocks=len(tasks))
        results = dataset.map_batches(
            OcrShardWorker, batch_size=1, batch_format="numpy", num_cpus=threads,
            compute=_actor_pool(actors, threads, len(tasks)), fn_constructor_kwargs=job)
        # Ray Data's actor pools restart a dead actor and retry its task (max_restarts / max_task_retries -1 by
        # default): the retry reads the parts its shard committed, skips them and goes on at the next part.
        tally = _empty_tally()
        start = time.perf_counter()
        with tqdm(total=total, desc="batch", unit="input", file=sys.stderr, disable=not progress,
                  dynamic_ncols=True) as bar:
            for row in results.iter_rows():
                tally["inputs"] += int(row["inputs_done"])
                tally["pages"] += int(row["pages"])
                tally["nodes"][str(row["node_id"])] += int(row["pages"])
                tally["failures"].update(json.loads(row["errors"]))
                bar.update(int(row["inputs_done"]))
                bar.set_postfix(pages=tally["pages"], refresh=False)
        tally["seconds"] = time.perf_counter() - start
        return tally
    except Exception as exc:  # noqa: BLE001 - Ray's errors are long: keep the last line, the cause
        message = " ".join(str(exc).split())
        raise BatchError(f"the batch job failed: {message[-600:]}") from exc
    finally:
        if owns_ray:
            ray.shutdown()


def _summarize(inputs: List[Any], todo: int, done: Dict[str, Any], before: Committed, out_fs: Any, out_path: str,
               fmt: str, seconds: float, problems: List[str]) -> Dict[str, Any]:
    """This run's counts, and the whole dataset's, checked against the listing: `missing` (listed, not
    complete) and `duplicates` ((input, page)s in two parts) are both 0 after a complete run.

    The inputs and pages this run did are counted from the manifests (what is committed now and was not
    `before`), not from the rows streamed to the driver: an actor killed after committing a part and before its row
    reached the driver leaves the part done, and its retry skips it without a row."""
    committed = committed_inputs(out_fs, out_path, fmt)
    listed = {item.key for item in inputs}
    processed = sum(1 for key in listed if key in committed.complete and key not in before.complete)
    pages = sum(len(committed.pages.get(key, ())) - len(before.pages.get(key, ())) for key in listed)
    return {
        "inputs": len(inputs), "skipped_committed": len(inputs) - todo, "processed_inputs": processed,
        "pages": pages, "failed_pages": sum(done["failures"].values()),
        "failures_by_cause": dict(done["failures"]), "pages_by_node": dict(done["nodes"]),
        "seconds": round(seconds, 3), "job_seconds": round(done["seconds"], 3),
        "pages_per_s": round(pages / done["seconds"], 3) if done["seconds"] else 0.0,
        "dataset_inputs": len(committed.complete), "dataset_rows": committed.rows,
        "missing": len(listed - set(committed.complete)), "duplicates": committed.duplicates,
        "listing_problems": len(problems), "format": fmt,
    }


def format_summary(summary: Dict[str, Any]) -> str:
    causes = ", ".join(f"{n} {cause}" for cause, n in sorted(summary["failures_by_cause"].items())) or "none"
    return (f"done: {summary['processed_inputs']} inputs, {summary['pages']} pages "
            f"({summary['skipped_committed']} inputs already committed), {summary['failed_pages']} failed "
            f"(by cause: {causes}), {summary['pages_per_s']:.2f} pages/s over {summary['job_seconds']:.1f} s "
            f"({summary['seconds']:.1f} s in all) on {len(summary['pages_by_node'])} node(s); dataset: "
            f"{summary['dataset_inputs']} inputs, {summary['dataset_rows']} rows, {summary['missing']} missing, "
            f"{summary['duplicates']} duplicated")

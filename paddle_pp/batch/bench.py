"""Batch benchmark: pages/s of `paddle-pp ocr` in one process against `paddle-pp batch` on local Ray with 1 and 2
actors and on a 2-node cluster on this machine, all on the same images in one run (docs/batch.md).

    python deploy/batch_bench.py --data ../shared/data --limit 300 --out bench_out/

Images: the dev sets' SROIE receipts and MSRA-TD500 test photos (300 in all), listed in a manifest (nothing is
copied). Prints a Markdown table: wall seconds (process start to exit, with Ray and model start-up), steady
pages/s (from the first to the last committed shard's OCR time), Ray's overhead a page (actor-seconds not spent
in decoding + OCR, over the pages) and the scaling efficiency against one actor.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

DEV_SETS = ("sroie_dev/images", "msra_td500_test/orig/MSRA-TD500/test")


def dev_images(data: Path, limit: int) -> List[Path]:
    """Up to `limit` images, taken in turn from each dev set so a smaller run keeps the mix."""
    sets = [sorted(p for p in (data / sub).glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            for sub in DEV_SETS]
    picked: List[Path] = []
    for i in range(max(len(s) for s in sets)):
        for images in sets:
            if i < len(images) and len(picked) < limit:
                picked.append(images[i])
    return picked


def _run(cmd: Sequence[str], env: Dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(list(cmd), env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd[:4])} failed: {done.stderr[-1500:]}")
    return time.perf_counter() - start


def batch_stats(output: Path, actors: int) -> Dict[str, Any]:
    import pyarrow.parquet as pq

    table = pq.read_table(output, columns=["elapsed_ms", "node_id"]).to_pydict()
    summary = json.loads((output / "_summary.json").read_text())
    pages = len(table["elapsed_ms"])
    busy = sum(table["elapsed_ms"]) / 1000.0
    job = summary["job_seconds"]
    return {"pages": pages, "job_s": job, "pages_per_s": pages / job, "ocr_s": busy,
            "overhead_ms_per_page": max(0.0, (job * actors - busy) / pages * 1000.0),
            "nodes": len(set(table["node_id"]))}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data", help="the shared data folder")
    parser.add_argument("--limit", type=int, default=300, help="images (default 300: the two dev sets)")
    parser.add_argument("--out", default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--shard_size", type=int, default=8)
    parser.add_argument("--skip", nargs="*", default=[], help="runs to skip: ocr local1 local2 cluster")
    args = parser.parse_args(argv)

    from paddle_pp.batch.local_cluster import cluster_env, two_node_cluster

    work = Path(args.out or tempfile.mkdtemp(prefix="batch_bench"))
    work.mkdir(parents=True, exist_ok=True)
    images = dev_images(Path(args.data), args.limit)
    links = work / "images"
    links.mkdir(exist_ok=True)
    for i, path in enumerate(images):   # paddle-pp ocr takes a folder: symlinks, nothing copied
        link = links / f"{i:04d}_{path.name}"
        if not link.exists():
            link.symlink_to(path.resolve())
    manifest = work / "inputs.txt"
    manifest.write_text("".join(f"{p.resolve()}\n" for p in images))
    env = cluster_env(dict(os.environ))
    py = [sys.executable, "-m", "paddle_pp.cli"]
    results: Dict[str, Dict[str, Any]] = {}
    print(f"{len(images)} images; machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    if "ocr" not in args.skip:
        wall = _run(py + ["ocr", "--image_dir", str(links), "--output", str(work / "ocr_out")], env)
        results["paddle-pp ocr, 1 process"] = {"pages": len(images), "wall_s": wall, "pages_per_s": len(images) / wall}
        print(results, flush=True)
    for actors in (1, 2):
        if f"local{actors}" in args.skip:
            continue
        out = work / f"local{actors}"
        wall = _run(py + ["batch", "--no_progress", "--input", str(manifest), "--output", str(out), "--actors",
                          str(actors), "--num_cpus", "2", "--shard_size", str(args.shard_size)], env)
        results[f"batch, local Ray, {actors} actor(s)"] = dict(batch_stats(out, actors), wall_s=wall)
        print(results, flush=True)
    if "cluster" not in args.skip:
        with two_node_cluster(env) as address:
            out = work / "cluster"
            wall = _run(py + ["batch", "--no_progress", "--input", str(manifest), "--output", str(out),
                              "--address", address, "--shard_size", str(args.shard_size)], env)
            results["batch, 2-node cluster (1 CPU each)"] = dict(batch_stats(out, 2), wall_s=wall)
    print(report(results), flush=True)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    return 0


def report(results: Dict[str, Dict[str, Any]]) -> str:
    one = next((r["pages_per_s"] for name, r in results.items() if "1 actor" in name), None)
    lines = ["| run | pages | wall s | steady pages/s | overhead ms/page | efficiency vs 1 actor |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        actors = 2 if ("2 actor" in name or "cluster" in name) else 1
        eff = f"{r['pages_per_s'] / (one * actors):.0%}" if one and "batch" in name else "-"
        over = f"{r['overhead_ms_per_page']:.0f}" if "overhead_ms_per_page" in r else "-"
        lines.append(f"| {name} | {r['pages']} | {r['wall_s']:.1f} | {r['pages_per_s']:.2f} | {over} | {eff} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

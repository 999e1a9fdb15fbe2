"""Load benchmark of `paddle-pp serve` against the Python API on the same images (deploy/serve_bench.py).

    python deploy/serve_bench.py                          # the bundled demo images, concurrency 1 2 4 8
    python deploy/serve_bench.py --requests 1000 --concurrency 2   # RSS after 1,000 requests

Starts the server (a subprocess on 127.0.0.1, an ephemeral port, --workers/--cpu_threads as given), then for
each concurrency sends --requests POST /ocr uploads from that many client threads and reports throughput and
p50/p99 latency; the direct baseline is PPOCR in this process with the same threads per predictor, one image
at a time. The server's RSS is read from /proc after warm-up and at the end (flat = no leak). Markdown table on
stdout; --json writes the numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from paddle_pp.resources import DEMO_IMAGES_DIR


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _start_server(args: argparse.Namespace, log_dir: Path) -> subprocess.Popen:
    out = log_dir / "serve.out"
    command = [sys.executable, "-m", "paddle_pp.cli", "serve", "--port", "0", "--log_level", "warning",
               "--workers", str(args.workers), "--cpu_threads", str(args.cpu_threads),
               "--queue_size", str(max(args.concurrency) * 2)]
    process = subprocess.Popen(command, stdout=out.open("w"), stderr=(log_dir / "serve.err").open("w"))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for line in out.read_text().splitlines():
            if line.startswith("paddle-pp serve: http://"):
                process.url = line[len("paddle-pp serve: "):].split()[0]  # type: ignore[attr-defined]
                return process
        if process.poll() is not None:
            raise RuntimeError((log_dir / "serve.err").read_text()[-2000:])
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def _summary(latencies: List[float], seconds: float) -> Dict[str, float]:
    ms = np.asarray(latencies) * 1000.0
    return {"requests": len(latencies), "throughput": len(latencies) / seconds,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def run_served(url: str, images: List[bytes], requests: int, concurrency: int) -> Dict[str, float]:
    import httpx

    latencies: List[float] = []
    failures: List[int] = []
    counter = iter(range(requests))
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=url, timeout=120) as c:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                start = time.perf_counter()
                r = c.post("/ocr", files={"file": (f"{i}.jpg", images[i % len(images)])})
                elapsed = time.perf_counter() - start
                with lock:
                    (latencies.append(elapsed) if r.status_code == 200 else failures.append(r.status_code))

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = _summary(latencies, time.perf_counter() - start)
    out["failed"] = len(failures)
    return out


def run_direct(images: List[bytes], requests: int, cpu_threads: int) -> Dict[str, float]:
    from paddle_pp import PPOCR

    ocr = PPOCR(cpu_threads=cpu_threads)
    ocr(images[0])
    latencies = []
    start = time.perf_counter()
    for i in range(requests):
        t = time.perf_counter()
        ocr(images[i % len(images)])
        latencies.append(time.perf_counter() - t)
    return _summary(latencies, time.perf_counter() - start)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image_dir", default=str(DEMO_IMAGES_DIR), help="a directory of JPEG/PNG images")
    parser.add_argument("--requests", type=int, default=40, help="requests per concurrency level (default: 40)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--workers", type=int, default=1, help="server workers (default: 1)")
    parser.add_argument("--cpu_threads", type=int, default=max(1, len(os.sched_getaffinity(0))),
                        help="threads per predictor, server and direct alike (default: the cores)")
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    args = parser.parse_args(argv)

    images = [p.read_bytes() for p in sorted(Path(args.image_dir).iterdir())
              if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    direct = run_direct(images, args.requests, args.cpu_threads)
    with tempfile.TemporaryDirectory() as tmp:
        server = _start_server(args, Path(tmp))
        try:
            run_served(server.url, images, 2 * len(images), 1)   # warm-up
            rss_warm = _rss_mb(server.pid)
            served = {c: run_served(server.url, images, args.requests, c) for c in args.concurrency}
            rss_end = _rss_mb(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    total = args.requests * len(args.concurrency)
    print(f"# paddle-pp serve vs the Python API ({len(images)} images, {args.workers} worker(s) x "
          f"{args.cpu_threads} threads)\n")
    print("| client | concurrency | img/s | p50 ms | p99 ms | served / direct |")
    print("|---|---|---|---|---|---|")
    print(f"| Python API | 1 | {direct['throughput']:.2f} | {direct['p50_ms']:.0f} | {direct['p99_ms']:.0f} | |")
    for c, r in served.items():
        failed = f" ({r['failed']} failed)" if r["failed"] else ""
        print(f"| HTTP /ocr | {c} | {r['throughput']:.2f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | "
              f"{r['throughput'] / direct['throughput']:.2f}{failed} |")
    print(f"\nserver RSS: {rss_warm:.0f} MB after warm-up, {rss_end:.0f} MB after {total} more requests")
    if args.json:
        Path(args.json).write_text(json.dumps({"direct": direct, "served": served, "rss_warm_mb": rss_warm,
                                               "rss_end_mb": rss_end}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training logs: console/file lines, a JSON-lines record file per run, and a PNG of the curves.

Only rank 0 writes (other ranks get a logger that shows warnings only). The JSON-lines file
``<save_model_dir>/logs/<run_id>.jsonl`` holds one record per line: ``{"type": "train", "step", "epoch", "lr",
"loss", <loss parts>, "samples_per_sec", "time"}`` every print_batch_step and ``{"type": "eval", "step",
"epoch", <metrics>, "best"}`` at each evaluation. ``<save_model_dir>/train_curves.png`` (loss, learning rate,
eval metrics over steps) is redrawn at each evaluation and at the end; after a resume it includes the earlier
runs' records up to the resumed step.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections import deque
from typing import Any, Deque, Dict, List, Optional

from paddle_pp.utils.files import write_atomic

LOGGER_NAME = "paddle_pp.train"


class _TqdmHandler(logging.StreamHandler):
    """Writes through tqdm so log lines do not tear the progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stdout)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def get_logger(log_file: Optional[str] = None, rank: int = 0) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    logger.propagate = False
    fmt = logging.Formatter("[%(asctime)s] %(levelname)s %(message)s", datefmt="%Y/%m/%d %H:%M:%S")
    if rank == 0:
        logger.setLevel(logging.INFO)
        console = _TqdmHandler()
        console.setFormatter(fmt)
        logger.addHandler(console)
        if log_file:
            os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
            fh = logging.FileHandler(log_file, encoding="utf-8")
            fh.setFormatter(fmt)
            logger.addHandler(fh)
    else:
        logger.setLevel(logging.WARNING)
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter(f"[rank {rank}] %(levelname)s %(message)s"))
        logger.addHandler(console)
    return logger


class SmoothedValue:
    """Windowed average of a scalar (PaddleOCR's log_smooth_window)."""

    def __init__(self, window: int) -> None:
        self.values: Deque[float] = deque(maxlen=max(1, int(window)))

    def update(self, value: float) -> None:
        self.values.append(float(value))

    @property
    def avg(self) -> float:
        return sum(self.values) / len(self.values) if self.values else float("nan")


class RunRecorder:
    """In-memory history plus the run's JSON-lines file and the curves PNG (rank 0 only: ``enabled``)."""

    def __init__(self, save_dir: str, run_id: str, enabled: bool = True, main_indicator: Optional[str] = None
                 ) -> None:
        self.enabled = enabled
        self.main_indicator = main_indicator
        self.records: List[Dict[str, Any]] = []
        self.jsonl_path = os.path.join(save_dir, "logs", f"{run_id}.jsonl")
        self.plot_path = os.path.join(save_dir, "train_curves.png")
        if enabled:
            os.makedirs(os.path.dirname(self.jsonl_path), exist_ok=True)

    def preload(self, paths: List[str], up_to_step: int) -> None:
        """Earlier runs' records (after a resume), up to the step the run resumed from."""
        for path in paths:
            if not os.path.isfile(path) or os.path.abspath(path) == os.path.abspath(self.jsonl_path):
                continue
            with open(path, "r", encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if rec.get("step", 0) <= up_to_step:
                        self.records.append(rec)
        self.records.sort(key=lambda r: (r.get("step", 0), r.get("type") != "train"))

    def add(self, record: Dict[str, Any]) -> None:
        record = dict(record, time=round(time.time(), 3))
        self.records.append(record)
        if self.enabled:
            with open(self.jsonl_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")

    def plot(self) -> Optional[str]:
        if not self.enabled or not self.records:
            return None
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        train = [r for r in self.records if r.get("type") == "train"]
        evals = [r for r in self.records if r.get("type") == "eval"]
        fig, axes = plt.subplots(3, 1, figsize=(9, 10), sharex=True)
        ax = axes[0]
        if train:
            steps = [r["step"] for r in train]
            parts = sorted({k for r in train for k in r if k.startswith("loss")})
            for key in parts:
                ax.plot(steps, [r.get(key, float("nan")) for r in train], label=key,
                        linewidth=2 if key == "loss" else 1)
            ax.legend(fontsize=8)
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax = axes[1]
        if train:
            ax.plot([r["step"] for r in train], [r.get("lr", float("nan")) for r in train], color="tab:orange")
        ax.set_ylabel("learning rate")
        ax.grid(alpha=0.3)
        ax = axes[2]
        if evals:
            keys = sorted({k for r in evals for k in r} - {"type", "step", "epoch", "time", "best", "samples",
                                                           "seconds"})
            for key in keys:
                ax.plot([r["step"] for r in evals], [r.get(key, float("nan")) for r in evals], marker="o",
                        label=key, linewidth=2 if key == self.main_indicator else 1)
            ax.legend(fontsize=8)
        ax.set_ylabel("eval metric")
        ax.set_xlabel("global step")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        try:
            write_atomic(self.plot_path, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
        finally:
            plt.close(fig)
        return self.plot_path

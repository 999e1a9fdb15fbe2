"""What slim/prune.py and slim/quant.py share: the command line, the trainer, evaluation, measurements (parameters,
FLOPs, file size, latency), the output model directory and the before/after table.

Output directory (``--save_dir``, default ``<Global.save_model_dir>/<prune|quant>``)::

    <save_dir>/
      inference.pdmodel, inference.pdiparams   the slim model, legacy format: --engine paddle, Paddle-Lite's opt
      config.yml (+ the rec dictionary)         a complete model directory for --det_model_dir & co.
      model.pdparams (+ pruned_shapes.json)     the dygraph weights (pruned: the record load_model_dir rebuilds)
      pir/                                      pruned models: the same model in the PIR format (inference.json)
      original/                                 the model before slimming (its weights + legacy export): "before"
      finetune/                                 the fine-tuning run (train.log, checkpoints, curves)
      slim_report.json                          the table's numbers
"""
from __future__ import annotations

import argparse
import copy
import itertools
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from paddle_pp import model_dir as mdir

LEGACY_FILES = (mdir.LEGACY_MODEL, mdir.PARAMS)


# ------------------------------------------------------------------------------------------------ command line

def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="YAML config (path, or det/rec/cls)")
    parser.add_argument("-o", "--opt", nargs="*", default=[], action="extend",
                        help="overrides Section.key=value (the key must exist in the YAML)")
    parser.add_argument("--save_dir", default=None, help="output model directory (default: Slim.save_dir, else "
                        "<Global.save_model_dir>/<prune|quant>)")
    parser.add_argument("--eval_max_batches", type=int, default=None,
                        help="evaluate on at most this many Eval batches (default: Slim.eval_max_batches; "
                             "prune.py uses it for the sensitivity analysis only)")
    parser.add_argument("--latency_runs", type=int, default=None, help="timed runs for the latency median "
                        "(default: Slim.latency_runs or 20; 0 = skip latency)")
    parser.add_argument("--no_finetune", action="store_true",
                        help="no fine-tuning: prune.py measures the pruned model as it is, quant.py quantizes "
                             "post-training (as Slim.post_training)")
    parser.add_argument("--publish", default=None, metavar="DIR",
                        help="also copy the finished model directory (without original/, finetune/, pir/) to DIR, "
                             "atomically: e.g. paddle_pp/models/slim/det, what PPOCR(slim=True) runs")
    return parser


def slim_settings(config: Dict[str, Any]) -> Dict[str, Any]:
    """The config's optional ``Slim`` section (every key has a default here)."""
    return dict(config.get("Slim") or {})


def pick(arg: Any, slim: Dict[str, Any], key: str, default: Any) -> Any:
    """Command line over ``Slim.<key>`` over the default."""
    if arg is not None:
        return arg
    value = slim.get(key)
    return default if value is None else value


def default_save_dir(config: Dict[str, Any], kind: str) -> Path:
    slim = slim_settings(config)
    if slim.get("save_dir"):
        return Path(slim["save_dir"])
    return Path(config["Global"].get("save_model_dir") or "./output") / kind


def finetune_config(config: Dict[str, Any], save_dir: Path, resume: Optional[str] = None) -> Dict[str, Any]:
    """The training config for fine-tuning: runs and checkpoints under <save_dir>/finetune, ``Slim.finetune``
    keys (epoch_num, max_steps, learning_rate, ...) over Global / Optimizer.lr. Without ``resume`` a rerun
    replaces an earlier fine-tuning run; with it (a checkpoint prefix, e.g. <save_dir>/finetune/latest) the run
    continues from there."""
    cfg = copy.deepcopy(config)
    g = cfg["Global"]
    g["save_model_dir"] = str(save_dir / "finetune")
    g["checkpoints"] = resume or None
    g["overwrite"] = not resume
    ft = dict(slim_settings(cfg).get("finetune") or {})
    for key in ("epoch_num", "max_steps", "max_train_minutes", "eval_batch_step", "print_batch_step"):
        if ft.get(key) is not None:
            g[key] = ft[key]
    if ft.get("learning_rate") is not None:
        cfg["Optimizer"]["lr"]["learning_rate"] = ft["learning_rate"]
    if ft.get("warmup_epoch") is not None:
        cfg["Optimizer"]["lr"]["warmup_epoch"] = ft["warmup_epoch"]
    return cfg


# ------------------------------------------------------------------------------------------------ evaluation

def limited(loader: Iterable, max_batches: Optional[int]) -> Iterable:
    """The loader, stopped after ``max_batches`` batches (None/0: all)."""
    if not max_batches:
        return loader

    class _Limited:
        def __iter__(self):
            return itertools.islice(iter(loader), int(max_batches))

        def __len__(self):
            try:
                return min(len(loader), int(max_batches))
            except TypeError:
                return int(max_batches)

    return _Limited()


def evaluate_model(trainer, model=None, max_batches: Optional[int] = None) -> Dict[str, Any]:
    """The training loop's ``evaluate`` with the trainer's Eval loader, adapter and metric."""
    from paddle_pp.training import evaluate

    if trainer.eval_loader is None or trainer.metric is None:
        raise ValueError("the config has no Eval section / Metric: slim needs an evaluation set")
    model = model if model is not None else trainer.inference_model
    return evaluate(model, limited(trainer.eval_loader, max_batches), trainer.adapter, trainer.metric)


def main_metric(trainer, result: Dict[str, Any]) -> float:
    return float(result[trainer.main_indicator])


# ------------------------------------------------------------------------------------------------ measurements

def measure_shape(config: Dict[str, Any]) -> List[int]:
    """[1, C, H, W] for FLOPs and latency: ``Slim.input_shape`` or det 3x640x640, rec/cls Inference.image_shape."""
    slim = slim_settings(config)
    if slim.get("input_shape"):
        return [1] + [int(v) for v in slim["input_shape"]]
    if config["Architecture"]["model_type"] == "det":
        return [1, 3, 640, 640]
    return [1] + [int(v) for v in config["Inference"]["image_shape"]]


def count_flops(model, shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward in eval mode (paddle.flops; the LSTM is not counted by it)."""
    import contextlib
    import io

    import paddle

    was_training = model.training
    model.eval()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return int(paddle.flops(model, list(shape), print_detail=False))
    finally:
        # paddle.flops leaves `total_ops` / `total_params` buffers on the layers it counted: they would end up
        # in the state dict (and in saved weights) of the model.
        for layer in model.sublayers(include_self=True):
            for key in [k for k in layer._buffers if k in ("total_ops", "total_params")]:
                del layer._buffers[key]
        if was_training:
            model.train()


def parameter_count(model, model_type: str) -> int:
    from paddle_pp.weights import parameter_count as count

    return count(model, model_type)


def inference_size(model_dir: Path) -> int:
    """Bytes of the legacy inference model (program + parameters)."""
    return sum((Path(model_dir) / f).stat().st_size for f in LEGACY_FILES if (Path(model_dir) / f).is_file())


def latency_ms(model_dir: Path, shape: Sequence[int], runs: int, warmup: int = 3) -> Optional[float]:
    """Median milliseconds of ``runs`` paddle.inference calls on a random input (legacy format, 1 thread)."""
    if runs <= 0:
        return None
    import numpy as np

    from paddle_pp.engine.paddle_inference import PaddleInferenceEngine

    engine = PaddleInferenceEngine(model_dir, enable_mkldnn=True, cpu_threads=1, prefer_legacy=True)
    x = np.random.default_rng(0).standard_normal(list(shape)).astype("float32")
    for _ in range(warmup):
        engine(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        engine(x)
        times.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(times))


# ------------------------------------------------------------------------------------------------ model directories

def clean_config(config: Dict[str, Any]) -> Dict[str, Any]:
    cfg = copy.deepcopy(config)
    cfg["Global"].pop("config_path", None)
    cfg["Global"]["pretrained_model"] = mdir.WEIGHTS
    cfg["Global"]["checkpoints"] = None
    return cfg


def write_weights_dir(model, config: Dict[str, Any], directory: Path, extra: Optional[Dict[str, Any]] = None) -> Path:
    """config.yml (+ dictionary) + model.pdparams (+ extra JSON files): what load_model_dir reads."""
    return mdir.write_weights_dir(model, config, directory, extra)


def export_legacy(directory: Path) -> Path:
    """Legacy export of a weights directory into itself, in a child process (the IR is fixed at import)."""
    from paddle_pp.export import export_in_subprocess

    return export_in_subprocess(directory, directory, legacy=True)


# ------------------------------------------------------------------------------------------------ report

ROWS = (("parameters", "{:,}"), ("flops", "{:,}"), ("size_mb", "{:.3f}"), ("metric", "{:.4f}"),
        ("latency_ms", "{:.2f}"))


def format_table(before: Dict[str, Any], after: Dict[str, Any], metric_name: str) -> str:
    def cell(fmt: str, value: Any) -> str:
        return "n/a" if value is None else fmt.format(value)

    lines = ["| | before | after | change |", "|---|---|---|---|"]
    for key, fmt in ROWS:
        a, b = before.get(key), after.get(key)
        change = "n/a"
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a:
            change = f"{(b - a) / abs(a) * 100:+.1f}%"
        label = {"metric": f"{metric_name} (Eval)", "size_mb": "inference model MB (legacy)",
                 "flops": "FLOPs", "latency_ms": "latency ms (paddle.inference, median)"}.get(key, key)
        lines.append(f"| {label} | {cell(fmt, a)} | {cell(fmt, b)} | {change} |")
    return "\n".join(lines)


def write_report(save_dir: Path, report: Dict[str, Any]) -> None:
    mdir.write_json(save_dir, mdir.SLIM_REPORT, report, default=str)


def measure(model, config: Dict[str, Any], model_dir: Path, metric: Optional[float], latency_runs: int,
            flops: Optional[int] = None) -> Dict[str, Any]:
    model_type = config["Architecture"]["model_type"]
    shape = measure_shape(config)
    return {"parameters": parameter_count(model, model_type),
            "flops": flops if flops is not None else count_flops(model, shape),
            "size_mb": inference_size(model_dir) / 1e6, "metric": metric,
            "latency_ms": latency_ms(model_dir, shape, latency_runs)}


def finetune(trainer) -> None:
    """Fine-tune with the training loop, then keep its best checkpoint (by the Eval metric) when there is one."""
    summary = trainer.train()
    trainer.restore_best()
    log(f"fine-tuned: {summary['global_step']} steps")


def finish(save_dir: Path, table: str, publish_to: Optional[str], kind: str) -> None:
    """Print the before/after table, publish the model directory if asked, say where it is."""
    print(table)
    if publish_to:
        publish(save_dir, Path(publish_to))
    print(f"{kind} model directory: {save_dir}")


def publish(save_dir: Path, target: Path) -> Path:
    """Copy the slim model directory's files (not its working sub-directories) to `target`, replacing it
    atomically: a half-copied model directory is never left where PPOCR(slim=True) looks."""
    mdir.publish(save_dir, target)
    log(f"published {save_dir} -> {target}")
    return Path(target)


def log(msg: str) -> None:
    print(f"[slim] {msg}", file=sys.stderr, flush=True)


def run_main(main: Callable[[Optional[Sequence[str]]], int]) -> None:
    os.environ.setdefault("FLAGS_enable_pir_api", "1")
    sys.exit(main())

"""A model made without training: fine-tuned weights moved part of the way back to the weights their training
started from (WiSE-FT: Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022).

    paddle-pp interpolate -c configs/rec_en_v4.yml --save_dir paddle_pp/models/rec_en
    paddle-pp interpolate -c configs/rec_en_v4.yml --alphas 0.5 0.7 0.8 0.85 0.9 0.95 1   # the Eval set, per alpha

The recipe's `Interpolate` section names the start (`start`: 'official:rec', 'bundled:NAME' or a .pdparams path,
loaded as training loads Global.pretrained_model, a new dictionary's CTC head transferred class by class) and
`alpha`; Global.pretrained_model is the fine-tuned end. Every float tensor, batch-norm statistics included,
becomes alpha * end + (1 - alpha) * start. Fine-tuning on one mix of domains forgets a little of what the start
knew about the others; a point on the straight line between the two often keeps most of both, because both ends
lie in one basin of the loss. --save_dir writes the model directory `export --weights_only` would; --alphas
evaluates each point on the recipe's Eval set (the validation splits, as training chooses its best checkpoint),
prints a table and the best alpha (ties go to the largest), and writes alpha_sweep.json and alpha_sweep.png to
Global.save_model_dir.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    from paddle_pp.config_schema import INTERPOLATE

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="a recipe with an Interpolate section")
    parser.add_argument("-o", "--opt", nargs="*", default=[], help="overrides Section.key=value")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--save_dir", help="write the interpolated model directory (model.pdparams + config.yml)")
    what.add_argument("--alphas", nargs="+", type=INTERPOLATE["alpha"].argparse_type("alphas"), metavar="A",
                      help="evaluate these alphas (0 = start, 1 = fine-tuned) on the Eval set instead")
    return parser


def interpolate_state(start: Mapping[str, np.ndarray], end: Mapping[str, np.ndarray],
                      alpha: float) -> Dict[str, np.ndarray]:
    """alpha * end + (1 - alpha) * start for every float tensor; other tensors (counters) come from `end`."""
    if set(start) != set(end):
        raise ValueError(f"the two models have different tensors: {sorted(set(start) ^ set(end))[:4]}")
    mixed = {}
    for name, value in end.items():
        other = start[name]
        if other.shape != value.shape:
            raise ValueError(f"{name}: shape {list(other.shape)} at the start, {list(value.shape)} fine-tuned")
        if value.dtype.kind == "f":
            mixed[name] = (alpha * value.astype(np.float64) + (1 - alpha) * other.astype(np.float64)) \
                .astype(value.dtype)
        else:
            mixed[name] = value
    return mixed


def load_start(model: Any, config: Dict[str, Any]) -> str:
    """Load Interpolate.start into `model` (which holds the fine-tuned weights) as training loads its pre-trained
    weights: a recognizer's new dictionary takes the start's CTC head classes of the same characters. A class
    the start's dictionary lacks keeps the fine-tuned values, so it is not interpolated (training started it from
    random values, which are not worth moving towards). Anything else that does not fit is an error (the two ends
    must be one architecture). Returns the weights' path."""
    from paddle_pp.training.checkpoint import (load_pretrained_weights, resolve_pretrained, source_global_config,
                                               transfer_ctc_head)

    spec, g = str(config["Interpolate"]["start"]), config["Global"]
    path = resolve_pretrained(spec, g.get("model_name"))
    report = load_pretrained_weights(model, path)
    mismatched = {name for name, _, _ in report["shape_mismatch"]}
    head = {"head.fc.weight", "head.fc.bias"}
    if report["missing"] or not mismatched <= head:
        raise ValueError(f"Interpolate.start {spec} ({path}) is not the recipe's architecture: missing "
                         f"{report['missing'][:3]}, shapes differ for {sorted(mismatched - head)[:3]}")
    if mismatched:
        source = source_global_config(spec, g.get("model_name"))
        if source is None or transfer_ctc_head(model, path, source, g) == 0:
            raise ValueError(f"Interpolate.start {spec}: its CTC head cannot be transferred to the recipe's "
                             "dictionary (the start's dictionary is unknown or the shapes do not match)")
    return path


def numpy_state(model: Any) -> Dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in model.state_dict().items()}


def load_ends(config: Dict[str, Any]) -> Tuple[Any, Dict[str, np.ndarray], Dict[str, np.ndarray], Optional[dict]]:
    """The recipe's model and both ends' weights: (model, start, end, the pruned-shapes record of a pruned model
    or None). A pruned model's start must be pruned alike (its shapes are the end's)."""
    from paddle_pp.modeling.architecture import build_model
    from paddle_pp.tools.export_model import load_weights

    model = build_model(config)
    _, pruned_shapes = load_weights(model, config)
    end = numpy_state(model)
    load_start(model, config)
    return model, numpy_state(model), end, pruned_shapes


def set_weights(model: Any, state: Mapping[str, np.ndarray]) -> None:
    import paddle

    model.set_state_dict({name: paddle.to_tensor(value) for name, value in state.items()})


def interpolated_models(config: Dict[str, Any], alphas: Sequence[float]):
    """Yield (alpha, model) for each alpha: the recipe's model holding the interpolated weights."""
    model, start, end, _ = load_ends(config)
    for alpha in alphas:
        set_weights(model, interpolate_state(start, end, alpha))
        yield alpha, model


def check_recipe(config: Dict[str, Any]) -> None:
    from paddle_pp.modeling.distillation import is_distillation

    section = config.get("Interpolate") or {}
    missing = [key for key in ("start", "alpha") if section.get(key) is None]
    if missing:
        raise ValueError(f"{config['Global'].get('config_path')}: the Interpolate section needs "
                         f"{' and '.join(missing)} (see paddle-pp interpolate --help)")
    if is_distillation(config["Architecture"]):
        raise ValueError("Interpolate: give the student's own recipe, not a distillation recipe")


def sweep(config: Dict[str, Any], alphas: Sequence[float]) -> Dict[float, Dict[str, Any]]:
    """Each alpha's metrics on the recipe's Eval set, printed as they come, then the best alpha; the table and a
    plot go to Global.save_model_dir (alpha_sweep.json, alpha_sweep.png)."""
    from paddle_pp.eval import run_eval
    from paddle_pp.metrics import build_metric
    from paddle_pp.training.trainer import build_loader

    loader = build_loader(config, "Eval", int(config["Global"].get("seed") or 0), False)
    results = {}
    for alpha, model in interpolated_models(config, sorted(set(alphas))):
        result = {k: v for k, v in run_eval(config, loader, model).items() if k != "weights"}
        results[alpha] = result
        print(f"alpha {alpha:.3f}: " + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                                   for k, v in result.items()), flush=True)
    main = getattr(build_metric(config["Metric"]), "main_indicator", None) or "acc"
    best = best_alpha(results, main)
    print(f"best: alpha {best:g} ({main} {results[best][main]:.4f}; among equal {main}, the alpha nearest the "
          f"fine-tuned end)")
    save_sweep(Path(config["Global"].get("save_model_dir") or "./output"), results, main, best)
    return results


def best_alpha(results: Mapping[float, Mapping[str, Any]], main: str) -> float:
    """The alpha of the best `main` metric; ties go to the largest alpha, the least change from the fine-tuned
    model (as training keeps its first best checkpoint, the sweep keeps the smallest step back)."""
    return max(results, key=lambda alpha: (results[alpha][main], alpha))


def save_sweep(directory: Path, results: Mapping[float, Mapping[str, Any]], main: str, best: float) -> None:
    """alpha_sweep.json (every alpha's metrics) and alpha_sweep.png (the metrics against alpha), atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from paddle_pp.utils.files import write_atomic, write_json_atomic

    alphas = sorted(results)
    write_json_atomic(directory / "alpha_sweep.json", {"main_indicator": main, "best_alpha": best,
                                                       "results": [dict(alpha=a, **results[a]) for a in alphas]})
    keys = [k for k, v in results[alphas[0]].items() if isinstance(v, float) and k not in ("seconds",)]
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in keys:
        ax.plot(alphas, [results[a][key] for a in alphas], marker="o", label=key, linewidth=2 if key == main else 1)
    ax.axvline(best, color="grey", linestyle="--", label=f"best alpha {best:g}")
    ax.set_xlabel("alpha (0: start, 1: fine-tuned)")
    ax.set_ylabel("Eval metric")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        write_atomic(directory / "alpha_sweep.png", lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    finally:
        plt.close(fig)
    print(f"wrote {directory / 'alpha_sweep.json'} and {directory / 'alpha_sweep.png'}")


def write_interpolated(config: Dict[str, Any], save_dir: Path) -> Path:
    """The model directory of Interpolate.alpha. Its config.yml drops the Interpolate section: its weights are
    the interpolation already, and reading them as a recipe again must not interpolate twice."""
    from paddle_pp.model_dir import PRUNED_SHAPES, write_weights_dir

    model, start, end, pruned_shapes = load_ends(config)
    set_weights(model, interpolate_state(start, end, float(config["Interpolate"]["alpha"])))
    out = {k: v for k, v in config.items() if k != "Interpolate"}
    extra = {PRUNED_SHAPES: pruned_shapes} if pruned_shapes is not None else None   # as export --weights_only
    return write_weights_dir(model, out, save_dir, extra)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from paddle_pp.config import load_tool_config
    from paddle_pp.training.adapters import build_adapter

    config = load_tool_config(args.config, args.opt)
    build_adapter(config).prepare_config(config)   # a recognizer's head size from its dictionary
    try:
        check_recipe(config)
        if args.alphas:
            sweep(config, args.alphas)
            return 0
        save_dir = write_interpolated(config, Path(args.save_dir))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"interpolated {config['Interpolate']['start']} -> {config['Global']['pretrained_model']} at alpha "
          f"{float(config['Interpolate']['alpha']):g} -> {save_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Evaluate a det / rec / cls model on the config's Eval data (PaddleOCR 2.x ``tools/eval.py``).

    python -m paddle_pp.eval -c configs/det.yml -o Global.checkpoints=./output/det/best_accuracy
    python -m paddle_pp.eval -c configs/rec.yml                                  # Global.pretrained_model

``Global.checkpoints`` wins over ``Global.pretrained_model`` ('official' = the imported official weights).
Prints the metrics, one ``key: value`` per line, and a JSON line.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, Optional, Sequence


def run_eval(config: Dict[str, Any], loader: Any = None, model: Any = None) -> Dict[str, Any]:
    """The metrics of the config's weights (or of `model`, already loaded) on its Eval set."""
    import copy

    from paddle_pp.metrics import build_metric
    from paddle_pp.modeling.architecture import build_model, inference_model
    from paddle_pp.training.adapters import build_adapter
    from paddle_pp.training.logs import get_logger
    from paddle_pp.training.trainer import build_loader, evaluate

    log = get_logger()
    config = copy.deepcopy(config)
    adapter = build_adapter(config)
    adapter.prepare_config(config)
    if model is None:
        model = build_model(config)
        path = _load_eval_weights(model, config, log)
    else:
        path = None
    if loader is None:
        loader = build_loader(config, "Eval", int(config["Global"].get("seed") or 0), False)
    metric = build_metric(config["Metric"])
    # A distillation model is evaluated through its inference sub-model (the student).
    result = evaluate(inference_model(model), loader, adapter, metric, progress=sys.stderr.isatty())
    result["weights"] = path
    return result


def _load_eval_weights(model: Any, config: Dict[str, Any], log: Any) -> Optional[str]:
    from paddle_pp.model_dir import apply_pruned_shapes, pruned_shapes_beside
    from paddle_pp.modeling.architecture import inference_model
    from paddle_pp.training.checkpoint import load_pretrained_weights, weights_path_for_eval
    from paddle_pp.training.trainer import pretrained_target

    path, kind = weights_path_for_eval(config)
    if path is None:
        log.warning("no Global.checkpoints or Global.pretrained_model: evaluating random weights")
        return None
    pruned = pruned_shapes_beside(path)
    if pruned is not None:   # a pruned model: rebuild its shapes, or the weights would not fit
        apply_pruned_shapes(inference_model(model), pruned)
    report = load_pretrained_weights(pretrained_target(model, path), path)
    bad = report["shape_mismatch"] + report["missing"]
    log.info("%s weights %s: %d tensors loaded", kind, path, len(report["loaded"]))
    if bad:
        log.warning("not loaded (kept initialisation): %s", bad[:10])
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    from paddle_pp.config import load_tool_config
    from paddle_pp.train import parse_args

    args = parse_args(argv, "evaluate a PP-OCR model")
    config = load_tool_config(args.config, args.opt)
    result = run_eval(config)
    for k, v in result.items():
        print(f"{k}: {v}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

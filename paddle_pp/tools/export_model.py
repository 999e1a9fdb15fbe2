"""Export a model for Paddle Inference (dynamic shapes: det [N,3,-1,-1], cls [N,3,48,-1], rec [N,3,32,-1]).

    python deploy/export_model.py -c configs/det.yml --save_dir inference/det            # official weights
    python deploy/export_model.py -c configs/rec.yml -o Global.pretrained_model=output/rec/best.pdparams \\
        --save_dir inference/rec
    python deploy/export_model.py -c configs/rec.yml --save_dir inference/rec_legacy --legacy   # for Paddle-Lite
    python deploy/export_model.py -c configs/rec_en.yml -o Global.pretrained_model=output/rec_en/best_accuracy \
        --save_dir paddle_pp/models/rec_en --weights_only      # model.pdparams + config.yml + dictionary (what paddle_pp/models/ ships)

The new PIR format (inference.json) by default; --legacy writes inference.pdmodel, which Paddle-Lite's opt
reads. The directory also gets config.yml (and the dictionary for rec), so it is a complete model directory
for `--det_model_dir` / `--rec_model_dir` / `--cls_model_dir`.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence, Tuple


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="model config, e.g. configs/det.yml")
    parser.add_argument("-o", "--opt", nargs="*", default=[], help="overrides Section.key=value")
    parser.add_argument("--save_dir", required=True, help="output directory")
    parser.add_argument("--legacy", action="store_true", help="legacy .pdmodel format (for Paddle-Lite)")
    parser.add_argument("--weights_only", action="store_true",
                        help="write the dygraph model directory instead (model.pdparams + config.yml + dictionary): "
                             "what the dygraph engine and training read, and what paddle_pp/models/ ships (the other "
                             "engines export a bundled model on first use, not a directory passed by hand)")
    return parser


def run_with_legacy_ir(argv: Sequence[str]) -> int:
    """The IR is fixed when paddle is imported, so the legacy format is written by a fresh interpreter running
    this tool with the same arguments (`paddle-pp export`, the script and a call from Python alike)."""
    env = dict(os.environ, FLAGS_enable_pir_api="0")
    return subprocess.run([sys.executable, "-m", __name__, *argv], env=env).returncode


def model_dir_file(cfg, name: str) -> Optional[Path]:
    """`name` inside the model directory whose config.yml `cfg` was read from (`-c DIR/config.yml`), where its
    relative names point; None for a recipe, whose relative paths are the working directory's."""
    from paddle_pp.model_dir import CONFIG, source_dir_of

    source_dir = source_dir_of(cfg)
    config_path = cfg["Global"].get("config_path")
    if source_dir is None or not config_path or Path(config_path).name != CONFIG or Path(name).is_absolute():
        return None
    candidate = source_dir / name
    return candidate if candidate.is_file() else None


def load_weights(model, cfg) -> Tuple[str, Optional[dict]]:
    """Load Global.pretrained_model ('official', 'official:NAME', 'bundled:NAME' or a .pdparams path) into `model`.

    A pruned model (pruned_shapes.json beside its weights) is rebuilt with its shapes first; returns (path, that
    record or None)."""
    from paddle_pp.model_dir import apply_pruned_shapes, pruned_shapes_beside
    from paddle_pp.modeling.architecture import inference_model
    from paddle_pp.training.checkpoint import resolve_pretrained
    from paddle_pp.training.trainer import pretrained_target
    from paddle_pp.utils.safe_pickle import load_state_dict

    source = str(cfg["Global"].get("pretrained_model") or "official")
    inside = model_dir_file(cfg, source)
    # the trainer's reading of the spec, or a model directory's own weights file (its config.yml names it by its name)
    path = inside or Path(resolve_pretrained(source, cfg["Global"].get("model_name")))
    record = pruned_shapes_beside(path)
    if record is not None:
        apply_pruned_shapes(inference_model(model), record)   # the record names the student's parameters
    target = pretrained_target(model, str(path))   # a distillation run's own checkpoint, or its student's weights
    missing, unexpected = target.set_state_dict(load_state_dict(path))
    if missing:
        raise ValueError(f"{path}: does not fit the config's architecture; missing e.g. {list(missing)[:3]}")
    return str(path), record


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from paddle_pp.export import legacy_ir_active

    if args.legacy and not legacy_ir_active():
        return run_with_legacy_ir(argv)

    from paddle_pp.config import load_tool_config
    from paddle_pp.export import export_inference
    from paddle_pp.modeling.architecture import build_model, inference_model
    from paddle_pp.modeling.distillation import inference_config

    cfg = load_tool_config(args.config, args.opt)
    model = build_model(cfg)
    try:
        weights, pruned_shapes = load_weights(model, cfg)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # A distillation run exports (and publishes) its student only, described as an ordinary model.
    model, cfg = inference_model(model), inference_config(cfg)
    if args.weights_only:
        from paddle_pp.model_dir import PRUNED_SHAPES, write_weights_dir

        extra = {PRUNED_SHAPES: pruned_shapes} if pruned_shapes is not None else None
        save_dir = write_weights_dir(model, cfg, Path(args.save_dir), extra)
    else:
        from paddle_pp.model_dir import source_dir_of

        save_dir = export_inference(model, cfg, args.save_dir, source_dir_of(cfg), legacy=args.legacy)
    files = ", ".join(f"{p.name} ({p.stat().st_size / 1e6:.2f} MB)" for p in sorted(save_dir.iterdir()) if p.is_file())
    kind = "dygraph weights" if args.weights_only else ("legacy" if args.legacy else "PIR") + " format"
    print(f"exported {weights} ({kind}) -> {save_dir}: {files}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

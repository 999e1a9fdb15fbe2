"""Convert an exported Paddle Inference model directory to ONNX (paddle2onnx), next to it as model.onnx.

    python deploy/export_model.py -c configs/det.yml --save_dir inference/det
    python deploy/export_onnx.py --model_dir inference/det            # -> inference/det/model.onnx

The directory keeps its config.yml, so `--engine onnx --det_model_dir inference/det` runs it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True, help="a directory written by deploy/export_model.py")
    parser.add_argument("--save_file", default=None, help="default: MODEL_DIR/model.onnx")
    parser.add_argument("--opset", type=int, default=11)
    args = parser.parse_args(argv)
    from paddle_pp.export import export_onnx

    try:
        path = export_onnx(args.model_dir, args.save_file, args.opset)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Direction accuracy of a classifier on labelled text-line crops (labels 0 and 180), through the inference pipeline.

    python deploy/eval_cls.py --label_file train_data/cls_sroie_val.txt                 # the official classifier
    python deploy/eval_cls.py --label_file train_data/cls_sroie_val.txt --slim          # the PACT classifier
    python deploy/eval_cls.py --label_file train_data/cls_sroie_val.txt --cls_model_dir DIR --engine onnx

`paddle-pp data prepare --only cls_sroie_val.txt` writes that set: the SROIE rec_val crops, each turned by 180
degrees or not at random (seed 0). A crop counts as right when the classifier's most probable label is its label,
as PaddleOCR's ClsMetric counts (the system turns a crop only above --cls_thresh as well). Reports the accuracy, the
mistakes each way, and the accuracy the system gets from the turns it makes (label 180 above cls_thresh).
Each crop is classified whole, as PaddleOCR evaluates, unless given --cls_turned_view true and --cls_pieces_above
6 (the system's defaults, cls.yml: a crop not found upright for sure also classified turned, and a long one in
pieces).
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from paddle_pp.tools.eval_rec import crop_set_or_none


def main(argv: Optional[Sequence[str]] = None) -> int:
    from tqdm import tqdm

    from paddle_pp.ocr import build_stage
    from paddle_pp.pipeline import PADDLEOCR_SETTINGS, option_field
    from paddle_pp.tools.utility import schema_flag

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label_file", required=True)
    parser.add_argument("--data_dir", default="./", help="label paths are relative to this")
    parser.add_argument("--cls_model_dir", default=None)
    parser.add_argument("--slim", action="store_true", help="the slim (PACT) classifier, as PPOCR(slim=True) runs it")
    parser.add_argument("--engine", default=None)
    parser.add_argument("--precision", default=None, help="fp32 | int8 (a PACT model's model_int8.onnx, engine onnx)")
    helps = {"cls_pieces_above": "also classify a crop wider than this many heights in pieces (0: whole crops, as "
                                 "PaddleOCR evaluates; the system's default: cls.yml's pieces_above)",
             "cls_turned_view": "also classify a crop not found upright for sure turned by 180 degrees (false, as "
                                "PaddleOCR evaluates; the system's default: cls.yml's turned_view)"}
    for flag, help_text in helps.items():   # PaddleOCR's protocol by default: every crop classified whole
        parser.add_argument(f"--{flag}", default=PADDLEOCR_SETTINGS[flag], help=help_text,
                            **schema_flag(option_field(flag), flag))
    args = parser.parse_args(argv)

    crop_set = crop_set_or_none(args)
    if crop_set is None:
        return 1
    crops, truths = crop_set
    unknown = sorted(set(truths) - {"0", "180"})
    if unknown:
        print(f"error: {args.label_file}: labels must be 0 or 180, found {', '.join(unknown[:5])}", file=sys.stderr)
        return 1
    classifier = build_stage("cls", args.cls_model_dir, engine=args.engine, precision=args.precision,
                             slim=args.slim or None, cls_pieces_above=args.cls_pieces_above,
                             cls_turned_view=args.cls_turned_view)
    results = []
    step = 256  # bounded memory; the classifier batches by aspect ratio inside each chunk
    for start in tqdm(range(0, len(crops), step), desc="eval cls", unit="chunk"):
        results += classifier(crops[start:start + step])[1]
    best = ["180" if "180" in label else "0" for label, _ in results]
    turned = ["180" if classifier.turns(label, score) else "0" for label, score in results]
    n = max(len(truths), 1)
    wrong_up = sum(b == "180" and t == "0" for b, t in zip(best, truths))
    wrong_down = sum(b == "0" and t == "180" for b, t in zip(best, truths))
    print(f"crops {len(truths)}: acc {1 - (wrong_up + wrong_down) / n:.4f} ({wrong_up} upright called 180, "
          f"{wrong_down} turned called 0); as the system turns them (cls_thresh {classifier.thresh}): acc "
          f"{sum(a == t for a, t in zip(turned, truths)) / n:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Recognition accuracy of a recognizer on labelled text-line crops, through the inference pipeline.

    python deploy/eval_rec.py --label_file train_data/rec_sroie_val.txt                       # official model
    python deploy/eval_rec.py --label_file train_data/rec_sroie_val.txt --lang en             # our English one
    python deploy/eval_rec.py --label_file train_data/rec_sroie_val.txt --lang en --slim      # ... quantized
    python deploy/eval_rec.py --label_file train_data/rec_sroie_val.txt --rec_model_dir inference/my_rec  # yours
    python deploy/eval_rec.py --label_file train_data/rec_sroie_val.txt --compare rapidocr   # + RapidOCR's recognizer

Every line counts (nothing is dropped for length): crops are batched by aspect ratio and resized exactly as
predict_rec.py does. Reports accuracy (exact match after removing spaces, SPEC.md), the same ignoring case,
1 - normalised edit distance, and word accuracy (1 - word error rate: the words as the spaces split them, so
glued or split words count).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from paddle_pp.metrics.rec_metric import normalized_edit_distance, word_accuracy
from paddle_pp.pipeline import DENSE_KEYS, UNSURE_KEYS, option_field
from paddle_pp.tools.peers import PEERS, rapidocr, rapidocr_recognizer
from paddle_pp.tools.utility import schema_flag
from paddle_pp.utils.errors import InputError
from paddle_pp.utils.label_files import no_image_found, read_label_lines, skip_malformed


def score(pairs: Sequence[Tuple[str, str]]) -> dict:
    """pairs of (prediction, ground truth) -> acc, acc_ignore_case, norm_edit_dis, word_acc."""
    n = max(len(pairs), 1)
    squash = [(p.replace(" ", ""), g.replace(" ", "")) for p, g in pairs]
    acc = sum(p == g for p, g in squash) / n
    acc_ic = sum(p.lower() == g.lower() for p, g in squash) / n
    ned = sum(normalized_edit_distance(p, g) for p, g in pairs) / n
    return {"acc": acc, "acc_ignore_case": acc_ic, "norm_edit_dis": 1 - ned, "word_acc": word_accuracy(pairs),
            "lines": len(pairs)}


def read_crops(label_file: str, data_dir: str) -> Tuple[List, List[str]]:
    """The label file's crops (BGR) and texts; unreadable images are reported and skipped, and InputError
    says so when not one of them exists."""
    from paddle_pp.utils.image_io import ImageReadError, read_image

    crops: List = []
    truths: List[str] = []
    labels = list(read_label_lines(label_file, on_malformed=skip_malformed))
    problem = no_image_found(label_file, [Path(data_dir) / path for _, path, _ in labels], data_dir)
    if problem:
        raise InputError(problem)
    for _, path, text in labels:
        try:
            crops.append(read_image(Path(data_dir) / path))
            truths.append(text)
        except ImageReadError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
    return crops, truths


def crop_set_or_none(args: argparse.Namespace) -> Optional[Tuple[List, List[str]]]:
    """read_crops of the command line's --label_file and --data_dir, or None after saying on stderr why not."""
    try:
        return read_crops(args.label_file, args.data_dir)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def recognize_all(recognizer: Callable, crops: Sequence, desc: str) -> List[str]:
    from tqdm import tqdm

    predictions: List[str] = []
    step = 256  # bounded memory; the recognizer batches by aspect ratio inside each chunk
    for start in tqdm(range(0, len(crops), step), desc=desc, unit="chunk"):
        predictions += [text for text, _ in recognizer(crops[start:start + step])]
    return predictions


def report(name: str, predictions: Sequence[str], truths: Sequence[str], show_errors: int) -> None:
    result = score(list(zip(predictions, truths)))
    print(f"{name}: lines {result['lines']}: acc {result['acc']:.4f}  acc (ignoring case) "
          f"{result['acc_ignore_case']:.4f}  1-NED {result['norm_edit_dis']:.4f}  word acc {result['word_acc']:.4f}")
    shown = 0
    for p, g in zip(predictions, truths):
        if shown < show_errors and p.replace(" ", "") != g.replace(" ", ""):
            print(f"  got {p!r}  want {g!r}")
            shown += 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    from paddle_pp.ocr import build_stage

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label_file", required=True)
    parser.add_argument("--data_dir", default="./", help="label paths are relative to this")
    parser.add_argument("--rec_model_dir", default=None)
    parser.add_argument("--lang", default=None, help="ch | en: which recognizer (configs/system.yml's rec_models)")
    parser.add_argument("--slim", action="store_true", help="its slim (quantized) model, as PPOCR(slim=True) runs it")
    parser.add_argument("--engine", default=None)
    parser.add_argument("--precision", default=None, help="fp32 | int8 (a PACT model's model_int8.onnx, engine onnx)")
    parser.add_argument("--rec_batch_num", type=int, default=None)
    for flag in (f"rec_{key}" for key in DENSE_KEYS):
        parser.add_argument(f"--{flag}", default=None, **schema_flag(option_field(flag), flag),
                            help="how dense lines are read again (configs/rec.yml; --rec_dense_pitch 0: read once)")
    for flag in (f"rec_{key}" for key in UNSURE_KEYS):
        parser.add_argument(f"--{flag}", default=None, **schema_flag(option_field(flag), flag),
                            help="how unsure lines are read again (configs/rec.yml; --rec_unsure_blur 0: never)")
    parser.add_argument("--show_errors", type=int, default=0, help="print the first N wrong lines")
    parser.add_argument("--compare", nargs="*", default=[], choices=PEERS,
                        help="also score these systems' recognizers on the same crops (requirements-bench.txt)")
    args = parser.parse_args(argv)

    crop_set = crop_set_or_none(args)
    if crop_set is None:
        return 1
    crops, truths = crop_set
    again = {f"rec_{key}": getattr(args, f"rec_{key}") for key in DENSE_KEYS + UNSURE_KEYS
             if getattr(args, f"rec_{key}") is not None}
    recognizers = {"ours": build_stage("rec", args.rec_model_dir, engine=args.engine, precision=args.precision,
                                       lang=args.lang, slim=args.slim or None, rec_batch_num=args.rec_batch_num,
                                       **again)}
    if "rapidocr" in args.compare:
        recognizers["rapidocr"] = rapidocr_recognizer(rapidocr())
    for name, recognizer in recognizers.items():
        report(name, recognize_all(recognizer, crops, f"eval rec ({name})"), truths, args.show_errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())

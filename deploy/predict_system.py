"""Run the whole PP-OCR system (detect, classify, recognize) on images.

    python deploy/predict_system.py                       # the bundled demo images
    python deploy/predict_system.py --image_dir photos/   # a file, a directory (recursive) or a glob

Writes OUTPUT/system_results.txt, one line per image: `image_name<TAB>[{"transcription", "points", "score"}]`
(PaddleOCR's format). Exit status: 0 when every image succeeded, 1 when any failed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paddle_pp.pipeline import OPTION_KEYS  # noqa: E402
from paddle_pp.utils.files import display_name, list_images, write_text_atomic  # noqa: E402
from paddle_pp.utils.image_io import ImageReadError  # noqa: E402

DEMO_DIR = Path(__file__).resolve().parent / "demo_images"
_OPTION_TYPES = {"det_limit_type": str, "det_db_score_mode": str, "rec_char_dict_path": str}


def str2bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "y", "on"):
        return True
    if text.lower() in ("0", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{text}'")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image_dir", default=str(DEMO_DIR), help="image file, directory or glob (default: demo)")
    parser.add_argument("--output", default="./inference_results", help="output directory")
    parser.add_argument("--det_model_dir", default=None)
    parser.add_argument("--cls_model_dir", default=None)
    parser.add_argument("--rec_model_dir", default=None)
    parser.add_argument("--use_angle_cls", type=str2bool, default=None)
    parser.add_argument("--drop_score", type=float, default=None)
    for flag in OPTION_KEYS:  # every YAML-backed option; None keeps the YAML default
        kind = str2bool if flag in ("use_dilation", "use_space_char") else _OPTION_TYPES.get(flag, float)
        if flag in ("det_limit_side_len", "max_candidates", "cls_batch_num", "rec_batch_num"):
            kind = int
        parser.add_argument(f"--{flag}", type=kind, default=None)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    from tqdm import tqdm

    from paddle_pp import PPOCR

    args = build_parser().parse_args(argv)
    try:
        images, root = list_images(args.image_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not images:
        print(f"error: {args.image_dir}: no images found", file=sys.stderr)
        return 1
    options = {k: getattr(args, k) for k in OPTION_KEYS}
    ocr = PPOCR(det_model_dir=args.det_model_dir, cls_model_dir=args.cls_model_dir,
                rec_model_dir=args.rec_model_dir, use_angle_cls=args.use_angle_cls,
                drop_score=args.drop_score, **options)

    lines: List[str] = []
    failures = boxes = 0
    start = time.perf_counter()
    for path in tqdm(images, desc="ocr", unit="img", file=sys.stderr):
        name = display_name(path, root)
        try:
            results = ocr(path)
        except ImageReadError as exc:
            failures += 1
            tqdm.write(f"failed: {exc}", file=sys.stderr)
            continue
        boxes += len(results)
        lines.append(f"{name}\t{json.dumps(results, ensure_ascii=False)}\n")
    output = Path(args.output)
    write_text_atomic(output / "system_results.txt", "".join(lines))
    seconds = time.perf_counter() - start
    print(f"{len(images)} images, {boxes} text lines, {failures} failed, {seconds:.2f} s "
          f"-> {output / 'system_results.txt'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

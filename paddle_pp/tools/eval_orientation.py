"""How well use_doc_orientation_classify finds a page's orientation: each image turned four ways, one decision each.

    python deploy/eval_orientation.py --label_file train_data/det_sroie_val.txt
    python deploy/eval_orientation.py --image_dir scans/ --det_limit_type min --det_limit_side_len 736

Each image (assumed upright) is turned clockwise by 0, 90, 180 and 270 degrees, and the system decides the
counter-clockwise turn that makes it upright (paddle_pp/utils/page_orientation.py: detection and the direction
classifier, no recognition), which should be the same angle. Printed: the confusion matrix, how many upright images
were turned (the cost of switching the option on for images that need nothing), how many turned ones came back
right, wrong or were left as they are, and the median time of a decision.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from paddle_pp.utils.page_orientation import ANGLES

NAMES_SHOWN = 20


def image_paths(args: argparse.Namespace) -> List[Path]:
    from paddle_pp.utils.files import list_images
    from paddle_pp.utils.label_files import read_label_lines, skip_malformed

    if args.image_dir:
        return list_images(args.image_dir)[0]
    return [Path(args.data_dir) / path for _, path, _ in read_label_lines(args.label_file, on_malformed=skip_malformed)]


def summary(confusion: np.ndarray) -> Dict[str, int]:
    """Counts from a confusion matrix [true angle index, decided angle index]."""
    turned = confusion[1:]
    return {"upright": int(confusion[0].sum()), "upright_turned": int(confusion[0, 1:].sum()),
            "turned": int(turned.sum()), "turned_right": int(np.trace(confusion[1:, 1:])),
            "turned_left_as_is": int(turned[:, 0].sum()),
            "turned_wrong": int(turned.sum() - np.trace(confusion[1:, 1:]) - turned[:, 0].sum())}


def main(argv: Optional[Sequence[str]] = None) -> int:
    from paddle_pp import PPOCR
    from paddle_pp.pipeline import option_field, option_flags
    from paddle_pp.tools.utility import LabelledImages, schema_flag
    from paddle_pp.utils.label_files import no_image_found

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image_dir", help="an image, a folder or a glob of upright images")
    source.add_argument("--label_file", help="a label file whose first column lists upright images")
    parser.add_argument("--data_dir", default="./", help="--label_file paths are relative to this")
    parser.add_argument("--slim", action="store_true", help="the slim system's detector and classifier")
    parser.add_argument("--engine", default=None)
    parser.add_argument("--cpu_threads", type=int, default=None)
    model_flags = option_flags("det") + option_flags("cls")
    for flag in model_flags:
        parser.add_argument(f"--{flag}", default=None, **schema_flag(option_field(flag), flag),
                            help="as paddle-pp ocr's (default: the model's config)")
    args = parser.parse_args(argv)

    paths = image_paths(args)
    if args.label_file:
        problem = no_image_found(args.label_file, paths, args.data_dir)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 1
    ocr = PPOCR(use_doc_orientation_classify=True, slim=args.slim or None, engine=args.engine,
                cpu_threads=args.cpu_threads, **{flag: getattr(args, flag) for flag in model_flags})
    confusion = np.zeros((len(ANGLES), len(ANGLES)), dtype=np.int64)
    seconds: Dict[bool, List[float]] = {False: [], True: []}
    misjudged: List[str] = []
    images = LabelledImages(paths, lambda path: path, "eval orientation")
    for path, upright in images:
        for true_index, angle in enumerate(ANGLES):
            given = np.ascontiguousarray(np.rot90(upright, -true_index))   # clockwise by `angle`
            start = time.perf_counter()
            decided = ocr.system.page_angle(given)
            seconds[angle != 0].append(time.perf_counter() - start)
            confusion[true_index, ANGLES.index(decided)] += 1
            if decided != angle:
                misjudged.append(f"{path.name}: turned {angle}, decided {decided}")
    counts = summary(confusion)
    print(f"images: {confusion[0].sum()} ({images.failures} unreadable), each turned 0/90/180/270 clockwise")
    print("confusion (rows: the turn the page needs, columns: the turn decided):")
    print("        " + "".join(f"{a:>7}" for a in ANGLES))
    for angle, row in zip(ANGLES, confusion):
        print(f"  {angle:>5} " + "".join(f"{n:>7}" for n in row))
    print(f"upright images turned: {counts['upright_turned']} of {counts['upright']}")
    print(f"turned images: right {counts['turned_right']}, left as they are {counts['turned_left_as_is']}, "
          f"wrong {counts['turned_wrong']}, of {counts['turned']}")
    if seconds[False]:
        print(f"median ms per decision: upright {1000 * statistics.median(seconds[False]):.1f}, "
              f"turned {1000 * statistics.median(seconds[True]):.1f}")
    for line in misjudged[:NAMES_SHOWN]:
        print(f"  {line}")
    if len(misjudged) > NAMES_SHOWN:
        print(f"  ... and {len(misjudged) - NAMES_SHOWN} more")
    return 0


if __name__ == "__main__":
    sys.exit(main())

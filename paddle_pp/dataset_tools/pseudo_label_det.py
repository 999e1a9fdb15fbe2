r"""Pseudo-label images for detection with a trained detector (knowledge distillation to an unlabelled set).

    python dataset_tools/pseudo_label_det.py --image_dir photos/ --out photos_label.txt \
        [--det_model_dir DIR] [--path_prefix photos] [--min_boxes 1]

Every image under --image_dir (recursively) is run through the detector (default: the official PP-OCR
detector, or --det_model_dir) and becomes one detection label line ``<path><TAB>[{"transcription": "",
"points": [[x, y] x4]}, ...]`` (the label format of SPEC.md; empty transcriptions, as MSRA-TD500's). Used to
give a pruned detector's fine-tuning the unpruned model's answers on photos that carry no labels
(configs/slim/det_prune.yml). Paths are written as ``<path_prefix>/<path under image_dir>`` (default: the
image_dir as given). An unreadable image is reported by name and skipped; the label file is written atomically.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from tqdm import tqdm

from paddle_pp.dataset_tools.tool_io import DataToolError, tool_main
from paddle_pp.utils.files import write_text_atomic
from paddle_pp.utils.image_io import read_image
from paddle_pp.utils.label_files import format_det_label

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def find_images(image_dir: Path) -> List[Path]:
    if not image_dir.is_dir():
        raise DataToolError(f"{image_dir}: not a directory")
    images = sorted(p for p in image_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataToolError(f"{image_dir}: no images (.jpg, .jpeg, .png, .bmp)")
    return images


def box_items(boxes) -> List[dict]:
    return [{"transcription": "", "points": [[int(round(float(x))), int(round(float(y)))] for x, y in box]}
            for box in boxes]


def pseudo_label(images: Sequence[Path], image_dir: Path, prefix: str, detector, min_boxes: int = 1,
                 progress: bool = True) -> List[str]:
    """Label lines for the images on which the detector finds at least ``min_boxes`` boxes."""
    lines, skipped = [], 0
    for path in tqdm(images, desc="pseudo-label", unit="img", disable=not progress):
        try:
            image = read_image(path)
        except DataToolError as error:
            print(f"skipped: {error}", file=sys.stderr)
            continue
        boxes = detector(image)
        if len(boxes) < min_boxes:
            skipped += 1
            continue
        relative = path.relative_to(image_dir).as_posix()
        lines.append(f"{prefix.rstrip('/')}/{relative}\t{format_det_label(box_items(boxes))}" if prefix
                     else f"{relative}\t{format_det_label(box_items(boxes))}")
    if skipped:
        print(f"{skipped} image(s) with fewer than {min_boxes} box(es) left out", file=sys.stderr)
    return lines


@tool_main
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image_dir", required=True)
    parser.add_argument("--out", required=True, help="detection label file to write")
    parser.add_argument("--det_model_dir", default=None, help="detector (default: the official one)")
    parser.add_argument("--path_prefix", default=None, help="written before each image's path under image_dir "
                        "(default: image_dir as given)")
    parser.add_argument("--min_boxes", type=int, default=1)
    args = parser.parse_args(argv)
    image_dir = Path(args.image_dir)
    images = find_images(image_dir)
    from paddle_pp.ocr import build_stage

    detector = build_stage("det", args.det_model_dir)
    prefix = args.image_dir if args.path_prefix is None else args.path_prefix
    lines = pseudo_label(images, image_dir, prefix, detector, args.min_boxes)
    if not lines:
        raise DataToolError(f"{image_dir}: the detector found no text in any image; nothing written")
    write_text_atomic(Path(args.out), "\n".join(lines) + "\n")
    print(f"{args.out}: {len(lines)} pseudo-labelled images", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

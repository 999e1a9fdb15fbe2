"""Detection precision / recall / hmean of a detector on a labelled set, cross-checked by a second metric.

    python deploy/eval_det.py --label_file train_data/det_msra_test.txt
    python deploy/eval_det.py --label_file train_data/det_sroie_val.txt --det_model_dir output/det_sroie/export

The same predictions are scored twice: by paddle_pp.metrics.det_metric (PaddleOCR's eval_det_iou protocol on
shapely polygons) and by an independent implementation written here from the ICDAR 2015 IoU protocol, with
polygon intersections from pyclipper instead of shapely. The two must agree; both are printed.
Detection runs at the evaluation resize of PaddleOCR's det configs (limit_type min, 736) unless told otherwise.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyclipper

from paddle_pp.utils.label_files import (format_det_label, is_dont_care, parse_det_label, read_label_lines,
                                         skip_malformed)



# ---- the independent implementation --------------------------------------------------------------------

_SCALE = 1000.0  # pyclipper works on integers: milli-pixels keep areas exact to ~1e-6 px^2


def _area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _intersection(a: np.ndarray, b: np.ndarray) -> float:
    clipper = pyclipper.Pyclipper()
    clipper.AddPath((a * _SCALE).round().astype(np.int64).tolist(), pyclipper.PT_SUBJECT, True)
    clipper.AddPath((b * _SCALE).round().astype(np.int64).tolist(), pyclipper.PT_CLIP, True)
    parts = clipper.Execute(pyclipper.CT_INTERSECTION, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)
    return sum(_area(np.asarray(p, dtype=np.float64)) for p in parts) / (_SCALE * _SCALE)


def independent_counts(gts: List[Tuple[np.ndarray, bool]], dets: List[np.ndarray]) -> Tuple[int, int, int]:
    """(matched, care ground truths, care detections) for one image."""
    dont_care_gt = [g for g, ignore in gts if ignore]
    care_gt = [g for g, ignore in gts if not ignore]
    care_det = []
    for d in dets:
        area = _area(d)
        inside_dont_care = any(area > 0 and _intersection(d, g) / area > 0.5 for g in dont_care_gt)
        if not inside_dont_care:
            care_det.append(d)
    # Greedy one-to-one in the given order, as the protocol's reference script does.
    gt_used, det_used, matched = set(), set(), 0
    for i, g in enumerate(care_gt):
        for j, d in enumerate(care_det):
            if i in gt_used or j in det_used:
                continue
            inter = _intersection(g, d)
            union = _area(g) + _area(d) - inter
            if union > 0 and inter / union > 0.5:
                gt_used.add(i)
                det_used.add(j)
                matched += 1
    return matched, len(care_gt), len(care_det)


def hmean_from_counts(matched: int, n_gt: int, n_det: int) -> Dict[str, float]:
    recall = matched / n_gt if n_gt else 0.0
    precision = matched / n_det if n_det else 0.0
    hmean = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "hmean": hmean}


# ---- running the detector ----------------------------------------------------------------------------------


def read_labels(label_file: Path, data_dir: Path) -> List[Tuple[Path, List[Tuple[np.ndarray, bool]]]]:
    items = []
    for line_number, path, label in read_label_lines(label_file, on_malformed=skip_malformed):
        boxes = [(np.asarray(b["points"], dtype=np.float64).reshape(-1, 2), is_dont_care(b["transcription"]))
                 for b in parse_det_label(label, f"{label_file}:{line_number}")]
        items.append((data_dir / path, boxes))
    return items


def main(argv: Optional[Sequence[str]] = None) -> int:
    from tqdm import tqdm

    from paddle_pp.metrics.det_metric import DetectionIoUEvaluator
    from paddle_pp.ocr import build_stage
    from paddle_pp.utils.image_io import ImageReadError, read_image

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label_file", required=True)
    parser.add_argument("--data_dir", default="./", help="label paths are relative to this")
    parser.add_argument("--det_model_dir", default=None)
    parser.add_argument("--slim", action="store_true", help="the pruned detector, as PPOCR(slim=True) runs it")
    parser.add_argument("--engine", default=None)
    parser.add_argument("--det_limit_side_len", type=int, default=736)
    parser.add_argument("--det_limit_type", default="min")
    parser.add_argument("--save_preds", default=None, help="write the predictions as a detection label file")
    args = parser.parse_args(argv)

    detector = build_stage("det", args.det_model_dir, engine=args.engine, slim=args.slim or None,
                           det_limit_side_len=args.det_limit_side_len, det_limit_type=args.det_limit_type)
    evaluator = DetectionIoUEvaluator()
    ours, totals, lines, failures = [], [0, 0, 0], [], 0
    for path, gts in tqdm(read_labels(Path(args.label_file), Path(args.data_dir)), desc="eval det", unit="img"):
        try:
            dets = [np.asarray(b, dtype=np.float64) for b in detector(read_image(path))]
        except ImageReadError as exc:
            failures += 1
            tqdm.write(f"skipped: {exc}")
            continue
        ours.append(evaluator.evaluate_image([{"points": g, "ignore": ig} for g, ig in gts],
                                             [{"points": d} for d in dets]))
        for k, v in enumerate(independent_counts(gts, dets)):
            totals[k] += v
        lines.append(f"{path}\t" + format_det_label([{"transcription": "", "points": d.astype(int).tolist()} for d in dets]))
    a = evaluator.combine_results(ours)
    b = hmean_from_counts(*totals)
    print(f"images: {len(ours)} ({failures} unreadable)")
    print(f"paddle_pp DetMetric : precision {a['precision']:.4f}  recall {a['recall']:.4f}  hmean {a['hmean']:.4f}")
    print(f"independent (clipper): precision {b['precision']:.4f}  recall {b['recall']:.4f}  hmean {b['hmean']:.4f}")
    print(f"|hmean difference| = {abs(a['hmean'] - b['hmean']):.2e}")
    if args.save_preds:
        Path(args.save_preds).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0 if abs(a["hmean"] - b["hmean"]) <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Detection precision / recall / hmean of a detector on a labelled set, cross-checked by a second metric.

    python deploy/eval_det.py --label_file train_data/det_msra_test.txt
    python deploy/eval_det.py --label_file train_data/det_sroie_val.txt --det_model_dir output/det_sroie/export

The same predictions are scored twice: by paddle_pp.metrics.det_metric (PaddleOCR's eval_det_iou protocol on
shapely polygons) and by an independent implementation written here from the ICDAR 2015 IoU protocol, with
polygon intersections from pyclipper instead of shapely. The two must agree; both are printed.
It also prints how well each reading order (System.reading_order) keeps the label file's order of the lines, for
the matched detections and for the label boxes themselves (shuffled, then ordered): a measure for label files that
list a page's lines in reading order, as SROIE's mostly do.
Detection runs at the evaluation resize of PaddleOCR's det configs (limit_type min, 736), in one pass (no second,
zoomed pass for small text: --det_small_text_below 0), unless told otherwise.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyclipper

from paddle_pp.utils.label_files import (format_det_label, is_dont_care, no_image_found, parse_det_label,
                                         read_label_lines, skip_malformed)



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


def independent_matches(gts: List[Tuple[np.ndarray, bool]], dets: List[np.ndarray]) -> Dict[str, List[int]]:
    """Which boxes of one image count and which match, as indices into `gts` and `dets`: "care_gt", "care_det"
    (detections not inside a don't-care region), "matched_gt", "matched_det" (one-to-one, IoU > 0.5)."""
    care_gt = [i for i, (_, ignore) in enumerate(gts) if not ignore]
    dont_care_gt = [g for g, ignore in gts if ignore]
    care_det = []
    for j, d in enumerate(dets):
        area = _area(d)
        inside_dont_care = any(area > 0 and _intersection(d, g) / area > 0.5 for g in dont_care_gt)
        if not inside_dont_care:
            care_det.append(j)
    # Greedy one-to-one in the given order, as the protocol's reference script does.
    matched_gt: List[int] = []
    matched_det: List[int] = []
    for i in care_gt:
        g = gts[i][0]
        for j in care_det:
            if i in matched_gt or j in matched_det:
                continue
            d = dets[j]
            inter = _intersection(g, d)
            union = _area(g) + _area(d) - inter
            if union > 0 and inter / union > 0.5:
                matched_gt.append(i)
                matched_det.append(j)
    return {"care_gt": care_gt, "care_det": care_det, "matched_gt": matched_gt, "matched_det": matched_det}


def match_counts(found: Dict[str, List[int]]) -> Tuple[int, int, int]:
    """(matched, care ground truths, care detections) of one image's independent_matches."""
    return len(found["matched_gt"]), len(found["care_gt"]), len(found["care_det"])


def independent_counts(gts: List[Tuple[np.ndarray, bool]], dets: List[np.ndarray]) -> Tuple[int, int, int]:
    """(matched, care ground truths, care detections) for one image."""
    return match_counts(independent_matches(gts, dets))


# Colours (BGR) of --vis_dir: what the detector found, what it missed, and what does not count.
MATCHED, UNMATCHED, MISSED, IGNORED = (0, 170, 0), (0, 0, 230), (230, 120, 0), (160, 160, 160)


def draw_matches(image: np.ndarray, gts: List[Tuple[np.ndarray, bool]], dets: List[np.ndarray],
                 found: Optional[Dict[str, List[int]]] = None) -> np.ndarray:
    """The image with the evaluation drawn on it: ground-truth lines the detector missed (blue), detections that
    match a line (green) or none (red), don't-care regions and the detections inside them (gray), and the
    image's counts in the top-left corner."""
    import cv2

    if found is None:   # else the matching already made for the scores
        found = independent_matches(gts, dets)
    out = np.ascontiguousarray(image.copy())
    thick = max(2, round(max(image.shape[:2]) / 500))

    def outline(box: np.ndarray, color: Tuple[int, int, int], width: int) -> None:
        cv2.polylines(out, [np.round(box).astype(np.int32).reshape(-1, 1, 2)], True, color, width, cv2.LINE_AA)

    for i, (g, ignore) in enumerate(gts):
        if ignore or i not in found["matched_gt"]:
            outline(g, IGNORED if ignore else MISSED, thick if ignore else 2 * thick)
    for j, d in enumerate(dets):
        care = j in found["care_det"]
        outline(d, (MATCHED if j in found["matched_det"] else UNMATCHED) if care else IGNORED, thick)
    matched, n_gt, n_det = match_counts(found)
    text = f"{matched} of {n_gt} lines found, {n_det - matched} of {n_det} boxes match none"
    scale = thick / 3
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.rectangle(out, (0, 0), (w + 2 * thick, h + base + 2 * thick), (255, 255, 255), -1)
    cv2.putText(out, text, (thick, h + thick), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return out


def label_order_kept(label_indices: Sequence[int]) -> Tuple[int, int, bool]:
    """Label lines in the order a reading order gives them -> (neighbours in label order, neighbours, whether
    all are): how well the order reads a page whose label file lists its lines in reading order."""
    pairs = list(zip(label_indices, label_indices[1:]))
    kept = sum(1 for a, b in pairs if a < b)
    return kept, len(pairs), kept == len(pairs)


class OrderScore:
    """label_order_kept summed over images, for one reading order."""

    def __init__(self) -> None:
        self.kept = self.pairs = self.exact = self.images = 0

    def add(self, label_indices: Sequence[int]) -> None:
        if len(label_indices) < 2:
            return
        kept, pairs, exact = label_order_kept(label_indices)
        self.kept, self.pairs, self.exact, self.images = (self.kept + kept, self.pairs + pairs, self.exact + exact,
                                                          self.images + 1)

    def __str__(self) -> str:
        share = self.kept / self.pairs if self.pairs else 0.0
        return f"{share:.4f} of neighbours, {self.exact}/{self.images} images exactly"


def score_reading_orders(scores: Dict[Tuple[str, str], OrderScore], gts: List[Tuple[np.ndarray, bool]],
                         dets: List[np.ndarray], found: Dict[str, List[int]], seed: int) -> None:
    """Add one image to `scores[(source, order)]`: its matched detections ("detections") and its own label boxes
    in a shuffled order ("label boxes") read in each reading order, against the order of the label file."""
    from paddle_pp.utils.reading_order import READING_ORDERS, order_boxes

    label_of = dict(zip(found["matched_det"], found["matched_gt"]))
    matched = sorted(label_of)
    care = [i for i, (_, ignore) in enumerate(gts) if not ignore]
    shuffled = [care[k] for k in np.random.default_rng(seed).permutation(len(care))]
    for order in READING_ORDERS:
        for source, boxes, labels in (("detections", [dets[j] for j in matched], [label_of[j] for j in matched]),
                                      ("label boxes", [gts[i][0] for i in shuffled], shuffled)):
            if len(boxes) < 2:
                continue
            index = {id(box): label for box, label in zip(boxes, labels)}
            scores[(source, order)].add([index[id(box)] for box in order_boxes(boxes, order)])


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
    from paddle_pp.pipeline import option_field, option_flags
    from paddle_pp.tools.utility import save_image, schema_flag
    from paddle_pp.utils.files import write_text_atomic
    from paddle_pp.utils.image_io import ImageReadError, read_image

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label_file", required=True)
    parser.add_argument("--data_dir", default="./", help="label paths are relative to this")
    parser.add_argument("--det_model_dir", default=None)
    parser.add_argument("--slim", action="store_true", help="the pruned detector, as PPOCR(slim=True) runs it")
    parser.add_argument("--engine", default=None)
    parser.add_argument("--det_limit_side_len", type=int, default=736)
    parser.add_argument("--det_limit_type", default="min")
    parser.add_argument("--det_small_text_below", default=0.0,
                        **schema_flag(option_field("det_small_text_below"), "det_small_text_below"), help="detect again, zoomed, an image whose text is found smaller than this (0: one pass, "
                             "as PaddleOCR evaluates; the system's default: det.yml's small_text_below)")
    parser.add_argument("--det_long_image_aspect", default=0.0,
                        **schema_flag(option_field("det_long_image_aspect"), "det_long_image_aspect"),
                        help="with --det_limit_type max, shrink an image longer than this many times its width "
                             "by its short side (0: never, as PaddleOCR evaluates; the system's default: det.yml's "
                             "long_image_aspect)")
    # the DB post-processing and the rest of the detector's Inference options (long-side cap, small images'
    # border); the resize itself defaults to the evaluation resize above, in one pass
    resize_flags = ("det_limit_side_len", "det_limit_type", "det_small_text_below", "det_long_image_aspect")
    model_flags = option_flags("det", "PostProcess") + tuple(
        flag for flag in option_flags("det", "Inference") if flag not in resize_flags)
    for flag in model_flags:
        parser.add_argument(f"--{flag}", default=None, **schema_flag(option_field(flag), flag),
                            help="as predict_det.py's (default: the model's config)")
    parser.add_argument("--save_preds", default=None, help="write the predictions as a detection label file")
    parser.add_argument("--vis_dir", default=None,
                        help="draw each image's evaluation here: lines found (green boxes), boxes matching no line "
                             "(red), lines missed (blue), don't-care regions (gray)")
    args = parser.parse_args(argv)

    items = read_labels(Path(args.label_file), Path(args.data_dir))
    problem = no_image_found(args.label_file, [path for path, _ in items], args.data_dir)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    detector = build_stage("det", args.det_model_dir, engine=args.engine, slim=args.slim or None,
                           **{flag: getattr(args, flag) for flag in model_flags},
                           det_limit_side_len=args.det_limit_side_len, det_limit_type=args.det_limit_type,
                           det_small_text_below=args.det_small_text_below,
                           det_long_image_aspect=args.det_long_image_aspect)
    evaluator = DetectionIoUEvaluator()
    ours, totals, lines, failures = [], [0, 0, 0], [], 0
    order_scores: Dict[Tuple[str, str], OrderScore] = defaultdict(OrderScore)
    drawn: set = set()
    for path, gts in tqdm(items, desc="eval det", unit="img"):
        try:
            image = read_image(path)
            dets = [np.asarray(b, dtype=np.float64) for b in detector(image)]
        except ImageReadError as exc:
            failures += 1
            tqdm.write(f"skipped: {exc}")
            continue
        ours.append(evaluator.evaluate_image([{"points": g, "ignore": ig} for g, ig in gts],
                                             [{"points": d} for d in dets]))
        found = independent_matches(gts, dets)
        for k, count in enumerate(match_counts(found)):
            totals[k] += count
        score_reading_orders(order_scores, gts, dets, found, seed=len(ours))
        lines.append(f"{path}\t" + format_det_label([{"transcription": "", "points": d.astype(int).tolist()} for d in dets]))
        if args.vis_dir:
            stem = path.stem if path.stem not in drawn else f"{path.stem}_{len(drawn)}"  # same names, other folders
            drawn.add(stem)
            save_image(Path(args.vis_dir) / f"{stem}.jpg", draw_matches(image, gts, dets, found))
    a = evaluator.combine_results(ours)
    b = hmean_from_counts(*totals)
    print(f"images: {len(ours)} ({failures} unreadable)")
    print(f"paddle_pp DetMetric : precision {a['precision']:.4f}  recall {a['recall']:.4f}  hmean {a['hmean']:.4f}")
    print(f"independent (clipper): precision {b['precision']:.4f}  recall {b['recall']:.4f}  hmean {b['hmean']:.4f}")
    print(f"|hmean difference| = {abs(a['hmean'] - b['hmean']):.2e}")
    print("reading order against the label file's order (neighbours kept in order):")
    for (source, order), score in sorted(order_scores.items()):
        print(f"  {source:<11} {order:<9}: {score}")
    if args.save_preds:
        write_text_atomic(args.save_preds, "\n".join(lines) + "\n")
    return 0 if abs(a["hmean"] - b["hmean"]) <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())

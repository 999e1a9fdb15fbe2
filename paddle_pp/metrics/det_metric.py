"""Detection precision / recall / hmean with the ICDAR 2015 IoU protocol, as PaddleOCR 2.x ``DetMetric``
(``eval_det_iou.py``'s ``DetectionIoUEvaluator``).

Per image: invalid polygons are dropped; a detection whose area lies by more than ``area_precision_constraint``
inside a don't-care ground-truth box is itself don't-care; then ground truths and detections (both in their given
order, care ones only) are matched greedily one-to-one when IoU > ``iou_constraint``. Counts are summed over the
whole set: recall = matched / care GT, precision = matched / care detections, hmean their harmonic mean.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence

import numpy as np
from shapely.geometry import Polygon

from paddle_pp.registry import METRICS


def _polygon(points: Any) -> Polygon:
    return Polygon(np.asarray(points, dtype=np.float64).reshape(-1, 2))


class DetectionIoUEvaluator:
    def __init__(self, iou_constraint: float = 0.5, area_precision_constraint: float = 0.5) -> None:
        self.iou_constraint = iou_constraint
        self.area_precision_constraint = area_precision_constraint

    def evaluate_image(self, gt: Sequence[Mapping[str, Any]], pred: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        """``gt``: [{'points', 'ignore'}]; ``pred``: [{'points'}]. Returns this image's counts and pairs."""
        gt_pols: List[Polygon] = []
        gt_dont_care: List[int] = []
        for item in gt:
            poly = _polygon(item["points"])
            if not poly.is_valid:
                continue
            gt_pols.append(poly)
            if item.get("ignore", False):
                gt_dont_care.append(len(gt_pols) - 1)

        det_pols: List[Polygon] = []
        det_dont_care: List[int] = []
        for item in pred:
            poly = _polygon(item["points"])
            if not poly.is_valid:
                continue
            det_pols.append(poly)
            if gt_dont_care:
                area = poly.area
                for g in gt_dont_care:
                    inter = gt_pols[g].intersection(poly).area
                    precision = 0.0 if area == 0 else inter / area
                    if precision > self.area_precision_constraint:
                        det_dont_care.append(len(det_pols) - 1)
                        break

        det_matched = 0
        pairs = []
        iou_mat = np.zeros((len(gt_pols), len(det_pols)))
        if gt_pols and det_pols:
            for i, pg in enumerate(gt_pols):
                for j, pd in enumerate(det_pols):
                    union = pd.union(pg).area
                    iou_mat[i, j] = 0.0 if union == 0 else pd.intersection(pg).area / union
            gt_taken = np.zeros(len(gt_pols), dtype=bool)
            det_taken = np.zeros(len(det_pols), dtype=bool)
            for i in range(len(gt_pols)):
                for j in range(len(det_pols)):
                    if gt_taken[i] or det_taken[j] or i in gt_dont_care or j in det_dont_care:
                        continue
                    if iou_mat[i, j] > self.iou_constraint:
                        gt_taken[i] = True
                        det_taken[j] = True
                        det_matched += 1
                        pairs.append({"gt": i, "det": j})
        return {"gtCare": len(gt_pols) - len(gt_dont_care), "detCare": len(det_pols) - len(det_dont_care),
                "detMatched": det_matched, "pairs": pairs, "iouMat": iou_mat,
                "gtDontCare": gt_dont_care, "detDontCare": det_dont_care}

    @staticmethod
    def combine_results(results: Sequence[Mapping[str, Any]]) -> Dict[str, float]:
        care_gt = sum(r["gtCare"] for r in results)
        care_det = sum(r["detCare"] for r in results)
        matched = sum(r["detMatched"] for r in results)
        recall = 0.0 if care_gt == 0 else matched / care_gt
        precision = 0.0 if care_det == 0 else matched / care_det
        hmean = 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)
        return {"precision": precision, "recall": recall, "hmean": hmean}


@METRICS.register("DetMetric")
class DetMetric:
    """``metric(preds, batch)``: ``preds`` is a list (one per image) of [K, 4, 2] boxes (or {'points': ...});
    ``batch`` holds 'polys' (list of [K, 4, 2]) and 'ignore_tags' (list of [K] bools)."""

    def __init__(self, main_indicator: str = "hmean", iou_constraint: float = 0.5,
                 area_precision_constraint: float = 0.5) -> None:
        self.main_indicator = main_indicator
        self.evaluator = DetectionIoUEvaluator(iou_constraint, area_precision_constraint)
        self.reset()

    def __call__(self, preds: Sequence[Any], batch: Mapping[str, Any]) -> None:
        for pred, gt_polys, ignore_tags in zip(preds, batch["polys"], batch["ignore_tags"]):
            if isinstance(pred, Mapping):
                pred = pred["points"]
            gt_polys = _to_numpy(gt_polys)
            ignore_tags = _to_numpy(ignore_tags).reshape(-1)
            gt_info = [{"points": p, "ignore": bool(t)} for p, t in zip(gt_polys, ignore_tags)]
            det_info = [{"points": p} for p in pred]
            self.results.append(self.evaluator.evaluate_image(gt_info, det_info))

    def get_metric(self) -> Dict[str, float]:
        metrics = self.evaluator.combine_results(self.results)
        self.reset()
        return metrics

    def reset(self) -> None:
        self.results: List[Dict[str, Any]] = []


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x)

"""MakeShrinkMap: DB's probability target. Each text polygon shrunk by D = A * (1 - r^2) / L (pyclipper,
round joins) is filled with 1; ignored, tiny (< min_text_size) or unshrinkable polygons are zeroed in the mask.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import cv2
import numpy as np
import pyclipper
from shapely.geometry import Polygon

from paddle_pp.data.imaug.base import DataOp
from paddle_pp.registry import TRANSFORMS


def polygon_signed_area(poly: np.ndarray) -> float:
    """PaddleOCR's sum of (x[i+1] - x[i]) * (y[i+1] + y[i]) / 2, i.e. minus the shoelace area (only the sign
    and magnitude are used: polygons with a positive value are reversed)."""
    x, y = poly[:, 0], poly[:, 1]
    return float(0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) * -1.0


def shrink_polygon(poly: np.ndarray, ratio: float) -> List[np.ndarray]:
    shape = Polygon(poly)
    if shape.length == 0:
        return []
    distance = shape.area * (1 - ratio ** 2) / shape.length
    offset = pyclipper.PyclipperOffset()
    offset.AddPath([tuple(p) for p in poly], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return [np.array(p).reshape(-1, 2) for p in offset.Execute(-distance)]


@TRANSFORMS.register()
class MakeShrinkMap(DataOp):
    reads = ("image", "polys", "ignore_tags")
    writes = ("shrink_map", "shrink_mask")

    def __init__(self, min_text_size: int = 8, shrink_ratio: float = 0.4):
        self.min_text_size = min_text_size
        self.shrink_ratio = float(shrink_ratio)

    def _validate(self, polys: np.ndarray, tags: np.ndarray, h: int, w: int) -> Tuple[List[np.ndarray], np.ndarray]:
        """Clip to the image; degenerate (|area| < 1) polygons become ignored; orient consistently."""
        out = []
        for i, poly in enumerate(polys):
            poly = poly.copy()
            poly[:, 0] = np.clip(poly[:, 0], 0, w - 1)
            poly[:, 1] = np.clip(poly[:, 1], 0, h - 1)
            area = polygon_signed_area(poly)
            if abs(area) < 1:
                tags[i] = True
            if area > 0:
                poly = poly[::-1, :]
            out.append(poly)
        return out, tags

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        h, w = data["image"].shape[:2]
        polys = np.asarray(data["polys"], dtype=np.float32)
        if polys.size == 0:
            polys = polys.reshape(0, 4, 2)
        tags = np.array(data["ignore_tags"], dtype=bool).copy()
        polys, tags = self._validate(polys, tags, h, w)
        gt = np.zeros((h, w), dtype=np.float32)
        mask = np.ones((h, w), dtype=np.float32)
        for i, poly in enumerate(polys):
            height = poly[:, 1].max() - poly[:, 1].min()
            width = poly[:, 0].max() - poly[:, 0].min()
            if tags[i] or min(height, width) < self.min_text_size:
                cv2.fillPoly(mask, poly.astype(np.int32)[np.newaxis], 0)
                continue
            shrunk: List[np.ndarray] = []
            # a shrink that splits the polygon in pieces is retried with a gentler ratio (0.4, 0.8 for r=0.4)
            for ratio in np.arange(self.shrink_ratio, 1, self.shrink_ratio):
                shrunk = shrink_polygon(poly, ratio)
                if len(shrunk) == 1:
                    break
            if not shrunk:
                cv2.fillPoly(mask, poly.astype(np.int32)[np.newaxis], 0)
                continue
            for piece in shrunk:
                cv2.fillPoly(gt, [piece.astype(np.int32)], 1)
        data["shrink_map"] = gt
        data["shrink_mask"] = mask
        return data

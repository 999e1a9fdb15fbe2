"""MakeBorderMap: DB's threshold target.

Each cared-for polygon is dilated by D = A * (1 - r^2) / L; inside the dilated polygon the map is
1 - min(1, dist_to_polygon_edge / D), later rescaled to [thresh_min, thresh_max]; the mask is 1 inside the
dilated polygons. The point-to-edge distance follows PaddleOCR's formula (distance to the edge's line, or to
the nearer end point when the angle the edge subtends at the pixel is acute), which the weights were
trained with.
"""
from __future__ import annotations

from typing import Any, Dict

import cv2
import numpy as np
import pyclipper
from shapely.geometry import Polygon

from paddle_pp.data.imaug.base import DataOp
from paddle_pp.registry import TRANSFORMS


def edge_distance(xs: np.ndarray, ys: np.ndarray, p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    d1 = np.square(xs - p1[0]) + np.square(ys - p1[1])
    d2 = np.square(xs - p2[0]) + np.square(ys - p2[1])
    d12 = np.square(p1[0] - p2[0]) + np.square(p1[1] - p2[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        cosin = (d12 - d1 - d2) / (2 * np.sqrt(d1 * d2))
        square_sin = np.nan_to_num(1 - np.square(cosin))
        result = np.sqrt(d1 * d2 * square_sin / d12)
    acute = cosin < 0
    result[acute] = np.sqrt(np.fmin(d1, d2))[acute]
    return np.nan_to_num(result)


@TRANSFORMS.register()
class MakeBorderMap(DataOp):
    reads = ("image", "polys", "ignore_tags")
    writes = ("threshold_map", "threshold_mask")

    def __init__(self, shrink_ratio: float = 0.4, thresh_min: float = 0.3, thresh_max: float = 0.7):
        self.shrink_ratio = float(shrink_ratio)
        self.thresh_min = float(thresh_min)
        self.thresh_max = float(thresh_max)

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        h, w = data["image"].shape[:2]
        canvas = np.zeros((h, w), dtype=np.float32)
        mask = np.zeros((h, w), dtype=np.float32)
        for poly, tag in zip(data["polys"], data["ignore_tags"]):
            if not tag:
                self.draw_border_map(np.array(poly, dtype=np.float64), canvas, mask)
        data["threshold_map"] = canvas * (self.thresh_max - self.thresh_min) + self.thresh_min
        data["threshold_mask"] = mask
        return data

    def draw_border_map(self, polygon: np.ndarray, canvas: np.ndarray, mask: np.ndarray) -> None:
        shape = Polygon(polygon)
        if shape.area <= 0 or shape.length == 0:
            return
        distance = shape.area * (1 - self.shrink_ratio ** 2) / shape.length
        offset = pyclipper.PyclipperOffset()
        offset.AddPath([tuple(p) for p in polygon], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        dilated = offset.Execute(distance)
        if not dilated:
            return
        padded = np.array(dilated[0])
        cv2.fillPoly(mask, [padded.astype(np.int32)], 1.0)

        xmin, xmax = int(padded[:, 0].min()), int(padded[:, 0].max())
        ymin, ymax = int(padded[:, 1].min()), int(padded[:, 1].max())
        width, height = xmax - xmin + 1, ymax - ymin + 1
        local = polygon - np.array([xmin, ymin])
        xs = np.broadcast_to(np.arange(width, dtype=np.float64).reshape(1, width), (height, width))
        ys = np.broadcast_to(np.arange(height, dtype=np.float64).reshape(height, 1), (height, width))
        dist = np.ones((height, width), dtype=np.float32)
        for i in range(len(local)):
            j = (i + 1) % len(local)
            d = np.clip(edge_distance(xs, ys, local[i], local[j]) / distance, 0, 1)
            dist = np.fmin(dist, d.astype(np.float32))

        x0, x1 = min(max(0, xmin), canvas.shape[1] - 1), min(max(0, xmax), canvas.shape[1] - 1)
        y0, y1 = min(max(0, ymin), canvas.shape[0] - 1), min(max(0, ymax), canvas.shape[0] - 1)
        region = 1 - dist[y0 - ymin:y1 - ymin + 1, x0 - xmin:x1 - xmin + 1]
        canvas[y0:y1 + 1, x0:x1 + 1] = np.fmax(region, canvas[y0:y1 + 1, x0:x1 + 1])

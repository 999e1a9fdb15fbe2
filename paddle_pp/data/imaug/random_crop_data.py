"""EastRandomCropData: a random crop whose edges run only through text-free rows and columns.

Crop edges are picked among rows/columns that no (cared-for) text box covers, so a box is either wholly
inside the crop or wholly outside; the crop is retried until it holds at least one box, then scaled into
``size`` (padding at the bottom/right when keep_ratio). Boxes outside the crop are dropped.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import cv2
import numpy as np

from paddle_pp.data.imaug.base import DataOp
from paddle_pp.registry import TRANSFORMS


def is_poly_outside_rect(poly: np.ndarray, x: float, y: float, w: float, h: float) -> bool:
    poly = np.asarray(poly)
    if poly[:, 0].max() < x or poly[:, 0].min() > x + w:
        return True
    if poly[:, 1].max() < y or poly[:, 1].min() > y + h:
        return True
    return False


def _runs(axis: np.ndarray) -> List[np.ndarray]:
    """Split sorted indices into runs of consecutive values."""
    if axis.size == 0:
        return []
    breaks = np.where(np.diff(axis) != 1)[0] + 1
    return np.split(axis, breaks)


def _select_pair(axis: np.ndarray, runs: List[np.ndarray], max_size: int) -> Tuple[int, int]:
    if len(runs) > 1:  # pick two runs, one position in each: the crop spans at least one text band
        picks = [int(np.random.choice(runs[i])) for i in np.random.choice(len(runs), 2)]
    else:
        picks = [int(v) for v in np.random.choice(axis, size=2)]
    lo, hi = min(picks), max(picks)
    return int(np.clip(lo, 0, max_size - 1)), int(np.clip(hi, 0, max_size - 1))


def crop_area(img_hw: Tuple[int, int], polys: Sequence[np.ndarray], min_crop_side_ratio: float,
              max_tries: int) -> Tuple[int, int, int, int]:
    h, w = img_hw
    h_used = np.zeros(h, dtype=np.int32)
    w_used = np.zeros(w, dtype=np.int32)
    for points in polys:
        points = np.round(points, decimals=0).astype(np.int32)
        w_used[max(points[:, 0].min(), 0):max(points[:, 0].max(), 0)] = 1
        h_used[max(points[:, 1].min(), 0):max(points[:, 1].max(), 0)] = 1
    h_axis = np.where(h_used == 0)[0]
    w_axis = np.where(w_used == 0)[0]
    if len(h_axis) == 0 or len(w_axis) == 0:
        return 0, 0, w, h
    h_runs, w_runs = _runs(h_axis), _runs(w_axis)
    for _ in range(max_tries):
        xmin, xmax = _select_pair(w_axis, w_runs, w)
        ymin, ymax = _select_pair(h_axis, h_runs, h)
        if xmax - xmin < min_crop_side_ratio * w or ymax - ymin < min_crop_side_ratio * h:
            continue
        if any(not is_poly_outside_rect(p, xmin, ymin, xmax - xmin, ymax - ymin) for p in polys):
            return xmin, ymin, xmax - xmin, ymax - ymin
    return 0, 0, w, h


@TRANSFORMS.register()
class EastRandomCropData(DataOp):
    reads = ("image", "polys", "ignore_tags", "texts")
    writes = ("image", "polys", "ignore_tags", "texts")

    def __init__(self, size: Sequence[int] = (640, 640), max_tries: int = 10, min_crop_side_ratio: float = 0.1,
                 keep_ratio: bool = True):
        self.size = (int(size[0]), int(size[1]))  # (width, height) as PaddleOCR
        self.max_tries = int(max_tries)
        self.min_crop_side_ratio = float(min_crop_side_ratio)
        self.keep_ratio = bool(keep_ratio)

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        img = data["image"]
        polys = np.asarray(data["polys"], dtype=np.float32)
        tags = np.asarray(data["ignore_tags"], dtype=bool)
        texts = list(data["texts"])
        care = [p for p, tag in zip(polys, tags) if not tag]
        x, y, cw, ch = crop_area(img.shape[:2], care, self.min_crop_side_ratio, self.max_tries)
        scale = min(self.size[0] / cw, self.size[1] / ch)
        h, w = int(ch * scale), int(cw * scale)
        crop = img[y:y + ch, x:x + cw]
        if self.keep_ratio:
            out = np.zeros((self.size[1], self.size[0]) + img.shape[2:], dtype=img.dtype)
            out[:h, :w] = cv2.resize(crop, (w, h)).reshape((h, w) + img.shape[2:])
        else:
            out = cv2.resize(crop, self.size)
            h, w = self.size[1], self.size[0]
            scale_xy = np.array([self.size[0] / cw, self.size[1] / ch], dtype=np.float32)
        keep_polys, keep_tags, keep_texts = [], [], []
        for poly, text, tag in zip(polys, texts, tags):
            offset = poly - np.array([x, y], dtype=np.float32)
            moved = offset * (scale if self.keep_ratio else scale_xy)
            if not is_poly_outside_rect(moved, 0, 0, w, h):
                keep_polys.append(moved)
                keep_tags.append(tag)
                keep_texts.append(text)
        data["image"] = out
        n = polys.shape[1] if polys.ndim == 3 else 4
        data["polys"] = np.array(keep_polys, dtype=np.float32).reshape(-1, n, 2)
        data["ignore_tags"] = np.array(keep_tags, dtype=bool)
        data["texts"] = keep_texts
        return data

"""DB (Differentiable Binarization) post-processing, exact to PaddleOCR 2.x.

Mirrors ``ppocr/postprocess/db_postprocess.py`` (``DBPostProcess``) and the
box filtering of ``tools/infer/predict_det.py``. Every step that affects the
final integer coordinates (float32 arithmetic, ``np.round``, floor/ceil of the
score window, pyclipper round joins, truncating ``int()`` casts) is kept as in
the reference so that the same probability map gives the same boxes.

One step is ours (PaddleOCR has none; off unless given, 0 = off): ``nested_thresh`` drops a box when more than
that fraction of its area lies inside a larger box of the same image (``drop_nested``). A detector that splits a line
also leaves small blobs inside the lines it finds; each is a false detection.
"""
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import pyclipper
from shapely.geometry import Polygon

from paddle_pp.defaults import DB_SCORE_MODES


def get_mini_boxes(contour: np.ndarray) -> Tuple[np.ndarray, float]:
    """Minimum-area rectangle of a contour as 4 float32 points plus its short side.

    Point order follows PaddleOCR: stable-sort the ``cv2.boxPoints`` corners by x,
    then take (top-left, top-right, bottom-right, bottom-left) by comparing y within
    the left pair and the right pair.
    """
    rect = cv2.minAreaRect(contour)
    corners = cv2.boxPoints(rect)  # float32 [4, 2]
    pts = corners[np.argsort(corners[:, 0], kind="stable")]
    if pts[1, 1] > pts[0, 1]:
        i1, i4 = 0, 1
    else:
        i1, i4 = 1, 0
    if pts[3, 1] > pts[2, 1]:
        i2, i3 = 2, 3
    else:
        i2, i3 = 3, 2
    box = pts[[i1, i2, i3, i4]]
    return box, min(rect[1])


def box_score_fast(pred: np.ndarray, box: np.ndarray) -> float:
    """Mean probability inside the (quadrilateral) box, computed on its bounding window.

    Cheaper than the polygon score; the window uses floor/ceil of the box extent
    clipped to the map, and the polygon is rasterised with truncated int32 points.
    """
    h, w = pred.shape[:2]
    box = np.array(box, dtype=np.float32).reshape(-1, 2)
    xmin = int(np.clip(np.floor(box[:, 0].min()), 0, w - 1))
    xmax = int(np.clip(np.ceil(box[:, 0].max()), 0, w - 1))
    ymin = int(np.clip(np.floor(box[:, 1].min()), 0, h - 1))
    ymax = int(np.clip(np.ceil(box[:, 1].max()), 0, h - 1))
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    shifted = box.copy()
    shifted[:, 0] = shifted[:, 0] - np.float32(xmin)
    shifted[:, 1] = shifted[:, 1] - np.float32(ymin)
    cv2.fillPoly(mask, shifted.reshape(1, -1, 2).astype(np.int32), 1)
    return cv2.mean(pred[ymin:ymax + 1, xmin:xmax + 1], mask)[0]


def box_score_slow(pred: np.ndarray, contour: np.ndarray) -> float:
    """Mean probability inside the contour polygon itself (better for curved blobs)."""
    h, w = pred.shape[:2]
    contour = np.reshape(contour.copy(), (-1, 2))
    xmin = int(np.clip(np.min(contour[:, 0]), 0, w - 1))
    xmax = int(np.clip(np.max(contour[:, 0]), 0, w - 1))
    ymin = int(np.clip(np.min(contour[:, 1]), 0, h - 1))
    ymax = int(np.clip(np.max(contour[:, 1]), 0, h - 1))
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    contour[:, 0] = contour[:, 0] - xmin
    contour[:, 1] = contour[:, 1] - ymin
    cv2.fillPoly(mask, contour.reshape(1, -1, 2).astype(np.int32), 1)
    return cv2.mean(pred[ymin:ymax + 1, xmin:xmax + 1], mask)[0]


def unclip(box: np.ndarray, unclip_ratio: float) -> List[np.ndarray]:
    """Expand a shrunk text box back to full size (Vatti offset, round joins).

    DB predicts a kernel shrunk by D = A(1 - r^2)/L during training; at inference
    it is grown by D' = A * unclip_ratio / L. Returns pyclipper's list of paths.
    """
    poly = Polygon(box)
    distance = poly.area * unclip_ratio / poly.length
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(box, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return offset.Execute(distance)


def check_score_mode(score_mode: str) -> str:
    """`score_mode` when DB knows it (fast: the mean of the map in the box's rectangle; slow: in the traced region
    itself), else a ValueError."""
    if score_mode not in DB_SCORE_MODES:
        raise ValueError(f"score_mode must be 'slow' or 'fast', got {score_mode!r}")
    return score_mode


class DBPostProcess:
    """Turn DB probability maps into quadrilateral text boxes in source-image pixels."""

    def __init__(self, thresh: float = 0.3, box_thresh: float = 0.6, max_candidates: int = 1000,
                 unclip_ratio: float = 1.5, use_dilation: bool = False, score_mode: str = "fast",
                 nested_thresh: Optional[float] = None):
        self.thresh = thresh
        self.box_thresh = box_thresh
        self.max_candidates = max_candidates
        self.unclip_ratio = unclip_ratio
        self.min_size = 3
        self.score_mode = check_score_mode(score_mode)
        self.nested_thresh = nested_thresh   # None or 0: keep nested boxes (PaddleOCR)
        self.dilation_kernel: Optional[np.ndarray] = (
            np.array([[1, 1], [1, 1]], dtype=np.uint8) if use_dilation else None)

    def boxes_from_bitmap(self, pred: np.ndarray, bitmap: np.ndarray, dest_width: float,
                          dest_height: float, unclip_ratio: Optional[float] = None,
                          score_mode: Optional[str] = None) -> Tuple[np.ndarray, List[float]]:
        """Boxes (int32 [K, 4, 2], source coordinates) and their scores from one map.

        ``pred`` is the HxW float32 probability map, ``bitmap`` its binarization; ``unclip_ratio`` and
        ``score_mode`` replace the configured ones for this map.
        """
        unclip_ratio = self.unclip_ratio if unclip_ratio is None else unclip_ratio
        score_mode = self.score_mode if score_mode is None else check_score_mode(score_mode)
        height, width = bitmap.shape
        # A 0/1 uint8 copy: findContours only tests pixels for non-zero, so this finds the same contours as
        # the reference's (bitmap * 255) without its int64 temporary (0.4 ms per 960x736 map).
        outs = cv2.findContours(bitmap.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        contours = outs[0] if len(outs) == 2 else outs[1]
        num_contours = min(len(contours), self.max_candidates)
        # The rescale runs in float32 exactly as the reference (float32 box / int * float).
        scale_x = np.float32(dest_width)
        scale_y = np.float32(dest_height)
        boxes: List[np.ndarray] = []
        scores: List[float] = []
        for index in range(num_contours):
            contour = contours[index]
            points, sside = get_mini_boxes(contour)
            if sside < self.min_size:
                continue
            if score_mode == "fast":
                score = box_score_fast(pred, points)
            else:
                score = box_score_slow(pred, contour)
            if self.box_thresh > score:
                continue
            paths = unclip(points, unclip_ratio)
            if len(paths) != 1:
                # A convex quad always offsets to one path; anything else is degenerate.
                continue
            expanded = np.array(paths[0], dtype=np.int64).astype(np.int32).reshape(-1, 1, 2)
            box, sside = get_mini_boxes(expanded)
            if sside < self.min_size + 2:
                continue
            box = box.copy()
            box[:, 0] = np.clip(np.round(box[:, 0] / np.float32(width) * scale_x), 0, scale_x)
            box[:, 1] = np.clip(np.round(box[:, 1] / np.float32(height) * scale_y), 0, scale_y)
            boxes.append(box.astype(np.int32))
            scores.append(float(score))
        if not boxes:
            return np.zeros((0, 4, 2), dtype=np.int32), scores
        return np.stack(boxes).astype(np.int32), scores

    def __call__(self, pred: Union[np.ndarray, dict], shape_list: np.ndarray, unclip_ratio: Optional[float] = None,
                 score_mode: Optional[str] = None) -> List[np.ndarray]:
        """Boxes per image. ``pred``: [N, 1, H, W] or [N, H, W] (or {'maps': ...}); ``shape_list``: [N, 4];
        ``unclip_ratio``, ``score_mode``: this call's instead of the configured ones."""
        if isinstance(pred, dict):
            pred = pred["maps"]
        pred = np.asarray(pred)
        if pred.ndim == 4:
            pred = pred[:, 0, :, :]
        if pred.ndim != 3:
            raise ValueError(f"pred must be [N,1,H,W] or [N,H,W], got shape {pred.shape}")
        shape_list = np.asarray(shape_list).reshape(-1, 4)
        if shape_list.shape[0] != pred.shape[0]:
            raise ValueError(f"{pred.shape[0]} maps but {shape_list.shape[0]} shape rows")
        segmentation = pred > self.thresh
        result = []
        for i in range(pred.shape[0]):
            src_h, src_w = shape_list[i][0], shape_list[i][1]
            if self.dilation_kernel is not None:
                mask = cv2.dilate(segmentation[i].astype(np.uint8), self.dilation_kernel)
            else:
                mask = segmentation[i]
            boxes, _ = self.boxes_from_bitmap(pred[i], mask, src_w, src_h, unclip_ratio, score_mode)
            if self.nested_thresh:
                boxes = boxes[drop_nested(boxes, self.nested_thresh)]
            result.append(boxes)
        return result


def drop_nested(boxes: np.ndarray, nested_thresh: float) -> np.ndarray:
    """Indices of the boxes to keep ([K, 4, 2] convex quadrilaterals): a box goes when more than `nested_thresh`
    of its area lies inside a box of larger area. Every box is compared with all the others, dropped or not, so
    the order of the boxes does not matter. The C++ demo (db_postprocess.cc DropNested) computes the same with
    the same OpenCV calls."""
    quads = [np.ascontiguousarray(b, dtype=np.float32).reshape(-1, 2) for b in boxes]
    areas = np.array([abs(float(cv2.contourArea(q))) for q in quads], dtype=np.float64)
    low = np.array([q.min(0) for q in quads]).reshape(-1, 2)
    high = np.array([q.max(0) for q in quads]).reshape(-1, 2)
    keep = []
    for i, quad in enumerate(quads):
        # only larger boxes whose bounding boxes touch this one's can hold it (the box itself is not larger)
        larger = np.flatnonzero((areas > areas[i]) & np.all(low <= high[i], axis=1) & np.all(high >= low[i], axis=1))
        if not any(cv2.intersectConvexConvex(quad, quads[j])[0] > nested_thresh * areas[i] for j in larger):
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def order_points_clockwise(pts: np.ndarray) -> np.ndarray:
    """Order 4 points as (top-left, top-right, bottom-right, bottom-left), float32.

    The imutils rule used by PaddleOCR 2.x predict_det: split by x into left and
    right pairs, then order each pair by y.
    """
    pts = np.asarray(pts)
    x_sorted = pts[np.argsort(pts[:, 0]), :]
    left = x_sorted[:2, :]
    right = x_sorted[2:, :]
    tl, bl = left[np.argsort(left[:, 1]), :]
    tr, br = right[np.argsort(right[:, 1]), :]
    return np.array([tl, tr, br, bl], dtype="float32")


def clip_det_res(points: np.ndarray, img_height: int, img_width: int) -> np.ndarray:
    """Clip points into the image and truncate to integers (values stay in the input dtype)."""
    points = np.array(points, copy=True)
    for pno in range(points.shape[0]):
        points[pno, 0] = int(min(max(points[pno, 0], 0), img_width - 1))
        points[pno, 1] = int(min(max(points[pno, 1], 0), img_height - 1))
    return points


def filter_tag_det_res(dt_boxes: Union[np.ndarray, Sequence[np.ndarray]],
                       image_shape: Sequence[int]) -> np.ndarray:
    """predict_det's final step: order, clip, drop boxes with width or height <= 3.

    Returns float32 [K, 4, 2] (shape (0, 4, 2) when nothing survives).
    """
    img_height, img_width = image_shape[0:2]
    kept = []
    for box in dt_boxes:
        box = order_points_clockwise(box)
        box = clip_det_res(box, img_height, img_width)
        rect_width = int(np.linalg.norm(box[0] - box[1]))
        rect_height = int(np.linalg.norm(box[0] - box[3]))
        if rect_width <= 3 or rect_height <= 3:
            continue
        kept.append(box)
    if not kept:
        return np.zeros((0, 4, 2), dtype=np.float32)
    return np.stack(kept).astype(np.float32)

"""Text-line cropping of the PP-OCR system (PaddleOCR 2.x predict_system); the order of the boxes is
utils/reading_order.py's."""
from typing import Tuple

import cv2
import numpy as np


def get_rotate_crop_image(img: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Rectify a quadrilateral (tl, tr, br, bl) into an upright crop by perspective warp.

    Size is int() of the longer opposite edges; crops at least 1.5x taller than wide
    are rotated 90 degrees counter-clockwise, as vertical lines are read sideways.
    """
    points = np.asarray(points, dtype=np.float32).reshape(4, 2)
    crop_w, crop_h = crop_size(points)
    if crop_w <= 0 or crop_h <= 0:
        raise ValueError(f"degenerate box gives an empty crop ({crop_w}x{crop_h}): {points.tolist()}")
    pts_std = np.float32([[0, 0], [crop_w, 0], [crop_w, crop_h], [0, crop_h]])
    matrix = cv2.getPerspectiveTransform(points, pts_std)
    dst = cv2.warpPerspective(img, matrix, (crop_w, crop_h), borderMode=cv2.BORDER_REPLICATE,
                              flags=cv2.INTER_CUBIC)
    if is_turned_sideways(crop_w, crop_h):
        dst = np.rot90(dst)
    return dst


def crop_size(points: np.ndarray) -> Tuple[int, int]:
    """(width, height) of a box's rectified crop before any turn: int() of the longer opposite edges."""
    points = np.asarray(points, dtype=np.float32).reshape(4, 2)
    crop_w = int(max(np.linalg.norm(points[0] - points[1]), np.linalg.norm(points[2] - points[3])))
    crop_h = int(max(np.linalg.norm(points[0] - points[3]), np.linalg.norm(points[1] - points[2])))
    return crop_w, crop_h


def is_turned_sideways(crop_w: int, crop_h: int) -> bool:
    """Crops at least 1.5x taller than wide are turned 90 degrees counter-clockwise (vertical lines read sideways)."""
    return crop_h * 1.0 / crop_w >= 1.5


def crop_to_image(points: np.ndarray, xy: np.ndarray, flipped: bool = False) -> np.ndarray:
    """Points [N, 2] in a box's crop as recognized (after the 90-degree turn of get_rotate_crop_image and, when
    `flipped`, the classifier's 180-degree turn) -> the same points in the source image.

    Undoes the turns, then the perspective warp (the homography from the crop's corners back to the box's)."""
    points = np.asarray(points, dtype=np.float32).reshape(4, 2)
    crop_w, crop_h = crop_size(points)
    sideways = is_turned_sideways(crop_w, crop_h)
    width, height = (crop_h, crop_w) if sideways else (crop_w, crop_h)  # of the crop as recognized
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2).copy()
    if flipped:
        xy[:, 0], xy[:, 1] = width - xy[:, 0], height - xy[:, 1]
    if sideways:  # np.rot90 (counter-clockwise) took (x, y) of the warp to (y, crop_w - x)
        xy[:, 0], xy[:, 1] = crop_w - xy[:, 1], xy[:, 0].copy()
    pts_std = np.float32([[0, 0], [crop_w, 0], [crop_w, crop_h], [0, crop_h]])
    back = cv2.getPerspectiveTransform(pts_std, points)
    return cv2.perspectiveTransform(xy.reshape(-1, 1, 2), back).reshape(-1, 2)

"""Lines of large text split at their spaces, joined where DB sees them whole from further away (det.yml's
Inference.large_text_above and large_text_height; ours, PaddleOCR has none).

The mobile DB detector links the words of a line into one region when they are small at its input, and often
splits a line of large text at its spaces: a slide's title, a poster's slogan, a shop sign, each word its own box
(the recognizer then reads words, and a line's words come back as separate lines). The first pass's boxes show
where that may have happened: two large boxes (at least `above` px high at the network's input) that are
neighbours on one line (NEIGHBOURS). The image is then detected once more, shrunk so that the median height of
those boxes comes to `height` px, where DB sees such lines whole (pipeline.TextDetector.detect). A box of that far
pass replaces the first pass's boxes whose centres it holds when they are two or more, each the next one's
neighbour along it, one of them large, and the far box is no taller than FAR_TALLER times the tallest of them (not
two lines seen as one). Every other box of the first pass stands, and the far pass's other boxes are dropped:
it only joins what the first pass found.
The C++ demo (deploy/lite/cpp/src/det_join.cc) computes the same with the same OpenCV call.
"""
import math
from typing import List, NamedTuple, Sequence, Tuple

import cv2
import numpy as np

from paddle_pp.utils.crop import crop_size

# Two boxes are neighbours on one line when their heights are within HEIGHT_RATIO times, their lines point the
# same way within MAX_TURN degrees, their centres are at most ACROSS of the lower height apart across the line,
# and the gap between their ends along it is at most GAP of that height (negative: they overlap).
HEIGHT_RATIO = 1.5
MAX_TURN = 10.0
ACROSS = 0.5
GAP = 0.5
# A far box taller than this many times the tallest box it joins holds two lines, not one.
FAR_TALLER = 1.5
# The far pass's long side is never under this (the detector's smallest input side).
MIN_FAR_SIDE = 32


class Geometry(NamedTuple):
    """Boxes measured once, in double precision (box_geometries)."""
    centre: np.ndarray   # [K, 2]: the mean of the corners
    unit: np.ndarray     # [K, 2]: the unit vector along the line (the mean of the top and bottom edges as vectors)
    length: np.ndarray   # [K]: the length of that mean edge
    height: np.ndarray   # [K]: the mean length of the side edges


# neighbours point the same way when the cosine of the angle between them is at least this
_SAME_WAY = math.cos(MAX_TURN * (math.pi / 180.0))


def box_geometries(boxes: Sequence[np.ndarray]) -> Geometry:
    """The Geometry of boxes (tl, tr, br, bl), with the C++ demo's arithmetic (det_join.cc's GeometryOf)."""
    p = np.asarray(boxes, dtype=np.float32).reshape(-1, 4, 2).astype(np.float64)
    along = ((p[:, 1] - p[:, 0]) + (p[:, 2] - p[:, 3])) / 2.0
    length = np.hypot(along[:, 0], along[:, 1])
    unit = np.where((length > 0.0)[:, None], along / np.where(length > 0.0, length, 1.0)[:, None], [1.0, 0.0])
    left, right = p[:, 3] - p[:, 0], p[:, 2] - p[:, 1]
    height = (np.hypot(left[:, 0], left[:, 1]) + np.hypot(right[:, 0], right[:, 1])) / 2.0
    centre = (p[:, 0] + p[:, 1] + p[:, 2] + p[:, 3]) / 4.0
    return Geometry(centre, unit, length, height)


def box_geometry(box: np.ndarray) -> Tuple[np.ndarray, np.ndarray, float, float]:
    """(centre, unit vector along the line, length, height) of one box (box_geometries)."""
    g = box_geometries([box])
    return g.centre[0], g.unit[0], float(g.length[0]), float(g.height[0])


def neighbours_of(g: Geometry, i: int, others: np.ndarray) -> np.ndarray:
    """Whether box i and each of the boxes `others` (indices into `g`) are neighbours on one line, measured along
    box i's line (HEIGHT_RATIO, MAX_TURN, ACROSS, GAP)."""
    low, high = np.minimum(g.height[i], g.height[others]), np.maximum(g.height[i], g.height[others])
    ux, uy = g.unit[i]
    same_way = np.abs(ux * g.unit[others, 0] + uy * g.unit[others, 1]) >= _SAME_WAY
    dx, dy = g.centre[others, 0] - g.centre[i, 0], g.centre[others, 1] - g.centre[i, 1]
    across = np.abs(dx * -uy + dy * ux)
    gap = np.abs(dx * ux + dy * uy) - (g.length[i] + g.length[others]) / 2.0
    return (low > 0.0) & (high <= HEIGHT_RATIO * low) & same_way & (across <= ACROSS * low) & (gap <= GAP * low)


def are_neighbours(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether boxes a and b are neighbours on one line (neighbours_of)."""
    return bool(neighbours_of(box_geometries([a, b]), 0, np.array([1]))[0])


def input_heights(boxes: Sequence[np.ndarray], scale: float) -> np.ndarray:
    """The boxes' heights at the network's input (their crops' short side times the input's scale)."""
    return np.array([min(crop_size(box)) * scale for box in boxes], dtype=np.float64)


def split_line_boxes(boxes: Sequence[np.ndarray], heights: np.ndarray, above: float) -> List[int]:
    """Indices (ascending) of the boxes at least `above` px high at the input (`heights`) that have such a
    neighbour: the pieces of lines of large text DB may have split at their spaces."""
    large = np.flatnonzero(np.asarray(heights) >= above)
    g = box_geometries(boxes)
    found = np.zeros(len(heights), dtype=bool)
    for k, i in enumerate(large[:-1]):
        later = large[k + 1:]
        hits = neighbours_of(g, i, later)
        if hits.any():
            found[i] = True
            found[later[hits]] = True
    return np.flatnonzero(found).tolist()


def far_long_side(heights: np.ndarray, pieces: Sequence[int], height: float, input_long_side: int) -> int:
    """The long side of the far pass's input: the first pass's, shrunk so that the pieces' median height comes to
    `height` px (at least MIN_FAR_SIDE); 0 when that would not shrink it."""
    median = float(np.median(heights[list(pieces)]))
    if median <= height:
        return 0
    return max(MIN_FAR_SIDE, int(round(input_long_side * height / median)))


def join_split_lines(boxes: np.ndarray, far: np.ndarray, heights: np.ndarray, above: float) -> np.ndarray:
    """The first pass's `boxes` with the pieces each far box joins replaced by it (the module's rule), the far
    boxes after the boxes that stand, in the far pass's order. `heights`: the first pass's boxes at the input."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4, 2)
    far = np.asarray(far, dtype=np.float32).reshape(-1, 4, 2)
    g, far_g = box_geometries(boxes), box_geometries(far)
    points = g.centre.astype(np.float32)           # as pointPolygonTest takes them
    joined = np.zeros(len(boxes), dtype=bool)
    joins = []
    for f, far_box in enumerate(far):
        # only centres within the far box's rectangle can be in it (or on it): the rest are not tested one by one
        near = ~joined & np.all((points >= far_box.min(axis=0)) & (points <= far_box.max(axis=0)), axis=1)
        contour = far_box.reshape(-1, 1, 2)
        held = [int(i) for i in np.flatnonzero(near)
                if cv2.pointPolygonTest(contour, (float(points[i, 0]), float(points[i, 1])), False) >= 0]
        if len(held) < 2:
            continue
        ux, uy = far_g.unit[f]
        held.sort(key=lambda i: g.centre[i, 0] * ux + g.centre[i, 1] * uy)
        if not any(heights[i] >= above for i in held):
            continue
        if not all(neighbours_of(g, a, np.array([b]))[0] for a, b in zip(held, held[1:])):
            continue
        if far_g.height[f] > FAR_TALLER * g.height[held].max():
            continue
        joined[held] = True
        joins.append(far_box)
    if not joins:
        return boxes
    return np.array(list(boxes[~joined]) + joins, dtype=np.float32).reshape(-1, 4, 2)

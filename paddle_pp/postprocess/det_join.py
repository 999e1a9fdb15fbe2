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
from typing import List, Sequence, Tuple

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


def box_geometry(box: np.ndarray) -> Tuple[np.ndarray, np.ndarray, float, float]:
    """(centre, unit vector along the line, length, height) of a box (tl, tr, br, bl), in double precision:
    the length is the mean of its top and bottom edges as vectors, the height the mean of its side edges' lengths."""
    p = np.asarray(box, dtype=np.float32).reshape(4, 2).astype(np.float64)
    along = ((p[1] - p[0]) + (p[2] - p[3])) / 2.0
    length = math.hypot(along[0], along[1])
    unit = along / length if length > 0.0 else np.array([1.0, 0.0])
    height = (math.hypot(*(p[3] - p[0])) + math.hypot(*(p[2] - p[1]))) / 2.0
    return p.mean(axis=0), unit, length, height


def are_neighbours(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether boxes a and b are neighbours on one line (HEIGHT_RATIO, MAX_TURN, ACROSS, GAP)."""
    centre_a, unit_a, length_a, height_a = box_geometry(a)
    centre_b, unit_b, length_b, height_b = box_geometry(b)
    low = min(height_a, height_b)
    if low <= 0.0 or max(height_a, height_b) > HEIGHT_RATIO * low:
        return False
    if abs(float(unit_a @ unit_b)) < math.cos(math.radians(MAX_TURN)):
        return False
    apart = centre_b - centre_a
    across = abs(float(apart[0] * -unit_a[1] + apart[1] * unit_a[0]))
    gap = abs(float(apart @ unit_a)) - (length_a + length_b) / 2.0
    return across <= ACROSS * low and gap <= GAP * low


def input_heights(boxes: Sequence[np.ndarray], scale: float) -> np.ndarray:
    """The boxes' heights at the network's input (their crops' short side times the input's scale)."""
    return np.array([min(crop_size(box)) * scale for box in boxes], dtype=np.float64)


def split_line_boxes(boxes: Sequence[np.ndarray], heights: np.ndarray, above: float) -> List[int]:
    """Indices (ascending) of the boxes at least `above` px high at the input (`heights`) that have such a
    neighbour: the pieces of lines of large text DB may have split at their spaces."""
    large = [i for i in range(len(boxes)) if heights[i] >= above]
    found = set()
    for k, i in enumerate(large):
        for j in large[k + 1:]:
            if are_neighbours(boxes[i], boxes[j]):
                found.update((i, j))
    return sorted(found)


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
    centres = [box_geometry(box)[0] for box in boxes]
    joined, joins = set(), []
    for far_box in np.asarray(far, dtype=np.float32).reshape(-1, 4, 2):
        _, unit, _, far_height = box_geometry(far_box)
        contour = far_box.reshape(-1, 1, 2)
        held = [i for i in range(len(boxes)) if i not in joined and cv2.pointPolygonTest(
            contour, (float(centres[i][0]), float(centres[i][1])), False) >= 0]
        if len(held) < 2:
            continue
        held.sort(key=lambda i: float(centres[i] @ unit))
        if not any(heights[i] >= above for i in held):
            continue
        if not all(are_neighbours(boxes[a], boxes[b]) for a, b in zip(held, held[1:])):
            continue
        if far_height > FAR_TALLER * max(box_geometry(boxes[i])[3] for i in held):
            continue
        joined.update(held)
        joins.append(far_box)
    if not joins:
        return boxes
    kept = [box for i, box in enumerate(boxes) if i not in joined]
    return np.array(kept + joins, dtype=np.float32).reshape(-1, 4, 2)

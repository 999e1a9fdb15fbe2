"""The order in which a page's text boxes are read (System.reading_order).

- `rows` (the default, configs/system.yml): boxes are grouped into rows by how much their vertical extents overlap,
  measured along each box's own top and bottom edges so that a tilted line stays one row; rows are read top to
  bottom, each left to right.
- `paddleocr` (PaddleOCR 2.x predict_system's `sorted_boxes`): sort by the (y, x) of each box's first point, then
  one pass that swaps neighbours whose first points are less than 10 px apart in y. The 10 px do not scale with the
  image, and the first point of a box moves with its height: on forms and tables the boxes of one row (a checkbox's
  label next to a taller one, a header cell next to a lower-case one) are read out of order.

Columns are not detected by either: two columns whose lines share a baseline are read across, line by line.
"""
from typing import List, Sequence, Union

import numpy as np

READING_ORDERS = ("rows", "paddleocr")
# Two boxes share a row when their vertical extents overlap by at least this fraction of the lower one's height.
# The boxes of neighbouring lines overlap by a few percent of a line's height at most.
ROW_OVERLAP = 0.5
# A box's edges are followed at most this many of its heights beyond its ends: across the gap between the words of
# a tilted line, not so far that the slope of a short word decides the row of a box across the page (chosen on
# the train sets of SROIE, MSRA-TD500 and ICDAR 2015: docs/results.md, "Reading order").
EDGE_REACH = 2.0
_BLOCK = 256   # boxes compared at once with every earlier one (rows)

Boxes = Union[np.ndarray, Sequence[np.ndarray]]


def sorted_boxes(dt_boxes: Boxes) -> List[np.ndarray]:
    """Reading order: sort by (y, x) of the first point, then one pass swapping neighbours
    on the same line (y differs by < 10 px) whose x is smaller.

    This is the single-pass release/2.x rule, kept as is (it does not fully sort a
    line with three or more out-of-order boxes) because system outputs depend on it.
    """
    boxes = sorted(list(dt_boxes), key=lambda b: (b[0][1], b[0][0]))
    for i in range(len(boxes) - 1):
        if abs(boxes[i + 1][0][1] - boxes[i][0][1]) < 10 and boxes[i + 1][0][0] < boxes[i][0][0]:
            boxes[i], boxes[i + 1] = boxes[i + 1], boxes[i]
    return boxes


def _edge_slopes(quads: np.ndarray) -> np.ndarray:
    """[K, 2] slopes dy/dx of each box's top (p0 -> p1) and bottom (p3 -> p2) edges. Boxes turned sideways (taller
    than wide) or edges steeper than 45 degrees are not rows of text: they get slope 0 (their axis-aligned extent)."""
    dx = np.stack([quads[:, 1, 0] - quads[:, 0, 0], quads[:, 2, 0] - quads[:, 3, 0]], axis=1)
    dy = np.stack([quads[:, 1, 1] - quads[:, 0, 1], quads[:, 2, 1] - quads[:, 3, 1]], axis=1)
    slopes = np.divide(dy, dx, out=np.zeros_like(dy), where=np.abs(dx) > 1e-6)
    return np.where(np.abs(slopes) <= 1.0, slopes, 0.0)


def _vertical_extents(quads: np.ndarray, x: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """[K, M, 2]: the top and bottom of box k at the abscissas x[k, :] ([K, M]), along its top and bottom edges,
    which are followed at most reach[k] pixels beyond the box's ends and are level from there (boxes that are not
    rows of text: their axis-aligned extent, wherever x is)."""
    slopes = _edge_slopes(quads)
    flat = ~(np.abs(slopes).sum(axis=1) > 0)
    lo = quads[:, :, 0].min(axis=1) - reach
    hi = quads[:, :, 0].max(axis=1) + reach
    x = np.minimum(np.maximum(x, lo[:, None]), hi[:, None])
    top = quads[:, None, 0, 1] + (x - quads[:, None, 0, 0]) * slopes[:, None, 0]
    bottom = quads[:, None, 3, 1] + (x - quads[:, None, 3, 0]) * slopes[:, None, 1]
    top[flat] = quads[flat, :, 1].min(axis=1)[:, None]
    bottom[flat] = quads[flat, :, 1].max(axis=1)[:, None]
    return np.stack([top, bottom], axis=2)


def page_slope(quads: np.ndarray) -> float:
    """The skew of a page: the median slope of its long boxes (wider than twice their height; each box's slope the
    mean of its top and bottom edges'), 0 when it has none. A photo of a page taken at an angle tilts every row."""
    quads = np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2)
    width = quads[:, :, 0].max(axis=1) - quads[:, :, 0].min(axis=1)
    height = quads[:, :, 1].max(axis=1) - quads[:, :, 1].min(axis=1)
    long = width > 2 * height
    return float(np.median(_edge_slopes(quads[long]).mean(axis=1))) if long.any() else 0.0


def rows(dt_boxes: Boxes, min_overlap: float = ROW_OVERLAP) -> List[List[int]]:
    """The rows of `dt_boxes` ([K, 4, 2], clockwise from top-left), top to bottom, each a list of box indices left
    to right.

    The page is first sheared level by its skew (page_slope): y - slope * x. How much two boxes overlap is then
    measured where they meet: at the middle of the gap between them (of their common
    part, if they overlap horizontally), each box's vertical extent taken along its own top and bottom edges (at
    most EDGE_REACH heights beyond its ends), so boxes of one tilted line overlap and those of the next line do not.
    Boxes are taken by the height of their middles; each joins the row of the earlier box it overlaps most, if
    that overlap is at least `min_overlap` of the lower box's height, else it starts a row. Rows are read in the
    order they were started, each by the left edges of its boxes.
    deploy/lite/cpp/src/reading_order.cc is the same rule, step for step."""
    quads = np.array(dt_boxes, dtype=np.float64).reshape(-1, 4, 2)
    count = len(quads)
    quads[:, :, 1] -= page_slope(quads) * quads[:, :, 0]   # level rows; x, and so left to right, is unchanged
    # sums written out, in the order the C++ demo adds them, so both get the same doubles
    centre_x = (((quads[:, 0, 0] + quads[:, 1, 0]) + quads[:, 2, 0]) + quads[:, 3, 0]) / 4
    mean_y = (((quads[:, 0, 1] + quads[:, 1, 1]) + quads[:, 2, 1]) + quads[:, 3, 1]) / 4
    own = _vertical_extents(quads, centre_x[:, None], np.zeros(count))[:, 0]    # each box at its own centre
    height = np.maximum(own[:, 1] - own[:, 0], 1e-6)
    left, right = quads[:, :, 0].min(axis=1), quads[:, :, 0].max(axis=1)
    order = np.lexsort((left, (own[:, 0] + own[:, 1]) / 2))

    # For each box taken, the earlier box it overlaps most: blocks of boxes against every box taken before them,
    # so memory grows with the number of boxes, not with its square (max_candidates may be set high).
    best = np.zeros(count, dtype=np.int64)
    best_ratio = np.full(count, -np.inf)
    for start in range(0, count, _BLOCK):
        stop = min(start + _BLOCK, count)
        taken, earlier = order[start:stop], order[:stop]
        ratio = _overlap_ratio(quads, left, right, height, taken, earlier)
        ratio[np.arange(start, stop)[:, None] <= np.arange(stop)[None, :]] = -np.inf   # only boxes taken before
        best[start:stop] = np.argmax(ratio, axis=1)
        best_ratio[start:stop] = ratio[np.arange(stop - start), best[start:stop]]

    found: List[List[int]] = []
    row_of = np.empty(count, dtype=np.int64)
    for k in range(count):
        if best_ratio[k] >= min_overlap:
            row_of[k] = row_of[best[k]]
        else:
            row_of[k] = len(found)
            found.append([])
        found[row_of[k]].append(int(order[k]))
    return [sorted(row, key=lambda j: (left[j], mean_y[j])) for row in found]


def _overlap_ratio(quads: np.ndarray, left: np.ndarray, right: np.ndarray, height: np.ndarray, first: np.ndarray,
                   second: np.ndarray) -> np.ndarray:
    """[len(first), len(second)]: how much each box of `first` overlaps each of `second` where the two meet, over
    the lower one's height (rows' rule)."""
    meet = (np.maximum(left[first, None], left[None, second]) + np.minimum(right[first, None], right[None, second])) / 2
    a = _vertical_extents(quads[first], meet, EDGE_REACH * height[first])
    b = _vertical_extents(quads[second], meet.T, EDGE_REACH * height[second]).transpose(1, 0, 2)
    overlap = np.minimum(a[:, :, 1], b[:, :, 1]) - np.maximum(a[:, :, 0], b[:, :, 0])
    return overlap / np.minimum(height[first, None], height[None, second])


def row_order(dt_boxes: Boxes, min_overlap: float = ROW_OVERLAP) -> List[int]:
    """Indices of `dt_boxes` ([K, 4, 2], clockwise from top-left) in row reading order (module doc, `rows`)."""
    return [i for row in rows(dt_boxes, min_overlap) for i in row]


def same_row_runs(dt_boxes: Boxes) -> List[List[int]]:
    """The boxes, in the order given, cut into runs of consecutive boxes that share a row (`rows`): what a text
    output puts on one line. In `rows` order every run is a whole row."""
    row_of = {i: r for r, row in enumerate(rows(dt_boxes)) for i in row}
    runs: List[List[int]] = []
    for i in range(len(row_of)):
        if runs and row_of[runs[-1][-1]] == row_of[i]:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def order_boxes(dt_boxes: Boxes, reading_order: str) -> List[np.ndarray]:
    """The boxes in the given reading order (READING_ORDERS)."""
    if reading_order == "paddleocr":
        return sorted_boxes(dt_boxes)
    if reading_order == "rows":
        boxes = list(dt_boxes)
        return [boxes[i] for i in row_order(boxes)]
    raise ValueError(f"reading_order must be one of {', '.join(READING_ORDERS)}, got {reading_order!r}")

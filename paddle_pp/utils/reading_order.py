"""The order in which a page's text boxes are read (System.reading_order).

- `rows` (the default, configs/system.yml): boxes are grouped into rows by how much their vertical extents overlap,
  measured along each box's own top and bottom edges so that a tilted line stays one row; rows are read top to
  bottom, each left to right.
- `paddleocr` (PaddleOCR 2.x predict_system's `sorted_boxes`): sort by the (y, x) of each box's first point, then
  one pass that swaps neighbours whose first points are less than 10 px apart in y. The 10 px do not scale with the
  image, and the first point of a box moves with its height: on forms and tables the boxes of one row (a checkbox's
  label next to a taller one, a header cell next to a lower-case one) are read out of order.

- `columns`: for text set in columns (articles, papers, newsletters, brochures). Each line is chained to the next
  line of its column; the chains (blocks) are cut apart where a vertical, else a horizontal, strip of the page
  crosses none of them, and again inside each part (an XY-cut: columns left to right, bands top to bottom); what
  cannot be cut is read in `rows`. A title across the columns is read first, each column whole, then what runs across below them. The
  cells of a table and the prices of a receipt are columns too: read column by column, so keep `rows` for those.

`rows` and `paddleocr` do not detect columns: two columns whose lines share a baseline are read across, line by line.
"""
from typing import Callable, List, Optional, Sequence, Union

import numpy as np

READING_ORDERS = ("rows", "paddleocr", "columns")
# Two boxes share a row when their vertical extents overlap by at least this fraction of the lower one's height.
# The boxes of neighbouring lines overlap by a few percent of a line's height at most.
ROW_OVERLAP = 0.5
# A box's edges are followed at most this many of its heights beyond its ends: across the gap between the words of
# a tilted line, not so far that the slope of a short word decides the row of a box across the page (chosen on
# the train sets of SROIE, MSRA-TD500 and ICDAR 2015: docs/results.md, "Reading order").
EDGE_REACH = 2.0
# columns: a line is chained to the next line of its column when each is the other's only neighbour in that
# direction and the gap between them is at most this many of the smaller one's heights (double spacing, or a blank
# line between paragraphs).
LINE_GAP = 2.0
# The next line down from a box is every box below it whose gap is within this many of its heights of the nearest
# one's: a title above two columns, whose first lines are a few pixels apart in height, is chained to neither.
LAYER = 0.5
# columns: a page is cut into columns only where every column holds lines of running text: the median of its boxes'
# widths over heights at least this. A receipt's prices, a table's cells and scattered words in a photo are
# narrower and keep being read in rows; a column of an article is 15 or more heights wide.
COLUMN_ASPECT = 8.0
_BLOCK = 256   # boxes compared at once with every earlier one (rows), or with every other one (columns)

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


def rows(dt_boxes: Boxes, min_overlap: float = ROW_OVERLAP, slope: Optional[float] = None) -> List[List[int]]:
    """The rows of `dt_boxes` ([K, 4, 2], clockwise from top-left), top to bottom, each a list of box indices left
    to right.

    The page is first sheared level by its skew (page_slope): y - slope * x. How much two boxes overlap is then
    measured where they meet: at the middle of the gap between them (of their common
    part, if they overlap horizontally), each box's vertical extent taken along its own top and bottom edges (at
    most EDGE_REACH heights beyond its ends), so boxes of one tilted line overlap and those of the next line do not.
    Boxes are taken by the height of their middles; each joins the row of the earlier box it overlaps most, if
    that overlap is at least `min_overlap` of the lower box's height, else it starts a row. Rows are read in the
    order they were started, each by the left edges of its boxes. `slope`: the page's skew when the boxes are a
    part of a page (columns), else theirs.
    deploy/lite/cpp/src/reading_order.cc is the same rule, step for step."""
    quads = np.array(dt_boxes, dtype=np.float64).reshape(-1, 4, 2)
    count = len(quads)
    quads[:, :, 1] -= (page_slope(quads) if slope is None else slope) * quads[:, :, 0]   # level rows; x is unchanged
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


def row_order(dt_boxes: Boxes, min_overlap: float = ROW_OVERLAP, slope: Optional[float] = None) -> List[int]:
    """Indices of `dt_boxes` ([K, 4, 2], clockwise from top-left) in row reading order (module doc, `rows`)."""
    return [i for row in rows(dt_boxes, min_overlap, slope) for i in row]


def column_order(dt_boxes: Boxes) -> List[int]:
    """Indices of `dt_boxes` ([K, 4, 2], clockwise from top-left) in column reading order (module doc, `columns`).

    The page is sheared level by its skew, as for rows, and each box taken as its axis-aligned extent there. Lines
    are chained into blocks (_column_blocks); the blocks are cut apart (_xy_cut); each part's boxes are read in
    rows, with the page's skew. deploy/lite/cpp/src/reading_order.cc is the same rule, step for step."""
    quads = np.array(dt_boxes, dtype=np.float64).reshape(-1, 4, 2)
    if not len(quads):
        return []
    slope = page_slope(quads)
    sheared = quads.copy()
    sheared[:, :, 1] -= slope * sheared[:, :, 0]
    extent = np.stack([sheared[:, :, 0].min(axis=1), sheared[:, :, 1].min(axis=1),
                       sheared[:, :, 0].max(axis=1), sheared[:, :, 1].max(axis=1)], axis=1)   # left, top, right, bottom
    blocks = _column_blocks(extent)
    block_extent = np.array([[extent[b, 0].min(), extent[b, 1].min(), extent[b, 2].max(), extent[b, 3].max()]
                             for b in blocks])
    aspect = (extent[:, 2] - extent[:, 0]) / np.maximum(extent[:, 3] - extent[:, 1], 1e-6)

    def running_text(part: List[int]) -> bool:
        return float(np.median(aspect[[i for b in part for i in blocks[b]]])) >= COLUMN_ASPECT

    order: List[int] = []
    for part in _xy_cut(block_extent, list(range(len(blocks))), running_text):
        members = sorted(i for b in part for i in blocks[b])
        order += [members[k] for k in row_order(quads[members], slope=slope)]
    return order


def _column_blocks(extent: np.ndarray) -> List[List[int]]:
    """Boxes ([K, 4]: left, top, right, bottom) chained line to next line down their columns, as lists of box indices
    top to bottom, ordered by their first box.

    Box j is below box i when they overlap horizontally, j's middle is lower and they overlap vertically by less
    than half the smaller height (not one row). The next line down from i is every box below it within LAYER of i's
    height of the nearest one's gap (a title above two columns has both first lines there); the next line up from j
    likewise. i and j are chained when each is the other's next line alone and the gap between them is at most
    LINE_GAP of the smaller height."""
    count = len(extent)
    height = np.maximum(extent[:, 3] - extent[:, 1], 1e-6)
    middle = (extent[:, 1] + extent[:, 3]) / 2

    def gaps(upper: np.ndarray) -> np.ndarray:
        """[len(upper), K]: the gap from each box of `upper` down to each box below it; inf where not below."""
        overlap_x = (np.minimum(extent[upper, None, 2], extent[None, :, 2])
                     - np.maximum(extent[upper, None, 0], extent[None, :, 0]))
        smaller = np.minimum(height[upper, None], height[None, :])
        gap = extent[None, :, 1] - extent[upper, None, 3]
        below = (overlap_x > 0) & (middle[None, :] > middle[upper, None]) & (gap > -smaller / 2)
        return np.where(below, gap, np.inf)

    chunks = [np.arange(start, min(start + _BLOCK, count)) for start in range(0, count, _BLOCK)]  # memory ~ K
    nearest_below = np.full(count, np.inf)
    nearest_above = np.full(count, np.inf)
    for upper in chunks:
        gap = gaps(upper)
        nearest_below[upper] = gap.min(axis=1)
        nearest_above = np.minimum(nearest_above, gap.min(axis=0))
    below_count = np.zeros(count, dtype=np.int64)
    below_of = np.zeros(count, dtype=np.int64)     # the nearest box below (the first of equals)
    above_count = np.zeros(count, dtype=np.int64)
    above_of = np.full(count, -1, dtype=np.int64)  # the nearest box above (the first of equals)
    for upper in chunks:
        gap = gaps(upper)
        finite = np.isfinite(gap)
        below_count[upper] = (finite & (gap <= nearest_below[upper, None] + LAYER * height[upper, None])).sum(axis=1)
        below_of[upper] = np.argmin(gap, axis=1)
        above_count += (finite & (gap <= nearest_above[None, :] + LAYER * height[None, :])).sum(axis=0)
        nearest = finite & (gap == nearest_above[None, :])
        first = (above_of < 0) & nearest.any(axis=0)
        above_of[first] = upper[np.argmax(nearest[:, first], axis=0)]
    boxes = np.arange(count)
    chained = ((below_count == 1) & (above_count[below_of] == 1) & (above_of[below_of] == boxes)
               & (nearest_below <= LINE_GAP * np.minimum(height, height[below_of])))
    chained_to = np.where(chained, below_of, -1)
    has_above = np.zeros(count, dtype=bool)
    has_above[chained_to[chained]] = True
    blocks = []
    for first_box in np.flatnonzero(~has_above):
        block, k = [], int(first_box)
        while k >= 0:
            block.append(k)
            k = int(chained_to[k])
        blocks.append(block)
    return blocks


def _xy_cut(extent: np.ndarray, ids: List[int], is_column: Callable[[List[int]], bool]) -> List[List[int]]:
    """The blocks `ids` (extent [B, 4]: left, top, right, bottom) in reading order, as parts that cannot be cut
    further: split where a vertical strip crosses none of them (left to right) if each part `is_column`, else where
    a horizontal one does (top to bottom), and again inside each part: depth first, with a stack of its own, so
    no arrangement of boxes runs into Python's recursion limit."""
    done: List[List[int]] = []
    todo = [ids]
    while todo:
        part = todo.pop()
        pieces = _split(extent[:, 0], extent[:, 2], part)
        if not (len(pieces) > 1 and all(is_column(piece) for piece in pieces)):
            pieces = _split(extent[:, 1], extent[:, 3], part)
        if len(pieces) > 1:
            todo.extend(reversed(pieces))     # the first piece is taken next
        else:
            done.append(part)
    return done


def _split(lo: np.ndarray, hi: np.ndarray, ids: List[int]) -> List[List[int]]:
    """`ids` by their [lo, hi] intervals, cut where a gap falls between them, in order of lo (ties: by id)."""
    parts: List[List[int]] = []
    reach = -np.inf
    for k in sorted(ids, key=lambda b: (lo[b], b)):
        if lo[k] > reach:
            parts.append([])
        parts[-1].append(k)
        reach = max(reach, hi[k])
    return parts


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
    if reading_order in ("rows", "columns"):
        boxes = list(dt_boxes)
        return [boxes[i] for i in (row_order(boxes) if reading_order == "rows" else column_order(boxes))]
    raise ValueError(f"reading_order must be one of {', '.join(READING_ORDERS)}, got {reading_order!r}")

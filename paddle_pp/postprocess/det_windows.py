"""Long images detected in overlapping windows (det.yml's Inference.window_overlap; ours, PaddleOCR has none).

An image still longer than the detector's max_side_limit at its resize (a receipt ten documents long, a long chat
screenshot) would be shrunk until its long side is that cap, its print to a few pixels, where DB finds nothing.
Instead it is cut along its long side into windows that each come to max_side_limit at the image's own scale, each
overlapping the next. Both passes run window by window (the second, zoomed, when the text of the whole image is
found small: pipeline.TextDetector.detect_in_windows), and the boxes of all the windows are joined here into the
boxes of the image. The network never sees an input longer than the cap, however long the image.

How the boxes of neighbouring windows are joined, along the long axis ("the band" is where windows k and k+1
overlap, a "cut" is an end of a window inside the image):
- A box touching neither cut of its window was seen whole. Two such boxes of neighbouring windows that cover the
  same text (DUPLICATE of the smaller) are one: the larger stands, the earlier window's on a tie. Inside the band
  both windows see a line whole; a line the earlier window saw only in part, its end faded away near the window's
  edge (text running along the cut), yields to the later window's box of all of it.
- A box touching a cut (its end within its height of it) was cut by it. If it lies inside the band (it starts
  after the band's start, or ends before its end), the other window of that band saw all of it: it is dropped.
  Text running along the long axis further than the band (a line across a wide screenshot) reaches past the band
  in both windows: its two pieces are joined into one box, from the start of the first to the end of the last,
  and so are chains of them across several windows. A piece with no partner is kept as found.
The C++ demo (deploy/lite/cpp/src/det_windows.cc) computes the same with the same OpenCV calls.
"""
import math
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from paddle_pp.postprocess.db_postprocess import filter_tag_det_res
from paddle_pp.utils.crop import crop_size

# Two boxes of neighbouring windows cover the same text when their intersection is at least this fraction of the
# smaller one's area (whole boxes) or of the smaller one's part inside the band (pieces of a line across it).
DUPLICATE = 0.5
# A box whose end is within this many of its heights of a cut of its window (and at least CUT_TOLERANCE px) was
# cut by it: DB's map fades over the last few pixels of a window, so a line cut there ends short of the cut.
CUT_REACH = 1.0
CUT_TOLERANCE = 2.0


def window_spans(length: int, window: int, overlap: int) -> List[Tuple[int, int]]:
    """[start, end) spans, `window` long, covering 0..length, each overlapping the next by at least `overlap`
    (at most half a window) and spread evenly: the first starts at 0, the last ends at `length`."""
    if length <= window:
        return [(0, length)]
    overlap = min(overlap, window // 2)
    count = math.ceil((length - window) / (window - overlap)) + 1
    starts = [int(round(i * (length - window) / (count - 1))) for i in range(count)]
    return [(start, start + window) for start in starts]


def merge_window_boxes(window_boxes: Sequence[np.ndarray], spans: Sequence[Tuple[int, int]], axis: int,
                       image_shape: Sequence[int]) -> np.ndarray:
    """The boxes of an image from those of its windows ([K, 4, 2] each, already in the image's pixels), cut from it
    at `spans` along `axis` (0: rows, the windows stacked top to bottom; 1: columns, side by side).
    Returns float32 [K, 4, 2] in window order (the system orders them)."""
    along = 1 - axis   # a point's coordinate along the windows' axis: y (index 1) for rows, x for columns
    whole: List[List[np.ndarray]] = []
    pieces: List[Tuple[int, np.ndarray]] = []   # (window, box): cut by its window and reaching past the band
    for k, (boxes, (start, end)) in enumerate(zip(window_boxes, spans)):
        earlier_end = spans[k - 1][1] if k > 0 else None
        later_start = spans[k + 1][0] if k + 1 < len(spans) else None
        mine = []
        for box in boxes:
            box = np.asarray(box, dtype=np.float32).reshape(4, 2)
            low, high = float(box[:, along].min()), float(box[:, along].max())
            reach = max(CUT_TOLERANCE, CUT_REACH * min(crop_size(box)))
            cut_before = earlier_end is not None and low <= start + reach
            cut_after = later_start is not None and high >= end - 1 - reach
            if (cut_before and high < earlier_end - 1 - CUT_TOLERANCE) or \
                    (cut_after and low > later_start + CUT_TOLERANCE):
                continue   # cut, but inside the band: the neighbouring window saw all of it
            if cut_before or cut_after:
                pieces.append((k, box))
            else:
                mine.append(box)
        whole.append(mine)
    dropped = _duplicates(whole, spans, along)
    joined = filter_tag_det_res(_joined_pieces(pieces, spans, along, image_shape), image_shape)
    boxes = [box for k, mine in enumerate(whole) for i, box in enumerate(mine) if (k, i) not in dropped]
    boxes += list(joined)
    if not boxes:
        return np.zeros((0, 4, 2), dtype=np.float32)
    return np.stack(boxes).astype(np.float32)


def _duplicates(whole: Sequence[Sequence[np.ndarray]], spans: Sequence[Tuple[int, int]], along: int) -> set:
    """(window, index) of the whole boxes that another window's box of the same text outweighs: of two boxes of
    neighbouring windows whose intersection is at least DUPLICATE of the smaller's area, the smaller goes (the later
    on a tie). Every pair is judged before any box goes, so the order of the boxes does not matter."""
    dropped = set()
    areas = [[_area(box) for box in boxes] for boxes in whole]
    for k in range(len(whole) - 1):
        band_start, band_end = spans[k + 1][0], spans[k][1]
        for i, a in enumerate(whole[k]):
            if float(a[:, along].max()) <= band_start:
                continue
            for j, b in enumerate(whole[k + 1]):
                if float(b[:, along].min()) >= band_end:
                    continue
                area_a, area_b = areas[k][i], areas[k + 1][j]
                if _intersection(a, b) >= DUPLICATE * min(area_a, area_b):
                    dropped.add((k + 1, j) if area_a >= area_b else (k, i))
    return dropped


def _area(quad: np.ndarray) -> float:
    return abs(float(cv2.contourArea(quad)))


def _intersection(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.intersectConvexConvex(a, b)[0])


def _band(start: int, end: int, along: int, image_shape: Sequence[int]) -> np.ndarray:
    """The quad of the image between `start` and `end` along the windows' axis."""
    across = float(image_shape[1] if along == 1 else image_shape[0])
    quad = np.array([[0, start], [across, start], [across, end], [0, end]], dtype=np.float32)
    return quad if along == 1 else np.ascontiguousarray(quad[:, ::-1])


def _joined_pieces(pieces: Sequence[Tuple[int, np.ndarray]], spans: Sequence[Tuple[int, int]], along: int,
                   image_shape: Sequence[int]) -> List[np.ndarray]:
    """The pieces of neighbouring windows that cover the same text inside their band joined (chains across
    several windows too), each group into one box (_spanning)."""
    group = list(range(len(pieces)))

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i, (k, a) in enumerate(pieces):
        for j, (other_k, b) in enumerate(pieces):
            if other_k != k + 1:
                continue
            band = _band(spans[k + 1][0], spans[k][1], along, image_shape)
            inside = min(_intersection(a, band), _intersection(b, band))
            if inside > 0 and _intersection(a, b) >= DUPLICATE * inside:
                group[root(j)] = root(i)
    members: Dict[int, List[np.ndarray]] = {}
    for i, (_, box) in enumerate(pieces):
        members.setdefault(root(i), []).append(box)
    return [_spanning(boxes, along) for boxes in members.values()]


def _spanning(boxes: Sequence[np.ndarray], along: int) -> np.ndarray:
    """One box from the pieces of a line: the start edge of the piece that starts first along the windows' axis
    and the end edge of the one that ends last (corners taken as they are, so that every build joins them alike;
    a rectangle fitted around them would round differently on ARM's OpenCV)."""
    first = min(boxes, key=lambda box: float(box[:, along].min()))
    last = max(boxes, key=lambda box: float(box[:, along].max()))
    if along == 0:   # side by side: the left edge (top-left, bottom-left) of the first, the right edge of the last
        return np.array([first[0], last[1], last[2], first[3]], dtype=np.float32)
    return np.array([first[0], first[1], last[2], last[3]], dtype=np.float32)   # stacked: top edge, bottom edge

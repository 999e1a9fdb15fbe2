"""Text-line cropping of the PP-OCR system (PaddleOCR 2.x predict_system); the order of the boxes is
utils/reading_order.py's."""
import math
from typing import Sequence, Tuple

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


def line_span(line_box: np.ndarray, box: np.ndarray, flipped: bool) -> Tuple[float, float]:
    """The x range a line's own box covers in the crop of a (widened) box that holds it, as recognized: its
    corners carried into the crop by the crop's perspective warp, mirrored when the crop was turned by 180 degrees.
    Only crops read as they lie have widened boxes (never one turned sideways)."""
    box = np.asarray(box, dtype=np.float32).reshape(4, 2)
    crop_w, crop_h = crop_size(box)
    to_crop = cv2.getPerspectiveTransform(box, np.float32([[0, 0], [crop_w, 0], [crop_w, crop_h], [0, crop_h]]))
    xs = cv2.perspectiveTransform(np.asarray(line_box, np.float64).reshape(-1, 1, 2), to_crop).reshape(-1, 2)[:, 0]
    low, high = float(min(xs[0], xs[3])), float(max(xs[1], xs[2]))
    return (crop_w - high, crop_w - low) if flipped else (low, high)


def _bright_pixels(crop: np.ndarray) -> np.ndarray:
    """1 where a crop is brighter than Otsu's threshold of its grey levels, else 0."""
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]


def _minority_is_bright(bright: np.ndarray) -> bool:
    return 2 * int(np.count_nonzero(bright)) < bright.size


def is_light_on_dark(crop: np.ndarray) -> bool:
    """Whether a line's ink is lighter than its ground: Otsu's minority class of the crop is the bright one (the
    integer comparison crop.cc's IsLightOnDark makes)."""
    return _minority_is_bright(_bright_pixels(crop))


def light_on_dark_share(crops: Sequence[np.ndarray]) -> float:
    """The share of the crops whose text is light on a dark ground (0 for none)."""
    return sum(is_light_on_dark(crop) for crop in crops) / float(len(crops)) if crops else 0.0


def inked_ends(crop: np.ndarray, strip: float, share: float) -> Tuple[bool, bool]:
    """Whether a crop's (left, right) end lies on ink: in its outermost `strip` x height columns, at least `share`
    of the pixels are ink, Otsu's minority class of the crop (dark or light text alike). A crop shorter than three
    such strips has no end of its own. Integer counts and one division, so the C++ demo decides alike (crop.cc)."""
    bright = _bright_pixels(crop)
    height, width = bright.shape
    ink_is_bright = _minority_is_bright(bright)
    columns = max(2, int(math.floor(strip * height + 0.5)))
    if width < 3 * columns:
        return False, False
    cells = height * columns

    def ink_share(strip_pixels: np.ndarray) -> float:
        lit = int(np.count_nonzero(strip_pixels))
        return (lit if ink_is_bright else cells - lit) / float(cells)

    return ink_share(bright[:, :columns]) >= share, ink_share(bright[:, width - columns:]) >= share


def widened_box(points: np.ndarray, left: bool, right: bool, by: float, image_hw: Tuple[int, int]) -> np.ndarray:
    """The box (tl, tr, br, bl) moved outward along its line by `by` x its height at the chosen ends, each end no
    further than keeps its corners inside the image (so the warp never smears a replicated border into the crop).
    Computed in double precision as crop.cc's WidenedBox, then float32 like every box."""
    p = np.asarray(points, dtype=np.float32).reshape(4, 2).astype(np.float64)
    along = ((p[1] - p[0]) + (p[2] - p[3])) / 2.0
    length = math.sqrt(along[0] * along[0] + along[1] * along[1])
    height = (_distance(p[3], p[0]) + _distance(p[2], p[1])) / 2.0
    out = p.copy()
    if length > 0.0:
        unit = along / length
        limits = (float(image_hw[1] - 1), float(image_hw[0] - 1))
        for chosen, corners, sign in ((left, (0, 3), -1.0), (right, (1, 2), 1.0)):
            if chosen:
                step = _room(p[list(corners)], unit * sign, by * height, limits)
                for c in corners:
                    out[c] = p[c] + unit * sign * step
    return out.astype(np.float32)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    dx, dy = float(a[0] - b[0]), float(a[1] - b[1])
    return math.sqrt(dx * dx + dy * dy)


def _room(corners: np.ndarray, direction: np.ndarray, wanted: float, limits: Tuple[float, float]) -> float:
    """How far (at most `wanted`, at least 0) the corners can move along `direction` and stay in [0, limit]."""
    step = wanted
    for corner in corners:
        for axis in (0, 1):
            if direction[axis] > 0.0:
                step = min(step, (limits[axis] - corner[axis]) / direction[axis])
            elif direction[axis] < 0.0:
                step = min(step, (0.0 - corner[axis]) / direction[axis])
    return max(step, 0.0)


# A round bullet that starts a line (a list's item, a slide's point), in percent of the crop's height
# (leading_bullet_end): the leftmost blob of ink this wide and this high, ...
BULLET_SIZE = (12, 50)
BULLET_ASPECT = (75, 133)   # ... its width this share of its height, ...
BULLET_FILL = 60            # ... this share of its rectangle inked, its centre too (a dot, not a ring such as `o`),
BULLET_MIDDLE = (25, 75)    # ... its centre this high in the crop (not a full stop on the baseline),
BULLET_OF_TEXT = 70         # ... at most this share of the tallest ink after it high (in percent; a letter is not),
BULLET_GAP = 30             # ... and the next ink at least this far to its right; the crop is cut this far before
BULLET_MARGIN = 25          # that ink (never left of the bullet's right edge)


def leading_bullet_end(crop: np.ndarray) -> int:
    """The column at which a crop is cut so that a round bullet starting its line is not read (the recognizer,
    which has no such character, reads it as `o`, `.`, `,` or a letter), or 0 when it starts with no bullet.
    Ink is Otsu's minority class (dark or light text alike); a bullet is the leftmost blob of it (8-connected, two
    pixels or more) that is as BULLET_SIZE, BULLET_ASPECT, BULLET_FILL, BULLET_MIDDLE and BULLET_OF_TEXT say and
    that no other blob reaches beside, the next one at least BULLET_GAP away. Integer arithmetic and OpenCV's connected
    components, so the C++ demo decides alike (crop.cc)."""
    bright = _bright_pixels(crop)
    ink = bright if _minority_is_bright(bright) else np.uint8(1) - bright
    height = int(ink.shape[0])
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    blobs = sorted((i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= 2),
                   key=lambda i: int(stats[i, cv2.CC_STAT_LEFT]))
    if len(blobs) < 2:
        return 0
    first = blobs[0]
    x, y, w, h, area = (int(v) for v in stats[first, :5])
    text = int(stats[blobs[1], cv2.CC_STAT_LEFT])
    tallest = max(int(stats[i, cv2.CC_STAT_HEIGHT]) for i in blobs[1:])
    low, high = BULLET_SIZE
    if not all(low * height <= 100 * side <= high * height for side in (w, h)):
        return 0
    if not BULLET_ASPECT[0] * h <= 100 * w <= BULLET_ASPECT[1] * h or 100 * area < BULLET_FILL * w * h:
        return 0
    if labels[y + h // 2, x + w // 2] != first:
        return 0
    if not 2 * BULLET_MIDDLE[0] * height <= 100 * (2 * y + h) <= 2 * BULLET_MIDDLE[1] * height:
        return 0
    if 100 * h > BULLET_OF_TEXT * tallest:
        return 0
    if 100 * (text - (x + w)) < BULLET_GAP * height:
        return 0
    return max(x + w, text - BULLET_MARGIN * height // 100)


def box_from_column(points: np.ndarray, column: float, from_right: bool = False) -> np.ndarray:
    """The part of a box (tl, tr, br, bl) from `column` of its crop (get_rotate_crop_image's, before any turn) to
    the crop's right end, or with `from_right` from its left end to `column`: the crop's column carried into the
    image by the crop's perspective warp, as crop_to_image does (crop.cc's BoxFromColumn). float32."""
    points = np.asarray(points, dtype=np.float32).reshape(4, 2)
    crop_w, crop_h = crop_size(points)
    pts_std = np.float32([[0, 0], [crop_w, 0], [crop_w, crop_h], [0, crop_h]])
    back = cv2.getPerspectiveTransform(pts_std, points)
    top, bottom = cv2.perspectiveTransform(np.array([[[column, 0]], [[column, crop_h]]], np.float32), back)[:, 0]
    out = points.copy()
    if from_right:
        out[1], out[2] = top, bottom
    else:
        out[0], out[3] = top, bottom
    return out

"""Detector preprocessing, numerically identical to PaddleOCR 2.x inference.

Mirrors ``DetResizeForTest`` (resize type 0), ``NormalizeImage`` (order 'hwc')
and ``ToCHWImage`` from ``ppocr/data/imaug/operators.py``. The detector weights
were trained on exactly these numbers, so every cast and rounding step is kept.
The predictor passes the mean/std/scale of the model's Inference section; the defaults (paddle_pp.defaults)
are the same ImageNet numbers.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from paddle_pp.defaults import IMAGENET_MEAN, IMAGENET_STD, PIXEL_SCALE
from paddle_pp.utils.crop import crop_size


def det_scale(h: int, w: int, limit_side_len: int, limit_type: str, long_image_aspect: float = 0.0) -> float:
    """The scale of an h x w image by the limit rule, before det_target_size's cap and snap."""
    if limit_type == "max":
        if long_image_aspect > 0 and max(h, w) > long_image_aspect * min(h, w):
            return min(1.0, float(limit_side_len) / (long_image_aspect * min(h, w)))
        if max(h, w) > limit_side_len:
            return float(limit_side_len) / h if h > w else float(limit_side_len) / w
        return 1.0
    if limit_type == "min":
        if min(h, w) < limit_side_len:
            return float(limit_side_len) / h if h < w else float(limit_side_len) / w
        return 1.0
    if limit_type == "resize_long":
        return float(limit_side_len) / max(h, w)
    raise ValueError(f"unsupported limit_type {limit_type!r} (use 'max', 'min' or 'resize_long')")


def det_target_size(h: int, w: int, limit_side_len: int, limit_type: str,
                     max_side_limit: Optional[int] = None, long_image_aspect: float = 0.0) -> Tuple[int, int]:
    """Target (h, w): scale by the limit rule (det_scale), then snap each side to a multiple of 32 (>= 32).

    The network downsamples by 32, so both sides must be multiples of 32; the
    ``max(..., 32)`` keeps tiny or extreme-aspect images from collapsing to 0.
    ``max_side_limit`` (PaddleOCR 3.x's; None: none, as PaddleOCR 2.x) then caps the long side: ``min`` never
    shrinks, so without it a 50 MP photo would reach the network whole.
    ``long_image_aspect`` (ours; 0: never, as PaddleOCR): with ``max``, an image whose long side is over this many
    times its short side is shrunk only until its short side is ``limit_side_len / long_image_aspect``, as a page
    of that shape would be. ``max`` alone takes a 1:6 receipt's print down to a sixth of a 1:1 page's, where DB
    finds no lines at all; this way it is seen as the pages it is made of, at most ``max_side_limit`` long.
    """
    ratio = det_scale(h, w, limit_side_len, limit_type, long_image_aspect)
    resize_h = int(h * ratio)
    resize_w = int(w * ratio)
    if max_side_limit is not None and max(resize_h, resize_w) > max_side_limit:
        cap = float(max_side_limit) / max(resize_h, resize_w)
        resize_h, resize_w = int(resize_h * cap), int(resize_w * cap)
    # Python's round() (banker's rounding) exactly as PaddleOCR uses it.
    resize_h = max(int(round(resize_h / 32) * 32), 32)
    resize_w = max(int(round(resize_w / 32) * 32), 32)
    return resize_h, resize_w


def det_window_length(h: int, w: int, limit_side_len: int, limit_type: str, max_side_limit: Optional[int] = None,
                      long_image_aspect: float = 0.0, window_below: float = 1.0) -> int:
    """The long side, in the image's pixels, of the windows an h x w image is detected in (det.yml's
    window_overlap; postprocess/det_windows.py), or 0 when it is detected whole.

    An image whose long side would pass ``max_side_limit`` at its resize, so far that the cap would shrink it below
    ``window_below`` of that resize's scale, is cut into windows that come to the cap at that scale (det_scale)
    instead. Only a resize that scales by the short side (``min``, or ``max`` past ``long_image_aspect``) gives each
    window, of the same short side, the image's own scale; an image resized by its long side, or whose short side
    alone passes the cap, is shrunk to it as before.
    """
    if max_side_limit is None:
        return 0
    short, long = min(h, w), max(h, w)
    by_short_side = limit_type == "min" or (limit_type == "max" and long_image_aspect > 0 and
                                             long > long_image_aspect * short)
    ratio = det_scale(h, w, limit_side_len, limit_type, long_image_aspect)
    if not by_short_side or int(long * ratio) <= max_side_limit or max_side_limit >= window_below * long * ratio:
        return 0
    window = int(max_side_limit / ratio)
    return window if window > short else 0


def detection_border(h: int, w: int, border_below: int, border_ratio: float) -> int:
    """The border, in pixels on each side, an h x w image gets before detection: `border_ratio` of its short side
    when that side is under `border_below` (0: never, as PaddleOCR), else 0.

    DB learned text with background around it: a word or line cropped tight to its text (a word crop, a line
    scan, a small screenshot) touches the image's edges and is found in part or not at all. Inside a border it is
    found as in a photo. Large images never get one, so photos, receipts and pages are detected as PaddleOCR does.
    """
    short_side = min(h, w)
    if not border_below or short_side >= border_below:
        return 0
    return max(1, int(round(border_ratio * short_side)))


def add_border(img: np.ndarray, border: int) -> np.ndarray:
    """The image inside `border` pixels of its edges' colour (the per-channel median of its outermost rows and
    columns), so the border reads as more of the background."""
    channels = 1 if img.ndim == 2 else img.shape[2]
    edges = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).reshape(-1, channels)
    colour = [int(v) for v in np.median(edges, axis=0)]
    return cv2.copyMakeBorder(img, border, border, border, border, cv2.BORDER_CONSTANT,
                              value=colour[0] if img.ndim == 2 else colour)


def small_text_long_side(boxes: Sequence[np.ndarray], source_long_side: int, input_long_side: int,
                         small_text_below: float, zoom: float, height: float = 0.0, empty_zoom: float = 0.0,
                         max_side_limit: Optional[int] = None, past_own_size: bool = False) -> int:
    """The long side at which an image is detected again, or 0 when the first pass is kept.

    DB finds text best when it is 20-40 px high at the network's input. The default resize (PaddleOCR's `max 960`)
    leaves the words of a street photo or the print of a long receipt smaller than that, and many are not found or
    are found in pieces; a larger resize for every image instead splits the long lines of scenes with large text.
    So the first pass measures the text: when the median height of its boxes at the network's input (a box's
    height is its crop's short side) is under `small_text_below`, the image is detected again with its input's
    long side zoomed by `height` / that median (so the median comes to about `height` px), at most `zoom` times
    (`height` 0: always `zoom` times). Zooming text that is nearly large enough by the most splits the lines of
    a close photo of a page. The long side grows past the image's own only with `past_own_size` (a photo or a
    scan, whose small words DB finds enlarged), never past max_side_limit: rendered print small in the image
    itself is not enlarged (seen enlarged, DB cuts its descenders and splits its lines at the spaces; the caller
    tells it apart, `flat_share` and `median_aspect`). 0: the first pass stands (small_text_below 0, or an image
    the first pass already saw at the most it may be seen, give or take the snap of its sides to multiples of 32).
    A first pass that finds nothing has nothing to measure; its text, if any, is smaller than the smallest found:
    the image is detected again zoomed by the most (`zoom`, within the image's own size) and at least
    `empty_zoom` times, past the image's own size (there are no lines whose descenders a closer look could cut;
    the words of a street photo or a word crop that DB missed at their size are often found enlarged). A 12 MP
    photo of a receipt seen at 960 is detected again at 2880, a 1600 px page or a word crop at twice its input.
    `empty_zoom` 1 or less: an image with nothing found keeps its first pass.
    `source_long_side` is that of the image the network saw the boxes in (with its border, if any);
    `max_side_limit` the detector's cap (a long image seen at the cap gets no second pass at the cap again).
    """
    if not small_text_below:
        return 0
    if len(boxes) == 0:
        if empty_zoom <= 1.0:
            return 0
        wanted = max(min(input_long_side * zoom, source_long_side), input_long_side * empty_zoom)
        return _zoomed_long_side(source_long_side, input_long_side, wanted, max_side_limit)
    if zoom <= 1.0:
        return 0
    median = float(np.median([min(crop_size(box)) for box in boxes])) * input_long_side / source_long_side
    if median >= small_text_below:
        return 0
    if height and median > 0:
        zoom = min(zoom, height / median)
    wanted = input_long_side * zoom if past_own_size else min(input_long_side * zoom, source_long_side)
    return _zoomed_long_side(source_long_side, input_long_side, wanted, max_side_limit)


def median_aspect(boxes: Sequence[np.ndarray]) -> float:
    """The median of the boxes' crops' long side over short side (0 without boxes). Small words and lines are at
    least twice as long as high; the few squarish pieces a first pass finds of a sign's large letters are not."""
    if len(boxes) == 0:
        return 0.0
    sizes = [crop_size(box) for box in boxes]
    return float(np.median([max(size) / max(1, min(size)) for size in sizes]))


def single_colour(img: np.ndarray) -> bool:
    """Whether every pixel of the image equals the first in every channel: a blank page as rendered from a PDF or
    drawn, with nothing to find however closely it is looked at (a scanned blank page has noise and is not)."""
    pixels = img.reshape(-1, img.shape[2] if img.ndim == 3 else 1)
    return bool((pixels == pixels[0]).all())


def as_grey(img: np.ndarray) -> np.ndarray:
    """The BGR image in grey (OpenCV's luminance), still three channels: what the zoomed second pass sees
    (small_text_grey). An image of one channel is returned as it is."""
    if img.ndim != 3 or img.shape[2] != 3:
        return img
    return cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def flat_share(img: np.ndarray) -> float:
    """The share of an image's pixels equal, in every channel, to their right and lower neighbours (the last row
    and column have none and are not counted). Rendered print (a screenshot, a PDF page rendered to an image, even
    saved as JPEG) is nearly all flat colour, 0.92-0.98; sensor noise leaves photos and scans of paper well under
    0.9 (ICDAR 2015 photos at most 0.82, generated form scans 0.80), except scans whose paper the scanner
    clipped to white (SROIE's, up to 0.98). Read by the detector to tell whether text found small may be zoomed
    past the image's own size (small_text_long_side)."""
    pixels = img if img.ndim == 3 else img[:, :, None]
    if pixels.shape[0] < 2 or pixels.shape[1] < 2:
        return 1.0
    here = pixels[:-1, :-1]
    same = np.all(here == pixels[:-1, 1:], axis=2) & np.all(here == pixels[1:, :-1], axis=2)
    return float(same.mean())


def _zoomed_long_side(source_long_side: int, input_long_side: int, wanted: float,
                      max_side_limit: Optional[int]) -> int:
    """`wanted` rounded and capped by max_side_limit; 0 when the network's input at that long side would be no
    larger than the first pass's (det_target_size snaps sides to multiples of 32: a 260 px image was seen at 256
    and would be again)."""
    zoomed = int(round(wanted))
    if max_side_limit is not None:
        zoomed = min(zoomed, int(max_side_limit))
    snapped = max(det_target_size(source_long_side, source_long_side, zoomed, "resize_long"))
    return zoomed if snapped > input_long_side else 0


def det_resize(img: np.ndarray, limit_side_len: int = 960, limit_type: str = "max",
               max_side_limit: Optional[int] = None, long_image_aspect: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """Resize an HWC image for the DB detector like PaddleOCR's DetResizeForTest (type 0).

    Returns the resized image and ``shape_info = [src_h, src_w, ratio_h, ratio_w]``
    (float64), which DBPostProcess needs to map boxes back to the source image.
    """
    if img.ndim < 2 or img.shape[0] <= 0 or img.shape[1] <= 0:
        raise ValueError(f"det_resize needs a non-empty HxW(xC) image, got shape {img.shape}")
    src_h, src_w = int(img.shape[0]), int(img.shape[1])
    resize_h, resize_w = det_target_size(src_h, src_w, limit_side_len, limit_type, max_side_limit,
                                         long_image_aspect)
    resized = cv2.resize(img, (int(resize_w), int(resize_h)))
    ratio_h = resize_h / float(src_h)
    ratio_w = resize_w / float(src_w)
    shape_info = np.array([src_h, src_w, ratio_h, ratio_w])
    return resized, shape_info


def normalize_det(img: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN,
                  std: Sequence[float] = IMAGENET_STD,
                  scale: float = PIXEL_SCALE) -> np.ndarray:
    """Normalize an HWC image and return float32 CHW, as NormalizeImage + ToCHWImage do.

    The mean/std are applied to the channels in the order they come (BGR as
    decoded by OpenCV): the official weights expect this quirk, so no swap.
    """
    if img.ndim != 3 or img.shape[2] != len(mean) or len(mean) != len(std):
        raise ValueError(f"normalize_det needs HxWx{len(mean)} input, got shape {img.shape}")
    scale32 = np.float32(scale)
    mean32 = np.array(mean).reshape((1, 1, -1)).astype("float32")
    std32 = np.array(std).reshape((1, 1, -1)).astype("float32")
    out = (img.astype("float32") * scale32 - mean32) / std32
    return np.ascontiguousarray(out.transpose((2, 0, 1)))


def det_preprocess(img: np.ndarray, limit_side_len: int = 960, limit_type: str = "max",
                   mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                   scale: float = PIXEL_SCALE, max_side_limit: Optional[int] = None,
                   long_image_aspect: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """Full detector preprocess: resize, normalize, HWC->CHW. Returns (chw float32, shape_info)."""
    resized, shape_info = det_resize(img, limit_side_len, limit_type, max_side_limit, long_image_aspect)
    return normalize_det(resized, mean, std, scale), shape_info

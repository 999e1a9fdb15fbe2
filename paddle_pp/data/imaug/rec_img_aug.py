"""Recognition / classification augmentation and resize.

RecAug is PaddleOCR's BDA (base data augmentation: crop, blur, HSV colour, jitter, Gaussian noise, reverse)
plus, when ``use_tia``, TIA (text image augmentation: distort, stretch, perspective by moving-least-squares
warps of control points along the text line). Each step fires with probability ``aug_prob`` (jitter always).
"""
from __future__ import annotations

import math
import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from paddle_pp.data.imaug.base import DataOp
from paddle_pp.data.imaug.rec_ops import resize_norm_cls
from paddle_pp.registry import TRANSFORMS


# ---------------------------------------------------------------- TIA: moving-least-squares warps
def _mls_similarity(point: np.ndarray, dst_pts: np.ndarray, src_pts: np.ndarray) -> np.ndarray:
    """Where the output pixel ``point`` samples the source: MLS similarity deformation (Schaefer et al.)
    mapping the displaced control points ``dst_pts`` back to ``src_pts``."""
    diff = dst_pts - point
    d2 = np.sum(diff * diff, axis=1)
    hit = np.where(d2 == 0)[0]
    if hit.size:
        return src_pts[hit[0]].astype(np.float64)
    wgt = 1.0 / d2
    pstar = (wgt[:, None] * dst_pts).sum(0) / wgt.sum()
    qstar = (wgt[:, None] * src_pts).sum(0) / wgt.sum()
    phat = dst_pts - pstar
    mu = np.sum(wgt * np.sum(phat * phat, axis=1))
    v = point - pstar
    v_perp = np.array([-v[1], v[0]])
    phat_perp = np.stack([-phat[:, 1], phat[:, 0]], axis=1)
    a = phat @ v            # <p_i, v>
    b = phat_perp @ v       # <p_i_perp, v>
    c = phat @ v_perp       # <p_i, v_perp>
    d = phat_perp @ v_perp  # <p_i_perp, v_perp>
    x = np.sum(wgt * (a * src_pts[:, 0] - b * src_pts[:, 1])) / mu
    y = np.sum(wgt * (-c * src_pts[:, 0] + d * src_pts[:, 1])) / mu
    return np.array([x, y]) + qstar


def warp_mls(src: np.ndarray, src_pts: Sequence[Sequence[float]], dst_pts: Sequence[Sequence[float]],
             grid_size: int = 100) -> np.ndarray:
    """Warp ``src`` so that ``src_pts`` land on ``dst_pts``; the mapping is solved on a ``grid_size`` grid
    (plus the last row/column) and interpolated bilinearly in between, as PaddleOCR's WarpMLS."""
    h, w = src.shape[:2]
    src_pts = np.asarray(src_pts, dtype=np.float64)
    dst_pts = np.asarray(dst_pts, dtype=np.float64)
    gx = np.unique(np.append(np.arange(0, w, grid_size), w - 1))
    gy = np.unique(np.append(np.arange(0, h, grid_size), h - 1))
    map_gx = np.zeros((len(gy), len(gx)))
    map_gy = np.zeros((len(gy), len(gx)))
    for r, y in enumerate(gy):
        for c, x in enumerate(gx):
            map_gx[r, c], map_gy[r, c] = _mls_similarity(np.array([x, y], dtype=np.float64), dst_pts, src_pts)
    # displacement field, bilinear between grid nodes (separable on the rectilinear grid)
    dx_nodes, dy_nodes = map_gx - gx[None, :], map_gy - gy[:, None]
    xs, ys = np.arange(w), np.arange(h)

    def dense(nodes: np.ndarray) -> np.ndarray:
        cols = np.stack([np.interp(ys, gy, nodes[:, c]) for c in range(len(gx))], axis=1)  # [h, len(gx)]
        return np.stack([np.interp(xs, gx, cols[r]) for r in range(h)])  # [h, w]

    map_x = (xs[None, :] + dense(dx_nodes)).astype(np.float32)
    map_y = (ys[:, None] + dense(dy_nodes)).astype(np.float32)
    np.clip(map_x, 0, w - 1, out=map_x)
    np.clip(map_y, 0, h - 1, out=map_y)
    return cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _corners(w: int, h: int) -> List[List[float]]:
    return [[0, 0], [w, 0], [w, h], [0, h]]


def tia_distort(src: np.ndarray, segment: int = 4) -> np.ndarray:
    """Every control point (corners and segment boundaries on both text edges) moves randomly."""
    h, w = src.shape[:2]
    cut = w // segment
    thresh = max(cut // 3, 1)
    half = thresh * 0.5
    r = np.random.randint
    src_pts = _corners(w, h)
    dst_pts = [[r(thresh), r(thresh)], [w - r(thresh), r(thresh)], [w - r(thresh), h - r(thresh)], [r(thresh), h - r(thresh)]]
    for i in range(1, segment):
        src_pts += [[cut * i, 0], [cut * i, h]]
        dst_pts += [[cut * i + r(thresh) - half, r(thresh) - half], [cut * i + r(thresh) - half, h + r(thresh) - half]]
    return warp_mls(src, src_pts, dst_pts)


def tia_stretch(src: np.ndarray, segment: int = 4) -> np.ndarray:
    """Segment boundaries slide horizontally: parts of the line get wider or narrower."""
    h, w = src.shape[:2]
    cut = w // segment
    thresh = max(cut * 4 // 5, 1)
    half = thresh * 0.5
    src_pts = _corners(w, h)
    dst_pts = _corners(w, h)
    for i in range(1, segment):
        move = np.random.randint(thresh) - half
        src_pts += [[cut * i, 0], [cut * i, h]]
        dst_pts += [[cut * i + move, 0], [cut * i + move, h]]
    return warp_mls(src, src_pts, dst_pts)


def tia_perspective(src: np.ndarray) -> np.ndarray:
    """Top and bottom corners move vertically: a perspective-like tilt."""
    h, w = src.shape[:2]
    thresh = max(h // 2, 1)
    r = np.random.randint
    dst_pts = [[0, r(thresh)], [w, r(thresh)], [w, h - r(thresh)], [0, h - r(thresh)]]
    return warp_mls(src, _corners(w, h), dst_pts)


# ---------------------------------------------------------------- BDA
def _sign() -> int:
    return 1 if random.random() > 0.5000001 else -1


def bda_crop(img: np.ndarray) -> np.ndarray:
    """Cut 1..8 rows off the top or the bottom."""
    h = img.shape[0]
    cut = min(random.randint(1, 8), h - 1)
    return img[cut:].copy() if random.randint(0, 1) else img[:h - cut].copy()


def bda_blur(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.GaussianBlur(img, (5, 5), 1) if h > 10 and w > 10 else img


def bda_color(img: np.ndarray) -> np.ndarray:
    """Scale the HSV value channel by 1 +- up to 0.1% (PaddleOCR's value; nearly a no-op)."""
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    delta = 0.001 * random.random() * _sign()
    hsv[:, :, 2] = hsv[:, :, 2] * (1 + delta)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


def bda_jitter(img: np.ndarray) -> np.ndarray:
    """Smear the image diagonally by up to 1% of its short side."""
    h, w = img.shape[:2]
    if h <= 10 or w <= 10:
        return img
    s = int(random.random() * min(h, w) * 0.01)
    src = img.copy()
    out = img.copy()
    for i in range(s):
        out[i:, i:] = src[:h - i, :w - i]
    return out


def bda_noise(img: np.ndarray, mean: float = 0.0, var: float = 0.1) -> np.ndarray:
    noise = np.random.normal(mean, var ** 0.5, img.shape)
    return np.clip(img + 0.5 * noise, 0, 255).astype(np.uint8)


def rec_augment(img: np.ndarray, use_tia: bool = True, prob: float = 0.4) -> np.ndarray:
    h, w = img.shape[:2]
    big = h >= 20 and w >= 20
    out = img
    if use_tia:
        if random.random() <= prob and big:
            out = tia_distort(out, random.randint(3, 6))
        if random.random() <= prob and big:
            out = tia_stretch(out, random.randint(3, 6))
        if random.random() <= prob:
            out = tia_perspective(out)
    if random.random() <= prob and big:
        out = bda_crop(out)
    if random.random() <= prob:
        out = bda_blur(out)
    if random.random() <= prob:
        out = bda_color(out)
    out = bda_jitter(out)
    if random.random() <= prob:
        out = bda_noise(out)
    if random.random() <= prob:
        out = 255 - out
    return out


@TRANSFORMS.register()
class RecAug(DataOp):
    reads = ("image",)
    writes = ("image",)

    def __init__(self, use_tia: bool = True, aug_prob: float = 0.4):
        self.use_tia = bool(use_tia)
        self.aug_prob = float(aug_prob)

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        data["image"] = rec_augment(data["image"], self.use_tia, self.aug_prob)
        return data


# ---------------------------------------------------------------- resize
def resize_norm_img(img: np.ndarray, image_shape: Sequence[int], padding: bool = True) -> Tuple[np.ndarray, float]:
    """Height to imgH keeping the ratio (width <= imgW), (x/255 - 0.5)/0.5, zero-pad on the right.

    Returns the CHW float32 image and valid_ratio = resized width / imgW.
    """
    img_c, img_h, img_w = (int(v) for v in image_shape)
    h, w = img.shape[:2]
    if not padding:
        resized_w = img_w
    else:
        resized_w = min(img_w, natural_width(w, h, img_h))
    if img_c == 3 and padding:
        out = resize_norm_cls(img, (img_c, img_h, img_w))  # the inference code path: identical numbers
    else:
        resized = cv2.resize(img, (resized_w, img_h)).astype("float32")
        if img_c == 1:
            resized = (resized if resized.ndim == 2 else cv2.cvtColor(resized, cv2.COLOR_BGR2GRAY))[np.newaxis] / 255
        else:
            resized = resized.transpose((2, 0, 1)) / 255
        resized = (resized - 0.5) / 0.5
        out = np.zeros((img_c, img_h, img_w), dtype=np.float32)
        out[:, :, :resized_w] = resized
    return out, min(1.0, float(resized_w) / img_w)


def natural_width(width: int, height: int, img_h: int) -> int:
    """A crop's width once resized to height ``img_h`` with its aspect ratio kept (the inference rounding)."""
    return int(math.ceil(img_h * width / float(height)))


@TRANSFORMS.register()
class RecResizeImg(DataOp):
    """CRNN training resize: float32 [C, H, W'] and valid_ratio (the share of W' the text fills).

    Without ``max_width`` (PaddleOCR's behaviour) W' = W of ``image_shape`` (320): narrower crops are
    padded, wider ones squeezed to W. With ``max_width``, a crop wider than W at height H keeps its natural
    width up to ``max_width`` (squeezed only beyond it) and is padded to the next multiple of ``width_step``
    (never past ``max_width``): a 1,500-pixel book line is no longer squeezed 4x into 80 CTC steps. Batches
    of such crops differ in width: the loader's ``bucket_by_width`` groups crops of one W' and collate pads
    what still differs.
    """

    reads = ("image",)
    writes = ("image", "valid_ratio")

    def __init__(self, image_shape: Sequence[int] = (3, 32, 320), padding: bool = True,
                 max_width: Optional[int] = None, width_step: int = 32):
        if len(image_shape) != 3:
            raise ValueError(f"RecResizeImg: image_shape must be [C, H, W], got {image_shape}")
        self.image_shape = [int(v) for v in image_shape]
        self.padding = bool(padding)
        if int(width_step) < 1:
            raise ValueError(f"RecResizeImg: width_step must be an integer >= 1, got {width_step}")
        self.width_step = int(width_step)
        if max_width is not None:
            if int(max_width) < self.image_shape[2]:
                raise ValueError(f"RecResizeImg: max_width must be at least image_shape's width "
                                 f"{self.image_shape[2]}, got {max_width}")
            if not self.padding:
                raise ValueError("RecResizeImg: max_width needs padding: true (without padding every crop is "
                                 "squeezed to image_shape's width)")
            max_width = int(max_width)
        self.max_width = max_width

    def output_width(self, width: int, height: int) -> int:
        """The width W' of the tensor a ``width`` x ``height`` crop becomes (what width buckets group by)."""
        img_w = self.image_shape[2]
        if self.max_width is None or height <= 0 or width <= 0:
            return img_w
        natural = natural_width(width, height, self.image_shape[1])
        if natural <= img_w:
            return img_w
        return min(self.max_width, int(math.ceil(natural / self.width_step)) * self.width_step)

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        h, w = data["image"].shape[:2]
        shape = [self.image_shape[0], self.image_shape[1], self.output_width(w, h)]
        data["image"], data["valid_ratio"] = resize_norm_img(data["image"], shape, self.padding)
        data["valid_ratio"] = np.float32(data["valid_ratio"])
        return data


@TRANSFORMS.register()
class ClsResizeImg(DataOp):
    """Direction classifier resize: float32 [3, 48, 192], right zero-pad (the inference preprocessing)."""

    reads = ("image",)
    writes = ("image",)

    def __init__(self, image_shape: Sequence[int] = (3, 48, 192)):
        if len(image_shape) != 3:
            raise ValueError(f"ClsResizeImg: image_shape must be [C, H, W], got {image_shape}")
        self.image_shape = [int(v) for v in image_shape]

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        data["image"], _ = resize_norm_img(data["image"], self.image_shape)
        return data

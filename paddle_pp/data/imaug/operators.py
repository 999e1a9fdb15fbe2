"""Generic operators: decode, normalise, HWC->CHW, key selection and the evaluation-time detector resize."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import cv2
import numpy as np

from paddle_pp.data.imaug.base import DataOp
from paddle_pp.data.imaug.det_ops import det_resize
from paddle_pp.defaults import IMAGENET_MEAN, IMAGENET_STD, PIXEL_SCALE
from paddle_pp.registry import TRANSFORMS


@TRANSFORMS.register()
class DecodeImage(DataOp):
    """Encoded bytes -> uint8 HxWx3 array (OpenCV decode is BGR; img_mode RGB swaps, GRAY expands to 3 channels)."""

    reads = ("image",)
    writes = ("image",)

    def __init__(self, img_mode: str = "RGB", channel_first: bool = False, ignore_orientation: bool = False):
        if img_mode not in ("RGB", "BGR", "GRAY"):
            raise ValueError(f"DecodeImage: img_mode must be RGB, BGR or GRAY, got {img_mode!r}")
        self.img_mode = img_mode
        self.channel_first = bool(channel_first)
        self.flags = cv2.IMREAD_IGNORE_ORIENTATION | cv2.IMREAD_COLOR if ignore_orientation else cv2.IMREAD_COLOR

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        raw = data["image"]
        if not isinstance(raw, (bytes, bytearray, memoryview, np.ndarray)):
            raise TypeError(f"DecodeImage expects encoded image bytes, got {type(raw).__name__}")
        buf = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw.reshape(-1)
        if buf.size == 0:
            raise ValueError("empty image file")
        img = cv2.imdecode(buf, self.flags)
        if img is None:
            raise ValueError("not a decodable image (corrupt, truncated or not an image format)")
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        if self.img_mode == "GRAY":
            img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        elif self.img_mode == "RGB":
            img = np.ascontiguousarray(img[:, :, ::-1])
        if self.channel_first:
            img = img.transpose((2, 0, 1))
        data["image"] = img
        return data


@TRANSFORMS.register()
class NormalizeImage(DataOp):
    """(image * scale - mean) / std in float32, per channel in the order the channels come.

    A config's NormalizeImage normally leaves mean/std/scale out: the config loader fills them in from the
    model's Inference section (paddle_pp.config.fill_model_constants), so they are stated once per model.
    """

    reads = ("image",)
    writes = ("image",)

    def __init__(self, scale: Any = None, mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None, order: str = "chw"):
        if isinstance(scale, str):  # PaddleOCR configs write '1./255.'
            num, _, den = scale.partition("/")
            scale = float(num) / float(den) if den else float(num)
        self.scale = np.float32(scale if scale is not None else PIXEL_SCALE)
        mean = IMAGENET_MEAN if mean is None else mean
        std = IMAGENET_STD if std is None else std
        if order not in ("chw", "hwc"):
            raise ValueError(f"NormalizeImage: order must be 'chw' or 'hwc', got {order!r}")
        shape = (3, 1, 1) if order == "chw" else (1, 1, 3)
        self.mean = np.array(mean).reshape(shape).astype("float32")
        self.std = np.array(std).reshape(shape).astype("float32")

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        img = np.asarray(data["image"])
        data["image"] = (img.astype("float32") * self.scale - self.mean) / self.std
        return data


@TRANSFORMS.register()
class ToCHWImage(DataOp):
    reads = ("image",)
    writes = ("image",)

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        data["image"] = np.ascontiguousarray(np.asarray(data["image"]).transpose((2, 0, 1)))
        return data


@TRANSFORMS.register()
class KeepKeys(DataOp):
    """Keep only ``keep_keys`` (in that order); these become the batch dict's keys."""

    keeps_only = True
    writes = ()

    def __init__(self, keep_keys: Sequence[str]):
        if not keep_keys or isinstance(keep_keys, str):
            raise TypeError(f"KeepKeys: keep_keys must be a non-empty list of keys, got {keep_keys!r}")
        self.reads = tuple(str(k) for k in keep_keys)

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        return {k: data[k] for k in self.reads}


@TRANSFORMS.register()
class DetResizeForTest(DataOp):
    """Evaluation resize of the detector, the same numbers as inference (det_ops.det_resize).

    Writes ``shape`` = [src_h, src_w, ratio_h, ratio_w] (float64), which the post-process needs to map boxes
    back to the source image; polygons stay in source coordinates (the metric compares there).
    """

    reads = ("image",)
    writes = ("image", "shape")

    def __init__(self, limit_side_len: int = 960, limit_type: str = "max"):
        self.limit_side_len = int(limit_side_len)
        self.limit_type = limit_type

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        img, shape = det_resize(data["image"], self.limit_side_len, self.limit_type)
        data["image"] = img
        data["shape"] = shape
        return data

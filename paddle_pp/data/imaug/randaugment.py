"""RandAugment as PaddleOCR's (used by the direction classifier): with probability ``prob`` apply
``num_layers`` operations drawn uniformly from 14, at the fixed strength ``magnitude`` / 10."""
from __future__ import annotations

import random
from typing import Any, Callable, Dict, Sequence

import numpy as np

from paddle_pp.data.imaug.base import DataOp
from paddle_pp.registry import TRANSFORMS


def _ops(fillcolor: Sequence[int]) -> Dict[str, Callable]:
    from PIL import Image, ImageEnhance, ImageOps

    fill = tuple(int(v) for v in fillcolor)
    affine = Image.Transform.AFFINE
    bicubic = Image.Resampling.BICUBIC

    def sign() -> int:
        return random.choice([-1, 1])

    def rotate_with_fill(img, deg):
        rot = img.convert("RGBA").rotate(deg)
        return Image.composite(rot, Image.new("RGBA", rot.size, (128,) * 4), rot).convert(img.mode)

    return {
        "shearX": lambda img, m: img.transform(img.size, affine, (1, m * sign(), 0, 0, 1, 0), bicubic, fillcolor=fill),
        "shearY": lambda img, m: img.transform(img.size, affine, (1, 0, 0, m * sign(), 1, 0), bicubic, fillcolor=fill),
        "translateX": lambda img, m: img.transform(img.size, affine, (1, 0, m * img.size[0] * sign(), 0, 1, 0),
                                                   fillcolor=fill),
        "translateY": lambda img, m: img.transform(img.size, affine, (1, 0, 0, 0, 1, m * img.size[1] * sign()),
                                                   fillcolor=fill),
        "rotate": rotate_with_fill,
        "color": lambda img, m: ImageEnhance.Color(img).enhance(1 + m * sign()),
        "posterize": lambda img, m: ImageOps.posterize(img, m),
        "solarize": lambda img, m: ImageOps.solarize(img, m),
        "contrast": lambda img, m: ImageEnhance.Contrast(img).enhance(1 + m * sign()),
        "sharpness": lambda img, m: ImageEnhance.Sharpness(img).enhance(1 + m * sign()),
        "brightness": lambda img, m: ImageEnhance.Brightness(img).enhance(1 + m * sign()),
        "autocontrast": lambda img, m: ImageOps.autocontrast(img),
        "equalize": lambda img, m: ImageOps.equalize(img),
        "invert": lambda img, m: ImageOps.invert(img),
    }


@TRANSFORMS.register()
class RandAugment(DataOp):
    reads = ("image",)
    writes = ("image",)

    def __init__(self, prob: float = 0.5, num_layers: int = 2, magnitude: int = 5,
                 fillcolor: Sequence[int] = (128, 128, 128)):
        self.prob = float(prob)
        self.num_layers = int(num_layers)
        level = magnitude / 10.0
        self.levels = {
            "shearX": 0.3 * level, "shearY": 0.3 * level,
            "translateX": 150.0 / 331 * level, "translateY": 150.0 / 331 * level,
            "rotate": 30 * level,  # always counter-clockwise, as PaddleOCR
            "color": 0.9 * level, "posterize": int(4.0 * level), "solarize": 256.0 * level,
            "contrast": 0.9 * level, "sharpness": 0.9 * level, "brightness": 0.9 * level,
            "autocontrast": 0, "equalize": 0, "invert": 0,
        }
        self.fillcolor = tuple(fillcolor)
        self._funcs = None

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        if np.random.rand() > self.prob:
            return data
        from PIL import Image

        if self._funcs is None:
            self._funcs = _ops(self.fillcolor)
        img = Image.fromarray(np.ascontiguousarray(data["image"]))
        names = list(self.levels)
        for _ in range(self.num_layers):
            name = names[np.random.randint(len(names))]
            img = self._funcs[name](img, self.levels[name])
        data["image"] = np.asarray(img).copy()
        return data

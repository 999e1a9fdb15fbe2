"""IaaAugment: imgaug augmenters built from the config; text polygons move with the image."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

import numpy as np

from paddle_pp.data.imaug.base import DataOp
from paddle_pp.registry import TRANSFORMS

DEFAULT_AUGMENTERS = [
    {"type": "Fliplr", "args": {"p": 0.5}},
    {"type": "Affine", "args": {"rotate": [-10, 10]}},
    {"type": "Resize", "args": {"size": [0.5, 3.0]}},  # scale factor range (PaddleOCR det configs)
]


def _build_augmenter(spec: Any, root: bool = True):
    """A list -> Sequential of its items; {type, args} -> imgaug.augmenters.<type>(**args) (lists -> tuples)."""
    import imgaug.augmenters as iaa

    if spec is None or (isinstance(spec, list) and not spec):
        return None
    if isinstance(spec, list):
        if root:
            return iaa.Sequential([_build_augmenter(item, root=False) for item in spec])
        return getattr(iaa, spec[0])(*[tuple(a) if isinstance(a, list) else a for a in spec[1:]])
    if isinstance(spec, dict):
        if "type" not in spec:
            raise TypeError(f"IaaAugment: augmenter entry needs 'type', got {spec!r}")
        if not hasattr(iaa, spec["type"]):
            raise KeyError(f"IaaAugment: imgaug has no augmenter '{spec['type']}'")
        args = {k: tuple(v) if isinstance(v, list) else v for k, v in (spec.get("args") or {}).items()}
        return getattr(iaa, spec["type"])(**args)
    raise TypeError(f"IaaAugment: unknown augmenter spec {spec!r}")


@TRANSFORMS.register()
class IaaAugment(DataOp):
    reads = ("image", "polys")
    writes = ("image", "polys")

    def __init__(self, augmenter_args: Optional[List[Dict[str, Any]]] = None):
        self.augmenter = _build_augmenter(DEFAULT_AUGMENTERS if augmenter_args is None else augmenter_args)
        self._pid = os.getpid()

    def _reseed_if_forked(self) -> None:
        # imgaug keeps its own RNG inside each augmenter; forked DataLoader workers would all inherit the same
        # state and augment identically. numpy's RNG is seeded per worker by paddle, so derive from it.
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self.augmenter.seed_(int(np.random.randint(0, 2 ** 31 - 1)))

    def apply(self, data: Dict[str, Any]) -> Dict[str, Any]:
        if self.augmenter is None:
            return data
        import imgaug

        self._reseed_if_forked()
        image = data["image"]
        shape = image.shape
        aug = self.augmenter.to_deterministic()
        data["image"] = aug.augment_image(image)
        polys = np.asarray(data["polys"], dtype=np.float32)
        if polys.size:
            k, n = polys.shape[:2]
            kps = imgaug.KeypointsOnImage([imgaug.Keypoint(x=float(x), y=float(y)) for x, y in polys.reshape(-1, 2)],
                                          shape=shape)
            moved = aug.augment_keypoints([kps])[0]
            polys = np.array([[p.x, p.y] for p in moved.keypoints], dtype=np.float32).reshape(k, n, 2)
        data["polys"] = polys
        return data

"""A model is backbone -> neck -> head, built from the `Architecture` section of a YAML config.

Each module declares `out_channels`, which becomes the next module's `in_channels`.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

import paddle
import paddle.nn as nn

from paddle_pp.registry import BACKBONES, HEADS, NECKS

# Importing the component modules registers them.
from .backbones import det_mobilenet_v3, rec_mobilenet_v3  # noqa: F401
from .heads import cls_head, ctc_head, db_head  # noqa: F401
from .necks import db_fpn, rnn  # noqa: F401

MODEL_TYPES = ("det", "rec", "cls")
# Recognition backbones serve the classifier too (PaddleOCR's convention).
_BACKBONE_FAMILY = {"det": "det", "rec": "rec", "cls": "rec"}


class BaseModel(nn.Layer):
    def __init__(self, arch: Mapping[str, Any]) -> None:
        super().__init__()
        model_type = arch.get("model_type")
        if model_type not in MODEL_TYPES:
            raise ValueError(f"Architecture.model_type must be one of {MODEL_TYPES}, got '{model_type}'")
        self.model_type = model_type
        in_channels = arch.get("in_channels", 3)

        backbone_cfg = dict(arch["Backbone"])
        backbone_cfg["name"] = f"{_BACKBONE_FAMILY[model_type]}/{backbone_cfg['name']}"
        self.backbone = BACKBONES.build(backbone_cfg, in_channels=in_channels)
        in_channels = self.backbone.out_channels

        self.use_neck = bool(arch.get("Neck"))
        if self.use_neck:
            self.neck = NECKS.build(arch["Neck"], in_channels=in_channels)
            in_channels = self.neck.out_channels
        self.head = HEADS.build(arch["Head"], in_channels=in_channels)

    def forward(self, x: paddle.Tensor) -> Any:
        x = self.backbone(x)
        if self.use_neck:
            x = self.neck(x)
        return self.head(x)


def build_model(config: Dict[str, Any]) -> BaseModel:
    """Build from a whole config (with an 'Architecture' section) or from the section itself."""
    arch = config.get("Architecture", config)
    return BaseModel(arch)

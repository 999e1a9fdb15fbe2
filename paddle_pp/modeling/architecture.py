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
        self.flip_average = bool(arch.get("flip_average", False))
        self.turn_180 = turn_180   # an attribute, so that an exporter can swap in the ops its runtime has
        if self.flip_average and model_type != "cls":
            raise ValueError(f"Architecture.flip_average is for the 0/180 classifier (model_type cls), "
                             f"not '{model_type}'")

    def forward(self, x: paddle.Tensor) -> Any:
        if self.flip_average and not self.training:
            return self.flip_averaged(x)
        return self.single_view(x)

    def single_view(self, x: paddle.Tensor) -> Any:
        x = self.backbone(x)
        if self.use_neck:
            x = self.neck(x)
        return self.head(x)

    def flip_averaged(self, x: paddle.Tensor) -> paddle.Tensor:
        """Flip-consistent 0/180 probabilities: the mean of [p0, p180] on the crop and [p180, p0] on the crop turned
        180 degrees, so that a crop and its turned copy always get opposite answers. A classifier trained on
        synthetic lines can be sure of a real line one way up and unsure of it the other way (README, "Results on
        this machine"). Inference only (training sees one view); it doubles the classifier's work, and it lives in
        the graph so that every engine (Paddle Inference, ONNX, Paddle-Lite) gets it from the exported model. The
        turned view is the padded input turned, so its padding sits on the left: the graph cannot see where the
        crop ends, and that is the view every reported number used."""
        upright = self.single_view(x)
        turned = self.single_view(self.turn_180(x))
        return (upright + paddle.concat([turned[:, 1:2], turned[:, 0:1]], axis=1)) * 0.5   # [p180, p0]


def turn_180(x: paddle.Tensor) -> paddle.Tensor:
    """[N, C, H, W] turned 180 degrees. A strided slice rather than paddle.flip, whose ONNX export needs fixed
    sizes on the flipped axes (the classifier's width is dynamic)."""
    return x[:, :, ::-1, ::-1]


def build_model(config: Dict[str, Any]) -> BaseModel:
    """Build from a whole config (with an 'Architecture' section) or from the section itself."""
    arch = config.get("Architecture", config)
    return BaseModel(arch)

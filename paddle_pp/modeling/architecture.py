"""A model is backbone -> neck -> head, built from the `Architecture` section of a YAML config.

Each module declares `out_channels`, which becomes the next module's `in_channels`. ``Architecture.name`` picks a
registered architecture (PaddleOCR's convention): absent or ``BaseModel`` for the plain chain,
``FlipAverageClassifier`` (modeling/flip_average.py) for the flip-consistent 0/180 classifier,
``DistillationModel`` (modeling/distillation.py) for named sub-models trained together.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

import paddle
import paddle.nn as nn

from paddle_pp.registry import ARCHITECTURES, BACKBONES, HEADS, NECKS

# Importing the component modules registers them.
from .backbones import det_mobilenet_v3, rec_mobilenet_v3  # noqa: F401
from .heads import cls_head, ctc_head, db_head  # noqa: F401
from .necks import db_fpn, rnn  # noqa: F401

MODEL_TYPES = ("det", "rec", "cls")
# Recognition backbones serve the classifier too (PaddleOCR's convention).
_BACKBONE_FAMILY = {"det": "det", "rec": "rec", "cls": "rec"}
DEFAULT_ARCHITECTURE = "BaseModel"


@ARCHITECTURES.register("BaseModel")
class BaseModel(nn.Layer):
    def __init__(self, arch: Mapping[str, Any]) -> None:
        super().__init__()
        model_type = arch.get("model_type")
        if model_type not in MODEL_TYPES:
            raise ValueError(f"Architecture.model_type must be one of {MODEL_TYPES}, got '{model_type}'")
        if "flip_average" in arch:  # the key of earlier configs: say where the option went
            raise ValueError("Architecture.flip_average is gone: the flip-consistent classifier is "
                             "'Architecture.name: FlipAverageClassifier'")
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


def build_architecture(arch: Mapping[str, Any]) -> nn.Layer:
    """The registered architecture ``arch['name']`` (default BaseModel) built from its section."""
    return ARCHITECTURES.get(arch.get("name") or DEFAULT_ARCHITECTURE)(arch)


def build_model(config: Dict[str, Any]) -> nn.Layer:
    """Build from a whole config (with an 'Architecture' section) or from the section itself."""
    # Imported here: these modules subclass or build BaseModel, so they import this one.
    from . import distillation, flip_average  # noqa: F401  (registration)

    return build_architecture(config.get("Architecture", config))


def inference_model(model: nn.Layer) -> nn.Layer:
    """The layer that evaluation, export and publishing use: a distillation model's named sub-model (the student),
    any other model itself."""
    pick = getattr(model, "inference_model", None)
    return pick() if callable(pick) else model

"""MobileNetV3 for DB detection: four feature maps at strides 4, 8, 16 and 32."""
from __future__ import annotations

from typing import List

import paddle
import paddle.nn as nn

from paddle_pp.registry import BACKBONES
from .mobilenet_v3_blocks import (LAST_CONV_SQUEEZE, ConvBNLayer, ResidualUnit, block_table, check_scale,
                                  make_divisible)


@BACKBONES.register("det/MobileNetV3")
class MobileNetV3(nn.Layer):
    """Stages end before every stride-2 block (after the stem-level ones) and at the last 1x1 conv.

    `disable_se` drops every SE module (PP-OCR's mobile detector has none, which speeds up ARM inference).
    """

    def __init__(self, in_channels: int = 3, model_name: str = "large", scale: float = 0.5,
                 disable_se: bool = False) -> None:
        super().__init__()
        check_scale(scale)
        table = block_table(model_name)
        inplanes = make_divisible(16 * scale)
        self.conv = ConvBNLayer(in_channels, inplanes, 3, stride=2, padding=1, act="hardswish")

        self.stages = nn.LayerList()
        self.out_channels: List[int] = []
        first_split = 2 if model_name == "large" else 0
        blocks: List[nn.Layer] = []
        for i, (k, exp, out, se, act, stride) in enumerate(table):
            if stride == 2 and i > first_split:
                self.out_channels.append(inplanes)
                self.stages.append(nn.Sequential(*blocks))
                blocks = []
            blocks.append(ResidualUnit(inplanes, make_divisible(scale * exp), make_divisible(scale * out),
                                       k, stride, se and not disable_se, act))
            inplanes = make_divisible(scale * out)
        last = make_divisible(scale * LAST_CONV_SQUEEZE[model_name])
        blocks.append(ConvBNLayer(inplanes, last, 1, act="hardswish"))
        self.stages.append(nn.Sequential(*blocks))
        self.out_channels.append(last)

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        x = self.conv(x)
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs

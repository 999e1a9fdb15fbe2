"""Direction classification head: global average pool -> linear -> softmax (eval)."""
from __future__ import annotations

import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_pp.modeling.backbones.mobilenet_v3_blocks import global_avg_pool
from paddle_pp.registry import HEADS


@HEADS.register("ClsHead")
class ClsHead(nn.Layer):
    def __init__(self, in_channels: int, class_dim: int = 2) -> None:
        super().__init__()
        self.out_channels = class_dim
        bound = 1.0 / math.sqrt(in_channels)
        self.fc = nn.Linear(in_channels, class_dim,
                            weight_attr=paddle.ParamAttr(initializer=nn.initializer.Uniform(-bound, bound)))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = global_avg_pool(x).flatten(1)
        logits = self.fc(x)
        return logits if self.training else F.softmax(logits, axis=1)

"""CTC head: a per-step linear classifier over the dictionary (blank at index 0)."""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle.regularizer import L2Decay

from paddle_pp.registry import HEADS


@HEADS.register("CTCHead")
class CTCHead(nn.Layer):
    """Logits in training (for CTC loss), softmax probabilities [N, T, C] in eval mode."""

    def __init__(self, in_channels: int, out_channels: int = 6625, fc_decay: float = 1e-5) -> None:
        super().__init__()
        self.out_channels = out_channels
        # PP-OCR regularizes only this layer with its own small L2 decay (fc_decay).
        attr = paddle.ParamAttr(regularizer=L2Decay(fc_decay))
        self.fc = nn.Linear(in_channels, out_channels, weight_attr=attr,
                            bias_attr=paddle.ParamAttr(regularizer=L2Decay(fc_decay)))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        logits = self.fc(x)
        return logits if self.training else F.softmax(logits, axis=2)

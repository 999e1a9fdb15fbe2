"""DBFPN: the detector's feature pyramid (no BN, no activation, no bias anywhere)."""
from __future__ import annotations

from typing import List, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_pp.registry import NECKS


def _upsample(x: paddle.Tensor, factor: int) -> paddle.Tensor:
    return F.upsample(x, scale_factor=factor, mode="nearest", align_mode=1)


@NECKS.register("DBFPN")
class DBFPN(nn.Layer):
    def __init__(self, in_channels: Sequence[int], out_channels: int = 96) -> None:
        super().__init__()
        if len(in_channels) != 4:
            raise ValueError(f"DBFPN needs 4 input feature maps, got channels {list(in_channels)}")
        self.out_channels = out_channels
        c2, c3, c4, c5 = in_channels
        self.in2_conv = nn.Conv2D(c2, out_channels, 1, bias_attr=False)
        self.in3_conv = nn.Conv2D(c3, out_channels, 1, bias_attr=False)
        self.in4_conv = nn.Conv2D(c4, out_channels, 1, bias_attr=False)
        self.in5_conv = nn.Conv2D(c5, out_channels, 1, bias_attr=False)
        quarter = out_channels // 4
        self.p5_conv = nn.Conv2D(out_channels, quarter, 3, padding=1, bias_attr=False)
        self.p4_conv = nn.Conv2D(out_channels, quarter, 3, padding=1, bias_attr=False)
        self.p3_conv = nn.Conv2D(out_channels, quarter, 3, padding=1, bias_attr=False)
        self.p2_conv = nn.Conv2D(out_channels, quarter, 3, padding=1, bias_attr=False)

    def forward(self, features: List[paddle.Tensor]) -> paddle.Tensor:
        c2, c3, c4, c5 = features
        # The execution order (in5 first) matches the official graph: weight import relies on it.
        in5 = self.in5_conv(c5)
        in4 = self.in4_conv(c4)
        in3 = self.in3_conv(c3)
        in2 = self.in2_conv(c2)
        out4 = in4 + _upsample(in5, 2)
        out3 = in3 + _upsample(out4, 2)
        out2 = in2 + _upsample(out3, 2)
        p5 = _upsample(self.p5_conv(in5), 8)
        p4 = _upsample(self.p4_conv(out4), 4)
        p3 = _upsample(self.p3_conv(out3), 2)
        p2 = self.p2_conv(out2)
        return paddle.concat([p5, p4, p3, p2], axis=1)

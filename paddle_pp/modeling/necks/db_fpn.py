"""DBFPN: the detector's feature pyramid (no BN, no activation, no bias anywhere)."""
from __future__ import annotations

from typing import List, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_pp.registry import NECKS


NEAREST_MODES = ("round_prefer_floor", "floor")


def upsample_nearest(x: paddle.Tensor, factor: int, nearest_mode: str = "round_prefer_floor") -> paddle.Tensor:
    """Nearest upsampling by an integer factor.

    'floor' is Paddle's nearest_interp: output pixel i reads input floor(i / f). The official PP-OCR
    detector graph (ch_PP-OCRv2_det_infer.onnx) resizes with ONNX's asymmetric coordinates and the default
    'round_prefer_floor' rounding, which reads input round_half_down(i / f) = floor((i + f/2 - 1) / f),
    clamped at the border: for factors 4 and 8 that shifts the p4 / p5 maps by 1 and 3 pixels. The
    official weights are judged against that graph, so it is our default; a floor map shifted left/up by
    f/2 - 1 pixels with the border replicated is exactly the ONNX result.
    """
    # Broadcast and flatten rather than F.upsample: Paddle Inference's oneDNN executor cannot run the PIR
    # interpolate op (its scale attribute is a double array), and repeat_interleave does not survive
    # paddle2onnx; this form runs the same in dygraph, both export formats and ONNX.
    n, c, h, w = x.shape
    up = x.unsqueeze([3, 5]).expand([n, c, h, factor, w, factor]).reshape([n, c, h * factor, w * factor])
    shift = factor // 2 - 1
    if nearest_mode == "floor" or shift <= 0:
        return up
    return F.pad(up[:, :, shift:, shift:], [0, shift, 0, shift], mode="replicate")


@NECKS.register("DBFPN")
class DBFPN(nn.Layer):
    def __init__(self, in_channels: Sequence[int], out_channels: int = 96,
                 nearest_mode: str = "round_prefer_floor") -> None:
        super().__init__()
        if nearest_mode not in NEAREST_MODES:
            raise ValueError(f"DBFPN nearest_mode must be one of {NEAREST_MODES}, got '{nearest_mode}'")
        self.nearest_mode = nearest_mode
        # slim/prune.py traces the model into a static graph to find which channels are coupled; paddleslim's
        # graph walker knows nearest_interp_v2 but not the expand/reshape/pad form below. The channel coupling
        # is the same either way, so while tracing the neck upsamples with F.interpolate (numerics unused).
        self.trace_for_pruning = False
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
        if self.trace_for_pruning:
            up = lambda t, f: F.interpolate(t, scale_factor=f, mode="nearest")  # noqa: E731
        else:
            up = lambda t, f: upsample_nearest(t, f, self.nearest_mode)  # noqa: E731
        out4 = in4 + up(in5, 2)
        out3 = in3 + up(out4, 2)
        out2 = in2 + up(out3, 2)
        p5 = up(self.p5_conv(in5), 8)
        p4 = up(self.p4_conv(out4), 4)
        p3 = up(self.p3_conv(out3), 2)
        p2 = self.p2_conv(out2)
        return paddle.concat([p5, p4, p3, p2], axis=1)

"""Building blocks shared by the detection and recognition MobileNetV3 variants.

Sub-layer names (conv/bn, expand_conv, bottleneck_conv, mid_se, linear_conv) follow PaddleOCR's dygraph
code, so state_dict keys are deterministic and PaddleOCR dygraph checkpoints load by name.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

Stride = Union[int, Tuple[int, int]]


def make_divisible(v: float, divisor: int = 8, min_value: Optional[int] = None) -> int:
    """Round channels to a multiple of 8, never dropping more than 10% (MobileNet convention)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def global_avg_pool(x: paddle.Tensor) -> paddle.Tensor:
    """Mean over H and W as [N, C, 1, 1], reduced over W first and then H.

    Paddle's one-pass global pooling accumulates a whole plane in float32 sequentially (about 3e-6
    relative error on a 16x480 plane); SE then scales the whole channel by it and the BiLSTM of the
    recognizer amplifies that into softmax differences of 2e-4 against the official graph. Two shorter
    reductions are 10x more accurate and no slower.
    """
    return x.mean(axis=3, keepdim=True).mean(axis=2, keepdim=True)


def apply_activation(x: paddle.Tensor, act: Optional[str]) -> paddle.Tensor:
    if act is None:
        return x
    if act == "relu":
        return F.relu(x)
    if act == "hardswish":
        return F.hardswish(x)
    raise ValueError(f"unsupported activation '{act}' (relu or hardswish)")


class ConvBNLayer(nn.Layer):
    """Conv2D without bias -> BatchNorm (eps 1e-5) -> optional activation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: Stride = 1,
                 padding: int = 0, groups: int = 1, act: Optional[str] = None) -> None:
        super().__init__()
        self.act = act
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                              groups=groups, bias_attr=False)
        self.bn = nn.BatchNorm2D(out_channels, epsilon=1e-5)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return apply_activation(self.bn(self.conv(x)), self.act)


class SEModule(nn.Layer):
    """Squeeze-and-excitation with PP-OCR's hard sigmoid (slope 0.2, offset 0.5, not Paddle's 1/6)."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(channels, channels // reduction, 1)
        self.conv2 = nn.Conv2D(channels // reduction, channels, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        w = F.relu(self.conv1(global_avg_pool(x)))
        w = F.hardsigmoid(self.conv2(w), slope=0.2, offset=0.5)
        return x * w


class ResidualUnit(nn.Layer):
    """Inverted residual: 1x1 expand -> kxk depthwise -> [SE] -> 1x1 linear (+ input).

    The shortcut exists only for the integer stride 1 with equal channels: PaddleOCR's recognizer uses a
    tuple stride (1, 1) in its first block precisely to have no shortcut there, and the weights expect it.
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, kernel_size: int,
                 stride: Stride, use_se: bool, act: Optional[str]) -> None:
        super().__init__()
        self.if_shortcut = isinstance(stride, int) and stride == 1 and in_channels == out_channels
        self.if_se = use_se
        self.expand_conv = ConvBNLayer(in_channels, mid_channels, 1, act=act)
        self.bottleneck_conv = ConvBNLayer(mid_channels, mid_channels, kernel_size, stride=stride,
                                           padding=(kernel_size - 1) // 2, groups=mid_channels, act=act)
        if use_se:
            self.mid_se = SEModule(mid_channels)
        self.linear_conv = ConvBNLayer(mid_channels, out_channels, 1, act=None)

    def forward(self, inputs: paddle.Tensor) -> paddle.Tensor:
        x = self.bottleneck_conv(self.expand_conv(inputs))
        if self.if_se:
            x = self.mid_se(x)
        x = self.linear_conv(x)
        return inputs + x if self.if_shortcut else x


# (kernel, expansion, out, use_se, activation, stride) per block, before scaling; SPEC.md's tables.
LARGE_BLOCKS = [
    (3, 16, 16, False, "relu", 1),
    (3, 64, 24, False, "relu", 2),
    (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2),
    (5, 120, 40, True, "relu", 1),
    (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hardswish", 2),
    (3, 200, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 480, 112, True, "hardswish", 1),
    (3, 672, 112, True, "hardswish", 1),
    (5, 672, 160, True, "hardswish", 2),
    (5, 960, 160, True, "hardswish", 1),
    (5, 960, 160, True, "hardswish", 1),
]
SMALL_BLOCKS = [
    (3, 16, 16, True, "relu", 2),
    (3, 72, 24, False, "relu", 2),
    (3, 88, 24, False, "relu", 1),
    (5, 96, 40, True, "hardswish", 2),
    (5, 240, 40, True, "hardswish", 1),
    (5, 240, 40, True, "hardswish", 1),
    (5, 120, 48, True, "hardswish", 1),
    (5, 144, 48, True, "hardswish", 1),
    (5, 288, 96, True, "hardswish", 2),
    (5, 576, 96, True, "hardswish", 1),
    (5, 576, 96, True, "hardswish", 1),
]
LAST_CONV_SQUEEZE = {"large": 960, "small": 576}
SUPPORTED_SCALES = (0.35, 0.5, 0.75, 1.0, 1.25)


def block_table(model_name: str) -> list:
    if model_name == "large":
        return list(LARGE_BLOCKS)
    if model_name == "small":
        return list(SMALL_BLOCKS)
    raise ValueError(f"MobileNetV3 model_name must be 'large' or 'small', got '{model_name}'")


def check_scale(scale: float) -> None:
    if scale not in SUPPORTED_SCALES:
        raise ValueError(f"MobileNetV3 scale must be one of {SUPPORTED_SCALES}, got {scale}")

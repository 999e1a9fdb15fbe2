"""MobileNetV3 for recognition and direction classification.

Stride-2 blocks downsample only the height ((2, 1) strides) so a text line keeps its horizontal
resolution; a final 2x2 max pool brings the height of a 32-pixel line to 1.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import paddle
import paddle.nn as nn

from paddle_pp.registry import BACKBONES
from .mobilenet_v3_blocks import (LAST_CONV_SQUEEZE, ConvBNLayer, ResidualUnit, block_table, check_scale,
                                  make_divisible)

# Index of the blocks whose stride is replaced by (s, 1), per variant; the stride values come from
# `small_stride` / `large_stride`.
_STRIDED_BLOCKS = {"small": (0, 1, 3, 8), "large": (0, 1, 3, 12)}


def _rec_strides(model_name: str, strides: Sequence[int]) -> List[object]:
    table = block_table(model_name)
    result: List[object] = [row[5] for row in table]
    if model_name == "large":
        result[6] = 1  # the large recognizer keeps full resolution here (4 downsamples only)
    for slot, block_index in enumerate(_STRIDED_BLOCKS[model_name]):
        if model_name == "large" and slot == 0:
            result[block_index] = strides[0]  # an int: the first large block keeps its shortcut
        else:
            result[block_index] = (strides[slot], 1)
    return result


@BACKBONES.register("rec/MobileNetV3")
class RecMobileNetV3(nn.Layer):
    def __init__(self, in_channels: int = 3, model_name: str = "small", scale: float = 0.5,
                 large_stride: Optional[Sequence[int]] = None, small_stride: Optional[Sequence[int]] = None,
                 disable_se: bool = False) -> None:
        super().__init__()
        check_scale(scale)
        strides = (small_stride or [2, 2, 2, 2]) if model_name == "small" else (large_stride or [1, 2, 2, 2])
        if len(strides) != 4:
            raise ValueError(f"{model_name}_stride needs 4 values, got {list(strides)}")
        table = block_table(model_name)
        block_strides = _rec_strides(model_name, strides)

        inplanes = make_divisible(16 * scale)
        self.conv1 = ConvBNLayer(in_channels, inplanes, 3, stride=2, padding=1, act="hardswish")
        blocks = []
        for (k, exp, out, se, act, _), stride in zip(table, block_strides):
            blocks.append(ResidualUnit(inplanes, make_divisible(scale * exp), make_divisible(scale * out),
                                       k, stride, se and not disable_se, act))
            inplanes = make_divisible(scale * out)
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = make_divisible(scale * LAST_CONV_SQUEEZE[model_name])
        self.conv2 = ConvBNLayer(inplanes, self.out_channels, 1, act="hardswish")
        self.pool = nn.MaxPool2D(kernel_size=2, stride=2, padding=0)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.pool(self.conv2(self.blocks(self.conv1(x))))

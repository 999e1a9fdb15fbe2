"""The flip-consistent 0/180 classifier: ``Architecture.name: FlipAverageClassifier`` (model_type cls).

A classifier trained on synthetic lines can be sure of a real line one way up and unsure of it the other way.
At inference this architecture answers the mean of [p0, p180] on the crop and [p180, p0] on the crop turned 180
degrees, so that a crop and its turned copy always get opposite answers. Training sees one view (the logits of
the crop as given). It doubles the classifier's work, and it lives in the graph so that every engine (Paddle
Inference, ONNX, Paddle-Lite) gets it from the exported model. The turned view is the padded input turned, so
its padding sits on the left: the graph cannot see where the crop ends, and that is the view every reported
number used.

It is a BaseModel (same backbone, head and parameter names), so the same weights load into either.
"""
from __future__ import annotations

from typing import Any, Mapping

import paddle

from paddle_pp.registry import ARCHITECTURES

from .architecture import BaseModel


def turn_180(x: paddle.Tensor) -> paddle.Tensor:
    """[N, C, H, W] turned 180 degrees. A strided slice rather than paddle.flip, whose ONNX export needs fixed
    sizes on the flipped axes (the classifier's width is dynamic)."""
    return x[:, :, ::-1, ::-1]


@ARCHITECTURES.register("FlipAverageClassifier")
class FlipAverageClassifier(BaseModel):
    flip_average = True   # exporters look for it (Paddle-Lite swaps in its flip op for turn_180)

    def __init__(self, arch: Mapping[str, Any]) -> None:
        if arch.get("model_type") != "cls":
            raise ValueError(f"FlipAverageClassifier (flip_average) is for the 0/180 classifier (model_type cls), "
                             f"not '{arch.get('model_type')}'")
        super().__init__(arch)
        self.turn_180 = turn_180   # an attribute, so that an exporter can swap in the ops its runtime has

    def forward(self, x: paddle.Tensor) -> Any:
        if self.training:
            return self.single_view(x)
        upright = self.single_view(x)
        turned = self.single_view(self.turn_180(x))
        return (upright + paddle.concat([turned[:, 1:2], turned[:, 0:1]], axis=1)) * 0.5   # [p180, p0]

    def single_view(self, x: paddle.Tensor) -> Any:
        """The plain classifier's answer on the crop as given."""
        return super().forward(x)

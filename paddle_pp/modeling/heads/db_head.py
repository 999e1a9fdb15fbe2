"""DBHead: probability (shrink) map and, for training, threshold and approximate binary maps."""
from __future__ import annotations

from typing import Dict, Union

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_pp.modeling.ops import sigmoid
from paddle_pp.registry import HEADS


class DBBranch(nn.Layer):
    """3x3 conv -> BN+relu -> deconv x2 -> BN+relu -> deconv x2 -> sigmoid: a map at input resolution."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        mid = in_channels // 4
        self.conv1 = nn.Conv2D(in_channels, mid, 3, padding=1, bias_attr=False)
        self.conv_bn1 = nn.BatchNorm2D(mid, epsilon=1e-5)
        self.conv2 = nn.Conv2DTranspose(mid, mid, 2, stride=2)
        self.conv_bn2 = nn.BatchNorm2D(mid, epsilon=1e-5)
        self.conv3 = nn.Conv2DTranspose(mid, 1, 2, stride=2)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = F.relu(self.conv_bn1(self.conv1(x)))
        x = F.relu(self.conv_bn2(self.conv2(x)))
        return sigmoid(self.conv3(x))


@HEADS.register("DBHead")
class DBHead(nn.Layer):
    """Eval mode returns the probability map [N,1,H,W] (what is exported); train mode a dict of maps.

    ``detach_threshold``: the threshold branch learns from the features without sending gradients back into
    them. The official inference weights have no threshold branch, so fine-tuning them starts it from random
    values; its large early loss (beta * L1) would otherwise rewrite the shared neck and backbone before the
    branch is any good (fine-tuned hmean fell from 0.945 to 0.907 on SROIE det_val). The threshold branch is
    training-only, so this changes nothing at inference. False = the DB paper's joint training.
    """

    def __init__(self, in_channels: int, k: int = 50, detach_threshold: bool = False) -> None:
        super().__init__()
        self.k = k
        self.detach_threshold = detach_threshold
        self.out_channels = 1
        self.binarize = DBBranch(in_channels)
        self.thresh = DBBranch(in_channels)

    def step_function(self, prob: paddle.Tensor, threshold: paddle.Tensor) -> paddle.Tensor:
        """Differentiable binarization 1 / (1 + exp(-k (P - T)))."""
        return paddle.reciprocal(1 + paddle.exp(-self.k * (prob - threshold)))

    def forward(self, x: paddle.Tensor) -> Union[paddle.Tensor, Dict[str, paddle.Tensor]]:
        shrink = self.binarize(x)
        if not self.training:
            return shrink
        threshold = self.thresh(x.detach() if self.detach_threshold else x)
        binary = self.step_function(shrink, threshold)
        return {"shrink_maps": shrink, "threshold_maps": threshold, "binary_maps": binary}

"""The DB (differentiable binarization) loss, as PaddleOCR 2.x ``DBLoss``.

    loss = alpha * BalanceLoss(shrink map) + beta * MaskL1(threshold map) + Dice(binary map)

The shrink and binary maps are compared with the shrunk text map (``shrink_map`` under ``shrink_mask``), the
threshold map with the border map (``threshold_map`` under ``threshold_mask``).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

import paddle
import paddle.nn as nn

from paddle_pp.registry import LOSSES

from .det_basic_loss import BalanceLoss, DiceLoss, MaskL1Loss


def _squeeze_channel(x: paddle.Tensor) -> paddle.Tensor:
    """[N, 1, H, W] -> [N, H, W]; [N, H, W] unchanged."""
    return x[:, 0, :, :] if x.ndim == 4 else x


@LOSSES.register("DBLoss")
class DBLoss(nn.Layer):
    def __init__(self, balance_loss: bool = True, main_loss_type: str = "DiceLoss", alpha: float = 5,
                 beta: float = 10, ohem_ratio: float = 3, eps: float = 1e-6) -> None:
        super().__init__()
        self.alpha = alpha
        self.beta = beta
        self.dice_loss = DiceLoss(eps=eps)
        self.l1_loss = MaskL1Loss(eps=eps)
        self.bce_loss = BalanceLoss(balance_loss=balance_loss, main_loss_type=main_loss_type,
                                    negative_ratio=ohem_ratio)

    def forward(self, predicts: Mapping[str, paddle.Tensor], batch: Mapping[str, Any]) -> Dict[str, paddle.Tensor]:
        shrink_maps = _squeeze_channel(predicts["shrink_maps"])
        threshold_maps = _squeeze_channel(predicts["threshold_maps"])
        binary_maps = _squeeze_channel(predicts["binary_maps"])
        gt_shrink = _as_float(batch["shrink_map"])
        gt_shrink_mask = _as_float(batch["shrink_mask"])
        gt_thresh = _as_float(batch["threshold_map"])
        gt_thresh_mask = _as_float(batch["threshold_mask"])

        loss_shrink_maps = self.alpha * self.bce_loss(shrink_maps, gt_shrink, gt_shrink_mask)
        loss_threshold_maps = self.beta * self.l1_loss(threshold_maps, gt_thresh, gt_thresh_mask)
        loss_binary_maps = self.dice_loss(binary_maps, gt_shrink, gt_shrink_mask)
        loss = loss_shrink_maps + loss_threshold_maps + loss_binary_maps
        return {"loss": loss, "loss_shrink_maps": loss_shrink_maps, "loss_threshold_maps": loss_threshold_maps,
                "loss_binary_maps": loss_binary_maps}


def _as_float(x: Any) -> paddle.Tensor:
    if not isinstance(x, paddle.Tensor):
        x = paddle.to_tensor(x)
    return x.astype("float32") if x.dtype != paddle.float32 else x

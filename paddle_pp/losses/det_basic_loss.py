"""Building blocks of the DB loss, as PaddleOCR 2.x ``det_basic_loss.py``.

All three take ``pred``, ``gt`` and ``mask`` tensors of one shape ([N, H, W]); the mask selects the pixels that
count (0 on don't-care text and, for the threshold map, outside the border band).
"""
from __future__ import annotations

from typing import Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_pp.registry import LOSSES


@LOSSES.register("DiceLoss")
class DiceLoss(nn.Layer):
    """1 - 2 |P*G*M| / (|P*M| + |G*M| + eps): a scalar in [0, 1]."""

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, pred: paddle.Tensor, gt: paddle.Tensor, mask: paddle.Tensor,
                weights: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        if pred.shape != gt.shape or pred.shape != mask.shape:
            raise ValueError(f"DiceLoss: shapes differ: pred {pred.shape}, gt {gt.shape}, mask {mask.shape}")
        if weights is not None:
            mask = weights * mask
        intersection = paddle.sum(pred * gt * mask)
        union = paddle.sum(pred * mask) + paddle.sum(gt * mask) + self.eps
        return 1 - 2.0 * intersection / union


@LOSSES.register("MaskL1Loss")
class MaskL1Loss(nn.Layer):
    """Mean absolute error over the masked pixels: sum(|P-G| M) / (sum(M) + eps)."""

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, pred: paddle.Tensor, gt: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        return (paddle.abs(pred - gt) * mask).sum() / (mask.sum() + self.eps)


class BCELoss(nn.Layer):
    """Per-pixel binary cross-entropy on probabilities (no reduction by default)."""

    def __init__(self, reduction: str = "none") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, pred: paddle.Tensor, gt: paddle.Tensor, mask: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        return F.binary_cross_entropy(pred, gt, reduction=self.reduction)


@LOSSES.register("BalanceLoss")
class BalanceLoss(nn.Layer):
    """A base loss with online hard negative mining (OHEM), PaddleOCR's ``BalanceLoss``.

    Positives are the masked text pixels; of the masked background pixels only the ``negative_ratio`` x
    #positives with the largest loss count. The result is (sum of positive losses + sum of the kept negative
    losses) / (#positives + #kept negatives + eps).

    ``main_loss_type`` picks the base loss as PaddleOCR does: 'BCELoss' (per pixel, the DB paper's choice),
    'DiceLoss' or 'MaskL1Loss' (scalars: mining then only rescales them, so the result equals the scalar
    whenever enough negatives exist), 'CrossEntropy' or 'Euclidean'.
    """

    def __init__(self, balance_loss: bool = True, main_loss_type: str = "DiceLoss", negative_ratio: float = 3,
                 return_origin: bool = False, eps: float = 1e-6) -> None:
        super().__init__()
        self.balance_loss = balance_loss
        self.main_loss_type = main_loss_type
        self.negative_ratio = negative_ratio
        self.return_origin = return_origin
        self.eps = eps
        if main_loss_type == "CrossEntropy":
            self.loss = nn.CrossEntropyLoss()
        elif main_loss_type == "Euclidean":
            self.loss = nn.MSELoss()
        elif main_loss_type == "DiceLoss":
            self.loss = DiceLoss(eps)
        elif main_loss_type == "BCELoss":
            self.loss = BCELoss(reduction="none")
        elif main_loss_type == "MaskL1Loss":
            self.loss = MaskL1Loss(eps)
        else:
            raise ValueError(f"BalanceLoss: main_loss_type must be one of CrossEntropy, Euclidean, DiceLoss, "
                             f"BCELoss, MaskL1Loss; got '{main_loss_type}'")

    def forward(self, pred: paddle.Tensor, gt: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        positive = gt * mask
        negative = (1 - gt) * mask
        positive_count = int(positive.sum())
        negative_count = int(min(float(negative.sum()), positive_count * self.negative_ratio))
        if self.main_loss_type in ("CrossEntropy", "Euclidean"):
            loss = self.loss(pred, gt)
        else:
            loss = self.loss(pred, gt, mask=mask)
        if not self.balance_loss:
            return loss
        positive_loss = positive * loss
        negative_loss = paddle.reshape(negative * loss, shape=[-1])
        if negative_count > 0:
            negative_loss = paddle.sort(negative_loss, descending=True)[:negative_count]
            balance = (positive_loss.sum() + negative_loss.sum()) / (positive_count + negative_count + self.eps)
        else:
            balance = positive_loss.sum() / (positive_count + self.eps)
        if self.return_origin:
            return balance, loss
        return balance

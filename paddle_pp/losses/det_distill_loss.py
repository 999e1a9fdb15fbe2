"""DB loss plus knowledge distillation from a frozen teacher detector (for recovering a pruned detector).

    loss = DBLoss(student, labels) + distill_weight * (alpha * BalanceLoss(P_s, T) + Dice(P_s, T))
                                    + soft_weight * BCE(P_s, P_t)
    T = teacher probability map P_t > teacher_thresh      (PaddleOCR's DistillationDBLoss pseudo-label)

The optional soft term (``soft_weight``, default 0: off) matches the teacher's probabilities themselves, not only
which side of the threshold they fall on: how sure the teacher is, which the box score (the mean probability
inside a box, compared with box_thresh) depends on.

Why: a pruned detector fine-tuned only on the labels of a small, narrow training set (receipts, synthetic
scenes) relearns those and forgets what the unpruned model knew about everything else (our first pruned model
kept 0.73 hmean on receipts but fell from 0.62 to 0.11 on MSRA-TD500 scene photos). The teacher, the model
before pruning, gives a dense target on every pixel of every training crop, including images that carry no
labels of their own (pseudo-labelled photos), so the student is pulled back towards the teacher's behaviour.

Distillation is an architecture (modeling/distillation.py, ``Architecture.name: DistillationModel``): the model
returns ``{sub-model name: outputs}``, and this loss only computes from that dict: ``student`` (default Student,
train-mode DB maps) against ``teacher`` (default Teacher, a frozen sub-model in eval mode: its probability map).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_pp.registry import LOSSES

from .det_basic_loss import BalanceLoss, DiceLoss
from .det_db_loss import DBLoss, _squeeze_channel
from .distill import sub_model_output


@LOSSES.register("DBDistillLoss")
class DBDistillLoss(nn.Layer):
    def __init__(self, student: str = "Student", teacher: str = "Teacher", distill_weight: float = 1.0,
                 teacher_thresh: float = 0.3, soft_weight: float = 0.0, balance_loss: bool = True,
                 main_loss_type: str = "DiceLoss", alpha: float = 5, beta: float = 10, ohem_ratio: float = 3,
                 eps: float = 1e-6) -> None:
        super().__init__()
        self.db_loss = DBLoss(balance_loss=balance_loss, main_loss_type=main_loss_type, alpha=alpha, beta=beta,
                              ohem_ratio=ohem_ratio, eps=eps)
        self.student = str(student)
        self.teacher = str(teacher)
        self.alpha = alpha
        self.distill_weight = float(distill_weight)
        self.teacher_thresh = float(teacher_thresh)
        self.soft_weight = float(soft_weight)
        self.bce_loss = BalanceLoss(balance_loss=balance_loss, main_loss_type=main_loss_type,
                                    negative_ratio=ohem_ratio)
        self.dice_loss = DiceLoss(eps=eps)

    def teacher_probability(self, predicts: Mapping[str, Any]) -> paddle.Tensor:
        """[N, H, W] the teacher's probability map (a constant: no gradient flows into the teacher)."""
        prob = sub_model_output(predicts, self.teacher, type(self).__name__)
        if isinstance(prob, Mapping):
            prob = prob["shrink_maps"]
        return _squeeze_channel(prob).detach()

    def forward(self, predicts: Mapping[str, Any], batch: Mapping[str, Any]) -> Dict[str, paddle.Tensor]:
        student = sub_model_output(predicts, self.student, type(self).__name__)
        losses = self.db_loss(student, batch)
        teacher_prob = self.teacher_probability(predicts)
        target = (teacher_prob > self.teacher_thresh).astype("float32")  # thresholded as DBPostProcess does
        shrink = _squeeze_channel(student["shrink_maps"])
        everywhere = paddle.ones_like(target)
        distill = self.alpha * self.bce_loss(shrink, target, everywhere) + self.dice_loss(shrink, target, everywhere)
        losses["loss_distill"] = self.distill_weight * distill
        if self.soft_weight > 0:
            soft = F.binary_cross_entropy(paddle.clip(shrink, 1e-6, 1 - 1e-6), teacher_prob)
            losses["loss_distill_soft"] = self.soft_weight * soft
            losses["loss_distill"] = losses["loss_distill"] + losses["loss_distill_soft"]
        losses["loss"] = losses["loss"] + losses["loss_distill"]
        return losses

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

The teacher is built from ``teacher_config`` (default ``det``: configs/det.yml's architecture) with
``teacher`` weights ('official' or a .pdparams path / weights directory, as Global.pretrained_model) and is
never trained: it is not part of the trained model, so it is in neither the optimizer nor the checkpoints.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_pp.registry import LOSSES

from .det_basic_loss import BalanceLoss, DiceLoss
from .det_db_loss import DBLoss, _squeeze_channel


def build_teacher(teacher: str, teacher_config: str = "det") -> nn.Layer:
    """The frozen teacher detector (eval mode, no gradients)."""
    from paddle_pp.config import load_config
    from paddle_pp.modeling.architecture import build_model
    from paddle_pp.training.checkpoint import load_pretrained_weights, resolve_pretrained

    cfg = load_config(teacher_config)
    model = build_model(cfg["Architecture"])
    path = resolve_pretrained(str(teacher), cfg["Global"].get("model_name"))
    report = load_pretrained_weights(model, path)
    inference_missing = [n for n in report["missing"] if not n.startswith("head.thresh.")]
    if report["shape_mismatch"] or inference_missing:
        raise ValueError(f"teacher weights {path} do not fit the {teacher_config} architecture: "
                         f"{len(report['shape_mismatch'])} shape mismatches, missing {inference_missing[:4]}")
    model.eval()
    for param in model.parameters():
        param.stop_gradient = True
    return model


@LOSSES.register("DBDistillLoss")
class DBDistillLoss(nn.Layer):
    def __init__(self, teacher: Any = "official", teacher_config: str = "det", distill_weight: float = 1.0,
                 teacher_thresh: float = 0.3, soft_weight: float = 0.0, balance_loss: bool = True,
                 main_loss_type: str = "DiceLoss", alpha: float = 5, beta: float = 10, ohem_ratio: float = 3,
                 eps: float = 1e-6, teacher_model: Optional[nn.Layer] = None) -> None:
        super().__init__()
        self.db_loss = DBLoss(balance_loss=balance_loss, main_loss_type=main_loss_type, alpha=alpha, beta=beta,
                              ohem_ratio=ohem_ratio, eps=eps)
        self.alpha = alpha
        self.distill_weight = float(distill_weight)
        self.teacher_thresh = float(teacher_thresh)
        self.soft_weight = float(soft_weight)
        self.bce_loss = BalanceLoss(balance_loss=balance_loss, main_loss_type=main_loss_type,
                                    negative_ratio=ohem_ratio)
        self.dice_loss = DiceLoss(eps=eps)
        # A plain attribute, not a sublayer: the teacher must not show up in parameters() or state_dict().
        self.__dict__["teacher"] = teacher_model if teacher_model is not None else build_teacher(teacher,
                                                                                                 teacher_config)

    def teacher_probability(self, image: paddle.Tensor) -> paddle.Tensor:
        """[N, H, W] the teacher's probability map."""
        teacher = self.__dict__["teacher"]
        teacher.eval()  # the trainer switches modules to train mode; the teacher always infers
        with paddle.no_grad():
            prob = teacher(image)
        if isinstance(prob, Mapping):
            prob = prob["shrink_maps"]
        return _squeeze_channel(prob)

    def forward(self, predicts: Mapping[str, paddle.Tensor], batch: Mapping[str, Any]) -> Dict[str, paddle.Tensor]:
        losses = self.db_loss(predicts, batch)
        image = batch["image"]
        if not isinstance(image, paddle.Tensor):
            image = paddle.to_tensor(image)
        teacher_prob = self.teacher_probability(image)
        target = (teacher_prob > self.teacher_thresh).astype("float32")  # thresholded as DBPostProcess does
        shrink = _squeeze_channel(predicts["shrink_maps"])
        everywhere = paddle.ones_like(target)
        distill = self.alpha * self.bce_loss(shrink, target, everywhere) + self.dice_loss(shrink, target, everywhere)
        losses["loss_distill"] = self.distill_weight * distill
        if self.soft_weight > 0:
            soft = F.binary_cross_entropy(paddle.clip(shrink, 1e-6, 1 - 1e-6), teacher_prob)
            losses["loss_distill_soft"] = self.soft_weight * soft
            losses["loss_distill"] = losses["loss_distill"] + losses["loss_distill_soft"]
        losses["loss"] = losses["loss"] + losses["loss_distill"]
        return losses

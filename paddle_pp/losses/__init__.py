"""Training losses, built by name from a config's ``Loss`` section: ``build_loss(config['Loss'])``.

Every loss is called as ``loss(predicts, batch)`` with the model's train-mode output and the batch dict, and
returns a dict whose 'loss' entry is the scalar to minimise (other entries are parts, for logging).
"""
from __future__ import annotations

from typing import Any, Mapping

from paddle_pp.registry import LOSSES

from . import (cls_loss, det_basic_loss, det_db_loss, det_distill_loss, rec_ctc_loss,  # noqa: F401  (registration)
               rec_distill_loss)
from .cls_loss import ClsLoss
from .det_basic_loss import BalanceLoss, DiceLoss, MaskL1Loss
from .det_db_loss import DBLoss
from .rec_ctc_loss import CTCLoss
from .rec_distill_loss import CTCDistillLoss

__all__ = ["build_loss", "DBLoss", "BalanceLoss", "DiceLoss", "MaskL1Loss", "CTCLoss", "CTCDistillLoss", "ClsLoss"]


def build_loss(cfg: Mapping[str, Any]):
    return LOSSES.build(dict(cfg))

"""Cross-entropy for the direction classifier, as PaddleOCR 2.x ``ClsLoss``."""
from __future__ import annotations

from typing import Any, Dict, Mapping

import paddle
import paddle.nn as nn

from paddle_pp.registry import LOSSES


@LOSSES.register("ClsLoss")
class ClsLoss(nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.loss_func = nn.CrossEntropyLoss(reduction="mean")

    def forward(self, predicts: paddle.Tensor, batch: Mapping[str, Any]) -> Dict[str, paddle.Tensor]:
        label = batch["label"]
        if not isinstance(label, paddle.Tensor):
            label = paddle.to_tensor(label)
        return {"loss": self.loss_func(predicts, label.astype("int64").reshape([-1]))}

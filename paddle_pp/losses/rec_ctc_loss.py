"""CTC loss for the CRNN recognizer, as PaddleOCR 2.x ``CTCLoss``.

Logits [N, T, C] are transposed to [T, N, C]; every sequence uses all T steps; the blank is class 0. The
per-sample negative log-likelihoods are averaged over the batch (not divided by the label lengths).
Paddle's ``ctc_loss`` (warp-ctc) normalizes its input with a softmax itself; we pass log-softmax scores,
which is the same thing (softmax(log_softmax(x)) = softmax(x)) and keeps the input a proper distribution.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence, Union

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_pp.registry import LOSSES


def log_softmax(logits: paddle.Tensor) -> paddle.Tensor:
    """log-softmax over the last axis as x - logsumexp(x): the same values, but Paddle 3.3.1's CPU log_softmax
    kernel takes ~8 s forward and ~8 s backward on a [16, 80, 6625] batch (the official dictionary), this 0.3 s."""
    return logits - paddle.logsumexp(logits, axis=-1, keepdim=True)


@LOSSES.register("CTCLoss")
class CTCLoss(nn.Layer):
    def __init__(self, use_focal_loss: bool = False, blank: int = 0) -> None:
        super().__init__()
        self.use_focal_loss = use_focal_loss
        self.blank = blank

    def forward(self, predicts: Union[paddle.Tensor, Sequence[paddle.Tensor]],
                batch: Mapping[str, Any]) -> Dict[str, paddle.Tensor]:
        if isinstance(predicts, (list, tuple)):
            predicts = predicts[-1]
        log_probs = log_softmax(predicts).transpose([1, 0, 2])  # [T, N, C]
        steps, n = log_probs.shape[0], log_probs.shape[1]
        input_lengths = paddle.full([n], steps, dtype="int64")
        labels = _tensor(batch["label"]).astype("int32")
        label_lengths = _tensor(batch["length"]).astype("int64")
        loss = F.ctc_loss(log_probs, labels, input_lengths, label_lengths, blank=self.blank, reduction="none")
        loss = loss.reshape([-1])
        if self.use_focal_loss:
            weight = paddle.square(1 - paddle.exp(-loss))
            loss = loss * weight
        return {"loss": loss.mean()}


def _tensor(x: Any) -> paddle.Tensor:
    return x if isinstance(x, paddle.Tensor) else paddle.to_tensor(x)

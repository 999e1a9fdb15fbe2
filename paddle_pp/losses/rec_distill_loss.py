"""CTC loss plus knowledge distillation from a frozen teacher recognizer (for quantization-aware training).

    loss = CTC(student logits, labels) + distill_weight * sum_t KL(P_teacher[t] || P_student[t])   (mean over N)

Why: PACT fine-tuning of a small recognizer learns only from the labels of its mix; its float twin (the model
before quantization) knows, for every time step of every crop, how sure it is of each character and of the
blanks between them. Matching that whole distribution (PaddleOCR's DML / KL distillation losses) pulls the
fake-quantized student back towards the float model's behaviour on all domains at once, including the ones the
mix holds few labels of, instead of only towards the labelled argmax.

The model is a DistillationModel (modeling/distillation.py, ``{sub-model name: outputs}``): the student
(default Student) in train mode gives logits [N, T, C]; the frozen teacher (default Teacher, eval mode) gives
softmax probabilities [N, T, C] (CTCHead). The KL term is summed over the T steps and averaged over the batch,
the same scale as the CTC term (a per-sequence negative log-likelihood, averaged over the batch).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

import paddle
import paddle.nn as nn

from paddle_pp.registry import LOSSES

from .distill import sub_model_output
from .rec_ctc_loss import CTCLoss, log_softmax

PROB_FLOOR = 1e-8  # keeps log(P_teacher) finite where the teacher's softmax underflows to 0


def _last(outputs: Any) -> paddle.Tensor:
    return outputs[-1] if isinstance(outputs, (list, tuple)) else outputs


def ctc_kl_divergence(teacher_prob: paddle.Tensor, student_logits: paddle.Tensor) -> paddle.Tensor:
    """KL(teacher || student) per sequence, summed over the time steps: [N]."""
    teacher_prob = teacher_prob.detach()
    log_teacher = paddle.log(paddle.clip(teacher_prob, min=PROB_FLOOR))
    per_step = (teacher_prob * (log_teacher - log_softmax(student_logits))).sum(axis=-1)  # [N, T]
    return per_step.sum(axis=-1)


@LOSSES.register("CTCDistillLoss")
class CTCDistillLoss(nn.Layer):
    def __init__(self, student: str = "Student", teacher: str = "Teacher", distill_weight: float = 1.0,
                 use_focal_loss: bool = False, blank: int = 0) -> None:
        super().__init__()
        self.ctc_loss = CTCLoss(use_focal_loss=use_focal_loss, blank=blank)
        self.student = str(student)
        self.teacher = str(teacher)
        self.distill_weight = float(distill_weight)

    def forward(self, predicts: Mapping[str, Any], batch: Mapping[str, Any]) -> Dict[str, paddle.Tensor]:
        student = _last(sub_model_output(predicts, self.student, type(self).__name__))
        teacher = _last(sub_model_output(predicts, self.teacher, type(self).__name__))
        if teacher.shape != student.shape:
            raise ValueError(f"CTCDistillLoss: teacher outputs {teacher.shape} and student outputs {student.shape} "
                             f"differ (the same dictionary and input width are needed)")
        losses = self.ctc_loss(student, batch)
        losses["loss_ctc"] = losses["loss"]
        losses["loss_distill"] = self.distill_weight * ctc_kl_divergence(teacher, student).mean()
        losses["loss"] = losses["loss_ctc"] + losses["loss_distill"]
        return losses

"""Direction-classifier accuracy, as PaddleOCR 2.x ``ClsMetric``."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence, Tuple, Union

from paddle_pp.registry import METRICS


@METRICS.register("ClsMetric")
class ClsMetric:
    """``metric(preds, batch)``: ``preds`` a list of (label, score); ``batch`` a dict whose 'label_text' lists the
    target labels (or a list of labels / (label, score) pairs)."""

    def __init__(self, main_indicator: str = "acc") -> None:
        self.main_indicator = main_indicator
        self.eps = 1e-5
        self.reset()

    def __call__(self, preds: Sequence[Union[str, Tuple[str, float]]], batch: Any) -> Dict[str, float]:
        targets = batch["label_text"] if isinstance(batch, Mapping) else batch
        correct, total = 0, 0
        for pred, target in zip(preds, targets):
            pred = pred[0] if isinstance(pred, (tuple, list)) else pred
            target = target[0] if isinstance(target, (tuple, list)) else target
            correct += int(pred == target)
            total += 1
        self.correct_num += correct
        self.all_num += total
        return {"acc": correct / (total + self.eps)}

    def get_metric(self) -> Dict[str, float]:
        acc = self.correct_num / (self.all_num + self.eps)
        self.reset()
        return {"acc": acc}

    def reset(self) -> None:
        self.correct_num = 0
        self.all_num = 0

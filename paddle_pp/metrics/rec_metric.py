"""Recognition accuracy and normalized edit distance, as PaddleOCR 2.x ``RecMetric``.

acc = exact matches / samples (spaces removed from both sides when ``ignore_space``), norm_edit_dis =
1 - mean(Levenshtein(pred, target) / max(len(pred), len(target))).
"""
from __future__ import annotations

import string
from typing import Any, Dict, Hashable, Mapping, Sequence, Tuple, Union

from paddle_pp.registry import METRICS

try:  # a C implementation when available; the pure-Python one below gives the same numbers
    from rapidfuzz.distance import Levenshtein as _RFLevenshtein
except ImportError:  # pragma: no cover - depends on the environment
    _RFLevenshtein = None


def levenshtein(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Edit distance (insertions, deletions, substitutions, all cost 1) of two strings, or of two lists of words."""
    if _RFLevenshtein is not None:
        return int(_RFLevenshtein.distance(a, b))
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def normalized_edit_distance(a: str, b: str) -> float:
    """Levenshtein / max(len): 0 for equal strings (two empty strings included), 1 for nothing in common."""
    longest = max(len(a), len(b))
    return 0.0 if longest == 0 else levenshtein(a, b) / longest


def word_accuracy(pairs: Sequence[Tuple[str, str]]) -> float:
    """1 - word error rate over (prediction, truth) lines: the word-level edit distance of each line (words split on
    spaces) summed over all lines, divided by the truth's word count. Words glued together or split apart cost
    here, where the space-blind line accuracy does not see them."""
    errors = sum(levenshtein(p.split(), g.split()) for p, g in pairs)
    words = sum(len(g.split()) for _, g in pairs)
    return 1.0 - errors / words if words else 1.0


_KEEP = set(string.digits + string.ascii_letters)


@METRICS.register("RecMetric")
class RecMetric:
    """``metric(preds, batch)``: ``preds`` a list of (text, score); ``batch`` a dict whose 'label_text' lists the
    target strings (the trainer's rec adapter decodes them from the label indices), or a list of strings /
    (text, score) pairs."""

    def __init__(self, main_indicator: str = "acc", is_filter: bool = False, ignore_space: bool = True) -> None:
        self.main_indicator = main_indicator
        self.is_filter = is_filter
        self.ignore_space = ignore_space
        self.eps = 1e-5
        self.reset()

    def _normalize(self, text: str) -> str:
        if self.ignore_space:
            text = text.replace(" ", "")
        if self.is_filter:
            text = "".join(c for c in text if c in _KEEP).lower()
        return text

    def __call__(self, preds: Sequence[Union[str, Tuple[str, float]]], batch: Any) -> Dict[str, float]:
        targets = batch["label_text"] if isinstance(batch, Mapping) else batch
        correct, total, dist = 0, 0, 0.0
        for pred, target in zip(preds, targets):
            pred = self._normalize(pred[0] if isinstance(pred, (tuple, list)) else pred)
            target = self._normalize(target[0] if isinstance(target, (tuple, list)) else target)
            dist += normalized_edit_distance(pred, target)
            correct += int(pred == target)
            total += 1
        self.correct_num += correct
        self.all_num += total
        self.norm_edit_dis += dist
        return {"acc": correct / (total + self.eps), "norm_edit_dis": 1 - dist / (total + self.eps)}

    def get_metric(self) -> Dict[str, float]:
        acc = self.correct_num / (self.all_num + self.eps)
        ned = 1 - self.norm_edit_dis / (self.all_num + self.eps)
        self.reset()
        return {"acc": acc, "norm_edit_dis": ned}

    def reset(self) -> None:
        self.correct_num = 0
        self.all_num = 0
        self.norm_edit_dis = 0.0

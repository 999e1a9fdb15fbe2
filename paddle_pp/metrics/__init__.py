"""Evaluation metrics, built by name from a config's ``Metric`` section: ``build_metric(config['Metric'])``.

A metric is called as ``metric(preds, batch)`` on post-processed predictions to accumulate, and
``metric.get_metric()`` returns the dict of values (the ``main_indicator`` one decides the best model) and resets.
"""
from __future__ import annotations

from typing import Any, Mapping

from paddle_pp.registry import METRICS

from .cls_metric import ClsMetric
from .det_metric import DetectionIoUEvaluator, DetMetric
from .rec_metric import RecMetric, levenshtein, normalized_edit_distance

__all__ = ["build_metric", "DetMetric", "DetectionIoUEvaluator", "RecMetric", "ClsMetric", "levenshtein",
           "normalized_edit_distance"]


def build_metric(cfg: Mapping[str, Any]):
    return METRICS.build(dict(cfg))

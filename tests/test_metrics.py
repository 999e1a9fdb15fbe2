"""Metrics on hand-made cases: ICDAR 2015 IoU detection matching (exact, don't-care, one-to-one, set-level
sums), recognition accuracy / normalized edit distance, classification accuracy."""
import numpy as np
import pytest

from paddle_pp.config import load_config
from paddle_pp.metrics import ClsMetric, DetMetric, RecMetric, build_metric, levenshtein, normalized_edit_distance
from paddle_pp.metrics import rec_metric


def box(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def det_batch(polys, ignore=None):
    ignore = ignore if ignore is not None else [False] * len(polys)
    return {"polys": [np.array(polys, np.float32).reshape(-1, 4, 2)], "ignore_tags": [np.array(ignore, bool)]}


def test_det_exact_match():
    m = DetMetric()
    gts = [box(0, 0, 100, 20), box(0, 40, 80, 60)]
    m([np.stack(gts)], det_batch(gts))
    assert m.get_metric() == {"precision": 1.0, "recall": 1.0, "hmean": 1.0}
    assert m.get_metric() == {"precision": 0.0, "recall": 0.0, "hmean": 0.0}  # get_metric resets


def test_det_iou_threshold():
    m = DetMetric()
    gt = [box(0, 0, 100, 20)]
    # IoU = 60*20 / (100*20 + 0) ... a box covering x 0..60 has IoU 0.6 -> match; x 0..45 has 0.45 -> no match
    m([np.stack([box(0, 0, 60, 20)])], det_batch(gt))
    assert m.get_metric()["hmean"] == 1.0
    m([np.stack([box(0, 0, 45, 20)])], det_batch(gt))
    assert m.get_metric() == {"precision": 0.0, "recall": 0.0, "hmean": 0.0}


def test_det_dont_care_detection_is_ignored():
    m = DetMetric()
    gts = [box(0, 0, 100, 20), box(0, 40, 100, 60)]
    # The second detection lies inside the don't-care box: it is neither a false positive nor a match.
    preds = np.stack([box(0, 0, 100, 20), box(10, 42, 60, 58)])
    m([preds], det_batch(gts, [False, True]))
    assert m.get_metric() == {"precision": 1.0, "recall": 1.0, "hmean": 1.0}
    # A detection only half on the don't-care box (<= 0.5 of its area) counts as a false positive.
    preds = np.stack([box(0, 0, 100, 20), box(50, 40, 150, 60)])
    m([preds], det_batch(gts, [False, True]))
    assert m.get_metric()["precision"] == pytest.approx(0.5)


def test_det_one_to_one_matching():
    m = DetMetric()
    gts = [box(0, 0, 100, 20)]
    preds = np.stack([box(0, 0, 100, 20), box(2, 0, 100, 20)])  # both overlap the one GT with IoU > 0.5
    m([preds], det_batch(gts))
    r = m.get_metric()
    assert r["recall"] == 1.0 and r["precision"] == pytest.approx(0.5)
    assert r["hmean"] == pytest.approx(2 * 0.5 / 1.5)


def test_det_counts_are_summed_over_the_set():
    m = DetMetric()
    m([np.stack([box(0, 0, 100, 20)])], det_batch([box(0, 0, 100, 20)]))
    m([np.zeros((0, 4, 2), np.float32)], det_batch([box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10)]))
    r = m.get_metric()
    assert r["recall"] == pytest.approx(1 / 4) and r["precision"] == 1.0  # not the mean of per-image values


def test_det_invalid_polygons_are_skipped():
    m = DetMetric()
    bowtie = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], np.float32)  # self-intersecting: not valid
    m([np.stack([box(0, 0, 100, 20)])], det_batch([box(0, 0, 100, 20), bowtie]))
    assert m.get_metric()["recall"] == 1.0


def test_levenshtein_and_normalized_distance():
    for impl in (levenshtein, lambda a, b: _pure(a, b)):
        assert impl("kitten", "sitting") == 3
        assert impl("", "abc") == 3
        assert impl("abc", "abc") == 0
    assert normalized_edit_distance("kitten", "sitting") == pytest.approx(3 / 7)
    assert normalized_edit_distance("", "") == 0.0


def _pure(a, b):
    saved = rec_metric._RFLevenshtein
    rec_metric._RFLevenshtein = None
    try:
        return rec_metric.levenshtein(a, b)
    finally:
        rec_metric._RFLevenshtein = saved


def test_word_accuracy_counts_glued_and_split_words():
    """Line accuracy ignores spaces; word accuracy is where gluing words together costs."""
    assert rec_metric.word_accuracy([("TOTAL 27.30", "TOTAL 27.30")]) == 1.0
    glued = [("TOTAL27.30", "TOTAL 27.30")]          # one substitution + one deletion over 2 words
    assert rec_metric.word_accuracy(glued) == pytest.approx(0.0)
    split = [("simplif ied text", "simplified text")]  # one substitution + one insertion over 2 words
    assert rec_metric.word_accuracy(split) == pytest.approx(0.0)
    mixed = [("a b c d", "a b c d"), ("a bc", "a b c")]  # 0 errors / 4 words + 2 errors / 3 words
    assert rec_metric.word_accuracy(mixed) == pytest.approx(1 - 2 / 7)
    assert rec_metric.levenshtein(["TOTAL", "27.30"], ["TOTAL27.30"]) == 2


def test_rec_metric_accuracy_ignores_spaces_and_accumulates():
    m = RecMetric()
    m([("hello world", 0.9), ("abc", 0.8)], {"label_text": ["helloworld", "abd"]})
    m([("kitten", 0.5)], {"label_text": ["sitting"]})
    r = m.get_metric()
    assert r["acc"] == pytest.approx(1 / 3, abs=1e-4)
    assert r["norm_edit_dis"] == pytest.approx(1 - (0 + 1 / 3 + 3 / 7) / 3, abs=1e-4)
    assert m.get_metric()["acc"] == 0.0


def test_cls_metric():
    m = ClsMetric()
    m([("0", 0.9), ("180", 0.7), ("0", 0.6)], {"label_text": ["0", "0", "0"]})
    assert m.get_metric()["acc"] == pytest.approx(2 / 3, abs=1e-4)


def test_metrics_build_from_configs():
    for name, cls, main in (("det", DetMetric, "hmean"), ("rec", RecMetric, "acc"), ("cls", ClsMetric, "acc")):
        m = build_metric(load_config(name)["Metric"])
        assert isinstance(m, cls) and m.main_indicator == main

"""Direction evaluation (tools/eval_cls.py) on rendered crops, upright and turned."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

import fixtures
from paddle_pp.tools import eval_cls

pytest.importorskip("onnxruntime")


def _write_set(root, turned, labels):
    """Three rendered lines upright and the same three turned (`turned`: which crops are), labelled `labels`."""
    lines = fixtures.text_lines()[:3] * 2
    rows = []
    for i, (line, is_turned, label) in enumerate(zip(lines, turned, labels)):
        cv2.imwrite(str(root / f"line{i}.png"), np.ascontiguousarray(np.rot90(line, 2)) if is_turned else line)
        rows.append(f"line{i}.png\t{label}")
    (root / "labels.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root / "labels.txt"


def _scores(out):
    found = re.search(r"crops 6: acc ([\d.]+) \((\d+) upright called 180, (\d+) turned called 0\)", out)
    assert found, out
    return float(found.group(1)), int(found.group(2)), int(found.group(3))


def test_accuracy_and_mistakes_each_way(models_dir, tmp_path, capsys):
    turned = [False] * 3 + [True] * 3
    label_file = _write_set(tmp_path, turned, ["0"] * 3 + ["180"] * 3)
    assert eval_cls.main(["--label_file", str(label_file), "--data_dir", str(tmp_path)]) == 0
    assert _scores(capsys.readouterr().out) == (1.0, 0, 0)
    # the labels the other way round: every crop is a mistake, counted on the side its label says
    label_file = _write_set(tmp_path, turned, ["180"] * 3 + ["0"] * 3)
    assert eval_cls.main(["--label_file", str(label_file), "--data_dir", str(tmp_path)]) == 0
    assert _scores(capsys.readouterr().out) == (0.0, 3, 3)


def test_labels_other_than_0_and_180_are_an_error(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "a.png"), fixtures.text_lines()[0])
    (tmp_path / "labels.txt").write_text("a.png\tTOTAL\n")
    assert eval_cls.main(["--label_file", str(tmp_path / "labels.txt"), "--data_dir", str(tmp_path)]) == 1
    assert "labels must be 0 or 180, found TOTAL" in capsys.readouterr().err

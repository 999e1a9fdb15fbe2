"""Recognition evaluation (tools/eval_rec.py): the scores, and a run on rendered crops against RapidOCR."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import paddle_pp
from paddle_pp.tools import eval_rec as R

EN_REC = str(Path(paddle_pp.__file__).parent / "models" / "rec_en")


def test_scores_ignore_spaces_for_acc_and_count_them_for_word_accuracy():
    pairs = [("TOTAL27.30", "TOTAL 27.30"), ("thank you", "Thank you"), ("Milk", "Milk")]
    result = R.score(pairs)
    assert result["acc"] == pytest.approx(2 / 3)               # glued words still match when spaces are removed
    assert result["acc_ignore_case"] == pytest.approx(1.0)
    assert result["word_acc"] < 1.0                             # but the words are wrong
    assert result["norm_edit_dis"] == pytest.approx(1 - (1 / 11 + 1 / 9) / 3, abs=1e-6)


def _row(out: str, name: str):
    found = re.search(rf"^{name}: lines (\d+): acc ([\d.]+)  acc \(ignoring case\) ([\d.]+)  1-NED ([\d.]+)", out, re.M)
    assert found, out
    return int(found.group(1)), float(found.group(2)), float(found.group(4))


def test_ours_and_rapidocr_on_the_same_rendered_crops(tmp_path, capsys):
    pytest.importorskip("rapidocr_onnxruntime", reason="requirements-bench.txt")  # .ci/run installs it
    from data_samples import write_rec_dataset

    label = write_rec_dataset(tmp_path)
    with open(label, "a", encoding="utf-8") as f:
        f.write("imgs/missing.png\tgone\n")                    # reported and skipped, the rest still scored
    assert R.main(["--label_file", str(label), "--data_dir", str(tmp_path), "--rec_model_dir", EN_REC,
                   "--engine", "dygraph", "--compare", "rapidocr", "--show_errors", "3"]) == 0
    captured = capsys.readouterr()
    assert "skipped:" in captured.err and "missing.png" in captured.err
    lines, acc, ned = _row(captured.out, "ours")
    assert lines == 6 and acc >= 0.8 and ned > 0.9
    lines, acc, ned = _row(captured.out, "rapidocr")
    assert lines == 6 and ned > 0.8

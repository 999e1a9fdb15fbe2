"""End-to-end evaluation (tools/eval_e2e.py): matching, the hit rule, and a run of the whole system."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import fixtures
from paddle_pp.tools import eval_e2e as E
from paddle_pp.utils.text_render import render_lines


def box(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def test_a_hit_needs_the_box_and_the_text_spaces_ignored():
    gts = [(box(0, 0, 100, 20), "TOTAL 27.30"), (box(0, 40, 100, 60), "Thank you"), (box(0, 80, 100, 100), "Milk")]
    preds = [(box(2, 1, 101, 21), "TOTAL27.30"),        # same box, spaces differ: a hit
             (box(0, 41, 99, 61), "Thank yoU"),         # case differs: no hit unless ignore_case
             (box(300, 80, 400, 100), "Milk")]          # right text, wrong place: no hit
    counts = E.score_image(gts, preds, [], ignore_case=False)
    assert (counts["hits"], counts["gt"], counts["pred"]) == (1, 3, 3)
    assert E.score_image(gts, preds, [], ignore_case=True)["hits"] == 2
    # edit distance: 1 (the U) + 4 (Milk missed) + 4 (Milk made up), over 22 ground-truth characters
    assert counts["distance"] == 9 and counts["chars"] == len("TOTAL27.30Thankyou" "Milk")
    result = E.summarise(counts)
    assert result["precision"] == pytest.approx(1 / 3) and result["recall"] == pytest.approx(1 / 3)
    assert result["1-NED"] == pytest.approx(1 - 9 / 22)


def test_matching_is_one_to_one_best_iou_first_and_dont_care_lines_are_not_counted():
    gts = [(box(0, 0, 100, 20), "A"), (box(0, 15, 100, 35), "B")]
    preds = [(box(0, 14, 100, 34), "B"), (box(0, 0, 100, 19), "A"), (box(0, 200, 50, 220), "noise")]
    assert sorted(E.match_lines(gts, preds)) == [(0, 1), (1, 0)]
    counts = E.score_image(gts, preds, [box(0, 195, 60, 225)], ignore_case=False)
    assert (counts["hits"], counts["pred"]) == (2, 2)   # the line over the ### region is neither hit nor miss
    assert E.summarise(counts)["hmean"] == 1.0


def test_end_to_end_on_a_rendered_receipt(tmp_path, models_dir, capsys):
    lines = [("Order 2026-0142", 34), ("Fresh Milk 13.80", 30), ("TOTAL 27.30", 30)]
    image, boxes = render_lines(lines, size=(640, 300))
    cv2.imwrite(str(tmp_path / "receipt.png"), image)
    labels = [{"transcription": text, "points": [list(p) for p in corners]} for (text, _), corners in zip(lines, boxes)]
    labels.append({"transcription": "###", "points": [[500, 250], [630, 250], [630, 290], [500, 290]]})
    (tmp_path / "labels.txt").write_text(f"receipt.png\t{json.dumps(labels)}\n", encoding="utf-8")
    (tmp_path / "bad.txt").write_text("missing.png\t[]\n", encoding="utf-8")
    assert E.main(["--label_file", str(tmp_path / "labels.txt"), "--data_dir", str(tmp_path), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    import re

    found = re.search(r"images: 1 \(0 unreadable\); lines: 3 labelled, 3 read, (\d) hits\n.*"
                      r"precision ([\d.]+)  recall ([\d.]+)  hmean ([\d.]+)  1-NED ([\d.]+)", out)
    assert found, out
    hits = int(found.group(1))
    assert hits >= 2                                   # every line found; the recognizer may slip on one character
    assert float(found.group(4)) == pytest.approx(hits / 3, abs=1e-4)
    assert float(found.group(5)) > 0.95
    assert E.main(["--label_file", str(tmp_path / "bad.txt"), "--data_dir", str(tmp_path)]) == 1
    assert "none of its 1 images exists (the first: " in capsys.readouterr().err   # not scores of 0
    # the detection resize reaches the system: shrunk to 64 px the receipt's lines are no longer found (nor looked
    # at again, closer, with det_small_text_empty_zoom 0)
    assert E.main(["--label_file", str(tmp_path / "labels.txt"), "--data_dir", str(tmp_path), "--lang", "en",
                   "--det_limit_side_len", "64", "--det_limit_type", "max", "--det_small_text_empty_zoom", "0"]) == 0
    assert re.search(r"lines: 3 labelled, \d read, 0 hits", capsys.readouterr().out)
    # and so does the DB post-processing: a box threshold of 1 keeps no box
    assert E.main(["--label_file", str(tmp_path / "labels.txt"), "--data_dir", str(tmp_path), "--lang", "en",
                   "--det_db_box_thresh", "1.0"]) == 0
    assert "lines: 3 labelled, 0 read, 0 hits" in capsys.readouterr().out


def test_classifier_options_reach_the_system(tmp_path, models_dir, capsys):
    """The classifier's flags reach the system: a long line turned upside down is read with the pieces and the
    turned view (the default) and not with every crop classified whole (--cls_pieces_above 0
    --cls_turned_view false, PaddleOCR)."""
    turned = np.ascontiguousarray(np.rot90(fixtures.long_line_page(), 2))
    cv2.imwrite(str(tmp_path / "line.png"), turned)
    (tmp_path / "labels.txt").write_text(f"line.png\t{fixtures.LONG_LINE}\n", encoding="utf-8")
    common = ["--crops", "--label_file", str(tmp_path / "labels.txt"), "--data_dir", str(tmp_path)]
    assert E.main(common) == 0
    assert "read exactly 1" in capsys.readouterr().out
    assert E.main(common + ["--cls_pieces_above", "0", "--cls_turned_view", "false"]) == 0
    assert "read exactly 0" in capsys.readouterr().out


def test_as_paddleocr_reaches_the_system(tmp_path, models_dir, capsys):
    """--as_paddleocr: the system as PaddleOCR runs it. Words cropped tight to their ink, which the default system
    finds inside a border, are mostly missed without one."""
    import re

    rows = []
    for i, (crop, word) in enumerate(zip(fixtures.tight_crops(), fixtures.TIGHT_WORDS)):
        cv2.imwrite(str(tmp_path / f"w{i}.png"), crop)
        h, w = crop.shape[:2]
        rows.append(f"w{i}.png\t" + json.dumps([{"transcription": word,
                                                  "points": [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]}]))
    (tmp_path / "labels.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    common = ["--label_file", str(tmp_path / "labels.txt"), "--data_dir", str(tmp_path)]
    read = []
    for extra in ([], ["--as_paddleocr", "true"]):
        assert E.main(common + extra) == 0
        found = re.search(r"lines: (\d+) labelled, (\d+) read", capsys.readouterr().out)
        read.append(int(found.group(2)))
    assert read[0] == len(rows) and read[1] <= len(rows) // 2, read


def test_crops_are_read_by_the_whole_system_and_scored_joined(tmp_path, models_dir, capsys):
    """--crops: a recognition label file, each crop read by the whole system; the lines found, joined, against its
    text. Tight crops are found inside the detector's border (det.yml's border_below); without it most are not."""
    import re

    rows = []
    for i, (crop, word) in enumerate(zip(fixtures.tight_crops(), fixtures.TIGHT_WORDS)):
        cv2.imwrite(str(tmp_path / f"w{i}.png"), crop)
        rows.append(f"w{i}.png\t{word.lower() if i == 2 else word}")   # one label differs in case only
    (tmp_path / "words.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    n = len(rows)
    argv = ["--label_file", str(tmp_path / "words.txt"), "--data_dir", str(tmp_path), "--crops"]
    assert E.main(argv + ["--ignore_case"]) == 0
    out = capsys.readouterr().out
    assert f"ours: crops: {n} (0 unreadable); text found in {n}, read exactly {n}\n" in out, out
    assert "accuracy 1.0000  1-NED 1.0000  (ignoring case)" in out
    assert E.main(argv) == 0
    assert f"text found in {n}, read exactly {n - 1}\n" in capsys.readouterr().out
    assert E.main(argv + ["--ignore_case", "--det_border_below", "0"]) == 0
    found = int(re.search(r"text found in (\d+)", capsys.readouterr().out).group(1))
    assert found <= n // 2
    points = [[0, 0], [1, 0], [1, 1], [0, 1]]
    (tmp_path / "det.txt").write_text(f'w0.png\t[{{"transcription": "Hello", "points": {points}}}]\n')
    assert E.main(["--label_file", str(tmp_path / "det.txt"), "--data_dir", str(tmp_path), "--crops"]) == 1
    assert "a detection label file" in capsys.readouterr().err
    assert E.score_crop("TOTAL 27.30", [(box(0, 0, 1, 1), "TOTAL"), (box(0, 0, 1, 1), "27.3O")], False) == {
        "hits": 0, "gt": 1, "pred": 1, "distance": 1, "chars": 10}


def test_turn_carries_the_labels_with_the_image():
    image = np.zeros((30, 50, 3), np.uint8)
    image[5:10, 10:40] = 255                                   # a bright line where the label says
    gts = [(box(10, 5, 39, 9), "line")]
    for angle in (90, 180, 270):
        given, turned_gts, dont_care = E.turned(image, gts, [box(0, 0, 1, 1)], angle)
        (points, text), = turned_gts
        x0, y0 = points.min(axis=0).astype(int)
        x1, y1 = points.max(axis=0).astype(int)
        assert text == "line" and given[y0:y1 + 1, x0:x1 + 1].min() == 255 and given.sum() == image.sum()
        assert dont_care[0].shape == (4, 2)


def test_a_page_read_sideways_is_scored_against_its_turned_labels(tmp_path, models_dir, capsys):
    lines = [("Order 2026-0142", 34), ("Fresh Milk 13.80", 30), ("TOTAL 27.30", 30)]
    image, boxes = render_lines(lines, size=(640, 300))
    cv2.imwrite(str(tmp_path / "receipt.png"), image)
    labels = [{"transcription": text, "points": [list(p) for p in corners]} for (text, _), corners in zip(lines, boxes)]
    (tmp_path / "labels.txt").write_text(f"receipt.png\t{json.dumps(labels)}\n", encoding="utf-8")
    args = ["--label_file", str(tmp_path / "labels.txt"), "--data_dir", str(tmp_path), "--lang", "en"]
    assert E.main(args) == 0
    upright = capsys.readouterr().out.splitlines()[-1]
    assert E.main(args + ["--turn", "90", "--use_doc_orientation_classify", "true"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == upright        # turned back, read as the upright page


def test_rapidocr_is_scored_on_the_same_images(tmp_path, models_dir, capsys):
    pytest.importorskip("rapidocr_onnxruntime", reason="requirements-bench.txt")  # .ci/run installs it
    lines = [("Invoice 0142", 34), ("TOTAL 27.30", 34)]
    image, boxes = render_lines(lines, size=(640, 220))
    cv2.imwrite(str(tmp_path / "receipt.png"), image)
    labels = [{"transcription": text, "points": [list(p) for p in corners]} for (text, _), corners in zip(lines, boxes)]
    (tmp_path / "labels.txt").write_text(f"receipt.png\t{json.dumps(labels)}\n", encoding="utf-8")
    assert E.main(["--label_file", str(tmp_path / "labels.txt"), "--data_dir", str(tmp_path), "--lang", "en",
                   "--compare", "rapidocr"]) == 0
    out = capsys.readouterr().out
    assert out.index("ours: images: 1") < out.index("rapidocr: images: 1 (0 unreadable); lines: 2 labelled")
    import re

    hits = re.search(r"rapidocr: images: .* (\d) hits", out)
    assert hits and int(hits.group(1)) >= 1, out


def test_misses_name_what_was_read_over_each_line_or_that_nothing_matched():
    gts = [(box(0, 0, 100, 20), "TOTAL 27.30"), (box(0, 40, 100, 60), "Thank you"), (box(0, 80, 100, 100), "Milk")]
    preds = [(box(2, 1, 101, 21), "TOTAL27.30"), (box(0, 41, 99, 61), "Thank yoU"), (box(300, 80, 400, 100), "Milk")]
    misses = []
    E.score_image(gts, preds, [], ignore_case=False, misses=misses)
    assert misses == [("Thank you", "Thank yoU"), ("Milk", None)]     # the hit is no miss; Milk's box matched nothing
    misses = []
    E.score_image(gts, preds, [], ignore_case=True, misses=misses)
    assert misses == [("Milk", None)]
    crop_misses = []
    E.score_crop("315 KM", [(box(0, 0, 10, 10), "315"), (box(20, 0, 30, 10), "KN")], False, crop_misses)
    E.score_crop("EXIT", [], False, crop_misses)
    E.score_crop("CASH", [(box(0, 0, 10, 10), "CA SH")], False, crop_misses)
    assert crop_misses == [("315 KM", "315 KN"), ("EXIT", None)]


def test_show_errors_prints_the_misses_with_their_image(tmp_path, models_dir, capsys):
    img, boxes = render_lines([("TOTAL 27.30", 30), ("Thank you", 26)], size=(480, 200))
    cv2.imwrite(str(tmp_path / "receipt.png"), img)
    label = [{"transcription": "TOTAL 27.30", "points": boxes[0]},
             {"transcription": "Goodbye", "points": boxes[1]},                        # read as Thank you
             {"transcription": "Nothing here", "points": [[300, 150], [460, 150], [460, 190], [300, 190]]}]
    (tmp_path / "label.txt").write_text(f"receipt.png\t{json.dumps(label)}\n", encoding="utf-8")
    assert E.main(["--label_file", str(tmp_path / "label.txt"), "--data_dir", str(tmp_path), "--lang", "en",
                   "--show_errors", "5"]) == 0
    out = capsys.readouterr().out
    assert "receipt.png: want 'Goodbye'  got 'Thank you'" in out
    assert "receipt.png: want 'Nothing here'  got no line over its box" in out
    assert "want 'TOTAL 27.30'" not in out
    assert ("not read exactly: 2; nothing read 1, a character lost at an end 0, case only 0, misread 1" in out)


def test_misses_are_counted_by_kind():
    assert [E.miss_kind("TOTAL:", got) for got in (None, "TOTAL", "OTAL:", "total:", "T0TAL:", "TOTA")] == [
        "nothing read", "a character lost at an end", "a character lost at an end", "case only", "misread", "misread"]
    assert E.miss_kind("HILL WAY,", "HILLWAY") == "a character lost at an end"       # spaces aside

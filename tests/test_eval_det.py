"""deploy/eval_det.py: the independent IoU matching, the drawn evaluation (--vis_dir) and the command end to end on a
rendered document whose labels are made here."""
import collections
import json

import cv2
import numpy as np
import pytest

import fixtures
from paddle_pp.tools import eval_det
from paddle_pp.tools.eval_det import IGNORED, MATCHED, MISSED, UNMATCHED, draw_matches, independent_matches


def quad(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


GTS = [(quad(10, 10, 110, 40), False),     # found
       (quad(10, 60, 110, 90), False),     # missed
       (quad(150, 10, 250, 40), True)]     # don't care
DETS = [quad(12, 11, 108, 41),             # matches the first line
        quad(155, 12, 245, 38),            # inside the don't-care region: does not count
        quad(150, 120, 250, 150)]          # matches nothing


def test_independent_matches_counts_what_the_protocol_counts():
    found = independent_matches(GTS, DETS)
    assert found == {"care_gt": [0, 1], "care_det": [0, 2], "matched_gt": [0], "matched_det": [0]}
    assert eval_det.independent_counts(GTS, DETS) == (1, 2, 2)


def test_draw_matches_colours_each_box_by_what_it_counted_as():
    image = np.full((200, 300, 3), 255, np.uint8)
    drawn = draw_matches(image, GTS, DETS)
    assert drawn.shape == image.shape and (image == 255).all()       # the input is left as it was

    def colour_at(x, y):
        return tuple(int(v) for v in drawn[y, x])

    assert colour_at(60, 41) == MATCHED         # the bottom edge of the matching detection
    assert colour_at(60, 90) == MISSED          # the missed line's bottom edge
    assert colour_at(200, 150) == UNMATCHED     # the detection that matches nothing
    assert colour_at(200, 38) == IGNORED        # the detection inside the don't-care region


def test_label_order_kept_counts_neighbours_in_label_order():
    assert eval_det.label_order_kept([0, 1, 2, 3]) == (3, 3, True)
    assert eval_det.label_order_kept([0, 2, 1, 3]) == (2, 3, False)
    assert eval_det.label_order_kept([4]) == (0, 0, True)


def test_reading_orders_are_scored_against_the_label_order():
    """A form row whose boxes start 14 px apart in y, labelled left to right: `rows` keeps the label order, PaddleOCR's
    order does not; the detections (here the labels themselves) and the shuffled label boxes are both scored."""
    row = [(quad(10, 10, 110, 50), False), (quad(150, 24, 250, 54), False), (quad(290, 11, 390, 49), False)]
    dets = [g for g, _ in row]
    scores = collections.defaultdict(eval_det.OrderScore)
    eval_det.score_reading_orders(scores, row, dets, independent_matches(row, dets), seed=0)
    assert str(scores[("detections", "rows")]) == "1.0000 of neighbours, 1/1 images exactly"
    assert str(scores[("detections", "paddleocr")]) == "0.5000 of neighbours, 0/1 images exactly"
    assert scores[("label boxes", "rows")].exact == 1 and scores[("label boxes", "paddleocr")].exact == 0


@pytest.mark.usefixtures("models_dir")
def test_eval_det_command_scores_draws_and_saves_predictions(tmp_path, capsys):
    from paddle_pp.ocr import build_stage

    img, _ = fixtures.document()
    cv2.imwrite(str(tmp_path / "doc.png"), img)
    boxes = [np.asarray(b).tolist() for b in build_stage("det")(img)]
    assert len(boxes) >= 3
    labels = [{"transcription": "x", "points": b} for b in boxes[:-1]]
    labels.append({"transcription": "###", "points": boxes[-1]})                     # don't care
    labels.append({"transcription": "x", "points": quad(5, 400, 60, 415).astype(int).tolist()})  # no text there
    label_file = tmp_path / "labels.txt"
    label_file.write_text(f"doc.png\t{json.dumps(labels)}\n", encoding="utf-8")

    argv = ["--label_file", str(label_file), "--data_dir", str(tmp_path), "--vis_dir", str(tmp_path / "vis"),
            "--save_preds", str(tmp_path / "preds.txt"), "--det_limit_type", "max", "--det_limit_side_len", "960"]
    assert eval_det.main(argv) == 0
    out = capsys.readouterr().out
    recall = (len(boxes) - 1) / len(boxes)
    assert f"independent (clipper): precision 1.0000  recall {recall:.4f}" in out
    assert f"paddle_pp DetMetric : precision 1.0000  recall {recall:.4f}" in out
    assert "detections  rows     : " in out and "label boxes paddleocr: " in out
    drawn = cv2.imread(str(tmp_path / "vis" / "doc.jpg"))
    assert drawn.shape == img.shape
    name, preds = (tmp_path / "preds.txt").read_text(encoding="utf-8").strip().split("\t")
    assert name.endswith("doc.png") and len(json.loads(preds)) == len(boxes)
    # A DB flag reaches the detector: a box threshold of 1 finds nothing
    assert eval_det.main(argv[:4] + ["--det_db_box_thresh", "1.0"]) == 0
    assert "precision 0.0000  recall 0.0000" in capsys.readouterr().out
    # and so does the long-side cap: 32 px leave nothing to find
    assert eval_det.main(argv[:4] + ["--det_max_side_limit", "32"]) == 0
    assert "recall 0.0000" in capsys.readouterr().out


@pytest.mark.parametrize("tool", ["eval_det", "eval_e2e", "eval_rec"])
def test_a_wrong_data_dir_is_an_error_not_scores_of_zero(tool, tmp_path, capsys):
    import importlib

    cv2.imwrite(str(tmp_path / "a.png"), np.full((32, 100, 3), 255, np.uint8))
    label = '[{"transcription": "x", "points": [[0, 0], [9, 0], [9, 9], [0, 9]]}]' if tool != "eval_rec" else "x"
    (tmp_path / "labels.txt").write_text(f"a.png\t{label}\n", encoding="utf-8")
    main = importlib.import_module(f"paddle_pp.tools.{tool}").main
    assert main(["--label_file", str(tmp_path / "labels.txt"), "--data_dir", str(tmp_path / "elsewhere")]) == 1
    err = capsys.readouterr().err
    assert "labels.txt: none of its 1 images exists (the first: " in err and "elsewhere" in err
    # one image that exists is enough for an evaluation (the missing ones are reported and skipped)
    (tmp_path / "labels.txt").write_text(f"a.png\t{label}\nb.png\t{label}\n", encoding="utf-8")
    assert main(["--label_file", str(tmp_path / "labels.txt"), "--data_dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "skipped: " in captured.out + captured.err and "b.png" in captured.out + captured.err

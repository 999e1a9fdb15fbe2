"""deploy/predict_det.py, predict_cls.py, predict_rec.py, predict_system.py and their shared deploy/utility.py:
flags, output formats, bad input in a batch, atomic and incremental writes, exit status.

The tools run in-process (`main(argv)`) to share the imported runtime; one test runs a real subprocess.
"""
import contextlib
import errno
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import fixtures

pytest.importorskip("onnxruntime")

ROOT = Path(fixtures.__file__).resolve().parent.parent

from paddle_pp.tools import predict_cls
from paddle_pp.tools import predict_det
from paddle_pp.tools import predict_rec
from paddle_pp.tools import predict_system
from paddle_pp.tools import utility


def squash(text):
    return text.replace(" ", "")


def read_rows(path):
    return [line.split("\t") for line in Path(path).read_text(encoding="utf-8").splitlines()]


def problem_lines(stderr):
    """The per-image failure lines (tqdm's bar redraws are separated by carriage returns; a first run on a fresh
    model cache also says which models it prepares)."""
    lines = [part.strip() for line in stderr.splitlines() for part in line.split("\r")]
    return [line for line in lines if line and "img/s" not in line and "img]" not in line and "|" not in line
            and not line.startswith("preparing ")]


# ------------------------------------------------------------------ a batch full of trouble

GOOD = ["a_doc.jpg", "blank.png", "exif_doc.jpg", "gray.png", "rgba_doc.png", "sub/deep16.png", "tiny_1x1.png",
        "wide_10x10000.png"]
BAD = {"broken.jpg": "not a decodable image", "empty.png": "empty file", "sub/truncated.jpg": "truncated JPEG",
       "truncated.png": "truncated PNG"}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    (root / "sub").mkdir()
    (root / "no_images_here").mkdir()
    doc, lines = fixtures.document()
    cv2.imwrite(str(root / "a_doc.jpg"), doc)
    cv2.imwrite(str(root / "blank.png"), np.full((120, 160, 3), 255, np.uint8))
    # A phone photo: pixels stored turned 90 degrees, EXIF orientation 6 says "turn clockwise to display".
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(np.rot90(doc, 1))[:, :, ::-1]).save(root / "exif_doc.jpg", quality=95,
                                                                             exif=exif.tobytes())
    cv2.imwrite(str(root / "gray.png"), cv2.cvtColor(doc, cv2.COLOR_BGR2GRAY))
    # Black text on a transparent background: read as on white.
    rgba = np.zeros(doc.shape[:2] + (4,), np.uint8)
    rgba[:, :, 3] = 255 - cv2.cvtColor(doc, cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(root / "rgba_doc.png"), rgba)
    cv2.imwrite(str(root / "sub" / "deep16.png"), doc.astype(np.uint16) * 257)
    cv2.imwrite(str(root / "tiny_1x1.png"), np.zeros((1, 1, 3), np.uint8))
    cv2.imwrite(str(root / "wide_10x10000.png"), np.random.default_rng(0).integers(0, 255, (10, 10000, 3), np.uint8))
    (root / "broken.jpg").write_text("this is a text file named .jpg\n")
    (root / "empty.png").write_bytes(b"")
    jpg = cv2.imencode(".jpg", doc)[1].tobytes()
    (root / "sub" / "truncated.jpg").write_bytes(jpg[: len(jpg) * 2 // 3])
    png = cv2.imencode(".png", doc)[1].tobytes()
    (root / "truncated.png").write_bytes(png[: len(png) // 2])
    (root / "notes.txt").write_text("not an image extension: not listed\n")
    return root, lines


@pytest.fixture(scope="module")
def system_run(batch, models_dir, tmp_path_factory):
    root, lines = batch
    out = tmp_path_factory.mktemp("system_out")
    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        code = predict_system.main(["--image_dir", str(root), "--output", str(out), "--visualize"])
    return code, out, err.getvalue(), std.getvalue(), lines


def test_system_bad_files_fail_alone_with_one_line_each(system_run, batch):
    code, out, stderr, stdout, _ = system_run
    assert code == 1, stderr  # some images failed
    assert "Traceback" not in stderr
    problems = problem_lines(stderr)
    assert len(problems) == len(BAD), problems
    for name, problem in BAD.items():
        line = next(p for p in problems if p.startswith(str(batch[0] / name) + ": "))
        assert problem in line
    assert f"{len(GOOD) + len(BAD)} images" in stdout and f"{len(BAD)} failed" in stdout


def test_system_results_cover_every_good_image_in_order(system_run):
    code, out, stderr, stdout, lines = system_run
    rows = read_rows(out / "system_results.txt")
    assert [r[0] for r in rows] == GOOD
    results = {name: json.loads(payload) for name, payload in rows}
    for entry in results["a_doc.jpg"]:
        assert set(entry) == {"transcription", "points", "score"}
        assert len(entry["points"]) == 4 and all(isinstance(v, int) for p in entry["points"] for v in p)
    for empty in ("blank.png", "tiny_1x1.png", "wide_10x10000.png"):
        assert results[empty] == []  # no text is an empty result, not an error
    expected = [squash(t) for t in lines]
    for name in ("a_doc.jpg", "exif_doc.jpg", "gray.png", "rgba_doc.png", "sub/deep16.png"):
        got = [squash(r["transcription"]) for r in results[name]]
        assert all(e in got for e in expected), (name, got)
    # The EXIF rotation was applied: boxes are wide, as on the upright page.
    for r in results["exif_doc.jpg"]:
        xs, ys = [p[0] for p in r["points"]], [p[1] for p in r["points"]]
        assert max(xs) - min(xs) > max(ys) - min(ys)


def test_use_mp_worker_processes_give_the_serial_runs_results(system_run, batch, tmp_path):
    """PaddleOCR's --use_mp true --total_process_num 2: the same results file, line for line and in input order, the
    same failures, one line each, and the pictures; a model directory that cannot be loaded is one line, status 2."""
    root, _ = batch
    code, out, stderr, _, _ = system_run
    parallel = tmp_path / "parallel"
    proc = subprocess.run([sys.executable, "-m", "paddle_pp.cli", "ocr", "--image_dir", str(root), "--output",
                           str(parallel), "--visualize", "--use_mp", "true", "--total_process_num", "2"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == code == 1 and "Traceback" not in proc.stderr
    assert (parallel / "system_results.txt").read_text() == (out / "system_results.txt").read_text()
    assert sorted(problem_lines(proc.stderr)) == sorted(problem_lines(stderr))
    assert sorted(p.relative_to(parallel) for p in (parallel / "vis").rglob("*.*")) == \
        sorted(p.relative_to(out) for p in (out / "vis").rglob("*.*"))
    failed = subprocess.run([sys.executable, "-m", "paddle_pp.cli", "ocr", "--image_dir", str(root), "--output",
                             str(tmp_path / "none"), "--use_mp", "true", "--total_process_num", "2",
                             "--det_model_dir", str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 2 and "cannot load the models" in failed.stderr and "Traceback" not in failed.stderr


def test_system_visualize_writes_side_by_side_images(system_run, batch):
    _, out, _, _, _ = system_run
    vis = out / "vis"
    assert sorted(p.relative_to(vis).as_posix() for p in vis.rglob("*") if p.is_file()) == GOOD
    src = cv2.imread(str(batch[0] / "a_doc.jpg"))
    img = cv2.imread(str(vis / "a_doc.jpg"))
    assert img.shape == (src.shape[0], 2 * src.shape[1], 3)
    right = img[:, src.shape[1]:]
    assert right.mean() > 200 and right.min() < 60  # a white panel with dark text on it
    assert cv2.imread(str(vis / "tiny_1x1.png")).shape == (1, 2, 3)


def test_det_tool_format_and_visualize(batch, models_dir, tmp_path, capsys):
    root, _ = batch
    code = predict_det.main(["--image_dir", str(root), "--output", str(tmp_path), "--visualize"])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    rows = read_rows(tmp_path / "det_results.txt")
    assert [r[0] for r in rows] == GOOD
    boxes = dict((name, json.loads(payload)) for name, payload in rows)
    assert len(boxes["a_doc.jpg"]) >= 4 and boxes["blank.png"] == []
    for box in boxes["a_doc.jpg"]:
        assert len(box) == 4 and all(len(p) == 2 and all(isinstance(v, int) for v in p) for p in box)
    assert (tmp_path / "det_vis" / "sub" / "deep16.png").is_file()
    assert "det_results.txt" in captured.out


def test_det_flags_override_yaml_defaults(batch, models_dir, tmp_path, capsys):
    root, _ = batch
    doc = root / "a_doc.jpg"
    assert predict_det.main(["--image_dir", str(doc), "--output", str(tmp_path / "d")]) == 0
    assert predict_det.main(["--image_dir", str(doc), "--output", str(tmp_path / "s"),
                             "--det_db_box_thresh", "0.999", "--det_limit_side_len", "320"]) == 0
    default, strict = (json.loads(read_rows(tmp_path / d / "det_results.txt")[0][1]) for d in ("d", "s"))
    assert read_rows(tmp_path / "d" / "det_results.txt")[0][0] == "a_doc.jpg"  # a single file: its name
    assert len(strict) < len(default)


def test_stage_tools_take_as_paddleocr(models_dir, tmp_path):
    """--as_paddleocr on one stage: the det tool detects as PaddleOCR does (no border, so most words cropped tight
    to their ink are not found); the rec and cls tools get PaddleOCR's batches and whole crops."""
    from paddle_pp.ocr import build_stage

    for i, crop in enumerate(fixtures.tight_crops()):
        cv2.imwrite(str(tmp_path / f"w{i}.png"), crop)
    found = []
    for extra in ([], ["--as_paddleocr", "true"]):
        out = tmp_path / f"out{len(found)}"
        assert predict_det.main(["--image_dir", str(tmp_path / "w*.png"), "--output", str(out)] + extra) == 0
        found.append(sum(bool(json.loads(row[1])) for row in read_rows(out / "det_results.txt")))
    assert found[0] == len(fixtures.tight_crops()) and found[1] <= found[0] // 2, found
    assert build_stage("rec", as_paddleocr=True).max_pad_ratio is None
    assert build_stage("cls", as_paddleocr=True, cls_thresh=0.8).pieces_above == 0
    with pytest.raises(SystemExit):
        predict_det.main(["--image_dir", str(tmp_path), "--as_paddleocr", "maybe"])


# ------------------------------------------------------------------ rec and cls on text-line crops

@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    root = tmp_path_factory.mktemp("crops")
    lines = fixtures.text_lines()[:3]
    names = []
    for i, line in enumerate(lines):
        name = f"line{i}.png"
        cv2.imwrite(str(root / name), line)
        cv2.imwrite(str(root / f"line{i}_flipped.png"), np.ascontiguousarray(np.rot90(line, 2)))
        names.append(name)
    cv2.imwrite(str(root / "tiny.png"), np.zeros((1, 1, 3), np.uint8))
    cv2.imwrite(str(root / "wide.png"), np.full((2, 6000, 3), 255, np.uint8))  # ratio 3000:1
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root, lines


def test_rec_tool(crops, models_dir, tmp_path, capsys):
    root, _ = crops
    code = predict_rec.main(["--image_dir", str(root), "--output", str(tmp_path), "--rec_batch_num", "2"])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    problems = problem_lines(captured.err)
    assert len(problems) == 2
    assert any(p.startswith(str(root / "broken.jpg") + ": ") for p in problems)
    assert any(p.startswith(str(root / "wide.png") + ": ") and "too wide" in p for p in problems)
    rows = {r[0]: r[1:] for r in read_rows(tmp_path / "rec_results.txt")}
    assert sorted(rows) == sorted([f"line{i}.png" for i in range(3)] + [f"line{i}_flipped.png" for i in range(3)]
                                  + ["tiny.png"])
    for i, word in enumerate(fixtures.REC_WORDS[:3]):
        text, score = rows[f"line{i}.png"]
        assert squash(text) == squash(word) and 0.5 < float(score) <= 1.0
    assert all(len(v) == 2 for v in rows.values())


def test_cls_tool(crops, models_dir, tmp_path, capsys):
    root, _ = crops
    code = predict_cls.main(["--image_dir", str(root / "line*.png"), "--output", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    rows = {r[0]: r[1:] for r in read_rows(tmp_path / "cls_results.txt")}
    assert len(rows) == 6
    for i in range(3):
        assert rows[f"line{i}.png"][0] == "0"
        assert rows[f"line{i}_flipped.png"][0] == "180"
        assert 0.5 <= float(rows[f"line{i}_flipped.png"][1]) <= 1.0


def test_system_det_false_reads_each_crop_whole_classified_first(crops, models_dir, tmp_path, capsys):
    """PaddleOCR's `--det false`: each input is one line, turned by the classifier, then read; rec_results.txt."""
    root, _ = crops
    code = predict_system.main(["--image_dir", str(root), "--output", str(tmp_path), "--det", "false"])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err  # broken.jpg and wide.png fail alone, as in the rec tool
    assert len(problem_lines(captured.err)) == 2 and "rec_results.txt" in captured.out
    rows = {r[0]: r[1:] for r in read_rows(tmp_path / "rec_results.txt")}
    assert len(rows) == 7
    for i, word in enumerate(fixtures.REC_WORDS[:3]):  # the flipped crops read as the upright ones
        assert squash(rows[f"line{i}.png"][0]) == squash(rows[f"line{i}_flipped.png"][0]) == squash(word)
    assert not (tmp_path / "system_results.txt").exists()
    plain = tmp_path / "plain"
    assert predict_system.main(["--image_dir", str(root / "line*.png"), "--output", str(plain), "--det", "false",
                                "--use_angle_cls", "false"]) == 0
    rows = {r[0]: r[1:] for r in read_rows(plain / "rec_results.txt")}
    assert squash(rows["line0_flipped.png"][0]) != squash(fixtures.REC_WORDS[0])  # not turned: misread


def test_system_det_false_rec_false_classifies_each_crop(crops, models_dir, tmp_path, capsys):
    root, _ = crops
    assert predict_system.main(["--image_dir", str(root / "line*.png"), "--output", str(tmp_path),
                                "--det", "false", "--rec", "false"]) == 0
    ours = read_rows(tmp_path / "cls_results.txt")
    assert predict_cls.main(["--image_dir", str(root / "line*.png"), "--output", str(tmp_path / "cls")]) == 0
    assert ours == read_rows(tmp_path / "cls" / "cls_results.txt")  # the cls tool's labels and scores
    assert {name: label for name, label, _ in ours}["line1_flipped.png"] == "180"


def test_system_rec_false_writes_the_boxes_in_reading_order(batch, models_dir, tmp_path, capsys):
    from paddle_pp import PPOCR

    root, _ = batch
    doc = root / "a_doc.jpg"
    assert predict_system.main(["--image_dir", str(doc), "--output", str(tmp_path), "--rec", "false",
                                "--visualize"]) == 0
    (name, payload), = read_rows(tmp_path / "det_results.txt")
    expected = PPOCR().ocr(str(doc), rec=False)[0]
    assert name == "a_doc.jpg" and json.loads(payload) == np.asarray(expected).astype(np.int32).tolist()
    assert (tmp_path / "det_vis" / "a_doc.jpg").is_file() and not (tmp_path / "system_results.txt").exists()
    turned = tmp_path / "turned.png"  # with the option, a sideways page: the upright page's boxes, carried back
    cv2.imwrite(str(turned), np.ascontiguousarray(np.rot90(cv2.imread(str(doc)), -1)))
    assert predict_system.main(["--image_dir", str(turned), "--output", str(tmp_path / "o"), "--rec", "false",
                                "--use_doc_orientation_classify", "true"]) == 0
    (_, payload), = read_rows(tmp_path / "o" / "det_results.txt")
    expected = PPOCR(use_doc_orientation_classify=True).ocr(str(turned), rec=False)[0]
    assert json.loads(payload) == np.asarray(expected).astype(np.int32).tolist() and len(expected) >= 4
    form = tmp_path / "form.png"      # --as_paddleocr: PaddleOCR's detection and order (its rows mixed up here)
    cv2.imwrite(str(form), fixtures.form())
    assert predict_system.main(["--image_dir", str(form), "--output", str(tmp_path / "p"), "--rec", "false",
                                "--as_paddleocr", "true"]) == 0
    (_, payload), = read_rows(tmp_path / "p" / "det_results.txt")
    expected = PPOCR(as_paddleocr=True).ocr(str(form), rec=False)[0]
    assert json.loads(payload) == np.asarray(expected).astype(np.int32).tolist()
    assert expected != PPOCR().ocr(str(form), rec=False)[0]


@pytest.mark.parametrize("argv, message", [
    (["--det", "false", "--output_format", "txt"], "--output_format cannot apply"),
    (["--rec", "false", "--save_crop_res", "true"], "--save_crop_res cannot apply"),
    (["--det", "false", "--visualize"], "--visualize cannot apply"),
    (["--det", "false", "--use_doc_orientation_classify", "true"], "--use_doc_orientation_classify cannot apply"),
    (["--det", "false", "--rec", "false", "--use_angle_cls", "false"], "asks for nothing"),
])
def test_system_single_stage_refuses_flags_it_cannot_apply(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        predict_system.main(["--image_dir", str(tmp_path), "--output", str(tmp_path / "out")] + argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_system_image_options_invert_binarize_and_alphacolor(models_dir, tmp_path, capsys):
    """PaddleOCR's --invert, --binarize and --alphacolor: white text on a transparent ground is read over black;
    the pictures show the image as given."""
    doc, lines = fixtures.document()
    cv2.imwrite(str(tmp_path / "white_text.png"), fixtures.white_text_on_transparency(doc))
    cv2.imwrite(str(tmp_path / "negative.png"), 255 - doc)

    def read(out, *flags):
        assert predict_system.main(["--image_dir", str(tmp_path / "*.png"), "--output", str(tmp_path / out),
                                    *flags]) == 0, capsys.readouterr().err
        return {name: {squash(r["transcription"]) for r in json.loads(payload)}
                for name, payload in read_rows(tmp_path / out / "system_results.txt")}

    assert read("plain")["white_text.png"] == set()
    over_black = read("black", "--alphacolor", "0,0,0", "--invert", "true", "--binarize", "true", "--visualize")
    assert squash(lines[0]) in over_black["white_text.png"] and squash(lines[0]) in over_black["negative.png"]
    picture = cv2.imread(str(tmp_path / "black" / "vis" / "negative.png"))
    assert picture[5, 5].max() < 50                     # drawn on the image as given (black ground), not inverted
    with pytest.raises(SystemExit):
        predict_system.main(["--image_dir", str(tmp_path), "--alphacolor", "0,0"])
    assert "argument --alphacolor: must be a list of 3 integers" in capsys.readouterr().err


# ------------------------------------------------------------------ no images, bad arguments, exit status

def test_directory_without_images(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "readme.txt").write_text("hello")
    out = tmp_path / "out"
    (out).mkdir()
    (out / "rec_results.txt").write_text("stale\tresults\t1.0\n")
    assert predict_rec.main(["--image_dir", str(tmp_path / "in"), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no images found" in err and "Traceback" not in err
    assert (out / "rec_results.txt").read_text() == ""  # this run's (empty) results, not stale ones
    assert predict_rec.main(["--image_dir", str(tmp_path / "missing"), "--output", str(out)]) == 1
    assert "no such file or directory" in capsys.readouterr().err


def test_bad_model_dir_is_one_line_and_status_2(batch, tmp_path, capsys):
    code = predict_det.main(["--image_dir", str(batch[0] / "a_doc.jpg"), "--output", str(tmp_path),
                             "--det_model_dir", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot load the models" in err and "Traceback" not in err


def test_parsers_share_flags_and_yaml_types():
    system = utility.build_parser("system")
    args = system.parse_args(["--use_angle_cls", "false", "--det_db_thresh", "0.2", "--rec_batch_num", "3",
                              "--use_dilation", "true", "--engine", "paddle", "--cpu_threads", "2",
                              "--enable_mkldnn", "false"])
    assert args.use_angle_cls is False and args.det_db_thresh == 0.2 and args.rec_batch_num == 3
    assert args.use_dilation is True and args.engine == "paddle"
    defaults = system.parse_args([])
    # None everywhere: the YAML decides.
    assert all(getattr(defaults, flag) is None for flag in utility.OPTION_KEYS)
    assert utility.model_options(defaults, "det") == {f: None for f, (m, _, _) in utility.OPTION_KEYS.items()
                                                      if m == "det"}
    rec_flags = {a.dest for a in utility.build_parser("rec")._actions}
    assert "rec_batch_num" in rec_flags and "det_db_thresh" not in rec_flags and "visualize" not in rec_flags
    with pytest.raises(SystemExit):
        system.parse_args(["--det_limit_type", "sideways"])
    with pytest.raises(SystemExit):
        utility.build_parser("rec").parse_args([])  # --image_dir is required for crops


def test_paddleocr_flags_parse_into_ours(capsys):
    system = utility.build_parser("system")
    args = system.parse_args(["--draw_img_save_dir", "out_dir", "--use_gpu", "false", "--use_onnx", "false",
                              "--page_num", "2"])
    assert args.output == "out_dir" and args.engine == "paddle" and args.pages == "1-2"
    assert system.parse_args(["--page_num", "0"]).pages is None and system.parse_args([]).engine is None
    assert system.parse_args(["--use_mp", "false", "--total_process_num", "4"]).use_mp is False  # one process
    assert system.parse_args(["--ocr_version", "PP-OCR"]).ocr_version == "PP-OCR"
    rec = utility.build_parser("rec").parse_args(["--image_dir", "x", "--use_onnx", "true", "--use_gpu", "0"])
    assert rec.engine == "onnx" and not hasattr(rec, "page_num")
    for argv, problem in ((["--use_gpu", "true"], "use_gpu is true, but paddle-pp runs on the CPU only"),
                          (["--use_onnx", "true", "--engine", "paddle"], "use_onnx true asks for engine onnx"),
                          (["--page_num", "2", "--pages", "1"], "page_num 2 and pages 1 both choose pages"),
                          (["--page_num", "-1"], "argument --page_num: must be an integer >= 0"),
                          (["--use_mp", "true", "--total_process_num", "0"], "argument --total_process_num"),
                          (["--ocr_version", "PP-OCRv3"], "ocr_version PP-OCRv3: paddle-pp runs PP-OCR's"),
                          (["--use_tensorrt", "true"], "use_tensorrt true: paddle-pp runs on the CPU"),
                          (["--rec_algorithm", "SVTR_LCNet"], "rec_algorithm SVTR_LCNet: PP-OCR's recognizer is CRNN"),
                          (["--gpu_mem", "-5"], "argument --gpu_mem: must be an integer >= 0")):
        with pytest.raises(SystemExit) as exit_info:
            system.parse_args(argv)
        assert exit_info.value.code == 2
        assert problem in capsys.readouterr().err
    # PaddleOCR's flags that restate what paddle-pp does anyway are taken
    taken = system.parse_args(["--ir_optim", "false", "--gpu_mem", "500", "--use_tensorrt", "false", "--warmup", "true",
                               "--max_text_length", "25", "--det_algorithm", "DB", "--rec_algorithm", "CRNN",
                               "--rec_image_shape", "3, 32, 320", "--cls_image_shape", "3, 48, 192"])
    assert utility.model_options(taken, "rec")["rec_image_shape"] == "3, 32, 320"
    assert "rec_image_shape" not in utility.model_options(system.parse_args([]), "rec")


def test_a_model_shape_flag_unlike_the_models_is_an_error_naming_it(models_dir, tmp_path, capsys):
    from paddle_pp.tools import predict_rec

    cv2.imwrite(str(tmp_path / "line.png"), fixtures.text_lines()[0])
    assert predict_rec.main(["--image_dir", str(tmp_path / "line.png"), "--output", str(tmp_path / "same"),
                             "--rec_image_shape", "3, 32, 320"]) == 0
    code = predict_rec.main(["--image_dir", str(tmp_path / "line.png"), "--output", str(tmp_path / "other"),
                             "--rec_image_shape", "3, 48, 320"])
    err = capsys.readouterr().err
    assert code == 2 and "rec_image_shape [3, 48, 320]: this rec model takes [3, 32, 320]" in err
    assert "Traceback" not in err


def test_save_crop_res_writes_each_kept_lines_crop_and_a_rec_label_file(models_dir, tmp_path, capsys):
    images = tmp_path / "imgs"
    (images / "sub").mkdir(parents=True)
    img, lines = fixtures.document()
    cv2.imwrite(str(images / "a.jpg"), img)
    cv2.imwrite(str(images / "sub" / "b.png"), np.ascontiguousarray(np.rot90(img, 2)))  # the classifier turns it
    cv2.imwrite(str(images / "blank.png"), np.full((120, 160, 3), 255, np.uint8))
    out, crops = tmp_path / "out", tmp_path / "crops"
    code = predict_system.main(["--image_dir", str(images), "--draw_img_save_dir", str(out), "--use_gpu", "false",
                                "--save_crop_res", "true", "--crop_res_save_dir", str(crops)])
    assert code == 0, capsys.readouterr().err
    results = {name: json.loads(payload) for name, payload in read_rows(out / "system_results.txt")}
    labels = read_rows(crops / utility.CROP_LABELS)
    expected = [(f"{name}_crop_{k}.jpg", r["transcription"]) for name in ("a.jpg", "sub/b.png")
                for k, r in enumerate(results[name])]
    assert [tuple(row) for row in labels] == expected and results["blank.png"] == []
    assert len(expected) >= 2 * len(lines)
    from paddle_pp import PPOCR

    reader = PPOCR(use_angle_cls=False)
    for crop_name, text in labels:  # each crop is upright and reads as its label: a recognition set as it is
        crop = cv2.imread(str(crops / crop_name))
        assert crop is not None and crop.shape[1] > crop.shape[0]
        assert squash(reader.ocr(crop, det=False)[0][0][0]) == squash(text)
    assert sorted(p.relative_to(crops).as_posix() for p in crops.rglob("*.jpg")) == sorted(n for n, _ in expected)
    from paddle_pp.data.datasets import SimpleDataSet

    dataset = SimpleDataSet(str(crops), [str(crops / utility.CROP_LABELS)], mode="Eval")  # a training set as it is
    assert sorted(dataset.samples) == sorted(expected)


def test_help_documents_exit_status(capsys):
    with pytest.raises(SystemExit):
        predict_system.main(["--help"])
    out = capsys.readouterr().out
    assert "exit status" in out and "1    at least one image failed" in out


# ------------------------------------------------------------------ the loop: isolation, incremental writes

def fake_run(tmp_path, n, process, batch_size=1, every=None, workers=1):
    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(n):
        cv2.imwrite(str(images / f"{i:02d}.png"), np.full((4, 4, 3), i, np.uint8))
    args = utility.build_parser("det").parse_args(["--image_dir", str(images), "--output", str(tmp_path / "out")])
    args.use_mp, args.total_process_num = workers > 1, workers   # ocr's --use_mp (the det parser has no such flag)
    return utility.run(args, lambda: "model", process, ["r.txt"], batch_size=batch_size)


def test_worker_processes_keep_input_order_and_fail_bad_images_alone(tmp_path, capsys):
    def process(model, items):
        time.sleep(0.3)   # a batch takes a while, as a real one does: one worker cannot take them all alone
        if any(item.name == "03.png" for item in items):
            raise RuntimeError("boom")
        return [utility.Outcome({"r.txt": f"{item.name} {os.getpid()}"}, 1) for item in items]

    assert fake_run(tmp_path, 9, process, batch_size=2, workers=2) == 1
    rows = [line.split() for line in (tmp_path / "out" / "r.txt").read_text().splitlines()]
    assert [name for name, _ in rows] == [f"{i:02d}.png" for i in range(9) if i != 3]
    assert len({pid for _, pid in rows}) == 2 and str(os.getpid()) not in {pid for _, pid in rows}
    captured = capsys.readouterr()
    assert problem_lines(captured.err) == [f"{tmp_path / 'imgs' / '03.png'}: RuntimeError: boom"]
    assert "done: 9 images, 8 boxes, 1 failed" in captured.out


def test_a_worker_that_dies_fails_the_rest_and_keeps_what_was_done(tmp_path, capsys):
    """A crash in native code (here: the process exits) breaks the pool: the run ends with what was done, never
    waits forever for the lost image."""
    def process(model, items):
        if items[0].name == "06.png":
            os._exit(3)
        return [utility.Outcome({"r.txt": item.name}, 1) for item in items]

    assert fake_run(tmp_path, 12, process, workers=2) == 1
    names = (tmp_path / "out" / "r.txt").read_text().split()
    assert names == [f"{i:02d}.png" for i in range(len(names))] and len(names) <= 6
    assert any("a worker process died" in line for line in problem_lines(capsys.readouterr().err))


def test_ctrl_c_stops_the_worker_processes_and_keeps_what_was_done(tmp_path, capsys):
    import multiprocessing
    import signal
    import time

    def process(model, items):
        if items[0].name == "20.png":   # Ctrl-C reaches the parent while the workers are busy
            os.kill(os.getppid(), signal.SIGINT)
        time.sleep(0.05)
        return [utility.Outcome({"r.txt": item.name}, 1) for item in items]

    # A shell starts background jobs (CI) with SIGINT ignored: give this process a terminal program's Ctrl-C.
    old_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = {child.pid for child in multiprocessing.active_children()}   # other tests' daemons may still run
    try:
        assert fake_run(tmp_path, 90, process, workers=2) == 130
    finally:
        signal.signal(signal.SIGINT, old_handler)
    names = (tmp_path / "out" / "r.txt").read_text().split()
    assert 0 < len(names) < 90 and names == [f"{i:02d}.png" for i in range(len(names))]   # done, in order
    assert {child.pid for child in multiprocessing.active_children()} <= before   # the workers are gone
    assert "interrupted after" in capsys.readouterr().out


def test_a_failing_image_in_a_batch_fails_alone(tmp_path, capsys):
    def process(model, items):
        if any(item.name == "03.png" for item in items):
            raise RuntimeError("boom\nsecond line")
        return [utility.Outcome({"r.txt": item.name}, 1) for item in items]

    assert fake_run(tmp_path, 7, process, batch_size=4) == 1
    captured = capsys.readouterr()
    assert (tmp_path / "out" / "r.txt").read_text().split() == [f"{i:02d}.png" for i in range(7) if i != 3]
    expected = f"{tmp_path / 'imgs' / '03.png'}: RuntimeError: boom second line"
    assert problem_lines(captured.err) == [expected]


def test_results_are_written_incrementally_and_on_interrupt(tmp_path, capsys):
    seen = []

    def process(model, items):
        name = items[0].name
        if name == "25.png":
            seen.append((tmp_path / "out" / "r.txt").read_text().split())
            raise KeyboardInterrupt
        return [utility.Outcome({"r.txt": name}, 1)]

    assert fake_run(tmp_path, 30, process) == 130
    # Before the interrupt the file on disk already held the first 20 images (rewritten every 10) ...
    assert seen[0] == [f"{i:02d}.png" for i in range(20)]
    # ... and the interrupt wrote everything finished: nothing done is lost; no temporary files remain.
    assert (tmp_path / "out" / "r.txt").read_text().split() == [f"{i:02d}.png" for i in range(25)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["r.txt"]
    assert "interrupted" in capsys.readouterr().out


# ------------------------------------------------------------------ a real process

def test_subprocess_exit_status_and_clean_stderr(models_dir, batch, tmp_path):
    root, _ = batch
    images = tmp_path / "in"
    images.mkdir()
    for name in ("blank.png", "sub/truncated.jpg"):
        (images / Path(name).name).write_bytes((root / name).read_bytes())
    proc = subprocess.run([sys.executable, str(ROOT / "deploy" / "predict_system.py"), "--output", str(tmp_path),
                           "--image_dir", str(images)], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert problem_lines(proc.stderr) == [f"{images / 'truncated.jpg'}: truncated JPEG (the data ends before "
                                          "the end-of-image marker)"]
    assert (tmp_path / "system_results.txt").read_text() == "blank.png\t[]\n"
    assert "2 images, 0 text lines, 1 failed" in proc.stdout


def test_own_visualizations_are_not_read_back(tmp_path, capsys):
    images = tmp_path / "imgs"
    (images / "res" / "vis").mkdir(parents=True)
    cv2.imwrite(str(images / "a.png"), np.zeros((4, 4, 3), np.uint8))
    cv2.imwrite(str(images / "res" / "vis" / "a.png"), np.zeros((4, 8, 3), np.uint8))
    args = utility.build_parser("system").parse_args(["--image_dir", str(images), "--output", str(images / "res")])
    process = lambda model, items: [utility.Outcome({"r.txt": item.name}) for item in items]  # noqa: E731
    assert utility.run(args, lambda: "model", process, ["r.txt"]) == 0
    assert (images / "res" / "r.txt").read_text() == "a.png\n"


def test_draw_ocr_box_txt_odd_boxes():
    from paddle_pp.utils.visualize import draw_det_boxes, draw_ocr_box_txt

    img = np.full((120, 100, 3), 200, np.uint8)
    boxes = [[[10, 10], [90, 10], [90, 30], [10, 30]],  # a line
             [[40, 40], [55, 40], [55, 115], [40, 115]],  # tall and narrow: text written sideways
             [[5, 5], [5, 5], [5, 5], [5, 5]],  # degenerate
             [[-20, 100], [300, 100], [300, 130], [-20, 130]]]  # beyond the image
    vis = draw_ocr_box_txt(img, boxes, ["Hello", "营业", "x", "far"])
    assert vis.shape == (120, 200, 3) and vis[:, 100:].min() < 100
    assert draw_ocr_box_txt(img, boxes, ["a", "b", "c", "d"], scores=[0.1] * 4).shape == (120, 200, 3)
    assert draw_det_boxes(img, boxes).shape == img.shape


def test_draw_reading_order_numbers_the_boxes_in_their_order():
    from paddle_pp.utils.visualize import draw_reading_order

    img = np.full((200, 300, 3), 255, np.uint8)
    boxes = [[[150, 40], [280, 40], [280, 70], [150, 70]], [[20, 120], [140, 120], [140, 150], [20, 150]]]
    vis = draw_reading_order(img, boxes, label="rows")
    assert vis.shape == (240, 300, 3)                              # the label's band below
    for x, y in ((150, 40), (20, 120)):                             # a red number at each top-left corner
        b, g, r = (int(v) for v in vis[y - 9, x])
        assert r > 150 and g < 60 and b < 60
    path = vis[:200, 85:210]                                        # the path from the first centre to the second
    assert ((path[:, :, 0] < 200) & (path[:, :, 2] > 200)).any()
    assert draw_reading_order(img, []).shape == img.shape


def test_draw_ocr_takes_paddleocrs_rgb_call(models_dir):
    from paddle_pp import PPOCR, draw_ocr

    doc, lines = fixtures.document()
    rgb = Image.fromarray(doc[:, :, ::-1])
    result = PPOCR(use_angle_cls=False).ocr(doc)[0]
    boxes, txts, scores = [l[0] for l in result], [l[1][0] for l in result], [l[1][1] for l in result]
    picture = draw_ocr(rgb, boxes, txts, scores, font_path="./fonts/simfang.ttf")  # a font file that is not there
    h, w = doc.shape[:2]
    assert picture.shape == (h, 2 * w, 3) and picture.dtype == np.uint8
    assert picture[:, w:].min() < 100  # the texts are written on the right
    red_page = np.zeros((60, 80, 3), np.uint8)
    red_page[:] = (200, 30, 30)  # RGB
    outlined = draw_ocr(red_page, [[[10, 10], [70, 10], [70, 50], [10, 50]]])
    assert outlined.shape == red_page.shape
    assert tuple(outlined[2, 2]) == (200, 30, 30) and tuple(outlined[10, 40]) == (255, 0, 0)  # RGB in, RGB out
    assert draw_ocr(red_page, [[[10, 10], [70, 10], [70, 50], [10, 50]]], scores=[0.1]).tolist() == red_page.tolist()
    with pytest.raises(ValueError, match="RGB uint8"):
        draw_ocr(red_page.astype(np.float32), [])


# ------------------------------------------------------------------ hostile file names (issue 21, defect 1)

HOSTILE_NAMES = [b"a_good.png", b"bad_\xff\xfe_name.png", b"new\nline.png", b"tab\tname.png", b"back\\slash.png",
                 b"cr\rname.png", "sep\u2028name.png".encode(), "营业_ok.png".encode(), b"z_good.png"]


@pytest.fixture()
def hostile_names(tmp_path):
    """Blank images whose file names are not UTF-8 or hold a newline, a tab, a backslash, a line separator."""
    root = tmp_path / "names"
    root.mkdir()
    png = cv2.imencode(".png", np.full((40, 120, 3), 255, np.uint8))[1].tobytes()
    for raw in HOSTILE_NAMES:
        with open(os.path.join(os.fsencode(root), raw), "wb") as f:
            f.write(png)
    return root


def test_escape_name_round_trips_and_stays_one_field():
    for raw in HOSTILE_NAMES + [b"dir/sub\x01\x7f.png", b"\\x41", b"trailing\\"]:
        name = os.fsdecode(raw)
        escaped = utility.escape_name(name)
        assert "\t" not in escaped and len(escaped.splitlines()) == 1
        escaped.encode("utf-8")  # always writable
        assert os.fsencode(utility.unescape_name(escaped)) == raw
    assert utility.escape_name("plain/营业.jpg") == "plain/营业.jpg"  # ordinary names are unchanged
    assert utility.escape_name(os.fsdecode(b"bad_\xff\xfe_name.png")) == "bad_\\xff\\xfe_name.png"
    assert utility.escape_name("new\nline\t\\") == "new\\nline\\t\\\\"


def test_hostile_names_keep_every_result_and_round_trip(hostile_names, models_dir, tmp_path):
    """A real process (stdout and stderr encode strictly there): every image gets one line whose name gives
    back the exact bytes of its file name; the pictures keep the exact names too."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "deploy" / "predict_det.py"), "--image_dir", str(hostile_names),
                           "--output", str(out), "--visualize"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = (out / "det_results.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(HOSTILE_NAMES)
    fields = [line.split("\t") for line in lines]
    assert all(len(f) == 2 and json.loads(f[1]) == [] for f in fields)
    names = [os.fsencode(utility.unescape_name(f[0])) for f in fields]
    assert sorted(names) == sorted(HOSTILE_NAMES)
    vis = os.listdir(os.fsencode(out / "det_vis"))
    assert sorted(vis) == sorted(HOSTILE_NAMES)
    assert f"{len(HOSTILE_NAMES)} images" in proc.stdout


def test_hostile_names_in_rec_and_cls_results(hostile_names, models_dir, tmp_path, capsys):
    for tool, results in ((predict_rec, "rec_results.txt"), (predict_cls, "cls_results.txt")):
        assert tool.main(["--image_dir", str(hostile_names), "--output", str(tmp_path / results)]) == 0
        rows = [line.split("\t") for line in
                (tmp_path / results / results).read_text(encoding="utf-8").splitlines()]
        assert all(len(row) == 3 for row in rows)
        assert sorted(os.fsencode(utility.unescape_name(row[0])) for row in rows) == sorted(HOSTILE_NAMES)


def test_a_line_that_cannot_be_written_fails_its_image_alone(tmp_path, capsys):
    """Whatever a tool's process puts in a line, a writer never loses the results already finished."""
    def process(model, items):
        return [utility.Outcome({"r.txt": "bad\udcff" if item.name == "03.png" else item.name}, 1)
                for item in items]

    assert fake_run(tmp_path, 7, process, batch_size=2) == 1
    captured = capsys.readouterr()
    assert (tmp_path / "out" / "r.txt").read_text().split() == [f"{i:02d}.png" for i in range(7) if i != 3]
    problems = problem_lines(captured.err)
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path / 'imgs' / '03.png'}: cannot write its results")
    assert "Traceback" not in captured.err


def test_failing_results_write_is_reported_and_the_others_kept(tmp_path, capsys, monkeypatch):
    """One results file that cannot be written (here: an exception that is not an OSError) neither stops the
    other files nor escapes as a traceback."""
    real = utility.write_text_atomic

    def flaky(path, text):
        if Path(path).name == "bad.txt" and text:
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")
        real(path, text)

    monkeypatch.setattr(utility, "write_text_atomic", flaky)
    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(3):
        cv2.imwrite(str(images / f"{i}.png"), np.zeros((4, 4, 3), np.uint8))
    args = utility.build_parser("det").parse_args(["--image_dir", str(images), "--output", str(tmp_path / "out")])
    process = lambda model, items: [utility.Outcome({"good.txt": i.name, "bad.txt": i.name}) for i in items]  # noqa
    assert utility.run(args, lambda: "model", process, ["bad.txt", "good.txt"]) == 1
    err = capsys.readouterr().err
    assert (tmp_path / "out" / "good.txt").read_text().split() == ["0.png", "1.png", "2.png"]
    assert "bad.txt: cannot write results" in err and "Traceback" not in err


# ------------------------------------------------------------------ --visualize cannot write (issue 21, defect 8)

def test_unwritable_pictures_are_warnings_and_keep_the_results(batch, models_dir, tmp_path, capsys):
    root, lines = batch
    images = tmp_path / "in"
    images.mkdir()
    for name in ("a_doc.jpg", "blank.png"):
        (images / name).write_bytes((root / name).read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    (out / "vis").write_text("a file where the picture folder should be: every picture write fails")
    code = predict_system.main(["--image_dir", str(images), "--output", str(out), "--visualize"])
    captured = capsys.readouterr()
    assert code == 0, captured.err  # the OCR succeeded; the pictures are warnings
    rows = dict(read_rows(out / "system_results.txt"))
    assert sorted(rows) == ["a_doc.jpg", "blank.png"]
    got = [squash(r["transcription"]) for r in json.loads(rows["a_doc.jpg"])]
    assert all(squash(t) in got for t in lines), got
    warnings = [p for p in problem_lines(captured.err) if p.startswith("warning: ")]
    assert len(warnings) == 2, captured.err
    for name in ("a_doc.jpg", "blank.png"):
        assert any(w.startswith(f"warning: {images / name}: cannot write picture {out / 'vis' / name}")
                   for w in warnings), warnings
    assert "0 failed, 2 warnings" in captured.out and "Traceback" not in captured.err


def test_full_disk_for_pictures_keeps_det_results(batch, models_dir, tmp_path, capsys, monkeypatch):
    def full_disk(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(utility, "write_bytes_atomic", full_disk)
    doc = batch[0] / "a_doc.jpg"
    assert predict_det.main(["--image_dir", str(doc), "--output", str(tmp_path), "--visualize"]) == 0
    captured = capsys.readouterr()
    boxes = json.loads(read_rows(tmp_path / "det_results.txt")[0][1])
    assert len(boxes) >= 4
    assert "No space left on device" in captured.err and "1 warnings" in captured.out


# ------------------------------------------------------------------ batch-mates (issue 21, defect 10)

def test_a_crops_text_does_not_depend_on_its_batch_mates(models_dir, tmp_path, capsys):
    """PaddleOCR pads every crop of a batch to its widest: next to a 10000x10 image, `HELLO WORLD 123` read as
    garbage. Alone or batched with it, the crop now gives the same text and score (float noise)."""
    from paddle_pp.utils.text_render import render_line

    alone, together = tmp_path / "alone", tmp_path / "together"
    alone.mkdir()
    together.mkdir()
    line = render_line("HELLO WORLD 123")
    cv2.imwrite(str(alone / "hello.png"), line)
    cv2.imwrite(str(together / "hello.png"), line)
    cv2.imwrite(str(together / "wide.png"), np.random.default_rng(0).integers(0, 255, (10, 10000, 3), np.uint8))
    results = {}
    for folder in (alone, together):
        assert predict_rec.main(["--image_dir", str(folder), "--output", str(folder / "out"),
                                 "--rec_batch_num", "6"]) == 0, capsys.readouterr().err
        results[folder.name] = {r[0]: r[1:] for r in read_rows(folder / "out" / "rec_results.txt")}
    text, score = results["alone"]["hello.png"]
    assert squash(text) == "HELLOWORLD123"
    assert results["together"]["hello.png"][0] == text
    assert abs(float(results["together"]["hello.png"][1]) - float(score)) < 1e-4

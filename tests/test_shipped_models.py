"""The models the project ships in models/: the English recognizer (PPOCR(lang="en")), the slim system
(PPOCR(slim=True): FPGM-pruned detector, PACT-quantized classifier and recognizer) and the direction classifier
trained on synthetic lines only (models/cls_synth)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fixtures

pytest.importorskip("paddle")

from paddle_pp import PPOCR  # noqa: E402
from paddle_pp.metrics.rec_metric import levenshtein  # noqa: E402
from paddle_pp.ocr import build_stage, slim_model_dir  # noqa: E402

ROOT = fixtures.__file__.rsplit("/tests/", 1)[0]


def squash(text):
    return text.replace(" ", "")


def test_english_model_reads_a_rendered_document(models_dir):
    ocr = PPOCR(lang="en")
    img, lines = fixtures.document()
    got = [squash(r["transcription"]) for r in ocr(img)]
    # Every character right up to case (docs/results.md, en: the shipped model still mixes a capital into some
    # lower-case words), and most lines exactly.
    assert [g.upper() for g in got] == [squash(t).upper() for t in lines]
    assert sum(g == squash(t) for g, t in zip(got, lines)) >= len(lines) - 1


def test_english_model_has_the_ascii_dictionary(models_dir):
    from paddle_pp.weights import BUNDLED_MODELS_DIR

    config = (BUNDLED_MODELS_DIR / "rec_en" / "config.yml").read_text(encoding="utf-8")
    chars = (BUNDLED_MODELS_DIR / "rec_en" / "en_ascii.txt").read_text(encoding="utf-8").splitlines()
    assert "en_ascii.txt" in config
    assert len(chars) == 94 and set(chars) == {chr(c) for c in range(33, 127)}


@pytest.fixture(scope="module")
def slim_ocr(models_dir):
    return PPOCR(slim=True)


def test_slim_system_reads_a_rendered_document(slim_ocr):
    # system.yml's slim_engine and slim_precision: the PACT models' model_int8.onnx (int8 kernels), the pruned
    # detector's float model.onnx
    assert slim_ocr.engine == "onnx" and slim_ocr.precision == "int8"
    assert slim_ocr.system.recognizer.engine.path.endswith("slim/rec/model_int8.onnx")
    assert slim_ocr.system.detector.engine.path.endswith("slim/det/model.onnx")
    img, lines = fixtures.document()
    results = slim_ocr(img)
    # All the text in reading order (a pruned detector may split a line at a wide gap, "1L   13.80"). The
    # quantized recognizer, fine-tuned largely on upper-case receipts, writes some words in capitals ("Thank YOU
    # for shopping", where the official recognizer reads the same box right) and may slip on a letter's shape
    # ("MiIK" for "Milk"; docs/results.md, slim): compare without case, allowing two character edits over the page.
    got = "".join(squash(r["transcription"]) for r in results)
    assert levenshtein(got.lower(), "".join(squash(t) for t in lines).lower()) <= 2
    # Flipped upside down: the quantized classifier turns the crops back.
    flipped = np.ascontiguousarray(np.rot90(img, 2))
    assert squash(lines[0]) in {squash(r["transcription"]) for r in slim_ocr(flipped)}


def test_slim_detector_scores_boxes_by_its_own_threshold(slim_ocr):
    """The pruned detector's config.yml sets box_thresh 0.5 (its map is less sure inside lines: docs/results.md);
    the official detector keeps det.yml's 0.6, and a flag given by hand wins over either. As PaddleOCR runs the
    pruned model, it gets PaddleOCR's 0.6."""
    assert slim_ocr.system.detector.postprocess.box_thresh == 0.5
    assert build_stage("det").postprocess.box_thresh == 0.6
    assert build_stage("det", slim=True, det_db_box_thresh=0.7).postprocess.box_thresh == 0.7
    assert build_stage("det", slim=True, as_paddleocr=True).postprocess.box_thresh == 0.6


def test_slim_models_are_what_they_claim():
    det, cls = (slim_model_dir(name) for name in ("det", "cls"))
    record = json.loads((det / "pruned_shapes.json").read_text())
    assert record["ratios"] and record["parameters"]  # pruned by structural names
    assert all(not name.startswith(("conv2d_", "linear_")) for name in record["parameters"])
    report = json.loads((det / "slim_report.json").read_text())
    assert report["after"]["parameters"] <= 0.6 * report["before"]["parameters"]
    assert report["after"]["flops"] <= 0.6 * report["before"]["flops"]
    assert b"quantize_dequantize" in (cls / "inference.pdmodel").read_bytes()
    cls_report = json.loads((cls / "slim_report.json").read_text())
    assert cls_report["after"]["metric"] >= cls_report["before"]["metric"] - 0.01
    rec = slim_model_dir("rec")
    assert b"quantize_dequantize" in (rec / "inference.pdmodel").read_bytes()
    rec_report = json.loads((rec / "slim_report.json").read_text())
    assert rec_report["after"]["metric"] >= rec_report["before"]["metric"] - 0.01


def test_slim_rec_falls_back_to_the_official_model(tmp_path, monkeypatch, models_dir):
    """A slim directory without rec (configs/system.yml slim_fallback_official) runs the official recognizer;
    a missing slim det is an error."""
    from paddle_pp.weights import BUNDLED_MODELS_DIR

    for name in ("det", "cls"):
        (tmp_path / "slim" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "slim" / name).symlink_to(BUNDLED_MODELS_DIR / "slim" / name)
    monkeypatch.setenv("PADDLE_PP_SLIM_DIR", str(tmp_path / "slim"))
    ocr = PPOCR(slim=True)
    img, lines = fixtures.document()
    assert "".join(squash(r["transcription"]) for r in ocr(img)) == "".join(squash(t) for t in lines)
    monkeypatch.setenv("PADDLE_PP_SLIM_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="slim det model"):
        PPOCR(slim=True)


def test_slim_refuses_engines_that_cannot_run_it(models_dir):
    with pytest.raises(ValueError, match="engine 'onnx', 'paddle'"):
        PPOCR(slim=True, engine="dygraph")
    with pytest.raises(ValueError, match="engine 'onnx'"):  # oneDNN int8 loses the accuracy: not offered
        PPOCR(slim=True, engine="paddle", precision="int8")


def test_missing_slim_model_names_the_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("PADDLE_PP_SLIM_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "det")):
        slim_model_dir("det")


def test_predict_system_slim_flag(models_dir, tmp_path):
    import cv2

    img, lines = fixtures.document()
    cv2.imwrite(str(tmp_path / "doc.png"), img)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, f"{ROOT}/deploy/predict_system.py", "--image_dir", str(tmp_path / "doc.png"),
                           "--slim", "--output", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    name, results = (out / "system_results.txt").read_text(encoding="utf-8").strip().split("\t")
    assert name == "doc.png"
    got = "".join(squash(r["transcription"]) for r in json.loads(results))
    assert levenshtein(got.lower(), "".join(squash(t) for t in lines).lower()) <= 2   # as above


def test_single_stages_choose_their_models_as_the_system_does(models_dir, tmp_path):
    """build_stage and `paddle-pp det|cls|rec` take lang and slim: the same model files as PPOCR's stages (so the
    English recognizer reads word crops with `paddle-pp rec --lang en`), the same errors."""
    import cv2

    for lang, slim in (("en", True), ("en", None), ("ch", True)):
        system = PPOCR(lang=lang, slim=slim).system
        for name, stage in (("det", system.detector), ("cls", system.classifier), ("rec", system.recognizer)):
            assert build_stage(name, lang=lang, slim=slim).engine.path == stage.engine.path, (lang, slim, name)
    assert build_stage("rec", lang="en").engine.path.endswith("rec_en/model.onnx")
    assert build_stage("rec", lang="en", slim=True).engine.path.endswith("slim/rec_en/model_int8.onnx")
    with pytest.raises(ValueError, match="unknown lang 'fr'; choose one of ch, en"):
        build_stage("rec", lang="fr")
    with pytest.raises(ValueError, match="not 'dygraph'"):
        build_stage("det", slim=True, engine="dygraph")

    lines = fixtures.text_lines()
    for i, line in enumerate(lines):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), line)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, f"{ROOT}/deploy/predict_rec.py", "--image_dir", str(tmp_path), "--output",
                           str(out), "--lang", "en", "--slim"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    read = [row.split("\t")[1] for row in (out / "rec_results.txt").read_text(encoding="utf-8").splitlines()]
    assert read == [text for text, _ in build_stage("rec", lang="en", slim=True)(lines)]


def test_synthetic_classifier_turns_rendered_lines_right(models_dir, tmp_path):
    """models/cls_synth: the direction classifier trained from scratch on synthetic lines only, flip-consistent."""
    import cv2

    from paddle_pp.weights import load_model_dir

    model_dir = Path(ROOT) / "paddle_pp" / "models" / "cls_synth"
    model = load_model_dir(model_dir)
    assert model.flip_average and "name: FlipAverageClassifier" in (model_dir / "config.yml").read_text()
    lines = [fixtures.render_line(text) for text in fixtures.REC_WORDS]   # Latin: it never saw CJK
    turned = [np.ascontiguousarray(np.rot90(line, 2)) for line in lines]
    for i, line in enumerate(lines + turned):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), line)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, f"{ROOT}/deploy/predict_cls.py", "--image_dir", str(tmp_path), "--output",
                           str(out), "--cls_model_dir", str(model_dir), "--engine", "dygraph"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    labels = [row.split("\t")[1] for row in (out / "cls_results.txt").read_text().splitlines()]
    assert labels == ["0"] * len(lines) + ["180"] * len(turned)


def test_slim_int8_runs_the_shipped_int8_onnx_files(models_dir):
    """--slim --engine onnx --precision int8: the PACT cls/rec run their model_int8.onnx (int8 kernels), the pruned
    detector, not quantization-trained, its float model.onnx; and the system still reads a document."""
    ocr = PPOCR(slim=True, engine="onnx", precision="int8")
    system = ocr.system
    assert system.detector.engine.path.endswith("slim/det/model.onnx")
    assert system.classifier.engine.path.endswith("slim/cls/model_int8.onnx")
    assert system.recognizer.engine.path.endswith("slim/rec/model_int8.onnx")
    img, lines = fixtures.document()
    got = "".join(squash(r["transcription"]) for r in ocr(img))
    assert levenshtein(got.lower(), "".join(squash(t) for t in lines).lower()) <= 4


def test_slim_english_system_runs_its_quantized_recognizer(models_dir):
    """PPOCR(lang="en", slim=True): pruned det + PACT cls + the English recognizer quantized post-training from its
    float twin, models/rec_en (configs/slim/rec_en_ptq.yml): four of its largest convolutions quantized in the
    program and int8 kernels in model_int8.onnx, everything else float; it reads what its twin reads."""
    import onnx
    from onnx import numpy_helper

    from paddle_pp.ocr import build_stage
    from paddle_pp.slim.int8_onnx import int8_ops
    from paddle_pp.slim.quant import int8_grid
    from paddle_pp.weights import BUNDLED_MODELS_DIR

    rec = slim_model_dir("rec_en")
    report = json.loads((rec / "slim_report.json").read_text())
    assert report["method"] == "post-training" and "backbone.blocks.10.linear_conv" in report["skip_quant"]
    assert b"quantize_dequantize" in (rec / "inference.pdmodel").read_bytes()
    assert int8_ops(rec / "model_int8.onnx") == {"QLinearConv": 4}
    # Slim.round_float_weights: every conv's weights but the depthwise ones' are on the int8 grid of Paddle-Lite's
    # `--quant int8` already (the four quantized ones on the same grid), so the ARM .nb computes what the program
    # and these graphs compute
    graph = onnx.load(str(rec / "model.onnx")).graph
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    convs = [node for node in graph.node if node.op_type == "Conv" and node.input[1] in weights
             and next((a.i for a in node.attribute if a.name == "group"), 1) == 1]
    assert len(convs) == 42
    for node in convs:
        weight = weights[node.input[1]]
        assert np.allclose(int8_grid(weight), weight, rtol=1e-6, atol=0), node.name
    twin = build_stage("rec", BUNDLED_MODELS_DIR / "rec_en", engine="dygraph")
    lines = fixtures.text_lines()
    expected = [text for text, _ in twin(lines)]
    for precision in ("fp32", "int8"):
        got = [text for text, _ in build_stage("rec", rec, engine="onnx", precision=precision)(lines)]
        assert sum(levenshtein(a, b) for a, b in zip(got, expected)) <= 1, (precision, got, expected)
    for precision in ("fp32", "int8"):
        ocr = PPOCR(lang="en", slim=True, precision=precision)
        assert ocr.engine == "onnx"
        assert ocr.configs["rec"]["Global"]["character_dict_path"].endswith("en_ascii.txt")
        img, lines = fixtures.document()
        got = "".join(squash(r["transcription"]) for r in ocr(img))
        assert levenshtein(got, "".join(squash(t) for t in lines)) <= 2, (precision, got)


@pytest.mark.parametrize("name", ["rec_en", "rec", "cls"])
def test_shipped_fake_quant_graphs_compute_what_the_pact_programs_compute(name):
    """The default slim engine runs each PACT model's model.onnx (slim/int8_onnx.py fake_quant_graph); it must read
    what the PACT program on Paddle Inference reads."""
    from paddle_pp.engine import OnnxEngine
    from paddle_pp.engine.paddle_inference import PaddleInferenceEngine
    from paddle_pp.ocr import build_stage

    directory = slim_model_dir(name)
    stage = build_stage("rec" if name.startswith("rec") else "cls", directory, engine="onnx")
    assert stage.engine.path == str(directory / "model.onnx")
    batches = []
    stage.engine = lambda batch: (batches.append(batch), OnnxEngine(directory / "model.onnx")(batch))[1]
    lines = fixtures.text_lines()
    stage(lines + [np.ascontiguousarray(line[::-1, ::-1]) for line in lines] if name == "cls" else lines)
    program = PaddleInferenceEngine(directory, prefer_legacy=True)
    plain_kernels = PaddleInferenceEngine(directory, prefer_legacy=True, enable_mkldnn=False)
    for batch in batches:
        graph, reference = OnnxEngine(directory / "model.onnx")(batch), program(batch)
        # The same character (class) at each step, as often as the program agrees with itself on Paddle's plain
        # kernels instead of oneDNN's: float rounding moves a value across a quantizer step now and then, and the
        # 6,625-class recognizer amplifies it (measured on these lines: 97.0% of steps both ways, rec_en 100%).
        agree = (graph.argmax(-1) == reference.argmax(-1)).mean()
        itself = (plain_kernels(batch).argmax(-1) == reference.argmax(-1)).mean()
        assert agree >= min(itself, 0.99) - 0.01, (agree, itself)
        assert np.abs(graph - reference).mean() < 0.01

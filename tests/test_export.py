"""Export (PIR, legacy, ONNX) and the three engines giving the same answers."""
import subprocess
import sys

import numpy as np
import pytest

import fixtures

paddle = pytest.importorskip("paddle")

from paddle_pp.config import load_config  # noqa: E402
from paddle_pp.engine import DygraphEngine, OnnxEngine  # noqa: E402
from paddle_pp.engine.paddle_inference import PaddleInferenceEngine  # noqa: E402
from paddle_pp.modeling.architecture import build_model  # noqa: E402
from paddle_pp.weights import load_pretrained  # noqa: E402

ROOT = fixtures.__file__.rsplit("/tests/", 1)[0]


def export(name, save_dir, *extra):
    proc = subprocess.run([sys.executable, f"{ROOT}/deploy/export_model.py", "-c", f"{ROOT}/configs/{name}.yml",
                           "--save_dir", str(save_dir), *extra], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return save_dir


@pytest.fixture(scope="module")
def exported(models_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("exported")
    return {name: export(name, root / name) for name in ("det", "rec")}


def test_pir_export_runs_in_paddle_inference_and_onnx(exported):
    x = fixtures.to_det_input(fixtures.photo_like(), 320, 480)
    ref = DygraphEngine(load_pretrained("det"))(x)
    assert (exported["det"] / "inference.json").is_file() and (exported["det"] / "config.yml").is_file()
    assert np.abs(PaddleInferenceEngine(exported["det"])(x) - ref).max() <= 1e-4
    subprocess.run([sys.executable, f"{ROOT}/deploy/export_onnx.py", "--model_dir", str(exported["det"])], check=True,
                   capture_output=True)
    assert np.abs(OnnxEngine(exported["det"] / "model.onnx")(x) - ref).max() <= 1e-4


def test_dynamic_width_and_batch_after_export(exported):
    engine = PaddleInferenceEngine(exported["rec"])
    model = load_pretrained("rec")
    for width, batch in ((100, 1), (320, 3), (960, 2)):
        x = fixtures.to_rec_batch(fixtures.text_lines()[:batch], width)
        with paddle.no_grad():
            ref = model(paddle.to_tensor(x)).numpy()
        out = engine(x)
        assert out.shape == (batch, width // 4, 6625)
        assert np.abs(out - ref).max() <= 1e-4
    assert (exported["rec"] / "ppocr_keys_v1.txt").is_file()


def test_legacy_export_with_lstm_runs(models_dir, tmp_path):
    save_dir = export("rec", tmp_path / "rec_legacy", "--legacy")
    assert (save_dir / "inference.pdmodel").is_file()
    x = fixtures.to_rec_batch(fixtures.text_lines()[:2], 320)
    with paddle.no_grad():
        ref = load_pretrained("rec")(paddle.to_tensor(x)).numpy()
    assert np.abs(PaddleInferenceEngine(save_dir)(x) - ref).max() <= 1e-4


def test_legacy_export_from_the_command_and_from_python(models_dir, tmp_path):
    """`paddle-pp export --legacy` (as docs/deploy.md shows it) and `export_model.main([...])` in a process that has
    imported paddle with PIR both write the legacy format (in a fresh interpreter)."""
    from paddle_pp.tools.export_model import main

    proc = subprocess.run([sys.executable, "-m", "paddle_pp.cli", "export", "-c", "cls", "--save_dir",
                           str(tmp_path / "cli"), "--legacy"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert main(["-c", "cls", "--save_dir", str(tmp_path / "python"), "--legacy"]) == 0
    x = fixtures.to_cls_batch(fixtures.text_lines()[:2])
    ref = DygraphEngine(load_pretrained("cls"))(x)
    for name in ("cli", "python"):
        assert (tmp_path / name / "inference.pdmodel").is_file()
        assert np.abs(PaddleInferenceEngine(tmp_path / name)(x) - ref).max() <= 1e-5


def test_export_names_missing_weights(tmp_path):
    proc = subprocess.run([sys.executable, f"{ROOT}/deploy/export_model.py", "-c", f"{ROOT}/configs/cls.yml", "-o",
                           "Global.pretrained_model=/nonexistent/best", "--save_dir", str(tmp_path / "x")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "/nonexistent/best.pdparams" in proc.stderr and "Traceback" not in proc.stderr


def test_engines_agree_end_to_end(models_dir):
    from paddle_pp import PPOCR

    images = [fixtures.document()[0], fixtures.photo_like(), np.ascontiguousarray(np.rot90(fixtures.document()[0], 2))]
    results = {engine: [PPOCR(engine=engine)(img) for img in images] for engine in ("dygraph", "paddle", "onnx")}
    for engine in ("paddle", "onnx"):
        for ours, ref in zip(results[engine], results["dygraph"]):
            assert len(ours) == len(ref) > 0
            for a, b in zip(ours, ref):
                assert np.abs(np.array(a["points"]) - np.array(b["points"])).max() <= 1
                assert a["transcription"] == b["transcription"]


def test_flip_averaged_classifier_exports_to_paddle_inference_and_onnx(models_dir, tmp_path):
    """The flip-consistent classifier (Architecture.name: FlipAverageClassifier) lives in the graph, so the exported model answers as the dygraph one does."""
    save_dir = export("cls", tmp_path / "cls_flip", "-o", "Architecture.name=FlipAverageClassifier")
    subprocess.run([sys.executable, f"{ROOT}/deploy/export_onnx.py", "--model_dir", str(save_dir)], check=True,
                   capture_output=True)
    model = build_model(load_config("cls", ["Architecture.name=FlipAverageClassifier"]))
    model.set_state_dict(load_pretrained("cls").state_dict())
    noise = np.random.default_rng(1).uniform(-1, 1, (2, 3, 48, 192)).astype(np.float32)
    for x in (np.concatenate([fixtures.to_cls_batch(fixtures.text_lines()[:2]), noise]), noise[:1, :, :, :96]):
        ref = DygraphEngine(model)(x)
        assert np.abs(ref - DygraphEngine(load_pretrained("cls"))(x)).max() > 1e-4   # not the plain classifier
        assert np.abs(PaddleInferenceEngine(save_dir)(x) - ref).max() <= 1e-5
        assert np.abs(OnnxEngine(save_dir / "model.onnx")(x) - ref).max() <= 1e-5


def test_a_weights_only_directory_exports_from_its_own_config(models_dir, tmp_path):
    """`paddle-pp export --weights_only` (or `interpolate`) writes model.pdparams + config.yml + dictionary, whose
    names are the directory's own; `export -c DIR/config.yml` reads them there, and the onnx engine's error for such a
    directory says what to run."""
    from paddle_pp.ocr import build_engine

    weights_dir = export("rec", tmp_path / "weights", "--weights_only")
    with pytest.raises(FileNotFoundError) as err:
        build_engine("rec", weights_dir, "onnx")
    message = str(err.value)
    assert "--engine dygraph" in message and f"paddle-pp export -c {weights_dir / 'config.yml'}" in message
    out = tmp_path / "inference"
    proc = subprocess.run([sys.executable, f"{ROOT}/deploy/export_model.py", "-c", str(weights_dir / "config.yml"),
                           "--save_dir", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "inference.json").is_file() and (out / "ppocr_keys_v1.txt").is_file()
    x = fixtures.to_rec_batch(fixtures.text_lines()[:2], 320)
    ref = build_engine("rec", weights_dir, "dygraph")(x)
    assert np.abs(PaddleInferenceEngine(out)(x) - ref).max() <= 1e-4


def _texts_and_boxes(results):
    return [(r["transcription"], np.round(r["points"]).astype(int).tolist()) for r in results]


@pytest.mark.parametrize("engine", ["paddle", "onnx", "dygraph"])
def test_one_system_serves_many_threads(models_dir, engine):
    """A web app's thread pool calls one PPOCR from threads that come and go, and several at once. Paddle Inference
    predictors run from changing threads failed now and then inside Paddle ('RuntimeError: std::exception');
    every call must give what a call from the main thread gives."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from paddle_pp import PPOCR

    ocr = PPOCR(engine=engine)
    images = [fixtures.document()[0], fixtures.form(), fixtures.two_column_page()[0], fixtures.photo_like()] * 2
    expected = [_texts_and_boxes(ocr(img)) for img in images]
    on_new_threads = []
    for img in images:  # one call per new thread, one after the other
        thread = threading.Thread(target=lambda: on_new_threads.append(_texts_and_boxes(ocr(img))))
        thread.start()
        thread.join()
    with ThreadPoolExecutor(4) as pool:  # several at once
        at_once = list(pool.map(lambda img: _texts_and_boxes(ocr(img)), images))
    assert on_new_threads == expected and at_once == expected
    assert all(expected)


def _read_in_child(image):
    return _texts_and_boxes(_FORKED_OCR(image))


@pytest.mark.parametrize("engine", ["paddle", "onnx", "dygraph"])
def test_a_system_made_before_a_fork_works_in_the_children(models_dir, engine):
    """`ocr = PPOCR()` at module level, then a multiprocessing pool (fork, Linux's default): each child reads with
    the system it inherited, as the parent does. On the paddle engine a new thread in such a child fails, so the
    child's calls run on its own thread."""
    import multiprocessing

    from paddle_pp import PPOCR

    global _FORKED_OCR
    _FORKED_OCR = PPOCR(engine=engine)
    images = [fixtures.document()[0], fixtures.form()]
    expected = [_texts_and_boxes(_FORKED_OCR(img)) for img in images]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        in_children = pool.map_async(_read_in_child, images * 2).get(timeout=300)
    assert in_children == expected * 2 and all(expected)


_FORKED_OCR = None


def test_paddle_inference_prints_nothing_on_stdout(exported, capfd):
    """A PIR predictor's first run with oneDNN prints a line per reduce_mean op from C++; the engine keeps it off
    the user's terminal and output."""
    assert (exported["rec"] / "inference.json").is_file()
    capfd.readouterr()
    for width, batch in ((320, 2), (100, 1)):
        engine = PaddleInferenceEngine(exported["rec"])
        engine(fixtures.to_rec_batch(fixtures.text_lines()[:batch], width))
    out, err = capfd.readouterr()
    assert "ReduceMean" not in out + err

"""Paddle-Lite: opt conversion (deploy/lite/export_lite.py) and the Lite engine against the paddle models.

Needs Python 3.10 for the paddlelite venv (made by `paddle-pp lite setup`, which CI runs); skips without it.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fixtures

paddle = pytest.importorskip("paddle")

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "deploy" / "lite" / "export_lite.py"


@pytest.fixture(scope="session")
def lite_venv():
    from paddle_pp.engine.lite import ensure_lite_venv

    try:
        return ensure_lite_venv()
    except (RuntimeError, FileNotFoundError) as exc:
        pytest.skip(f"no Paddle-Lite venv: {exc}")


def export(out: Path, *extra: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXPORT), "--out", str(out), *extra], capture_output=True, text=True,
                          env=env)


@pytest.fixture(scope="session")
def lite_x86(models_dir, lite_venv, tmp_path_factory):
    out = tmp_path_factory.mktemp("lite") / "x86"
    proc = export(out, "--valid_targets", "x86")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_export_writes_models_manifest_and_demo_files(lite_x86):
    from paddle_pp.engine.lite import LITE_RELEASE, LITE_VERSION

    for name in ("det", "cls", "rec"):
        assert (lite_x86 / f"{name}.nb").stat().st_size > 100_000
    manifest = json.loads((lite_x86 / "lite_manifest.json").read_text())
    assert manifest["opt_version"] == LITE_RELEASE == "v2.13-rc" and manifest["paddlelite"] == LITE_VERSION
    assert manifest["valid_targets"] == "x86" and manifest["quant"] == "none" and manifest["input_batch"] == 1
    assert manifest["total_bytes"] == sum((lite_x86 / f"{n}.nb").stat().st_size for n in ("det", "cls", "rec"))
    config = (lite_x86 / "ocr_config.txt").read_text()
    assert "det_db_box_thresh 0.6" in config and "rec_model_path rec.nb" in config
    assert len((lite_x86 / "ppocr_keys_v1.txt").read_text(encoding="utf-8").splitlines()) == 6623


def test_arm_export_and_int8_quantization(models_dir, lite_venv, tmp_path):
    sizes = {}
    for tag, extra in (("fp32", ()), ("int8", ("--quant", "int8"))):
        proc = export(tmp_path / tag, *extra)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "v2.13-rc" in proc.stdout
        manifest = json.loads((tmp_path / tag / "lite_manifest.json").read_text())
        assert manifest["valid_targets"] == "arm"
        sizes[tag] = manifest["total_bytes"]
    assert 6e6 < sizes["fp32"] < 9e6  # the paper's Paddle-Lite total: 7.8 MB
    assert sizes["int8"] < 0.5 * sizes["fp32"]


def test_slim_without_models_fails_with_a_clear_message(tmp_path):
    import os

    env = dict(os.environ, PADDLE_PP_SLIM_DIR=str(tmp_path / "no_slim"))
    proc = export(tmp_path / "out", "--slim", env=env)
    assert proc.returncode == 1
    assert "no slim det model" in proc.stderr and str(tmp_path / "no_slim" / "det") in proc.stderr
    assert not (tmp_path / "out").exists()


def test_lang_picks_the_recognizer_as_ppocr_does(tmp_path, monkeypatch):
    """--lang en converts the bundled English recognizer; with --slim its slim form when there is one, else (rec
    may fall back, system.yml) the float English one, never the Chinese model."""
    from paddle_pp.lite import export_lite as E
    from paddle_pp.resources import BUNDLED_MODELS_DIR

    monkeypatch.setenv("PADDLE_PP_SLIM_DIR", str(tmp_path / "slim"))
    assert E.source_dir("rec", None, slim=False, lang="en") == BUNDLED_MODELS_DIR / "rec_en"
    assert E.source_dir("rec", None, slim=True, lang="en") == BUNDLED_MODELS_DIR / "rec_en"
    (tmp_path / "slim" / "rec_en").mkdir(parents=True)
    (tmp_path / "slim" / "rec_en" / "inference.pdmodel").write_bytes(b"x")
    (tmp_path / "slim" / "rec_en" / "inference.pdiparams").write_bytes(b"x")
    assert E.source_dir("rec", None, slim=True, lang="en") == tmp_path / "slim" / "rec_en"
    with pytest.raises(E.ExportError, match="--lang xx: unknown lang 'xx'; choose one of ch, en"):
        E.source_dir("rec", None, slim=False, lang="xx")
    proc = export(tmp_path / "out", "--lang", "xx")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "--lang xx" in proc.stderr


def test_slim_quantized_models_refuse_x86_with_a_clear_message(models_dir, lite_venv, tmp_path):
    """The PACT models convert for arm only: an x86 export names the model and says what to do instead."""
    proc = export(tmp_path / "out", "--slim", "--valid_targets", "x86")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "models/slim/cls: a quantized (PACT) model" in proc.stderr and "--valid_targets arm" in proc.stderr


def test_slim_system_converts_for_arm(models_dir, lite_venv, tmp_path):
    proc = export(tmp_path / "out", "--slim")
    assert proc.returncode == 0, proc.stderr[-2000:]
    manifest = json.loads((tmp_path / "out" / "lite_manifest.json").read_text())
    assert manifest["source"] == "slim" and manifest["valid_targets"] == "arm"
    sizes = {name: (tmp_path / "out" / f"{name}.nb").stat().st_size for name in ("det", "cls", "rec")}
    assert sum(sizes.values()) < 4.5e6  # docs/deploy.md, Sizes: 4.12 MB (the paper's slim system: 3.5 MB)
    config = (tmp_path / "out" / "ocr_config.txt").read_text()
    assert "det_db_box_thresh 0.5" in config and "det_db_nested_thresh 0.5" in config  # the pruned det's config.yml


def test_lite_engine_matches_the_paddle_models(lite_x86):
    from paddle_pp.engine import DygraphEngine
    from paddle_pp.engine.lite import LiteEngine
    from paddle_pp.weights import load_pretrained

    lines = fixtures.text_lines()
    cases = {"det": [fixtures.to_det_input(fixtures.photo_like(), 544, 960), fixtures.to_det_input(fixtures.photo_like(), 320, 480)],
             "cls": [fixtures.to_cls_batch(lines)],
             "rec": [fixtures.to_rec_batch(lines[:3], 320), fixtures.to_rec_batch(lines[:2], 960),
                     fixtures.to_rec_batch(lines[:1], 320)]}
    tolerance = {"det": 1e-4, "cls": 1e-5, "rec": 3e-4}
    for name, inputs in cases.items():
        lite, ref = LiteEngine(lite_x86 / f"{name}.nb"), DygraphEngine(load_pretrained(name))
        for x in inputs:  # shapes change between calls: the worker keeps one predictor per shape
            out, expected = lite(x), ref(x)
            assert out.shape == expected.shape
            assert np.abs(out - expected).max() <= tolerance[name], (name, x.shape)
        lite.close()


def test_whole_system_on_lite_equals_paddle(lite_x86):
    from paddle_pp import PPOCR
    from paddle_pp.lite.compare_lite import build_lite_system
    from paddle_pp.utils.agreement import match_results

    img = fixtures.photo_like()
    ref = PPOCR(engine="dygraph")(img)
    ours = [r.to_dict() for r in build_lite_system(lite_x86)(img)]
    stats = match_results(ref, ours, tol=0)
    assert len(ref) >= 4 and stats["exact"] == stats["texts"] == len(ref) == len(ours)
    assert np.allclose([r["score"] for r in ours], [r["score"] for r in ref], atol=1e-4)


def _rec_in_child(x):
    return _FORKED_LITE(x), _FORKED_LITE._proc.pid


_FORKED_LITE = None


def test_lite_engine_made_before_a_fork_serves_the_children(lite_x86):
    """The worker's pipes carry one conversation: each forked child starts its own worker, and the parent keeps
    its own (a shared pipe would mix the children's inputs and outputs)."""
    import multiprocessing

    from paddle_pp.engine.lite import LiteEngine

    global _FORKED_LITE
    _FORKED_LITE = LiteEngine(lite_x86 / "rec.nb")
    lines = fixtures.text_lines()
    inputs = [fixtures.to_rec_batch(lines[i:i + 1], 320) for i in range(3)] * 2
    expected = [_FORKED_LITE(x) for x in inputs]
    parent_worker = _FORKED_LITE._proc.pid
    with multiprocessing.get_context("fork").Pool(2) as pool:
        in_children = pool.map_async(_rec_in_child, inputs).get(timeout=300)
    assert all(np.array_equal(out, ref) for (out, _), ref in zip(in_children, expected))
    assert parent_worker not in {worker for _, worker in in_children}
    assert _FORKED_LITE._proc.pid == parent_worker and np.array_equal(_FORKED_LITE(inputs[0]), expected[0])
    _FORKED_LITE.close()


def test_missing_model_dir_is_a_clear_error(monkeypatch):
    from paddle_pp.engine.lite import MODEL_DIR_ENV, LiteEngine

    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    with pytest.raises(ValueError, match="lite_model_dir"):
        LiteEngine.for_stage("det")
    with pytest.raises(FileNotFoundError, match="export_lite.py"):
        LiteEngine.for_stage("det", "/nonexistent")


def test_flip_averaged_classifier_converts_and_matches(models_dir, lite_venv, tmp_path):
    """FlipAverageClassifier turns the crop in the graph; Lite gets a flip op for it (export_lite.py)."""
    from paddle_pp.config import load_config
    from paddle_pp.engine import DygraphEngine
    from paddle_pp.engine.lite import LiteEngine
    from paddle_pp.modeling.architecture import build_model
    from paddle_pp.weights import load_pretrained

    model_dir = tmp_path / "cls_flip"
    proc = subprocess.run([sys.executable, str(ROOT / "deploy" / "export_model.py"), "-c", str(ROOT / "configs/cls.yml"),
                           "-o", "Architecture.name=FlipAverageClassifier", "--save_dir", str(model_dir), "--weights_only"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = export(tmp_path / "lite", "--valid_targets", "x86", "--cls_model_dir", str(model_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = build_model(load_config("cls", ["Architecture.name=FlipAverageClassifier"]))
    model.set_state_dict(load_pretrained("cls").state_dict())
    noise = np.random.default_rng(2).uniform(-1, 1, (1, 3, 48, 192)).astype(np.float32)
    lite = LiteEngine(tmp_path / "lite" / "cls.nb")
    for x in (fixtures.to_cls_batch(fixtures.text_lines()[:1]), noise):
        assert np.abs(lite(x) - DygraphEngine(model)(x)).max() <= 1e-5
    assert np.abs(DygraphEngine(model)(noise) - DygraphEngine(load_pretrained("cls"))(noise)).max() > 1e-4
    lite.close()

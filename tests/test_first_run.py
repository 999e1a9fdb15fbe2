"""A quiet first run: one line per model prepared, third-party output in <cache>/logs/prepare.log, nothing
installed at run time (Polygraphy's auto-install stays off during the ONNX export)."""
import os
import subprocess
import sys
import textwrap

import pytest

from paddle_pp.resources import DEMO_IMAGES_DIR
from paddle_pp.utils.quiet import ModelPreparationError, output_to, prepare_log, preparing


def _message_lines(text):
    """Lines of a CLI's stderr without tqdm's progress bar (which redraws with carriage returns)."""
    lines = [line.strip() for chunk in text.splitlines() for line in chunk.split("\r")]
    return [line for line in lines if line and not line.startswith("det:")]


def _run_det(cache, output):
    env = dict(os.environ, PADDLE_PP_MODELS=str(cache))
    image = sorted(DEMO_IMAGES_DIR.iterdir())[0]
    return subprocess.run([sys.executable, "-m", "paddle_pp.cli", "det", "--image_dir", str(image),
                           "--output", str(output)], env=env, capture_output=True, text=True)


def test_first_run_prints_one_line_per_model_and_logs_the_rest(tmp_path):
    cache = tmp_path / "fresh_cache"
    first = _run_det(cache, tmp_path / "out")
    assert first.returncode == 0, first.stderr[-2000:]
    messages = _message_lines(first.stderr)
    assert messages[0] == "preparing official det model (one time) ... done"
    assert [m for m in messages if not m.startswith("done: 1 images")] == messages[:1], messages
    assert first.stdout.strip().startswith("done: 1 images") and "Paddle2ONNX" not in first.stdout
    assert (cache / "det" / "model.onnx").is_file()

    log = prepare_log(cache).read_text(encoding="utf-8")
    assert "preparing official det model ====" in log  # the header of this preparation
    assert "imported official det model" in log  # Python-level output of the import
    assert "[Paddle2ONNX]" in log and "Folding Constants" in log  # C++ and Polygraphy output of the export

    second = _run_det(cache, tmp_path / "out2")
    assert second.returncode == 0, second.stderr[-2000:]
    assert not any("preparing" in m for m in _message_lines(second.stderr))
    assert prepare_log(cache).read_text(encoding="utf-8") == log


def test_the_paddle_engine_gets_the_legacy_program_in_a_cache_the_onnx_engine_prepared(tmp_path, capfd):
    """The cache keeps the program the paddle engine runs fastest (legacy). A cache prepared for onnx (with a PIR
    program) is exported again once: the legacy program replaces the PIR one, model.onnx stays, and later runs of
    either engine prepare nothing."""
    import numpy as np

    from paddle_pp.engine import DygraphEngine
    from paddle_pp.model_dir import LEGACY_MODEL, ONNX_MODEL, PIR_MODEL
    from paddle_pp.ocr import build_engine, prepare_model
    from paddle_pp.weights import load_pretrained

    cache = tmp_path / "cache"
    directory = prepare_model("cls", "onnx", cache)
    assert (directory / PIR_MODEL).is_file() and (directory / ONNX_MODEL).is_file()
    assert prepare_model("cls", "paddle", cache) == directory
    assert (directory / LEGACY_MODEL).is_file() and not (directory / PIR_MODEL).is_file()
    assert (directory / ONNX_MODEL).is_file()
    capfd.readouterr()
    for engine in ("onnx", "paddle"):
        prepare_model("cls", engine, cache)
    assert "preparing" not in capfd.readouterr().err
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 48, 192)).astype(np.float32)
    ref = DygraphEngine(load_pretrained("cls", cache_dir=cache))(x)
    for engine in ("paddle", "onnx"):
        assert np.abs(build_engine("cls", None, engine, cache_dir=cache)(x) - ref).max() <= 1e-5


def test_a_model_is_imported_and_exported_under_its_lock(tmp_path, monkeypatch):
    """Concurrent first runs take turns: the import (which replaces the model directory) and the export (which
    stages inside it) run while <cache>/.det.lock is held, so another process's import cannot pull the
    directory away from under an export."""
    fcntl = pytest.importorskip("fcntl")
    from paddle_pp import ocr, weights

    cache = tmp_path / "cache"
    lock_file = cache / ".det.lock"

    def lock_is_held():
        with open(lock_file, "a") as other:  # another open file: flock conflicts as with another process
            try:
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(other.fileno(), fcntl.LOCK_UN)
            return False

    steps = []

    def fake_import(source, cache_dir=None):
        steps.append(("import", source, lock_is_held()))
        (cache / source).mkdir(parents=True, exist_ok=True)
        return cache / source

    monkeypatch.setattr(weights, "official_is_current", lambda name, cache_dir=None: False)
    monkeypatch.setattr(weights, "import_official", fake_import)
    monkeypatch.setattr(ocr, "ensure_exported", lambda d, engine, log_file=None: steps.append(
        ("export", engine, lock_is_held())))
    assert ocr.prepare_model("det", "onnx", cache) == cache / "det"
    assert steps == [("import", "det", True), ("export", "onnx", True)]
    assert not lock_is_held()  # released for the next process


def test_preparation_output_goes_to_the_log_and_a_failure_names_model_and_log(tmp_path, capfd):
    log_file = tmp_path / "cache" / "logs" / "prepare.log"
    with preparing("official det model", log_file):
        os.write(1, b"chatter on fd 1\n")
        os.write(2, b"chatter on fd 2\n")
    with pytest.raises(ModelPreparationError) as error:
        with preparing("bundled rec_en model", log_file):
            os.write(2, b"what went wrong, in detail\n")
            raise ValueError("conversion broke")
    message = str(error.value)
    assert "bundled rec_en model" in message and "conversion broke" in message and str(log_file) in message
    captured = capfd.readouterr()
    assert captured.err == ("preparing official det model (one time) ... done\n"
                            "preparing bundled rec_en model (one time) ... failed\n")
    assert captured.out == ""
    log = log_file.read_text(encoding="utf-8")
    assert "chatter on fd 1" in log and "chatter on fd 2" in log and "what went wrong, in detail" in log
    assert "ValueError: conversion broke" in log  # the traceback is kept for the reader of the log


def test_preparing_without_paddle_says_to_install_it_or_copy_a_cache(tmp_path, capfd):
    """An inference-only install (onnxruntime, no Paddle: an ARM board) cannot prepare the official models."""
    with pytest.raises(ModelPreparationError) as error:
        with preparing("official cls model", tmp_path / "prepare.log"):
            raise ModuleNotFoundError("No module named 'paddle'", name="paddle")
    assert "needs paddlepaddle: install it, or copy a model cache prepared elsewhere" in str(error.value)
    with pytest.raises(ModelPreparationError) as error:
        with preparing("official cls model", tmp_path / "prepare.log"):
            raise ModuleNotFoundError("No module named 'paddle2onnx'", name="paddle2onnx")
    assert "needs paddlepaddle" not in str(error.value)


def test_output_to_restores_the_descriptors(tmp_path, capfd):
    with output_to(tmp_path / "log.txt"):
        os.write(1, b"inside\n")
    os.write(1, b"outside\n")
    assert capfd.readouterr().out == "outside\n"
    assert (tmp_path / "log.txt").read_text() == "inside\n"


def test_failed_export_child_names_model_and_log(tmp_path):
    from paddle_pp.export import export_in_subprocess

    log_file = tmp_path / "logs" / "prepare.log"
    not_a_model = tmp_path / "not_a_model"
    not_a_model.mkdir()
    with pytest.raises(RuntimeError) as error:
        export_in_subprocess(not_a_model, tmp_path / "out", onnx=True, log_file=log_file)
    assert str(not_a_model) in str(error.value) and str(log_file) in str(error.value)
    assert "config.yml" in log_file.read_text(encoding="utf-8")  # the child's traceback went to the log


# A fresh interpreter (Polygraphy's config not imported yet, as in a user's first run) where sympy, which
# Polygraphy's ONNX-Runtime shape inference needs, looks missing, and Polygraphy's install command only records
# that it was called. With auto-install on, folding the constants runs that command.
_EXPORT_WITH_SYMPY_MISSING = textwrap.dedent("""
    import os, sys
    sys.modules["sympy"] = None
    import paddle
    from paddle.static import InputSpec
    from paddle_pp.export import export_onnx

    out = sys.argv[1]
    net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), paddle.nn.ReLU(), paddle.nn.Conv2D(4, 2, 1))
    net.eval()
    paddle.jit.save(net, os.path.join(out, "inference"), input_spec=[InputSpec([None, 3, None, None], "float32", "x")])
    export_onnx(out)
    print("AUTOINSTALL_AFTER=" + repr(os.environ.get("POLYGRAPHY_AUTOINSTALL_DEPS")))
""")


def test_onnx_export_never_lets_polygraphy_install(tmp_path):
    pytest.importorskip("polygraphy")
    record = tmp_path / "install_calls.txt"
    recorder = tmp_path / "record_install.py"
    recorder.write_text(f"import sys\nopen({str(record)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n")
    if " " in sys.executable or " " in str(recorder):
        pytest.skip("POLYGRAPHY_INSTALL_CMD is split on spaces")
    script = tmp_path / "export_tiny.py"
    script.write_text(_EXPORT_WITH_SYMPY_MISSING)
    out = tmp_path / "tiny"
    out.mkdir()
    env = dict(os.environ, POLYGRAPHY_INSTALL_CMD=f"{sys.executable} {recorder}")
    env.pop("POLYGRAPHY_AUTOINSTALL_DEPS", None)
    proc = subprocess.run([sys.executable, str(script), str(out)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "model.onnx").is_file()
    assert "Folding Constants" in proc.stdout + proc.stderr  # Polygraphy did run
    assert not record.exists(), f"Polygraphy tried to install: {record.read_text()}"
    assert "AUTOINSTALL_AFTER=None" in proc.stdout  # paddle2onnx's "1" does not leak to child processes


def test_a_bundled_model_whose_config_changes_is_copied_again(tmp_path, monkeypatch):
    """A release that changes only a bundled model's config.yml (a decoding setting) reaches an older cache."""
    import shutil

    from paddle_pp import weights
    from paddle_pp.resources import BUNDLED_MODELS_DIR

    bundled = tmp_path / "bundled"
    shutil.copytree(BUNDLED_MODELS_DIR / "cls_synth", bundled / "cls_synth")
    monkeypatch.setattr(weights, "BUNDLED_MODELS_DIR", bundled)
    cache = tmp_path / "cache"
    target = weights.import_bundled("cls_synth", cache)
    assert weights.bundled_is_current("cls_synth", cache)
    config = bundled / "cls_synth" / "config.yml"
    config.write_text(config.read_text() + "\n# a later release\n")
    assert not weights.bundled_is_current("cls_synth", cache)
    assert weights.import_bundled("cls_synth", cache) == target
    assert (target / "config.yml").read_text().endswith("# a later release\n")
    assert weights.bundled_is_current("cls_synth", cache)

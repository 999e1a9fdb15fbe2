"""x86 int8 (paddle_pp/slim/int8_onnx.py): the bundled PACT classifier exported to a QDQ ONNX that onnxruntime runs
with int8 kernels, its outputs against the fake-quant Paddle program, and `precision` in the engine layer."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from fixtures import text_lines, to_cls_batch
from paddle_pp import model_dir as mdir
from paddle_pp.resources import BUNDLED_MODELS_DIR

SLIM_CLS = BUNDLED_MODELS_DIR / "slim" / "cls"


@pytest.fixture(scope="module")
def calib_dir(tmp_path_factory):
    """A few rendered text lines as crop images (the calibration set of the export)."""
    folder = tmp_path_factory.mktemp("calib")
    for i, line in enumerate(text_lines()):
        cv2.imwrite(str(folder / f"line_{i}.png"), line)
    return folder


@pytest.fixture(scope="module")
def int8_cls(tmp_path_factory, calib_dir):
    """A copy of the bundled PACT classifier without its ONNX files, exported for int8 here."""
    from paddle_pp.slim.int8_onnx import export_int8

    target = tmp_path_factory.mktemp("slim") / "cls"
    shutil.copytree(SLIM_CLS, target)
    for name in (mdir.ONNX_MODEL, mdir.INT8_ONNX_MODEL):
        (target / name).unlink(missing_ok=True)
    result = export_int8(target, calib_dir, calib_count=8)
    return target, result


def _inputs() -> np.ndarray:
    lines = text_lines()
    return to_cls_batch(lines + [np.ascontiguousarray(line[::-1, ::-1]) for line in lines])


def test_export_writes_both_onnx_files_and_onnxruntime_makes_int8_kernels(int8_cls):
    from paddle_pp.slim.int8_onnx import int8_ops

    directory, result = int8_cls
    assert (directory / mdir.ONNX_MODEL).is_file() and (directory / mdir.INT8_ONNX_MODEL).is_file()
    assert {"onnx", "onnx_int8"} <= set(mdir.formats(directory))
    # 54 PACT layers (53 convolutions, the linear head); every convolution is an int8 kernel in onnxruntime's
    # optimised graph (the classifier's tiny head, a Gemm after the bias is folded in, may stay float)
    kernels = int8_ops(directory / mdir.INT8_ONNX_MODEL)
    assert result["quantized_layers"] == 54
    assert kernels.get("QLinearConv", 0) == 53
    # the float equivalent has none
    assert int8_ops(directory / mdir.ONNX_MODEL) == {}


def test_int8_and_float_equivalent_outputs_follow_the_fake_quant_model(int8_cls):
    from paddle_pp.engine import OnnxEngine
    from paddle_pp.engine.paddle_inference import PaddleInferenceEngine

    directory, _ = int8_cls
    batch = _inputs()
    fake_quant = PaddleInferenceEngine(directory, prefer_legacy=True)(batch)
    int8 = OnnxEngine(directory / mdir.INT8_ONNX_MODEL)(batch)
    float_equivalent = OnnxEngine(directory / mdir.ONNX_MODEL)(batch)
    assert int8.shape == fake_quant.shape == float_equivalent.shape
    # the fake-quant program quantizes activations, the float equivalent does not and int8 also quantizes the
    # convolutions' outputs: confident decisions agree, borderline probabilities move (measured: max 0.18)
    for other in (float_equivalent, int8):
        assert np.abs(other - fake_quant).mean() < 0.05
        assert np.abs(other - fake_quant).max() < 0.3
        assert (other.argmax(1) == fake_quant.argmax(1)).mean() >= 0.8


def test_precision_int8_selects_the_int8_model_on_onnx_only(int8_cls, tmp_path):
    from paddle_pp.engine import OnnxEngine
    from paddle_pp.ocr import build_stage

    directory, _ = int8_cls
    stage = build_stage("cls", directory, engine="onnx", precision="int8")
    assert isinstance(stage.engine, OnnxEngine)
    assert stage.engine.path.endswith(mdir.INT8_ONNX_MODEL)
    fp32 = build_stage("cls", directory, engine="onnx", precision="fp32")
    assert fp32.engine.path.endswith(mdir.ONNX_MODEL)
    with pytest.raises(ValueError, match="engine 'onnx'"):
        build_stage("cls", directory, engine="paddle", precision="int8")
    with pytest.raises(ValueError, match="precision"):
        build_stage("cls", directory, engine="onnx", precision="int4")
    # a PACT directory not exported yet names the command that makes the int8 model
    bare = tmp_path / "cls"
    shutil.copytree(directory, bare)
    (bare / mdir.INT8_ONNX_MODEL).unlink()
    with pytest.raises(FileNotFoundError, match="export_int8"):
        build_stage("cls", bare, engine="onnx", precision="int8")


def test_int8_refuses_a_model_without_fake_quant_ops(tmp_path, calib_dir):
    from paddle_pp.slim.int8_onnx import export_int8

    target = tmp_path / "det"
    shutil.copytree(BUNDLED_MODELS_DIR / "slim" / "det", target)  # pruned, not quantization-trained
    with pytest.raises(ValueError, match="no fake quantize ops"):
        export_int8(target, calib_dir)


def test_output_ranges_are_cut_only_where_the_next_op_makes_the_tails_irrelevant(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from paddle_pp.slim.int8_onnx import tightened_output_ranges

    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 1, 1], [1.0])
    nodes = [helper.make_node("Conv", ["x", "w"], ["gate_in"]),
             helper.make_node("HardSigmoid", ["gate_in"], ["gate"], alpha=0.2, beta=0.5),      # SE gate
             helper.make_node("Conv", ["gate", "w"], ["swish_in"]),
             helper.make_node("HardSigmoid", ["swish_in"], ["hs"], alpha=1 / 6, beta=0.5),     # hard-swish
             helper.make_node("Mul", ["swish_in", "hs"], ["swish"]),
             helper.make_node("Conv", ["swish", "w"], ["relu_in"]),
             helper.make_node("Relu", ["relu_in"], ["relu"]),
             helper.make_node("Conv", ["relu", "w"], ["plain"]),
             helper.make_node("Add", ["plain", "x"], ["y"])]
    value = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "g", [value("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                              [value("y", TensorProto.FLOAT, [1, 1, 4, 4])], [w])
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph), str(path))
    calibrated = {"gate_in": (-10.0, 6.0), "swish_in": (-20.0, 30.0), "relu_in": (-5.0, 9.0), "plain": (-7.0, 7.0)}
    pact = {"relu": [{"scale": np.array(4.0 / 127, dtype=np.float32)}]}   # the Conv after the Relu: PACT clip 4
    got = {k: (float(v[0]["rmin"]), float(v[0]["rmax"])) for k, v in tightened_output_ranges(path, calibrated,
                                                                                             pact).items()}
    assert got["gate_in"] == pytest.approx((-2.5, 2.5))        # HardSigmoid saturates at +-beta/alpha
    assert got["swish_in"] == pytest.approx((-3.0, 30.0))      # hard-swish is 0 below -3
    assert got["relu_in"] == pytest.approx((0.0, 4.0))         # the next quantizer clips at 4
    assert "plain" not in got                                   # into an Add: left as calibrated

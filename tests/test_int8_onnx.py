"""x86 (paddle_pp/slim/int8_onnx.py): the bundled PACT classifier exported to its fake-quant graph (model.onnx) and to
a QDQ ONNX that onnxruntime runs with int8 kernels, their outputs against the fake-quant Paddle program, the fake
quantizer's numbers by hand, and `precision` in the engine layer."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import onnx
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
    # 54 PACT layers (53 convolutions, the linear head); the classifier's config (Slim.min_int8_macs: 1M) makes
    # int8 kernels of its five convolutions of 1.2M multiply-adds at 3x48x192, the rest stays float
    kernels = int8_ops(directory / mdir.INT8_ONNX_MODEL)
    assert result["quantized_layers"] == 54 and result["min_int8_macs"] == 1_000_000
    assert kernels == {"QLinearConv": 5}
    # the two-step global average pools of the SE blocks and the head are one op each in the int8 model
    int8_nodes = onnx.load(str(directory / mdir.INT8_ONNX_MODEL)).graph.node
    assert sum(node.op_type == "GlobalAveragePool" for node in int8_nodes) == 10
    assert not any(node.op_type == "ReduceMean" for node in int8_nodes)
    # the fake-quant graph has none: its weights are float, its activations go through Clip/Q/DQ, one per input
    assert int8_ops(directory / mdir.ONNX_MODEL) == {}
    nodes = onnx.load(str(directory / mdir.ONNX_MODEL)).graph.node
    made_by = {out: node.op_type for node in nodes for out in node.output}
    quantizers = [node for node in nodes if node.op_type == "QuantizeLinear"]
    assert 0 < len(quantizers) <= 54 and len(quantizers) == sum(node.op_type == "DequantizeLinear" for node in nodes)
    assert all(made_by[node.input[0]] == "Clip" for node in quantizers)  # -128 never comes out


def test_fake_quant_graph_and_int8_follow_the_fake_quant_program(int8_cls):
    from paddle_pp.engine import OnnxEngine
    from paddle_pp.engine.paddle_inference import PaddleInferenceEngine

    directory, _ = int8_cls
    batch = _inputs()
    fake_quant = PaddleInferenceEngine(directory, prefer_legacy=True)(batch)
    graph = OnnxEngine(directory / mdir.ONNX_MODEL)(batch)
    int8 = OnnxEngine(directory / mdir.INT8_ONNX_MODEL)(batch)
    assert int8.shape == fake_quant.shape == graph.shape
    # the fake-quant graph computes what the program computes: only float rounding in the kernels can move a value
    # across a quantizer step (as between Paddle Inference with and without oneDNN)
    assert (graph.argmax(1) == fake_quant.argmax(1)).all()
    assert np.abs(graph - fake_quant).max() < 0.05
    # int8 also quantizes the convolutions' outputs: confident decisions agree, borderline probabilities move
    assert np.abs(int8 - fake_quant).mean() < 0.05
    assert np.abs(int8 - fake_quant).max() < 0.3
    assert (int8.argmax(1) == fake_quant.argmax(1)).mean() >= 0.8


def test_fake_quant_graph_is_paddles_quantizer(tmp_path):
    """Two 1x1 convolutions with weight 1 read the same input behind Paddle's moving-average abs-max quantizers of
    scales 2 and 1: each gets its own quantizer, which clips at +-scale and rounds to the 127 steps of each side;
    -128 steps, which QuantizeLinear alone allows, never come out."""
    import onnx
    from onnx import TensorProto, helper

    from paddle_pp.engine import OnnxEngine
    from paddle_pp.slim.int8_onnx import fake_quant_graph

    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 1, 1], [1.0])
    value = helper.make_tensor_value_info
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"]), helper.make_node("Conv", ["x", "w"], ["z"])],
                              "g", [value("x", TensorProto.FLOAT, [1, 1, 1, 6])],
                              [value("y", TensorProto.FLOAT, [1, 1, 1, 6]), value("z", TensorProto.FLOAT, [1, 1, 1, 6])],
                              [w])
    source = tmp_path / "float.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(source))
    records = [{"op": "conv2d", "input": "x", "scale": 2.0, "weight_shape": [1, 1, 1, 1]},
               {"op": "conv2d", "input": "x", "scale": 1.0, "weight_shape": [1, 1, 1, 1]}]
    out = fake_quant_graph(source, records, tmp_path / "model.onnx")
    step = 2.0 / 127
    x = np.array([0.3, -0.3, 1.999, 5.0, -2.0 - 0.7 * step, -9.0], dtype=np.float32).reshape(1, 1, 1, 6)
    session = OnnxEngine(out).session
    y, z = (value.reshape(-1) for value in session.run(None, {"x": x}))
    np.testing.assert_allclose(y, np.array([19, -19, 127, 127, -127, -127]) * step, rtol=1e-6)  # 0.3 / step = 19.05
    np.testing.assert_allclose(z, np.array([38, -38, 127, 127, -127, -127]) / 127, rtol=1e-6)   # 0.3 * 127 = 38.1


def test_weights_round_ties_away_from_zero_as_paddle_does():
    from paddle_pp.slim.int8_onnx import quantize_dequantize

    weights = np.array([[0.5], [-0.5], [2.5], [127.0]], dtype=np.float32)  # in steps of scale 127 / 127 = 1
    got = quantize_dequantize(weights, np.array([127.0]), axis=1, bits=8)
    np.testing.assert_array_equal(got.reshape(-1), [1.0, -1.0, 3.0, 127.0])


def test_export_fake_quant_writes_only_the_graph(tmp_path):
    from paddle_pp.slim.int8_onnx import export_fake_quant

    target = tmp_path / "cls"
    shutil.copytree(SLIM_CLS, target)
    for name in (mdir.ONNX_MODEL, mdir.INT8_ONNX_MODEL):
        (target / name).unlink(missing_ok=True)
    assert export_fake_quant(target) == target / mdir.ONNX_MODEL
    assert (target / mdir.ONNX_MODEL).is_file() and not (target / mdir.INT8_ONNX_MODEL).exists()
    assert not list(target.glob(".int8-*"))  # the work directory is gone


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


def test_onnx_sessions_neither_spin_nor_quantize_float_weights(tmp_path):
    """OnnxEngine's session settings (paddle_pp/engine/base.py): worker threads do not spin-wait between runs (three
    stages share few cores), and a float-weight Conv between a DequantizeLinear and a QuantizeLinear stays float
    (onnxruntime's WeightBiasQuantization would quantize its weights itself and make it a QLinearConv)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from paddle_pp.engine import OnnxEngine
    from paddle_pp.slim.int8_onnx import int8_ops

    value = helper.make_tensor_value_info
    constants = [numpy_helper.from_array(np.full((4, 4, 1, 1), 0.1, dtype=np.float32), "w"),
                 numpy_helper.from_array(np.array(1 / 127, dtype=np.float32), "step"),
                 numpy_helper.from_array(np.array(0, dtype=np.int8), "zero")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "step", "zero"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "step", "zero"], ["xf"]),
             helper.make_node("Conv", ["xf", "w"], ["h"]),
             helper.make_node("QuantizeLinear", ["h", "step", "zero"], ["hq"]),
             helper.make_node("DequantizeLinear", ["hq", "step", "zero"], ["hf"]),
             helper.make_node("Conv", ["hf", "w"], ["y"])]
    graph = helper.make_graph(nodes, "g", [value("x", TensorProto.FLOAT, [1, 4, 2, 2])],
                              [value("y", TensorProto.FLOAT, [1, 4, 2, 2])], constants)
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    assert int8_ops(path) == {}
    options = OnnxEngine(path, threads=2).session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def _conv_chain(tmp_path, channels):
    """x [1, C0, 8, 8] -> 1x1 Conv to C1 -> ... : a float graph with one Conv per width step, its PACT records."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, weights, records, name = [], [], [], "x"
    for k, (cin, cout) in enumerate(zip(channels, channels[1:])):
        weights.append(numpy_helper.from_array(np.full((cout, cin, 1, 1), 0.01, dtype=np.float32), f"w{k}"))
        nodes.append(helper.make_node("Conv", [name, f"w{k}"], [f"c{k}"], name=f"conv{k}"))
        records.append({"op": "conv2d", "input": name, "scale": 1.0, "weight_shape": [cout, cin, 1, 1]})
        name = f"c{k}"
    value = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "g", [value("x", TensorProto.FLOAT, ["n", channels[0], "h", "w"])],
                              [value(name, TensorProto.FLOAT, None)], weights)
    path = tmp_path / "chain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path, records


def test_only_layers_of_enough_multiply_adds_become_int8_kernels(tmp_path):
    """Mixed precision (Slim.min_int8_macs): at 8x8 a 1x1 conv of 4 -> 64 channels has 16,384 multiply-adds, one of
    64 -> 64 262,144: with the threshold between them only the large one is quantized, with 0 both are."""
    import onnx

    from paddle_pp.slim.int8_onnx import float_nodes, int8_ops, layer_macs, paired_nodes, quantize_qdq

    path, records = _conv_chain(tmp_path, [4, 64, 64])
    macs = layer_macs(path, (4, 8, 8))
    assert macs == {"c0": 4 * 64 * 64, "c1": 64 * 64 * 64}
    pairs = paired_nodes(path, records)
    assert float_nodes(pairs, macs, 100_000) == ["conv0"]
    assert float_nodes(pairs, macs, 0) == []
    assert float_nodes(pairs, {}, 100_000) == []                    # a layer of unknown size is quantized
    batches = [np.random.RandomState(i).uniform(-1, 1, (1, 4, 8, 8)).astype(np.float32) for i in range(4)]
    mixed = quantize_qdq(path, records, batches, tmp_path / "mixed.onnx", min_macs=100_000)
    every = quantize_qdq(path, records, batches, tmp_path / "every.onnx", min_macs=0)
    assert int8_ops(mixed) == {"QLinearConv": 1} and int8_ops(every) == {"QLinearConv": 2}
    # the small conv reads the float input: no quantizer in front of it
    first = next(node for node in onnx.load(str(mixed)).graph.node if node.op_type == "Conv")
    assert first.input[0] == "x"


def test_global_average_pools_replace_the_two_step_mean_with_the_same_values(tmp_path):
    """ReduceMean over W then over H (through an Identity, as paddle2onnx writes it) -> one GlobalAveragePool; a
    mean over W alone, or one whose result has other readers, is left alone."""
    import onnx
    from onnx import TensorProto, helper

    from paddle_pp.engine import OnnxEngine
    from paddle_pp.slim.int8_onnx import global_average_pools

    value = helper.make_tensor_value_info
    nodes = [helper.make_node("ReduceMean", ["x"], ["w_mean"], axes=[3], keepdims=1),
             helper.make_node("Identity", ["w_mean"], ["w_mean_id"]),
             helper.make_node("ReduceMean", ["w_mean_id"], ["pooled"], axes=[2], keepdims=1),
             helper.make_node("ReduceMean", ["x"], ["rows"], axes=[3], keepdims=1),          # W only: kept
             helper.make_node("ReduceMean", ["x"], ["w2"], axes=[3], keepdims=1),
             helper.make_node("ReduceMean", ["w2"], ["pooled2"], axes=[2], keepdims=1),
             helper.make_node("Relu", ["w2"], ["w2_read"])]                                   # w2 read twice: kept
    graph = helper.make_graph(nodes, "g", [value("x", TensorProto.FLOAT, [2, 3, 5, 7])],
                              [value(name, TensorProto.FLOAT, None) for name in ("pooled", "rows", "pooled2",
                                                                                 "w2_read")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    source, rewritten = tmp_path / "two_step.onnx", tmp_path / "gap.onnx"
    onnx.save(model, str(source))
    assert global_average_pools(model) == 1
    onnx.save(model, str(rewritten))
    kinds = [node.op_type for node in model.graph.node]
    assert kinds.count("GlobalAveragePool") == 1 and kinds.count("ReduceMean") == 3 and "Identity" not in kinds
    x = np.random.RandomState(0).uniform(-3, 3, (2, 3, 5, 7)).astype(np.float32)
    before = OnnxEngine(source).session.run(None, {"x": x})
    after = OnnxEngine(rewritten).session.run(None, {"x": x})
    for old, new in zip(before, after):
        np.testing.assert_allclose(new, old, rtol=1e-6, atol=1e-6)

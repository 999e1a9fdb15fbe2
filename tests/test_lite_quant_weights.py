"""paddle_pp/lite/quant_weights.py: the program rewrite that lets opt's `--quant` store the BiLSTM's matrices and the
depthwise convolutions' weights as integers, its effect on the `.nb` files, and the x86 simulation of those weights.

The `.nb` tests need the Paddle-Lite venv (`paddle-pp lite setup`, which CI runs) and skip without it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fixtures

paddle = pytest.importorskip("paddle")
onnx = pytest.importorskip("onnx")

from paddle_pp.lite import quant_weights  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SLIM = ROOT / "paddle_pp" / "models" / "slim"


@pytest.fixture(scope="module")
def lite_venv():
    from paddle_pp.engine.lite import ensure_lite_venv

    try:
        return ensure_lite_venv()
    except (RuntimeError, FileNotFoundError) as exc:
        pytest.skip(f"no Paddle-Lite venv: {exc}")


def opt(legacy: Path, out_stem: Path, *extra: str) -> Path:
    from paddle_pp.engine.lite import lite_opt

    proc = subprocess.run([str(lite_opt()), f"--model_file={legacy / 'inference.pdmodel'}",
                           f"--param_file={legacy / 'inference.pdiparams'}", "--optimize_out_type=naive_buffer",
                           f"--optimize_out={out_stem}", *extra], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out_stem.with_name(out_stem.name + ".nb")


@pytest.mark.parametrize("model, inputs", [
    ("rec_en", lambda: [fixtures.to_rec_batch(fixtures.text_lines()[:1], 320),
                        fixtures.to_rec_batch(fixtures.text_lines()[1:2], 960)]),
    ("cls", lambda: [fixtures.to_cls_batch(fixtures.text_lines()[:1])]),
])
def test_the_rerouted_program_computes_what_it_did_on_the_lite_runtime(model, inputs, models_dir, lite_venv,
                                                                      tmp_path):
    """The recognizer's LSTM matrices read from lookup tables, the classifier's depthwise convolutions as conv2d:
    Paddle-Lite's own runtime (x86, float) gives exactly the outputs of the program as exported."""
    from paddle_pp.engine.lite import LiteEngine
    from paddle_pp.lite.export_lite import export_legacy_batch1, source_dir

    legacy = export_legacy_batch1(source_dir("cls" if model == "cls" else "rec", None, False,
                                             "en" if model == "rec_en" else None), tmp_path / "legacy")
    counts = quant_weights.prepare_program(legacy, tmp_path / "rerouted", depthwise=True)
    assert counts == ({"rnn_matrices": 8, "depthwise_convs": 11} if model == "rec_en"
                      else {"rnn_matrices": 0, "depthwise_convs": 11})
    assert (tmp_path / "rerouted" / "config.yml").read_text() == (legacy / "config.yml").read_text()
    plain = LiteEngine(opt(legacy, tmp_path / "plain", "--valid_targets=x86"))
    rerouted = LiteEngine(opt(tmp_path / "rerouted", tmp_path / "rerouted_nb", "--valid_targets=x86"))
    try:
        for batch in inputs():
            np.testing.assert_array_equal(rerouted(batch), plain(batch))
    finally:
        plain.close()
        rerouted.close()


def _rnn_matrices(legacy: Path, out: Path) -> dict:
    """The rnn op's weight matrices of a legacy program (in a child process: the legacy IR), saved to `out`."""
    code = ("import sys, numpy as np, paddle; paddle.enable_static(); exe = paddle.static.Executor(paddle.CPUPlace());"
            "p, _, _ = paddle.static.load_inference_model(sys.argv[1] + '/inference', exe);"
            "s = paddle.static.global_scope(); op = [o for o in p.global_block().ops if o.type == 'rnn'][0];"
            "w = op.input('WeightList'); np.savez(sys.argv[2], **{n: np.array(s.find_var(n).get_tensor())"
            " for n in w[:len(w) // 2]})")
    env = dict(os.environ, FLAGS_enable_pir_api="0")
    proc = subprocess.run([sys.executable, "-c", code, str(legacy), str(out)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return dict(np.load(out))


def test_int8_nb_stores_the_lstm_and_depthwise_weights_as_integers(models_dir, lite_venv, tmp_path):
    """The slim English system under 2 MB: every LSTM matrix is in rec.nb as opt's int8 table (W^T per column,
    i.e. per gate row of W) with its float32 scales, byte for byte; the detector's and classifier's depthwise
    convolutions are stored int8 as their configs allow; the recognizer's are not (its accuracy does not hold)."""
    out = tmp_path / "slim_en"
    proc = subprocess.run([sys.executable, "-m", "paddle_pp.lite.export_lite", "--out", str(out), "--slim", "--lang",
                           "en", "--quant", "int8"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((out / "lite_manifest.json").read_text())
    rerouted = {name: model["rerouted_for_quant"] for name, model in manifest["models"].items()}
    assert rerouted == {"det": {"rnn_matrices": 0, "depthwise_convs": 15},
                        "cls": {"rnn_matrices": 0, "depthwise_convs": 11},
                        "rec": {"rnn_matrices": 8, "depthwise_convs": 0}}
    assert manifest["models"]["rec"]["bytes"] < 0.9e6 and manifest["total_bytes"] < 2.0e6  # docs/deploy.md, Sizes
    nb = (out / "rec.nb").read_bytes()
    matrices = _rnn_matrices(SLIM / "rec_en", tmp_path / "matrices.npz")
    assert len(matrices) == 8
    for name, weight in matrices.items():
        table = np.ascontiguousarray(weight.T, dtype=np.float32)           # [inputs, 4 x hidden]
        scale = (np.abs(table).max(axis=0) / np.float32(127)).astype(np.float32)
        ratio = table / scale                                              # float32, as opt divides
        ints = (np.sign(ratio) * np.floor(np.abs(ratio) + 0.5)).astype(np.int8)
        assert nb.find(ints.tobytes()) >= 0, name
        assert nb.find(scale.tobytes()) >= 0, name


def test_a_program_that_cannot_be_read_is_one_line_naming_it(tmp_path):
    (tmp_path / "inference.pdmodel").write_bytes(b"not a program")
    (tmp_path / "inference.pdiparams").write_bytes(b"")
    with pytest.raises(RuntimeError, match=r"cannot prepare the program for weight quantization \(ValueError: ") as err:
        quant_weights.prepare_program(tmp_path, tmp_path / "out", depthwise=False)
    assert str(tmp_path) in str(err.value) and "Traceback" not in str(err.value) and "\n" not in str(err.value)


def test_quant_is_refused_for_x86_where_the_runtime_cannot_run_it(models_dir, lite_venv, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "paddle_pp.lite.export_lite", "--out", str(tmp_path / "out"),
                           "--valid_targets", "x86", "--quant", "int8"], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "x86 runtime does not run weight-quantized models" in proc.stderr


# ---------------------------------------------------------------- simulate

def _tiny_onnx(path: Path) -> None:
    """Conv (groups 1, weights an initializer), depthwise Conv (weights a Constant node), LSTM."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    conv_w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    dw_w = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    lstm_w = rng.standard_normal((2, 8, 4)).astype(np.float32)
    lstm_r = rng.standard_normal((2, 8, 2)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "conv_w"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Constant", [], ["dw_w"], value=numpy_helper.from_array(dw_w, "dw_value")),
        helper.make_node("Conv", ["c1", "dw_w"], ["c2"], group=4, pads=[1, 1, 1, 1]),
        helper.make_node("ReduceMean", ["c2"], ["seq_in"], axes=[2], keepdims=0),    # [N, 4, W]
        helper.make_node("Transpose", ["seq_in"], ["seq"], perm=[2, 0, 1]),        # [W, N, 4]
        helper.make_node("LSTM", ["seq", "lstm_w", "lstm_r"], ["y"], hidden_size=2, direction="bidirectional"),
    ]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(conv_w, "conv_w"), numpy_helper.from_array(lstm_w, "lstm_w"),
                               numpy_helper.from_array(lstm_r, "lstm_r")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def _weights(path: Path) -> dict:
    from onnx import numpy_helper

    model = onnx.load(str(path))
    found = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            found[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return found


@pytest.mark.parametrize("allowed", [False, True])
def test_simulate_rounds_what_opt_stores_as_the_config_allows(tmp_path, allowed):
    model = tmp_path / "model"
    model.mkdir()
    _tiny_onnx(model / "model.onnx")
    (model / "config.yml").write_text(f"Slim:\n  lite_int8_depthwise: {str(allowed).lower()}\n")
    counts = quant_weights.simulate(model, tmp_path / "sim")
    assert counts == {"convs": 1, "depthwise_convs": int(allowed), "lstm_matrices": 4}
    before, after = _weights(model / "model.onnx"), _weights(tmp_path / "sim" / "model.onnx")
    for name in ("conv_w", "lstm_w", "lstm_r") + (("dw_w",) if allowed else ()):
        # rows: a conv's output channels; an LSTM's gate rows, per direction
        rows = after[name].reshape(-1, after[name].shape[-1]) if name.startswith("lstm") else \
            after[name].reshape(after[name].shape[0], -1)
        originals = before[name].reshape(rows.shape)
        assert not np.array_equal(rows, originals), name
        for row, original in zip(rows, originals):
            scale = np.abs(original).max() / 127
            np.testing.assert_allclose(row / scale, np.round(row / scale), atol=1e-3)   # on the row's int8 grid
            np.testing.assert_allclose(row, original, atol=scale / 2 + 1e-7)          # the nearest point of it
    if not allowed:
        np.testing.assert_array_equal(after["dw_w"], before["dw_w"])
    again = quant_weights.simulate(tmp_path / "sim", tmp_path / "sim2")   # on the grid already: nothing moves
    assert again == counts
    for name, value in _weights(tmp_path / "sim2" / "model.onnx").items():
        np.testing.assert_array_equal(value, after[name])


def test_on_grid_is_opts_per_row_int8_grid():
    weight = np.array([[0.5, -1.0, 0.25], [3.0, 1.5, -0.0001]], dtype=np.float32)
    rounded = quant_weights.on_grid(weight)
    for row, out in zip(weight, rounded):
        scale = np.abs(row).max() / 127
        np.testing.assert_allclose(out / scale, np.round(out / scale), atol=1e-4)   # integers times the row's scale
        assert np.abs(out).max() == pytest.approx(np.abs(row).max())
    assert quant_weights.on_grid(np.zeros((2, 3), np.float32)).tolist() == [[0.0] * 3] * 2

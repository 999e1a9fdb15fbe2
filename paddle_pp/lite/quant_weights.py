"""Which weights Paddle-Lite's weight-only quantization (`paddle-pp lite export --quant int8|int16`) stores as
integers, how a program is prepared so that it stores more of them, and what that does to accuracy.

opt 2.13-rc (its post_quant_dynamic pass) quantizes the weights of `conv2d`, `mul` and `lookup_table` ops only; the
runtime turns them back into float32 when it loads the model (LightPredictor::DequantizeWeight). Two kinds of weights
would stay float32, and are routed through those ops before opt runs (`prepare_program`):

- **The recognizer's BiLSTM** (one `rnn` op), half of the English recognizer's `.nb`. Each weight matrix W
  [4 x hidden, inputs] becomes the table of a `lookup_table` op that reads every row back, stored transposed (W^T:
  opt scales a lookup table per column, so per gate row of W), and a `transpose2` hands W to the `rnn` op at run
  time. Paddle-Lite's rnn kernels read their weights on every run, so the program computes exactly what it did.
- **Depthwise convolutions**, where the model's config says its accuracy holds (`Slim.lite_int8_depthwise`):
  `depthwise_conv2d` becomes `conv2d` with the same groups, which Paddle-Lite runs with the same kernel (its conv
  picks the depthwise implementation when groups == channels), and whose weights opt then stores per output channel.

`simulate` puts the same weights of a model directory's `model.onnx` on opt's integer grid (per channel or gate row,
abs-max / (2^(bits-1) - 1), rounded half away from zero), so the `.nb`'s accuracy can be measured on x86 with the
evaluation tools: Paddle-Lite's x86 runtime does not run weight-quantized models.

    paddle-pp lite simulate --model_dir paddle_pp/models/slim/rec_en --out output/rec_en_nb
    python deploy/eval_rec.py --label_file train_data/rec_sroie_val.txt --rec_model_dir output/rec_en_nb \\
        --engine onnx --precision fp32
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

LEGACY_PREFIX = "inference"          # inference.pdmodel + inference.pdiparams
ONNX_MODEL = "model.onnx"
NONE_REROUTED = {"rnn_matrices": 0, "depthwise_convs": 0}   # what prepare_program counts, for a program left as it is
TABLE, ROWS, LOOKED_UP, RUNTIME, XSHAPE = ".int_table", ".table_rows", ".looked_up", ".runtime", ".xshape"


def int8_depthwise(config_path: Path) -> bool:
    """Whether a model's config lets opt store its depthwise convolutions' weights as integers
    (Slim.lite_int8_depthwise; default no: measured per model, docs/results.md)."""
    from paddle_pp.config import load_config

    if not config_path.is_file():
        return False
    return bool((load_config(str(config_path)).get("Slim") or {}).get("lite_int8_depthwise"))


def may_reroute(legacy_dir: Path, depthwise: bool) -> bool:
    """Whether prepare_program may find something to reroute: every op's type is in the program's bytes, so a program
    without "rnn" (nor, with `depthwise`, "depthwise_conv2d") has nothing, and needs no child process."""
    program = (legacy_dir / f"{LEGACY_PREFIX}.pdmodel").read_bytes()
    return b"rnn" in program or (depthwise and b"depthwise_conv2d" in program)


def prepare_program(legacy_dir: Path, out_dir: Path, depthwise: bool) -> Dict[str, int]:
    """A copy of the legacy export in `legacy_dir` whose BiLSTM matrices (and, with `depthwise`, depthwise
    convolutions) opt's weight-only quantization stores as integers, written to `out_dir` with the directory's other
    files (config.yml, the dictionary). Runs in a child process (the legacy IR is chosen when paddle is imported).
    Returns how many weights were rerouted: {"rnn_matrices": n, "depthwise_convs": m}."""
    env = dict(os.environ, FLAGS_enable_pir_api="0")
    cmd = [sys.executable, "-m", "paddle_pp.lite.quant_weights", "--_prepare", str(legacy_dir), str(out_dir),
           "1" if depthwise else "0"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:   # the child's exception line: what went wrong, without the traceback
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()] or ["no message"]
        errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception)\b", line)]
        raise RuntimeError(f"{legacy_dir}: cannot prepare the program for weight quantization "
                           f"({(errors or lines)[-1]})")
    counts = proc.stdout.strip().splitlines()[-1].split()
    return {"rnn_matrices": int(counts[0]), "depthwise_convs": int(counts[1])}


def _prepare_child(legacy_dir: str, out_dir: str, depthwise: bool) -> int:
    import numpy as np
    import paddle

    paddle.enable_static()
    place = paddle.CPUPlace()
    exe = paddle.static.Executor(place)
    scope = paddle.static.global_scope()
    program, feed_names, fetch_vars = paddle.static.load_inference_model(str(Path(legacy_dir) / LEGACY_PREFIX), exe)
    block = program.global_block()
    matrices = 0
    for op in [op for op in block.ops if op.type == "rnn"]:
        weights = op.input("WeightList")
        at = list(block.ops).index(op)
        for name in weights[: len(weights) // 2]:    # [weights..., biases...]; biases are small, they stay float
            weight = np.array(scope.find_var(name).get_tensor())
            _reroute_matrix(block, scope, place, name, weight, at)
            op._rename_input(name, name + RUNTIME)
            at += 2
            matrices += 1
    convs = 0
    if depthwise:
        for op in block.ops:
            if op.type == "depthwise_conv2d":
                op.desc.set_type("conv2d")   # the same attributes; Paddle-Lite runs both with one kernel
                convs += 1
    program._sync_with_cpp()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    paddle.static.save_inference_model(str(Path(out_dir) / LEGACY_PREFIX), [block.var(n) for n in feed_names],
                                       fetch_vars, exe, program=program)
    for path in Path(legacy_dir).iterdir():   # config.yml, the dictionary, ...: what the export reads next to it
        if path.is_file() and not path.name.startswith(LEGACY_PREFIX + "."):
            shutil.copyfile(path, Path(out_dir) / path.name)
    print(matrices, convs)
    return 0


def _reroute_matrix(block: Any, scope: Any, place: Any, name: str, weight: Any, at: int) -> None:
    """Insert, before op index `at`, `lookup_table(W^T, every row) -> transpose2 -> NAME.runtime` (= W)."""
    import numpy as np

    rows, cols = weight.shape
    block.create_var(name=name + TABLE, shape=[cols, rows], dtype="float32", persistable=True)
    block.create_var(name=name + ROWS, shape=[cols, 1], dtype="int64", persistable=True)
    block.create_var(name=name + LOOKED_UP, shape=[cols, rows], dtype="float32")
    block.create_var(name=name + RUNTIME, shape=[rows, cols], dtype="float32")
    block.create_var(name=name + XSHAPE, shape=[0, cols, rows], dtype="float32")
    scope.var(name + TABLE).get_tensor().set(np.ascontiguousarray(weight.T, dtype=np.float32), place)
    scope.var(name + ROWS).get_tensor().set(np.arange(cols, dtype=np.int64).reshape(-1, 1), place)
    block._insert_op(at, type="lookup_table", inputs={"W": [name + TABLE], "Ids": [name + ROWS]},
                     outputs={"Out": [name + LOOKED_UP]},
                     attrs={"padding_idx": -1, "is_sparse": False, "is_distributed": False, "remote_prefetch": False})
    block._insert_op(at + 1, type="transpose2", inputs={"X": [name + LOOKED_UP]},
                     outputs={"Out": [name + RUNTIME], "XShape": [name + XSHAPE]}, attrs={"axis": [1, 0]})


# ---------------------------------------------------------------- the same weights, simulated in model.onnx

def on_grid(weight: Any, bits: int = 8) -> Any:
    """`weight` (rows first) as opt stores and the runtime restores it: per row, abs-max / (2^(bits-1) - 1), rounded
    half away from zero; float32 (slim.quant.int8_grid's rule, at `bits`)."""
    import numpy as np

    from paddle_pp.slim.int8_onnx import quantize_dequantize

    values = np.asarray(weight, dtype=np.float64)
    return quantize_dequantize(values, np.abs(values).reshape(values.shape[0], -1).max(axis=1), axis=0, bits=bits)


def simulate(model_dir: Path, out_dir: Path, depthwise: Optional[bool] = None, bits: int = 8) -> Dict[str, int]:
    """A copy of `model_dir` (config.yml + model.onnx) whose model.onnx computes what its `.nb` from `paddle-pp lite
    export --quant` computes: the weights opt stores as integers (every float conv2d's, the LSTM matrices', and the
    depthwise convolutions' where allowed: `depthwise`, default the model's Slim.lite_int8_depthwise) on their grid.
    Returns how many were rounded."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    if depthwise is None:
        depthwise = int8_depthwise(model_dir / "config.yml")
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in model_dir.iterdir():   # the ONNX graph is rewritten below; int8 files and programs are not used
        if path.is_file() and path.suffix in (".yml", ".txt", ".json"):
            shutil.copyfile(path, out_dir / path.name)
    model = onnx.load(str(model_dir / ONNX_MODEL))
    tensors = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:   # the exporter writes some weights as Constant nodes
        if node.op_type == "Constant":
            tensors.update({node.output[0]: a.t for a in node.attribute if a.name == "value"})
    counts = {"convs": 0, "depthwise_convs": 0, "lstm_matrices": 0}

    def round_tensor(name: str, rounded: Any) -> None:
        tensors[name].CopyFrom(numpy_helper.from_array(rounded, tensors[name].name))

    for node in model.graph.node:
        if node.op_type == "Conv" and node.input[1] in tensors:
            weight = numpy_helper.to_array(tensors[node.input[1]])
            group = next((a.i for a in node.attribute if a.name == "group"), 1)
            is_depthwise = group > 1 and group == weight.shape[0] and weight.shape[1] == 1
            if group == 1 or (is_depthwise and depthwise):
                round_tensor(node.input[1], on_grid(weight, bits))
                counts["depthwise_convs" if is_depthwise else "convs"] += 1
        elif node.op_type == "LSTM":
            for name in node.input[1:3]:   # W and R: [directions, 4 x hidden, inputs], per gate row
                weight = numpy_helper.to_array(tensors[name])
                round_tensor(name, np.stack([on_grid(direction, bits) for direction in weight]))
                counts["lstm_matrices"] += weight.shape[0]
    onnx.save(model, str(out_dir / ONNX_MODEL))
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True, help="a model directory with config.yml and model.onnx")
    parser.add_argument("--out", required=True, help="the simulated model directory to write")
    parser.add_argument("--depthwise", choices=("true", "false"), default=None,
                        help="round the depthwise convolutions too (default: the model's Slim.lite_int8_depthwise)")
    parser.add_argument("--bits", type=int, choices=(8, 16), default=8, help="--quant int8 or int16")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--_prepare"]:
        return _prepare_child(argv[1], argv[2], argv[3] == "1")
    args = build_parser().parse_args(argv)
    model_dir = Path(args.model_dir)
    if not (model_dir / ONNX_MODEL).is_file():
        print(f"error: {model_dir}: no {ONNX_MODEL} to simulate", file=sys.stderr)
        return 2
    depthwise = None if args.depthwise is None else args.depthwise == "true"
    counts = simulate(model_dir, Path(args.out), depthwise, args.bits)
    print(f"{args.out}: weights on the int{args.bits} grid of opt: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

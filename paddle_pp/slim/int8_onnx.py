"""x86: a PACT-quantized model directory -> `model.onnx` (its fake-quant graph) + `model_int8.onnx` (QDQ, int8 kernels).

    paddle-pp export_int8 --model_dir paddle_pp/models/slim/rec --calib_data train_data/rec_sroie_train.txt

slim/quant.py runs it on its output directory, calibrated on the first crops of the recipe's Train label file.

A PACT (quantization-aware trained) model is saved in the legacy format with fake quantize-dequantize ops, which
Paddle Inference runs in float32 three times slower than the float model, which paddle2onnx cannot convert, and which
Paddle Inference's oneDNN int8 passes (`enable_mkldnn_int8`) turn into int8 kernels that lose accuracy here (SROIE
rec_val 0.5063 -> 0.1755, and 0.4793 with only the convolutions in int8; docs/deploy.md). So the export:

1. strips the fake ops from the program (legacy IR, a child process): each weight is replaced by its quantized-
   dequantized value (channel-wise abs-max, as the QAT forward saw it), each activation scale the training learned
   (moving-average abs-max of the quantized layer's input) is recorded, in program order;
2. converts the stripped program with paddle2onnx (opset 13: per-channel DequantizeLinear);
3. `model.onnx`, the **fake-quant graph**: the activation quantizers put back in ONNX before each quantized
   Conv/MatMul: Clip(-s, s) -> QuantizeLinear(int8, step s/127) -> DequantizeLinear, which is Paddle's
   fake_quantize_dequantize_moving_average_abs_max (the Clip keeps -128 out: Paddle's grid is -127..127). It
   computes what the PACT program computes (99.95% of the recognizer's time steps take the same character, as
   many as between Paddle Inference with and without oneDNN; the same accuracy on every dev set) on onnxruntime's
   float kernels, about three times faster than Paddle Inference runs the program. The one difference is rounding
   at exact ties (Paddle rounds them away from zero, QuantizeLinear to even);
4. `model_int8.onnx`: BatchNorm folded into the convolutions (onnxruntime's pre-processing), QuantizeLinear/
   DequantizeLinear inserted with onnxruntime.quantization: the inputs of Conv/MatMul get the PACT scales exactly
   (uint8, zero point 128, step scale/127: Paddle's int8 grid), the weights per output channel (abs-max, the grid
   they are already on, so re-quantizing them is exact); tensors Paddle did not quantize but onnxruntime needs a
   range for to fuse QDQ into QLinearConv (the convolutions' outputs) are calibrated (min-max) on `calib_data`,
   crops run through the stage's own preprocessing. The LSTM, the layers QAT kept float (`Slim.skip_quant`: no
   scale was learned, so they are excluded from quantization) and everything else stay float. Those calibrated
   output ranges are what int8 loses accuracy to (docs/deploy.md).
   **Mixed precision**: only layers of at least `min_int8_macs` multiply-adds per image (at the config's
   `Inference.image_shape`) become int8 kernels. A smaller layer is faster in float on x86 than in int8 with the
   quantize/dequantize and layout changes around it, and its calibrated output range costs accuracy for nothing;
   it runs as a float layer on its quantized weights (its PACT input quantizer is dropped: the float layer reads
   the unquantized activation). And the two-step global average pools (mean over W, then H: bit parity with the
   official graphs, which the fake-quant graph keeps) become one GlobalAveragePool, which onnxruntime runs in
   its blocked layout.

onnxruntime fuses the QDQ pairs of `model_int8.onnx` into QLinearConv / QLinearMatMul at load time (`int8_ops` lists
them from the optimised graph); in `model.onnx` the weights are float, so nothing is fused (`OnnxEngine` turns off
the one optimiser that would quantize them itself). Nothing is downloaded: the files are written into the model
directory at export time.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from paddle_pp import model_dir as mdir

FAKE_ACTIVATION_OPS = ("fake_quantize_dequantize_moving_average_abs_max", "fake_quantize_dequantize_abs_max")
FAKE_WEIGHT_OPS = ("fake_channel_wise_quantize_dequantize_abs_max",)
QUANTIZED_PADDLE_OPS = ("conv2d", "depthwise_conv2d", "matmul_v2", "matmul", "mul")
QUANTIZED_ONNX_OPS = ("Conv", "MatMul", "Gemm")
INT8_KERNELS = ("QLinearConv", "QLinearMatMul", "MatMulIntegerToFloat", "ConvInteger", "MatMulInteger")
SCALES_FILE = "quant_scales.json"
# A Conv/MatMul becomes an int8 kernel in model_int8.onnx only from this many multiply-adds per input up (a model's
# Slim.min_int8_macs overrides it): smaller layers of these MobileNetV3s run as fast in float as in int8 with the
# quantize/dequantize pair and layout changes around them, and each int8 layer's calibrated output range costs
# accuracy (docs/deploy.md, "int8 on x86"). 0 makes every PACT layer int8.
MIN_INT8_MACS = 4_000_000
ONNX_OPSET = 13        # per-channel QuantizeLinear/DequantizeLinear need opset 13
UINT8_ZERO_POINT = 128  # uint8 with zero point 128 and step s/127 is Paddle's symmetric int8 grid (u8s8 is x86's fast path)


def is_fake_quant(directory: os.PathLike) -> bool:
    """True when the directory's legacy program holds fake quantize ops (a PACT / QAT export)."""
    program = Path(directory) / mdir.LEGACY_MODEL
    if not program.is_file():
        return False
    data = program.read_bytes()
    return any(name.encode() in data for name in FAKE_WEIGHT_OPS + FAKE_ACTIVATION_OPS)


# ------------------------------------------------------------------------------------- 1. strip (legacy IR)

def _round_half_away(values: np.ndarray) -> np.ndarray:
    """Paddle's fake quantize ops round ties away from zero (their round_type 1); numpy rounds them to even."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def quantize_dequantize(weight: np.ndarray, scale: np.ndarray, axis: int, bits: int) -> np.ndarray:
    """Channel-wise abs-max fake quantization, as Paddle's op computes it."""
    shape = [1] * weight.ndim
    shape[axis] = -1
    scale = np.maximum(scale.reshape(shape).astype(np.float64), 1e-12)
    qmax = 2 ** (bits - 1) - 1
    return (np.clip(_round_half_away(weight / scale * qmax), -qmax, qmax) * scale / qmax).astype(np.float32)


def strip_fake_quant(model_dir: os.PathLike, out_dir: os.PathLike) -> List[Dict[str, Any]]:
    """Write the float-equivalent legacy program of a fake-quant model into `out_dir`; return, per quantized op in
    program order, {op, input, scale, weight_shape}. Needs the legacy IR (FLAGS_enable_pir_api=0)."""
    import paddle

    paddle.enable_static()
    with paddle.pir_utils.OldIrGuard():
        exe = paddle.static.Executor(paddle.CPUPlace())
        scope = paddle.static.global_scope()
        program, feeds, fetches = paddle.static.load_inference_model(
            str(Path(model_dir) / mdir.INFERENCE_PREFIX), exe)
        block = program.global_block()
        renamed: Dict[str, str] = {}
        activation_scales: Dict[str, float] = {}
        for index in reversed(range(len(block.ops))):
            op = block.ops[index]
            if op.type not in FAKE_ACTIVATION_OPS + FAKE_WEIGHT_OPS:
                continue
            source, target = op.input("X")[0], op.output("Out")[0]
            scale = np.array(scope.find_var(op.output("OutScale")[0]).get_tensor())
            if op.type in FAKE_WEIGHT_OPS:
                tensor = scope.find_var(source).get_tensor()
                tensor.set(quantize_dequantize(np.array(tensor), scale, op.attr("quant_axis"),
                                                op.attr("bit_length")), paddle.CPUPlace())
            else:
                if op.attr("bit_length") != 8:
                    raise ValueError(f"{model_dir}: {op.attr('bit_length')}-bit activations; only 8 bits map to int8")
                activation_scales[source] = float(scale.reshape(-1)[0])
            renamed[target] = source
            block._remove_op(index)
        records = []
        for op in block.ops:
            for name in op.input_arg_names:
                if name in renamed:
                    op._rename_input(name, renamed[name])
            if op.type in QUANTIZED_PADDLE_OPS:
                data = op.input("Input" if op.type.endswith("conv2d") else "X")[0]
                weight = op.input("Filter" if op.type.endswith("conv2d") else "Y")[0]
                if not block.var(weight).persistable:
                    continue  # an activation times an activation: no weights, never quantized
                # scale None: a layer QAT kept float (Slim.skip_quant); it stays float in the QDQ model too
                records.append({"op": op.type, "input": data, "scale": activation_scales.get(data),
                                "weight_shape": list(block.var(weight).shape)})
        program._sync_with_cpp()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paddle.static.save_inference_model(str(out_dir / mdir.INFERENCE_PREFIX), [block.var(n) for n in feeds],
                                           fetches, exe, program=program)
    quantized = [r for r in records if r["scale"] is not None]
    if len(quantized) != len(activation_scales):
        raise ValueError(f"{model_dir}: {len(activation_scales)} quantized activations but {len(quantized)} of them "
                         f"feed a conv/matmul; cannot map the scales")
    (out_dir / SCALES_FILE).write_text(json.dumps(records, indent=1), encoding="utf-8")
    return records


def strip_in_subprocess(model_dir: os.PathLike, out_dir: os.PathLike) -> List[Dict[str, Any]]:
    """`strip_fake_quant` in a child process with the legacy IR (chosen when paddle is imported)."""
    env = dict(os.environ, FLAGS_enable_pir_api="0")
    proc = subprocess.run([sys.executable, "-m", "paddle_pp.slim.int8_onnx", "--_strip", str(model_dir), str(out_dir)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"stripping the fake quantize ops of {model_dir} failed:\n{tail}")
    return json.loads((Path(out_dir) / SCALES_FILE).read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------- 3. the fake-quant graph, 4. QDQ

def paired_nodes(onnx_file: os.PathLike, records: Sequence[Dict[str, Any]]) -> List[Tuple[Any, Dict[str, Any]]]:
    """(ONNX Conv/MatMul node with weights, its Paddle record) pairs. Paddle's program order and the ONNX node order
    are both topological and these layers form one chain, so the k-th node is the k-th record; its weight shape is
    checked to be sure."""
    import onnx

    model = onnx.load(str(onnx_file))
    weights = {init.name: tuple(init.dims) for init in model.graph.initializer}
    nodes = [node for node in model.graph.node if node.op_type in QUANTIZED_ONNX_OPS and node.input[1] in weights]
    if len(nodes) != len(records):
        raise ValueError(f"{onnx_file}: {len(nodes)} Conv/MatMul nodes with weights, {len(records)} in the Paddle "
                         f"program")
    for node, record in zip(nodes, records):
        shape = weights[node.input[1]]
        if sorted(shape) != sorted(record["weight_shape"]):
            raise ValueError(f"{onnx_file}: node {node.name} has weight shape {list(shape)}, the Paddle op "
                             f"{record['op']} on {record['input']} {record['weight_shape']}")
    return list(zip(nodes, records))


def fake_quant_graph(float_onnx: os.PathLike, records: Sequence[Dict[str, Any]], save_file: os.PathLike) -> Path:
    """`float_onnx` (the stripped program) with Paddle's activation quantizers put back before each quantized
    Conv/MatMul input: Clip(-s, s) -> QuantizeLinear(int8, zero point 0, step s/127) -> DequantizeLinear. Layers that
    read one tensor with the same scale share one quantizer; each layer keeps its own scale otherwise."""
    import onnx

    model = onnx.load(str(float_onnx))
    graph = model.graph
    # keyed by output tensor: unique in an ONNX graph, where node names need not be
    scale_of = {node.output[0]: record["scale"] for node, record in paired_nodes(float_onnx, records)
                if record["scale"] is not None}
    quantized: Dict[Tuple[str, float], str] = {}
    nodes = []
    for node in graph.node:
        if node.output and node.output[0] in scale_of:
            key = (node.input[0], scale_of[node.output[0]])
            if key not in quantized:
                nodes += _fake_quant_nodes(graph, key[0], key[1], suffix=len(quantized))
                quantized[key] = nodes[-1].output[0]
            node.input[0] = quantized[key]
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    save_file = Path(save_file)
    onnx.save(model, str(save_file))
    return save_file


def _fake_quant_nodes(graph, tensor: str, scale: float, suffix: int) -> List[Any]:
    """Clip -> QuantizeLinear -> DequantizeLinear of `tensor` on Paddle's symmetric int8 grid (-127..127, step
    scale/127), their constants added to `graph`; `suffix` keeps the names of several quantizers apart."""
    from onnx import helper, numpy_helper

    prefix = f"{tensor}.fake_quant{suffix}"
    names = {key: f"{prefix}.{key}" for key in ("low", "high", "step", "zero", "clipped", "int8", "out")}
    for key, value in (("low", np.float32(-scale)), ("high", np.float32(scale)), ("step", np.float32(scale / 127.0)),
                       ("zero", np.int8(0))):
        graph.initializer.append(numpy_helper.from_array(np.array(value), names[key]))
    return [helper.make_node("Clip", [tensor, names["low"], names["high"]], [names["clipped"]],
                             name=f"{prefix}.clip"),
            helper.make_node("QuantizeLinear", [names["clipped"], names["step"], names["zero"]], [names["int8"]],
                             name=f"{prefix}.quantize"),
            helper.make_node("DequantizeLinear", [names["int8"], names["step"], names["zero"]], [names["out"]],
                             name=f"{prefix}.dequantize")]


def activation_overrides(pairs: Sequence[Tuple[Any, Dict[str, Any]]]) -> Dict[str, List[Dict]]:
    """TensorQuantOverrides giving each quantized Conv/MatMul input its PACT scale."""
    return {node.input[0]: [{"scale": np.array(record["scale"] / 127.0, dtype=np.float32),
                             "zero_point": np.array(UINT8_ZERO_POINT, dtype=np.uint8)}]
            for node, record in pairs if record["scale"] is not None}


def _consumers(model) -> Dict[str, List[Any]]:
    found: Dict[str, List[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def calibrated_output_ranges(qdq_file: os.PathLike) -> Dict[str, tuple]:
    """{Conv output: (rmin, rmax)} as the calibration set them in a QDQ model (its QuantizeLinear after each Conv)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(qdq_file))
    constants = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    consumers = _consumers(model)
    ranges = {}
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        for quantize in consumers.get(node.output[0], []):
            if quantize.op_type == "QuantizeLinear":
                scale, zero = float(constants[quantize.input[1]]), int(constants[quantize.input[2]])
                ranges[node.output[0]] = (-zero * scale, (255 - zero) * scale)
    return ranges


def _next_quantizer_bound(users: Sequence[Any], overrides: Dict[str, List[Dict]]) -> Optional[float]:
    """The clip value s of the PACT quantizers a tensor goes to, when it goes to nothing else."""
    if users and all(u.op_type in QUANTIZED_ONNX_OPS and u.input[0] in overrides for u in users):
        return min(float(overrides[u.input[0]][0]["scale"]) * 127.0 for u in users)
    return None


def tightened_output_ranges(float_onnx: os.PathLike, calibrated: Dict[str, tuple],
                            overrides: Dict[str, List[Dict]]) -> Dict[str, List[Dict]]:
    """Narrower ranges for the convolutions' outputs where what follows makes the tails irrelevant, so the int8
    steps are finer with nothing lost (calibrated min-max ranges are wide: PACT never clipped these tensors):
    - HardSigmoid only (the SE gates): it saturates beyond +-beta/alpha;
    - hard-swish (x * HardSigmoid(x)): it is 0 below -beta/alpha, so the lower bound stops there (cutting the upper
      bound at the next PACT scale too, which should be exact, measured much worse: SROIE rec_val acc 0.25);
    - Relu whose output only feeds quantized inputs (PACT scale s): [0, s], the next quantizer clips at s anyway."""
    import onnx

    model = onnx.load(str(float_onnx))
    consumers = _consumers(model)
    result: Dict[str, List[Dict]] = {}
    for name, (low, high) in calibrated.items():
        after = consumers.get(name, [])
        kinds = sorted(node.op_type for node in after)
        sigmoid = next((node for node in after if node.op_type == "HardSigmoid"), None)
        if sigmoid is not None:
            attrs = {a.name: a.f for a in sigmoid.attribute}
            knee = attrs.get("beta", 0.5) / attrs.get("alpha", 0.2)
            if kinds == ["HardSigmoid"]:
                low, high = max(low, -knee), min(high, knee)
            elif kinds == ["HardSigmoid", "Mul"] and name in after[0].input and name in after[1].input:
                low = max(low, -knee)
        elif kinds == ["Relu"]:
            bound = _next_quantizer_bound(consumers.get(after[0].output[0], []), overrides)
            if bound is not None:
                low, high = 0.0, min(high, bound)
        if (low, high) != calibrated[name]:
            result[name] = [{"rmin": np.array(low, dtype=np.float32), "rmax": np.array(high, dtype=np.float32)}]
    return result


def layer_macs(onnx_file: os.PathLike, input_shape: Sequence[int]) -> Dict[str, int]:
    """{output of a Conv/MatMul/Gemm with weights: its multiply-adds for one input of shape `input_shape` (C, H, W)};
    a layer whose output shape cannot be inferred is left out."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(onnx_file))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for dim, value in zip(dims, [1, *input_shape]):
        dim.Clear()
        dim.dim_value = int(value)
    model = shape_inference.infer_shapes(model)
    shapes = {info.name: [d.dim_value for d in info.type.tensor_type.shape.dim]
              for info in list(model.graph.value_info) + list(model.graph.output)}
    weights = {init.name: list(init.dims) for init in model.graph.initializer}
    macs: Dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type not in QUANTIZED_ONNX_OPS or node.input[1] not in weights:
            continue
        out = shapes.get(node.output[0])
        if not out or not all(out):
            continue
        # a convolution: every weight once per output pixel; a matmul: once per row of its output
        positions = out[2:] if node.op_type == "Conv" else out[:-1]
        macs[node.output[0]] = int(np.prod(weights[node.input[1]])) * int(np.prod(positions))
    return macs


def float_nodes(pairs: Sequence[Tuple[Any, Dict[str, Any]]], macs: Optional[Dict[str, int]] = None,
                min_macs: int = 0) -> List[str]:
    """The nodes that stay float in the QDQ model: layers QAT kept float, and those with fewer than `min_macs`
    multiply-adds (`macs`, by output; a layer of unknown size is quantized)."""
    macs = macs or {}
    return [node.name for node, record in pairs
            if record["scale"] is None or macs.get(node.output[0], min_macs) < min_macs]


def _reduce_axes(node, constants: Dict[str, np.ndarray]) -> Optional[List[int]]:
    for attr in node.attribute:
        if attr.name == "axes":
            return list(attr.ints)
    if len(node.input) > 1 and node.input[1] in constants:
        return [int(a) for a in constants[node.input[1]].reshape(-1)]
    return None


def _keeps_dims(node) -> bool:
    return all(attr.i != 0 for attr in node.attribute if attr.name == "keepdims")


def global_average_pools(model) -> int:
    """Replace each ReduceMean over W followed by a ReduceMean over H (keeping dims; through Identity nodes) by one
    GlobalAveragePool, in place; return how many. The same mean, summed in another order."""
    from onnx import helper, numpy_helper

    graph = model.graph
    outputs = {out.name for out in graph.output}
    alias = {}
    for node in graph.node:
        if node.op_type == "Identity" and node.output[0] not in outputs:
            alias[node.output[0]] = alias.get(node.input[0], node.input[0])
    nodes = [node for node in graph.node if not (node.op_type == "Identity" and node.output[0] in alias)]
    for node in nodes:
        for k, name in enumerate(node.input):
            node.input[k] = alias.get(name, name)
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    users: Dict[str, List[Any]] = {}
    for node in nodes:
        for name in node.input:
            users.setdefault(name, []).append(node)
    replaced: Dict[int, Any] = {}
    dropped = set()
    for node in nodes:
        if node.op_type != "ReduceMean" or _reduce_axes(node, constants) not in ([3], [-1]) or not _keeps_dims(node):
            continue
        after = users.get(node.output[0], [])
        if (len(after) == 1 and after[0].op_type == "ReduceMean" and _keeps_dims(after[0])
                and _reduce_axes(after[0], constants) in ([2], [-2])):
            dropped.add(id(after[0]))
            replaced[id(node)] = helper.make_node("GlobalAveragePool", [node.input[0]], [after[0].output[0]],
                                                  name=f"{node.name}.global_average_pool")
    del graph.node[:]
    graph.node.extend(replaced.get(id(node), node) for node in nodes if id(node) not in dropped)
    return len(replaced)


class _Batches:
    """onnxruntime's CalibrationDataReader over a list of input batches."""

    def __init__(self, input_name: str, batches: Sequence[np.ndarray]) -> None:
        self._items: Iterator[Dict[str, np.ndarray]] = iter([{input_name: b} for b in batches])

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        return next(self._items, None)


def quantize_qdq(float_onnx: os.PathLike, records: Sequence[Dict[str, Any]], batches: Sequence[np.ndarray],
                 save_file: os.PathLike, min_macs: int = MIN_INT8_MACS) -> Path:
    """`float_onnx` -> QDQ model: PACT scales on the inputs of the Conv/MatMul layers of at least `min_macs`
    multiply-adds per input (`batches[0]`'s shape), per-channel int8 weights, the other ranges onnxruntime needs
    calibrated on `batches`; global average pools in one op."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    save_file = Path(save_file)
    with tempfile.TemporaryDirectory() as tmp:
        folded = Path(tmp) / "folded.onnx"
        quant_pre_process(str(float_onnx), str(folded), skip_symbolic_shape=True)
        input_name = onnx.load(str(folded)).graph.input[0].name
        pairs = paired_nodes(folded, records)
        macs = layer_macs(folded, batches[0].shape[1:]) if min_macs else {}
        keep_float = set(float_nodes(pairs, macs, min_macs))
        overrides = activation_overrides([(node, record) for node, record in pairs if node.name not in keep_float])
        partial = save_file.with_name(f".{save_file.name}.tmp")

        def quantize(tensor_overrides: Dict[str, List[Dict]]) -> None:
            quantize_static(str(folded), str(partial), _Batches(input_name, batches), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=list(QUANTIZED_ONNX_OPS), per_channel=True,
                            nodes_to_exclude=sorted(keep_float),
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax,  # measured: better than Percentile here
                            extra_options={"TensorQuantOverrides": tensor_overrides, "WeightSymmetric": True})

        quantize(overrides)  # calibrates the convolutions' outputs ...
        tightened = tightened_output_ranges(folded, calibrated_output_ranges(partial), overrides)
        if tightened:  # ... and again with the ranges the next ops make irrelevant cut off
            quantize({**overrides, **tightened})
        model = onnx.load(str(partial))
        global_average_pools(model)
        onnx.save(model, str(partial))
        os.replace(partial, save_file)
    return save_file


def int8_ops(onnx_file: os.PathLike) -> Dict[str, int]:
    """Count of the int8 kernels onnxruntime runs for `onnx_file` in `OnnxEngine`: its optimised graph, saved and read
    back."""
    import collections

    import onnx
    import onnxruntime as ort

    from paddle_pp.engine.base import DISABLED_OPTIMIZERS

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        options.log_severity_level = 3
        ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"],
                             disabled_optimizers=list(DISABLED_OPTIMIZERS))
        counts = collections.Counter(node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node)
    return {op: n for op, n in counts.items() if op in INT8_KERNELS}


# ------------------------------------------------------------------------------------- calibration batches

def calibration_batches(model_dir: os.PathLike, float_onnx: os.PathLike, calib_data: os.PathLike,
                        count: int = 64, data_dir: Optional[os.PathLike] = None) -> List[np.ndarray]:
    """The inputs the stage's own preprocessing makes of up to `count` crops: a label file (first column: image
    path, relative to `data_dir`, default the working directory) or a directory of crop images. The classifier
    also sees each crop turned 180 degrees (it is trained on both)."""
    from paddle_pp.engine import OnnxEngine
    from paddle_pp.ocr import build_stage
    from paddle_pp.utils.files import list_images
    from paddle_pp.utils.image_io import read_image
    from paddle_pp.utils.label_files import read_label_lines, skip_malformed

    calib_data = Path(calib_data)
    if calib_data.is_dir():
        paths = list(list_images(str(calib_data))[0])
    else:
        paths = [Path(data_dir or ".") / path
                 for _, path, _ in read_label_lines(str(calib_data), on_malformed=skip_malformed)]
    crops = [read_image(p) for p in paths[:count]]
    if not crops:
        raise ValueError(f"{calib_data}: no calibration images")
    stage = build_stage(mdir.read_config(model_dir)["Architecture"]["model_type"], model_dir, engine="paddle")
    recorded: List[np.ndarray] = []
    runner = OnnxEngine(float_onnx)

    def recording(batch: np.ndarray) -> np.ndarray:
        recorded.append(np.ascontiguousarray(batch, dtype=np.float32))
        return runner(batch)

    stage.engine = recording
    cfg = mdir.read_config(model_dir)
    if cfg["Architecture"]["model_type"] == "cls":
        crops += [np.ascontiguousarray(crop[::-1, ::-1]) for crop in crops]
    stage(crops)
    # onnxruntime's histogram calibration stacks the tensors of all calls: one item per call, all of the config's
    # input width (the pipeline's batches vary in size and width; zero padding on the right is what it pads with)
    width = int(cfg["Inference"]["image_shape"][2])
    items = []
    for batch in recorded:
        for item in batch:
            fixed = np.zeros(item.shape[:-1] + (width,), dtype=np.float32)
            fixed[..., :min(width, item.shape[-1])] = item[..., :width]
            items.append(fixed[None])
    return items


# ------------------------------------------------------------------------------------- the whole export

def _stripped_onnx(model_dir: Path, work_dir: Path) -> Tuple[List[Dict[str, Any]], Path]:
    """Steps 1-2: the program without its fake ops, as ONNX in `work_dir`, and the records of its quantized layers."""
    from paddle_pp.export import export_onnx

    mdir.validate(model_dir)
    if not is_fake_quant(model_dir):
        raise ValueError(f"{model_dir}: no fake quantize ops in {mdir.LEGACY_MODEL}; int8 export needs a PACT/QAT "
                         f"model (slim/quant.py)")
    stripped = work_dir / "float"
    records = strip_in_subprocess(model_dir, stripped)
    return records, export_onnx(stripped, stripped / mdir.ONNX_MODEL, opset=ONNX_OPSET)


def export_fake_quant(model_dir: os.PathLike) -> Path:
    """Write only `model.onnx`, the fake-quant graph (no calibration data needed)."""
    model_dir = Path(model_dir)
    with tempfile.TemporaryDirectory(dir=model_dir, prefix=".int8-") as tmp:
        records, float_onnx = _stripped_onnx(model_dir, Path(tmp))
        graph = fake_quant_graph(float_onnx, records, Path(tmp) / mdir.ONNX_MODEL)
        os.replace(graph, model_dir / mdir.ONNX_MODEL)
    return model_dir / mdir.ONNX_MODEL


def min_int8_macs(config: Dict[str, Any]) -> int:
    """A model config's Slim.min_int8_macs, or MIN_INT8_MACS."""
    value = (config.get("Slim") or {}).get("min_int8_macs")
    return MIN_INT8_MACS if value is None else int(value)


def export_int8(model_dir: os.PathLike, calib_data: os.PathLike, calib_count: int = 64,
                data_dir: Optional[os.PathLike] = None, min_macs: Optional[int] = None) -> Dict[str, Any]:
    """Write `model.onnx` (the fake-quant graph) and `model_int8.onnx` (QDQ; int8 kernels for the layers of at
    least `min_macs` multiply-adds per input, default the model's `min_int8_macs`) into a fake-quant model
    directory; return what was written and the int8 kernels onnxruntime makes of it."""
    model_dir = Path(model_dir)
    if min_macs is None:
        min_macs = min_int8_macs(mdir.read_config(model_dir))
    with tempfile.TemporaryDirectory(dir=model_dir, prefix=".int8-") as tmp:
        records, float_onnx = _stripped_onnx(model_dir, Path(tmp))
        graph = fake_quant_graph(float_onnx, records, Path(tmp) / mdir.ONNX_MODEL)
        batches = calibration_batches(model_dir, float_onnx, calib_data, calib_count, data_dir)
        int8_file = quantize_qdq(float_onnx, records, batches, Path(tmp) / mdir.INT8_ONNX_MODEL, min_macs)
        kernels = int8_ops(int8_file)
        if not kernels:
            raise RuntimeError(f"{model_dir}: onnxruntime made no int8 kernels of the QDQ model (no PACT layer has "
                               f"min_int8_macs = {min_macs} multiply-adds per input? lower Slim.min_int8_macs or "
                               f"--min_int8_macs)")
        os.replace(graph, model_dir / mdir.ONNX_MODEL)
        os.replace(int8_file, model_dir / mdir.INT8_ONNX_MODEL)
    return {"model_dir": str(model_dir), "quantized_layers": sum(r["scale"] is not None for r in records),
            "float_layers": sum(r["scale"] is None for r in records), "int8_kernels": kernels,
            "min_int8_macs": min_macs, "calibration_batches": len(batches)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", help="a PACT model directory (slim/quant.py output)")
    parser.add_argument("--calib_data", help="label file or directory of crops: ranges of the tensors PACT did not "
                        "quantize (the convolutions' outputs)")
    parser.add_argument("--calib_count", type=int, default=64, help="crops used for calibration")
    parser.add_argument("--min_int8_macs", type=int, default=None, help="layers with fewer multiply-adds per input "
                        f"stay float kernels (default: the model's Slim.min_int8_macs or {MIN_INT8_MACS}); 0: every "
                        "PACT layer int8")
    parser.add_argument("--data_dir", default=None, help="a label file's image paths are relative to this (default: .)")
    parser.add_argument("--no_int8", action="store_true", help="write only model.onnx, the fake-quant graph (no "
                        "calibration data needed)")
    parser.add_argument("--_strip", nargs=2, metavar=("MODEL_DIR", "OUT_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._strip:
        strip_fake_quant(*args._strip)
        return 0
    if args.model_dir and args.no_int8:
        print(json.dumps({"model_dir": args.model_dir, "written": str(export_fake_quant(args.model_dir))}))
        return 0
    if not (args.model_dir and args.calib_data):
        parser.error("--model_dir and --calib_data are required (or --model_dir and --no_int8)")
    if args.min_int8_macs is not None and args.min_int8_macs < 0:
        parser.error(f"argument --min_int8_macs: must be >= 0, got {args.min_int8_macs}")
    result = export_int8(args.model_dir, args.calib_data, args.calib_count, args.data_dir, args.min_int8_macs)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

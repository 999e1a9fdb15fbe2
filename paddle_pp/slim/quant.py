"""PACT quantization-aware training (PaddleOCR's deploy/slim/quantization, dygraph).

    python slim/quant.py -c configs/rec.yml [-o ...] [--save_dir DIR]

The model (Global.pretrained_model) gets fake-quantization around every Conv2D and Linear: 8-bit channel-wise
abs-max weights, 8-bit moving-average abs-max activations, with a PACT clip before each activation quantizer
(a learnable alpha per layer, initialised at 20, L2 decay 2e-5, clipping to [-alpha, alpha]). The rec model's
LSTM stays float. With ``Slim.pact_init.percentile`` each alpha starts instead at that percentile of |input| of its
layer in the float model (over ``Slim.pact_init.batches`` training batches): a clip at 20 leaves most layers of a
small MobileNetV3 an 8-bit step far coarser than their typical activations (input_percentiles). Layers whose
structural names match a pattern of ``Slim.skip_quant`` (fnmatch, e.g. ``backbone.blocks.*.bottleneck_conv``; a
match on a parent covers its sublayers) stay float, in the saved program and in the int8 files made from it.
With ``Architecture.name: DistillationModel`` the student is quantized and a frozen teacher (the float model) guides
it through the loss (CTCDistillLoss for the recognizer). It is then fine-tuned with the training loop
(``Slim.finetune``; ``-o Global.checkpoints=<save_dir>/finetune/latest`` resumes a stopped run), evaluated
(fake-quantized, in dygraph) and saved with quantize/dequantize ops in the legacy format (``inference.pdmodel`` +
``inference.pdiparams`` + config.yml), which paddle.inference runs (``--engine paddle``) and Paddle-Lite's opt turns
into an int8 .nb; the parameters file itself stays float32. paddle2onnx cannot convert it.

Post-training quantization (``Slim.post_training: true`` or ``--no_finetune``) skips the fine-tuning: the activation
scales are calibrated on ``Slim.calibration_batches`` training batches (calibrate_activation_scales), no gradient
step. With it, ``Slim.round_float_weights`` puts the weights of the convolutions kept float on the int8 grid that
Paddle-Lite's ``--quant int8`` stores them on, with bias correction (round_float_conv_weights), so the ARM .nb
computes what the program computes.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from paddle_pp.slim import common, compat
from paddle_pp.training.hooks import Hook

QUANT_CONFIG: Dict[str, Any] = {
    "weight_preprocess_type": None,
    "activation_preprocess_type": "PACT",
    "weight_quantize_type": "channel_wise_abs_max",
    "activation_quantize_type": "moving_average_abs_max",
    "weight_bits": 8,
    "activation_bits": 8,
    "dtype": "int8",
    "window_size": 10000,
    "moving_rate": 0.9,
    "quantizable_layer_type": ["Conv2D", "Linear"],
    "onnx_format": False,
}
PACT_ALPHA = 20.0
PACT_INIT_BATCHES = 16  # Slim.pact_init.batches when left out
CALIBRATION_BATCHES = 32  # Slim.calibration_batches when left out (post-training quantization)
PACT_DECAY = 2e-5


def _pact_class():
    import paddle

    class PACT(paddle.nn.Layer):
        """Clip to [-alpha, alpha] with a learnable alpha (PaddleOCR's PACT): x - relu(x - a) + relu(-a - x)."""

        def __init__(self):
            super().__init__()
            attr = paddle.ParamAttr(name=self.full_name() + ".pact",
                                    initializer=paddle.nn.initializer.Constant(value=PACT_ALPHA),
                                    learning_rate=1.0, regularizer=paddle.regularizer.L2Decay(PACT_DECAY))
            self.alpha = self.create_parameter(shape=[1], attr=attr, dtype="float32")

        def forward(self, x):
            out_left = paddle.nn.functional.relu(x - self.alpha)
            out_right = paddle.nn.functional.relu(-self.alpha - x)
            return x - out_left + out_right

    return PACT


def make_quanter(config: Optional[Dict[str, Any]] = None):
    compat.apply()
    from paddleslim import QAT

    return QAT(config=dict(QUANT_CONFIG, **(config or {})), act_preprocess=_pact_class())


def quantize(model, quanter=None):
    """Insert the fake-quant (and PACT) layers in place; returns the quanter (needed to save)."""
    quanter = quanter or make_quanter()
    quanter.quantize(model)
    return quanter


def run_batches(model, batches: Iterable[Any], pre_hooks: Sequence[Tuple[Any, Callable]] = (),
                train_mode: bool = False) -> int:
    """Run `batches` through `model` without gradients, with `pre_hooks` ((layer, forward pre-hook) pairs) attached
    for the run; returns how many ran. In eval mode, or with `train_mode` in train mode but with every batch norm in
    eval mode (what moving-average quantizers need to update their scales); the model's mode is restored after."""
    import paddle

    handles = [layer.register_forward_pre_hook(hook) for layer, hook in pre_hooks]
    was_training = model.training
    if train_mode:
        model.train()
        for layer in model.sublayers(include_self=True):
            if isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
                layer.eval()
    else:
        model.eval()
    count = 0
    try:
        with paddle.no_grad():
            for images in batches:
                model(images)
                count += 1
    finally:
        for handle in handles:
            handle.remove()
        model.train() if was_training else model.eval()
    return count


def input_percentiles(model, batches: Iterable[Any], percentile: float) -> Dict[str, float]:
    """{layer name: mean over batches of the `percentile` of |input|} for every Conv2D and Linear of the float
    model, in eval mode (running BN statistics, as the QAT run uses with freeze_bn)."""
    import numpy as np

    samples: Dict[str, List[float]] = {}

    def record(name):
        def pre_hook(layer, inputs):
            values = np.abs(inputs[0].numpy()).ravel()
            samples.setdefault(name, []).append(float(np.percentile(values, percentile)))
        return pre_hook

    run_batches(model, batches, [(layer, record(name)) for name, layer in model.named_sublayers()
                                 if type(layer).__name__ in QUANT_CONFIG["quantizable_layer_type"]])
    return {name: sum(values) / len(values) for name, values in samples.items()}


def set_pact_alphas(model, alphas: Dict[str, float]) -> int:
    """Set each quantized layer's PACT alpha from {original layer name: value}; returns how many were set."""
    import paddle

    count = 0
    for name, layer in model.named_sublayers():
        pact = getattr(layer, "_act_preprocess", None)
        original = name[:-len("._layer")] if name.endswith("._layer") else name
        if pact is not None and original in alphas:
            pact.alpha.set_value(paddle.to_tensor([max(float(alphas[original]), 1e-3)], dtype="float32"))
            count += 1
    return count


def matches_layer(name: str, patterns: Sequence[str]) -> bool:
    """True when a structural layer name, or one of its parents' names, matches an fnmatch pattern."""
    from fnmatch import fnmatchcase

    parts = name.split(".")
    return any(fnmatchcase(".".join(parts[:end]), pattern)
               for end in range(1, len(parts) + 1) for pattern in patterns)


def mark_skipped(model, patterns: Sequence[str]) -> List[str]:
    """Set `skip_quant` (which paddleslim's QAT honours) on every quantizable layer whose name, or a parent's,
    matches one of `patterns`; returns the names marked."""
    marked = []
    for name, layer in model.named_sublayers():
        if type(layer).__name__ in QUANT_CONFIG["quantizable_layer_type"] and matches_layer(name, patterns):
            layer.skip_quant = True
            marked.append(name)
    return marked


def int8_grid(weight) -> "np.ndarray":
    """Conv weights (a tensor or an array, output channels first) as Paddle-Lite opt's dynamic int8 quantization
    (`--quant int8`, post_quant_dynamic) stores them: per output channel, abs-max / 127, rounded half away from
    zero. Returned dequantized, float32 on that grid, so opt's own rounding of them changes nothing."""
    import numpy as np

    from paddle_pp.slim.int8_onnx import quantize_dequantize   # the channel-wise abs-max grid QAT's weights use

    values = np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight, dtype=np.float64)
    return quantize_dequantize(values, np.abs(values).reshape(values.shape[0], -1).max(axis=1), axis=0, bits=8)


def round_float_conv_weights(model, patterns: Sequence[str], batches: Iterable[Any]) -> List[str]:
    """Put the weights of the convolutions kept float (`patterns`, as Slim.skip_quant; depthwise ones excluded:
    opt leaves depthwise_conv2d float unless the model's Slim.lite_int8_depthwise reroutes them, lite/quant_weights.py)
    on the int8 grid Paddle-Lite's `--quant int8` stores them on, so the
    program, the ONNX files and the ARM .nb compute the same thing, and correct what the rounding shifts (bias
    correction, Nagel et al. 2019): each layer's mean output change over `batches`, E[conv(x; W_int8 - W)] per
    channel with the float model's inputs, goes into the running mean of the batch norm after it (or its bias).
    Returns the layers rounded."""
    import paddle
    import paddle.nn.functional as F

    layers = {name: layer for name, layer in model.named_sublayers()
              if isinstance(layer, paddle.nn.Conv2D) and layer._groups == 1 and matches_layer(name, patterns)}
    rounded = {name: paddle.to_tensor(int8_grid(layer.weight)) for name, layer in layers.items()}
    shift: Dict[str, Any] = {}

    def record(name):
        def pre_hook(layer, inputs):
            delta = F.conv2d(inputs[0], rounded[name] - layer.weight, stride=layer._stride, padding=layer._padding,
                             dilation=layer._dilation, groups=layer._groups, data_format=layer._data_format)
            mean = delta.mean(axis=[0, 2, 3])
            shift[name] = shift.get(name, 0) + mean
        return pre_hook

    count = run_batches(model, batches, [(layer, record(name)) for name, layer in layers.items()])
    sublayers = dict(model.named_sublayers())
    with paddle.no_grad():
        for name, layer in layers.items():
            layer.weight.set_value(rounded[name])
            if name not in shift:
                continue
            error = shift[name] / count
            parent = sublayers.get(name.rsplit(".", 1)[0]) if "." in name else None
            norm = getattr(parent, "bn", None)
            if isinstance(norm, paddle.nn.layer.norm._BatchNormBase) and getattr(parent, "conv", None) is layer:
                norm._mean.set_value(norm._mean + error)   # BN subtracts it again
            elif layer.bias is not None:
                layer.bias.set_value(layer.bias - error)
    return sorted(layers)


def calibration_images(loader, batches: int) -> List[Any]:
    """The first `batches` image tensors of a training loader."""
    from paddle_pp.training.trainer import to_tensors

    images = []
    for batch in loader:
        images.append(to_tensors(batch)["image"])
        if len(images) >= batches:
            break
    return images


def calibrate_activation_scales(model, batches: Iterable[Any]) -> int:
    """Post-training quantization: the activation quantizers' scales from `batches`, without a gradient step.
    paddleslim's moving-average abs-max quantizers learn their scale only in train-mode forward passes and start
    at 0.001, which quantizes every activation to almost nothing; so the batches run in train mode under no_grad,
    with every batch norm in eval mode (the float model's running statistics stay as they were). Returns the
    number of batches run."""
    return run_batches(model, batches, train_mode=True)


def quantized_layers(model) -> Dict[str, str]:
    """{original structural layer name: class} of the layers QAT replaced (QuantizedConv2D, QuantizedLinear).
    QAT wraps each one, so the quantized model's names gain a `._layer` (backbone.conv1.conv._layer.weight)."""
    out = {}
    for name, layer in model.named_sublayers():
        if type(layer).__name__.startswith("Quantized"):
            out[name[:-len("._layer")] if name.endswith("._layer") else name] = type(layer).__name__
    return out


def save_quantized(quanter, model, config: Dict[str, Any], save_dir: Path) -> Path:
    """The legacy inference model with quantize/dequantize ops, plus config.yml (and the dictionary)."""
    from paddle.static import InputSpec

    from paddle_pp import model_dir
    from paddle_pp.export import input_spec_shape

    model.eval()
    spec = [InputSpec(input_spec_shape(config), "float32", "x")]
    try:
        model_dir.save_inference(save_dir, lambda prefix: quanter.save_quantized_model(model, prefix,
                                                                                        input_spec=spec))
    finally:
        compat.leave_static_mode()
    cfg = common.clean_config(config)
    cfg["Global"]["pretrained_model"] = None  # no dygraph weights: the model is the exported program
    model_dir.write_config(save_dir, cfg, model_dir.source_dir_of(config))
    return save_dir


class QuantAwareTraining(Hook):
    """Plugs QAT into the trainer: at build, after the pre-trained weights are loaded and before the optimizer
    exists, ``before_quantize(trainer)`` measures the float model (optional) and the inference model gets its
    fake-quant and PACT layers, so the trainer builds the optimizer over the quantized model's parameters (the
    PACT alphas included)."""

    def __init__(self, before_quantize: Optional[Callable[[Any], None]] = None,
                 config: Optional[Dict[str, Any]] = None, pact_init: Optional[Dict[str, Any]] = None,
                 skip_quant: Sequence[str] = (), round_float_weights: bool = False,
                 calibration_batches: int = CALIBRATION_BATCHES) -> None:
        self.before_quantize = before_quantize
        self.config = config
        self.pact_init = dict(pact_init or {})
        self.skip_quant = list(skip_quant or [])
        self.round_float_weights = round_float_weights
        self.calibration_batches = calibration_batches
        self.quanter = None

    def on_build(self, trainer) -> None:
        if self.before_quantize is not None:
            self.before_quantize(trainer)
        model = trainer.inference_model
        if self.round_float_weights:
            if not self.skip_quant:
                raise ValueError("Slim.round_float_weights needs Slim.skip_quant: it rounds the layers kept float")
            images = calibration_images(trainer.train_loader, self.calibration_batches)
            rounded = round_float_conv_weights(model, self.skip_quant, images)
            common.log(f"weights of {len(rounded)} float convolutions on the int8 grid (Slim.round_float_weights), "
                       f"bias-corrected on {len(images)} training batches")
        percentile = self.pact_init.get("percentile")
        alphas = None
        if percentile is not None:
            images = calibration_images(trainer.train_loader, int(self.pact_init.get("batches") or PACT_INIT_BATCHES))
            alphas = input_percentiles(model, images, float(percentile))
        if self.skip_quant:
            marked = mark_skipped(model, self.skip_quant)
            if not marked:
                raise ValueError(f"Slim.skip_quant {self.skip_quant} matches no Conv2D or Linear layer")
            common.log(f"kept float (Slim.skip_quant): {len(marked)} layers")
        self.quanter = quantize(model, make_quanter(self.config))
        if alphas is not None:
            # Every rank measures its own batches; DataParallel then broadcasts rank 0's parameters.
            count = set_pact_alphas(model, alphas)
            common.log(f"PACT alphas from the float model's p{percentile} of |input| ({count} layers, "
                       f"{min(alphas.values()):.2f} .. {max(alphas.values()):.2f})")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = common.base_parser(__doc__).parse_args(argv)
    from paddle_pp.config import load_tool_config
    from paddle_pp.modeling.distillation import inference_config
    from paddle_pp.training import Trainer

    config = load_tool_config(args.config, args.opt)
    model_config = inference_config(config)   # what is measured and saved: the model, or a distilled student
    slim = common.slim_settings(config)
    post_training = bool(args.no_finetune or slim.get("post_training"))
    if slim.get("round_float_weights") and not (post_training and slim.get("skip_quant")):
        print(f"error: {args.config}: Slim.round_float_weights needs Slim.post_training (fine-tuning would move "
              f"the weights off the grid) and Slim.skip_quant (the layers it rounds)", file=sys.stderr)
        raise SystemExit(2)
    save_dir = Path(args.save_dir) if args.save_dir else common.default_save_dir(config, "quant")
    save_dir.mkdir(parents=True, exist_ok=True)
    latency_runs = int(common.pick(args.latency_runs, slim, "latency_runs", 20))
    eval_batches = common.pick(args.eval_max_batches, slim, "eval_max_batches", None)
    shape = common.measure_shape(config)
    measured: Dict[str, Any] = {}

    def measure_float(trainer) -> None:
        if trainer.resuming:  # the float model is measured (and calibrated) first; the checkpoint loads after QAT
            trainer.load_pretrained()
        model = trainer.inference_model
        model.eval()
        original = common.write_weights_dir(model, model_config, save_dir / "original")
        common.export_legacy(original)
        before_metric = common.main_metric(trainer, common.evaluate_model(trainer, max_batches=eval_batches))
        measured["before"] = common.measure(model, model_config, original, before_metric, latency_runs)
        common.log(f"before: {measured['before']}")

    calibration_batches = int(slim.get("calibration_batches") or CALIBRATION_BATCHES)
    hook = QuantAwareTraining(before_quantize=measure_float, pact_init=slim.get("pact_init"),
                              skip_quant=slim.get("skip_quant") or (),
                              round_float_weights=bool(slim.get("round_float_weights")),
                              calibration_batches=calibration_batches)
    resume = config["Global"].get("checkpoints")  # a stopped QAT run's checkpoint: <save_dir>/finetune/latest
    trainer = Trainer(common.finetune_config(config, save_dir, resume=resume), hooks=[hook])
    model = trainer.inference_model
    metric_name = trainer.main_indicator
    before = measured["before"]
    params, flops = before["parameters"], before["flops"]  # quantization changes neither
    common.log(f"quantized {len(quantized_layers(model))} layers (Conv2D, Linear; PACT on their inputs)")
    if post_training:
        count = calibrate_activation_scales(model, calibration_images(trainer.train_loader, calibration_batches))
        common.log(f"post-training quantization: activation scales calibrated on {count} training batches, "
                   f"no fine-tuning")
    else:
        common.finetune(trainer)
    model.eval()
    after_metric = common.main_metric(trainer, common.evaluate_model(trainer, max_batches=eval_batches))
    save_quantized(hook.quanter, model, model_config, save_dir)
    after = common.measure(model, model_config, save_dir, after_metric, latency_runs, flops=flops)
    after["parameters"] = params
    table = common.format_table(before, after, metric_name)
    common.write_report(save_dir, {"kind": "quant", "before": before, "after": after, "quant_config": QUANT_CONFIG,
                                   "skip_quant": slim.get("skip_quant") or [],
                                   "method": "post-training" if post_training else "QAT",
                                   "round_float_weights": bool(slim.get("round_float_weights")),
                                   "pact": {"alpha_init": slim.get("pact_init") or PACT_ALPHA,
                                            "l2_decay": PACT_DECAY},
                                   "input_shape": shape})
    export_int8_beside(save_dir, config)
    common.finish(save_dir, table, args.publish, "quantized")
    return 0


def export_int8_beside(save_dir: Path, config: Dict[str, Any]) -> None:
    """model.onnx + model_int8.onnx for x86 (slim/int8_onnx.py), calibrated on the recipe's first Train label file;
    a failure is reported, not raised: the quantized model is saved already and the export can be run again."""
    from paddle_pp.slim.int8_onnx import export_int8

    dataset = config.get("Train", {}).get("dataset", {})
    labels = (dataset.get("label_file_list") or [None])[0]
    if not labels:
        common.log("no Train label file: run `paddle-pp export_int8` for the x86 int8 model")
        return
    try:
        result = export_int8(save_dir, labels, data_dir=dataset.get("data_dir"))
        common.log(f"x86 int8: {result['int8_kernels']} (model_int8.onnx)")
    except Exception as exc:  # noqa: BLE001 - reported with the command that retries it
        common.log(f"x86 int8 export failed ({type(exc).__name__}: {exc}); retry with `paddle-pp export_int8 "
                   f"--model_dir {save_dir} --calib_data {labels}`")


if __name__ == "__main__":
    common.run_main(main)

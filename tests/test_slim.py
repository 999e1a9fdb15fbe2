"""slim/: FPGM pruning with sensitivity and PACT quantization-aware training, on tiny models and data.

The sensitivity file is written with structural names and reused, ratios respect the skip list and the drop
threshold, a pruned model's shapes are consistent (it trains, is rebuilt from its directory and exports in both
formats, and paddle.inference agrees with dygraph), QAT inserts quantizers (the LSTM stays float) and the
quantized export runs in paddle.inference."""
import json
import os

import numpy as np
import paddle
import pytest

from paddle_pp.config import load_config, save_config
from paddle_pp.slim import common
from paddle_pp.slim import prune as P
from paddle_pp.slim import quant as Q

os.environ.setdefault("OMP_NUM_THREADS", "1")


def tiny_cls_config(tmp_path, slim=None, **global_overrides):
    """configs/cls.yml on 6 rendered lines (random init), batches of 3, with a Slim section."""
    from data_samples import write_cls_dataset

    data = tmp_path / "clsdata"
    if not (data / "label.txt").exists():
        write_cls_dataset(data, name="label.txt")
    cfg = load_config("cls")
    cfg["Global"].update(pretrained_model=None, epoch_num=1, print_batch_step=1, save_model_dir=str(tmp_path / "out"),
                         eval_batch_step=None, progress_bar=False, max_steps=2)
    cfg["Global"].update(global_overrides)
    for mode in ("Train", "Eval"):
        cfg[mode]["dataset"].update(data_dir=str(data), label_file_list=[str(data / "label.txt")])
        cfg[mode]["loader"].update(batch_size_per_card=3, num_workers=0)
    # min_int8_macs as configs/slim/cls_pact.yml: the classifier's layers are all below the default
    cfg["Slim"] = dict({"latency_runs": 2, "eval_max_batches": 1, "min_int8_macs": 1_000_000}, **(slim or {}))
    cfg["Global"].pop("config_path", None)
    path = tmp_path / "tiny_cls.yml"
    save_config(cfg, path)
    return path


def test_ratios_follow_the_threshold_and_skip_list():
    sens = {"a": {0.1: 0.0, 0.2: 0.01, 0.3: 0.03, 0.4: 0.2},
            "b": {0.1: 0.05, 0.2: 0.1},             # even 10% costs more than 2%: not pruned
            "c": {0.1: -0.01, 0.2: 0.0, 0.3: 0.0}}  # never hurts: the largest ratio measured
    ratios = P.ratios_by_loss(sens, 0.02)
    assert set(ratios) == {"a", "c"}
    assert ratios["a"] == pytest.approx(0.25)  # interpolated between (0.2, 0.01) and (0.3, 0.03)
    assert ratios["c"] == 0.3
    assert P.ratios_by_loss(sens, 0.0)["a"] == 0.1
    # Prefixes match whole name components; the threshold branch is always skipped.
    assert P.is_skipped("backbone.conv1.conv", ["backbone.conv1"])
    assert not P.is_skipped("backbone.conv10.conv", ["backbone.conv1"])
    assert P.is_skipped("head.thresh.conv1", [])
    assert not P.is_skipped("head.binarize.conv1", [])


def test_det_pruning_skips_threshold_branch_and_rebuilds(tmp_path):
    """The detector: the threshold branch and transposed convs are never prunable, yet the threshold branch's
    input follows a pruned producer; the training forward still works; the record rebuilds the model."""
    from paddle_pp.modeling.architecture import build_model
    from paddle_pp.weights import apply_pruned_shapes

    cfg = load_config("det")
    paddle.seed(0)
    model = build_model(cfg)
    model.eval()
    pruner = P.make_pruner(model, [1, 3, 64, 64])
    layers = P.prunable_layers(model, pruner, ["backbone.conv"])
    assert layers and not any(n.startswith(("head.thresh.", "backbone.conv.")) for n in layers)
    assert not any(".conv2." in n or ".conv3." in n for n in layers if n.startswith("head."))  # transposed
    assert all(not name.startswith(("conv2d", "linear")) for name in layers)  # structural, not auto names
    # The neck is prunable too (compat: concat worker; traced with F.interpolate): the 96-channel FPN convs as
    # one group, and each p-conv whose output is one quarter of the concat the DB head reads.
    assert {"neck.in2_conv.weight", "neck.p2_conv.weight", "neck.p5_conv.weight"} <= set(layers)
    flops_before = common.count_flops(model, [1, 3, 64, 64])
    ratios = {n: 0.5 for n in layers}
    record = P.prune(model, pruner, layers, ratios)
    assert not [k for k in model.state_dict() if k.endswith("_backup")]
    params = dict(model.named_parameters())
    # Every layer chosen lost half its filters (rounded by paddleslim), BN follows its conv.
    fresh = dict(build_model(cfg).named_parameters())
    for name in layers:
        assert params[name].shape[0] < fresh[name].shape[0], name
    assert record["parameters"]["head.binarize.conv1.weight"][0] == fresh["head.binarize.conv1.weight"].shape[0] // 2
    assert "head.thresh.conv1.weight" not in record["parameters"] or \
        record["parameters"]["head.thresh.conv1.weight"][0] == fresh["head.thresh.conv1.weight"].shape[0]
    shapes = {n: list(p.shape) for n, p in model.named_parameters()}
    fpn = shapes["neck.in5_conv.weight"][0]
    assert fpn < 96 and all(shapes[f"neck.in{i}_conv.weight"][0] == fpn for i in (2, 3, 4))
    assert all(shapes[f"neck.p{i}_conv.weight"][1] == fpn for i in (2, 3, 4, 5))
    concat = sum(shapes[f"neck.p{i}_conv.weight"][0] for i in (2, 3, 4, 5))
    assert concat < 96 and shapes["head.binarize.conv1.weight"][1] == concat
    assert shapes["head.thresh.conv1.weight"][1] == concat  # follows its producers, its own filters are kept
    assert common.count_flops(model, [1, 3, 64, 64]) < 0.6 * flops_before
    x = paddle.randn([1, 3, 64, 64])
    model.train()
    maps = model(x)
    assert {k: list(v.shape) for k, v in maps.items()} == {k: [1, 1, 64, 64] for k in maps}
    model.eval()
    ref = model(x).numpy()
    rebuilt = build_model(cfg)
    apply_pruned_shapes(rebuilt, json.loads(json.dumps(record)))
    missing, unexpected = rebuilt.set_state_dict(model.state_dict())
    assert not missing and not unexpected
    rebuilt.eval()
    np.testing.assert_allclose(rebuilt(x).numpy(), ref, atol=1e-5)


def test_pruning_hook_prunes_the_distillation_student_before_the_optimizer(tmp_path):
    """slim/prune.py plugs in through a hook: with det_prune's DistillationModel it prunes the student only (the
    teacher stays whole), the trainer builds its optimizer over the pruned parameters, and every checkpoint gets
    the pruned-shape record beside it."""
    from paddle_pp.training import Trainer

    cfg = load_config("configs/slim/det_prune.yml")
    cfg["Global"].update(pretrained_model=None, checkpoints=None, save_model_dir=str(tmp_path / "run"))
    for sub in cfg["Architecture"]["Models"].values():
        sub.pop("pretrained", None)   # random weights: this is about shapes
    chosen = {"neck.p2_conv.weight": 0.5}
    hook = P.FilterPruning([1, 3, 64, 64], choose_ratios=lambda trainer, model, pruner, layers:
                           P.explicit_ratios(chosen, layers))
    batch = {"image": np.zeros((1, 3, 64, 64), np.float32)}
    trainer = Trainer(cfg, train_loader=[batch], build_eval_loader=False, hooks=[hook])
    student, teacher = trainer.model.sub_model("Student"), trainer.model.sub_model("Teacher")
    assert student is trainer.inference_model
    assert student.neck.p2_conv.weight.shape[0] == teacher.neck.p2_conv.weight.shape[0] // 2
    assert hook.record["parameters"]["neck.p2_conv.weight"][0] == student.neck.p2_conv.weight.shape[0]
    optimized = {id(p) for p in trainer.optimizer._parameter_list}
    assert id(student.neck.p2_conv.weight) in optimized and id(teacher.neck.p2_conv.weight) not in optimized
    prefix = trainer.save("latest")
    assert json.loads((tmp_path / "run" / "pruned_shapes.json").read_text()) == hook.record
    assert os.path.isfile(prefix + ".pdparams")


def test_prune_with_ratios_by_hand(tmp_path):
    """Slim.ratios: no sensitivity analysis, exactly those layers pruned; a misspelt or skipped name fails before
    any work, naming it."""
    chosen = {"backbone.blocks.0.expand_conv.conv.weight": 0.5, "backbone.conv2.conv.weight": 0.25}
    cfg_path = tiny_cls_config(tmp_path, slim={"ratios": chosen, "skip_layers": ["backbone.conv1"]})
    save_dir = tmp_path / "by_hand"
    assert P.main(["-c", str(cfg_path), "--save_dir", str(save_dir), "--no_finetune"]) == 0
    assert not (save_dir / "sensitivity.json").exists()
    report = json.loads((save_dir / "slim_report.json").read_text())
    assert report["ratios"] == chosen and report["ratios_by_hand"] and report["sen_file"] is None
    shapes = json.loads((save_dir / "pruned_shapes.json").read_text())["parameters"]
    from paddle_pp.modeling.architecture import build_model
    fresh = {n: p.shape[0] for n, p in build_model(load_config(cfg_path)).named_parameters()}
    for name, ratio in chosen.items():
        assert abs(shapes[name][0] - round(fresh[name] * (1 - ratio))) <= 1, name
    assert not any(name.startswith("backbone.conv1.") for name in shapes)
    for bad in ({"backbone.conv1.conv.weight": 0.5}, {"backbone.blocks.0.expand_conv.conv.weigth": 0.5}):
        cfg_path = tiny_cls_config(tmp_path / "bad", slim={"ratios": bad, "skip_layers": ["backbone.conv1"]})
        with pytest.raises(ValueError, match=next(iter(bad)).replace(".", r"\.")):
            P.main(["-c", str(cfg_path), "--save_dir", str(tmp_path / "never")])
        assert not (tmp_path / "never" / "original").exists()
    for out_of_range in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"in \[0, 1\)"):
            P.explicit_ratios({"a": out_of_range}, {"a": "conv2d_0.w_0"})
    # 0 undoes a ratio a base config set (configs merge key by key): the layer is left whole, not "pruned by 0".
    assert P.explicit_ratios({"a": 0.0, "b": 0.25}, {"a": "conv2d_0.w_0", "b": "conv2d_1.w_0"}) == {"b": 0.25}


def test_prune_cls_end_to_end(tmp_path, capsys):
    """prune.py on a tiny classifier: sensitivity of 4 layers x 2 ratios (first layer skipped by prefix),
    cached and reused; prune, 2 fine-tuning steps, evaluate, both exports, the table."""
    from paddle_pp.engine.paddle_inference import PaddleInferenceEngine
    from paddle_pp.weights import load_model_dir

    cfg_path = tiny_cls_config(tmp_path, slim={
        "skip_layers": ["backbone.conv1"], "sen_layers": ["backbone.conv1", "backbone.blocks.0", "backbone.conv2"],
        "sen_ratios": [0.3, 0.6], "max_drop": 0.02})
    save_dir = tmp_path / "pruned"
    assert P.main(["-c", str(cfg_path), "--save_dir", str(save_dir)]) == 0
    captured = capsys.readouterr()
    assert "| parameters |" in captured.out and "| FLOPs |" in captured.out and "latency ms" in captured.out
    assert "pruned, before fine-tuning: acc" in captured.err

    sen_file = save_dir / "sensitivity.json"
    sen = json.loads(sen_file.read_text())
    assert set(sen["sensitivities"]) == {"backbone.blocks.0.expand_conv.conv.weight",
                                         "backbone.blocks.0.mid_se.conv1.weight",
                                         "backbone.blocks.0.linear_conv.conv.weight", "backbone.conv2.conv.weight"}
    assert all(set(v) == {"0.30", "0.60"} for v in sen["sensitivities"].values())
    assert (save_dir / "sensitivity.png").stat().st_size > 1000
    report = json.loads((save_dir / "slim_report.json").read_text())
    expected = P.ratios_by_loss({n: {float(r): d for r, d in c.items()} for n, c in sen["sensitivities"].items()},
                                0.02)
    assert report["ratios"] == pytest.approx(expected)
    assert report["after"]["parameters"] <= report["before"]["parameters"]
    assert 0.0 <= report["metric_before_finetune"] <= 1.0

    # A second run reuses the file (no evaluation, no rewrite).
    mtime = sen_file.stat().st_mtime_ns
    assert P.main(["-c", str(cfg_path), "--save_dir", str(save_dir), "--sensitivity_only"]) == 0
    assert sen_file.stat().st_mtime_ns == mtime
    assert "reused" in capsys.readouterr().err

    # The model directory: rebuilt by load_model_dir, both exports agree with dygraph.
    for name in ("config.yml", "model.pdparams", "pruned_shapes.json", "inference.pdmodel", "inference.pdiparams",
                 "pir/inference.json", "pir/inference.pdiparams", "original/inference.pdmodel"):
        assert (save_dir / name).is_file(), name
    model = load_model_dir(save_dir)
    x = np.random.default_rng(0).standard_normal([2, 3, 48, 192]).astype("float32")
    ref = model(paddle.to_tensor(x)).numpy()
    assert ref.shape == (2, 2)
    for directory in (save_dir, save_dir / "pir"):
        got = PaddleInferenceEngine(directory, enable_mkldnn=False, cpu_threads=1, prefer_legacy=True)(x)
        np.testing.assert_allclose(got, ref, atol=1e-4)

    # The pruned model fine-tunes further like any model: the trainer rebuilds it from the record beside the
    # weights, its checkpoints carry the record (resume), and export_model writes a loadable pruned directory.
    from paddle_pp.tools import export_model
    from paddle_pp.training import Trainer

    more = load_config(cfg_path)
    more["Global"].update(pretrained_model=str(save_dir / "model"), save_model_dir=str(tmp_path / "more"))
    trainer = Trainer(more)
    assert {n: list(p.shape) for n, p in trainer.model.named_parameters()} == \
        {n: list(p.shape) for n, p in model.named_parameters()}
    trainer.train()
    assert (tmp_path / "more" / "pruned_shapes.json").is_file()
    resumed = load_config(cfg_path)
    resumed["Global"].update(checkpoints=str(tmp_path / "more" / "latest"), save_model_dir=str(tmp_path / "more2"),
                             max_steps=3, epoch_num=2)
    resumed_trainer = Trainer(resumed)
    assert resumed_trainer.global_step == 2
    assert resumed_trainer.train()["global_step"] == 3
    assert export_model.main(["-c", str(cfg_path), "-o", f"Global.pretrained_model={tmp_path / 'more2' / 'latest'}",
                              "--save_dir", str(tmp_path / "exported"), "--weights_only"]) == 0
    exported = load_model_dir(tmp_path / "exported")
    assert [p.shape for p in exported.parameters()] == [p.shape for p in model.parameters()]
    # An unpruned run in the same output directory drops the stale record (its checkpoints are not pruned).
    unpruned = load_config(cfg_path)
    unpruned["Global"].update(save_model_dir=str(tmp_path / "more"), overwrite=True)
    Trainer(unpruned).train()
    assert not (tmp_path / "more" / "pruned_shapes.json").exists()


def tiny_rec_model(seed: int):
    """configs/rec.yml's recognizer with a 40-class head, randomly initialised from `seed`, in eval mode."""
    from paddle_pp.modeling.architecture import build_model

    paddle.seed(seed)
    cfg = load_config("rec")
    cfg["Architecture"]["Head"]["out_channels"] = 40
    model = build_model(cfg)
    model.eval()
    return model


def test_qat_inserts_quantizers_and_keeps_the_lstm_float():
    from paddle_pp.modeling.architecture import build_model

    cfg = load_config("rec")
    cfg["Architecture"]["Head"]["out_channels"] = 40
    model = build_model(cfg)
    n_conv = sum(isinstance(l, paddle.nn.Conv2D) for l in model.sublayers())
    Q.quantize(model)
    layers = Q.quantized_layers(model)
    assert sum(v == "QuantizedConv2D" for v in layers.values()) == n_conv
    assert layers["head.fc"] == "QuantizedLinear"
    assert isinstance(model.neck.encoder.lstm, paddle.nn.LSTM)  # not quantized
    alphas = [p for n, p in model.named_parameters() if n.endswith("alpha")]
    assert len(alphas) == len(layers)
    assert all(float(a.numpy()[0]) == 20.0 for a in alphas)
    assert all(a.regularizer is not None and a.regularizer._coeff == pytest.approx(2e-5) for a in alphas)
    model.eval()
    assert list(model(paddle.randn([1, 3, 32, 64])).shape) == [1, 16, 40]


def test_pact_alphas_start_at_the_float_models_input_percentiles():
    """Slim.pact_init: each PACT clip starts at the percentile of |input| its layer saw in float, so a layer whose
    inputs stay within +-1 gets an 8-bit step of ~1/127, not 20/127; the clip then shapes the quantized output."""
    model = tiny_rec_model(3)
    images = [paddle.uniform([2, 3, 32, 64], min=-1.0, max=1.0) for _ in range(2)]
    first_conv = np.abs(np.concatenate([x.numpy().ravel() for x in images]))
    percentiles = Q.input_percentiles(model, images, 99.0)
    assert set(percentiles) == set(n for n, l in model.named_sublayers() if type(l).__name__ in ("Conv2D", "Linear"))
    assert percentiles["backbone.conv1.conv"] == pytest.approx(np.percentile(first_conv, 99.0), rel=0.02)
    assert percentiles["backbone.conv1.conv"] < 1.0 < Q.PACT_ALPHA
    Q.quantize(model)
    assert Q.set_pact_alphas(model, percentiles) == len(Q.quantized_layers(model))
    set_values = {n: float(p.numpy()[0]) for n, p in model.named_parameters() if n.endswith("alpha")}
    assert sorted(set_values.values()) == pytest.approx(sorted(max(v, 1e-3) for v in percentiles.values()))
    # The clip is active: an input beyond alpha reaches the first conv as alpha.
    pact = dict(model.named_sublayers())["backbone.conv1.conv._layer"]._act_preprocess  # QAT wraps the layer
    clipped = pact(paddle.to_tensor([[-5.0, 0.1, 5.0]])).numpy()[0]
    alpha = percentiles["backbone.conv1.conv"]
    assert clipped == pytest.approx([-alpha, 0.1, alpha], rel=1e-5)


def test_skip_quant_patterns_keep_matching_layers_float():
    from paddle_pp.modeling.architecture import build_model

    cfg = load_config("rec")
    cfg["Architecture"]["Head"]["out_channels"] = 40
    model = build_model(cfg)
    marked = Q.mark_skipped(model, ["backbone.blocks.*.bottleneck_conv"])
    depthwise = [n for n, l in model.named_sublayers() if isinstance(l, paddle.nn.Conv2D) and l._groups > 1]
    assert sorted(marked) == sorted(depthwise) and len(marked) >= 10
    Q.quantize(model)
    layers = Q.quantized_layers(model)
    assert not set(depthwise) & set(layers)
    assert "backbone.blocks.0.expand_conv.conv" in layers and "head.fc" in layers
    assert Q.mark_skipped(build_model(cfg), ["no.such.layer"]) == []


def test_post_training_calibration_sets_the_activation_scales_and_nothing_else():
    """Slim.post_training: the moving-average abs-max quantizers start at a scale of 0.001 and learn it only in
    train-mode forward passes; calibration runs the batches so, without gradients, and leaves every weight and
    batch-norm statistic as it was. Calibrated, the fake-quant model computes about what the float model does."""
    model = tiny_rec_model(5)
    images = [paddle.uniform([2, 3, 32, 64], min=-1.0, max=1.0) for _ in range(3)]
    reference = model(images[0]).numpy()
    Q.quantize(model)
    before = {n: p.numpy().copy() for n, p in model.state_dict().items() if "_scale" not in n
              and "_state" not in n and "_accum" not in n}
    scale = dict(model.named_sublayers())["backbone.conv1.conv._layer._fake_quant_input"]._scale
    assert float(scale.numpy()[0]) == pytest.approx(0.001)
    model.eval()
    uncalibrated = model(images[0]).numpy()
    assert Q.calibrate_activation_scales(model, images) == 3
    assert not model.training
    # the first conv reads the images: its scale is (a moving average of) their abs-max, clipped by PACT at 20
    assert 0.9 < float(scale.numpy()[0]) <= 1.0
    after = model.state_dict()
    assert all(np.array_equal(after[n].numpy(), v) for n, v in before.items())
    calibrated = model(images[0]).numpy()
    assert np.abs(calibrated - reference).max() < np.abs(uncalibrated - reference).max()
    assert np.abs(calibrated - reference).max() < 0.05


def test_float_convs_go_on_the_int8_grid_with_bias_correction():
    """Slim.round_float_weights: the matched convolutions' weights land on Paddle-Lite opt's per-channel int8 grid
    (rounding them again changes nothing, so `--quant int8` stores exactly them), depthwise ones stay as they were
    (opt leaves them float), and the batch norm after a rounded conv gets the mean shift back: on the batches, the
    first conv's normalized output has the float model's per-channel mean, which rounding alone moves."""
    import copy

    model = tiny_rec_model(11)
    images = [paddle.uniform([2, 3, 32, 64], min=0.0, max=1.0) for _ in range(2)]

    def first_bn_means(net):
        outputs = []
        handle = net.backbone.conv1.bn.register_forward_post_hook(lambda layer, inputs, out: outputs.append(out))
        with paddle.no_grad():
            for x in images:
                net(x)
        handle.remove()
        return paddle.concat(outputs).mean(axis=[0, 2, 3]).numpy()

    reference = first_bn_means(model)
    depthwise = {n: l.weight.numpy().copy() for n, l in model.named_sublayers()
                 if isinstance(l, paddle.nn.Conv2D) and l._groups > 1}
    uncorrected = copy.deepcopy(model)
    for name, layer in uncorrected.named_sublayers():
        if isinstance(layer, paddle.nn.Conv2D) and layer._groups == 1 and name.startswith("backbone"):
            layer.weight.set_value(Q.int8_grid(layer.weight))
    rounded = Q.round_float_conv_weights(model, ["backbone"], images)
    layers = dict(model.named_sublayers())
    assert "backbone.conv1.conv" in rounded and "head.fc" not in rounded and not set(depthwise) & set(rounded)
    for name in rounded:
        weight = layers[name].weight.numpy()
        assert np.allclose(Q.int8_grid(layers[name].weight), weight, rtol=1e-6, atol=0)
        assert len(np.unique(np.abs(weight[0]))) <= 128
    assert all(np.array_equal(layers[n].weight.numpy(), w) for n, w in depthwise.items())
    moved = np.abs(first_bn_means(uncorrected) - reference).max()
    assert moved > 1e-4
    assert np.abs(first_bn_means(model) - reference).max() < moved / 10


def test_quant_cls_end_to_end(tmp_path, capsys):
    """quant.py on a tiny classifier: QAT, 2 fine-tuning steps, legacy export with quantize ops that
    paddle.inference runs."""
    from paddle_pp.engine.paddle_inference import PaddleInferenceEngine

    cfg_path = tiny_cls_config(tmp_path)
    save_dir = tmp_path / "quant"
    assert Q.main(["-c", str(cfg_path), "--save_dir", str(save_dir)]) == 0
    assert "| parameters |" in capsys.readouterr().out
    program = (save_dir / "inference.pdmodel").read_bytes()
    assert b"quantize_dequantize" in program
    assert (save_dir / "config.yml").is_file()
    assert paddle.in_dynamic_mode()
    x = np.random.default_rng(0).standard_normal([2, 3, 48, 192]).astype("float32")
    out = PaddleInferenceEngine(save_dir, enable_mkldnn=False, cpu_threads=1)(x)
    assert out.shape == (2, 2) and np.allclose(out.sum(1), 1.0, atol=1e-4)
    # x86 int8 (slim/int8_onnx.py), calibrated on the recipe's Train crops: int8 kernels, the fake-quant outputs
    from paddle_pp.engine import OnnxEngine
    from paddle_pp.slim.int8_onnx import int8_ops

    assert int8_ops(save_dir / "model_int8.onnx").get("QLinearConv", 0) >= 1
    assert int8_ops(save_dir / "model.onnx") == {}
    int8 = OnnxEngine(save_dir / "model_int8.onnx")(x)
    assert int8.shape == out.shape and np.abs(int8 - out).max() < 0.1


def test_quant_with_skipped_layers_and_percentile_alphas_end_to_end(tmp_path, capsys):
    """Slim.skip_quant and Slim.pact_init through quant.py: the skipped layers have no fake-quant ops in the saved
    program, and the x86 int8 model, every PACT layer int8 (min_int8_macs 0), keeps exactly them float (one int8
    kernel fewer per skipped conv)."""
    from paddle_pp.modeling.architecture import build_model
    from paddle_pp.slim.int8_onnx import int8_ops

    cfg_path = tiny_cls_config(tmp_path, slim={"skip_quant": ["backbone.blocks.*.bottleneck_conv"],
                                               "pact_init": {"percentile": 99.9, "batches": 1},
                                               "min_int8_macs": 0})
    save_dir = tmp_path / "quant"
    assert Q.main(["-c", str(cfg_path), "--save_dir", str(save_dir)]) == 0
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "kept float (Slim.skip_quant): " in out and "PACT alphas from the float model's p99.9" in out
    report = json.loads((save_dir / "slim_report.json").read_text())
    assert report["skip_quant"] == ["backbone.blocks.*.bottleneck_conv"]
    model = build_model(load_config("cls"))
    depthwise = sum(isinstance(l, paddle.nn.Conv2D) and l._groups > 1 for l in model.sublayers())
    convs = sum(isinstance(l, paddle.nn.Conv2D) for l in model.sublayers())
    assert depthwise > 0
    assert int8_ops(save_dir / "model_int8.onnx").get("QLinearConv", 0) == convs - depthwise


def test_quant_post_training_end_to_end(tmp_path, capsys):
    """Slim.post_training through quant.py: no fine-tuning run, the scales calibrated on training batches, and the
    saved fake-quant program computes what the float model before it does (an uncalibrated one would not)."""
    from paddle_pp.engine.paddle_inference import PaddleInferenceEngine

    cfg_path = tiny_cls_config(tmp_path, slim={"post_training": True, "calibration_batches": 2,
                                               "pact_init": {"percentile": 100, "batches": 2},
                                               "skip_quant": ["backbone.conv1"], "round_float_weights": True})
    save_dir = tmp_path / "quant"
    assert Q.main(["-c", str(cfg_path), "--save_dir", str(save_dir)]) == 0
    captured = capsys.readouterr()
    assert "activation scales calibrated on 2 training batches" in captured.out + captured.err
    assert "weights of 1 float convolutions on the int8 grid" in captured.out + captured.err
    assert not list((save_dir / "finetune").glob("*.pdparams"))  # no training step, no checkpoint
    report = json.loads((save_dir / "slim_report.json").read_text())
    assert report["method"] == "post-training"
    assert report["after"]["metric"] == pytest.approx(report["before"]["metric"], abs=0.34)  # 1 of 3 lines
    x = np.random.default_rng(1).uniform(-1, 1, [2, 3, 48, 192]).astype("float32")
    quantized = PaddleInferenceEngine(save_dir, enable_mkldnn=False, cpu_threads=1)(x)
    original = PaddleInferenceEngine(save_dir / "original", enable_mkldnn=False, cpu_threads=1)(x)
    assert np.abs(quantized - original).max() < 0.05


def test_round_float_weights_needs_post_training_and_skip_quant(tmp_path, capsys):
    """Fine-tuning would move rounded weights off the grid, and without skip_quant nothing is kept float: both are
    a one-line error before any work."""
    for name, slim in (("qat", {"round_float_weights": True, "skip_quant": ["backbone.conv1"]}),
                       ("nothing_float", {"round_float_weights": True, "post_training": True})):
        (tmp_path / name).mkdir()
        cfg_path = tiny_cls_config(tmp_path / name, slim=slim)
        with pytest.raises(SystemExit) as exit_info:
            Q.main(["-c", str(cfg_path), "--save_dir", str(tmp_path / name / "quant")])
        assert exit_info.value.code == 2
        assert "Slim.round_float_weights needs Slim.post_training" in capsys.readouterr().err
        assert not (tmp_path / name / "quant").exists()


def tiny_rec_distill_config(tmp_path, **global_overrides):
    """configs/slim/rec_en_pact.yml (the QAT recipe: the float English recognizer teaches its PACT copy) on 6
    rendered lines, batches of 3."""
    from pathlib import Path

    from data_samples import write_rec_dataset

    import paddle_pp

    data = tmp_path / "recdata"
    if not (data / "label.txt").exists():
        write_rec_dataset(data, name="label.txt")
    float_model = str(Path(paddle_pp.__file__).parent / "models" / "rec_en" / "model")
    cfg = load_config("slim/rec_en_pact")
    cfg["Global"].update(pretrained_model=float_model, print_batch_step=1, save_model_dir=str(tmp_path / "out"),
                         progress_bar=False, max_steps=2)
    cfg["Global"].update(global_overrides)
    cfg["Architecture"]["Models"]["Teacher"]["pretrained"] = float_model
    for mode in ("Train", "Eval"):
        cfg[mode]["dataset"].update(data_dir=str(data), label_file_list=[str(data / "label.txt")])
        cfg[mode]["loader"].update(batch_size_per_card=3, num_workers=0)
    cfg["Slim"].update(latency_runs=0, eval_max_batches=1, pact_init={"percentile": 99.9, "batches": 1})
    cfg["Global"].pop("config_path", None)
    path = tmp_path / "tiny_rec_pact.yml"
    save_config(cfg, path)
    return path


def test_quant_distills_from_the_float_teacher_and_resumes(tmp_path, capsys):
    """The PACT English recipe: the student is quantized, the frozen float teacher is not and adds the KL term;
    the saved model is the student alone; -o Global.checkpoints continues a stopped QAT run where it stopped."""
    from paddle_pp.model_dir import read_config

    save_dir = tmp_path / "quant"
    cfg_path = tiny_rec_distill_config(tmp_path)
    assert Q.main(["-c", str(cfg_path), "--save_dir", str(save_dir)]) == 0
    log = (save_dir / "finetune" / "train.log").read_text()
    assert "sub-model Teacher: weights" in log and "loss_distill:" in log and "loss_ctc:" in log
    assert "training done at global step 2" in log
    saved = read_config(save_dir)
    assert saved["Architecture"].get("name") != "DistillationModel"   # the student, an ordinary recognizer
    assert saved["Architecture"]["Head"]["out_channels"] == 96
    assert b"quantize_dequantize" in (save_dir / "inference.pdmodel").read_bytes()
    capsys.readouterr()

    latest = save_dir / "finetune" / "latest"
    resumed_cfg = tiny_rec_distill_config(tmp_path, max_steps=4)
    assert Q.main(["-c", str(resumed_cfg), "--save_dir", str(save_dir), "-o", f"Global.checkpoints={latest}"]) == 0
    log = (save_dir / "finetune" / "train.log").read_text()
    assert "global step 2" in log.split("resumed from", 1)[1].splitlines()[0]
    assert "training done at global step 4" in log


def test_distillation_teacher_is_never_quantized():
    from paddle_pp.modeling.architecture import build_model
    from paddle_pp.training.adapters import build_adapter

    cfg = load_config("slim/rec_en_pact")
    build_adapter(cfg).prepare_config(cfg)
    model = build_model(cfg)
    Q.mark_skipped(model.inference_model(), cfg["Slim"]["skip_quant"])
    Q.quantize(model.inference_model())
    assert Q.quantized_layers(model.sub_model("Student"))
    assert Q.quantized_layers(model.sub_model("Teacher")) == {}
    assert all(p.stop_gradient for p in model.sub_model("Teacher").parameters())

"""Least-squares reconstruction after pruning (paddle_pp/slim/reconstruct.py).

Where the channels pruning removed are linear in the ones it kept, the convolutions that read them can be re-fitted
exactly: these tests build such networks by hand, prune them by hand, and require the reconstructed network to give
the unpruned one's output on an image it was not fitted on.
"""
import json
import os

import numpy as np
import paddle
import pytest
from paddle import nn

from paddle_pp.slim import prune as P
from paddle_pp.slim.reconstruct import ReconstructSettings, cut_convs, reconstruct, ridge_solve

from test_slim import tiny_cls_config

os.environ.setdefault("OMP_NUM_THREADS", "1")


class Residual(nn.Layer):
    """A MobileNetV3-like residual unit: expand -> (BN) -> linear -> BN, plus the input."""

    def __init__(self, channels: int, mid: int) -> None:
        super().__init__()
        self.if_shortcut = True
        self.expand = nn.Conv2D(channels, mid, 1)
        self.linear = nn.Conv2D(mid, channels, 1, bias_attr=False)
        self.bn = nn.BatchNorm2D(channels)

    def forward(self, x):
        return x + self.bn(self.linear(self.expand(x)))


class Tiny(nn.Layer):
    """stem -> residual unit -> 3x3 conv -> 3x3 conv with bias (its output is the model's) ; and a 1x1 conv into a
    stride-2 transposed conv, like DB's head."""

    def __init__(self, mid: int, wide: int, head_out: int, up_in: int) -> None:
        super().__init__()
        self.stem = nn.Conv2D(3, 4, 3, padding=1)
        self.block = Residual(4, mid)
        self.wide = nn.Conv2D(4, wide, 3, padding=1, bias_attr=False)
        self.head = nn.Conv2D(wide, head_out, 3, padding=1)
        self.squeeze = nn.Conv2D(4, up_in, 1)
        self.up = nn.Conv2DTranspose(up_in, 2, 2, stride=2)

    def forward(self, x):
        x = paddle.nn.functional.relu(self.stem(x))
        x = self.block(x)
        return self.head(self.wide(x)), self.up(self.squeeze(x))


def _linear_extra_filters(conv, kept: int, rng, constant: bool) -> None:
    """Filters kept.. become linear combinations of filters ..kept (plus a constant with ``constant``): what they
    add is redundant."""
    w = conv.weight.numpy()
    mix = rng.normal(size=(len(w) - kept, kept)).astype(np.float32) * 0.5
    w[kept:] = np.einsum("rk,k...->r...", mix, w[:kept])
    conv.weight.set_value(w)
    if conv.bias is not None:
        b = conv.bias.numpy()
        b[kept:] = mix @ b[:kept] + (rng.normal(size=len(b) - kept).astype(np.float32) if constant else 0)
        conv.bias.set_value(b)


def _pruned_pair(seed: int = 0):
    """(original, naively pruned copy, kept output indices of the pruned head)."""
    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    original = Tiny(mid=8, wide=6, head_out=5, up_in=6)
    _linear_extra_filters(original.block.expand, 4, rng, constant=True)   # the fit's bias goes into the BN
    _linear_extra_filters(original.wide, 3, rng, constant=False)
    # no constant here: a transposed conv has one bias for all the sub-positions of its kernel, and a constant input
    # adds a different amount at each, which no refit can represent
    _linear_extra_filters(original.squeeze, 3, rng, constant=False)
    bn = original.block.bn                                  # a batch norm with real statistics
    bn._mean.set_value(rng.normal(size=4).astype(np.float32))
    bn._variance.set_value(rng.uniform(0.5, 2.0, size=4).astype(np.float32))
    head_kept = np.array([0, 2, 3, 4])
    pruned = Tiny(mid=4, wide=3, head_out=4, up_in=3)
    theirs = dict(original.named_parameters())
    for name, param in pruned.named_parameters():       # keep the first filters; cut the inputs to match
        value = theirs[name].numpy()
        if name.startswith("head."):
            value = value[head_kept]
        if name.startswith("up.weight"):
            value = value[:param.shape[0]]
        elif value.ndim == 4:
            value = value[:param.shape[0], :param.shape[1]]
        else:
            value = value[:param.shape[0]]
        param.set_value(value)
    for name in ("_mean", "_variance"):
        getattr(pruned.block.bn, name).set_value(getattr(bn, name).numpy())
    original.eval()
    pruned.eval()
    return original, pruned, head_kept


def _images(count: int, seed: int):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(1, 3, 12, 16)).astype(np.float32) for _ in range(count)]


def test_ridge_solve_recovers_a_linear_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 7))
    w = rng.normal(size=(7, 3))
    np.testing.assert_allclose(ridge_solve(x, x @ w, ridge=1e-9), w, atol=1e-6)
    # the ridge shrinks toward zero: never larger than the exact solution
    assert np.linalg.norm(ridge_solve(x, x @ w, ridge=10.0)) < np.linalg.norm(w)


def test_cut_convs_are_the_ones_that_lost_input_channels_in_run_order():
    original, pruned, _ = _pruned_pair()
    assert cut_convs(pruned, original, _images(1, 1)[0]) == ["block.linear", "head", "up"]


def test_reconstruction_gives_back_the_unpruned_output_on_new_images():
    """A residual unit (its sum, the batch norm taking the bias), a 3x3 conv whose own filters were pruned too, and
    a kernel == stride transposed conv: after the fit the pruned network reproduces the original exactly."""
    original, pruned, head_kept = _pruned_pair()
    fresh = paddle.to_tensor(_images(1, seed=99)[0])
    want_head, want_up = original(fresh)
    want_head = want_head.numpy()[:, head_kept]
    got_head, got_up = pruned(fresh)
    assert np.abs(got_head.numpy() - want_head).max() > 0.1          # naive pruning is far off
    report = reconstruct(pruned, original, _images(6, seed=1), {"head": head_kept},
                         ReconstructSettings(positions_per_image=100, ridge=1e-10), log=lambda s: None)
    assert [r["layer"] for r in report] == ["block.linear", "head", "up"]
    assert report[0]["residual"] and report[0]["batch_norm"] == "block.bn"
    assert all(r["mse_after"] < 1e-6 * max(r["mse_before"], 1.0) for r in report), report
    got_head, got_up = pruned(fresh)
    np.testing.assert_allclose(got_head.numpy(), want_head, atol=1e-3)
    np.testing.assert_allclose(got_up.numpy(), want_up.numpy(), atol=1e-3)
    block_out = pruned.block(paddle.nn.functional.relu(pruned.stem(fresh)))
    np.testing.assert_allclose(block_out.numpy(), original.block(
        paddle.nn.functional.relu(original.stem(fresh))).numpy(), atol=1e-4)


def test_reconstruction_needs_images():
    original, pruned, _ = _pruned_pair()
    with pytest.raises(ValueError, match="at least one image"):
        reconstruct(pruned, original, [], {})


def test_extra_layers_are_fitted_in_run_order_and_must_be_fittable_convs():
    original, pruned, head_kept = _pruned_pair()
    images = _images(4, seed=2)
    quiet = ReconstructSettings(positions_per_image=100, ridge=1e-10)
    for bad in (["nope"], ["block.bn"]):
        with pytest.raises(ValueError, match="extra_layers"):
            reconstruct(pruned, original, images, {"head": head_kept}, quiet, log=lambda s: None, extra_layers=bad)
    # "wide" lost no inputs; its filters were pruned, so it is fitted to the original's kept filters
    report = reconstruct(pruned, original, images, {"head": head_kept, "wide": np.arange(3)}, quiet,
                         log=lambda s: None, extra_layers=["wide"])
    assert [r["layer"] for r in report] == ["block.linear", "wide", "head", "up"]
    assert report[1]["mse_after"] < 1e-8


def test_fpgm_kept_filters_are_the_rows_left_in_the_weights():
    """prune_keeping's kept indices (from paddleslim's plan) are the original filters the pruned weight holds."""
    from paddle_pp.config import load_config
    from paddle_pp.modeling.architecture import build_model

    paddle.seed(0)
    model = build_model(load_config("det"))
    model.eval()
    before = {n: p.numpy() for n, p in model.named_parameters()}
    pruner = P.make_pruner(model, [1, 3, 64, 64])
    layers = P.prunable_layers(model, pruner)
    record, kept = P.prune_keeping(model, pruner, layers, {"neck.p3_conv.weight": 0.5,
                                                           "backbone.stages.3.1.expand_conv.conv.weight": 0.5})
    after = dict(model.named_parameters())
    assert len(kept["neck.p3_conv"]) == after["neck.p3_conv.weight"].shape[0] == 12
    np.testing.assert_array_equal(after["neck.p3_conv.weight"].numpy(), before["neck.p3_conv.weight"][kept["neck.p3_conv"]])
    expand = "backbone.stages.3.1.expand_conv.conv"
    np.testing.assert_array_equal(after[expand + ".weight"].numpy(), before[expand + ".weight"][kept[expand]])
    # the depthwise conv and the projection lose the same channels
    linear = "backbone.stages.3.1.linear_conv.conv.weight"
    np.testing.assert_array_equal(after[linear].numpy(), before[linear][:, kept[expand]])
    assert record["parameters"][expand + ".weight"][0] == len(kept[expand])


def test_prune_with_reconstruction_end_to_end(tmp_path):
    """Slim.reconstruct through slim/prune.py on a tiny classifier: the cut layers re-fitted on the Eval images,
    each closer to the unpruned model's outputs than naive pruning, recorded in slim_report.json."""
    cfg_path = tiny_cls_config(tmp_path, slim={
        "ratios": {"backbone.blocks.1.expand_conv.conv.weight": 0.5, "backbone.conv2.conv.weight": 0.5},
        "skip_layers": ["backbone.conv1"], "reconstruct": {"max_images": 4, "positions_per_image": 50}})
    save_dir = tmp_path / "pruned"
    assert P.main(["-c", str(cfg_path), "--save_dir", str(save_dir), "--no_finetune", "--latency_runs", "0"]) == 0
    report = json.loads((save_dir / "slim_report.json").read_text())
    fitted = report["reconstruction"]
    # the classifier's head is a Linear layer, which reconstruction leaves as it is: one conv is re-fitted
    assert [r["layer"] for r in fitted] == ["backbone.blocks.1.linear_conv.conv"]
    assert fitted[0]["mse_after"] < fitted[0]["mse_before"] and fitted[0]["rows"] == 4 * 50
    assert (save_dir / "reconstruction.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"   # drawn beside the report


def test_a_misspelt_reconstruct_key_is_a_config_error(tmp_path, capsys):
    bad = tiny_cls_config(tmp_path, slim={"ratios": {"backbone.conv2.conv.weight": 0.5},
                                          "reconstruct": {"max_imgs": 4}})
    with pytest.raises(SystemExit) as exit_info:
        P.main(["-c", str(bad), "--save_dir", str(tmp_path / "never"), "--no_finetune"])
    assert exit_info.value.code == 2
    assert "unknown key 'max_imgs' in Slim.reconstruct; did you mean 'max_images'?" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()

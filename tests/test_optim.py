"""LR schedules (warm-up, cosine, piecewise, const), weight-decay groups (the CTC head keeps fc_decay), clipping."""
import math

import numpy as np
import paddle
import pytest

from paddle_pp.config import load_config
from paddle_pp.modeling.architecture import build_model
from paddle_pp.optim import build_lr_scheduler, build_optimizer, decay_table


def values(s, n):
    out = []
    for _ in range(n):
        out.append(float(s()))
        s.step()
    return out


def test_cosine_with_linear_warmup():
    lr, epochs, spe, warm = 0.001, 10, 5, 2
    s = build_lr_scheduler({"name": "Cosine", "learning_rate": lr, "warmup_epoch": warm}, epochs, spe)
    v = values(s, epochs * spe + 1)
    w = warm * spe
    for i in range(w):  # linear from 0
        assert v[i] == pytest.approx(lr * i / w, rel=1e-6, abs=1e-12)
    total = epochs * spe  # after warm-up the cosine restarts from its step 0 over the whole run's length
    for i in range(w, len(v)):
        assert v[i] == pytest.approx(lr * 0.5 * (1 + math.cos(math.pi * (i - w) / total)), rel=1e-4)


def test_cosine_ends_at_zero_without_warmup():
    s = build_lr_scheduler({"name": "Cosine", "learning_rate": 0.01, "warmup_epoch": 0}, 4, 25)
    v = values(s, 101)
    assert v[0] == pytest.approx(0.01)
    assert v[50] == pytest.approx(0.005, rel=1e-4)
    assert v[100] == pytest.approx(0.0, abs=1e-9)
    assert all(a >= b for a, b in zip(v, v[1:]))


def test_warmup_epoch_fraction_rounds_to_steps():
    s = build_lr_scheduler({"name": "Cosine", "learning_rate": 1.0, "warmup_epoch": 0.5}, 2, 7)  # round(3.5) = 4
    v = values(s, 6)
    assert v[:5] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])


def test_piecewise_and_const():
    s = build_lr_scheduler({"name": "Piecewise", "decay_epochs": [2, 4], "values": [0.1, 0.01, 0.001]}, 6, 3)
    assert values(s, 15) == pytest.approx([0.1] * 6 + [0.01] * 6 + [0.001] * 3)
    s = build_lr_scheduler({"name": "Const", "learning_rate": 0.02}, 3, 3)
    assert values(s, 9) == pytest.approx([0.02] * 9)
    s = build_lr_scheduler({"name": "Const", "learning_rate": 0.02, "warmup_epoch": 1}, 3, 2)
    assert values(s, 4) == pytest.approx([0.0, 0.01, 0.02, 0.02])
    s = build_lr_scheduler(0.5, 3, 3)
    assert values(s, 2) == pytest.approx([0.5, 0.5])


def _small_rec_config(factor):
    cfg = load_config("rec")
    cfg["Architecture"]["Head"]["out_channels"] = 11
    cfg["Optimizer"]["regularizer"]["factor"] = factor
    cfg["Optimizer"]["lr"] = {"name": "Const", "learning_rate": 0.01}
    return cfg


def test_ctc_head_keeps_its_own_decay():
    cfg = _small_rec_config(0.1)
    model = build_model(cfg)
    table = decay_table(model, cfg["Optimizer"])
    assert table["head.fc.weight"] == ("param", pytest.approx(1e-5))
    assert table["head.fc.bias"] == ("param", pytest.approx(1e-5))
    others = [v for k, v in table.items() if not k.startswith("head.fc")]
    assert others and all(kind == "optimizer" and coeff == pytest.approx(0.1) for kind, coeff in others)


@pytest.mark.parametrize("factor", [0.0, 0.1])
def test_decay_is_applied_per_group(factor):
    """With a zero data gradient only decay moves weights: the fc (own fc_decay) always, the rest only when
    Optimizer.regularizer has a non-zero factor."""
    paddle.seed(0)
    cfg = _small_rec_config(factor)
    model = build_model(cfg)
    model.train()
    opt, _ = build_optimizer(cfg["Optimizer"], 1, 1, model)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    out = model(paddle.randn([2, 3, 32, 64]))
    (out * 0).sum().backward()
    opt.step()
    after = {k: v.numpy() for k, v in model.state_dict().items()}
    assert not np.allclose(before["head.fc.weight"], after["head.fc.weight"])
    conv = "backbone.conv1.conv.weight"
    assert np.allclose(before[conv], after[conv]) == (factor == 0)


def test_grad_clip_and_config_optimizers():
    cfg = _small_rec_config(0.0)
    model = build_model(cfg)
    opt_cfg = dict(cfg["Optimizer"], clip_norm=5.0)
    opt, sched = build_optimizer(opt_cfg, 2, 3, model)
    assert isinstance(opt._grad_clip, paddle.nn.ClipGradByGlobalNorm)
    assert isinstance(opt, paddle.optimizer.Adam)
    for name in ("det", "rec", "cls"):
        c = load_config(name)
        opt, sched = build_optimizer(c["Optimizer"], c["Global"]["epoch_num"], 10, build_model(c))
        assert opt._grad_clip is None
        assert float(sched()) == pytest.approx(0.0 if c["Optimizer"]["lr"].get("warmup_epoch") else 0.001)

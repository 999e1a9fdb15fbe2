"""Losses against hand-computed values: Dice / MaskL1 / BalanceLoss (OHEM), DBLoss composition, CTC against a
brute-force sum over all alignments, cross-entropy."""
import itertools

import numpy as np
import paddle
import pytest

from paddle_pp.losses import BalanceLoss, ClsLoss, CTCLoss, DBLoss, DiceLoss, MaskL1Loss, build_loss
from paddle_pp.config import load_config


def t(x, dtype="float32"):
    return paddle.to_tensor(np.asarray(x, dtype=dtype))


def test_dice_loss_hand_computed():
    pred = t([[[0.5, 1.0], [0.0, 0.5]]])
    gt = t([[[1, 1], [0, 0]]])
    mask = t([[[1, 1], [1, 1]]])
    # intersection 1.5, |P| 2, |G| 2 -> 1 - 3/4
    assert float(DiceLoss()(pred, gt, mask)) == pytest.approx(0.25, abs=1e-6)
    mask = t([[[1, 0], [1, 1]]])  # drop the pixel (0,1): intersection 0.5, |P| 1, |G| 1
    assert float(DiceLoss()(pred, gt, mask)) == pytest.approx(1 - 1.0 / 2.0, abs=1e-6)


def test_mask_l1_loss_hand_computed():
    pred, gt, mask = t([[0.2, 0.8, 0.5]]), t([[0, 1, 1]]), t([[1, 1, 0]])
    assert float(MaskL1Loss()(pred, gt, mask)) == pytest.approx(0.2, abs=1e-5)


def test_balance_loss_bce_keeps_hardest_negatives():
    pred = np.array([[0.6, 0.1, 0.9, 0.2, 0.7, 0.05, 0.3, 0.8]], np.float32)
    gt = np.array([[1, 0, 0, 0, 0, 0, 0, 1]], np.float32)
    mask = np.array([[1, 1, 1, 1, 1, 1, 1, 0]], np.float32)  # last positive masked out
    bce = -(gt * np.log(pred) + (1 - gt) * np.log(1 - pred))
    # 1 positive -> at most 3 negatives, the 3 largest negative losses: preds 0.9, 0.7, 0.3
    neg = sorted(bce[0, 1:7], reverse=True)[:3]
    expected = (bce[0, 0] + sum(neg)) / (1 + 3 + 1e-6)
    got = BalanceLoss(main_loss_type="BCELoss", negative_ratio=3)(t(pred), t(gt), t(mask))
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # without balancing the per-pixel loss comes back unreduced
    raw = BalanceLoss(balance_loss=False, main_loss_type="BCELoss")(t(pred), t(gt), t(mask))
    np.testing.assert_allclose(raw.numpy(), bce, rtol=1e-5)


def test_balance_loss_no_positives_uses_positive_term_only():
    pred, gt, mask = t([[0.3, 0.4]]), t([[0, 0]]), t([[1, 1]])
    assert float(BalanceLoss(main_loss_type="BCELoss")(pred, gt, mask)) == pytest.approx(0.0, abs=1e-6)


def test_balance_loss_with_dice_equals_dice_when_enough_negatives():
    rng = np.random.default_rng(0)
    pred = rng.uniform(0.01, 0.99, (2, 8, 8)).astype(np.float32)
    gt = (rng.uniform(size=(2, 8, 8)) > 0.8).astype(np.float32)
    mask = np.ones_like(gt)
    dice = float(DiceLoss()(t(pred), t(gt), t(mask)))
    bal = float(BalanceLoss(main_loss_type="DiceLoss")(t(pred), t(gt), t(mask)))
    assert bal == pytest.approx(dice, rel=1e-4)


def test_db_loss_is_weighted_sum_of_parts():
    rng = np.random.default_rng(1)
    n, h, w = 2, 16, 16
    shrink = rng.uniform(0.01, 0.99, (n, 1, h, w)).astype(np.float32)
    thresh = rng.uniform(0.3, 0.7, (n, 1, h, w)).astype(np.float32)
    binary = rng.uniform(0.01, 0.99, (n, 1, h, w)).astype(np.float32)
    gt = (rng.uniform(size=(n, h, w)) > 0.7).astype(np.float32)
    batch = {"shrink_map": gt, "shrink_mask": np.ones_like(gt),
             "threshold_map": rng.uniform(0.3, 0.7, (n, h, w)).astype(np.float32),
             "threshold_mask": (rng.uniform(size=(n, h, w)) > 0.5).astype(np.float32)}
    cfg = dict(load_config("det")["Loss"])
    for main_loss_type in ("DiceLoss", "BCELoss"):
        cfg["main_loss_type"] = main_loss_type
        loss = build_loss(cfg)
        out = loss({"shrink_maps": t(shrink), "threshold_maps": t(thresh), "binary_maps": t(binary)}, batch)
        bal = BalanceLoss(main_loss_type=main_loss_type, negative_ratio=3)(
            t(shrink[:, 0]), t(gt), t(batch["shrink_mask"]))
        l1 = MaskL1Loss()(t(thresh[:, 0]), t(batch["threshold_map"]), t(batch["threshold_mask"]))
        dice = DiceLoss()(t(binary[:, 0]), t(gt), t(batch["shrink_mask"]))
        assert float(out["loss_shrink_maps"]) == pytest.approx(5 * float(bal), rel=1e-5)
        assert float(out["loss_threshold_maps"]) == pytest.approx(10 * float(l1), rel=1e-5)
        assert float(out["loss_binary_maps"]) == pytest.approx(float(dice), rel=1e-5)
        assert float(out["loss"]) == pytest.approx(5 * float(bal) + 10 * float(l1) + float(dice), rel=1e-5)
    assert isinstance(loss, DBLoss)


def _ctc_brute_force(logits, label):
    """-log sum over every path of T steps that collapses (merge repeats, drop blanks) to `label`."""
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    total = 0.0
    for path in itertools.product(range(logits.shape[1]), repeat=logits.shape[0]):
        out, prev = [], None
        for c in path:
            if c != prev and c != 0:
                out.append(c)
            prev = c
        if out == list(label):
            total += np.prod([p[s, c] for s, c in enumerate(path)])
    return -np.log(total)


def test_ctc_loss_matches_brute_force_and_averages_over_batch():
    rng = np.random.default_rng(0)
    n, steps, classes = 3, 4, 3
    logits = rng.normal(size=(n, steps, classes)).astype(np.float32)
    labels = [[1, 2], [1, 1], [2]]  # a repeated label needs a blank between: only 4-step paths like 1,0,1,x
    padded = np.zeros((n, 5), np.int64)
    for i, lab in enumerate(labels):
        padded[i, :len(lab)] = lab
    padded[2, 1:] = 2  # anything past `length` must be ignored
    batch = {"label": padded, "length": np.array([len(x) for x in labels], np.int64)}
    out = CTCLoss()(paddle.to_tensor(logits), batch)
    expected = np.mean([_ctc_brute_force(logits[i], labels[i]) for i in range(n)])
    assert float(out["loss"]) == pytest.approx(expected, rel=1e-5)


def test_ctc_loss_backward_and_logits_scale_invariance():
    rng = np.random.default_rng(2)
    logits = paddle.to_tensor(rng.normal(size=(2, 6, 5)).astype(np.float32), stop_gradient=False)
    batch = {"label": np.array([[1, 2, 0], [3, 0, 0]], np.int64), "length": np.array([2, 1], np.int64)}
    loss = CTCLoss()(logits, batch)["loss"]
    loss.backward()
    assert logits.grad is not None and np.isfinite(logits.grad.numpy()).all()
    shifted = CTCLoss()(logits.detach() + 3.0, batch)["loss"]  # softmax is shift invariant
    assert float(shifted) == pytest.approx(float(loss), rel=1e-5)


def test_cls_loss_is_cross_entropy():
    logits = np.array([[2.0, 0.5], [0.1, 1.2], [0.3, 0.3]], np.float32)
    label = np.array([0, 1, 0], np.int64)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -np.mean(logp[np.arange(3), label])
    out = ClsLoss()(paddle.to_tensor(logits), {"label": label})
    assert float(out["loss"]) == pytest.approx(expected, rel=1e-5)


def test_config_loss_sections_build():
    for name, cls in (("det", DBLoss), ("rec", CTCLoss), ("cls", ClsLoss)):
        assert isinstance(build_loss(load_config(name)["Loss"]), cls)


def _distill_outputs(student_maps, teacher_prob):
    """What a DistillationModel returns: each sub-model's outputs by name (the frozen teacher in eval mode: its
    probability map)."""
    return {"Student": student_maps, "Teacher": t(teacher_prob)}


def _db_inputs(rng, n=2, h=16, w=16):
    gt = (rng.uniform(size=(n, h, w)) > 0.7).astype(np.float32)
    batch = {"image": t(rng.standard_normal((n, 3, h, w))), "shrink_map": gt, "shrink_mask": np.ones_like(gt),
             "threshold_map": rng.uniform(0.3, 0.7, (n, h, w)).astype(np.float32),
             "threshold_mask": np.ones_like(gt)}
    maps = {k: t(rng.uniform(0.01, 0.99, (n, 1, h, w))) for k in ("shrink_maps", "threshold_maps", "binary_maps")}
    return maps, batch


def test_db_distill_loss_adds_teacher_pseudo_label_term():
    from paddle_pp.losses.det_distill_loss import DBDistillLoss

    rng = np.random.default_rng(3)
    maps, batch = _db_inputs(rng)
    teacher_prob = rng.uniform(0, 1, (2, 1, 16, 16)).astype(np.float32)
    loss = DBDistillLoss(distill_weight=2.0, teacher_thresh=0.3)
    out = loss(_distill_outputs(maps, teacher_prob), batch)
    plain = DBLoss()(maps, batch)
    target = (teacher_prob[:, 0] > 0.3).astype(np.float32)
    ones = np.ones_like(target)
    shrink = maps["shrink_maps"][:, 0]
    expected = 2.0 * (5 * float(BalanceLoss(negative_ratio=3)(shrink, t(target), t(ones)))
                      + float(DiceLoss()(shrink, t(target), t(ones))))
    assert float(out["loss_distill"]) == pytest.approx(expected, rel=1e-5)
    assert float(out["loss"]) == pytest.approx(float(plain["loss"]) + expected, rel=1e-5)
    # the loss only computes: no model, no parameters, nothing in a checkpoint
    assert list(loss.parameters()) == [] and list(loss.state_dict()) == []


def test_db_distill_loss_names_the_sub_models_it_compares():
    from paddle_pp.losses.det_distill_loss import DBDistillLoss

    rng = np.random.default_rng(6)
    maps, batch = _db_inputs(rng)
    teacher_prob = rng.uniform(0, 1, (2, 1, 16, 16)).astype(np.float32)
    renamed = {"Small": maps, "Big": t(teacher_prob)}
    out = DBDistillLoss(student="Small", teacher="Big")(renamed, batch)
    assert float(out["loss"]) == pytest.approx(float(DBDistillLoss()(_distill_outputs(maps, teacher_prob),
                                                                       batch)["loss"]), rel=1e-6)
    with pytest.raises(KeyError, match="Student"):
        DBDistillLoss()(maps, batch)   # a plain model's outputs: not a distillation model


def test_db_distill_loss_is_small_when_student_matches_teacher():
    from paddle_pp.losses.det_distill_loss import DBDistillLoss

    rng = np.random.default_rng(4)
    maps, batch = _db_inputs(rng)
    teacher_prob = (rng.uniform(size=(2, 1, 16, 16)) > 0.8).astype(np.float32)
    loss = DBDistillLoss()
    agreeing = dict(maps, shrink_maps=t(np.clip(teacher_prob, 0.001, 0.999)))
    far = dict(maps, shrink_maps=t(np.clip(1 - teacher_prob, 0.001, 0.999)))
    assert float(loss(_distill_outputs(agreeing, teacher_prob), batch)["loss_distill"]) < 0.05
    assert float(loss(_distill_outputs(far, teacher_prob), batch)["loss_distill"]) > 5.0


def test_db_distill_loss_soft_term_matches_teacher_probabilities():
    """soft_weight adds BCE between the student's and the teacher's probabilities (by hand here); 0 adds nothing."""
    from paddle_pp.losses.det_distill_loss import DBDistillLoss

    rng = np.random.default_rng(5)
    maps, batch = _db_inputs(rng)
    teacher_prob = rng.uniform(0, 1, (2, 1, 16, 16)).astype(np.float32)
    hard_only = DBDistillLoss()(_distill_outputs(maps, teacher_prob), batch)
    assert "loss_distill_soft" not in hard_only
    out = DBDistillLoss(soft_weight=3.0)(_distill_outputs(maps, teacher_prob), batch)
    p, q = np.asarray(maps["shrink_maps"])[:, 0].astype(np.float64), teacher_prob[:, 0].astype(np.float64)
    expected = 3.0 * float(np.mean(-(q * np.log(p) + (1 - q) * np.log(1 - p))))
    assert float(out["loss_distill_soft"]) == pytest.approx(expected, rel=1e-4)
    assert float(out["loss_distill"]) == pytest.approx(float(hard_only["loss_distill"]) + expected, rel=1e-5)
    assert float(out["loss"]) == pytest.approx(float(hard_only["loss"]) + expected, rel=1e-5)
    # the soft term is smallest where the student says what the teacher says
    same = dict(maps, shrink_maps=t(np.clip(teacher_prob, 1e-3, 1 - 1e-3)))
    loss = DBDistillLoss(soft_weight=1.0)
    assert float(loss(_distill_outputs(same, teacher_prob), batch)["loss_distill_soft"]) < \
        float(loss(_distill_outputs(maps, teacher_prob), batch)["loss_distill_soft"])




def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _ctc_batch():
    return {"label": np.array([[1, 2, 0], [3, 0, 0]], np.int64), "length": np.array([2, 1], np.int64)}


def test_ctc_distill_loss_is_ctc_plus_per_sequence_kl_to_teacher():
    from paddle_pp.losses.rec_distill_loss import CTCDistillLoss

    rng = np.random.default_rng(7)
    student = rng.normal(size=(2, 6, 5)).astype(np.float32)
    teacher_prob = _softmax(rng.normal(size=(2, 6, 5))).astype(np.float32)
    batch = _ctc_batch()
    loss = CTCDistillLoss(distill_weight=0.5)
    out = loss(_distill_outputs(t(student), teacher_prob), batch)
    p, q = teacher_prob.astype(np.float64), _softmax(student.astype(np.float64))
    kl = (p * (np.log(p) - np.log(q))).sum(axis=(1, 2)).mean()  # summed over steps, averaged over the batch
    assert float(out["loss_distill"]) == pytest.approx(0.5 * kl, rel=1e-4)
    assert float(out["loss_ctc"]) == pytest.approx(float(CTCLoss()(t(student), batch)["loss"]), rel=1e-6)
    assert float(out["loss"]) == pytest.approx(float(out["loss_ctc"]) + 0.5 * kl, rel=1e-4)
    assert list(loss.parameters()) == []


def test_ctc_distill_loss_vanishes_when_student_agrees_and_pulls_towards_teacher():
    from paddle_pp.losses.rec_distill_loss import CTCDistillLoss

    rng = np.random.default_rng(8)
    teacher_logits = rng.normal(size=(2, 6, 5)).astype(np.float32) * 3
    teacher_prob = _softmax(teacher_logits).astype(np.float32)
    batch = _ctc_batch()
    agreeing = CTCDistillLoss()(_distill_outputs(t(teacher_logits + 1.0), teacher_prob), batch)  # shift-invariant
    assert float(agreeing["loss_distill"]) == pytest.approx(0.0, abs=1e-4)
    student = paddle.to_tensor(rng.normal(size=(2, 6, 5)).astype(np.float32), stop_gradient=False)
    out = CTCDistillLoss(distill_weight=1.0)({"Student": student, "Teacher": t(teacher_prob)}, batch)
    out["loss_distill"].backward()
    # the gradient of KL(p || softmax(s)) in s is softmax(s) - p per step: a step against it moves towards p
    expected = (_softmax(student.numpy()) - teacher_prob) / 2  # averaged over the batch of 2
    np.testing.assert_allclose(student.grad.numpy(), expected, atol=1e-5)


def test_ctc_distill_loss_needs_a_distillation_model_of_matching_outputs():
    from paddle_pp.losses.rec_distill_loss import CTCDistillLoss

    logits = t(np.zeros((2, 6, 5), np.float32))
    with pytest.raises(KeyError, match="DistillationModel.*'Student', got Tensor"):
        CTCDistillLoss()(logits, _ctc_batch())   # a plain model's outputs
    with pytest.raises(KeyError, match="Teacher"):
        CTCDistillLoss()({"Student": logits}, _ctc_batch())
    with pytest.raises(ValueError, match="differ"):
        CTCDistillLoss()({"Student": logits, "Teacher": t(np.full((2, 6, 7), 1 / 7, np.float32))}, _ctc_batch())

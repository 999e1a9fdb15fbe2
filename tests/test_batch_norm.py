"""Batch-norm recalibration (paddle_pp.training.batch_norm): running statistics re-estimated, state restored."""
import numpy as np
import paddle

from paddle_pp.training.batch_norm import batch_norms, recalibrate_batch_norm


def conv_bn(seed: int = 0) -> paddle.nn.Layer:
    paddle.seed(seed)
    return paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 1), paddle.nn.BatchNorm2D(4))


def test_running_statistics_become_the_average_over_the_batches():
    model = conv_bn()
    conv, norm = model[0], model[1]
    norm._mean.set_value(paddle.full([4], 50.0))        # stale statistics, as after pruning the conv
    norm._variance.set_value(paddle.full([4], 1e-3))
    rng = np.random.default_rng(0)
    batches = [paddle.to_tensor(rng.normal(2.0, 3.0, (2, 3, 8, 8)).astype("float32")) for _ in range(5)]
    model.eval()
    assert recalibrate_batch_norm(model, iter(batches), max_batches=4) == 4   # the fifth batch is not used
    with paddle.no_grad():
        features = [conv(b).numpy() for b in batches[:4]]
    expected_mean = np.mean([f.mean(axis=(0, 2, 3)) for f in features], axis=0)
    expected_var = np.mean([f.var(axis=(0, 2, 3)) for f in features], axis=0)
    np.testing.assert_allclose(norm._mean.numpy(), expected_mean, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(norm._variance.numpy(), expected_var, rtol=0.05)   # biased or unbiased estimate
    # the model now normalizes those features to about zero mean, unit variance
    with paddle.no_grad():
        out = model(batches[0]).numpy()
    assert abs(out.mean()) < 0.3 and 0.5 < out.std() < 1.5


def test_mode_momentum_and_frozen_statistics_are_restored():
    model = conv_bn()
    norm = batch_norms(model)[0]
    norm._use_global_stats = True                          # Global.freeze_bn
    momentum = norm._momentum
    model.eval()
    before = norm._mean.numpy().copy()
    recalibrate_batch_norm(model, [paddle.ones([1, 3, 4, 4]) * 5], max_batches=10)
    assert not model.training and norm._use_global_stats is True and norm._momentum == momentum
    assert not np.allclose(norm._mean.numpy(), before)   # frozen or not, the statistics were re-estimated


def test_no_batches_leaves_the_statistics_alone():
    model = conv_bn()
    norm = batch_norms(model)[0]
    before = (norm._mean.numpy().copy(), norm._variance.numpy().copy())
    assert recalibrate_batch_norm(model, [], max_batches=8) == 0
    assert recalibrate_batch_norm(model, [paddle.ones([1, 3, 4, 4])], max_batches=0) == 0
    np.testing.assert_array_equal(norm._mean.numpy(), before[0])
    np.testing.assert_array_equal(norm._variance.numpy(), before[1])

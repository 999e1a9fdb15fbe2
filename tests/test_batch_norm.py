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
    pooled = np.concatenate(features)                   # the statistics of all the activations seen
    np.testing.assert_allclose(norm._mean.numpy(), pooled.mean(axis=(0, 2, 3)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(norm._variance.numpy(), pooled.var(axis=(0, 2, 3)), rtol=0.05)  # (un)biased
    # the model now normalizes those features to about zero mean, unit variance
    with paddle.no_grad():
        out = model(batches[0]).numpy()
    assert abs(out.mean()) < 0.3 and 0.5 < out.std() < 1.5


def test_one_image_batches_keep_the_variance_between_images():
    """With one image per batch, each batch's variance misses how much the images differ: the recalibrated
    variance adds the variance of the batch means (law of total variance)."""
    model = conv_bn()
    conv, norm = model[0], model[1]
    rng = np.random.default_rng(1)
    batches = [paddle.to_tensor(rng.normal(offset, 0.5, (1, 3, 6, 6)).astype("float32")) for offset in (-4, 0, 4, 8)]
    recalibrate_batch_norm(model, batches, max_batches=4)
    with paddle.no_grad():
        pooled = np.concatenate([conv(b).numpy() for b in batches])
    within = np.mean([conv(b).numpy().var(axis=(0, 2, 3)) for b in batches], axis=0)
    np.testing.assert_allclose(norm._variance.numpy(), pooled.var(axis=(0, 2, 3)), rtol=0.05)
    assert (norm._variance.numpy() > 2 * within).all()    # far more than the average within-image variance


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

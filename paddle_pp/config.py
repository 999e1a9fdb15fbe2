"""YAML configs: the one place defaults come from.

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
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

import yaml

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
        raise ValueError(f"{path}: _base_ chain loops back to itself")
    with open(path, "r", encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: a config must be a YAML mapping")
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


def load_config(path_or_name: PathLike, overrides: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    path = resolve_config_path(path_or_name)
    cfg = _read_yaml(path)
    cfg = apply_overrides(cfg, overrides or [])
    fill_model_constants(cfg)
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
            raise ValueError(f"override '{item}' must look like Section.key=value")
        dotted, raw = item.split("=", 1)
        keys = dotted.strip().split(".")
        node = cfg
        for key in keys[:-1]:
            if not isinstance(node, dict) or key not in node:
                raise KeyError(f"override '{item}': no section '{key}' in the config")
            node = node[key]
        if not isinstance(node, dict) or keys[-1] not in node:
            raise KeyError(f"override '{item}': no key '{keys[-1]}' under '{'.'.join(keys[:-1])}'")
        node[keys[-1]] = yaml.safe_load(raw)
    return cfg


def save_config(cfg: Dict[str, Any], path: PathLike) -> None:
    """Write a config atomically (temp file + rename) so a crash never leaves half a YAML behind."""
    from paddle_pp.utils.files import write_text_atomic

    write_text_atomic(path, yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))

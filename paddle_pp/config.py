"""YAML configs: the one place defaults come from.

Training, evaluation, export and every predictor read the same file; command-line `-o Section.key=value`
overrides are applied on top, with values parsed as YAML (so `-o Global.epoch_num=5` is an int).
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
        base_path = (path.parent / base_name)
        if not base_path.is_file():
            raise FileNotFoundError(f"{path}: _base_ config not found: {base_path}")
        cfg = merge_configs(_read_yaml(base_path, seen + (path.resolve(),)), cfg)
    return cfg


def load_config(path_or_name: PathLike, overrides: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    path = resolve_config_path(path_or_name)
    cfg = _read_yaml(path)
    cfg = apply_overrides(cfg, overrides or [])
    cfg.setdefault("Global", {})["config_path"] = str(path)
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

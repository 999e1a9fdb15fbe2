"""Checkpoints (resume) and pre-trained weights (initialise), PaddleOCR 2.x layout.

A checkpoint is three files sharing a prefix, e.g. ``output/rec/latest``:

- ``latest.pdparams``: the model's state_dict (structural names; loadable as a pre-trained model too),
- ``latest.pdopt``: the optimizer state (Adam moments, LR schedule), its accumulators keyed by the structural
  parameter names (``head.fc.weight::moment1_0``) so it loads into a model built in any order or process,
- ``latest.states``: a pickle with epoch, step in that epoch, global step, best metric, RNG states
  (python/numpy/paddle, now and at the start of the epoch), the LR schedule state and the MD5 of the other two
  files (a checkpoint whose parts do not belong together is refused rather than half-loaded).

Each file is written to a temporary name and moved into place with ``os.replace``; ``.states`` is written last.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import random
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
import paddle

CHECKPOINT_VERSION = 1
_OPT_SEP = "::"


class CheckpointError(RuntimeError):
    pass


# ------------------------------------------------------------------------------------------------ RNG states

def get_rng_states() -> Dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "paddle": paddle.get_rng_state()}


def set_rng_states(states: Optional[Dict[str, Any]]) -> None:
    if not states:
        return
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    paddle.set_rng_state(states["paddle"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    paddle.seed(seed)


# ------------------------------------------------------------------------------------------------ file helpers

def strip_suffix(path: os.PathLike) -> str:
    """``x/latest``, ``x/latest.pdparams``, ``x/latest.states`` -> ``x/latest``."""
    path = str(path)
    for ext in (".pdparams", ".pdopt", ".states"):
        if path.endswith(ext):
            return path[: -len(ext)]
    return path


def _md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: str, write: Callable[[str], None]) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _pickle_dump(obj: Any) -> Callable[[str], None]:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=4)
            f.flush()
            os.fsync(f.fileno())
    return write


# ---------------------------------------------------------------------------- optimizer state by structure

def _param_name_map(model: paddle.nn.Layer) -> Dict[str, str]:
    """Paddle's unique parameter name (``conv2d_3.w_0``) -> structural name (``backbone.conv1.conv.weight``)."""
    return {p.name: n for n, p in model.named_parameters()}


def optimizer_state_to_structural(opt_state: Dict[str, Any], model: paddle.nn.Layer) -> Dict[str, Any]:
    names = _param_name_map(model)
    by_length = sorted(names, key=len, reverse=True)
    out: Dict[str, Any] = {}
    for key, value in opt_state.items():
        if key == "LR_Scheduler":
            out[key] = value
            continue
        if key == "master_weights" and isinstance(value, dict):
            out[key] = {names.get(k, k): v for k, v in value.items()}
            continue
        for pname in by_length:
            if key.startswith(pname + "_"):
                out[names[pname] + _OPT_SEP + key[len(pname) + 1:]] = value
                break
        else:
            out[key] = value
    return out


def optimizer_state_from_structural(opt_state: Dict[str, Any], model: paddle.nn.Layer) -> Dict[str, Any]:
    by_struct = {n: p.name for n, p in model.named_parameters()}
    out: Dict[str, Any] = {}
    for key, value in opt_state.items():
        if key == "master_weights" and isinstance(value, dict):
            out[key] = {by_struct.get(k, k): v for k, v in value.items()}
        elif _OPT_SEP in key:
            struct, suffix = key.split(_OPT_SEP, 1)
            if struct not in by_struct:
                raise CheckpointError(f"optimizer state for '{struct}', which this model does not have")
            out[f"{by_struct[struct]}_{suffix}"] = value
        else:
            out[key] = value
    return out


# ------------------------------------------------------------------------------------------------ checkpoints

def save_checkpoint(prefix: os.PathLike, model: paddle.nn.Layer, optimizer: Optional[paddle.optimizer.Optimizer],
                    state: Dict[str, Any]) -> str:
    """Write ``prefix.pdparams``, ``prefix.pdopt`` and ``prefix.states`` atomically; returns the prefix."""
    prefix = strip_suffix(prefix)
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    _atomic_write(prefix + ".pdparams", lambda tmp: paddle.save(model.state_dict(), tmp))
    files = {"pdparams": _md5(prefix + ".pdparams")}
    if optimizer is not None:
        opt_state = optimizer_state_to_structural(optimizer.state_dict(), model)
        _atomic_write(prefix + ".pdopt", lambda tmp: paddle.save(opt_state, tmp))
        files["pdopt"] = _md5(prefix + ".pdopt")
    state = dict(state, version=CHECKPOINT_VERSION, files=files)
    _atomic_write(prefix + ".states", _pickle_dump(state))
    return prefix


def load_checkpoint(prefix: os.PathLike, model: paddle.nn.Layer,
                    optimizer: Optional[paddle.optimizer.Optimizer] = None) -> Dict[str, Any]:
    """Restore the model (and optimizer, with its LR schedule) from a checkpoint; returns the saved state."""
    prefix = strip_suffix(prefix)
    if not os.path.isfile(prefix + ".pdparams"):
        raise CheckpointError(f"checkpoint {prefix}: {prefix}.pdparams does not exist")
    state: Dict[str, Any] = {}
    if os.path.isfile(prefix + ".states"):
        with open(prefix + ".states", "rb") as f:
            state = pickle.load(f)
        for kind, digest in state.get("files", {}).items():
            path = f"{prefix}.{kind}"
            if not os.path.isfile(path) or _md5(path) != digest:
                raise CheckpointError(f"checkpoint {prefix}: {path} does not belong to {prefix}.states "
                                      f"(missing or overwritten by another save)")
    params = paddle.load(prefix + ".pdparams")
    missing, unexpected = model.set_state_dict(params)
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {prefix} does not fit the model: missing {list(missing)[:5]}, "
                              f"unexpected {list(unexpected)[:5]}")
    if optimizer is not None:
        if os.path.isfile(prefix + ".pdopt"):
            opt_state = optimizer_state_from_structural(paddle.load(prefix + ".pdopt"), model)
            optimizer.set_state_dict(opt_state)
        else:
            raise CheckpointError(f"checkpoint {prefix}: {prefix}.pdopt is missing (needed to resume training)")
    return state


# ------------------------------------------------------------------------------------------ pre-trained weights

def resolve_pretrained(spec: str, model_name: Optional[str]) -> str:
    """'official' -> the imported official weights of ``model_name``; 'official:rec' -> those of 'rec' (a new
    model starting from an official one, e.g. an English recognizer); else a .pdparams path (suffix optional)."""
    if spec == "official" or spec.startswith("official:"):
        from paddle_pp.weights import import_official

        name = spec.split(":", 1)[1] if ":" in spec else model_name
        if not name:
            raise ValueError("Global.pretrained_model 'official' needs Global.model_name (det, cls or rec)")
        return str(Path(import_official(name)) / "model.pdparams")
    path = strip_suffix(spec) + ".pdparams"
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pre-trained weights not found: {spec} (looked for {path})")
    return path


def load_pretrained_weights(model: paddle.nn.Layer, path: str) -> Dict[str, List[Any]]:
    """Load what fits; parameters whose shape differs (a new dictionary's head) or which the file lacks keep their
    initialisation. Returns {'loaded', 'shape_mismatch' [(name, file shape, model shape)], 'missing',
    'unexpected'} for the log."""
    saved = paddle.load(path)
    own = model.state_dict()
    report: Dict[str, List[Any]] = {"loaded": [], "shape_mismatch": [], "missing": [], "unexpected": []}
    to_load = {}
    for name, value in own.items():
        if name not in saved:
            report["missing"].append(name)
            continue
        src = saved[name]
        src_shape = list(src.shape)
        if src_shape != list(value.shape):
            report["shape_mismatch"].append((name, src_shape, list(value.shape)))
            continue
        to_load[name] = src
        report["loaded"].append(name)
    report["unexpected"] = [k for k in saved if k not in own]
    for name in report["missing"] + [n for n, _, _ in report["shape_mismatch"]]:
        to_load[name] = own[name]  # keep the initialisation (and spare Paddle's per-key warnings)
    model.set_state_dict(to_load)
    return report


def source_global_config(spec: str, model_name: Optional[str]) -> Optional[Dict[str, Any]]:
    """The Global section of the model a pre-trained weights spec comes from (its dictionary), if known:
    configs/<name>.yml for 'official[:name]', else the config.yml of the weights' model directory."""
    from paddle_pp.config import load_config

    if spec == "official" or spec.startswith("official:"):
        return load_config(spec.split(":", 1)[1] if ":" in spec else model_name)["Global"]
    config = Path(strip_suffix(spec)).parent / "config.yml"
    if config.is_file():
        g = dict(load_config(config)["Global"])
        if g.get("character_dict_path") and not os.path.isabs(g["character_dict_path"]):
            candidate = config.parent / g["character_dict_path"]
            if candidate.is_file():
                g["character_dict_path"] = str(candidate)
        return g
    return None


def transfer_ctc_head(model: paddle.nn.Layer, path: str, source_global: Mapping[str, Any],
                      target_global: Mapping[str, Any], head: str = "head.fc") -> int:
    """Start a new dictionary's CTC head from the pre-trained head, class by class: the blank from the blank and
    every character the source dictionary also has from that character's weights (a new English dictionary
    takes its letters, digits and punctuation from the Chinese model's 6625 classes). Characters the source
    lacks keep their initialisation. Returns the number of classes transferred."""
    from paddle_pp.data.imaug.label_ops import load_rec_characters

    saved = paddle.load(path)
    weight_key, bias_key = f"{head}.weight", f"{head}.bias"
    if weight_key not in saved:
        return 0
    source = ["blank"] + load_rec_characters(source_global)[0]
    target = ["blank"] + load_rec_characters(target_global)[0]
    src_w, src_b = np.asarray(saved[weight_key]), np.asarray(saved.get(bias_key))
    own = model.state_dict()
    dst_w, dst_b = own[weight_key].numpy().copy(), own[bias_key].numpy().copy()
    if src_w.shape[1] != len(source) or dst_w.shape[1] != len(target) or src_w.shape[0] != dst_w.shape[0]:
        return 0
    first = {}
    for i, c in enumerate(source):
        first.setdefault(c, i)
    moved = 0
    for j, c in enumerate(target):
        i = 0 if j == 0 else first.get(c) if c != "blank" else None
        if i is None:
            continue
        dst_w[:, j], dst_b[j] = src_w[:, i], src_b[i]
        moved += 1
    own[weight_key].set_value(dst_w)  # only these two: set_state_dict would warn for every other parameter
    own[bias_key].set_value(dst_b)
    return moved


def weights_path_for_eval(config: Dict[str, Any]) -> Tuple[Optional[str], str]:
    """The weights eval/export should use: (path, 'checkpoint'|'pretrained'); checkpoints win."""
    g = config.get("Global", {})
    if g.get("checkpoints"):
        return strip_suffix(g["checkpoints"]) + ".pdparams", "checkpoint"
    if g.get("pretrained_model"):
        return resolve_pretrained(g["pretrained_model"], g.get("model_name")), "pretrained"
    return None, "none"

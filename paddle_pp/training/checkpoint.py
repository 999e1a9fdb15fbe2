"""Checkpoints (resume) and pre-trained weights (initialise), PaddleOCR 2.x names.

A checkpoint has a prefix, e.g. ``output/rec/latest``, and three files:

- ``latest.pdparams``: the model's state_dict (structural names; loadable as a pre-trained model too),
- ``latest.pdopt``: the optimizer state (Adam moments, LR schedule), its accumulators keyed by the structural
  parameter names (``head.fc.weight::moment1_0``) so it loads into a model built in any order or process,
- ``latest.states``: a pickle of plain data with epoch, step in that epoch, global step, best metric, RNG states
  (python/numpy/paddle, now and at the start of the epoch), the LR schedule state and the MD5 of the other two
  files (a checkpoint whose parts do not belong together is refused rather than half-loaded).

A checkpoint is committed as a whole, so that a kill at any moment leaves the previous one or the new one, never a
mixture. Its files are written into a new hidden directory beside the prefix (``.latest.ckpt-<random>``); once
they are all on disk, the pointer ``latest.ckpt``, a symbolic link to that directory, is replaced in one rename,
and only then is the previous directory removed. ``latest.pdparams``, ``latest.pdopt`` and ``latest.states`` are
symbolic links through the pointer (``latest.pdparams -> latest.ckpt/latest.pdparams``), so the names users pass
(``Global.checkpoints=./output/rec/latest``, ``Global.pretrained_model=./output/rec/best_accuracy``) keep working.
A checkpoint of the older layout (three plain files) still loads.

Every file here is read with the restricted unpickler of ``utils.safe_pickle``: arrays, numbers, strings and plain
containers only, never code.
"""
from __future__ import annotations

import os
import pickle
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import paddle

from paddle_pp import model_dir as mdir
from paddle_pp.utils.files import file_md5
from paddle_pp.utils.safe_pickle import GeneratorStateRecord, load_pickle, load_state_dict

CHECKPOINT_VERSION = 2  # 2: committed through the <name>.ckpt pointer, RNG states as plain data
_OPT_SEP = "::"
POINTER_SUFFIX = ".ckpt"
PARTS = ("pdparams", "pdopt", "states")
# The checkpoints a run writes into Global.save_model_dir (trainer.save): what makes a directory a run's.
RUN_CHECKPOINT_NAMES = ("latest", "best_accuracy")
RUN_CHECKPOINT_PATTERN = "iter_epoch_"


class CheckpointError(RuntimeError):
    pass


class SaveDirInUseError(CheckpointError):
    """Global.save_model_dir holds another run's checkpoints and this run neither resumes from it nor overwrites."""


# ------------------------------------------------------------------------------------------------ RNG states

def get_rng_states() -> Dict[str, Any]:
    """Python, numpy and paddle RNG states as plain data (tuples, lists, arrays): what a checkpoint stores."""
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "paddle": [state.__getstate__() for state in paddle.get_rng_state()]}


def _generator_state(saved: Any) -> Any:
    """A paddle GeneratorState from its plain form (or from what an older checkpoint pickled)."""
    if isinstance(saved, GeneratorStateRecord):
        saved = saved.state
    if not isinstance(saved, (tuple, list)):
        return saved  # already a GeneratorState (states kept in memory by an older caller)
    cls = type(paddle.get_rng_state()[0])
    state = cls.__new__(cls)
    state.__setstate__(tuple(saved))
    return state


def set_rng_states(states: Optional[Dict[str, Any]]) -> None:
    if not states:
        return
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    paddle.set_rng_state([_generator_state(s) for s in states["paddle"]])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    paddle.seed(seed)


# ------------------------------------------------------------------------------------------------ file helpers

_UMASK = os.umask(0)
os.umask(_UMASK)
_DIR_MODE = 0o777 & ~_UMASK  # mkdtemp makes a private directory; checkpoints are shared like other outputs


def strip_suffix(path: os.PathLike) -> str:
    """``x/latest``, ``x/latest.pdparams``, ``x/latest.states``, ``x/latest.ckpt`` -> ``x/latest``."""
    path = str(path)
    for ext in (".pdparams", ".pdopt", ".states", POINTER_SUFFIX):
        if path.endswith(ext):
            return path[: -len(ext)]
    return path


def _fsync(path: str) -> None:
    """Flush a file or a directory (its entries: a rename) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a directory
        pass
    finally:
        os.close(fd)


def _plain(obj: Any) -> Any:
    """The state as plain data the restricted unpickler reads back: numpy scalars become numbers, paths strings."""
    if isinstance(obj, dict):
        return {_plain(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, tuple):  # a named tuple too: plain tuples only
        return tuple(_plain(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def _write_states(path: str, state: Dict[str, Any]) -> None:
    with open(path, "wb") as f:
        pickle.dump(_plain(state), f, protocol=4)
        f.flush()
        os.fsync(f.fileno())
    load_pickle(path)  # what the restricted loader would refuse fails this save, not the resume


def _paddle_save(obj: Any, path: str) -> None:
    paddle.save(obj, path)
    _fsync(path)


def _replace_symlink(target: str, link: str) -> None:
    """Point `link` at `target` in one rename (readers see the old link or the new one)."""
    tmp = f"{link}.{os.getpid()}-{random.getrandbits(32):08x}.tmp"
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        os.remove(tmp)
        raise


def _pointer(prefix: str) -> str:
    return prefix + POINTER_SUFFIX


def _staging_prefix(name: str) -> str:
    return f".{name}{POINTER_SUFFIX}-"


def checkpoint_base(prefix: os.PathLike) -> str:
    """Where a checkpoint's files are: ``x/latest.ckpt/latest`` (through the pointer), or ``x/latest`` for a
    checkpoint of the older layout."""
    prefix = strip_suffix(prefix)
    if os.path.isdir(_pointer(prefix)):
        return os.path.join(_pointer(prefix), os.path.basename(prefix))
    return prefix


def _remove_leftovers(directory: str, name: str, keep: str) -> None:
    """Earlier directories of checkpoint `name` (the one just replaced, and those of saves that were killed)
    and temporary links of killed saves."""
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        if entry.startswith(_staging_prefix(name)) and entry != keep and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif entry.startswith(name + ".") and entry.endswith(".tmp") and os.path.islink(path):
            os.remove(path)


def remove_checkpoint(prefix: os.PathLike) -> None:
    """Delete a checkpoint: its links and pointer first (it stops existing at once), then its files."""
    prefix = strip_suffix(prefix)
    directory, name = os.path.split(os.path.abspath(prefix))
    for path in [_pointer(prefix)] + [f"{prefix}.{part}" for part in PARTS]:
        if os.path.islink(path) or os.path.isfile(path):
            os.remove(path)
    _remove_leftovers(directory, name, keep="")


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
    """Write the checkpoint ``prefix`` as a whole (see the module docstring); returns the prefix.

    Until the pointer is replaced, the previous checkpoint of that name is untouched and is what a resume finds;
    afterwards the new one is, complete."""
    prefix = strip_suffix(prefix)
    directory, name = os.path.split(os.path.abspath(prefix))
    os.makedirs(directory, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=_staging_prefix(name), dir=directory)
    os.chmod(staging, _DIR_MODE)
    base = os.path.join(staging, name)
    _paddle_save(model.state_dict(), base + ".pdparams")
    files = {"pdparams": file_md5(base + ".pdparams")}
    if optimizer is not None:
        _paddle_save(optimizer_state_to_structural(optimizer.state_dict(), model), base + ".pdopt")
        files["pdopt"] = file_md5(base + ".pdopt")
    _write_states(base + ".states", dict(state, version=CHECKPOINT_VERSION, files=files))
    _fsync(staging)
    _replace_symlink(os.path.basename(staging), _pointer(prefix))  # the commit
    _fsync(directory)
    for part in PARTS:  # the names users know, through the pointer (they replace an older layout's files)
        link = f"{prefix}.{part}"
        if os.path.isfile(f"{base}.{part}"):
            _replace_symlink(f"{name}{POINTER_SUFFIX}/{name}.{part}", link)
        elif os.path.lexists(link):
            os.remove(link)
    _fsync(directory)
    _remove_leftovers(directory, name, keep=os.path.basename(staging))
    return prefix


def read_states(prefix: os.PathLike) -> Dict[str, Any]:
    """A checkpoint's ``.states`` (restricted unpickler); CheckpointError when it is missing."""
    prefix = strip_suffix(prefix)
    path = checkpoint_base(prefix) + ".states"
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {prefix}: {prefix}.states is missing, so training cannot resume from it "
                              f"(it holds the epoch, step, RNG and schedule); to start a new run from its weights "
                              f"use Global.pretrained_model={prefix} instead of Global.checkpoints")
    state = load_pickle(path, legacy_states=True)
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {prefix}: {path} holds a {type(state).__name__}, not a training state")
    return state


def load_checkpoint(prefix: os.PathLike, model: paddle.nn.Layer,
                    optimizer: Optional[paddle.optimizer.Optimizer] = None) -> Dict[str, Any]:
    """Restore the model (and optimizer, with its LR schedule) from a checkpoint; returns the saved state.
    Every part must be there and belong to the same save (the MD5s in ``.states``)."""
    prefix = strip_suffix(prefix)
    base = checkpoint_base(prefix)
    if not os.path.isfile(base + ".pdparams"):
        raise CheckpointError(f"checkpoint {prefix}: {prefix}.pdparams does not exist")
    state = read_states(prefix)
    for kind, digest in state.get("files", {}).items():
        path = f"{base}.{kind}"
        if not os.path.isfile(path) or file_md5(path) != digest:
            raise CheckpointError(f"checkpoint {prefix}: {prefix}.{kind} does not belong to {prefix}.states "
                                  f"(missing or overwritten by another save)")
    params = load_state_dict(base + ".pdparams")
    missing, unexpected = model.set_state_dict(params)
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {prefix} does not fit the model: missing {list(missing)[:5]}, "
                              f"unexpected {list(unexpected)[:5]}")
    if optimizer is not None:
        if not os.path.isfile(base + ".pdopt"):
            raise CheckpointError(f"checkpoint {prefix}: {prefix}.pdopt is missing (needed to resume training)")
        optimizer.set_state_dict(optimizer_state_from_structural(load_state_dict(base + ".pdopt"), model))
    return state


# ---------------------------------------------------------------------------------- a run's output directory

def run_checkpoints(directory: os.PathLike) -> List[str]:
    """The checkpoints a training run left in `directory` (latest, best_accuracy, iter_epoch_N), by name."""
    if not os.path.isdir(directory):
        return []
    found = set()
    for entry in os.listdir(directory):
        for suffix in (".pdparams", ".pdopt", ".states", POINTER_SUFFIX):
            stem = entry[: -len(suffix)] if entry.endswith(suffix) else None
            if stem in RUN_CHECKPOINT_NAMES or (
                    stem and stem.startswith(RUN_CHECKPOINT_PATTERN) and stem[len(RUN_CHECKPOINT_PATTERN):].isdigit()):
                found.add(stem)
    return sorted(found)


def check_save_dir(save_dir: os.PathLike, checkpoints: Optional[str], overwrite: bool) -> List[str]:
    """A new run must not overwrite another run's checkpoints: SaveDirInUseError when `save_dir` holds some,
    unless this run resumes from that directory (`checkpoints` in it) or `overwrite` is set. Returns the
    checkpoints that `overwrite` will replace."""
    existing = run_checkpoints(save_dir)
    if not existing:
        return []
    if checkpoints and os.path.realpath(os.path.dirname(os.path.abspath(strip_suffix(checkpoints)))) == \
            os.path.realpath(save_dir):
        return []
    if overwrite:
        return existing
    latest = os.path.join(str(save_dir), "latest")
    raise SaveDirInUseError(
        f"{save_dir} holds the checkpoints of another run ({', '.join(existing)}) and this run would overwrite "
        f"them. Resume that run with -o Global.checkpoints={latest}, or start over there with --overwrite "
        f"(Global.overwrite: true in a config or the API), or choose another Global.save_model_dir")


# ------------------------------------------------------------------------------------------ pre-trained weights

def bundled_weights(spec: str) -> str:
    """'bundled:rec_en' -> the weights of a model bundled with the package (paddle_pp/models/rec_en/model)."""
    if not spec.startswith("bundled:"):
        return spec
    from paddle_pp.resources import BUNDLED_MODELS_DIR

    return str(BUNDLED_MODELS_DIR / spec.split(":", 1)[1] / "model")


def resolve_pretrained(spec: str, model_name: Optional[str]) -> str:
    """'official' -> the imported official weights of ``model_name``; 'official:rec' -> those of 'rec' (a new
    model starting from an official one, e.g. an English recognizer); 'bundled:rec_en' -> a bundled model's
    weights; else a .pdparams path (suffix optional)."""
    if spec == "official" or spec.startswith("official:"):
        from paddle_pp.weights import import_official

        name = spec.split(":", 1)[1] if ":" in spec else model_name
        if not name:
            raise ValueError("Global.pretrained_model 'official' needs Global.model_name (det, cls or rec)")
        return str(Path(import_official(name)) / mdir.WEIGHTS)
    path = strip_suffix(bundled_weights(spec)) + ".pdparams"
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pre-trained weights not found: {spec} (looked for {path})")
    return path


def load_pretrained_weights(model: paddle.nn.Layer, path: str) -> Dict[str, List[Any]]:
    """Load what fits; parameters whose shape differs (a new dictionary's head) or which the file lacks keep their
    initialisation. Returns {'loaded', 'shape_mismatch' [(name, file shape, model shape)], 'missing',
    'unexpected'} for the log."""
    saved = load_state_dict(path)
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
    directory = Path(strip_suffix(bundled_weights(spec))).parent
    if mdir.is_model_dir(directory):
        g = dict(mdir.read_config(directory)["Global"])
        if g.get("character_dict_path") and not os.path.isabs(g["character_dict_path"]):
            candidate = directory / g["character_dict_path"]
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
    from paddle_pp.utils.dicts import rec_characters

    saved = load_state_dict(path)
    weight_key, bias_key = f"{head}.weight", f"{head}.bias"
    if weight_key not in saved:
        return 0
    source = ["blank"] + rec_characters(source_global)[0]
    target = ["blank"] + rec_characters(target_global)[0]
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

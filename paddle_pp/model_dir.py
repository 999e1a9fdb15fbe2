"""The model directory: the one format every paddle-pp model is stored in, read, written and checked here.

    <dir>/
      config.yml                   the config the model was built from; its Inference and PostProcess sections
                                   are the defaults every engine uses (always there: it marks a model directory)
      model.pdparams               dygraph weights (the name is Global.pretrained_model)
      inference.json | .pdmodel    an exported program, PIR or legacy format, with
      inference.pdiparams          its parameters
      model.onnx                   the ONNX form (of a PACT model: its fake-quant graph, slim/int8_onnx.py)
      model_int8.onnx              a PACT model: the QDQ ONNX onnxruntime runs with int8 kernels (--precision int8)
      <dictionary>.txt             rec: the character dictionary (Global.character_dict_path, a file name)
      pruned_shapes.json           a pruned model: the shapes a freshly built model is given before loading
      manifest.json                where an imported / bundled model came from (source, digests, version)
      slim_report.json             a slim model: the before/after measurements

Writers are crash-safe: a directory written as a whole (an import, a publication) is filled in a temporary
directory beside the target and renamed into place; files added to an existing directory are each written to
a temporary name and renamed, config.yml last among the dygraph files and the program file last among the
exported ones (an interrupted write never leaves a directory that looks complete).

This module sits above `config` and `modeling` (loading builds the model); neither imports it.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from paddle_pp.utils.files import write_atomic, write_json_atomic

CONFIG = "config.yml"
WEIGHTS = "model.pdparams"
INFERENCE_PREFIX = "inference"
PIR_MODEL = "inference.json"
LEGACY_MODEL = "inference.pdmodel"
PARAMS = "inference.pdiparams"
ONNX_MODEL = "model.onnx"
INT8_ONNX_MODEL = "model_int8.onnx"
MANIFEST = "manifest.json"
PRUNED_SHAPES = "pruned_shapes.json"
SLIM_REPORT = "slim_report.json"
MODEL_TYPES = ("det", "cls", "rec")
FORMATS = ("dygraph", "pir", "legacy", "onnx", "onnx_int8")


class ModelDirError(FileNotFoundError):
    """A directory that is not a usable model directory; the message names it and what is wrong. (A
    FileNotFoundError, as the missing-file checks it replaced were.)"""


class ImportMismatchError(ValueError):
    """Weights that do not fit the model built from the config (names or shapes)."""


# ------------------------------------------------------------------------------------------------ reading

def is_model_dir(directory: os.PathLike) -> bool:
    return (Path(directory) / CONFIG).is_file()


def read_config(directory: os.PathLike) -> Dict[str, Any]:
    """The directory's config.yml, loaded (bases merged); a named error when there is none."""
    from paddle_pp.config import load_config

    directory = Path(directory)
    if not directory.is_dir():
        raise ModelDirError(f"{directory}: not a paddle-pp model directory (no such directory)")
    if not is_model_dir(directory):
        raise ModelDirError(f"{directory}: not a paddle-pp model directory ({CONFIG} is missing)")
    return load_config(directory / CONFIG)


def weights_name(cfg: Dict[str, Any]) -> str:
    """The dygraph weights file a config names (Global.pretrained_model), model.pdparams by default (also
    for a training config's 'official', which names where training started, not a file here)."""
    value = cfg.get("Global", {}).get("pretrained_model")
    return str(value) if value and not str(value).startswith("official") else WEIGHTS


def read_json_record(path: Path) -> Optional[Dict[str, Any]]:
    """A JSON file of the directory, or None when it is absent; ImportMismatchError when it is unreadable."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ImportMismatchError(f"{path}: unreadable record ({error})") from None


def read_pruned_shapes(directory: os.PathLike) -> Optional[Dict[str, Any]]:
    return read_json_record(Path(directory) / PRUNED_SHAPES)


def pruned_shapes_beside(weights: os.PathLike) -> Optional[Dict]:
    """The pruned-shape record next to a weights file (`<dir>/pruned_shapes.json`), or None for an unpruned
    model. slim/prune.py writes it beside model.pdparams and the trainer beside its checkpoints, so a pruned
    model can be fine-tuned further, resumed and exported like any other."""
    return read_pruned_shapes(Path(str(weights)).parent)


def read_manifest(directory: os.PathLike) -> Optional[Dict[str, Any]]:
    """manifest.json, or None when it is missing or unreadable (an import then simply runs again)."""
    try:
        return read_json_record(Path(directory) / MANIFEST)
    except ImportMismatchError:
        return None


def inference_files(directory: os.PathLike, prefer_legacy: bool = False) -> Optional[Tuple[Path, Path]]:
    """(program file, parameters file) of the exported model, PIR first unless `prefer_legacy`; None if none."""
    directory = Path(directory)
    for name in ((LEGACY_MODEL, PIR_MODEL) if prefer_legacy else (PIR_MODEL, LEGACY_MODEL)):
        if (directory / name).is_file() and (directory / PARAMS).is_file():
            return directory / name, directory / PARAMS
    return None


def has_inference_model(directory: os.PathLike) -> bool:
    return inference_files(directory) is not None


def has_legacy_program(directory: os.PathLike) -> bool:
    """A legacy export (what Paddle-Lite's opt reads, and what the paddle engine runs fastest) with its parameters."""
    return (Path(directory) / LEGACY_MODEL).is_file() and (Path(directory) / PARAMS).is_file()


def formats(directory: os.PathLike, cfg: Optional[Dict[str, Any]] = None) -> List[str]:
    """The forms the model is stored in, of FORMATS: dygraph weights, PIR / legacy programs, ONNX."""
    directory = Path(directory)
    found = []
    if (directory / weights_name(cfg or {})).is_file():
        found.append("dygraph")
    for fmt, program in (("pir", PIR_MODEL), ("legacy", LEGACY_MODEL)):
        if (directory / program).is_file() and (directory / PARAMS).is_file():
            found.append(fmt)
    if (directory / ONNX_MODEL).is_file():
        found.append("onnx")
    if (directory / INT8_ONNX_MODEL).is_file():
        found.append("onnx_int8")
    return found


def dictionary_file(directory: os.PathLike, cfg: Dict[str, Any]) -> Optional[Path]:
    """rec: the dictionary the config names, looked up as the predictors do; None for det and cls."""
    if cfg["Architecture"]["model_type"] != "rec":
        return None
    from paddle_pp.utils.dicts import resolve_dict_path

    return resolve_dict_path(cfg, Path(directory))


def apply_pruned_shapes(model, record: Dict) -> None:
    """Give a freshly built model the shapes of a pruned one (slim/prune.py writes the record): parameters
    {structural name: shape} are re-allocated with that shape, conv layers {name: groups} get their groups."""
    import numpy as np
    import paddle

    params = dict(model.named_parameters())
    layers = dict(model.named_sublayers())
    for name, shape in record.get("parameters", {}).items():
        if name not in params:
            raise ImportMismatchError(f"{PRUNED_SHAPES}: the model has no parameter '{name}'")
        params[name].value().get_tensor().set(np.zeros(shape, dtype="float32"), paddle.CPUPlace())
    for name, groups in record.get("groups", {}).items():
        if name not in layers:
            raise ImportMismatchError(f"{PRUNED_SHAPES}: the model has no layer '{name}'")
        layers[name]._groups = int(groups)


def load_model(directory: os.PathLike):
    """Build the model described by `<dir>/config.yml` and load `<dir>/<pretrained_model>`, in eval mode.
    A pruned model's directory also holds `pruned_shapes.json` (see `apply_pruned_shapes`)."""
    from paddle_pp.modeling.architecture import build_model
    from paddle_pp.utils.safe_pickle import load_state_dict

    directory = Path(directory)
    cfg = read_config(directory)
    model = build_model(cfg)
    record = read_pruned_shapes(directory)
    if record is not None:
        apply_pruned_shapes(model, record)
    weights = directory / weights_name(cfg)
    if not weights.is_file():
        raise ModelDirError(f"{directory}: weights file {weights.name} is missing")
    missing, unexpected = model.set_state_dict(load_state_dict(weights))  # never runs code from the file
    if missing or unexpected:
        raise ImportMismatchError(f"{weights}: does not fit {cfg['Global'].get('config_path')}: "
                                  f"missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]}")
    model.eval()
    return model


def validate(directory: os.PathLike) -> Dict[str, Any]:
    """Check that `directory` is a usable model directory and return its config; ModelDirError naming the
    directory and the first problem otherwise. Reads files only (no model is built)."""
    directory = Path(directory)
    try:
        cfg = read_config(directory)
    except ModelDirError:
        raise
    except Exception as error:  # YAML syntax, a missing base config, ...: say which file
        raise ModelDirError(f"{directory}: {CONFIG} cannot be read ({error})") from None
    model_type = (cfg.get("Architecture") or {}).get("model_type")
    if model_type not in MODEL_TYPES:
        raise ModelDirError(f"{directory}: {CONFIG} has Architecture.model_type {model_type!r}, "
                            f"expected one of {', '.join(MODEL_TYPES)}")
    for program in (PIR_MODEL, LEGACY_MODEL):
        if (directory / program).is_file() and not (directory / PARAMS).is_file():
            raise ModelDirError(f"{directory}: {program} without {PARAMS} (an interrupted export?)")
    if not formats(directory, cfg):
        raise ModelDirError(f"{directory}: no model in it ({weights_name(cfg)}, {PIR_MODEL} or {LEGACY_MODEL} "
                            f"with {PARAMS}, or {ONNX_MODEL})")
    if model_type == "rec":
        try:
            dictionary_file(directory, cfg)
        except Exception as error:  # FileNotFoundError, or the official package missing
            raise ModelDirError(f"{directory}: {error}") from None
    try:
        read_pruned_shapes(directory)
    except ImportMismatchError as error:
        raise ModelDirError(str(error)) from None
    return cfg


def describe(directory: os.PathLike) -> Dict[str, Any]:
    """What a (valid) model directory holds: kind (det/cls/rec), algorithm, formats, file sizes, dictionary,
    whether it is pruned or quantized, and the source and format version when the directory records them."""
    directory = Path(directory)
    cfg = validate(directory)
    files = {p.name: p.stat().st_size for p in sorted(directory.iterdir()) if p.is_file()}
    dictionary = dictionary_file(directory, cfg)
    manifest = read_manifest(directory) or {}
    report = read_json_record(directory / SLIM_REPORT) or {}
    return {
        "path": str(directory),
        "kind": cfg["Architecture"]["model_type"],
        "algorithm": cfg["Architecture"].get("algorithm"),
        "formats": formats(directory, cfg),
        "files": files,
        "size_bytes": sum(files.values()),
        "dictionary": None if dictionary is None else (dictionary.name if dictionary.parent == directory
                                                       else str(dictionary)),
        "pruned": (directory / PRUNED_SHAPES).is_file(),
        "slim": report.get("kind"),
        "source": manifest.get("source"),
        "version": manifest.get("format_version"),
    }


# ------------------------------------------------------------------------------------------------ writing

def replace_directory(target: os.PathLike, fill: Callable[[Path], None]) -> Path:
    """Write a whole model directory: `fill(staging)` writes the files into a fresh directory beside `target`,
    which then takes the target's place (the old one is moved aside first and removed after). A failure in
    `fill` leaves the old directory as it was and no staging directory behind."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    old = None
    try:
        fill(staging)
        os.chmod(staging, 0o755)  # mkdtemp makes it private; model directories are meant to be shared
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old)  # onto an empty directory: allowed, and unique per writer
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return target


def copy_files(source: os.PathLike, directory: os.PathLike) -> None:
    """Copy the files (not the sub-directories, nor temporaries) of a model directory into `directory`."""
    for item in sorted(Path(source).iterdir()):
        if item.is_file() and not item.name.endswith(".tmp"):
            shutil.copyfile(item, Path(directory) / item.name)


def write_json(directory: os.PathLike, name: str, value: Any, **dumps_options: Any) -> Path:
    return write_json_atomic(Path(directory) / name, value, **dumps_options)


def write_weights(directory: os.PathLike, model) -> Path:
    import paddle

    return write_atomic(Path(directory) / WEIGHTS, lambda tmp: paddle.save(model.state_dict(), str(tmp)))


def write_config(directory: os.PathLike, cfg: Dict[str, Any], source_dir: Optional[os.PathLike] = None
                 ) -> Dict[str, Any]:
    """config.yml (and, for rec, the dictionary beside it, found from `source_dir`) so the directory is
    self-contained; returns the config as written (config_path dropped, the dictionary named by file name)."""
    from paddle_pp.config import save_config

    directory = Path(directory)
    cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items()}
    cfg["Global"] = dict(cfg.get("Global", {}))
    cfg["Global"].pop("config_path", None)
    if cfg["Architecture"]["model_type"] == "rec":
        from paddle_pp.utils.dicts import resolve_dict_path

        dict_path = resolve_dict_path(cfg, Path(source_dir) if source_dir else None)
        if dict_path.resolve() != (directory / dict_path.name).resolve():
            write_atomic(directory / dict_path.name, lambda tmp: shutil.copyfile(dict_path, tmp))
        cfg["Global"]["character_dict_path"] = dict_path.name
    save_config(cfg, directory / CONFIG)
    return cfg


def source_dir_of(cfg: Dict[str, Any]) -> Optional[Path]:
    """The folder a loaded config came from (where its relative dictionary path may point), if known."""
    path = cfg.get("Global", {}).get("config_path")
    return Path(path).parent if path else None


def write_weights_dir(model, cfg: Dict[str, Any], save_dir: os.PathLike,
                      extra: Optional[Dict[str, Any]] = None) -> Path:
    """The dygraph model directory `load_model` reads: model.pdparams, `extra` JSON files (a pruned model's
    pruned_shapes.json), the rec dictionary and config.yml (pretrained_model: model.pdparams), in that order:
    config.yml, written last, makes it a model directory."""
    save_dir = Path(save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    write_weights(save_dir, model)
    for name, value in (extra or {}).items():
        write_json(save_dir, name, value)
    out = dict(cfg, Global=dict(cfg["Global"], pretrained_model=WEIGHTS, checkpoints=None))
    write_config(save_dir, out, source_dir_of(cfg))
    return save_dir


def install_inference_files(staging: os.PathLike, directory: os.PathLike) -> None:
    """Move an exported program (inference.*) from `staging` into `directory`: the parameters first and the
    program file last, so a program file is never there without the parameters that go with it."""
    def order(path: Path) -> int:
        return {PARAMS: 0, PIR_MODEL: 2, LEGACY_MODEL: 2}.get(path.name, 1)

    for path in sorted(Path(staging).glob(f"{INFERENCE_PREFIX}.*"), key=order):
        os.replace(path, Path(directory) / path.name)


def save_inference(directory: os.PathLike, save: Callable[[str], None]) -> Path:
    """Write an exported program into `directory`: `save(prefix)` (paddle.jit.save, a quantizer's
    save_quantized_model) writes `<prefix>.json|.pdmodel` + `<prefix>.pdiparams` into a temporary directory
    inside it, which are then installed (`install_inference_files`)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=directory))
    try:
        save(str(staging / INFERENCE_PREFIX))
        install_inference_files(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def publish(save_dir: os.PathLike, target: os.PathLike) -> Path:
    """Copy a model directory's files (not its working sub-directories) to `target`, replacing it as a whole:
    a half-copied model directory is never left where predictors look."""
    return replace_directory(target, lambda staging: copy_files(save_dir, staging))


def main(argv: Optional[List[str]] = None) -> int:
    """`python -m paddle_pp.model_dir DIR...`: validate each directory and print what it holds (JSON)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m paddle_pp.model_dir",
                                     description="Validate paddle-pp model directories and describe them (JSON).")
    parser.add_argument("directories", nargs="+", metavar="DIR")
    args = parser.parse_args(argv)
    status = 0
    for directory in args.directories:
        try:
            print(json.dumps(describe(directory), indent=1))
        except (ModelDirError, ImportMismatchError) as error:
            print(f"error: {error}", file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    raise SystemExit(main())

"""Export a model to a Paddle Inference directory (PIR or legacy format) and to ONNX.

An exported directory is a model directory (paddle_pp.model_dir, which writes it): `config.yml` (its Inference
and PostProcess sections are the defaults every engine uses), the dictionary for rec, and `inference.json`
(PIR, default) or `inference.pdmodel` (legacy, what Paddle-Lite's opt reads) with `inference.pdiparams`;
`model.onnx` for ONNX.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from paddle_pp import model_dir as mdir
from paddle_pp.model_dir import LEGACY_MODEL, ONNX_MODEL, PARAMS, PIR_MODEL  # noqa: F401 (the file names)
from paddle_pp.model_dir import write_weights_dir  # noqa: F401 (export's dygraph form)


def input_spec_shape(cfg: Dict[str, Any]) -> List[Optional[int]]:
    """Dynamic batch and width (and height for det): det [N,3,-1,-1], cls [N,3,48,-1], rec [N,3,32,-1]."""
    model_type = cfg["Architecture"]["model_type"]
    if model_type == "det":
        return [None, 3, None, None]
    channels, height, _ = cfg["Inference"]["image_shape"]
    return [None, int(channels), int(height), None]


def legacy_ir_active() -> bool:
    return os.environ.get("FLAGS_enable_pir_api", "").lower() in ("0", "false")


def _patch_tensor_device_for_legacy_export() -> None:
    """Legacy-format export of nn.LSTM fails with 'Unknown place type: Place(undefined:0)'.

    While converting dygraph tensors to static variables, Paddle 3.3.1 reads every public attribute of
    each tensor, `device` included, and `device` raises for the LSTM's not-yet-initialised state tensors.
    Answering None for those is harmless: the attribute is only collected, never used for them.
    """
    import paddle

    device = getattr(paddle.Tensor, "device", None)
    if not isinstance(device, property) or getattr(device.fget, "_paddle_pp_patched", False):
        return
    original = device.fget

    def device_or_none(self):
        try:
            return original(self)
        except ValueError:
            return None

    device_or_none._paddle_pp_patched = True
    paddle.Tensor.device = property(device_or_none)


def export_inference(model, cfg: Dict[str, Any], save_dir: os.PathLike, source_dir: Optional[os.PathLike] = None,
                     legacy: bool = False) -> Path:
    """Save `model` for Paddle Inference. `legacy=True` needs the legacy IR (see `export_in_subprocess`)."""
    import paddle
    from paddle.static import InputSpec

    if legacy and not legacy_ir_active():
        raise RuntimeError("the legacy format needs FLAGS_enable_pir_api=0 before paddle is imported; "
                           "use export_in_subprocess(..., legacy=True)")
    if legacy:
        _patch_tensor_device_for_legacy_export()
    model.eval()
    spec = [InputSpec(input_spec_shape(cfg), "float32", "x")]
    mdir.save_inference(save_dir, lambda prefix: paddle.jit.save(model, prefix, input_spec=spec))
    mdir.write_config(save_dir, cfg, source_dir)
    return Path(save_dir)


def export_in_subprocess(model_dir: os.PathLike, save_dir: os.PathLike, legacy: bool = False, onnx: bool = False,
                         log_file: Optional[os.PathLike] = None) -> Path:
    """Export a model directory (config.yml + weights) in a fresh process; `onnx=True` also converts the
    export to `model.onnx` there.

    The IR is chosen when paddle is imported, so the legacy format (and exports from a process that
    already ran dygraph code in the other IR) are made in a child process. Paddle and Paddle2ONNX print
    from C++ as well as Python: the child's whole output is appended to `log_file` when given (kept out of
    sight otherwise), and a failure names the model, the log file and the last lines of the output.
    """
    env = dict(os.environ)
    env["FLAGS_enable_pir_api"] = "0" if legacy else "1"
    env[_POLYGRAPHY_AUTOINSTALL] = "0"
    cmd = [sys.executable, "-m", "paddle_pp.export", str(model_dir), str(save_dir)]
    cmd += (["--legacy"] if legacy else []) + (["--onnx"] if onnx else [])
    if log_file is None:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        output, where = proc.stderr, ""
    else:
        log_file = Path(log_file)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab") as log:
            start = log.tell()
            proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        with open(log_file, "rb") as log:
            log.seek(start)
            output, where = log.read().decode("utf-8", "replace"), f" (its output is in {log_file})"
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-5:])
        raise RuntimeError(f"export of {model_dir} failed with exit status {proc.returncode}{where}:\n{tail}")
    return Path(save_dir)


# paddle2onnx 2.1 sets this to "1" just before it imports Polygraphy's constant folding, which lets Polygraphy
# pip-install a module it misses (it installed sympy in a fresh venv). See _polygraphy_never_installs.
_POLYGRAPHY_AUTOINSTALL = "POLYGRAPHY_AUTOINSTALL_DEPS"


@contextlib.contextmanager
def _polygraphy_never_installs() -> Iterator[None]:
    """Keep Polygraphy from installing anything while paddle2onnx runs it.

    Polygraphy reads POLYGRAPHY_AUTOINSTALL_DEPS once, when `polygraphy.config` is first imported, into
    `config.AUTOINSTALL_DEPS`, and checks that attribute each time before installing. Importing the config
    first and setting the attribute makes paddle2onnx's later change of the variable ineffective; the
    variable itself is put back afterwards so child processes do not inherit paddle2onnx's "1".
    """
    before = os.environ.get(_POLYGRAPHY_AUTOINSTALL)
    try:
        from polygraphy import config
    except ImportError:  # no Polygraphy: paddle2onnx skips the folding, nothing to install either
        config = None
    previous = getattr(config, "AUTOINSTALL_DEPS", False)
    if config is not None:
        config.AUTOINSTALL_DEPS = False
    try:
        yield
    finally:
        if config is not None:
            config.AUTOINSTALL_DEPS = previous
        if before is None:
            os.environ.pop(_POLYGRAPHY_AUTOINSTALL, None)
        else:
            os.environ[_POLYGRAPHY_AUTOINSTALL] = before


def export_onnx(inference_dir: os.PathLike, save_file: Optional[os.PathLike] = None, opset: int = 11) -> Path:
    """Convert an exported Paddle Inference directory to ONNX with paddle2onnx (Polygraphy folds constants;
    it never installs packages here)."""
    import paddle2onnx

    inference_dir = Path(inference_dir)
    model_file = inference_dir / PIR_MODEL
    if not model_file.is_file():
        model_file = inference_dir / LEGACY_MODEL
    if not model_file.is_file():
        raise FileNotFoundError(f"{inference_dir}: no {PIR_MODEL} or {LEGACY_MODEL} to convert")
    save_file = Path(save_file) if save_file else inference_dir / ONNX_MODEL
    tmp = save_file.with_name(f".{save_file.name}.tmp")
    with _polygraphy_never_installs():
        paddle2onnx.export(str(model_file), str(inference_dir / PARAMS), str(tmp), opset_version=opset,
                           enable_onnx_checker=True, verbose=False)
    os.replace(tmp, save_file)
    return save_file


def _main(argv: Optional[List[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="internal: export a model directory (see deploy/export_model.py)")
    parser.add_argument("model_dir")
    parser.add_argument("save_dir")
    parser.add_argument("--legacy", action="store_true")
    parser.add_argument("--onnx", action="store_true", help="also convert the export to model.onnx")
    args = parser.parse_args(argv)
    model = mdir.load_model(args.model_dir)
    cfg = mdir.read_config(args.model_dir)
    export_inference(model, cfg, args.save_dir, source_dir=args.model_dir, legacy=args.legacy)
    if args.onnx:
        export_onnx(args.save_dir)
    return 0


if __name__ == "__main__":
    sys.exit(_main())

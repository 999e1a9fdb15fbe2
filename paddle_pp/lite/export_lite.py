"""Convert the PP-OCR models to Paddle-Lite `.nb` files with opt (paddlelite 2.13rc0).

    python deploy/lite/export_lite.py --out lite/arm                                # official fp32, for ARM
    python deploy/lite/export_lite.py --out lite/arm_int8 --quant int8              # + dynamic int8 weights
    python deploy/lite/export_lite.py --out lite/x86 --valid_targets x86            # runs here (--engine lite)
    python deploy/lite/export_lite.py --out lite/slim --slim                        # paddle_pp/models/slim/{det,cls,rec}
    python deploy/lite/export_lite.py --out lite/slim_en --slim --lang en           # ... with slim/rec_en

Writes OUT/det.nb, OUT/cls.nb, OUT/rec.nb, OUT/lite_manifest.json (opt version, targets, sizes, sources),
OUT/ocr_config.txt (the C++ demo's settings, generated from configs/*.yml) and OUT/ppocr_keys_v1.txt, i.e. a
directory to push to the device as it is.

Sources, per model: --det_model_dir / --cls_model_dir / --rec_model_dir; else with --slim
paddle_pp/models/slim/<name> (or $PADDLE_PP_SLIM_DIR/<name>); else the official weights. `--lang` picks the
recognizer as PPOCR(lang=...) does (configs/system.yml's rec_models: `rec` for ch, the bundled `rec_en` for en), with
--slim its slim form (models/slim/rec_en), or the float one where system.yml lets the stage fall back. A source
directory holding a legacy export (inference.pdmodel + inference.pdiparams) is converted as it is; a model directory
(config.yml + model.pdparams) is first exported in the legacy format with a batch size of 1, which Paddle-Lite's
LSTM needs (the engines feed one item at a time). opt runs from its own Python 3.10 venv
(made once by `paddle-pp lite setup`). Deploy with the Paddle-Lite inference library of the same
version as opt: v2.13-rc.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from paddle_pp.lite import quant_weights
from paddle_pp.model_dir import LEGACY_MODEL, PARAMS, has_legacy_program

MODELS = ("det", "cls", "rec")
MANIFEST = "lite_manifest.json"
QUANT_TYPES = {"int8": "QUANT_INT8", "int16": "QUANT_INT16"}
RUNTIME_LIBRARIES = {
    "arm": "Paddle-Lite v2.13-rc ARM inference library (GitHub release v2.13-rc: "
           "inference_lite_lib.android.armv8...tar.gz for Android, inference_lite_lib.armlinux.armv8...tar.gz "
           "for ARM Linux)",
    "x86": "Paddle-Lite v2.13-rc x86 library (paddlelite==2.13rc0 Python wheel here)",
}


class ExportError(RuntimeError):
    pass


def converts_as_given(directory: Path) -> bool:
    """Whether `directory`'s legacy export is converted as it is: one given as a source (a slim model, your own
    export). The official models' cache directories are model directories: the legacy program the paddle engine
    keeps there has a free batch size, which opt cannot convert, so they are exported again with batch 1."""
    from paddle_pp.weights import OFFICIAL_NAMES, model_dir

    cached = directory.name in OFFICIAL_NAMES and directory.resolve() == model_dir(directory.name).resolve()
    return has_legacy_program(directory) and not cached


def model_source(name: str, lang: Optional[str]) -> str:
    """The project's model behind a stage, as PPOCR(lang=...) picks it: `det`, `cls`, `rec` or `rec_en`
    (lang None: configs/system.yml's lang)."""
    from paddle_pp.ocr import stage_sources

    try:
        return stage_sources(lang)[name]
    except ValueError as exc:  # an unknown lang
        raise ExportError(f"--lang {lang}: {exc}") from None


def float_source_dir(source: str) -> Path:
    """An official model (imported into the cache) or a bundled one (rec_en), as a model directory."""
    from paddle_pp.resources import BUNDLED_MODELS_DIR
    from paddle_pp.weights import import_official

    bundled = BUNDLED_MODELS_DIR / source
    return bundled if (bundled / "model.pdparams").is_file() else Path(import_official(source))


def source_dir(name: str, given: Optional[str], slim: bool, lang: Optional[str] = None) -> Path:
    """The directory to convert for one model (see the module docstring)."""
    if given:
        path = Path(given)
        if not path.is_dir():
            raise ExportError(f"--{name}_model_dir {path}: no such directory")
        return path
    source = model_source(name, lang)
    if slim:
        from paddle_pp.ocr import slim_falls_back, slim_root  # the same place and rule as PPOCR(slim=True)

        path = slim_root() / source
        if slim_falls_back(name, source):
            return float_source_dir(source)
        if not path.is_dir() or not (has_legacy_program(path) or (path / "model.pdparams").is_file()):
            raise ExportError(
                f"--slim: no slim {source} model in {path}. Put the slim model there as a legacy export "
                f"(inference.pdmodel + inference.pdiparams + config.yml, e.g. from paddleslim's save_quantized_model "
                f"or deploy/export_model.py --legacy) or as a model directory (config.yml + model.pdparams), "
                f"set $PADDLE_PP_SLIM_DIR, or pass --{name}_model_dir")
        return path
    return float_source_dir(source)


def export_legacy_batch1(model_dir: Path, save_dir: Path) -> Path:
    """Legacy-format export with a batch size of 1, in a child process (the IR is fixed at paddle import)."""
    env = dict(os.environ, FLAGS_enable_pir_api="0")
    cmd = [sys.executable, "-m", "paddle_pp.lite.export_lite", "--_export_legacy", str(model_dir), str(save_dir)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ExportError(f"legacy export of {model_dir} failed:\n{proc.stderr.strip()[-2000:]}")
    return save_dir


def _export_legacy_child(model_dir: str, save_dir: str) -> int:
    import paddle_pp.export as export
    from paddle_pp.config import load_config
    from paddle_pp.weights import load_model_dir

    dynamic = export.input_spec_shape
    export.input_spec_shape = lambda cfg: [1] + list(dynamic(cfg))[1:]  # batch 1: Paddle-Lite's LSTM needs it
    cfg = load_config(Path(model_dir) / "config.yml")
    model = load_model_dir(model_dir)
    _lite_compatible_cls_head(model)
    _lite_compatible_turn(model)
    export.export_inference(model, cfg, save_dir, source_dir=model_dir, legacy=True)
    return 0


def _lite_compatible_cls_head(model) -> None:
    """ClsHead flattens [N, C, 1, 1] with flatten_contiguous_range, which makes opt 2.13-rc crash (segfault in
    variable_place_inference_pass) for --valid_targets x86; a squeeze of the two unit axes is the same numbers."""
    import types

    import paddle
    import paddle.nn.functional as F
    from paddle_pp.modeling.heads import cls_head

    head = getattr(model, "head", None)
    if not isinstance(head, cls_head.ClsHead):
        return

    def forward(self, x):
        x = paddle.squeeze(cls_head.global_avg_pool(x), axis=[2, 3])
        logits = self.fc(x)
        return logits if self.training else F.softmax(logits, axis=1)

    head.forward = types.MethodType(forward, head)


def _lite_compatible_turn(model) -> None:
    """FlipAverageClassifier turns the crop with a reversed strided slice (ONNX needs it: its flip wants
    fixed sizes), which Paddle-Lite 2.13-rc rejects at run time (StridedSliceOutDims); Lite has a flip kernel."""
    import paddle

    if getattr(model, "flip_average", False):
        model.turn_180 = lambda x: paddle.flip(x, axis=[2, 3])


def opt_version() -> str:
    from paddle_pp.engine.lite import lite_opt

    proc = subprocess.run([str(lite_opt()), "--version"], capture_output=True, text=True)
    return (proc.stdout or proc.stderr).strip().splitlines()[-1].strip()


def is_quantized(legacy_dir: Path) -> bool:
    """A model saved by slim/quant.py: its program holds fake quantize-dequantize ops (every program lists
    the quantize op types in its op-version table, so the bare word is not enough)."""
    return b"quantize_dequantize" in (legacy_dir / LEGACY_MODEL).read_bytes()


def run_opt(legacy_dir: Path, out_stem: Path, valid_targets: str, quant: Optional[str]) -> Path:
    from paddle_pp.engine.lite import lite_opt

    cmd = [str(lite_opt()), f"--model_file={legacy_dir / LEGACY_MODEL}", f"--param_file={legacy_dir / PARAMS}",
           "--optimize_out_type=naive_buffer", f"--optimize_out={out_stem}", f"--valid_targets={valid_targets}"]
    if quant:
        cmd += ["--quant_model=true", f"--quant_type={QUANT_TYPES[quant]}"]
    if valid_targets == "x86" and is_quantized(legacy_dir):
        raise ExportError(f"{legacy_dir}: a quantized (PACT) model, which Paddle-Lite converts for "
                          f"arm only (its x86 target has no kernels for the quantize ops); use --valid_targets arm, "
                          f"or run it on x86 with --engine paddle")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    nb = out_stem.with_name(out_stem.name + ".nb")
    if proc.returncode != 0 or not nb.is_file():
        log = (proc.stdout + proc.stderr).strip()
        raise ExportError(f"opt failed for {legacy_dir} ({' '.join(cmd[1:])}):\n{log[-3000:]}")
    return nb


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_lite(out: Path, valid_targets: str = "arm", quant: Optional[str] = None, slim: bool = False,
                model_dirs: Optional[Dict[str, Optional[str]]] = None, work_dir: Optional[Path] = None,
                log=print, lang: Optional[str] = None) -> Dict:
    """Convert det, cls and rec into `out`; returns the manifest."""
    from paddle_pp.lite.make_cpp_config import CONFIG_NAME, write_cpp_config
    from paddle_pp.engine.lite import LITE_RELEASE, LITE_VERSION

    if valid_targets == "x86" and quant:
        raise ExportError(f"--quant {quant} with --valid_targets x86: Paddle-Lite's x86 runtime does not run "
                          "weight-quantized models (they give NaN or garbage there); --quant is for arm")
    model_dirs = model_dirs or {}
    sources = {name: source_dir(name, model_dirs.get(name), slim, lang) for name in MODELS}  # fail early, all three
    out.mkdir(parents=True, exist_ok=True)
    version = opt_version()
    if version.lstrip("v") != LITE_RELEASE.lstrip("v"):
        raise ExportError(f"opt reports {version}, expected {LITE_RELEASE}: recreate the venv "
                          f"(paddle-pp lite setup)")
    tmp = Path(tempfile.mkdtemp(prefix="lite-export-", dir=work_dir))
    manifest: Dict = {"opt_version": version, "paddlelite": LITE_VERSION, "valid_targets": valid_targets,
                      "quant": quant or "none", "runtime_library": RUNTIME_LIBRARIES[valid_targets],
                      "source": "custom" if any(model_dirs.values()) else ("slim" if slim else "official"),
                      "rec_source": model_source("rec", lang), "input_batch": 1, "models": {}}
    try:
        configs: Dict[str, Optional[str]] = {}
        for name in MODELS:
            start = time.perf_counter()
            src = sources[name]
            exported = src if converts_as_given(src) else export_legacy_batch1(src, tmp / name)
            legacy, stored = exported, (dict(quant_weights.NONE_REROUTED) if quant else {})
            depthwise = bool(quant) and quant_weights.int8_depthwise(exported / "config.yml")
            if quant and quant_weights.may_reroute(exported, depthwise):   # the BiLSTM (and allowed depthwise convs)
                try:
                    stored = quant_weights.prepare_program(exported, tmp / f"{name}_weights", depthwise)
                except RuntimeError as exc:   # a program the rewrite cannot read: one message, no traceback
                    raise ExportError(str(exc)) from None
                if any(stored.values()):
                    legacy = tmp / f"{name}_weights"
            nb = run_opt(legacy, out / name, valid_targets, quant)
            configs[name] = str(legacy / "config.yml") if (legacy / "config.yml").is_file() else None
            if name == "rec":
                dicts = sorted(legacy.glob("*.txt")) or sorted(src.glob("*.txt"))
                if dicts:
                    shutil.copyfile(dicts[0], out / "ppocr_keys_v1.txt")
                else:
                    from paddle_pp.weights import OFFICIAL_DICT, official_file

                    shutil.copyfile(official_file(OFFICIAL_DICT), out / "ppocr_keys_v1.txt")
            size = nb.stat().st_size
            manifest["models"][name] = {"file": nb.name, "bytes": size, "sha256": sha256(nb), "source": str(src),
                                        "legacy_export": "as given" if exported == src else "batch-1 export",
                                        "rerouted_for_quant": stored}
            log(f"{name}: {src} -> {nb} ({size / 1e6:.2f} MB, {time.perf_counter() - start:.1f} s)")
        write_cpp_config(out / CONFIG_NAME, configs["det"], configs["cls"], configs["rec"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    manifest["total_bytes"] = sum(m["bytes"] for m in manifest["models"].values())
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--valid_targets", choices=("arm", "x86"), default="arm")
    parser.add_argument("--quant", choices=tuple(QUANT_TYPES), default=None,
                        help="opt's dynamic weight quantization (post_quant_dynamic)")
    parser.add_argument("--slim", action="store_true", help="convert the slim models (paddle_pp/models/slim/{det,cls,rec})")
    parser.add_argument("--lang", default=None,
                        help="the recognizer PPOCR(lang=...) runs: ch (rec) or en (rec_en); default configs/system.yml's")
    for name in MODELS:
        parser.add_argument(f"--{name}_model_dir", default=None, help="legacy export or model directory")
    parser.add_argument("--work_dir", default=None, help="where the temporary legacy exports go")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--_export_legacy"]:
        return _export_legacy_child(argv[1], argv[2])
    args = build_parser().parse_args(argv)
    model_dirs = {name: getattr(args, f"{name}_model_dir") for name in MODELS}
    try:
        manifest = export_lite(Path(args.out), args.valid_targets, args.quant, args.slim, model_dirs,
                               Path(args.work_dir) if args.work_dir else None, lang=args.lang)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sizes = ", ".join(f"{n} {m['bytes'] / 1e6:.2f} MB" for n, m in manifest["models"].items())
    print(f"{args.out}: {sizes}; total {manifest['total_bytes'] / 1e6:.2f} MB "
          f"({args.valid_targets}, quant {manifest['quant']})")
    print(f"opt {manifest['opt_version']} (paddlelite=={manifest['paddlelite']}): deploy with the "
          f"{manifest['runtime_library']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`paddle-pp`: one command for the tools, with PaddleOCR's flag names.

    paddle-pp ocr --image_dir photos/            # PaddleOCR's predict_system.py (det + cls + rec)
    paddle-pp det|cls|rec --image_dir DIR        # one stage (predict_det.py / predict_cls.py / predict_rec.py)
    paddle-pp train -c configs/rec.yml           # paddle_pp.train; eval, export, export_onnx, bench alike
    paddle-pp lite setup                         # the Paddle-Lite venv (explicit, never a side effect)

Each subcommand is the `main(argv)` of one module; `deploy/*.py`, `slim/*.py`, `dataset_tools/*.py` and
`python -m paddle_pp.train` call the same functions, so every entry point takes the same flags.
"""
from __future__ import annotations

import importlib
import sys
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

# subcommand -> (module whose main(argv) runs it, one-line help)
COMMANDS: Dict[str, Tuple[str, str]] = {
    "ocr": ("paddle_pp.tools.predict_system", "OCR images: detect, classify 0/180, recognize (predict_system.py)"),
    "det": ("paddle_pp.tools.predict_det", "text detection only (predict_det.py)"),
    "cls": ("paddle_pp.tools.predict_cls", "0/180 classification of text-line crops (predict_cls.py)"),
    "rec": ("paddle_pp.tools.predict_rec", "recognition of text-line crops (predict_rec.py)"),
    "train": ("paddle_pp.train", "train a model from a YAML config (-c configs/rec.yml)"),
    "eval": ("paddle_pp.eval", "evaluate a model or checkpoint on a config's Eval set"),
    "export": ("paddle_pp.tools.export_model", "export for Paddle Inference (export_model.py)"),
    "interpolate": ("paddle_pp.tools.interpolate", "a model between fine-tuned weights and their start (WiSE-FT)"),
    "export_onnx": ("paddle_pp.tools.export_onnx", "convert an exported model to ONNX"),
    "bench": ("paddle_pp.tools.benchmark", "speed and memory, against RapidOCR with --compare"),
    "serve": ("paddle_pp.serving.cli", "OCR over HTTP: /ocr, PaddleOCR's /predict/ocr_system, a web page (docs/serving.md)"),
    "bench_docs": ("paddle_pp.tools.bench_documents", "documents: image vs PDF agreement per DPI, pages/s, memory"),
    "batch": ("paddle_pp.batch.cli", "resumable, exactly-once OCR of large collections on Ray (docs/batch.md)"),
    "weights": ("paddle_pp.weights", "import the official weights into the model cache"),
    "prune": ("paddle_pp.slim.prune", "FPGM pruning of the detector (slim/prune.py)"),
    "quant": ("paddle_pp.slim.quant", "PACT quantization-aware training, or post-training (slim/quant.py)"),
    "export_int8": ("paddle_pp.slim.int8_onnx", "a quantized model -> float and int8 (QDQ) ONNX for x86 (int8)"),
}
# `paddle-pp lite <what>` and `paddle-pp data <what>`: groups of tools
GROUPS: Dict[str, Dict[str, Tuple[str, str]]] = {
    "lite": {
        "setup": ("paddle_pp.lite.setup_venv", "create the Python 3.10 venv with Paddle-Lite's opt and runtime"),
        "export": ("paddle_pp.lite.export_lite", "convert the models to .nb files with opt"),
        "config": ("paddle_pp.lite.make_cpp_config", "write the C++ demo's ocr_config.txt"),
        "compare": ("paddle_pp.lite.compare_lite", "Lite (x86 .nb) against Paddle on the same images"),
        "simulate": ("paddle_pp.lite.quant_weights", "a model.onnx with the weights --quant stores as integers rounded "
                     "as the .nb holds them (accuracy on x86)"),
    },
    "data": {
        "synth_rec": ("paddle_pp.dataset_tools.synth_rec", "synthesize text-line crops (text_renderer style)"),
        "synth_det": ("paddle_pp.dataset_tools.synth_det", "synthesize detection images"),
        "synth_screen": ("paddle_pp.dataset_tools.synth_screen", "screenshots of application pages rendered by "
                         "Chromium, light and dark, with their texts' boxes"),
        "synth_cls": ("paddle_pp.dataset_tools.synth_cls", "make 0/180 classifier sets"),
        "build_lmdb": ("paddle_pp.dataset_tools.build_lmdb", "label files <-> LMDB, --check"),
        "convert": ("paddle_pp.dataset_tools.convert",
                    "convert ICDAR 2015 labels, crop lines from det labels, stack images into long ones"),
        "pseudo_label_det": ("paddle_pp.dataset_tools.pseudo_label_det", "detection labels from a model"),
        "prepare": ("paddle_pp.dataset_tools.prepare_data", "label files, crops, splits, mixes in train_data/"),
    },
}
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _usage() -> str:
    from paddle_pp import __version__

    lines = [f"paddle-pp {__version__}: PP-OCR in PaddlePaddle", "",
             "usage: paddle-pp <command> [options]   (paddle-pp <command> -h for its options)", "", "commands:"]
    lines += [f"  {name:<22} {help_}" for name, (_, help_) in COMMANDS.items()]
    for group, tools in GROUPS.items():
        lines += [f"  {group + ' ' + name:<22} {help_}" for name, (_, help_) in tools.items()]
    return "\n".join(lines)


def _run(module: str, prog: str, argv: List[str]) -> int:
    sys.argv[0] = prog  # argparse names the subcommand in its usage and errors
    try:
        return int(importlib.import_module(module).main(argv) or 0)
    except KeyboardInterrupt:  # Ctrl-C while a tool starts (imports, model loading): a line, not a traceback
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def main(argv: Optional[Sequence[str]] = None) -> int:
    # Importing paddle warns about a C++ compiler cache, which means nothing to a user of these tools.
    warnings.filterwarnings("ignore", message="No ccache found")
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if args else EXIT_USAGE
    if args[0] in ("-V", "--version"):
        from paddle_pp import __version__

        print(f"paddle-pp {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name in COMMANDS:
        return _run(COMMANDS[name][0], f"paddle-pp {name}", rest)
    if name in GROUPS:
        tools = GROUPS[name]
        if rest[:1] in (["-h"], ["--help"]):   # the group's tools, as the top-level usage lists them
            print(f"usage: paddle-pp {name} <tool> [options]   (paddle-pp {name} <tool> -h for its options)\n\ntools:")
            print("\n".join(f"  {tool:<12} {help_}" for tool, (_, help_) in tools.items()))
            return 0
        if not rest or rest[0] not in tools:
            choices = ", ".join(tools)
            print(f"paddle-pp {name}: choose one of {choices}" + (f" (got '{rest[0]}')" if rest else ""),
                  file=sys.stderr)
            return EXIT_USAGE
        return _run(tools[rest[0]][0], f"paddle-pp {name} {rest[0]}", rest[1:])
    print(f"paddle-pp: unknown command '{name}'\n\n{_usage()}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

"""What predict_det.py, predict_cls.py, predict_rec.py and predict_system.py share.

- `build_parser(tool)`: PaddleOCR's flag names for the stages a tool runs. Every model option defaults to
  None, which means "the model's YAML default" (configs/*.yml, or the config.yml of a --*_model_dir); the
  flag's type and valid range are its YAML key's (paddle_pp/config_schema.py), so a value out of range is a
  usage error (exit 2) before anything runs.
- `run(...)`: the loop over the images: a progress bar, one line `path: problem` per failed image (no
  traceback), results rewritten atomically (temporary file + os.replace) every few images and at the end
  (also on Ctrl-C / SIGTERM), a summary, and the exit status.
- `result_line(name, *fields)`: a results line; `escape_name` / `unescape_name` own how an image name is
  written in it (see EPILOG, "names in results").
- `visualize(...)`: an optional picture of a result; failing to write it is a warning, never a lost result.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Protocol, Sequence, Tuple, Union

import numpy as np

from paddle_pp.config import load_config
from paddle_pp import paddleocr_args
from paddle_pp.config_schema import DOCUMENT, PADDLEOCR_ARGS, SYSTEM, Field
from paddle_pp.documents import DocumentReadError, Page, PageResult, iter_pages, page_name
from paddle_pp.pipeline import MODEL_FACTS, OPTION_KEYS, option_field
from paddle_pp.utils.files import display_name, list_images, write_bytes_atomic, write_text_atomic
from paddle_pp.utils.errors import printable
from paddle_pp.utils.image_io import INPUT_EXTENSIONS as IMAGE_EXTENSIONS, ImageReadError, default_max_pixels, input_log
from paddle_pp.utils.image_io import ImageOptions

# Importing paddle warns about a C++ compiler cache, which means nothing to a user of these tools.
warnings.filterwarnings("ignore", message="No ccache found")

from paddle_pp.resources import DEMO_IMAGES_DIR as DEMO_DIR
DEFAULT_OUTPUT = "./inference_results"
DEFAULT_CROP_DIR = "./output"  # PaddleOCR's --crop_res_save_dir
CROP_LABELS = paddleocr_args.CROP_LABELS
VIS_FOLDERS = ("vis", "det_vis", "pdf")  # our outputs: never read back as inputs (pdf: --output_format pdf)
STAGES = {"det": ("det",), "cls": ("cls",), "rec": ("rec",), "system": ("det", "cls", "rec")}

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EPILOG = """\
documents:
  PDFs and multi-page TIFFs are read one page at a time (PDF pages rendered at --pdf_dpi); a page is named
  `file.pdf#page=3` in the results. --pages 1-3,7 picks pages of every document. An encrypted PDF without
  --pdf_password, a corrupt or empty PDF, and a page over --max_pixels are one line `name: problem` each (a
  page's problem fails that page alone). A PDF page with a text layer of its own is OCRed all the same.

input:
  --image_dir takes an image file, a directory (searched recursively, sorted) or a glob (quote it; ** is
  recursive). An image's name in the results is its path relative to the directory (or the glob's directory
  part), or its file name when a single file is given.
  Extensions (any case): {exts}.

bad input:
  An unreadable, empty, truncated or non-image file is reported as one line `path: problem` on stderr and
  the other images still finish. An image with more pixels than --max_pixels is refused before it is
  decoded. Symlink loops, dangling links and unreadable folders are reported and skipped. Truncated JPEG/PNG files are errors (no partial decode). EXIF orientation is
  applied; gray and 16-bit images become 8-bit BGR; PNG transparency is composited over white. An image
  without text is a success with an empty result.

names in results:
  A results line is `name<TAB>fields`, one line per image, UTF-8. In the name a backslash is written `\\\\`,
  a tab `\\t`, a newline `\\n`, a carriage return `\\r`, any other control character and every byte that is
  not valid UTF-8 `\\xNN` (that byte of the file name), and U+0085, U+2028, U+2029 `\\uNNNN`; everything
  else is itself. `paddle_pp.tools.utility.unescape_name(name)` gives the path back (os.fsencode of it: the
  exact bytes). Paths in messages on stderr are escaped the same way, so a message is always one line.

--visualize:
  Results come first: a picture that cannot be drawn or written (full disk, no permission) is one line
  `warning: path: cannot write picture PICTURE (problem)` on stderr; that image's results are kept, it does not
  count as failed, and the summary counts the warnings.

exit status:
  0    every image succeeded (even if some --visualize pictures could not be written: see the warnings)
  1    at least one image failed, or --image_dir holds no images
  2    bad command line, or the models could not be loaded
  130  interrupted (Ctrl-C or SIGTERM); the results finished so far are written
"""


# ---------------------------------------------------------------- arguments

def yaml_default(flag: str) -> Any:
    """The default an OPTION_KEYS flag takes from the official YAML (configs/<model>.yml)."""
    model, section, key = OPTION_KEYS[flag]
    return (load_config(model).get(section) or {}).get(key)


def schema_flag(field: Field, name: str) -> Dict[str, Any]:
    """add_argument keywords that parse and range-check a flag by its schema field (out of range: exit 2,
    `argument --NAME: must be ..., got ...`)."""
    metavar = "BOOL" if field.kind == "bool" else ("{" + ",".join(field.choices) + "}" if field.choices else None)
    return {"type": field.argparse_type(name), "metavar": metavar}


class _Parser(argparse.ArgumentParser):
    """Resolves PaddleOCR's flags into paddle-pp's once parsed (paddle_pp.paddleocr_args); a contradiction
    between the two (--use_onnx true --engine paddle) or --use_gpu true is a usage error (exit 2)."""

    def parse_known_args(self, args=None, namespace=None):  # parse_args goes through here too
        parsed, rest = super().parse_known_args(args, namespace)
        try:
            paddleocr_args.check_use_gpu(getattr(parsed, "use_gpu", None))
            paddleocr_args.check_ocr_version(getattr(parsed, "ocr_version", None))
            paddleocr_args.check_no_effect({name: getattr(parsed, name, None) for name in paddleocr_args.NO_EFFECT})
            parsed.engine = paddleocr_args.engine_for(getattr(parsed, "use_onnx", None), parsed.engine)
            if hasattr(parsed, "page_num") and hasattr(parsed, "pages"):  # a server takes pages per request
                parsed.pages = paddleocr_args.pages_for(parsed.page_num, parsed.pages)
        except ValueError as exc:
            self.error(str(exc))
        return parsed, rest


def build_parser(tool: str, description: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of one tool ('det', 'cls', 'rec' or 'system'): only the flags of the stages it runs."""
    stages = STAGES[tool]
    system = load_config("system")["System"]
    parser = _Parser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog=EPILOG.format(exts=" ".join(IMAGE_EXTENSIONS)))
    io = parser.add_argument_group("input and output")
    if tool in ("det", "system"):
        io.add_argument("--image_dir", default=str(DEMO_DIR),
                        help="image file, directory or glob (default: the bundled demo images)")
    else:
        io.add_argument("--image_dir", required=True, help="text-line crops: an image file, directory or glob")
    io.add_argument("--output", "--draw_img_save_dir", dest="output", default=DEFAULT_OUTPUT,
                    help=f"output directory; --draw_img_save_dir is PaddleOCR's name (default: {DEFAULT_OUTPUT})")
    io.add_argument("--max_pixels", default=None, **schema_flag(SYSTEM["max_pixels"], "max_pixels"),
                    help="refuse images with more pixels than this, before decoding them; 0 = no limit "
                         f"(default: configs/system.yml System.max_pixels, {default_max_pixels():,})")
    if tool in ("det", "system"):
        io.add_argument("--pdf_dpi", default=None, **schema_flag(SYSTEM["pdf_dpi"], "pdf_dpi"),
                        help=f"render PDF pages at this resolution, {SYSTEM['pdf_dpi'].describe()} "
                             f"(default: configs/system.yml System.pdf_dpi, {system['pdf_dpi']})")
        io.add_argument("--pages", default=None, **schema_flag(DOCUMENT["pages"], "pages"),
                        help="pages of each PDF / multi-page TIFF to read, e.g. 1-3,7 or 5- (default: all)")
        io.add_argument("--pdf_password", default=None, help="password of encrypted PDFs")
        io.add_argument("--page_num", default=None, **schema_flag(PADDLEOCR_ARGS["page_num"], "page_num"),
                        help="PaddleOCR's: the first N pages of each document, 0 = all (--pages 1-N)")
    if tool == "system":
        io.add_argument("--output_format", default=["json"], type=_formats, metavar="FORMATS",
                        help="comma-separated, any of json (OUTPUT/system_results.txt), txt, hocr, pdf (per input: "
                             "OUTPUT/<format>/<name>.<format>) (default: json)")
        io.add_argument("--return_word_box", default=None,
                        **schema_flag(SYSTEM["return_word_box"], "return_word_box"),
                        help="each line also gives its words with boxes; hocr and pdf output turn it on "
                             f"(YAML: {system['return_word_box']})")
    if tool in ("det", "system"):
        folder, what = ("det_vis", "the boxes drawn") if tool == "det" else ("vis", "boxes and text side by side")
        io.add_argument("--visualize", action="store_true",
                        help=f"also write OUTPUT/{folder}/<image name> with {what}")
        io.add_argument("--vis_font_path", default=None,
                        help="font for --visualize (default: a CJK font if installed, else DejaVu Sans)")
    if tool == "system":
        io.add_argument("--save_crop_res", default=False,
                        **schema_flag(PADDLEOCR_ARGS["save_crop_res"], "save_crop_res"),
                        help="also write the crop each kept line was read from, CROP_DIR/<image name>_crop_<k>.jpg, "
                             f"and CROP_DIR/{CROP_LABELS} (`crop<TAB>text`, a recognition label file)")
        io.add_argument("--crop_res_save_dir", default=DEFAULT_CROP_DIR,
                        help=f"CROP_DIR of --save_crop_res (default: {DEFAULT_CROP_DIR}, PaddleOCR's)")
        io.add_argument("--invert", default=False, **schema_flag(PADDLEOCR_ARGS["invert"], "invert"),
                        help="PaddleOCR's: invert each image before reading it (light text on a dark ground)")
        io.add_argument("--binarize", default=False, **schema_flag(PADDLEOCR_ARGS["binarize"], "binarize"),
                        help="PaddleOCR's: make each image black and white (Otsu) before reading it")
        io.add_argument("--alphacolor", default=None, **schema_flag(PADDLEOCR_ARGS["alphacolor"], "alphacolor"),
                        help="PaddleOCR's: R,G,B that transparent pixels are composited over (default: 255,255,255)")

    engine = parser.add_argument_group("models and engine (None = the YAML default)")
    for stage in stages:
        engine.add_argument(f"--{stage}_model_dir", default=None,
                            help=f"a paddle-pp {stage} model directory (default: the official model, "
                                 "imported into the model cache on first use)")
    engine.add_argument("--engine", default=None, **schema_flag(SYSTEM["engine"], "engine"),
                        help="inference engine (default: configs/system.yml, onnx)")
    engine.add_argument("--enable_mkldnn", default=None, **schema_flag(SYSTEM["enable_mkldnn"], "enable_mkldnn"),
                        help="oneDNN kernels for --engine paddle (default: configs/system.yml)")
    engine.add_argument("--cpu_threads", default=None, **schema_flag(SYSTEM["cpu_threads"], "cpu_threads"),
                        help=f"CPU threads, 0 = one per core ({SYSTEM['cpu_threads'].describe()})")
    engine.add_argument("--precision", default=None, **schema_flag(SYSTEM["precision"], "precision"),
                        help="int8: PACT models run their model_int8.onnx on onnxruntime int8 kernels (engine onnx); "
                             "other models run fp32 (default: configs/system.yml)")
    engine.add_argument("--lite_model_dir", default=None,
                        help="--engine lite: a directory of x86 .nb files (deploy/lite/export_lite.py)")
    engine.add_argument("--cache_dir", default=None,
                        help="model cache (default: $PADDLE_PP_MODELS or ~/.paddle_pp/models)")
    engine.add_argument("--use_gpu", default=None, **schema_flag(PADDLEOCR_ARGS["use_gpu"], "use_gpu"),
                        help="PaddleOCR's; paddle-pp runs on the CPU, so only false is accepted")
    engine.add_argument("--use_onnx", default=None, **schema_flag(PADDLEOCR_ARGS["use_onnx"], "use_onnx"),
                        help="PaddleOCR's: true = --engine onnx, false = --engine paddle")
    engine.add_argument("--ocr_version", default=None,
                        help=f"PaddleOCR's model version; paddle-pp runs {paddleocr_args.OCR_VERSION}'s models, so only "
                             f"{paddleocr_args.OCR_VERSION} is accepted")
    if tool == "system":
        engine.add_argument("--use_mp", default=None, **schema_flag(PADDLEOCR_ARGS["use_mp"], "use_mp"),
                            help="PaddleOCR's: share the images among --total_process_num worker processes, each "
                                 "with its own models and cores/N threads (results in input order)")
        engine.add_argument("--total_process_num", default=None,
                            **schema_flag(PADDLEOCR_ARGS["total_process_num"], "total_process_num"),
                            help="PaddleOCR's: the processes of --use_mp (default 1)")

    options = parser.add_argument_group("model options (None = the YAML default)")
    if tool == "system":
        options.add_argument("--use_angle_cls", default=None, **schema_flag(SYSTEM["use_angle_cls"], "use_angle_cls"),
                             help=f"classify 0/180 degrees and flip crops (YAML: {system['use_angle_cls']})")
        options.add_argument("--use_doc_orientation_classify", default=None,
                             **schema_flag(SYSTEM["use_doc_orientation_classify"], "use_doc_orientation_classify"),
                             help="turn pages read sideways or upside down upright first, by the votes of their "
                                  "lines (no extra model; points stay in the image as given) (YAML: "
                                  f"{system['use_doc_orientation_classify']})")
        options.add_argument("--det", default=True, **schema_flag(PADDLEOCR_ARGS["det"], "det"),
                             help="PaddleOCR's: false = no detection, each input is one text line: read "
                                  "(OUTPUT/rec_results.txt), or with --rec false classified (cls_results.txt) "
                                  "(default: true)")
        options.add_argument("--rec", default=True, **schema_flag(PADDLEOCR_ARGS["rec"], "rec"),
                             help="PaddleOCR's: false = detection only, the boxes in reading order "
                                  "(OUTPUT/det_results.txt, --visualize: det_vis/) (default: true)")
        options.add_argument("--drop_score", default=None, **schema_flag(SYSTEM["drop_score"], "drop_score"),
                             help=f"drop results scoring below this, {SYSTEM['drop_score'].describe()} "
                                  f"(YAML: {system['drop_score']})")
        options.add_argument("--reading_order", default=None, **schema_flag(SYSTEM["reading_order"], "reading_order"),
                             help="order of the lines: rows = grouped into rows by vertical overlap, each read left "
                                  "to right; paddleocr = PaddleOCR's sorted_boxes; columns = text set in columns, "
                                  f"each column whole, left to right (YAML: {system['reading_order']})")
        options.add_argument("--light_text_share", default=None,
                             **schema_flag(SYSTEM["light_text_share"], "light_text_share"),
                             help="a page on which more than this share of the lines found are light text on a "
                                  "dark ground (dark-mode screenshots) is read inverted; 1 = never "
                                  f"(YAML: {system['light_text_share']})")
    options.add_argument("--as_paddleocr", default=None, **schema_flag(SYSTEM["as_paddleocr"], "as_paddleocr"),
                         help="true = PaddleOCR's results with these models, box for box and text for text: "
                              "what paddle-pp adds to its detection, classification, cropping and batching "
                              "turned off" + (", and its reading order" if tool == "system" else "")
                              + f"; flags given besides it still apply (YAML: {system['as_paddleocr']})")
    if "rec" in stages:
        options.add_argument("--lang", choices=sorted(system["rec_models"]), default=None,
                             help=f"recognizer: ch = official, en = our ASCII English model (YAML: {system['lang']})")
    options.add_argument("--slim", nargs="?", const=True, default=None, **schema_flag(SYSTEM["slim"], "slim"),
                         help=("the slim system (paddle_pp/models/slim: FPGM-pruned det, quantized cls and rec; "
                               if tool == "system" else f"the project's slim {tool} model (paddle_pp/models/slim; ")
                              + f"engine {system['slim_engine']}) (YAML: {system['slim']})")
    for flag, (model, section, key) in OPTION_KEYS.items():
        if model not in stages:
            continue
        field = option_field(flag)
        options.add_argument(f"--{flag}", default=None, **schema_flag(field, flag),
                             help=f"{model}.yml {section}.{key}: {field.describe()} (YAML: {yaml_default(flag)})")
    _add_paddleocr_model_facts(parser, stages)
    return parser


def _formats(text: str) -> List[str]:
    """--output_format: 'json,txt,hocr,pdf' (any of them, in any order; repeats dropped)."""
    formats = list(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    if not formats or DOCUMENT["output_format"].problem(formats):
        known = ", ".join(DOCUMENT["output_format"].item.choices)
        raise argparse.ArgumentTypeError(f"must be a comma-separated list of {known}; got {text!r}")
    return formats


def _add_paddleocr_model_facts(parser: argparse.ArgumentParser, stages: Sequence[str]) -> None:
    """PaddleOCR's flags that describe the models (checked against their config.yml) or change nothing here
    (paddleocr_args.NO_EFFECT: taken when they ask for what paddle-pp does anyway), so its command lines run."""
    group = parser.add_argument_group("PaddleOCR's flags that only restate what the models are or do")
    for flag, (model, section, key) in MODEL_FACTS.items():
        if model in stages and flag != "label_list":   # PaddleOCR's --label_list is not usable from a shell
            official = ", ".join(str(v) for v in load_config(model)[section][key])
            group.add_argument(f"--{flag}", default=None, **schema_flag(PADDLEOCR_ARGS[flag], flag),
                               help=f"must be the model's {section}.{key} (official: '{official}')")
    for flag, (accepted, why) in paddleocr_args.NO_EFFECT.items():
        taken = "any value" if accepted is None else "only " + ", ".join(map(paddleocr_args.flag_text, accepted))
        group.add_argument(f"--{flag}", default=None, **schema_flag(PADDLEOCR_ARGS[flag], flag),
                           help=f"{taken}: {why}")


def engine_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The build_stage / PPOCR keyword arguments that choose and configure the engine."""
    return {"engine": args.engine, "cache_dir": args.cache_dir, "enable_mkldnn": args.enable_mkldnn,
            "cpu_threads": args.cpu_threads, "lite_model_dir": args.lite_model_dir, "precision": args.precision}


def model_choice(args: argparse.Namespace) -> Dict[str, Any]:
    """The build_stage / PPOCR keyword arguments that choose the models: --slim, and --lang where the tool has it."""
    return {"slim": args.slim, **({"lang": args.lang} if hasattr(args, "lang") else {})}


def system_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The PPOCR keyword arguments of the system tool's own flags: its model directories and how the system runs
    (paddle-pp ocr, serve and batch alike)."""
    return {"det_model_dir": args.det_model_dir, "cls_model_dir": args.cls_model_dir,
            "rec_model_dir": args.rec_model_dir, "use_angle_cls": args.use_angle_cls,
            "use_doc_orientation_classify": args.use_doc_orientation_classify, "drop_score": args.drop_score,
            "reading_order": args.reading_order, "light_text_share": args.light_text_share,
            "as_paddleocr": args.as_paddleocr}


def model_options(args: argparse.Namespace, *stages: str) -> Dict[str, Any]:
    """The OPTION_KEYS flags of these stages, as given (None = YAML default), and their MODEL_FACTS flags given."""
    options = {flag: getattr(args, flag) for flag, (model, _, _) in OPTION_KEYS.items() if model in stages}
    facts = {flag: getattr(args, flag, None) for flag, (model, _, _) in MODEL_FACTS.items() if model in stages}
    return {**options, **{flag: value for flag, value in facts.items() if value is not None}}


# ---------------------------------------------------------------- names in results files

_NAME_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_NAME_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
# str.splitlines() also breaks lines at these: a name holding one would split its line for Python readers.
_UNICODE_LINE_BREAKS = "\x85\u2028\u2029"


def escape_name(name: str) -> str:
    """An image name (or path) as one tab-free, newline-free, UTF-8-encodable field; unescape_name reverses it.

    Undecodable bytes of a file name arrive as lone surrogates U+DC80..U+DCFF (os.fsdecode's surrogateescape);
    each is written as `\\xNN`, the byte itself, like control characters, so `\\xNN` always means "byte NN".
    """
    out = []
    for ch in name:
        code = ord(ch)
        if ch in _NAME_ESCAPES:
            out.append(_NAME_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif ch in _UNICODE_LINE_BREAKS or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def unescape_name(text: str) -> str:
    """The name escape_name wrote, as a str path (os.fsencode of it gives the file name's exact bytes)."""
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            kind = text[i + 1]
            if kind in _NAME_UNESCAPES:
                raw += _NAME_UNESCAPES[kind].encode()
                i += 2
                continue
            if kind == "x":
                raw.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            if kind == "u":
                raw += chr(int(text[i + 2:i + 6], 16)).encode("utf-8", "surrogatepass")
                i += 6
                continue
        raw += ch.encode("utf-8", "surrogateescape")
        i += 1
    return os.fsdecode(bytes(raw))


def result_line(name: str, *fields: str) -> str:
    """One results line: the escaped image name, then the tool's fields, tab-separated."""
    return "\t".join((escape_name(name),) + tuple(fields))


# ---------------------------------------------------------------- outputs

class ResultsFile:
    """A results file kept in memory and rewritten atomically (temporary file, fsync, os.replace), so the file
    on disk always holds complete lines of finished images.

    It is rewritten when `every` images have finished since the last write (or 5% of the lines written so far,
    if more: the total rewriting stays linear in the file size), when `seconds` have passed with unwritten
    results, and at the end, including after Ctrl-C or SIGTERM.
    """

    def __init__(self, path: Path, every: int = 10, seconds: float = 30.0) -> None:
        self.path = Path(path)
        self.every = max(1, int(every))
        self.seconds = float(seconds)
        self.lines: List[str] = []
        self.pending = 0
        self.last_flush = time.monotonic()

    def add(self, line: str) -> None:
        """Keep a line; one that cannot be written (not encodable, or more than one line) raises ValueError here,
        before it is kept, so it fails its own image and never a later rewrite of the whole file."""
        line = line.rstrip("\n")
        if "\n" in line or "\r" in line:
            raise ValueError(f"a results line holds a line break: {line[:80]!r}")
        line.encode("utf-8")  # UnicodeEncodeError is a ValueError
        self.lines.append(line + "\n")

    def tick(self, images: int = 1) -> None:
        """Count finished images (with or without a line here) and rewrite the file when it is due."""
        self.pending += images
        due = self.pending >= max(self.every, len(self.lines) // 20)
        if due or (self.pending and time.monotonic() - self.last_flush >= self.seconds):
            self.flush()

    def flush(self) -> None:
        write_text_atomic(self.path, "".join(self.lines))
        self.last_flush = time.monotonic()
        self.pending = 0


class LabelledImages:
    """Iterate (item, image) over the items of an evaluation with a progress bar: an image that cannot be read is
    reported on its own line and counted in `failures`, and the evaluation goes on."""

    def __init__(self, items: Sequence[Any], path_of: Callable[[Any], Path], desc: str) -> None:
        self.items, self.path_of, self.desc = items, path_of, desc
        self.failures = 0

    def __iter__(self) -> Iterator[Tuple[Any, np.ndarray]]:
        from tqdm import tqdm

        from paddle_pp.utils.image_io import read_image

        for item in tqdm(self.items, desc=self.desc, unit="img"):
            try:
                image = read_image(self.path_of(item))
            except ImageReadError as exc:
                self.failures += 1
                tqdm.write(f"skipped: {exc}")
                continue
            yield item, image


def save_image(path: Path, image: np.ndarray) -> Path:
    """Encode by the file's extension (PNG when OpenCV cannot write that one) and write atomically."""
    import cv2

    ok, buf = (False, None)
    if path.suffix:
        try:
            ok, buf = cv2.imencode(path.suffix, image)
        except cv2.error:
            ok = False
    if not ok:
        path = path.with_name(path.name + ".png")
        ok, buf = cv2.imencode(".png", image)
    write_bytes_atomic(path, buf.tobytes())
    return path


# ---------------------------------------------------------------- the loop

@dataclass
class Item:
    """One decoded input image: an image file, or a page of a document (`page`: its number, DPI, ...)."""
    path: Path
    name: str
    image: np.ndarray
    page: Optional[Page] = None

    @property
    def label(self) -> str:
        """How messages name it: the path, with `#page=N` for a document's page."""
        return page_name(str(self.path), self.page.number if self.page is not None else None)


class DocumentSink(Protocol):
    """Where a tool's per-document outputs go (predict_system's txt/hocr/pdf): every page's result as it
    finishes, then close() when the document is done, which returns the problems to report (one line each)."""

    def add(self, result: PageResult, image: Optional[np.ndarray]) -> None: ...

    def close(self) -> List[str]: ...


@dataclass
class Outcome:
    """What one image produced: a line per results file (file name -> line) and a count for the summary,
    or an error (the problem, without the path) that fails this image alone; warnings (e.g. a picture that
    could not be written) are reported without failing the image."""
    lines: Dict[str, Union[str, List[str]]] = field(default_factory=dict)  # a list: several lines in that file
    count: int = 0
    error: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    page: Optional[PageResult] = None  # the page's results for per-document outputs (DocumentSink)


def _one_line(exc: BaseException) -> str:
    """An exception as one printable line of bounded length (a message may carry a file's raw bytes)."""
    text = printable(" ".join(str(exc).split()))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _NoticeHandler(logging.Handler):
    """Notices about the input (skipped links and folders, multi-page TIFFs) as plain lines on stderr, above
    the progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(printable(record.getMessage()), file=sys.stderr)


def show_input_notices() -> None:
    """Print the library's input notices (logger paddle_pp.input) as plain lines, once per process."""
    if not any(isinstance(h, _NoticeHandler) for h in input_log.handlers):
        input_log.addHandler(_NoticeHandler())
        input_log.propagate = False  # not again through a root handler (paddle installs one)


def _process_isolating(process: Callable[[Any, List[Item]], List[Outcome]], predictor: Any,
                       items: List[Item]) -> List[Tuple[Item, Optional[Outcome], Optional[BaseException]]]:
    """Run a batch; when it fails, run its images one by one so only the bad one fails."""
    if not items:
        return []
    try:
        outcomes = process(predictor, items)
        return [(item, outcome, None) for item, outcome in zip(items, outcomes)]
    except Exception as exc:  # noqa: BLE001 - an image must never stop the batch
        if len(items) == 1:
            return [(items[0], None, exc)]
        results = []
        for item in items:
            results.extend(_process_isolating(process, predictor, [item]))
        return results


class _Interrupted(KeyboardInterrupt):
    pass


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Interrupted()


def _keep(outcome: Outcome, writers: Dict[str, ResultsFile]) -> None:
    """Add an outcome's lines to their files, all or none (a line that cannot be written fails the image)."""
    kept = []
    try:
        for name, lines in outcome.lines.items():
            for line in [lines] if isinstance(lines, str) else lines:
                writers[name].add(line)
                kept.append(writers[name])
    except Exception:
        for writer in kept:
            writer.lines.pop()
        raise


def _flush_all(writers: Dict[str, ResultsFile], report: Callable[[str], None]) -> bool:
    """Rewrite every results file; a file that cannot be written is reported and never stops the others
    (its lines stay in memory for the next try)."""
    ok = True
    for writer in writers.values():
        try:
            writer.flush()
        except Exception as exc:  # noqa: BLE001 - one file's failure must not lose the others' results
            ok = False
            report(f"{writer.path}: cannot write results ({_os_problem(exc)})")
    return ok


def _os_problem(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else _one_line(exc)


class _Tally:
    """What a run counts and says while the progress bar is up: one escaped line per failure or warning."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.failures = self.warnings = self.count = self.done = self.pages = 0

    def say(self, message: str) -> None:
        self.bar.write(escape_name(message), file=sys.stderr)  # escaped: one line, whatever the path holds

    def fail(self, message: str) -> None:
        self.failures += 1
        self.say(message)

    def warn(self, message: str) -> None:
        self.warnings += 1
        self.say(f"warning: {message}")


def _list_inputs(args: argparse.Namespace, output: Path) -> Tuple[Optional[List[Path]], Optional[Path], int]:
    """(images, their root, 0), or (None, None, exit status) with the problem said on stderr."""
    try:
        images, root = list_images(args.image_dir)
    except FileNotFoundError as exc:
        print(escape_name(str(exc)), file=sys.stderr)
        return None, None, EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted while listing the images; nothing was processed", file=sys.stderr)
        return None, None, EXIT_INTERRUPTED
    # Never read back our own pictures (--output inside --image_dir with --visualize).
    ours = [(output / folder).resolve() for folder in VIS_FOLDERS]
    return [p for p in images if not any(p.resolve().is_relative_to(d) for d in ours)], root, EXIT_OK


def _open_writers(output: Path, result_files: Sequence[str]) -> Optional[Dict[str, ResultsFile]]:
    """This run's (empty) results files, replacing older ones; None (said on stderr) when they cannot be written."""
    try:
        writers = {name: ResultsFile(output / name) for name in result_files}
        for writer in writers.values():
            writer.flush()
    except OSError as exc:
        print(escape_name(f"{output}: cannot write results ({exc.strerror or exc})"), file=sys.stderr)
        return None
    return writers


def _build_predictor(build: Callable[[], Any]) -> Tuple[Any, int]:
    """(predictor, 0), or (None, exit status) with one line on stderr: start-up (imports, model import and
    export) can take a while and can be interrupted; a bad model directory or option is one line, no traceback."""
    try:
        return build(), EXIT_OK
    except KeyboardInterrupt:
        print("interrupted while loading the models; nothing was processed", file=sys.stderr)
        return None, EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001
        print(f"error: cannot load the models: {_one_line(exc)}", file=sys.stderr)
        return None, EXIT_USAGE


def _pages(path: Path, name: str, args: argparse.Namespace) -> Iterator[Page]:
    """The pages of one input (documents.iter_pages with the run's --pdf_dpi, --pages, --pdf_password,
    --max_pixels and --alphacolor); an unexpected failure of the reader becomes an error page, never the end of
    the run."""
    try:
        yield from iter_pages(path, name, getattr(args, "pdf_dpi", None), getattr(args, "pages", None),
                              getattr(args, "pdf_password", None), getattr(args, "max_pixels", None),
                              background=ImageOptions.of(args).background)
    except Exception as exc:  # noqa: BLE001 - one bad file fails alone
        yield Page(name, error=ImageReadError(f"{path}: cannot read ({_one_line(exc)})"))


def _error_text(page: Page, path: Path) -> str:
    """A page error's message, naming the file by its path as given (the reader names it by its result name)."""
    text = str(page.error)
    return str(path) + text[len(page.source):] if text.startswith(page.source) else text


def _run_items(items: List[Item], predictor: Any, process: Callable[[Any, List[Item]], List[Outcome]],
               writers: Dict[str, ResultsFile], tally: _Tally, sink: Optional[DocumentSink]) -> None:
    """Process a batch of decoded images and keep their results; every problem fails (or warns) one image."""
    for item, outcome, exc in _process_isolating(process, predictor, items):
        if exc is not None or outcome.error:
            message = f"{item.label}: {outcome.error if exc is None else _one_line(exc)}"
            tally.fail(message)
            if sink is not None and item.page is not None:
                sink.add(PageResult.of(item.page, error=DocumentReadError(message)), None)
            continue
        for message in outcome.warnings:
            tally.warn(f"{item.label}: {message}")
        try:
            _keep(outcome, writers)
        except Exception as exc:  # noqa: BLE001 - a line that cannot be written fails its image alone
            tally.fail(f"{item.label}: cannot write its results ({_one_line(exc)})")
            continue
        tally.count += outcome.count
        if sink is not None and outcome.page is not None:
            sink.add(outcome.page, item.image)


def _run_inputs(images: Sequence[Path], root: Path, args: argparse.Namespace, predictor: Any,
                process: Callable[[Any, List[Item]], List[Outcome]], writers: Dict[str, ResultsFile],
                tally: _Tally, step: int, documents: Optional[Callable[[Path, str], DocumentSink]]) -> None:
    """Read every input page by page (a document is never read whole), process the pages in batches of `step`
    (batches span image files; a document's outputs close when its pages are done) and keep the results."""
    pending: List[Item] = []
    for path in images:
        name = display_name(path, root)
        sink = documents(path, name) if documents is not None else None
        for page in _pages(path, name, args):
            tally.pages += page.number is not None  # pages of documents, for the summary
            if page.error is not None:
                tally.fail(_error_text(page, path))
                if sink is not None:
                    sink.add(PageResult.of(page), None)
                continue
            pending.append(Item(path, page.name, page.image, page))
            if len(pending) >= step or sink is not None:
                _run_items(pending, predictor, process, writers, tally, sink)
                pending = []
        if sink is not None:
            for problem in sink.close():
                tally.fail(problem)
        tally.done += 1
        tally.bar.update(1)
        for writer in writers.values():
            try:
                writer.tick(1)
            except Exception as exc:  # noqa: BLE001 - kept in memory; retried at the next write and the end
                tally.warn(f"{writer.path}: cannot write results yet ({_os_problem(exc)}); will retry")
    _run_items(pending, predictor, process, writers, tally, None)


# ---------------------------------------------------------------- worker processes (PaddleOCR's --use_mp)

def worker_count(args: argparse.Namespace) -> int:
    """PaddleOCR's `--use_mp true --total_process_num N`: N worker processes; 1 = this process does the work."""
    if not getattr(args, "use_mp", None):
        return 1
    return max(1, int(getattr(args, "total_process_num", None) or 1))


class _RecordedFile(ResultsFile):
    """A worker's results file: its lines are checked and kept as a ResultsFile keeps them, and the parent writes
    them, in the order of the inputs."""

    def tick(self, images: int = 1) -> None:
        pass

    def flush(self) -> None:
        pass


class _Recorder:
    """A worker's _Tally: what it would say and count, for the parent to report in the order of the inputs."""

    def __init__(self) -> None:
        self.failed: List[str] = []
        self.warned: List[str] = []
        self.count = self.done = self.pages = 0
        self.bar = self   # _run_inputs advances bar.update(1)

    def update(self, images: int) -> None:
        pass

    def fail(self, message: str) -> None:
        self.failed.append(message)

    def warn(self, message: str) -> None:
        self.warned.append(message)


_WORKER: Dict[str, Any] = {}   # one worker process's predictor and run settings (set by _start_worker)


class _NoticeCollector(logging.Handler):
    """A worker's input notices (multi-page TIFFs, ...), kept for the parent to print above its progress bar."""

    def __init__(self) -> None:
        super().__init__()
        self.notices: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.notices.append(record.getMessage())


def _start_worker(build: Callable[[], Any], settings: Dict[str, Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's: it stops the pool
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # stopped by the parent: end quietly
    _WORKER.update(settings, notices=_NoticeCollector())
    input_log.handlers = [_WORKER["notices"]]
    try:
        _WORKER["predictor"] = build()
    except Exception as exc:  # noqa: BLE001 - reported once by the parent, as a serial run reports it
        _WORKER["build_error"] = _one_line(exc)


def _work_on(paths: List[Path]) -> Dict[str, Any]:
    """A worker: the inputs `paths` read, OCRed and written (pictures, per-input files) as a serial run does them;
    the results lines and messages returned to the parent."""
    if "build_error" in _WORKER:
        return {"build_error": _WORKER["build_error"]}
    recorder = _Recorder()
    files = {name: _RecordedFile(Path(name)) for name in _WORKER["result_files"]}
    _WORKER["notices"].notices = []
    try:
        _run_inputs(paths, _WORKER["root"], _WORKER["args"], _WORKER["predictor"], _WORKER["process"], files,
                    recorder, _WORKER["step"], _WORKER["documents"])
    except Exception as exc:  # noqa: BLE001 - what the loop did not isolate fails the rest of this chunk, not the run
        recorder.fail(f"{paths[min(recorder.done, len(paths) - 1)]}: {_one_line(exc)}")
        recorder.done = len(paths)
    return {"lines": {name: f.lines for name, f in files.items()}, "failed": recorder.failed,
            "warned": recorder.warned, "count": recorder.count, "done": recorder.done, "pages": recorder.pages,
            "notices": _WORKER["notices"].notices}


def _run_workers(pool: Any, chunks: List[List[Path]], writers: Dict[str, ResultsFile], tally: _Tally) -> Optional[str]:
    """Hand the chunks of inputs to the pool and keep their results in input order, as _run_inputs keeps them;
    the workers' model-loading error, if they could not load the models. A worker that dies (killed, out of memory,
    a crash in native code) fails the run's remaining inputs, and what was done is kept."""
    from concurrent.futures.process import BrokenProcessPool

    results = pool.map(_work_on, chunks)
    while True:
        try:
            result = next(results)
        except StopIteration:
            return None
        except BrokenProcessPool as exc:
            unread = sum(len(chunk) for chunk in chunks) - tally.done
            tally.fail(f"a worker process died ({_one_line(exc)}); {unread} inputs were not read")
            return None
        if "build_error" in result:
            return result["build_error"]
        for name, lines in result["lines"].items():
            writers[name].lines.extend(lines)
        for notice in result["notices"]:
            tally.bar.write(printable(notice), file=sys.stderr)
        for message in result["failed"]:
            tally.fail(message)
        for message in result["warned"]:
            tally.warn(message)
        tally.count += result["count"]
        tally.pages += result["pages"]
        tally.done += result["done"]
        tally.bar.update(result["done"])
        for writer in writers.values():
            try:
                writer.tick(result["done"])
            except Exception as exc:  # noqa: BLE001 - kept in memory; retried at the next write and the end
                tally.warn(f"{writer.path}: cannot write results yet ({_os_problem(exc)}); will retry")


def _start_pool(workers: int, build: Callable[[], Any], settings: Dict[str, Any]) -> Any:
    """`workers` processes forked from this one before it loads any model or starts a thread (the progress bar's),
    each loading its own models. A process pool executor, not multiprocessing.Pool: a worker that dies breaks it
    (BrokenProcessPool) instead of leaving its task waiting forever."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_start_worker,
                               initargs=(build, settings))
    pool.submit(int).result()   # forks every worker now (a fork-context executor starts them all at its first task)
    return pool


def _stop_pool(pool: Any, now: bool) -> None:
    """Stop the workers: `now` (Ctrl-C, SIGTERM, an error) ends the chunks they are reading, which the executor
    would let finish. At the end of a run, and when the workers could not load the models (each chunk left ends at
    once), they are only shut down: terminating them while the executor's manager thread waits on them may make
    that thread print a traceback (a race in concurrent.futures)."""
    if now:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def run(args: argparse.Namespace, build: Callable[[], Any], process: Callable[[Any, List[Item]], List[Outcome]],
        result_files: Sequence[str], batch_size: int = 1, count_label: str = "boxes",
        desc: str = "images", documents: Optional[Callable[[Path, str], DocumentSink]] = None,
        document_dirs: Sequence[str] = ()) -> int:
    """List the images, build the predictor, process them in batches of `batch_size`, write the results.

    `process(predictor, items)` returns one Outcome per item; an exception fails the batch, which is then
    retried image by image. A document (PDF, multi-page TIFF) is read page by page, each page an Item named
    `name#page=N`; `documents(path, name)`, when given, opens a DocumentSink per input that receives every page's
    result; `document_dirs` (under --output) are where those sinks write, named in the summary line. Returns the
    exit status (see EPILOG).
    """
    from tqdm import tqdm

    show_input_notices()
    output = Path(args.output)
    images, root, status = _list_inputs(args, output)
    if images is None:
        return status
    writers = _open_writers(output, result_files)
    if writers is None:
        return EXIT_USAGE
    if not images:
        print(escape_name(f"{args.image_dir}: no images found (extensions: {' '.join(IMAGE_EXTENSIONS)})"),
              file=sys.stderr)
        return EXIT_FAILED
    step = max(1, batch_size)
    chunks = [list(images[i:i + step]) for i in range(0, len(images), step)]
    workers = min(worker_count(args), len(chunks))
    pool, predictor = None, None
    if workers > 1:
        if getattr(args, "cpu_threads", None) is None:   # the cores shared out, rather than each worker all of them
            args.cpu_threads = max(1, (os.cpu_count() or 1) // workers)
        pool = _start_pool(workers, build, {"root": root, "args": args, "process": process, "step": step,
                                            "result_files": list(writers), "documents": documents})
    else:
        predictor, status = _build_predictor(build)
        if status != EXIT_OK:
            return status

    old_handler = None
    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    interrupted, finished, build_error = False, False, None
    start = time.perf_counter()
    tally = _Tally(tqdm(total=len(images), desc=desc, unit="img", file=sys.stderr, dynamic_ncols=True))
    try:
        if pool is not None:
            build_error = _run_workers(pool, chunks, writers, tally)
        else:
            _run_inputs(images, root, args, predictor, process, writers, tally, step, documents)
        finished = True
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if pool is not None:
            _stop_pool(pool, now=not finished)
        tally.bar.close()
        _flush_all(writers, tally.fail)
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
    if build_error is not None:
        print(f"error: cannot load the models: {build_error}", file=sys.stderr)
        return EXIT_USAGE

    seconds = time.perf_counter() - start
    # the summary names every place results went: a run with only per-input formats has no results file
    files = ", ".join([str(output / name) for name in result_files]
                      + [str(output / name) + os.sep for name in document_dirs])
    warned = f", {tally.warnings} warnings" if tally.warnings else ""
    pages = f" ({tally.pages} document pages)" if tally.pages else ""
    print(escape_name(f"{'interrupted after' if interrupted else 'done:'} {tally.done} images{pages}, {tally.count} "
                      f"{count_label}, {tally.failures} failed{warned}, {seconds:.2f} s -> {files}"))
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if tally.failures else EXIT_OK


def visualize(outcome: Outcome, path: Path, draw: Callable[[], np.ndarray]) -> bool:
    """--visualize (and --save_crop_res): draw an image's picture and write it to `path`; whether it was written.
    The results come first: a picture that cannot be drawn or written becomes a warning of the outcome, and the
    image keeps its results."""
    try:
        save_image(path, draw())
    except Exception as exc:  # noqa: BLE001 - full disk, permissions, a font: never the OCR result's problem
        outcome.warnings.append(f"cannot write picture {path} ({_os_problem(exc)})")
        return False
    return True


def visual_path(args: argparse.Namespace, name: str, folder: str = "vis") -> Path:
    """Where --visualize puts an image's picture: OUTPUT/<folder>/<image name> (vis: system, det_vis: det)."""
    return Path(args.output) / folder / name


def points_json(boxes: Any) -> List[List[List[int]]]:
    """Boxes [K, 4, 2] -> JSON-ready nested int lists (as the system results store points)."""
    arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 4, 2)
    return arr.astype(np.int32).tolist()


"""PPOCR: text out of an image in three lines.

    from paddle_pp import PPOCR
    ocr = PPOCR()
    for line in ocr("receipt.jpg"):
        print(line["transcription"], line["score"], line["points"])
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from paddle_pp import model_dir as mdir
from paddle_pp import paddleocr_args
from paddle_pp.config import load_config
from paddle_pp.config_schema import DOCUMENT, PADDLEOCR_ARGS, SYSTEM, check_values
from paddle_pp.documents import DocumentInput, PageResult, document_kind, iter_pages, resolve_pdf_dpi
from paddle_pp.engine import ENGINES, DygraphEngine, Engine, OnnxEngine
from paddle_pp.export import export_in_subprocess
from paddle_pp.model_dir import ONNX_MODEL
from paddle_pp.pipeline import PageLines, TextClassifier, TextDetector, TextRecognizer, TextSystem, apply_options
from paddle_pp.pipeline import as_paddleocr as as_paddleocr_configs
from paddle_pp.resources import BUNDLED_MODELS_DIR
from paddle_pp.utils.dicts import resolve_dict_path
from paddle_pp.utils.errors import printable
from paddle_pp.utils.image_io import (ImageInput, ImageOptions, ImageReadError, resolve_max_pixels,
                                      to_bgr)

Stage = Union[TextDetector, TextClassifier, TextRecognizer]


def system_defaults() -> Dict[str, Any]:
    return dict(load_config("system")["System"])


SLIM_ENGINES = ("onnx", "paddle", "lite")


def slim_root() -> Path:
    """Where the slim models are: $PADDLE_PP_SLIM_DIR, else configs/system.yml's slim_models (in the bundled models)."""
    return Path(os.environ.get("PADDLE_PP_SLIM_DIR") or BUNDLED_MODELS_DIR / system_defaults()["slim_models"])


def slim_falls_back(stage: str, source: Optional[str] = None) -> bool:
    """No slim model of this stage is there and system.yml's slim_fallback_official lets the official one run."""
    return (stage in system_defaults()["slim_fallback_official"]
            and not (slim_root() / (source or stage)).is_dir())


def slim_model_dir(source: str) -> Path:
    """The project's slim model of a stage's source (`det`, `cls`, or a recognizer of rec_models: `rec` for
    lang ch, `rec_en` for en): <slim_root()>/<source>."""
    path = slim_root() / source
    if not mdir.is_model_dir(path):
        raise FileNotFoundError(f"{path}: no slim {source} model ({mdir.CONFIG} missing); make one with "
                                f"slim/{'prune' if source == 'det' else 'quant'}.py --publish {path}")
    return path


def stage_sources(lang: Optional[str] = None) -> Dict[str, str]:
    """Which model each stage runs: det, cls, and the recognizer of `lang` (configs/system.yml rec_models; None =
    System.lang). An unknown lang is a ValueError naming the choices."""
    system = system_defaults()
    lang = lang or system["lang"]
    if lang not in system["rec_models"]:
        raise ValueError(f"unknown lang '{lang}'; choose one of {', '.join(system['rec_models'])}")
    return {"det": "det", "cls": "cls", "rec": system["rec_models"][lang]}


def resolve_slim(slim: Optional[bool], engine: Optional[str], precision: Optional[str]) -> Tuple[bool, str, str]:
    """(slim, engine, precision) of a system or a stage: each as given, else configs/system.yml's default. The
    slim models run on slim_engine and slim_precision; an engine chosen by hand runs the general default precision
    (slim_precision belongs to slim_engine). Slim on an engine without quantized models is a ValueError."""
    system = system_defaults()
    slim = system["slim"] if slim is None else bool(slim)
    chosen = engine or (system["slim_engine"] if slim else system["engine"])
    precision = precision or (system["slim_precision"] if slim and not engine else system["precision"])
    if slim and chosen not in SLIM_ENGINES:
        raise ValueError(f"slim=True runs on engine 'onnx', 'paddle' (or 'lite' with .nb files from "
                         f"export_lite.py --slim), not '{chosen}': the quantized models have no dygraph form")
    return slim, chosen, precision


def slim_stage_dir(stage: str, given: Optional[os.PathLike], source: str, engine: str) -> Optional[os.PathLike]:
    """The model directory a slim stage runs: the one given by hand, else the project's slim model of its source
    (None when none is shipped and slim_fallback_official lets the official model run). The lite engine reads
    .nb files from lite_model_dir instead, so nothing changes there."""
    if given is not None or engine == "lite":
        return given
    return None if slim_falls_back(stage, source) else slim_model_dir(source)


def load_stage_config(name: str, model_dir: Optional[os.PathLike],
                      source: Optional[str] = None) -> Tuple[Dict[str, Any], Optional[Path]]:
    """The config that drives a stage: the model directory's own, or configs/<source>.yml for a model the
    project provides (official or bundled; `source` defaults to the stage name)."""
    if model_dir is None:
        return load_config(source or name), None
    return mdir.read_config(model_dir), Path(model_dir)


def _exports_missing(directory: Path, engine: str) -> Tuple[bool, bool]:
    """(the Paddle Inference files, model.onnx): which of what `engine` reads the directory still lacks. The paddle
    engine reads the legacy program: on this CPU it runs 1.5 times as fast as the PIR one and reads as the dygraph
    model does (docs/results.md, "Speed and memory")."""
    if engine == "paddle":
        return not mdir.has_legacy_program(directory), False
    inference = engine == "onnx" and not mdir.has_inference_model(directory)
    onnx = engine == "onnx" and not (directory / ONNX_MODEL).is_file()
    return inference, onnx


def ensure_exported(directory: Path, engine: str, log_file: Optional[os.PathLike] = None) -> None:
    """Export an (official, cached) model directory for `engine` on first use, atomically.

    Export and ONNX conversion run in one child process whose output (Paddle's and Paddle2ONNX's, from C++
    too) goes to `log_file`; the files are staged inside the directory and moved in, the file that marks
    completion last, so a concurrent reader sees either no export or a whole one. The paddle engine's legacy
    program replaces a PIR one (the two would share inference.pdiparams): the PIR program file goes first.
    """
    need_inference, need_onnx = _exports_missing(directory, engine)
    if not (need_inference or need_onnx):
        return
    legacy = engine == "paddle"
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=directory))
    try:
        export_in_subprocess(directory, staging, legacy=legacy, onnx=need_onnx, log_file=log_file)
        if need_inference:
            if legacy:
                from paddle_pp.weights import forget_cached_files

                forget_cached_files(directory, f"{mdir.INFERENCE_PREFIX}.")
                (directory / mdir.PIR_MODEL).unlink(missing_ok=True)
            mdir.install_inference_files(staging, directory)
        if need_onnx:
            os.replace(staging / ONNX_MODEL, directory / ONNX_MODEL)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prepare_model(source: str, engine: str, cache_dir: Optional[os.PathLike] = None) -> Path:
    """The cached model directory of an official (det/cls/rec) or bundled (rec_en, ...) model, imported, checked
    against its recorded digests and exported for `engine` on first use.

    A first use prints one line on stderr ("preparing official det model (one time) ... done"); what Paddle,
    Paddle2ONNX and Polygraphy print meanwhile goes to <cache>/logs/prepare.log. A warm, intact cache prints
    nothing. Concurrent first runs take turns per model (a lock file <cache>/.<name>.lock); the later one finds
    it ready. A cached file that differs from its digest is imported again (weights.checked_cache).
    """
    from paddle_pp.utils.quiet import exclusive_lock, prepare_log, preparing
    from paddle_pp.weights import (OFFICIAL_NAMES, bundled_is_current, cache_problems, checked_cache, model_dir,
                                   official_is_current, record_cached_files)

    official = source in OFFICIAL_NAMES
    directory = model_dir(source, cache_dir)
    current = official_is_current(source, cache_dir) if official else bundled_is_current(source, cache_dir)
    problems = cache_problems(directory) if current else []
    if current and not problems and not any(_exports_missing(directory, engine)):
        return directory
    if problems:  # said here: inside preparing() the process's output goes to the log
        print(f"model cache: {directory}: {problems[0]}; importing it again", file=sys.stderr)
    log_file = prepare_log(directory.parent)
    with preparing(f"{'official' if official else 'bundled'} {source} model", log_file):
        # one preparation of a model at a time: a concurrent import would replace the directory being exported
        with exclusive_lock(directory.parent / f".{source}.lock"):
            directory = checked_cache(source, cache_dir)
            ensure_exported(directory, engine, log_file)
            record_cached_files(directory)
    return directory


def build_engine(name: str, model_dir: Optional[Path], engine: str, cache_dir: Optional[os.PathLike] = None,
                 enable_mkldnn: bool = True, cpu_threads: int = 0,
                 lite_model_dir: Optional[os.PathLike] = None, source: Optional[str] = None,
                 precision: str = "fp32") -> Engine:
    """The engine for one stage. Official models are imported and exported on first use; a model directory
    given by hand must already hold what the engine reads (model.pdparams / inference.* / model.onnx, and
    model_int8.onnx for a PACT model at precision int8: see `int8_model_file`)."""
    from paddle_pp.weights import ModelCacheError, repair_command

    if engine not in ENGINES:
        raise ValueError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    if engine == "lite":  # opt-converted .nb files (deploy/lite/export_lite.py --valid_targets x86)
        from paddle_pp.engine.lite import LiteEngine

        return LiteEngine.for_stage(name, lite_model_dir, threads=cpu_threads)
    directory = model_dir
    if directory is None:  # the source: an official model (det/cls/rec) or one the project ships (rec_en)
        source = source or name
        directory = prepare_model(source, engine, cache_dir)
        try:
            return _load_engine(directory, engine, enable_mkldnn, cpu_threads, precision)
        except Exception as exc:  # damage the digests could not see (a cache older than them): say the fix
            message = printable(" ".join(f"{type(exc).__name__}: {exc}".split()), 300)
            raise ModelCacheError(f"{directory}: the cached {source} model cannot be loaded ({message}); "
                                  f"repair it with `{repair_command(source, cache_dir)}`") from exc
    return _load_engine(directory, engine, enable_mkldnn, cpu_threads, precision)


def int8_model_file(directory: Path, engine: str) -> Optional[Path]:
    """precision int8: the QDQ ONNX of a PACT model directory (onnxruntime runs it with int8 kernels), or None for
    a model that was not quantization-trained (the pruned detector, the official models), which runs in fp32.

    Only the onnx engine runs int8 here. Paddle Inference's oneDNN int8 passes do make int8 kernels of a PACT
    program, but they lose the accuracy (SROIE rec_val 0.51 -> 0.18, docs/deploy.md), so they are not offered."""
    from paddle_pp.slim.int8_onnx import is_fake_quant

    int8_file = directory / mdir.INT8_ONNX_MODEL
    quantized = int8_file.is_file() or is_fake_quant(directory)
    if not quantized:
        return None
    if engine != "onnx":
        raise ValueError(f"precision int8 runs on engine 'onnx' (onnxruntime int8 kernels), not '{engine}': "
                         f"Paddle Inference's oneDNN int8 loses this model's accuracy (docs/deploy.md)")
    if not int8_file.is_file():
        raise FileNotFoundError(f"{directory}: no {mdir.INT8_ONNX_MODEL}; make it with `paddle-pp export_int8 "
                                f"--model_dir {directory} --calib_data CROPS`, or run its fake-quant graph with "
                                f"precision fp32 (--precision fp32)")
    return int8_file


def how_to_export(directory: Path) -> str:
    """What to run for a directory that lacks the onnx engine's file."""
    if mdir.has_inference_model(directory):
        return f"make one with `paddle-pp export_onnx --model_dir {directory}`"
    if (directory / mdir.WEIGHTS).is_file():   # `paddle-pp export --weights_only` (or `interpolate`) wrote it
        return (f"it holds dygraph weights only ({mdir.WEIGHTS}): run it with --engine dygraph, or export it with "
                f"`paddle-pp export -c {directory / mdir.CONFIG} --save_dir OUT` and "
                f"`paddle-pp export_onnx --model_dir OUT` (docs/inference.md)")
    return "make one with `paddle-pp export` and `paddle-pp export_onnx` (docs/inference.md)"


def _load_engine(directory: Path, engine: str, enable_mkldnn: bool, cpu_threads: int,
                 precision: str = "fp32") -> Engine:
    int8_file = int8_model_file(directory, engine) if precision == "int8" else None
    if int8_file is not None:
        return OnnxEngine(int8_file, threads=cpu_threads)
    if engine == "dygraph":
        return DygraphEngine(mdir.load_model(directory))
    if engine == "paddle":
        from paddle_pp.engine.paddle_inference import PaddleInferenceEngine

        return PaddleInferenceEngine(directory, enable_mkldnn=enable_mkldnn, cpu_threads=cpu_threads or None,
                                     prefer_legacy=True)
    onnx_file = directory / ONNX_MODEL
    if not onnx_file.is_file():
        raise FileNotFoundError(f"{directory}: no {ONNX_MODEL}; " + how_to_export(directory))
    return OnnxEngine(onnx_file, threads=cpu_threads)


def build_stage(name: str, model_dir: Optional[os.PathLike] = None, engine: Optional[str] = None,
                cache_dir: Optional[os.PathLike] = None, enable_mkldnn: Optional[bool] = None,
                cpu_threads: Optional[int] = None, lite_model_dir: Optional[os.PathLike] = None,
                precision: Optional[str] = None, lang: Optional[str] = None, slim: Optional[bool] = None,
                as_paddleocr: Optional[bool] = None, **options: Any) -> Stage:
    """One stage (det, cls or rec) with its engine; options are the PaddleOCR flags of `OPTION_KEYS`.
    Without `model_dir`, `lang` picks the recognizer and `slim` the project's slim model of the stage, as in
    PPOCR; `as_paddleocr` sets the stage as PPOCR(as_paddleocr=True) does (default: System.as_paddleocr), the
    options given still applying. A value out of its range (paddle_pp.config_schema) is a ValueError naming the
    option."""
    check_values({"engine": engine, "enable_mkldnn": enable_mkldnn, "cpu_threads": cpu_threads,
                  "precision": precision, "slim": slim, "as_paddleocr": as_paddleocr}, SYSTEM)
    source = stage_sources(lang)[name]
    slim, engine, precision = resolve_slim(slim, engine, precision)
    if slim:
        model_dir = slim_stage_dir(name, model_dir, source, engine)
    configs, base = {}, None
    configs[name], base = load_stage_config(name, model_dir, source)
    for other in ("det", "cls", "rec"):
        configs.setdefault(other, {})
    if system_defaults()["as_paddleocr"] if as_paddleocr is None else as_paddleocr:
        as_paddleocr_configs(configs)
    apply_options(configs, options)
    return _make_stage(name, configs[name], base, engine, cache_dir, enable_mkldnn, cpu_threads, lite_model_dir,
                       source, precision)


def _make_stage(name: str, cfg: Dict[str, Any], base: Optional[Path], engine: Optional[str],
                cache_dir: Optional[os.PathLike], enable_mkldnn: Optional[bool], cpu_threads: Optional[int],
                lite_model_dir: Optional[os.PathLike] = None, source: Optional[str] = None,
                precision: Optional[str] = None) -> Stage:
    system = system_defaults()
    engine = engine or system["engine"]
    mkldnn = system["enable_mkldnn"] if enable_mkldnn is None else bool(enable_mkldnn)
    threads = system["cpu_threads"] if cpu_threads is None else int(cpu_threads)
    runner = build_engine(name, base, engine, cache_dir, mkldnn, threads, lite_model_dir, source,
                          precision or system["precision"])
    if name == "det":
        return TextDetector(cfg, runner)
    if name == "cls":
        return TextClassifier(cfg, runner)
    return TextRecognizer(cfg, runner, resolve_dict_path(cfg, base))


def _is_document(source: Any) -> bool:
    """A PDF or multi-page TIFF given as a path or bytes (one list of results per page), not a single image."""
    return isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)) and document_kind(source) != "image"


class PPOCR:
    """The PP-OCR system. Options mirror PaddleOCR's predictor flags; None means "the YAML's default".

    Args:
        det_model_dir / cls_model_dir / rec_model_dir: model directories (config.yml + weights or an
            exported model); None uses the official models, imported (and exported) on first use into the
            model cache.
        use_angle_cls: run the 0/180 classifier on each crop (configs/system.yml default: true).
        use_doc_orientation_classify: find whether the page is turned 90, 180 or 270 degrees and read it upright
            (default false); the points stay in the image as given (utils/page_orientation.py).
        lang: 'ch' (the official recognizer, default) or 'en' (our printable-ASCII English recognizer).
        slim: the project's slim system (paddle_pp/models/slim: FPGM-pruned det, PACT-quantized cls and rec; with
            lang='en' the English recognizer quantized post-training), on configs/system.yml's slim_engine and
            slim_precision by default.
        drop_score: drop results whose recognition score is below this (default 0.5; in [0, 1]).
        reading_order: the order of the lines: 'rows' (default; grouped into rows by vertical overlap, each read
            left to right), 'paddleocr' (PaddleOCR's sorted_boxes) or 'columns' (text set in columns: each column
            whole, left to right); paddle_pp/utils/reading_order.py.
        light_text_share: a page on which more than this share of the lines found are light text on a dark ground
            (dark-mode screenshots, slides) is detected again and read inverted (default 0.5; 1: never).
        as_paddleocr: PaddleOCR's results with these models, box for box and text for text (default false): no
            border around small images, one detection pass, long images shrunk by their long side and to the cap,
            nested boxes kept, crops classified whole and read as cut and once, pages never inverted, in
            PaddleOCR's recognition batches and reading order (pipeline.as_paddleocr). Options given besides it
            (reading_order, det_limit_side_len, ...) still apply.
        engine: 'onnx' (default, fastest here), 'paddle' (Paddle Inference), 'dygraph', or 'lite' (Paddle-Lite
            x86 .nb files from `lite_model_dir` / $PADDLE_PP_LITE_MODEL_DIR, run in the Paddle-Lite venv).
        enable_mkldnn, cpu_threads: engine settings (configs/system.yml).
        precision: 'fp32' or 'int8' (PaddleOCR's --precision): int8 runs the PACT models (their model_int8.onnx)
            with onnxruntime's int8 kernels, on engine 'onnx'; models that were not quantization-trained run fp32.
        max_pixels: images with more pixels are refused before they are decoded or processed, with an
            ImageTooLargeError (default: configs/system.yml System.max_pixels; 0 = no limit).
        return_word_box: each line also gives "words": [{"transcription", "points", "score"}], boxes from the
            CTC alignment within the line (default: configs/system.yml System.return_word_box, false).
        pdf_dpi: PDF pages are rendered at this resolution (default: configs/system.yml System.pdf_dpi).
        use_gpu, use_onnx, show_log, ocr_version: PaddleOCR's, taken so that its calls run as they are
            (paddle_pp/paddleocr_args.py): use_gpu=True and an ocr_version other than "PP-OCR" are ValueErrors.
        page_num: PaddleOCR's: read the first N pages of each document (0: all); a call's `pages=` wins.
        **options: det_limit_side_len, det_limit_type, det_max_side_limit, det_long_image_aspect,
            det_window_overlap, det_window_below, det_border_below, det_border_ratio,
            det_border_unclip_ratio, det_small_text_below, det_small_text_zoom, det_small_text_height,
            det_small_text_unclip_ratio, det_small_text_score_mode, det_small_text_grey, det_small_text_empty_zoom,
            det_small_text_empty_unread, det_small_text_rendered_share, det_small_text_past_aspect,
            det_large_text_above, det_large_text_height, det_db_thresh, det_db_box_thresh, det_db_unclip_ratio,
            det_db_score_mode, use_dilation, max_candidates, det_db_nested_thresh,
            cls_batch_num, cls_thresh, cls_pieces_above, cls_max_pieces, cls_upright_sure, cls_turned_view,
            rec_batch_num, rec_widen_inked_ends, rec_ink_strip, rec_ink_share, rec_drop_bullets, rec_dense_pitch,
            rec_dense_stretch, rec_dense_sure, rec_unsure_below, rec_unsure_blur, rec_char_dict_path, use_space_char;
            PaddleOCR's rec_image_shape, cls_image_shape and label_list, checked against the models' config.yml;
            and PaddleOCR's arguments that change nothing here (paddleocr_args.NO_EFFECT: ir_optim, gpu_mem,
            max_text_length, det_algorithm, ...), a ValueError when their value asks for what paddle-pp does not do
            (use_tensorrt=True).
        Valid ranges: paddle_pp/config_schema.py; a value outside one is a ValueError naming the option.
    """

    def __init__(self, det_model_dir: Optional[os.PathLike] = None, cls_model_dir: Optional[os.PathLike] = None,
                 rec_model_dir: Optional[os.PathLike] = None, use_angle_cls: Optional[bool] = None,
                 lang: Optional[str] = None, use_doc_orientation_classify: Optional[bool] = None,
                 drop_score: Optional[float] = None, reading_order: Optional[str] = None,
                 light_text_share: Optional[float] = None,
                 as_paddleocr: Optional[bool] = None, engine: Optional[str] = None,
                 enable_mkldnn: Optional[bool] = None, cpu_threads: Optional[int] = None,
                 cache_dir: Optional[os.PathLike] = None, lite_model_dir: Optional[os.PathLike] = None,
                 slim: Optional[bool] = None, max_pixels: Optional[int] = None, precision: Optional[str] = None,
                 return_word_box: Optional[bool] = None, pdf_dpi: Optional[float] = None,
                 use_gpu: Optional[bool] = None, use_onnx: Optional[bool] = None, show_log: Optional[bool] = None,
                 ocr_version: Optional[str] = None, page_num: Optional[int] = None, **options: Any) -> None:
        inert = {name: options.pop(name) for name in list(options) if name in paddleocr_args.NO_EFFECT}
        check_values({"use_gpu": use_gpu, "use_onnx": use_onnx, "show_log": show_log, "ocr_version": ocr_version,
                      "page_num": page_num, **inert}, PADDLEOCR_ARGS)
        paddleocr_args.check_use_gpu(use_gpu)
        paddleocr_args.check_ocr_version(ocr_version)
        paddleocr_args.check_no_effect(inert)
        self.page_selection = paddleocr_args.pages_for(page_num, None)
        engine = paddleocr_args.engine_for(use_onnx, engine)
        # show_log=False (PaddleOCR's): not even the one-time "preparing ... model" lines
        with contextlib.nullcontext() if show_log is not False else contextlib.redirect_stderr(io.StringIO()):
            # Every option is checked before any model is loaded: a value out of range is a ValueError naming it.
            check_values({"use_angle_cls": use_angle_cls, "use_doc_orientation_classify": use_doc_orientation_classify,
                          "drop_score": drop_score, "reading_order": reading_order, "as_paddleocr": as_paddleocr,
                          "light_text_share": light_text_share,
                          "engine": engine, "enable_mkldnn": enable_mkldnn, "cpu_threads": cpu_threads, "slim": slim,
                          "precision": precision, "return_word_box": return_word_box}, SYSTEM)
            apply_options({"det": {}, "cls": {}, "rec": {}}, options)
            system = system_defaults()
            self.max_pixels = resolve_max_pixels(max_pixels)
            self.pdf_dpi = resolve_pdf_dpi(pdf_dpi)
            self.return_word_box = system["return_word_box"] if return_word_box is None else bool(return_word_box)
            self.use_angle_cls = system["use_angle_cls"] if use_angle_cls is None else bool(use_angle_cls)
            self.use_doc_orientation_classify = (system["use_doc_orientation_classify"]
                                                 if use_doc_orientation_classify is None
                                                 else bool(use_doc_orientation_classify))
            self.drop_score = system["drop_score"] if drop_score is None else float(drop_score)
            self.as_paddleocr = system["as_paddleocr"] if as_paddleocr is None else bool(as_paddleocr)
            self.slim, self.engine, self.precision = resolve_slim(slim, engine, precision)
            self.lang = lang or system["lang"]
            sources = stage_sources(self.lang)

            dirs = {"det": det_model_dir, "cls": cls_model_dir, "rec": rec_model_dir}
            if self.slim:
                dirs = {name: slim_stage_dir(name, given, sources[name], self.engine) for name, given in dirs.items()}
            configs, bases = {}, {}
            for name, directory in dirs.items():
                configs[name], bases[name] = load_stage_config(name, directory, sources[name])
            if self.as_paddleocr:
                as_paddleocr_configs(configs, system)     # the options given below still apply
            apply_options(configs, options)
            self.reading_order = reading_order or system["reading_order"]
            self.light_text_share = (system["light_text_share"] if light_text_share is None
                                     else float(light_text_share))
            self.configs = configs

            def stage(name: str) -> Stage:
                return _make_stage(name, configs[name], bases[name], self.engine, cache_dir, enable_mkldnn, cpu_threads,
                                   lite_model_dir, sources[name], self.precision)

            classifier = stage("cls") if self.use_angle_cls or self.use_doc_orientation_classify else None
            self.system = TextSystem(stage("det"), stage("rec"), classifier, self.drop_score, self.return_word_box,
                                     self.reading_order, self.use_angle_cls, self.use_doc_orientation_classify,
                                     self.light_text_share, system["light_text_height"])

    def __call__(self, image: ImageInput, pages: Optional[str] = None,
                 pdf_password: Optional[str] = None) -> List[Any]:
        """OCR an image -> its results in reading order; OCR a document (a PDF or a multi-page TIFF, as a path or
        bytes) -> one such list per page, in page order.

        The image: a path, a BGR / gray / BGRA numpy array, a PIL image or the bytes of an image file;
        ImageReadError (ImageTooLargeError, ImageTypeError) otherwise. For documents, `pages` selects pages
        ('1-3,7'), `pdf_password` opens an encrypted PDF; a page that cannot be read raises its error
        (paddle_pp.documents: PDFPasswordError, DocumentReadError, ...). `pages()` goes on past bad pages.
        """
        check_values({"pages": pages, "pdf_password": pdf_password}, DOCUMENT)
        if _is_document(image):
            return [self.ocr_image(page) for page in self._page_images(image, self._pages(pages), pdf_password)]
        return self.ocr_image(to_bgr(image, self.max_pixels))

    def _pages(self, pages: Optional[str]) -> Optional[str]:
        """The pages a call reads: its own `pages`, else the constructor's `page_num` (PaddleOCR's)."""
        return pages if pages is not None else self.page_selection

    def _page_images(self, source: DocumentInput, pages: Optional[str],
                     pdf_password: Optional[str]) -> Iterator[np.ndarray]:
        """A document's pages as BGR images, one read at a time; a page that cannot be read raises its error."""
        for page in iter_pages(source, None, self.pdf_dpi, pages, pdf_password, self.max_pixels):  # white ground
            if page.error is not None:
                raise page.error
            yield page.image

    def ocr(self, img: ImageInput, det: bool = True, rec: bool = True, cls: bool = True, bin: bool = False,
            inv: bool = False, alpha_color: Tuple[int, int, int] = (255, 255, 255), pages: Optional[str] = None,
            pdf_password: Optional[str] = None) -> List[List[Any]]:
        """PaddleOCR's `PaddleOCR.ocr`, with its result shape: one list per page (an image is one page), holding
        `[points, (text, score)]` per line in reading order; `[points, ...]` with `rec=False` (detection only);
        `[(text, score)]` with `det=False` (the whole image read as one line); `[[label, score]]` with
        `det=False, rec=False` (the whole image classified as one line, '0' or '180'). `cls=False` skips the
        classifier for this call. PaddleOCR 2.7's image options: `inv` inverts the image (light text on a dark
        ground), `bin` binarizes it (Otsu), `alpha_color` (R, G, B) is what an image's transparency is composited
        over. An image without text gives `[]` where PaddleOCR gives None. Errors as `__call__`; a ValueError
        when the call asks for nothing (no det, no rec, and no classifier to run)."""
        check_values({"pages": pages, "pdf_password": pdf_password}, DOCUMENT)
        options = ImageOptions(inv, bin, alpha_color)
        if not (det or rec or (cls and self.use_angle_cls)):
            raise ValueError("ocr(det=False, rec=False) asks for nothing but the classifier, and "
                             f"{'cls is False' if not cls else 'use_angle_cls is off'}; keep det, rec or both")
        images = (self._page_images(img, self._pages(pages), pdf_password) if _is_document(img)
                  else [to_bgr(img, self.max_pixels, options.background)])
        return [self._paddleocr_page(options.adjust(image), det, rec, cls) for image in images]

    def _paddleocr_page(self, image: np.ndarray, det: bool, rec: bool, cls: bool) -> List[Any]:
        if not det and not rec:
            return self.classify_lines([image])
        if not det:
            return self.read_lines([image], cls)
        if not rec:
            return [np.asarray(box).tolist() for box in self.system.page_boxes(image)[0]]
        return [[r.points, (r.transcription, r.score)] for r in self.system(image, classify=cls and self.use_angle_cls)]

    def read_lines(self, crops: List[np.ndarray], cls: bool = True) -> List[Tuple[str, float]]:
        """Text-line crops (uint8 BGR) -> (text, score) each, in order: turned by the direction classifier first
        when use_angle_cls is on (and `cls`), batched as the system batches its lines. PaddleOCR's `det=False`."""
        if cls and self.use_angle_cls and crops:
            crops, _ = self.system.classifier(crops)
        return [(text, float(score)) for text, score in self.system.recognizer(crops)] if crops else []

    def classify_lines(self, crops: List[np.ndarray]) -> List[List[Any]]:
        """Text-line crops (uint8 BGR) -> [label, score] each ('0' or '180' and its probability), as PaddleOCR's
        `ocr(det=False, rec=False)`. A ValueError when use_angle_cls is off (no classifier runs)."""
        if not self.use_angle_cls:
            raise ValueError("classifying lines needs the direction classifier: use_angle_cls is off")
        if not crops:
            return []
        _, results = self.system.classifier(crops)
        return [[label, float(score)] for label, score in results]

    def ocr_results(self, image: np.ndarray, keep_crops: bool = False) -> PageLines:
        """OCR one decoded uint8 BGR image -> its lines (OCRResult) in reading order, with the angle the page was
        read at (PageLines.angle); with `keep_crops` each holds the crop its text was read from
        (`--save_crop_res`)."""
        return self.system(image, keep_crops=keep_crops)

    def page_angle(self, read: PageLines) -> Optional[int]:
        """The angle a page was read at (PageLines.angle) when the system looks for it, else None."""
        return read.angle if self.system.use_doc_orientation_classify else None

    def ocr_image(self, image: np.ndarray) -> List[Dict[str, Any]]:
        """OCR one decoded uint8 BGR image -> its results (dicts) in reading order."""
        return [r.to_dict() for r in self.ocr_results(image)]

    def pages(self, source: DocumentInput, name: Optional[str] = None, pages: Optional[str] = None,
              pdf_password: Optional[str] = None, embedded_text: bool = False) -> Iterator[PageResult]:
        """Stream the pages of an image or document (a path or bytes) as PageResult, one page read and OCRed at a
        time: `.lines` holds the page's results, or `.error` what went wrong with it (a named error); the next
        pages still come. A plain image is one page with `number` None."""
        check_values({"pages": pages, "pdf_password": pdf_password}, DOCUMENT)
        for page in iter_pages(source, name, self.pdf_dpi, self._pages(pages), pdf_password, self.max_pixels,
                               embedded_text):
            if page.error is not None:
                yield PageResult.of(page)
                continue
            try:
                read = self.system(page.image)
            except ImageReadError as exc:
                yield PageResult.of(page, error=exc)
                continue
            yield PageResult.of(page, [r.to_dict() for r in read], angle=self.page_angle(read))

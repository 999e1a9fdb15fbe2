"""The valid keys, types and ranges of every config section: the other half of the YAML, which holds the defaults.

A key's default is written once, in the YAML (configs/*.yml, or a model directory's config.yml); what values it
may take is written once, here. Every entry point checks against this table: `load_config` (every section of a
config file, after `_base_` merging and `-o` overrides), the command-line tools (`Field.argparse_type`: exit 2,
``argument --rec_batch_num: must be an integer >= 1, got -3``) and the API (`PPOCR`, `build_stage`,
`apply_options`: a ValueError naming the option).

Why a module and not the YAML: configs are copied (a user's recipe, every model directory's config.yml), and a
range written into each copy could be widened or lost in one of them; optional keys with no default (max_steps)
need a range too; and the check must run before any YAML is trusted. The ranges reject what cannot mean
anything (a batch of 0, a threshold above 1, NaN), not what is merely unusual.

The components a config names (backbones, heads, losses, data operators, optimizers ...) take their keyword
arguments from their constructors; `paddle_pp.config.check_components` checks those against the registries.
This module imports nothing from the package, so every layer may read it.
"""
from __future__ import annotations

import argparse
import difflib
import math
import numbers
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from paddle_pp.defaults import DB_SCORE_MODES

TRUE_WORDS = ("1", "true", "yes", "y", "on")
FALSE_WORDS = ("0", "false", "no", "n", "off")


@dataclass(frozen=True)
class Field:
    """One key: its kind ('int', 'float', 'bool', 'str', 'list', 'map', 'any'), range or choices, and whether
    null (an empty YAML value: "not set") is allowed."""

    kind: str
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False          # low < value instead of low <= value
    high_open: bool = False
    choices: Optional[Tuple[Any, ...]] = None
    nullable: bool = False
    length: Optional[int] = None    # lists: the number of items
    item: Optional["Field"] = None  # lists: every item's field

    def describe(self) -> str:
        """'an integer >= 1', 'a number in [0, 1)', 'one of max, min', ... (the words after 'must be')."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "str":
            return "a string"
        if self.kind == "pages":
            return "a page list such as 1-3,7 or 5- (pages count from 1, each range first <= last)"
        if self.kind == "map":
            return "a mapping"
        if self.kind == "list":
            size = f"{self.length} " if self.length else ""
            return f"a list of {size}{_plural(self.item.describe()) if self.item else 'values'}"
        noun = "an integer" if self.kind == "int" else "a number"
        if self.low is not None and self.high is not None:
            return (f"{noun} in {'(' if self.low_open else '['}{_num(self.low)}, "
                    f"{_num(self.high)}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{noun} {'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{noun} {'<' if self.high_open else '<='} {_num(self.high)}"
        return noun

    def problem(self, value: Any) -> Optional[str]:
        """None when `value` is valid, else 'must be <describe()>, got <value>'."""
        if value is None:
            return None if self.nullable else f"must be {self.describe()}, got nothing (null)"
        if self._valid(value):
            return None
        return f"must be {self.describe()}, got {_show(value)}"

    def check(self, value: Any, name: str) -> Any:
        """`value`, or a ValueError '<name> must be ..., got ...'."""
        problem = self.problem(value)
        if problem:
            raise ValueError(f"{name} {problem}")
        return value

    def parse(self, text: str) -> Any:
        """A command-line string -> a valid value, or argparse.ArgumentTypeError (argparse: exit 2)."""
        value: Any = text
        try:
            if self.kind == "bool":
                value = _parse_bool(text)
            elif self.kind == "int":
                value = int(text)
            elif self.kind == "float":
                value = float(text)
            elif self.kind == "list" and self.item is not None:   # comma-separated: 0,0,0
                value = [self.item.parse(part.strip()) for part in text.split(",")] if text.strip() else []
        except ValueError:
            shown = repr(text) if self.kind == "bool" else text
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {shown}") from None
        if value is not None and self._valid(value):
            return value
        raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text if self.kind != 'str' else repr(text)}")

    def argparse_type(self, name: str) -> Callable[[str], Any]:
        """The `type=` of an argparse flag; named after the option so argparse's own messages read well."""
        parse = self.parse
        parse_named = lambda text: parse(text)  # noqa: E731
        parse_named.__name__ = name
        return parse_named

    def _valid(self, value: Any) -> bool:
        if self.choices is not None:
            return not isinstance(value, bool) and value in self.choices
        if self.kind == "bool":
            return isinstance(value, bool) or type(value).__name__ == "bool_"  # numpy.bool_
        if self.kind == "str":
            return isinstance(value, str)
        if self.kind == "pages":
            return isinstance(value, str) and page_ranges(value) is not None
        if self.kind == "map":
            return isinstance(value, Mapping)
        if self.kind == "any":
            return True
        if self.kind == "list":
            return (isinstance(value, (list, tuple)) and (self.length is None or len(value) == self.length)
                    and (self.item is None or all(self.item.problem(v) is None for v in value)))
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind == "int" and not isinstance(value, numbers.Integral):
            return False
        if not math.isfinite(float(value)):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True


_PAGES_RE = re.compile(r"^\s*\d+\s*(-\s*\d*\s*)?(,\s*\d+\s*(-\s*\d*\s*)?)*$")


def page_ranges(text: str) -> Optional[List[Tuple[int, Optional[int]]]]:
    """'1-3,7,9-' -> [(1, 3), (7, 7), (9, None)] (None: to the last page); None when the text is not such a list
    (pages count from 1; a range's first page <= its last)."""
    if not _PAGES_RE.match(text):
        return None
    ranges: List[Tuple[int, Optional[int]]] = []
    for part in text.replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        ranges.append((int(first), (int(last) if last else None) if dash else int(first)))
    if any(first < 1 or (last is not None and last < first) for first, last in ranges):
        return None
    return ranges


def _parse_bool(text: str) -> bool:
    if text.lower() in TRUE_WORDS:
        return True
    if text.lower() in FALSE_WORDS:
        return False
    raise ValueError(text)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return _num(value)
    return str(value)


def _plural(description: str) -> str:
    for article in ("an ", "a "):
        if description.startswith(article):
            return description[len(article):].replace("integer", "integers").replace("number", "numbers") \
                .replace("string", "strings")
    return description


# ------------------------------------------------------------------------------------------------ field shorthands

def Int(low: Optional[float] = None, high: Optional[float] = None, **kw: Any) -> Field:
    return Field("int", low, high, **kw)


def Float(low: Optional[float] = None, high: Optional[float] = None, **kw: Any) -> Field:
    return Field("float", low, high, **kw)


def Bool(**kw: Any) -> Field:
    return Field("bool", **kw)


def Str(**kw: Any) -> Field:
    return Field("str", **kw)


def OneOf(*choices: Any, **kw: Any) -> Field:
    return Field("str", choices=tuple(choices), **kw)


def ListOf(item: Optional[Field] = None, length: Optional[int] = None, **kw: Any) -> Field:
    return Field("list", item=item, length=length, **kw)


PROBABILITY = Float(0, 1)
ANY = Field("any", nullable=True)
PATH = Str(nullable=True)
IMAGE_SHAPE = ListOf(Int(1), length=3)   # [channels, height, width]
# Global.eval_batch_step: [start step, every N steps], or every N steps
EVAL_BATCH_STEP = Field("any", nullable=True)

# ------------------------------------------------------------------------------------------------ sections

SECTIONS = ("Global", "Architecture", "Loss", "Optimizer", "PostProcess", "Metric", "Train", "Eval", "Inference",
            "Slim", "System", "Interpolate")
# Sections whose keys are a component's arguments (checked against its constructor by check_components).
COMPONENT_SECTIONS = ("Loss", "Metric")

GLOBAL: Dict[str, Field] = {
    "model_name": Str(nullable=True),                  # det, cls, rec, rec_en ...: what 'official' weights mean
    "pretrained_model": PATH,
    "official_onnx": PATH,
    "checkpoints": PATH,
    "save_model_dir": PATH,
    "config_path": PATH,                               # set by load_config: the file the config came from
    "epoch_num": Int(1, nullable=True),
    "log_smooth_window": Int(1, nullable=True),
    "print_batch_step": Int(1, nullable=True),
    "save_epoch_step": Int(1, nullable=True),
    "eval_batch_step": EVAL_BATCH_STEP,
    "seed": Int(0, nullable=True),
    "max_steps": Int(1, nullable=True),
    "max_train_minutes": Float(0, low_open=True, nullable=True),
    "progress_bar": Bool(nullable=True),
    "freeze_bn": Bool(nullable=True),
    "label_list": ListOf(nullable=True),
    "character_dict_path": PATH,
    "use_space_char": Bool(nullable=True),
    "max_text_length": Int(1, nullable=True),
    "transfer_ctc_head": Bool(nullable=True),
    "overwrite": Bool(nullable=True),                  # a new run may replace another run's checkpoints
}

# The model options (PaddleOCR's predictor flags map onto these keys through pipeline.OPTION_KEYS).
INFERENCE: Dict[str, Dict[str, Field]] = {
    "det": {
        "limit_side_len": Int(1),
        "limit_type": OneOf("max", "min", "resize_long"),
        "max_side_limit": Int(32, nullable=True),    # then at most this long side; empty: no cap (PaddleOCR 2.x)
        "long_image_aspect": Float(0),               # max: a longer image is shrunk by its short side; 0: never
        "window_overlap": Float(0, high=1),          # one longer than the cap there: windows overlapping by this
        "window_below": Float(0, high=1),            # when the cap would shrink it below this of that scale
        "border_below": Int(0),                      # a short side under this gets a border first; 0: never
        "border_ratio": Float(0),                    # that border, a fraction of the short side
        "border_unclip_ratio": Float(0, low_open=True, nullable=True),   # DB's unclip there; empty: PostProcess's
        "small_text_below": Float(0),                # text found smaller (median px) is detected again; 0: never
        "small_text_zoom": Float(1),                 # then at most this many times the input's long side
        "small_text_height": Float(0),               # zoomed so the median comes to this; 0: always small_text_zoom
        "small_text_empty_zoom": Float(0),           # nothing found: at least this many times, past its size
        "small_text_empty_unread": Bool(),           # ... and nothing read of what was found: the same
        "small_text_rendered_share": Float(0, high=1),   # found small, past its size where fewer pixels are flat
        "small_text_past_aspect": Float(0),          # ... and its boxes are at least this many times as long
        "small_text_unclip_ratio": Float(0, low_open=True, nullable=True),  # DB's unclip there; empty: as before
        "small_text_score_mode": OneOf(*DB_SCORE_MODES, nullable=True),      # DB's box score there; empty: as before
        "small_text_grey": Bool(),                   # and the page seen in grey there
        "large_text_above": Float(0),                # neighbours this high (px) are pieces of a split line; 0: never
        "large_text_height": Float(1),               # then detected again shrunk so that they are this high
        "mean": ListOf(Float(), length=3),
        "std": ListOf(Float(0, low_open=True), length=3),
        "scale": Float(0, low_open=True),
    },
    "cls": {"image_shape": IMAGE_SHAPE, "batch_num": Int(1), "thresh": PROBABILITY,
            "pieces_above": Float(0),                # a crop wider than this many heights is also classified in
            "max_pieces": Int(0),                    # at most this many pieces (rec_ops.cls_piece_spans); 0: never
            "upright_sure": PROBABILITY,             # unless found upright whole scoring above this; 1: always
            "turned_view": Bool()},                  # such a crop is also classified turned by 180 degrees
    "rec": {"image_shape": IMAGE_SHAPE, "batch_num": Int(1),
            "max_pad_ratio": Float(1, nullable=True),    # pad a crop at most this times its own width; empty: no bound
            "widen_inked_ends": Float(0),            # a box ending on ink is read this many heights wider; 0: never
            "ink_strip": Float(0, 1, low_open=True),  # an end: its outermost columns, this many box heights wide,
            "ink_share": Float(0, 1, low_open=True),  # are on ink when at least this share of them is ink
            "dense_pitch": Float(0),                 # a line with fewer output steps a character is read again,
            "dense_stretch": Float(1, low_open=True),  # this many times as wide,
            "dense_sure": PROBABILITY,                # unless its first read scored at least this; pitch 0: never
            "unsure_below": Float(0, 1, low_open=True),  # a read scoring below this is read again,
            "unsure_blur": Float(0),                 # blurred by this many input pixels (sigma); 0: never
            "drop_bullets": Bool()},                 # a round bullet starting a line is cut off before reading
}

POSTPROCESS: Dict[str, Dict[str, Field]] = {
    "DBPostProcess": {
        "thresh": Float(0, 1, high_open=True),       # pixels > thresh are text: 1 would find nothing, ever
        "box_thresh": PROBABILITY,
        "max_candidates": Int(1),
        "unclip_ratio": Float(0, low_open=True),
        "use_dilation": Bool(),
        "score_mode": OneOf(*DB_SCORE_MODES),
        # drop a box with more than this fraction of its area inside a larger box; empty or 0: keep it (PaddleOCR)
        "nested_thresh": Float(0, 1, nullable=True),
    },
    "ClsPostProcess": {"label_list": ListOf(nullable=True)},
    "CTCLabelDecode": {"character_dict_path": PATH, "use_space_char": Bool(nullable=True),
                       # prior probability of a mixed-case word (postprocess.ctc_decode); empty: greedy only
                       "mixed_case_prior": Float(0, 1, low_open=True, high_open=True, nullable=True)},
}

ENGINE_CHOICES = ("onnx", "paddle", "dygraph", "lite")   # paddle_pp.engine.ENGINES (a test keeps them equal)
STAGE_NAMES = ("det", "cls", "rec")
READING_ORDERS = ("rows", "paddleocr", "columns")   # paddle_pp.utils.reading_order (a test keeps them equal)

SYSTEM: Dict[str, Field] = {
    "use_angle_cls": Bool(),
    "use_doc_orientation_classify": Bool(),           # turn sideways / upside-down pages upright first
    "drop_score": PROBABILITY,                        # recognition scores are probabilities
    "reading_order": OneOf(*READING_ORDERS),
    # a page on which more than this share of the lines found are light on dark is read inverted; 1: never
    "light_text_share": Float(0, 1),
    "light_text_height": Float(0),                    # ... and their median height is at least this many pixels
    "as_paddleocr": Bool(),                           # detect, turn, crop, batch and order lines as PaddleOCR does
    "lang": Str(),                                    # one of rec_models' keys (checked in check_config)
    "rec_models": Field("map"),
    "engine": OneOf(*ENGINE_CHOICES),
    "enable_mkldnn": Bool(),
    "cpu_threads": Int(0, 1024),                      # 0 = one per core
    "slim": Bool(),
    "max_pixels": Int(0),                             # images with more pixels are refused before decoding; 0 = no limit
    "pdf_dpi": Float(18, 1200),                       # PDF pages are rendered at this (a 1/4-inch line is 4.5 px at 18)
    "return_word_box": Bool(),                        # each result line also gives its words with boxes
    "slim_models": Str(),
    "slim_engine": OneOf("onnx", "paddle", "lite"),
    "precision": OneOf("fp32", "int8"),               # PaddleOCR's --precision; int8: PACT models on onnxruntime
    "slim_precision": OneOf("fp32", "int8"),
    "slim_fallback_official": ListOf(OneOf(*STAGE_NAMES)),
}

# PaddleOCR's arguments taken for compatibility (paddle_pp/paddleocr_args.py says what each becomes).
PADDLEOCR_ARGS: Dict[str, Field] = {
    "use_gpu": Bool(nullable=True),                   # true is refused: paddle-pp runs on the CPU
    "use_onnx": Bool(nullable=True),                  # true: engine onnx, false: engine paddle
    "show_log": Bool(nullable=True),
    "page_num": Int(0, nullable=True),                # the first N pages of each document; 0 = all
    "save_crop_res": Bool(nullable=True),
    "det": Bool(),                                    # false: each input is one text line (no detection)
    "rec": Bool(),                                    # false: detection (or, without det, classification) only
    "ocr_version": Str(nullable=True),                # only PP-OCR (paddleocr_args.check_ocr_version)
    "invert": Bool(),                                 # ocr(inv=True): light text on a dark ground
    "binarize": Bool(),                               # ocr(bin=True): Otsu black and white
    "alphacolor": ListOf(Int(0, 255), length=3),      # ocr(alpha_color=(R, G, B)): what transparency goes over
    "use_mp": Bool(nullable=True),                    # worker processes share the images (paddle-pp ocr)
    "total_process_num": Int(1, nullable=True),
    # PaddleOCR's flags that change nothing here (paddleocr_args.NO_EFFECT says which values are taken)
    "use_tensorrt": Bool(nullable=True),
    "use_xpu": Bool(nullable=True),
    "use_npu": Bool(nullable=True),
    "use_mlu": Bool(nullable=True),
    "gpu_mem": Int(0, nullable=True),
    "gpu_id": Int(0, nullable=True),
    "min_subgraph_size": Int(0, nullable=True),
    "ir_optim": Bool(nullable=True),
    "warmup": Bool(nullable=True),
    "benchmark": Bool(nullable=True),
    "use_pdserving": Bool(nullable=True),
    "max_text_length": Int(1, nullable=True),
    "rec_image_inverse": Bool(nullable=True),
    "det_algorithm": Str(nullable=True),
    "rec_algorithm": Str(nullable=True),
    "det_box_type": Str(nullable=True),
    "type": Str(nullable=True),
    # PaddleOCR's flags that describe the model: checked against its config.yml (pipeline.MODEL_FACTS)
    "rec_image_shape": Str(nullable=True),            # "3, 32, 320"
    "cls_image_shape": Str(nullable=True),            # "3, 48, 192"
    "label_list": ListOf(Str(), nullable=True),       # ['0', '180']
}

OUTPUT_FORMATS = ("json", "txt", "hocr", "pdf")     # paddle_pp.output.FORMATS (a test keeps them equal)
# Options of one run or call, not of the system: which pages, the password, what to write.
DOCUMENT: Dict[str, Field] = {
    "pages": Field("pages", nullable=True),           # '1-3,7', '5-'; None = every page
    "pdf_password": Str(nullable=True),
    "output_format": ListOf(OneOf(*OUTPUT_FORMATS)),
}

LOADER: Dict[str, Field] = {                          # paddle_pp.data.LOADER_KEYS (a test keeps them equal)
    "shuffle": Bool(nullable=True),
    "drop_last": Bool(nullable=True),
    "batch_size_per_card": Int(1, nullable=True),
    "num_workers": Int(0, nullable=True),
    "use_shared_memory": Bool(nullable=True),
    "bucket_by_width": Bool(nullable=True),           # batches of one RecResizeImg output width (data/bucket_sampler.py)
}
# Ranges of data operator arguments that have one (their names are checked against the constructors).
TRANSFORM_ARGS: Dict[str, Dict[str, Field]] = {
    "RecResizeImg": {"max_width": Int(1, nullable=True),   # >= image_shape's width, checked by the operator
                     "width_step": Int(1)},
}
DATA_MODE_KEYS = ("dataset", "loader")

ARCHITECTURE: Dict[str, Field] = {
    "name": Str(nullable=True),
    "model_type": OneOf(*STAGE_NAMES),
    "algorithm": Str(nullable=True),
    "in_channels": Int(1, nullable=True),
    "Backbone": Field("map", nullable=True),
    "Neck": Field("map", nullable=True),
    "Head": Field("map", nullable=True),
    "Models": Field("map", nullable=True),
    "infer_model": Str(nullable=True),
}
# A DistillationModel's sub-model: an Architecture section plus how it is trained (modeling/distillation.py).
SUB_MODEL: Dict[str, Field] = {**ARCHITECTURE, "model_type": OneOf(*STAGE_NAMES, nullable=True),
                               "freeze_params": Bool(nullable=True), "pretrained": PATH,
                               "return_all_feats": Bool(nullable=True)}

OPTIMIZER: Dict[str, Field] = {                       # + the optimizer's own arguments (check_components)
    "name": Str(),
    "lr": Field("map", nullable=True),
    "regularizer": Field("map", nullable=True),
    "clip_norm": Float(0, low_open=True, nullable=True),
    "clip_norm_global": Float(0, low_open=True, nullable=True),
}
OPTIMIZER_KWARGS: Dict[str, Field] = {               # ranges of the optimizers' arguments that have one
    "beta1": Float(0, 1, high_open=True), "beta2": Float(0, 1, high_open=True),
    "epsilon": Float(0, low_open=True), "momentum": Float(0, 1),
}
LR: Dict[str, Field] = {"name": Str(), "learning_rate": Float(0, low_open=True, nullable=True),
                        "warmup_epoch": Float(0, nullable=True)}
REGULARIZER: Dict[str, Field] = {"name": OneOf("L1", "L2", "L1Decay", "L2Decay", nullable=True),
                                 "factor": Float(0, nullable=True)}

SLIM: Dict[str, Field] = {
    "save_dir": PATH,
    "latency_runs": Int(0, nullable=True),            # 0: skip the latency measurement
    "eval_max_batches": Int(1, nullable=True),
    "input_shape": ListOf(Int(1), nullable=True),
    "finetune": Field("map", nullable=True),
    # prune.py
    "ratios": Field("map", nullable=True),            # weight name -> fraction of its filters removed
    "pruned_flops": Float(0, 1, low_open=True, high_open=True, nullable=True),
    "max_drop": Float(0, 1, nullable=True),
    "sen_file": PATH,
    "sen_ratios": ListOf(Float(0, 1, low_open=True, high_open=True), nullable=True),
    "sen_layers": ListOf(Str(), nullable=True),
    "skip_layers": ListOf(Str(), nullable=True),
    "reconstruct": Field("map", nullable=True),       # least-squares re-fit after pruning (SLIM_RECONSTRUCT)
    # quant.py
    "pact_init": Field("map", nullable=True),         # PACT alphas from the float model's input percentiles
    "skip_quant": ListOf(Str(), nullable=True),       # layer-name patterns kept float
    "post_training": Bool(nullable=True),             # no QAT: calibrate the activation scales, no gradient step
    "calibration_batches": Int(1, nullable=True),     # training batches the post-training scales come from
    "round_float_weights": Bool(nullable=True),       # float convs' weights on Paddle-Lite's int8 grid, bias-corrected
    "min_int8_macs": Int(0, nullable=True),           # x86 int8 export: smaller layers stay float kernels
    # paddle-pp lite export --quant: the depthwise convolutions' weights stored as integers too (lite/quant_weights.py);
    # set where it was measured to hold
    "lite_int8_depthwise": Bool(nullable=True),
}
# A model made by weight interpolation, not training (paddle-pp interpolate, tools/interpolate.py).
INTERPOLATE: Dict[str, Field] = {
    "start": Str(),                                   # the weights its training started from ('official:rec', a path)
    "alpha": Float(0, 1),                             # alpha * Global.pretrained_model + (1 - alpha) * start
}
SLIM_PACT_INIT: Dict[str, Field] = {
    "percentile": Float(50, 100, low_open=True, nullable=True),
    "batches": Int(1, nullable=True),
}
SLIM_RECONSTRUCT: Dict[str, Field] = {              # paddle_pp/slim/reconstruct.py
    "dataset": Field("map", nullable=True),           # keys over Eval.dataset's (its own label_file_list)
    "max_images": Int(1, nullable=True),
    "extra_layers": ListOf(Str(), nullable=True),     # convs after the cut ones to re-fit as well
    "positions_per_image": Int(1, nullable=True),
    "ridge": Float(0, nullable=True),
    "seed": Int(0, nullable=True),
}
SLIM_FINETUNE: Dict[str, Field] = {
    "epoch_num": GLOBAL["epoch_num"], "max_steps": GLOBAL["max_steps"],
    "max_train_minutes": GLOBAL["max_train_minutes"], "eval_batch_step": GLOBAL["eval_batch_step"],
    "print_batch_step": GLOBAL["print_batch_step"], "learning_rate": LR["learning_rate"],
    "warmup_epoch": LR["warmup_epoch"],
}
PRUNE_RATIO = Float(0, 1, low_open=True, high_open=True)


# ------------------------------------------------------------------------------------------------ messages

def unknown_message(what: str, name: str, where: str, known: Iterable[str]) -> str:
    """"unknown key 'max_step' in Global; did you mean 'max_steps'?" (or the list of valid ones)."""
    known = sorted(str(k) for k in known)
    place = f" in {where}" if where else ""
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    if close:
        return f"unknown {what} '{name}'{place}; did you mean '{close[0]}'?"
    return f"unknown {what} '{name}'{place}; valid: {', '.join(known) or '(none)'}"


def check_mapping(values: Mapping[str, Any], fields: Mapping[str, Field], where: str,
                  extra_keys: Iterable[str] = ()) -> None:
    """Every key known (fields or extra_keys) and every value in its field's range; ValueError otherwise."""
    extra = set(extra_keys)
    for key, value in values.items():
        if key in fields:
            fields[key].check(value, f"{where}.{key}")
        elif key not in extra:
            raise ValueError(unknown_message("key", key, where, set(fields) | extra))


def field_of(model: str, section: str, key: str) -> Field:
    """The field of a model config's `section.key` (what pipeline.OPTION_KEYS maps a predictor flag onto)."""
    if section == "Inference":
        return INFERENCE[model][key]
    if section == "PostProcess":
        return POSTPROCESS["DBPostProcess"][key]
    return GLOBAL[key]


def check_values(values: Mapping[str, Any], fields: Mapping[str, Field]) -> None:
    """API keyword arguments: each non-None value in its field's range, else a ValueError naming the option."""
    for name, value in values.items():
        if value is not None:
            fields[name].check(value, name)

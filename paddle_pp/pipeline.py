"""The OCR system: detect -> sort -> crop -> classify -> recognize, independent of the engine.

Each stage takes its defaults from its model's YAML (`Inference`, `PostProcess` and the `Global` label keys;
`paddle_pp.defaults` for keys a YAML leaves out); the options of PaddleOCR's predictors (`det_db_thresh`,
`rec_batch_num`, ...) override them through one table, `OPTION_KEYS`, shared by the Python API and the
command-line tools; each option's valid range is its YAML key's (`paddle_pp.config_schema.field_of`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from paddle_pp import config_schema, defaults
from paddle_pp.config import load_config
from paddle_pp.data.imaug.det_ops import (add_border, as_grey, det_preprocess, det_scale, det_target_size,
                                          det_window_length, detection_border, flat_share, median_aspect,
                                          single_colour, small_text_long_side)
from paddle_pp.data.imaug.rec_ops import (blurred, cls_piece_spans, resize_norm_cls, resize_norm_rec,
                                          resized_width, stretched)
from paddle_pp.engine import Engine
from paddle_pp.postprocess.cls_postprocess import ClsPostProcess, combine_votes
from paddle_pp.postprocess.ctc_decode import CTCLabelDecode, mixed_case_prior
from paddle_pp.postprocess.db_postprocess import DBPostProcess, filter_tag_det_res
from paddle_pp.postprocess.det_join import far_long_side, input_heights, join_split_lines, split_line_boxes
from paddle_pp.postprocess.det_windows import merge_window_boxes, window_spans
from paddle_pp.postprocess.word_boxes import WordSpan, word_spans
from paddle_pp.utils import page_orientation
from paddle_pp.utils.crop import (box_from_column, crop_size, crop_to_image, get_rotate_crop_image, inked_ends,
                                  is_turned_sideways, leading_bullet_end, light_on_dark_share, line_span, widened_box)
from paddle_pp.utils.dicts import use_space_char
from paddle_pp.utils.reading_order import order_boxes

# PaddleOCR flag name -> (model, config section, key). The one map from user-facing options to YAML keys.
# rec Inference keys of the widening of crops that end on ink (TextSystem._reading_crops); flags rec_<key>
INKED_END_KEYS = ("widen_inked_ends", "ink_strip", "ink_share")
# rec Inference keys of the second read of dense lines (TextRecognizer._recognize); flags rec_<key>
DENSE_KEYS = ("dense_pitch", "dense_stretch", "dense_sure")
# rec Inference keys of the second, blurred read of unsure lines (TextRecognizer._recognize); flags rec_<key>
UNSURE_KEYS = ("unsure_below", "unsure_blur")


OPTION_KEYS: Dict[str, Tuple[str, str, str]] = {
    "det_limit_side_len": ("det", "Inference", "limit_side_len"),
    "det_limit_type": ("det", "Inference", "limit_type"),
    "det_max_side_limit": ("det", "Inference", "max_side_limit"),
    "det_long_image_aspect": ("det", "Inference", "long_image_aspect"),
    "det_window_overlap": ("det", "Inference", "window_overlap"),
    "det_window_below": ("det", "Inference", "window_below"),
    "det_border_below": ("det", "Inference", "border_below"),
    "det_border_ratio": ("det", "Inference", "border_ratio"),
    "det_border_unclip_ratio": ("det", "Inference", "border_unclip_ratio"),
    "det_small_text_below": ("det", "Inference", "small_text_below"),
    "det_small_text_zoom": ("det", "Inference", "small_text_zoom"),
    "det_small_text_height": ("det", "Inference", "small_text_height"),
    "det_small_text_empty_zoom": ("det", "Inference", "small_text_empty_zoom"),
    "det_small_text_empty_unread": ("det", "Inference", "small_text_empty_unread"),
    "det_small_text_rendered_share": ("det", "Inference", "small_text_rendered_share"),
    "det_small_text_past_aspect": ("det", "Inference", "small_text_past_aspect"),
    "det_small_text_unclip_ratio": ("det", "Inference", "small_text_unclip_ratio"),
    "det_small_text_score_mode": ("det", "Inference", "small_text_score_mode"),
    "det_small_text_grey": ("det", "Inference", "small_text_grey"),
    "det_large_text_above": ("det", "Inference", "large_text_above"),
    "det_large_text_height": ("det", "Inference", "large_text_height"),
    "det_db_thresh": ("det", "PostProcess", "thresh"),
    "det_db_box_thresh": ("det", "PostProcess", "box_thresh"),
    "det_db_unclip_ratio": ("det", "PostProcess", "unclip_ratio"),
    "det_db_score_mode": ("det", "PostProcess", "score_mode"),
    "use_dilation": ("det", "PostProcess", "use_dilation"),
    "max_candidates": ("det", "PostProcess", "max_candidates"),
    "det_db_nested_thresh": ("det", "PostProcess", "nested_thresh"),
    "cls_batch_num": ("cls", "Inference", "batch_num"),
    "cls_thresh": ("cls", "Inference", "thresh"),
    "cls_pieces_above": ("cls", "Inference", "pieces_above"),
    "cls_max_pieces": ("cls", "Inference", "max_pieces"),
    "cls_upright_sure": ("cls", "Inference", "upright_sure"),
    "cls_turned_view": ("cls", "Inference", "turned_view"),
    "rec_batch_num": ("rec", "Inference", "batch_num"),
    **{f"rec_{key}": ("rec", "Inference", key) for key in INKED_END_KEYS + DENSE_KEYS + UNSURE_KEYS},
    "rec_drop_bullets": ("rec", "Inference", "drop_bullets"),
    "rec_char_dict_path": ("rec", "Global", "character_dict_path"),
    "use_space_char": ("rec", "Global", "use_space_char"),
}
# PaddleOCR flags that describe the model rather than set an option: (model, section, key) whose value they must
# equal. A model's input shape and labels are facts of its config.yml; a different value is a ValueError, not a
# resize the weights were never trained for.
MODEL_FACTS: Dict[str, Tuple[str, str, str]] = {
    "rec_image_shape": ("rec", "Inference", "image_shape"),
    "cls_image_shape": ("cls", "Inference", "image_shape"),
    "label_list": ("cls", "Global", "label_list"),
}
SYSTEM_KEYS = ("use_angle_cls", "drop_score")


# The options that turn off what paddle-pp adds to PaddleOCR's detection, classification, cropping and recognition
# (the border around small images, the zoomed second pass for small text, lines of large text joined by a far pass,
# long images shrunk by their short side and detected in windows past the cap, nested boxes dropped, the pruned
# detector's own box threshold, crops also classified turned and long ones in pieces, crops widened where a box ends
# on ink, leading bullets cut off, dense lines read a second time wider, unsure lines a second time blurred;
# docs/inference.md): with them the system detects, turns, crops and reads lines as PaddleOCR does, whose box
# threshold is its flag's default for any model.
PADDLEOCR_SETTINGS: Dict[str, Any] = {"det_border_below": 0, "det_small_text_below": 0, "det_large_text_above": 0,
                                      "det_long_image_aspect": 0, "det_window_overlap": 0, "det_db_nested_thresh": 0,
                                      "det_db_box_thresh": 0.6, "cls_pieces_above": 0, "cls_turned_view": False,
                                      "rec_widen_inked_ends": 0, "rec_drop_bullets": False, "rec_dense_pitch": 0,
                                      "rec_unsure_blur": 0}
# ... and the order PaddleOCR gives the lines (utils/reading_order.py), and pages read as they are (never inverted)
PADDLEOCR_READING_ORDER = "paddleocr"
PADDLEOCR_LIGHT_TEXT_SHARE = 1.0


def as_paddleocr(configs: Dict[str, Dict[str, Any]], system: Optional[Dict[str, Any]] = None) -> None:
    """Set the det, cls and rec configs to detect, turn, crop and batch lines as PaddleOCR does (System.as_paddleocr):
    PADDLEOCR_SETTINGS, and PaddleOCR's recognition batches, where a crop is padded to its batch's widest
    (Inference.max_pad_ratio empty); and a System section given, to PADDLEOCR_READING_ORDER and pages never
    inverted (PADDLEOCR_LIGHT_TEXT_SHARE). The system then gives PaddleOCR's results, box for box and text for text
    (tools/compare_reference.py)."""
    apply_options(configs, PADDLEOCR_SETTINGS)
    configs["rec"].setdefault("Inference", {})["max_pad_ratio"] = None
    if system is not None:
        system["reading_order"] = PADDLEOCR_READING_ORDER
        system["light_text_share"] = PADDLEOCR_LIGHT_TEXT_SHARE


def option_flags(model: str, section: Optional[str] = None) -> Tuple[str, ...]:
    """The OPTION_KEYS flags that set one model's config (only those of one section, e.g. PostProcess)."""
    return tuple(flag for flag, (m, s, _) in OPTION_KEYS.items() if m == model and section in (None, s))


def option_field(flag: str) -> config_schema.Field:
    """The type and valid range of a PaddleOCR flag: those of the YAML key it sets."""
    return config_schema.field_of(*OPTION_KEYS[flag])


def apply_options(configs: Dict[str, Dict[str, Any]], options: Dict[str, Any]) -> None:
    """Write non-None options into the model configs, and check the MODEL_FACTS given against them. An unknown
    option is a TypeError, a value out of its range or unlike the model's a ValueError naming the option; either
    way no config is changed."""
    given = {flag: value for flag, value in options.items() if value is not None}
    for flag, value in given.items():
        if flag in MODEL_FACTS:
            _check_model_fact(configs, flag, value)
        elif flag in OPTION_KEYS:
            option_field(flag).check(value, flag)
        else:
            known = sorted(set(OPTION_KEYS) | set(MODEL_FACTS))
            raise TypeError(f"unknown option '{flag}'; known: {', '.join(known)}")
    for flag, value in given.items():
        if flag in OPTION_KEYS:
            model, section, key = OPTION_KEYS[flag]
            configs[model].setdefault(section, {})[key] = value


def _check_model_fact(configs: Dict[str, Dict[str, Any]], flag: str, value: Any) -> None:
    """A MODEL_FACTS flag's value (a shape may be PaddleOCR's string "3, 32, 320") against the model's config; a
    config without the key (options checked before the models are chosen) is not compared."""
    model, section, key = MODEL_FACTS[flag]
    if isinstance(value, str) and key == "image_shape":
        try:
            value = [int(part) for part in value.replace("[", "").replace("]", "").split(",")]
        except ValueError:
            raise ValueError(f"{flag} must be C, H, W (e.g. '3, 32, 320'), got {value!r}") from None
    elif not isinstance(value, (list, tuple)):
        raise ValueError(f"{flag} must be a list, got {value!r}")
    expected = (configs.get(model) or {}).get(section, {}).get(key)
    if expected is not None and [str(v) for v in value] != [str(v) for v in expected]:
        made_for = "that input shape" if key == "image_shape" else "those labels"
        raise ValueError(f"{flag} {list(value)}: this {model} model takes {list(expected)} ({section}.{key} of its "
                         f"config.yml); leave {flag} out, or use a model made for {made_for}")


def _postprocess_kwargs(cfg: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in (cfg.get("PostProcess") or {}).items() if k != "name"}


class TextDetector:
    """Image -> text boxes [K, 4, 2] (float32, clockwise from top-left, in source pixels)."""

    def __init__(self, cfg: Dict[str, Any], engine: Engine) -> None:
        inference = cfg["Inference"]
        self.engine = engine
        self.limit_side_len = int(inference["limit_side_len"])
        self.limit_type = inference["limit_type"]
        self.max_side_limit: Optional[int] = inference.get("max_side_limit")  # absent: no cap (PaddleOCR 2.x)
        # with `max`, a long image is shrunk by its short side (det_ops.det_target_size); absent: never (PaddleOCR)
        self.long_image_aspect = float(inference.get("long_image_aspect") or 0.0)
        # an image still longer than max_side_limit at its resize is detected in windows overlapping by this many
        # of its short sides (postprocess/det_windows.py); absent or 0: shrunk to the cap (PaddleOCR 3.x)
        self.window_overlap = float(inference.get("window_overlap") or 0.0)
        # only an image the cap would shrink below this fraction of its resize's scale; absent: any it shrinks
        self.window_below = float(1.0 if inference.get("window_below") is None else inference["window_below"])
        # a small image is detected inside a border (det_ops.detection_border); absent: never (PaddleOCR)
        self.border_below = int(inference.get("border_below") or 0)
        self.border_ratio = float(inference.get("border_ratio") or 0.0)
        # DB's unclip ratio for such an image (absent or empty: PostProcess.unclip_ratio, as any other image)
        self.border_unclip_ratio: Optional[float] = inference.get("border_unclip_ratio")
        # an image whose text was found small is detected again, zoomed (det_ops.small_text_long_side); absent: never
        self.small_text_below = float(inference.get("small_text_below") or 0.0)
        self.small_text_zoom = float(inference.get("small_text_zoom") or 1.0)
        self.small_text_height = float(inference.get("small_text_height") or 0.0)  # absent: always small_text_zoom
        # an image in which the first pass finds nothing: zoomed at least this many times, past its size; absent: never
        self.small_text_empty_zoom = float(inference.get("small_text_empty_zoom") or 0.0)
        # ... and so is one of which no line found is read (TextSystem); absent: the lines found stand
        self.small_text_empty_unread = bool(inference.get("small_text_empty_unread", False))
        # text found small may be zoomed past the image's own size where under this share of its pixels are flat
        # (det_ops.flat_share: a photo or a scan, not rendered print); absent or 0: never past it
        self.small_text_rendered_share = float(inference.get("small_text_rendered_share") or 0.0)
        # ... and only where its boxes are at least this many times as long as high (det_ops.median_aspect: words
        # and lines, not pieces of large letters); absent or 0: whatever their shape
        self.small_text_past_aspect = float(inference.get("small_text_past_aspect") or 0.0)
        # DB's unclip ratio and box score in that second pass (absent or empty: as in the first)
        self.small_text_unclip_ratio: Optional[float] = inference.get("small_text_unclip_ratio")
        self.small_text_score_mode: Optional[str] = inference.get("small_text_score_mode")
        # ... and the network sees the page in grey there (det_ops.as_grey); absent: in colour, as the first pass
        self.small_text_grey = bool(inference.get("small_text_grey", False))
        # lines of large text the first pass split at their spaces are joined where a far pass sees them whole
        # (postprocess/det_join.py): pieces at least large_text_above px high at the input, the far pass shrunk to
        # bring them to large_text_height; absent or 0: never
        self.large_text_above = float(inference.get("large_text_above") or 0.0)
        self.large_text_height = float(inference.get("large_text_height") or 0.0)
        self.mean, self.std, self.scale = inference["mean"], inference["std"], float(inference["scale"])
        self.postprocess = DBPostProcess(**_postprocess_kwargs(cfg))

    def preprocess(self, img: np.ndarray, limit_side_len: Optional[int] = None, limit_type: Optional[str] = None,
                   bordered: bool = False) -> Tuple[np.ndarray, np.ndarray]:
        """(chw, shape_info) at the detector's resize, or at the one given. An image inside its border (a word
        crop, a scanned line) is a line, not a long page: it is shrunk by its long side, as PaddleOCR does."""
        return det_preprocess(img, limit_side_len or self.limit_side_len, limit_type or self.limit_type, self.mean,
                              self.std, self.scale, self.max_side_limit, 0.0 if bordered else self.long_image_aspect)

    def __call__(self, img: np.ndarray, limit_side_len: Optional[int] = None,
                 limit_type: Optional[str] = None) -> np.ndarray:
        """The boxes of an image at the detector's resize, or at the one given (then never zoomed). Text found small,
        or none found, is detected again, zoomed; where max_side_limit leaves no room to zoom (a long image already
        seen at the cap), the first pass's map is traced again instead, its boxes grown as the zoomed pass's would
        be. An image longer than the cap at the detector's resize is detected in windows (window_length), both
        passes. Lines of large text split at their spaces are joined where a far pass sees them whole
        (join_split_lines; not in windows)."""
        return self.detect(img, limit_side_len, limit_type)[0]

    def detect(self, img: np.ndarray, limit_side_len: Optional[int] = None, limit_type: Optional[str] = None,
               found_nothing: bool = False) -> Tuple[np.ndarray, bool]:
        """__call__'s boxes, and whether the image may be looked at again as one in which the first pass found
        nothing when none of its lines is read (small_text_empty_unread): the first pass found boxes. `found_nothing`:
        the first pass's boxes are set aside and the image is looked at so (TextSystem's second reading)."""
        configured = limit_side_len is None and limit_type is None
        window = self.window_length(img) if configured else 0
        if found_nothing and configured:    # the first pass is not run again: only the size of its input counts
            boxes = np.zeros((0, 4, 2), np.float32)
            input_long_side = self.input_long_side(img)
        elif window:
            boxes = self.detect_in_windows(img, window)
            input_long_side = self.input_long_side(img)
        else:
            prob, shape_info, input_long_side = self.run_network(img, limit_side_len, limit_type)
            boxes = self.trace(img, prob, shape_info)
        may_look_closer = configured and len(boxes) > 0 and self.looks_closer_at_unread
        if configured:
            border = self.border_of(img)
            source_long_side = max(img.shape[:2]) + 2 * border
            wanted = [self.small_text_below, self.small_text_zoom, self.small_text_height, self.small_text_empty_zoom]

            def long_side(cap: Optional[int], past_own_size: bool) -> int:
                return small_text_long_side(boxes, source_long_side, input_long_side, *wanted, cap, past_own_size)

            # windows bound the input at any scale: the zoom is capped only where the image is seen whole
            cap = None if window else self.max_side_limit
            # a word or line crop (inside its border) shows its text at its size: nothing more to find past it;
            # zooms_past_own_size looks at the pixels only where going past the image's size would change the zoom
            own_size, past_it = long_side(cap, False), long_side(cap, True)
            past = not border and past_it != own_size and self.zooms_past_own_size(img, boxes)
            zoomed = past_it if past else own_size
            if zoomed and not len(boxes) and single_colour(img):
                zoomed = 0          # a blank page: nothing to look at closer
            if zoomed and window:
                boxes = self.detect_in_windows(img, window, zoomed / source_long_side)
            elif zoomed:
                boxes, _ = self.detect_once(img, zoomed, "resize_long", second_pass=True)
            elif not window and len(boxes) and long_side(None, past):
                boxes = self.trace(img, prob, shape_info, second_pass=True)   # only the cap stops it
            if not window:
                boxes = self.join_split_lines(img, boxes, input_long_side / source_long_side, input_long_side)
        return boxes, may_look_closer

    def join_split_lines(self, img: np.ndarray, boxes: np.ndarray, scale: float, input_long_side: int) -> np.ndarray:
        """The boxes with the lines of large text the first pass split at their spaces joined where a far pass,
        the image shrunk (large_text_height), sees them whole (postprocess/det_join.py); as they are without such
        pieces or with large_text_above 0. `scale`: the first pass's input over the image (with its border)."""
        if not self.large_text_above or len(boxes) < 2:
            return boxes
        heights = input_heights(boxes, scale)
        pieces = split_line_boxes(boxes, heights, self.large_text_above)
        far_side = far_long_side(heights, pieces, self.large_text_height, input_long_side) if pieces else 0
        if not far_side:
            return boxes
        far, _ = self.detect_once(img, far_side, "resize_long")
        return join_split_lines(boxes, far, heights, self.large_text_above)

    def input_long_side(self, img: np.ndarray) -> int:
        """The long side of the network's input for the image at the detector's resize (run_network's third value),
        or of the image's, were it seen whole, for one detected in windows."""
        if self.window_length(img):
            return int(max(img.shape[:2]) * self.scale_of(img))
        border = self.border_of(img)
        return max(det_target_size(img.shape[0] + 2 * border, img.shape[1] + 2 * border, self.limit_side_len,
                                   self.limit_type, self.max_side_limit, 0.0 if border else self.long_image_aspect))

    @property
    def looks_closer_at_unread(self) -> bool:
        """Whether an image of which no line found is read is detected again as one in which the first pass finds
        nothing, zoomed (small_text_long_side)."""
        return self.small_text_empty_unread and bool(self.small_text_below) and self.small_text_empty_zoom > 1.0

    def zooms_past_own_size(self, img: np.ndarray, boxes: np.ndarray) -> bool:
        """Whether the text the first pass found small in this image may be zoomed past the image's own size: words
        or lines (det_ops.median_aspect at least small_text_past_aspect; the few squarish pieces found of a sign's
        large letters come apart in more pieces enlarged) in a photo or a scan, whose small words DB finds
        enlarged, not in rendered print (a screenshot, a PDF page), whose lines it splits at the spaces and whose
        descenders it cuts seen enlarged (det_ops.flat_share under small_text_rendered_share)."""
        return (median_aspect(boxes) >= self.small_text_past_aspect
                and flat_share(img) < self.small_text_rendered_share)

    def border_of(self, img: np.ndarray) -> int:
        return detection_border(img.shape[0], img.shape[1], self.border_below, self.border_ratio)

    def window_length(self, img: np.ndarray) -> int:
        """The long side (image pixels) of the windows the image is detected in at the detector's resize, or 0
        when it is detected whole (window_overlap 0, an image within the cap or that the cap shrinks less than
        window_below, or one inside its border)."""
        if self.window_overlap <= 0 or self.border_of(img):
            return 0
        return det_window_length(img.shape[0], img.shape[1], self.limit_side_len, self.limit_type,
                                 self.max_side_limit, self.long_image_aspect, self.window_below)

    def scale_of(self, img: np.ndarray) -> float:
        """The scale of the detector's resize for this image, before the cap (det_ops.det_scale)."""
        return det_scale(img.shape[0], img.shape[1], self.limit_side_len, self.limit_type, self.long_image_aspect)

    def detect_in_windows(self, img: np.ndarray, window: int, zoom_scale: Optional[float] = None) -> np.ndarray:
        """The boxes of a long image detected window by window along its long side, then joined
        (det_windows.merge_window_boxes). The first pass: windows `window` long at the detector's resize (the
        image's own scale). The zoomed pass (`zoom_scale`, the image's scale there): windows that come to
        max_side_limit at that scale, traced as a second pass (`trace`). Windows overlap by
        window_overlap of the short side; one window's input is in memory at a time."""
        h, w = img.shape[:2]
        axis = 0 if h >= w else 1
        if zoom_scale is not None:
            window = max(int(int(self.max_side_limit) / zoom_scale), min(h, w))
        spans = window_spans(max(h, w), window, int(round(self.window_overlap * min(h, w))))
        found = []
        for start, end in spans:
            part = np.ascontiguousarray(img[start:end] if axis == 0 else img[:, start:end])
            if zoom_scale is None:
                boxes, _ = self.detect_once(part)
            else:
                boxes, _ = self.detect_once(part, int(max(part.shape[:2]) * zoom_scale), "resize_long",
                                            second_pass=True)
            found.append(boxes + np.float32([0, start] if axis == 0 else [start, 0]))
        return merge_window_boxes(found, spans, axis, img.shape[:2])

    def detect_once(self, img: np.ndarray, limit_side_len: Optional[int] = None, limit_type: Optional[str] = None,
                    second_pass: bool = False) -> Tuple[np.ndarray, int]:
        """One pass of the network: the boxes (traced as `trace` does), and the long side of the network's input. A
        `second_pass` sees the page in grey where small_text_grey says so: in colour, the zoomed network splits lines
        on coloured grounds (highlighted, in a coloured box) at their spaces and inside words."""
        seen = as_grey(img) if second_pass and self.small_text_grey else img
        prob, shape_info, input_long_side = self.run_network(seen, limit_side_len, limit_type)
        return self.trace(img, prob, shape_info, second_pass), input_long_side

    def run_network(self, img: np.ndarray, limit_side_len: Optional[int] = None,
                    limit_type: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray, int]:
        """(probability map, shape_info, the long side of the network's input) of the image, inside its border
        when it gets one."""
        border = self.border_of(img)
        chw, shape_info = self.preprocess(add_border(img, border) if border else img, limit_side_len, limit_type,
                                          bordered=bool(border))
        return self.engine(chw[None]), shape_info, max(chw.shape[1:])

    def trace(self, img: np.ndarray, prob: np.ndarray, shape_info: np.ndarray, second_pass: bool = False) -> np.ndarray:
        """The boxes of a probability map of `img` (run_network's) in the image's pixels. A `second_pass` (for text
        found small, or nothing found) grows them by small_text_unclip_ratio and scores them by small_text_score_mode
        where given; otherwise, and where not given, they are grown by the border's unclip ratio (an image inside its
        border) or PostProcess's, and scored by PostProcess's score_mode."""
        border = self.border_of(img)
        unclip_ratio = self.small_text_unclip_ratio if second_pass else None
        if unclip_ratio is None and border:
            unclip_ratio = self.border_unclip_ratio
        score_mode = self.small_text_score_mode if second_pass else None
        boxes = self.postprocess(prob, shape_info[None], unclip_ratio, score_mode)[0]
        if border:
            boxes = [np.asarray(box, dtype=np.float32) - np.float32(border) for box in boxes]  # clipped below
        return filter_tag_det_res(boxes, img.shape)

    def full_size(self, img: np.ndarray, shrunk_below: float = 1.0) -> Optional[int]:
        """The long side at which the image is detected at its own size (capped by max_side_limit), or None when
        the detector's resize keeps at least `shrunk_below` of that size anyway."""
        long_side = max(img.shape[:2])
        if self.max_side_limit is not None:
            long_side = min(long_side, int(self.max_side_limit))
        configured = det_target_size(img.shape[0], img.shape[1], self.limit_side_len, self.limit_type,
                                      self.max_side_limit, 0.0 if self.border_of(img) else self.long_image_aspect)
        return None if max(configured) >= shrunk_below * long_side else long_side


def _order_by_aspect_ratio(crops: Sequence[np.ndarray]) -> np.ndarray:
    """Crop indices sorted by width/height so a batch pads little.

    numpy's default (unstable) sort, as PaddleOCR uses: crops with equal ratios then land in the same
    batches as in the reference, and a batch's width changes the padding and so the scores.
    """
    ratios = [c.shape[1] / float(c.shape[0]) for c in crops]
    return np.argsort(np.array(ratios)) if ratios else np.zeros(0, dtype=np.int64)


def batches_by_aspect_ratio(crops: Sequence[np.ndarray], batch_num: int,
                            widths: Optional[Sequence[int]] = None,
                            max_pad_ratio: Optional[float] = None) -> List[np.ndarray]:
    """PaddleOCR's batches (crops sorted by aspect ratio, `batch_num` at a time), split where padding would
    change a crop's result.

    `widths[i]` is the input width crop i gets when it runs alone. With `max_pad_ratio`, a batch is cut
    before the first crop whose width exceeds `max_pad_ratio` times the narrowest's of its batch, so no crop
    is padded beyond that multiple of its own width by its batch-mates (the crops are sorted, so the
    narrowest is the batch's first). None: PaddleOCR's batches as they are.
    """
    order = _order_by_aspect_ratio(crops)
    batches: List[np.ndarray] = []
    for start in range(0, len(order), max(1, batch_num)):
        chunk = order[start:start + max(1, batch_num)]
        if widths is None or max_pad_ratio is None:
            batches.append(chunk)
            continue
        first = 0
        for j in range(1, len(chunk)):
            if widths[chunk[j]] > max_pad_ratio * widths[chunk[first]]:
                batches.append(chunk[first:j])
                first = j
        batches.append(chunk[first:])
    return batches


def run_in_groups(engine: Engine, batches: Sequence[np.ndarray],
                  inputs: Callable[[np.ndarray], np.ndarray]) -> Iterator[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(crop indices, input, output) of each batch of crop indices, in order. The inputs are made and run as many
    at a time as the engine runs at once (`Engine.concurrency`), so only that many are held."""
    size = max(1, int(getattr(engine, "concurrency", 1)))
    for start in range(0, len(batches), size):
        group = batches[start:start + size]
        batch_inputs = [inputs(batch_ids) for batch_ids in group]
        # a group of several exists only for an engine with concurrency > 1, which has run_many (Engine)
        outputs = engine.run_many(batch_inputs) if len(group) > 1 else [engine(batch_inputs[0])]  # type: ignore
        yield from zip(group, batch_inputs, outputs)


class TextClassifier:
    """Crops -> (crops with 180-degree ones rotated, [(label, score)]). A crop not found upright for sure
    (Inference.upright_sure) is also classified turned by 180 degrees (turned_view) and, when long, in pieces
    (pieces_above, max_pieces; rec_ops.cls_piece_spans), the views' votes combined (combine_votes)."""

    def __init__(self, cfg: Dict[str, Any], engine: Engine) -> None:
        inference = cfg["Inference"]
        self.engine = engine
        self.image_shape = tuple(inference["image_shape"])
        self.batch_num = int(inference["batch_num"])
        self.thresh = float(inference["thresh"])
        self.pieces_above = float(inference.get("pieces_above") or 0.0)   # absent: whole crops only (PaddleOCR)
        self.max_pieces = int(inference.get("max_pieces") or 0)
        # a crop found upright whole with a score above this is taken as it is (most upright crops are), without
        # further views; absent: 1, every crop gets them
        self.upright_sure = float(inference.get("upright_sure", 1.0))
        self.turned_view = bool(inference.get("turned_view", False))   # absent: no turned view (PaddleOCR)
        kwargs = _postprocess_kwargs(cfg)
        kwargs.setdefault("label_list", cfg["Global"].get("label_list", defaults.CLS_LABEL_LIST))
        self.postprocess = ClsPostProcess(**kwargs)
        if self.turned_view and len(self.postprocess.label_list) != 2:
            raise ValueError(f"Inference.turned_view needs the two labels of a 0/180 classifier, not "
                             f"{self.postprocess.label_list}")

    def __call__(self, crops: List[np.ndarray]) -> Tuple[List[np.ndarray], List[Tuple[str, float]]]:
        crops = list(crops)
        probs = self._probabilities(crops, batches_by_aspect_ratio(crops, self.batch_num))
        results = self.postprocess(np.stack(probs)) if crops else []
        views = [view for i, crop in enumerate(crops) if not self._sure_upright(*results[i])
                 for view in self._more_views(i, crop)]
        if views:
            # every view is resized into the input's shape on its own: batched in order, as the C++ demo does
            order = np.arange(len(views))
            batches = [order[start:start + self.batch_num] for start in range(0, len(views), self.batch_num)]
            view_probs = self._probabilities([image for _, image, _ in views], batches)
            votes: Dict[int, List[np.ndarray]] = {}
            for (i, _, turned), p in zip(views, view_probs):
                # the turned crop's "upright" is a vote for "180": its two labels swapped
                votes.setdefault(i, [probs[i]]).append(p[::-1] if turned else p)
            for i, crop_votes in votes.items():
                results[i] = self.postprocess(np.array([combine_votes(crop_votes)], dtype=np.float32))[0]
        for i, (label, score) in enumerate(results):
            if self.turns(label, score):
                crops[i] = np.ascontiguousarray(np.rot90(crops[i], 2))
        return crops, results

    def _more_views(self, i: int, crop: np.ndarray) -> List[Tuple[int, np.ndarray, bool]]:
        """(crop index, image, whether it is the crop turned) of the views a crop not found upright for sure is
        classified in besides itself: the crop turned by 180 degrees (turned_view), then its pieces (a long one)."""
        views = [(i, np.ascontiguousarray(np.rot90(crop, 2)), True)] if self.turned_view else []
        spans = cls_piece_spans(crop.shape[1], crop.shape[0], self.image_shape, self.pieces_above, self.max_pieces)
        return views + [(i, crop[:, left:right], False) for left, right in spans]

    def _sure_upright(self, label: str, score: float) -> bool:
        """Whether the whole crop's result calls it upright (not a '180' label) with a score above upright_sure."""
        return "180" not in label and score > self.upright_sure

    def _probabilities(self, crops: Sequence[np.ndarray], batches: Sequence[np.ndarray]) -> List[np.ndarray]:
        """Each crop's label probabilities, run in these batches of crop indices. Every crop is resized into the
        same image_shape, so batch-mates never pad one: no split needed."""
        probs: List[np.ndarray] = [np.zeros(0, np.float32)] * len(crops)

        def inputs(batch_ids: np.ndarray) -> np.ndarray:
            return np.stack([resize_norm_cls(crops[i], self.image_shape) for i in batch_ids])

        for batch_ids, _, preds in run_in_groups(self.engine, batches, inputs):
            for i, row in zip(batch_ids, np.asarray(preds)):
                probs[i] = row
        return probs

    def turns(self, label: str, score: float) -> bool:
        """Whether a crop with this result is turned 180 degrees (before recognition)."""
        return "180" in label and score > self.thresh


class TextRecognizer:
    """Crops -> [(text, score)], batched by aspect ratio with the batch width set by its widest crop; a batch
    is split so that no crop is padded beyond Inference.max_pad_ratio times its own width (rec.yml)."""

    def __init__(self, cfg: Dict[str, Any], engine: Engine, dict_path: os.PathLike) -> None:
        inference = cfg["Inference"]
        self.engine = engine
        _, self.img_h, self.img_w = inference["image_shape"]
        self.batch_num = int(inference["batch_num"])
        self.max_pad_ratio = max_pad_ratio(inference)
        # the system widens a crop whose box ends on ink (TextSystem._reading_crops): by this many box heights
        self.widen_inked_ends, self.ink_strip, self.ink_share = rec_inference_values(inference, INKED_END_KEYS)
        self.dense_pitch, self.dense_stretch, self.dense_sure = rec_inference_values(inference, DENSE_KEYS)
        self.unsure_below, self.unsure_blur = rec_inference_values(inference, UNSURE_KEYS)
        # ... and cuts a round bullet off the start of a line's crop (utils/crop.py, leading_bullet_end)
        self.drop_bullets = rec_inference_flag(inference, "drop_bullets")
        self.decode = CTCLabelDecode(str(dict_path), use_space_char(cfg["Global"]), mixed_case_prior(cfg))

    def ratio(self, crop: np.ndarray) -> float:
        """The width/height a crop is resized to alone: its own, but never below image_shape's."""
        return max(self.img_w / float(self.img_h), crop.shape[1] / float(crop.shape[0]))

    def __call__(self, crops: Sequence[np.ndarray]) -> List[Tuple[str, float]]:
        return [(text, score) for text, score, _ in self._recognize(crops, aligned=False)]

    def recognize_words(self, crops: Sequence[np.ndarray]) -> List[Tuple[str, float, List[WordSpan]]]:
        """As __call__ (the same text and score), plus the words of each crop with their spans in crop pixels,
        from the CTC alignment (postprocess.word_boxes)."""
        return self._recognize(crops, aligned=True)

    def _recognize(self, crops: Sequence[np.ndarray], aligned: bool) -> List[Tuple[str, float, List[WordSpan]]]:
        """Each crop read (`_read_dense`); one read scoring below unsure_below is read again from the crop blurred
        by unsure_blur pixels of the input (rec_ops.blurred), and that read kept where it is surer and lost no
        character and no comma (`_softened_is_better`). The model reads photographed and scanned text better softened:
        JPEG blocks and sensor noise are finer than strokes (docs/inference.md, "Unsure lines: a second, blurred
        read"). A blur moves nothing: the word spans stay the crop's own."""
        results = self._read_dense(crops, aligned)
        if self.unsure_blur <= 0:
            return results
        unsure = [i for i, (_, score, _) in enumerate(results) if score < self.unsure_below]
        if not unsure:
            return results
        again = self._read_dense([blurred(crops[i], self.unsure_blur, self.img_h) for i in unsure], aligned)
        for i, read in zip(unsure, again):
            if _softened_is_better(results[i], read):
                results[i] = read
        return results

    def _read_dense(self, crops: Sequence[np.ndarray], aligned: bool) -> List[Tuple[str, float, List[WordSpan]]]:
        """Each crop read once; a dense line not read surely (`_is_dense`) is read again `dense_stretch` times as
        wide, and the surer of its two reads kept (its word spans in the crop's own pixels)."""
        results, steps = self._read(crops, aligned)
        dense = [i for i, (text, score, _) in enumerate(results) if self._is_dense(text, score, steps[i])]
        if not dense:
            return results
        again, _ = self._read([stretched(crops[i], self.dense_stretch) for i in dense], aligned)
        for i, (text, score, spans) in zip(dense, again):
            if score > results[i][1]:
                width = float(crops[i].shape[1])
                results[i] = (text, score, [span._replace(left=min(span.left / self.dense_stretch, width),
                                                          right=min(span.right / self.dense_stretch, width))
                                            for span in spans])
        return results

    def _is_dense(self, text: str, score: float, steps: float) -> bool:
        """Whether a read line's characters had fewer than dense_pitch of the model's output steps each and the read
        is less sure than dense_sure. CTC needs a blank step between two equal characters, so a dense line loses
        one of a double letter ('ll', 'ff', 'ee' of small proportional print) or a narrow letter; read wider, each
        character gets more steps."""
        return self.dense_pitch > 0 and bool(text) and score < self.dense_sure and steps / len(text) < self.dense_pitch

    def _read(self, crops: Sequence[np.ndarray],
              aligned: bool) -> Tuple[List[Tuple[str, float, List[WordSpan]]], List[float]]:
        """Each crop's (text, score, word spans when `aligned`), and how many of the model's output time steps its
        own width gave it (the rest of its batch's are padding)."""
        results: List[Tuple[str, float, List[WordSpan]]] = [("", 0.0, [])] * len(crops)
        steps = [0.0] * len(crops)
        widths = [int(self.img_h * self.ratio(crop)) for crop in crops]  # as resize_norm_rec sizes them

        def inputs(batch_ids: np.ndarray) -> np.ndarray:
            max_ratio = max(self.ratio(crops[i]) for i in batch_ids)
            return np.stack([resize_norm_rec(crops[i], max_ratio, self.img_h, self.img_w) for i in batch_ids])

        batches = batches_by_aspect_ratio(crops, self.batch_num, widths, self.max_pad_ratio)
        for batch_ids, batch, preds in run_in_groups(self.engine, batches, inputs):
            step = batch.shape[3] / float(np.asarray(preds).shape[1])  # input pixels per output time step
            resized = {i: resized_width(crops[i], self.img_h, batch.shape[3]) for i in batch_ids}
            for i in batch_ids:
                steps[i] = resized[i] / step
            if not aligned:
                for i, (text, score) in zip(batch_ids, self.decode(preds)):
                    results[i] = (text, score, [])
                continue
            for i, (text, score, chars) in zip(batch_ids, self.decode.decode_aligned(preds)):
                crop_w = crops[i].shape[1]
                results[i] = (text, score, word_spans(chars, step * crop_w / resized[i], crop_w))
        return results, steps


def _softened_is_better(cut: Tuple[str, float, Any], softened: Tuple[str, float, Any]) -> bool:
    """Whether a crop's blurred read replaces its read as cut: surer, with no fewer characters (spaces aside) and no
    fewer commas. A blur also erases marks smaller than a stroke (a minus sign, a decimal point, the dot of an 'i', a
    comma's tail), and the model reads what is left more surely: '-23.50' as cut, '23.50' blurred scoring 0.999;
    '3,835.24' as cut, '3.835.24' blurred."""
    return (softened[1] > cut[1] and _without_spaces(softened[0]) >= _without_spaces(cut[0])
            and softened[0].count(",") >= cut[0].count(","))


def _without_spaces(text: str) -> int:
    return len(text) - text.count(" ")


def max_pad_ratio(inference: Dict[str, Any]) -> Optional[float]:
    """Inference.max_pad_ratio of a rec config; a model directory whose config.yml predates the key gets
    configs/rec.yml's value (the one default). An explicit empty value (None) keeps PaddleOCR's batching."""
    if "max_pad_ratio" not in inference:
        inference = load_config("rec")["Inference"]
    value = config_schema.field_of("rec", "Inference", "max_pad_ratio").check(inference.get("max_pad_ratio"),
                                                                             "Inference.max_pad_ratio")
    return None if value is None else float(value)


def rec_inference_values(inference: Dict[str, Any], keys: Sequence[str]) -> Tuple[float, ...]:
    """These numeric keys of a rec config's Inference, checked against their ranges; a model directory whose
    config.yml predates them gets configs/rec.yml's values (the one default)."""
    if any(key not in inference for key in keys):
        inference = {**load_config("rec")["Inference"], **inference}
    return tuple(float(config_schema.field_of("rec", "Inference", key).check(inference[key], f"Inference.{key}"))
                 for key in keys)


def _without_leading_bullet(page: np.ndarray, box: np.ndarray, crop: np.ndarray,
                             turned: bool) -> Tuple[np.ndarray, np.ndarray]:
    """The box and crop of a line read from the text after the round bullet it starts with (as read: a line turned
    by 180 degrees starts at its crop's right end), or both as they are."""
    end = leading_bullet_end(np.rot90(crop, 2) if turned else crop)
    if not end:
        return box, crop
    rest = box_from_column(box, crop.shape[1] - end if turned else end, from_right=turned)
    rest_crop = _crop_or_none(page, rest)
    return (box, crop) if rest_crop is None else (rest, rest_crop)


def rec_inference_flag(inference: Dict[str, Any], key: str) -> bool:
    """A boolean key of a rec config's Inference; configs/rec.yml's where a model's config.yml predates it."""
    value = inference[key] if key in inference else load_config("rec")["Inference"].get(key, False)
    return bool(config_schema.field_of("rec", "Inference", key).check(value, f"Inference.{key}"))


def _crop_or_none(img: np.ndarray, box: np.ndarray) -> Optional[np.ndarray]:
    """The rectified crop of a box, or None when it would be empty (a degenerate or sub-pixel box)."""
    try:
        crop = get_rotate_crop_image(img, np.array(box, dtype=np.float32))
    except ValueError:
        return None
    return crop if crop.shape[0] > 0 and crop.shape[1] > 0 else None


@dataclass
class OCRWord:
    """A word of a line: its text, score and box (4 points, clockwise from the top-left as the text reads)."""
    points: List[List[int]]
    transcription: str
    score: float

    def to_dict(self) -> Dict[str, Any]:
        return {"transcription": self.transcription, "points": self.points, "score": self.score}


@dataclass
class OCRResult:
    points: List[List[int]]
    transcription: str
    score: float
    words: Optional[List[OCRWord]] = None  # with return_word_box
    # the rectified crop the recognizer read (classified and turned), when asked for (TextSystem keep_crops)
    crop: Optional[np.ndarray] = field(default=None, repr=False, compare=False)

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"transcription": self.transcription, "points": self.points, "score": self.score}
        if self.words is not None:
            out["words"] = [word.to_dict() for word in self.words]
        return out


def word_boxes(box: np.ndarray, crop: np.ndarray, spans: Sequence[WordSpan], flipped: bool,
               line_box: Optional[np.ndarray] = None) -> List[OCRWord]:
    """Each word's span across the full height of the crop as recognized, mapped back into the image through
    the crop's turns and perspective warp (utils.crop.crop_to_image). `line_box`: the line's own box when `box` is
    a widened one it lies in (TextSystem._reading_crops); the spans are clipped to it, so words lie in their line."""
    height, width = crop.shape[:2]
    low, high = (0.0, float(width)) if line_box is None else line_span(line_box, box, flipped)
    words = []
    for span in spans:
        left, right = min(max(span.left, low), high), min(max(span.right, low), high)
        corners = np.array([[left, 0], [right, 0], [right, height], [left, height]])
        points = np.rint(crop_to_image(box, corners, flipped)).astype(np.int32).tolist()
        words.append(OCRWord(points, span.text, span.score))
    return words


class PageLines(List[OCRResult]):
    """A page's lines (OCRResult) in reading order, a list; `angle` is the counter-clockwise turn (0, 90, 180, 270)
    that made the page upright when the system looked for it (use_doc_orientation_classify), else 0. The lines'
    points are in the image as given in any case."""

    def __init__(self, lines: Sequence[OCRResult] = (), angle: int = 0) -> None:
        super().__init__(lines)
        self.angle = angle


class TextSystem:
    def __init__(self, detector: TextDetector, recognizer: TextRecognizer,
                 classifier: Optional[TextClassifier], drop_score: float, return_word_box: bool = False,
                 reading_order: Optional[str] = None, use_angle_cls: Optional[bool] = None,
                 use_doc_orientation_classify: bool = False, light_text_share: Optional[float] = None,
                 light_text_height: Optional[float] = None) -> None:
        """`classifier` is the direction model; `use_angle_cls` (default: whether there is one) turns each line
        by it, `use_doc_orientation_classify` turns the page by its votes (utils/page_orientation.py); a page on
        which more than `light_text_share` of the lines found are light on dark, their median height at least
        `light_text_height` pixels, is read inverted (None: configs/system.yml's; share 1: never)."""
        self.detector = detector
        self.recognizer = recognizer
        self.classifier = classifier
        self.drop_score = float(drop_score)
        self.return_word_box = bool(return_word_box)
        system = load_config("system")["System"]
        # utils/reading_order.py: rows | paddleocr; None: configs/system.yml's
        self.reading_order = reading_order or system["reading_order"]
        self.light_text_share = float(system["light_text_share"] if light_text_share is None else light_text_share)
        self.light_text_height = float(system["light_text_height"] if light_text_height is None
                                       else light_text_height)
        self.use_angle_cls = classifier is not None if use_angle_cls is None else bool(use_angle_cls)
        self.use_doc_orientation_classify = bool(use_doc_orientation_classify)
        if (self.use_angle_cls or self.use_doc_orientation_classify) and classifier is None:
            raise ValueError("use_angle_cls and use_doc_orientation_classify need the direction classifier")

    def ordered_boxes(self, img: np.ndarray) -> List[np.ndarray]:
        """The detector's boxes of an image in the system's reading order."""
        return order_boxes(self.detector(img), self.reading_order)

    def page_boxes(self, img: np.ndarray) -> Tuple[List[np.ndarray], int]:
        """Detection only: the boxes of a page in reading order, and the angle it was read at. With
        use_doc_orientation_classify a page turned sideways or upside down is detected upright and its boxes are
        ordered there, then carried back into the image as given (each box's first point stays the text's
        top-left corner); otherwise these are ordered_boxes(img) and angle 0. A page of light text on a dark
        ground is detected inverted, as the system reads it (light_text_share)."""
        boxes = self.ordered_boxes(img)
        if self.light_text_share < 1.0 and self._reads_inverted(_with_crops(img, boxes)[1]):
            img = np.ascontiguousarray(255 - img)
            boxes, _, _ = self._boxes_and_crops(img)
        if not (self.use_doc_orientation_classify and self.classifier is not None):
            return boxes, 0
        kept, crops = _with_crops(img, boxes)
        angle = self._page_angle(img, kept, self.classifier(crops)[1]) if crops else 0
        if not angle:
            return boxes, 0
        upright = self.ordered_boxes(page_orientation.turn_image(img, angle))
        return [page_orientation.points_before_turn(box, angle, img.shape).astype(np.float32) for box in upright], angle

    def __call__(self, img: np.ndarray, classify: bool = True, keep_crops: bool = False) -> PageLines:
        """The lines of an image in reading order. `classify=False` skips the line classifier for this call
        (PaddleOCR's `ocr(..., cls=False)`); `keep_crops` gives each result the crop its text was read from.
        An image of which no line found is read (every one under drop_score) is read again as one in which the
        detector's first pass found nothing, zoomed (det Inference.small_text_empty_unread; TextDetector.detect):
        what it found there was not legible text, and the words it missed at that size are found enlarged, as in
        an image in which it finds nothing."""
        lines, may_look_closer = self._read(img, classify, keep_crops)
        if not lines and may_look_closer:
            lines, _ = self._read(img, classify, keep_crops, found_nothing=True)
        return lines

    def _read(self, img: np.ndarray, classify: bool, keep_crops: bool,
              found_nothing: bool = False) -> Tuple[PageLines, bool]:
        """__call__'s lines of one reading, and whether the detector could still look closer at the image as it was
        read (TextDetector.detect). `found_nothing`: each detection of this reading sets its first pass aside."""
        boxes, crops, may_look_closer = self._boxes_and_crops(img, found_nothing)
        if self._reads_inverted(crops):
            img = np.ascontiguousarray(255 - img)
            boxes, crops, may_look_closer = self._boxes_and_crops(img, found_nothing)
        page = img
        angle, classified = 0, None
        if self.use_doc_orientation_classify and self.classifier is not None and crops:
            classified = self.classifier(crops)
            angle = self._page_angle(img, boxes, classified[1])
            if angle:
                page = page_orientation.turn_image(img, angle)
                boxes, crops, may_look_closer = self._boxes_and_crops(page, found_nothing)
                classified = None
        flipped = [False] * len(crops)
        if self.use_angle_cls and self.classifier is not None and classify and crops:
            _, labels = classified or self.classifier(crops)
            flipped = [self.classifier.turns(label, score) for label, score in labels]
        if not crops:
            return PageLines(angle=angle), may_look_closer
        read_boxes, read_crops = self._reading_crops(page, boxes, crops, flipped)
        if self.return_word_box:
            texts = self.recognizer.recognize_words(read_crops)
        else:
            texts = [(text, score, []) for text, score in self.recognizer(read_crops)]
        results = []
        for box, read_box, crop, turned, (text, score, spans) in zip(boxes, read_boxes, read_crops, flipped, texts):
            if score >= self.drop_score:
                points = np.asarray(box).astype(np.int32).tolist()
                words = None
                if self.return_word_box:
                    widened = not np.array_equal(read_box, np.asarray(box, dtype=np.float32).reshape(4, 2))
                    words = word_boxes(read_box, crop, spans, turned, box if widened else None)
                results.append(OCRResult(points, text, float(score), words, crop if keep_crops else None))
        if angle:
            results = [_before_turn(result, angle, img.shape) for result in results]
        return PageLines(results, angle), may_look_closer

    def _boxes_and_crops(self, img: np.ndarray,
                         found_nothing: bool = False) -> Tuple[List[np.ndarray], List[np.ndarray], bool]:
        """The boxes that give a crop, in reading order, their crops, and whether the detector could still look
        closer (TextDetector.detect)."""
        boxes, may_look_closer = self.detector.detect(img, found_nothing=found_nothing)
        return (*_with_crops(img, order_boxes(boxes, self.reading_order)), may_look_closer)

    def _reads_inverted(self, crops: Sequence[np.ndarray]) -> bool:
        """Whether a page whose lines found have these crops is detected again inverted and read so: more than
        light_text_share of them are light on a dark ground (utils/crop.is_light_on_dark), their median height at
        least light_text_height. The detector splits such large light lines at word gaps (it finds them whole as
        dark ones). Inverting moves no pixel, so the points are the page's either way."""
        if self.light_text_share >= 1.0 or not crops or light_on_dark_share(crops) <= self.light_text_share:
            return False
        return float(np.median([crop.shape[0] for crop in crops])) >= self.light_text_height

    def _reading_crops(self, page: np.ndarray, boxes: Sequence[np.ndarray], crops: Sequence[np.ndarray],
                       flipped: Sequence[bool]) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """The box and crop the recognizer reads for each line, turned when the classifier turns it: the line's own
        crop, or, where its box ends on ink (the detector cut through a trailing ':' or ','), the crop of the box
        widened along the line at that end by rec Inference.widen_inked_ends box heights (utils/crop.py,
        inked_ends and widened_box); where the line, as read, starts with a round bullet, the box from the text
        after it (rec Inference.drop_bullets; leading_bullet_end and box_from_column). The line keeps the
        detector's box, and word_boxes clips its words to it."""
        read_boxes, read_crops = [], []
        for box, crop, turned in zip(boxes, crops, flipped):
            box = np.asarray(box, dtype=np.float32).reshape(4, 2)
            if not is_turned_sideways(*crop_size(box)):     # a line read as it lies
                box, crop = self._line_as_read(page, box, crop, turned)
            read_boxes.append(box)
            read_crops.append(np.ascontiguousarray(np.rot90(crop, 2)) if turned else crop)
        return read_boxes, read_crops

    def _line_as_read(self, page: np.ndarray, box: np.ndarray, crop: np.ndarray,
                      turned: bool) -> Tuple[np.ndarray, np.ndarray]:
        """_reading_crops' box and crop (before the turn) of a line read as it lies: widened where it ends on ink,
        then from the text after a leading bullet."""
        rec = self.recognizer
        if rec.widen_inked_ends > 0:
            left, right = inked_ends(crop, rec.ink_strip, rec.ink_share)
            if left or right:
                wider = widened_box(box, left, right, rec.widen_inked_ends, page.shape[:2])
                wider_crop = _crop_or_none(page, wider)
                if wider_crop is not None:
                    box, crop = wider, wider_crop
        if rec.drop_bullets:
            box, crop = _without_leading_bullet(page, box, crop, turned)
        return box, crop

    def page_angle(self, img: np.ndarray) -> int:
        """The counter-clockwise turn that makes a page upright (0 when its lines do not say clearly), as
        use_doc_orientation_classify decides it; detection and classification only."""
        if self.classifier is None:
            raise ValueError("page_angle needs the direction classifier")
        boxes, crops, _ = self._boxes_and_crops(img)
        return self._page_angle(img, boxes, self.classifier(crops)[1]) if crops else 0

    def _page_angle(self, img: np.ndarray, boxes: Sequence[np.ndarray], labels: Sequence[Tuple[str, float]]) -> int:
        """The page's angle from the votes of its lines. Unless they say "upright" clearly, a page the detector's
        resize shrank far is decided by the lines found at its own size instead: a shrunk page loses small print,
        or merges it into blobs that vote at random."""
        votes = page_orientation.count_votes(boxes, labels)
        if page_orientation.is_clearly_upright(votes):
            return 0
        full_size = self.detector.full_size(img, page_orientation.RECOUNT_SHRUNK_BELOW)
        if full_size is None:
            return page_orientation.page_angle(votes)
        full_boxes, full_crops = _with_crops(img, self.detector(img, full_size, "max"))
        if not full_crops:
            return 0
        _, full_labels = self.classifier(full_crops)
        return page_orientation.page_angle(page_orientation.count_votes(full_boxes, full_labels))


def _with_crops(img: np.ndarray, boxes: Sequence[np.ndarray]) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """The boxes that give a crop, and their crops: a box with a zero side is skipped, never fails the image."""
    kept, crops = [], []
    for box in boxes:
        crop = _crop_or_none(img, box)
        if crop is not None:
            kept.append(box)
            crops.append(crop)
    return kept, crops


def _before_turn(result: OCRResult, angle: int, shape: Tuple[int, ...]) -> OCRResult:
    """A result read on the page turned by `angle`, with its points (and its words') in the image as given."""
    def back(points: List[List[int]]) -> List[List[int]]:
        return np.rint(page_orientation.points_before_turn(points, angle, shape)).astype(np.int32).tolist()

    words = None if result.words is None else [OCRWord(back(w.points), w.transcription, w.score)
                                               for w in result.words]
    return OCRResult(back(result.points), result.transcription, result.score, words, result.crop)

"""Per-request options: query parameters of POST /ocr, checked with the command line's ranges.

The options a request may change are those a loaded predictor can apply without loading another model: the
detector's resizing and DB post-processing, the classifier's threshold, whether it runs on lines and on the page
(use_angle_cls, use_doc_orientation_classify), how far a line's crop is widened where its box ends on ink
(rec_widen_inked_ends), which dense lines are read again wider (rec_dense_pitch), which unsure lines are read again
blurred (rec_unsure_below, rec_unsure_blur), whether a leading bullet is cut off a line (rec_drop_bullets), drop_score,
reading_order, light_text_share and return_word_box, or all that paddle-pp adds at once (as_paddleocr=true:
PaddleOCR's results with these models, the request's other options still applying); and how the upload is read
(pages, pdf_dpi, and PaddleOCR's image options invert, binarize, alphacolor) and answered (format, include_image).
Each is parsed by its schema field (paddle_pp/config_schema.py, the one source of ranges), set on the worker's own
stages for the length of one job (`applied`) and restored after it.
"""
from __future__ import annotations

import argparse
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, Mapping, Tuple

from paddle_pp.config_schema import DOCUMENT, OUTPUT_FORMATS, PADDLEOCR_ARGS, SYSTEM, Bool, Field, Float, OneOf
from paddle_pp.pipeline import PADDLEOCR_LIGHT_TEXT_SHARE, PADDLEOCR_READING_ORDER, PADDLEOCR_SETTINGS, option_field

# option -> (its field, where it lives on a PPOCR, the attribute there)
_Target = Callable[[Any], Any]
OCR_OPTIONS: Dict[str, Tuple[Field, _Target, str]] = {
    "drop_score": (SYSTEM["drop_score"], lambda ocr: ocr.system, "drop_score"),
    "reading_order": (SYSTEM["reading_order"], lambda ocr: ocr.system, "reading_order"),
    "light_text_share": (SYSTEM["light_text_share"], lambda ocr: ocr.system, "light_text_share"),
    "det_limit_side_len": (option_field("det_limit_side_len"), lambda ocr: ocr.system.detector, "limit_side_len"),
    "det_limit_type": (option_field("det_limit_type"), lambda ocr: ocr.system.detector, "limit_type"),
    "det_max_side_limit": (option_field("det_max_side_limit"), lambda ocr: ocr.system.detector, "max_side_limit"),
    "det_long_image_aspect": (option_field("det_long_image_aspect"), lambda ocr: ocr.system.detector,
                              "long_image_aspect"),
    "det_window_overlap": (option_field("det_window_overlap"), lambda ocr: ocr.system.detector, "window_overlap"),
    "det_window_below": (option_field("det_window_below"), lambda ocr: ocr.system.detector, "window_below"),
    "det_border_below": (option_field("det_border_below"), lambda ocr: ocr.system.detector, "border_below"),
    "det_border_ratio": (option_field("det_border_ratio"), lambda ocr: ocr.system.detector, "border_ratio"),
    "det_border_unclip_ratio": (option_field("det_border_unclip_ratio"), lambda ocr: ocr.system.detector,
                                "border_unclip_ratio"),
    "det_small_text_below": (option_field("det_small_text_below"), lambda ocr: ocr.system.detector,
                             "small_text_below"),
    "det_small_text_zoom": (option_field("det_small_text_zoom"), lambda ocr: ocr.system.detector, "small_text_zoom"),
    "det_small_text_height": (option_field("det_small_text_height"), lambda ocr: ocr.system.detector,
                              "small_text_height"),
    "det_small_text_unclip_ratio": (option_field("det_small_text_unclip_ratio"), lambda ocr: ocr.system.detector,
                                    "small_text_unclip_ratio"),
    "det_small_text_score_mode": (option_field("det_small_text_score_mode"), lambda ocr: ocr.system.detector,
                                  "small_text_score_mode"),
    "det_small_text_empty_zoom": (option_field("det_small_text_empty_zoom"), lambda ocr: ocr.system.detector,
                                  "small_text_empty_zoom"),
    "det_small_text_empty_unread": (option_field("det_small_text_empty_unread"), lambda ocr: ocr.system.detector,
                                    "small_text_empty_unread"),
    "det_small_text_rendered_share": (option_field("det_small_text_rendered_share"),
                                      lambda ocr: ocr.system.detector, "small_text_rendered_share"),
    "det_small_text_past_aspect": (option_field("det_small_text_past_aspect"), lambda ocr: ocr.system.detector,
                                   "small_text_past_aspect"),
    "det_small_text_grey": (option_field("det_small_text_grey"), lambda ocr: ocr.system.detector, "small_text_grey"),
    "det_large_text_above": (option_field("det_large_text_above"), lambda ocr: ocr.system.detector,
                             "large_text_above"),
    "det_large_text_height": (option_field("det_large_text_height"), lambda ocr: ocr.system.detector,
                              "large_text_height"),
    "det_db_thresh": (option_field("det_db_thresh"), lambda ocr: ocr.system.detector.postprocess, "thresh"),
    "det_db_box_thresh": (option_field("det_db_box_thresh"), lambda ocr: ocr.system.detector.postprocess,
                          "box_thresh"),
    "det_db_unclip_ratio": (option_field("det_db_unclip_ratio"), lambda ocr: ocr.system.detector.postprocess,
                            "unclip_ratio"),
    "det_db_score_mode": (option_field("det_db_score_mode"), lambda ocr: ocr.system.detector.postprocess,
                          "score_mode"),
    "max_candidates": (option_field("max_candidates"), lambda ocr: ocr.system.detector.postprocess,
                       "max_candidates"),
    "det_db_nested_thresh": (option_field("det_db_nested_thresh"), lambda ocr: ocr.system.detector.postprocess,
                             "nested_thresh"),
    "cls_thresh": (option_field("cls_thresh"), lambda ocr: ocr.system.classifier, "thresh"),
    "cls_pieces_above": (option_field("cls_pieces_above"), lambda ocr: ocr.system.classifier, "pieces_above"),
    "cls_max_pieces": (option_field("cls_max_pieces"), lambda ocr: ocr.system.classifier, "max_pieces"),
    "cls_upright_sure": (option_field("cls_upright_sure"), lambda ocr: ocr.system.classifier, "upright_sure"),
    "cls_turned_view": (option_field("cls_turned_view"), lambda ocr: ocr.system.classifier, "turned_view"),
    "rec_widen_inked_ends": (option_field("rec_widen_inked_ends"), lambda ocr: ocr.system.recognizer,
                             "widen_inked_ends"),
    "rec_dense_pitch": (option_field("rec_dense_pitch"), lambda ocr: ocr.system.recognizer, "dense_pitch"),
    "rec_unsure_below": (option_field("rec_unsure_below"), lambda ocr: ocr.system.recognizer, "unsure_below"),
    "rec_unsure_blur": (option_field("rec_unsure_blur"), lambda ocr: ocr.system.recognizer, "unsure_blur"),
    "rec_drop_bullets": (option_field("rec_drop_bullets"), lambda ocr: ocr.system.recognizer, "drop_bullets"),
    "return_word_box": (SYSTEM["return_word_box"], lambda ocr: ocr.system, "return_word_box"),
    "use_angle_cls": (SYSTEM["use_angle_cls"], lambda ocr: ocr.system, "use_angle_cls"),
    "use_doc_orientation_classify": (SYSTEM["use_doc_orientation_classify"], lambda ocr: ocr.system,
                                     "use_doc_orientation_classify"),
}
# as_paddleocr=true sets these OCR_OPTIONS where the request does not (and PaddleOCR's recognition batches)
AS_PADDLEOCR = "as_paddleocr"
AS_PADDLEOCR_OPTIONS: Dict[str, Any] = {**PADDLEOCR_SETTINGS, "reading_order": PADDLEOCR_READING_ORDER,
                                        "light_text_share": PADDLEOCR_LIGHT_TEXT_SHARE}
FORMATS = OUTPUT_FORMATS    # json (the server's own shape), txt, hocr, pdf (paddle_pp/output's writers)
# options about the request itself, not the OCR
REQUEST_OPTIONS: Dict[str, Field] = {
    "format": OneOf(*FORMATS),
    "include_image": Bool(),          # each page's image (a JPEG data URL) in the JSON: what the web page draws on
    "timeout": Float(0, low_open=True),  # seconds; only lowers the server's --timeout
    "pages": DOCUMENT["pages"],       # of a PDF or multi-page TIFF: '1-3,7', '5-'
    "pdf_dpi": SYSTEM["pdf_dpi"],     # PDF pages are rendered at this (default: the server's --pdf_dpi)
    # PaddleOCR's image options (utils/image_io.ImageOptions): invert=true, binarize=true, alphacolor=0,0,0
    "invert": PADDLEOCR_ARGS["invert"],
    "binarize": PADDLEOCR_ARGS["binarize"],
    "alphacolor": PADDLEOCR_ARGS["alphacolor"],
}
# Options that never go in a URL (URLs are logged by the server, proxies and browsers' histories): the body only.
BODY_ONLY = ("pdf_password",)
KNOWN = tuple(OCR_OPTIONS) + (AS_PADDLEOCR,) + tuple(REQUEST_OPTIONS)


class OptionError(ValueError):
    """A bad query parameter; `unknown` tells an unknown name (400) from a bad value (422)."""

    def __init__(self, message: str, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


def parse_options(query: Mapping[str, Any], repeated: Callable[[str], int] = lambda name: 1) -> Dict[str, Any]:
    """Query parameters -> {option: value}; OptionError naming the first bad one."""
    values: Dict[str, Any] = {}
    for name, text in query.items():
        if name in BODY_ONLY:
            raise OptionError(f"{name} is not taken in the query string (URLs are logged): send it in the body, "
                              "as a multipart form field or a JSON key", unknown=True)
        field = OCR_OPTIONS[name][0] if name in OCR_OPTIONS else (
            SYSTEM[AS_PADDLEOCR] if name == AS_PADDLEOCR else REQUEST_OPTIONS.get(name))
        if field is None:
            raise OptionError(f"unknown option '{name}'; known: {', '.join(sorted(KNOWN))}", unknown=True)
        if repeated(name) > 1:
            raise OptionError(f"option '{name}' is given more than once", unknown=True)
        try:
            values[name] = field.parse(str(text))
        except argparse.ArgumentTypeError as exc:
            raise OptionError(f"{name} {exc}") from None
    return values


@contextmanager
def applied(ocr: Any, options: Mapping[str, Any]) -> Iterator[None]:
    """Set the OCR options of one request on a worker's PPOCR, and restore the server's values after it.
    as_paddleocr=true sets AS_PADDLEOCR_OPTIONS that the request does not give, and PaddleOCR's padded recognition
    batches; as_paddleocr=false only on a server that runs the defaults (the defaults of a server started with
    --as_paddleocr true are not known per request: give those options one by one)."""
    saved = []
    if options.get(AS_PADDLEOCR) is False and ocr.as_paddleocr:
        raise OptionError("as_paddleocr=false: this server runs as PaddleOCR (--as_paddleocr true); give the options "
                          "to change one by one")
    if options.get(AS_PADDLEOCR):
        options = {**AS_PADDLEOCR_OPTIONS, **options}
    try:
        if options.get(AS_PADDLEOCR):
            saved.append((ocr.system.recognizer, "max_pad_ratio", ocr.system.recognizer.max_pad_ratio))
            ocr.system.recognizer.max_pad_ratio = None
        for name in ("use_angle_cls", "use_doc_orientation_classify"):
            if options.get(name) and ocr.system.classifier is None:
                raise OptionError(f"{name}=true: the server was started without the direction classifier "
                                  "(--use_angle_cls false)")
        for name, value in options.items():
            if name not in OCR_OPTIONS:
                continue
            _, target, attribute = OCR_OPTIONS[name]
            obj = target(ocr)
            if obj is None:  # cls_thresh without a classifier: nothing to set
                continue
            saved.append((obj, attribute, getattr(obj, attribute)))
            setattr(obj, attribute, value)
        yield
    finally:
        for obj, attribute, value in reversed(saved):
            setattr(obj, attribute, value)

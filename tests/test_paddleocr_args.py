"""paddle_pp.paddleocr_args: what PaddleOCR's arguments become here, and the contradictions that are errors."""
import pytest

from paddle_pp import paddleocr_args as pa


def test_use_gpu_false_is_accepted_and_true_is_refused_by_name():
    pa.check_use_gpu(None)
    pa.check_use_gpu(False)
    with pytest.raises(ValueError, match="use_gpu is true.*CPU only"):
        pa.check_use_gpu(True)


@pytest.mark.parametrize("use_onnx, engine, expected", [
    (None, None, None), (None, "dygraph", "dygraph"), (True, None, "onnx"), (False, None, "paddle"),
    (True, "onnx", "onnx"), (False, "paddle", "paddle")])
def test_use_onnx_picks_the_engine(use_onnx, engine, expected):
    assert pa.engine_for(use_onnx, engine) == expected


@pytest.mark.parametrize("use_onnx, engine", [(True, "paddle"), (False, "onnx"), (True, "lite")])
def test_use_onnx_against_another_engine_names_both(use_onnx, engine):
    with pytest.raises(ValueError, match=f"use_onnx {str(use_onnx).lower()} .* engine {engine} is given"):
        pa.engine_for(use_onnx, engine)


def test_page_num_is_the_first_pages():
    assert pa.pages_for(None, None) is None
    assert pa.pages_for(None, "2,5") == "2,5"
    assert pa.pages_for(0, None) is None  # 0: every page
    assert pa.pages_for(3, None) == "1-3"
    with pytest.raises(ValueError, match="page_num 2 and pages 1 both"):
        pa.pages_for(2, "1")
    with pytest.raises(ValueError, match=">= 0"):
        pa.pages_for(-1, None)


def test_crop_files_keep_the_whole_name_and_never_leave_the_directory():
    assert pa.crop_file("a.jpg", 0) == "a.jpg_crop_0.jpg"
    assert pa.crop_file("photos/a.png", 12) == "photos/a.png_crop_12.jpg"
    assert pa.crop_file("scan.pdf#page=3", 1) == "scan.pdf_page3_crop_1.jpg"
    assert pa.crop_file("a.jpg", 0) != pa.crop_file("a.png", 0)
    for bad in ("/etc/a.jpg", "../a.jpg", "x/../../a.jpg"):
        with pytest.raises(ValueError, match="not a relative image name"):
            pa.crop_file(bad, 0)
    with pytest.raises(ValueError, match="index"):
        pa.crop_file("a.jpg", -1)


def test_ocr_version_pp_ocr_is_accepted_and_another_is_refused_by_name():
    pa.check_ocr_version(None)
    pa.check_ocr_version("PP-OCR")
    with pytest.raises(ValueError, match="ocr_version PP-OCRv4: paddle-pp runs PP-OCR's models"):
        pa.check_ocr_version("PP-OCRv4")


def test_no_effect_arguments_take_what_paddle_pp_does_and_refuse_the_rest():
    from paddle_pp.config_schema import PADDLEOCR_ARGS

    assert set(pa.NO_EFFECT) <= set(PADDLEOCR_ARGS)            # each has its type and range in the schema
    pa.check_no_effect({name: None for name in pa.NO_EFFECT})   # not given
    pa.check_no_effect({"use_tensorrt": False, "gpu_mem": 8000, "ir_optim": False, "det_algorithm": "DB",
                        "max_text_length": 100, "type": "ocr"})
    for name, value, problem in (("use_xpu", True, "use_xpu true: paddle-pp runs on the CPU"),
                                 ("benchmark", True, "paddle-pp bench"),
                                 ("det_box_type", "poly", "det_box_type poly: DB gives quadrilaterals; leave "
                                                          "det_box_type out or set it to quad")):
        with pytest.raises(ValueError, match=problem):
            pa.check_no_effect({name: value})


def test_model_facts_must_match_the_models_config():
    from paddle_pp.pipeline import apply_options

    configs = {"det": {}, "cls": {"Inference": {"image_shape": [3, 48, 192]}, "Global": {"label_list": ["0", "180"]}},
               "rec": {"Inference": {"image_shape": [3, 32, 320]}}}
    apply_options(configs, {"rec_image_shape": "3, 32, 320", "cls_image_shape": [3, 48, 192],
                            "label_list": ("0", "180")})
    assert configs["rec"]["Inference"]["image_shape"] == [3, 32, 320]        # checked, never written
    apply_options({"det": {}, "cls": {}, "rec": {}}, {"rec_image_shape": "3, 48, 320"})  # no model yet: not compared
    for options, problem in (({"rec_image_shape": "3,48,320"}, "rec_image_shape \\[3, 48, 320\\]: this rec model "
                                                               "takes \\[3, 32, 320\\]"),
                             ({"rec_image_shape": "three"}, "must be C, H, W"),
                             ({"label_list": "0"}, "label_list must be a list"),
                             ({"label_list": ["180", "0"]}, "made for those labels")):
        with pytest.raises(ValueError, match=problem):
            apply_options(configs, options)

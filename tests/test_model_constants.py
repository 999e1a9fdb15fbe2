"""A model's preprocessing constants are stated once in its YAML, and every consumer derives the same thing.

The recognizer's character set (dictionary + use_space_char) must give the same number of classes to the label
encoder, the CTC head, the training decoder, the inference decoder and the C++ demo's config, also when a config
leaves use_space_char unset. The detector's mean/std/scale must reach the training and evaluation transforms and
the predictor from its Inference section.
"""
from __future__ import annotations

import numpy as np
import pytest

from paddle_pp.config import load_config
from paddle_pp.data import build_transforms
from paddle_pp.data.imaug.label_ops import CTCLabelEncode
from paddle_pp.lite.make_cpp_config import cpp_config_lines
from paddle_pp.pipeline import TextRecognizer
from paddle_pp.resources import DICTS_DIR
from paddle_pp.training.adapters import build_adapter


def _alnum_config_without_space_key():
    cfg = load_config("rec_en_alnum")
    cfg["Global"].pop("use_space_char")
    return cfg


def _cpp_value(lines, key):
    return next(line.split(" ", 1)[1] for line in lines if line.startswith(key + " "))


def test_unset_use_space_char_means_the_same_everywhere():
    cfg = _alnum_config_without_space_key()
    encoder = CTCLabelEncode(global_config=cfg["Global"])
    adapter = build_adapter(cfg)
    adapter.prepare_config(cfg)
    recognizer = TextRecognizer(cfg, engine=None, dict_path=DICTS_DIR / "en_alnum.txt")
    # blank + 62 alphanumerics + space, for all of them
    assert encoder.num_classes == 64
    assert cfg["Architecture"]["Head"]["out_channels"] == 64
    assert len(adapter.characters) == 64
    assert recognizer.decode.num_classes == 64
    # a space in a training label is learnt as the class the decoder prints as a space
    label = encoder({"label": "ab 12"})
    assert int(label["length"]) == 5
    assert adapter.characters[int(label["label"][2])] == " "
    lines = cpp_config_lines(load_config("det"), load_config("cls"), cfg, load_config("system")["System"])
    assert _cpp_value(lines, "use_space_char") == "1"


def test_explicit_use_space_char_false_is_honoured_everywhere():
    cfg = _alnum_config_without_space_key()
    cfg["Global"]["use_space_char"] = False
    encoder = CTCLabelEncode(global_config=cfg["Global"])
    adapter = build_adapter(cfg)
    adapter.prepare_config(cfg)
    assert encoder.num_classes == len(adapter.characters) == cfg["Architecture"]["Head"]["out_channels"] == 63
    assert encoder({"label": "ab 12"})["length"] == 4


def test_det_normalisation_comes_from_the_inference_section():
    cfg = load_config("det", ["Inference.mean=[0.5, 0.5, 0.5]", "Inference.std=[0.25, 0.25, 0.25]",
                              "Inference.scale=0.5"])
    image = np.full((64, 64, 3), 2, dtype=np.uint8)
    for mode in ("Train", "Eval"):
        ops = build_transforms(cfg[mode]["dataset"]["transforms"], cfg["Global"]).ops
        normalize = next(op for op in ops if op.name == "NormalizeImage")
        out = normalize({"image": image})["image"]
        np.testing.assert_allclose(out, (2 * 0.5 - 0.5) / 0.25)
    lines = cpp_config_lines(cfg, load_config("cls"), load_config("rec"), load_config("system")["System"])
    assert _cpp_value(lines, "det_mean") == "0.5 0.5 0.5" and _cpp_value(lines, "det_scale") == "0.5"


@pytest.mark.parametrize("name", ["cls", "rec", "rec_en"])
def test_resize_shapes_come_from_the_inference_section(name):
    cfg = load_config(name)
    channels, height, width = cfg["Inference"]["image_shape"]
    cfg = load_config(name, [f"Inference.image_shape=[{channels}, {height}, {width + 32}]"])
    image = np.full((20, 40, 3), 128, dtype=np.uint8)
    for mode in ("Train", "Eval"):
        ops = build_transforms(cfg[mode]["dataset"]["transforms"], cfg["Global"]).ops
        resize = next(op for op in ops if op.name in ("ClsResizeImg", "RecResizeImg"))
        assert resize({"image": image})["image"].shape == (channels, height, width + 32)

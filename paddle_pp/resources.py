"""Where the files that ship inside the package are: configs, dictionaries, bundled models, demo images.

Found through `importlib.resources`, so they are the same whether paddle-pp runs from a clone (`pip install -e .`)
or from an installed wheel; nothing in the library looks at the repository layout.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_path(*parts: str) -> Path:
    """A file or folder inside the installed `paddle_pp` package (wheels install as plain files)."""
    return Path(str(files("paddle_pp").joinpath(*parts)))


PACKAGE_DIR = package_path()
CONFIG_DIR = package_path("configs")            # det.yml, cls.yml, rec.yml, rec_en*.yml, system.yml, slim/, finetune/
DICTS_DIR = package_path("dicts")               # en_ascii.txt, en_alnum.txt
BUNDLED_MODELS_DIR = package_path("models")     # rec_en, cls_synth, slim/{det,cls,rec}
DEMO_IMAGES_DIR = package_path("demo_images")   # what `paddle-pp ocr` reads when given no --image_dir
LITE_SETUP_SCRIPT = package_path("lite", "setup_lite_env.sh")

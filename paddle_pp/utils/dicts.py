"""Recognizer dictionaries: where a config's `Global.character_dict_path` points, and the characters it gives.

`rec_characters` is the one place that turns `Global.character_dict_path` + `Global.use_space_char` into the
recognizer's character list: the label encoder, the training adapter (and so the CTC head size), the predictors'
decoder and the C++ config all agree because they all come through here (defaults in `paddle_pp.defaults`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Mapping, Optional, Tuple

from paddle_pp import defaults
from paddle_pp.resources import PACKAGE_DIR
from paddle_pp.utils.official_files import OFFICIAL_DICT, official_file

OFFICIAL = "official"


def load_character_dict(character_dict_path: str) -> List[str]:
    """Read a dictionary file the way PaddleOCR does: one entry per line, strip CR/LF only.

    Other whitespace is kept, so a dictionary line holding a space stays a space.
    """
    chars = []
    with open(character_dict_path, "rb") as fin:
        for line in fin.readlines():
            chars.append(line.decode("utf-8").strip("\n").strip("\r\n"))
    return chars


def resolve_dict_path(cfg: Mapping[str, Any], base_dir: Optional[Path]) -> Path:
    """'official' -> the official model's dictionary; a relative path -> the model directory's file, else the
    working directory's, else the package's (configs name dictionaries like dicts/en_ascii.txt)."""
    value = cfg["Global"].get("character_dict_path", OFFICIAL)
    if value == OFFICIAL:
        return official_file(OFFICIAL_DICT)
    path = Path(value).expanduser()
    if not path.is_absolute():
        for root in ([base_dir] if base_dir is not None else []) + [Path.cwd(), PACKAGE_DIR]:
            if (root / path).is_file():
                path = root / path
                break
    if not path.is_file():
        raise FileNotFoundError(f"character dictionary not found: {value}")
    return path


def use_space_char(global_config: Mapping[str, Any]) -> bool:
    """Global.use_space_char, or the library's default when the config leaves it out."""
    value = global_config.get("use_space_char")
    return defaults.USE_SPACE_CHAR if value is None else bool(value)


def rec_characters(global_config: Mapping[str, Any], base_dir: Optional[Path] = None) -> Tuple[List[str], bool]:
    """The recognizer's characters (without the CTC blank) and whether texts are lower-cased.

    No dictionary means PaddleOCR's default: lower-case alphanumerics, texts lower-cased, no space class.
    """
    if global_config.get("character_dict_path") is None:
        return list(defaults.DEFAULT_REC_CHARACTERS), True
    chars = load_character_dict(str(resolve_dict_path({"Global": global_config}, base_dir)))
    if use_space_char(global_config):
        chars.append(" ")
    return chars, False

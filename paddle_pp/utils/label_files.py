"""PaddleOCR label files: one sample a line, `relative/image/path<TAB>label`.

The label is the text for recognition, `0` or `180` for the classifier, and for detection a JSON list of
``{"transcription": str, "points": [[x, y], ...]}`` (a transcription of ``###`` or ``*`` marks a region to
ignore). The training data sets, the evaluation tools and the data-set tools all read them here.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

from paddle_pp.utils.errors import InputError

DELIMITER = "\t"
IGNORE_TEXTS = ("###", "*")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" makes of a non-UTF-8 byte


class LabelFileError(InputError):
    """A label file or line that cannot be used; the message names the file (and line)."""


# (line number, line) of a line without the delimiter; raise to stop, return to skip it.
MalformedHandler = Callable[[int, str], None]


def read_label_lines(label_file: Union[str, os.PathLike], delimiter: str = DELIMITER,
                     on_malformed: Optional[MalformedHandler] = None) -> Iterator[Tuple[int, str, str]]:
    """Yield (line number, path, label) from a `path<delimiter>label` file; blank lines are skipped and a
    byte-order mark is dropped. A line without the delimiter goes to `on_malformed`, or, without one, is a
    LabelFileError naming the file and line.

    A line that is not UTF-8 is a LabelFileError `FILE:LINE: not UTF-8 (byte 0x.. at column N)`, never skipped:
    one such line usually means the whole file is in another encoding (GBK, Latin-1), and skipping would keep
    only the lines that happen to be ASCII, silently dropping exactly the non-ASCII labels."""
    label_file = Path(label_file)
    try:
        # surrogateescape instead of strict: the error then names the line, not a byte offset in the file
        handle = open(label_file, "r", encoding="utf-8-sig", errors="surrogateescape")
    except OSError as error:
        raise LabelFileError(f"{label_file}: cannot open label file ({error.strerror or error})") from None
    with handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            undecodable = _ESCAPED_BYTE.search(line)
            if undecodable:
                raise LabelFileError(
                    f"{label_file}:{line_number}: not UTF-8 (byte 0x{ord(undecodable.group()) - 0xDC00:02x} at "
                    f"column {undecodable.start() + 1}); label files must be UTF-8 (convert with iconv)")
            if not line.strip():
                continue
            path, sep, label = line.partition(delimiter)
            if not sep:
                if on_malformed is None:
                    raise LabelFileError(f"{label_file}:{line_number}: expected 'path{delimiter!r}label', "
                                         f"got {line[:80]!r}")
                on_malformed(line_number, line)
                continue
            yield line_number, path, label


def skip_malformed(_line_number: int, _line: str) -> None:
    """An `on_malformed` handler that drops the line silently."""


def parse_det_label(label: str, where: str = "detection label") -> List[dict]:
    """The JSON list of a detection label; every item needs `points` (at least 3 [x, y] pairs) and, when
    `transcription` is absent, gets an empty one."""
    try:
        items = json.loads(label)
    except json.JSONDecodeError as error:
        raise LabelFileError(f"{where}: detection label is not valid JSON ({error.msg})") from None
    if not isinstance(items, list):
        raise LabelFileError(f"{where}: detection label must be a JSON list of {{transcription, points}}")
    for item in items:
        if not isinstance(item, dict) or "points" not in item:
            raise LabelFileError(f"{where}: each item needs 'transcription' and 'points'")
        points = item["points"]
        if (not isinstance(points, list) or len(points) < 3
                or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in points)):
            raise LabelFileError(f"{where}: 'points' must list at least 3 [x, y] pairs")
        item.setdefault("transcription", "")
    return items


def is_dont_care(transcription: str) -> bool:
    """PaddleOCR's rule: '###' or '*' marks a region to ignore."""
    return transcription in IGNORE_TEXTS


def format_det_label(items: Sequence[dict]) -> str:
    return json.dumps(list(items), ensure_ascii=False)


def no_image_found(label_file: Union[str, os.PathLike], paths: Sequence[Path],
                   data_dir: Union[str, os.PathLike]) -> Optional[str]:
    """An error message when not one of a label file's images exists, else None.

    That is almost always a wrong --data_dir, and an evaluation of nothing would print scores of 0.
    """
    if not paths or any(Path(path).is_file() for path in paths):
        return None
    return (f"{label_file}: none of its {len(paths)} images exists (the first: {paths[0]}); "
            f"its paths are read relative to --data_dir, here {str(data_dir)!r}")

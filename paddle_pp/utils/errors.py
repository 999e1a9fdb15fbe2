"""The error every user-facing input problem derives from."""
from __future__ import annotations


class InputError(ValueError):
    """An input that cannot be used (an image, a label file, a dictionary, a command-line value). The message
    is one line that names the file (and line) and the problem; command-line tools print it without a
    traceback."""


MESSAGE_LIMIT = 500


def printable(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` safe to print on a terminal: control characters, undecodable bytes (surrogate escapes) and other
    non-printable characters become escapes (\\x1b, \\udcff), and a message longer than `limit` characters is
    cut with a note of its length. For messages that may carry a file's raw bytes (a corrupt weights file)."""
    text = str(text)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text):,} characters)"
    return text

"""The error every user-facing input problem derives from."""
from __future__ import annotations


class InputError(ValueError):
    """An input that cannot be used (an image, a label file, a dictionary, a command-line value). The message
    is one line that names the file (and line) and the problem; command-line tools print it without a
    traceback."""

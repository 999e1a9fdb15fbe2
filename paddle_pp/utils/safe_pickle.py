"""Reading the pickle files of training and of model directories without running code from them.

`model.pdparams`, checkpoints' `.pdparams` / `.pdopt` and `.states` are pickles (what `paddle.save` writes). A
plain `pickle.load` (which `paddle.load` is) calls whatever the file names, so a crafted weights file runs code
when it is loaded. Here the unpickler admits an explicit allow-list: numpy arrays, numpy dtypes and scalars,
and the plain containers and numbers Python's pickle builds without naming a class. What `paddle.save` writes for
a state dict or an optimizer state (protocol 2 to 4) uses only those: inspected with pickletools, a state dict is
a dict of `numpy.core.multiarray._reconstruct(numpy.ndarray, ...)` arrays with `numpy.dtype`s plus the name
table (a dict of strings); older Paddle wrote a tensor as a `(name, array)` tuple. Anything else (`os.system`,
`builtins.exec`, `subprocess.Popen`, Paddle's own classes, ...) raises `RefusedPickleError` naming the file and
what it references, before anything is called.

Paddle Inference's `inference.pdiparams` is not a pickle (a binary tensor format parsed by Paddle's C++ loader) and
an exported program (`inference.json` / `.pdmodel`) is data too; neither is read through this module.
"""
from __future__ import annotations

import builtins
import collections
import io
import os
import pickle
from typing import Any, Dict, Tuple, Union

import numpy as np

__all__ = ["RefusedPickleError", "NotAPickleError", "load_pickle", "load_state_dict", "GeneratorStateRecord"]

NAME_TABLE_KEY = "StructuredToParameterName@@"  # paddle.save's structural -> unique parameter names


class RefusedPickleError(pickle.UnpicklingError):
    """A pickle that references something a paddle-pp weights or checkpoint file never contains."""


class NotAPickleError(pickle.UnpicklingError):
    """A file that is not a pickle at all (random bytes, a truncated file, Paddle Inference's .pdiparams)."""


class _Refusal(Exception):
    """Raised inside the unpickler; `load_pickle` names the file: `<file>: refused to load: it <reason>, ...`."""


if int(np.__version__.split(".")[0]) >= 2:
    from numpy._core import multiarray as _multiarray
else:
    from numpy.core import multiarray as _multiarray


def _ndarray_reconstruct(subtype, shape, dtype):
    if subtype is not np.ndarray:
        raise _Refusal(f"makes an array of type {subtype!r}")
    return _multiarray._reconstruct(subtype, shape, dtype)


def _dtype(*args):
    dtype = np.dtype(*args)
    if dtype.hasobject:  # an object array holds Python objects, not numbers
        raise _Refusal("holds an array of Python objects (dtype object)")
    return dtype


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    """Protocol 2 stores bytes as `_codecs.encode(text, 'latin1')`; no other codec."""
    if encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591") or not isinstance(text, str):
        raise _Refusal(f"calls _codecs.encode with codec {encoding!r}")
    return text.encode("latin-1", errors)


class GeneratorStateRecord:
    """What a checkpoint's `.states` written before paddle-pp stored RNG states as plain data held: a pickled
    `paddle.base.libpaddle.GeneratorState`. Its state is kept as data (never handed to Paddle by the unpickler);
    `checkpoint.set_rng_states` turns it into a GeneratorState."""

    state: Any = None

    def __setstate__(self, state) -> None:
        self.state = state


# (module, name) -> what the unpickler gets. Files written under numpy 1 name numpy.core, under numpy 2
# numpy._core; both are admitted whatever numpy this is.
ALLOWED: Dict[Tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): _dtype,
                                       ("_codecs", "encode"): _latin1_encode,
                                       ("collections", "OrderedDict"): collections.OrderedDict}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    ALLOWED[(_module, "_reconstruct")] = _ndarray_reconstruct
    ALLOWED[(_module, "scalar")] = _multiarray.scalar
for _name in ("tuple", "list", "dict", "set", "frozenset", "bytearray", "complex"):  # containers pickled by REDUCE
    ALLOWED[("builtins", _name)] = getattr(builtins, _name)
# Only in training .states: the RNG state pickled by checkpoints written before RNG states were stored as data.
LEGACY_STATES: Dict[Tuple[str, str], Any] = {("paddle.base.libpaddle", "GeneratorState"): GeneratorStateRecord}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, extra: Dict[Tuple[str, str], Any]) -> None:
        super().__init__(file, encoding="latin1")  # latin1: numpy arrays in Python 2 pickles, as paddle.load
        self.allowed = {**ALLOWED, **extra}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":  # Python 2 pickles (protocol < 3)
            module = "builtins"
        found = self.allowed.get((module, name))
        if found is None:
            raise _Refusal(f"references {module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise _Refusal("references a persistent object")


def _refused(label: str, reason: str) -> RefusedPickleError:
    return RefusedPickleError(f"{label}: refused to load: it {reason}, which a paddle-pp weights file never "
                              f"contains (a crafted or foreign file?)")


def _check_arrays(obj: Any, label: str) -> None:
    """No array of Python objects anywhere (a dtype's state could be rewritten after construction)."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, np.ndarray):
            if item.dtype.hasobject:
                raise _refused(label, "holds an array of Python objects")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)


def load_pickle(path: Union[str, os.PathLike], legacy_states: bool = False) -> Any:
    """Unpickle `path` with the allow-list; RefusedPickleError / NotAPickleError name the file and the reason.
    `legacy_states`: also admit the RNG state of training `.states` written by earlier paddle-pp versions."""
    label = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"\x80") or len(data) < 3 or data[1] > pickle.HIGHEST_PROTOCOL:
        raise NotAPickleError(f"{label}: not a paddle-pp weights or checkpoint file (it is not a pickle: "
                              f"{len(data)} bytes starting {data[:8].hex(' ') or 'with nothing'})")
    unpickler = _RestrictedUnpickler(io.BytesIO(data), LEGACY_STATES if legacy_states else {})
    try:
        obj = unpickler.load()
    except _Refusal as refusal:
        raise _refused(label, str(refusal)) from None
    except Exception as error:  # truncated or damaged: EOFError, UnpicklingError, ValueError, ...
        reason = str(error).encode("ascii", "backslashreplace").decode("ascii")[:200]
        raise NotAPickleError(f"{label}: damaged or truncated pickle ({type(error).__name__}: {reason})") from None
    _check_arrays(obj, label)
    return obj


def _as_array(value: Any) -> Any:
    """Paddle 2.1 wrote a tensor as (name, array); later versions the array."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], np.ndarray):
        return value[1]
    return value


def load_state_dict(path: Union[str, os.PathLike]) -> Dict[str, Any]:
    """A `.pdparams` / `.pdopt` file as {name: numpy array (or plain value, e.g. the LR schedule's dict)}: what
    `paddle.load(path, return_numpy=True)` gives for the files `paddle.save` writes, without running code.
    Layer.set_state_dict and Optimizer.set_state_dict take it as it is."""
    obj = load_pickle(path)
    if not isinstance(obj, dict):
        raise _refused(os.fspath(path), f"holds a {type(obj).__name__} instead of a dict of arrays")
    return {key: _as_array(value) for key, value in obj.items() if key != NAME_TABLE_KEY}

"""Paddle-Lite engine: an opt-converted `.nb` model run by paddlelite's Python API in a worker process.

paddlelite has no wheel for Python 3.11, so the runtime lives in its own Python 3.10 venv
(made once by `paddle-pp lite setup`) and this engine talks to a worker there over pipes.
Only `.nb` files converted with `--valid_targets x86` run on this machine; an arm `.nb` loads but returns zeros.

The Lite models are exported with a batch size of 1 (the recognizer's LSTM needs it on Lite), so the engine
runs a batch one item at a time; the pipeline still pads every item to its batch's width, so the results
equal those of the batched engines.

This file is also the worker (`python lite.py --worker MODEL.nb`): it imports nothing but the standard
library, numpy and paddlelite at module level.
"""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, Callable, Optional, Union

import numpy as np

LITE_VERSION = "2.13rc0"        # pip version of paddlelite (opt and Python runtime)
LITE_RELEASE = "v2.13-rc"       # what `paddle_lite_opt --version` prints; the C++ inference library to deploy
MODEL_DIR_ENV = "PADDLE_PP_LITE_MODEL_DIR"


def lite_venv_dir() -> Path:
    return Path(os.environ.get("PADDLE_PP_LITE_VENV") or Path.home() / ".paddle_pp" / "lite-venv")


class LiteNotSetUp(RuntimeError):
    """The Paddle-Lite venv is missing: it is made by an explicit command, never as a side effect."""


def ensure_lite_venv() -> Path:
    """The Python 3.10 venv with paddlelite; an error that names the set-up command when it is missing."""
    venv = lite_venv_dir()
    if (venv / f".paddle_pp_lite_{LITE_VERSION}").is_file():
        return venv
    raise LiteNotSetUp(f"{venv}: no Paddle-Lite {LITE_VERSION} venv; create it once with `paddle-pp lite setup` "
                       f"(Python 3.10 + paddlelite=={LITE_VERSION}, no wheel exists for Python 3.11)")


def setup_lite_venv() -> Path:
    """Create the Paddle-Lite venv (idempotent): what `paddle-pp lite setup` runs."""
    from paddle_pp.resources import LITE_SETUP_SCRIPT

    proc = subprocess.run(["bash", str(LITE_SETUP_SCRIPT)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"creating the Paddle-Lite venv failed:\n{proc.stderr.strip()[-2000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def lite_python() -> Path:
    return ensure_lite_venv() / "bin" / "python"


def lite_opt() -> Path:
    return ensure_lite_venv() / "bin" / "paddle_lite_opt"


# ---- wire format (both directions): uint32 ndim, int64 dims, float32 data; replies start with a status byte ----

def _read_exact(stream: BinaryIO, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            raise EOFError("Paddle-Lite worker pipe closed")
        data.extend(chunk)
    return bytes(data)


def _write_array(stream: BinaryIO, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array, dtype=np.float32)
    stream.write(struct.pack("<I", array.ndim) + struct.pack(f"<{array.ndim}q", *array.shape))
    stream.write(array.tobytes())
    stream.flush()


def _read_array(stream: BinaryIO) -> np.ndarray:
    (ndim,) = struct.unpack("<I", _read_exact(stream, 4))
    shape = struct.unpack(f"<{ndim}q", _read_exact(stream, 8 * ndim))
    count = int(np.prod(shape)) if ndim else 1
    return np.frombuffer(_read_exact(stream, 4 * count), dtype=np.float32).reshape(shape)


class LiteEngine:
    """Runs one `.nb` model (x86 target) in a paddlelite worker; `__call__(batch NCHW float32) -> output`."""

    def __init__(self, model_file: Union[str, os.PathLike], threads: int = 0) -> None:
        model_file = Path(model_file)
        if not model_file.is_file():
            raise FileNotFoundError(f"{model_file}: no Paddle-Lite model; make one with "
                                    f"deploy/lite/export_lite.py --valid_targets x86 --out {model_file.parent}")
        self.model_file = model_file
        self.threads = int(threads or os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._start_worker()

    def _start_worker(self) -> None:
        """This process's worker. A child forked from the process that made the engine starts its own: the
        worker's pipes carry one conversation, and the parent's worker is the parent's."""
        cmd = [str(lite_python()), str(Path(__file__).resolve()), "--worker", str(self.model_file),
               "--threads", str(self.threads)]
        # The worker's log goes to a file: a pipe nobody reads would fill up and block it.
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        self._pid = os.getpid()
        status = self._proc.stdout.read(1)
        if status != b"\x00":
            err = self._log_tail()
            self.close()
            raise RuntimeError(f"Paddle-Lite worker could not load {self.model_file}:\n{err}")

    def _log_tail(self, chars: int = 2000) -> str:
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace").strip()
        self._log.seek(0, os.SEEK_END)
        return text[-chars:]

    @classmethod
    def for_stage(cls, name: str, lite_model_dir: Optional[os.PathLike] = None, threads: int = 0) -> "LiteEngine":
        """`<lite_model_dir>/<name>.nb`; the directory defaults to $PADDLE_PP_LITE_MODEL_DIR."""
        directory = lite_model_dir or os.environ.get(MODEL_DIR_ENV)
        if not directory:
            raise ValueError(f"engine 'lite' needs lite_model_dir (--lite_model_dir) or ${MODEL_DIR_ENV}: a directory "
                             f"from deploy/lite/export_lite.py --valid_targets x86")
        return cls(Path(directory) / f"{name}.nb", threads=threads)

    def _run_one(self, item: np.ndarray) -> np.ndarray:
        try:
            _write_array(self._proc.stdin, item)
            status = _read_exact(self._proc.stdout, 1)
        except (EOFError, BrokenPipeError) as exc:
            code = self._proc.wait(timeout=10)
            raise RuntimeError(f"Paddle-Lite worker for {self.model_file.name} died (exit {code}) on input "
                               f"{list(item.shape)}:\n{self._log_tail()}") from exc
        if status != b"\x00":
            (length,) = struct.unpack("<I", _read_exact(self._proc.stdout, 4))
            raise RuntimeError(f"Paddle-Lite ({self.model_file.name}): "
                               f"{_read_exact(self._proc.stdout, length).decode('utf-8', 'replace')}")
        return _read_array(self._proc.stdout)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:
            if self._pid != os.getpid():
                self._leave_parents_worker()
                self._start_worker()
            outs = [self._run_one(batch[i:i + 1]) for i in range(batch.shape[0])]
        return np.concatenate(outs, axis=0)

    def _leave_parents_worker(self) -> None:
        """In a forked child: close this process's copies of the parent worker's pipes and log, and nothing more
        (the worker keeps serving the parent)."""
        for stream in (self._proc.stdin, self._proc.stdout, self._log):
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - a copy that is already closed
                pass

    def close(self, _getpid: Callable[[], int] = os.getpid) -> None:
        # (_getpid is bound here: at interpreter exit __del__ may run after the module's globals are gone)
        proc = getattr(self, "_proc", None)
        if getattr(self, "_pid", None) != _getpid():  # a forked child's copy: the worker is the parent's
            return
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.close()
                proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - best effort on shutdown
                proc.kill()
        if proc is not None:  # the pipes and the log file too, or each engine leaks three descriptors
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except Exception:  # noqa: BLE001 - best effort on shutdown
                    pass
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()
        self._proc = self._log = None

    def __del__(self) -> None:
        self.close()


class _PredictorPerShape:
    """paddlelite 2.13rc0's x86 runtime gives wrong outputs (up to 1.0 off) once a predictor that has run one
    input shape is given another; a fresh predictor per input shape is exact. Kept in a small LRU cache."""

    def __init__(self, model_file: str, threads: int, capacity: int = 8) -> None:
        from paddlelite.lite import MobileConfig, create_paddle_predictor

        self._create = create_paddle_predictor
        self._config_class = MobileConfig
        with open(model_file, "rb") as f:
            self._buffer = f.read()
        self._threads = threads
        self._capacity = capacity
        self._cache: "dict" = {}
        self._new()  # fail at start-up, not on the first call, when the model does not load

    def _new(self):
        config = self._config_class()
        config.set_model_from_buffer(self._buffer)
        if hasattr(config, "set_threads"):  # the x86 Python wheel's MobileConfig has no thread setting
            config.set_threads(self._threads)
        return self._create(config)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        key = tuple(batch.shape)
        predictor = self._cache.pop(key, None) or self._new()
        self._cache[key] = predictor  # most recently used last
        while len(self._cache) > self._capacity:
            self._cache.pop(next(iter(self._cache)))
        predictor.get_input(0).from_numpy(np.ascontiguousarray(batch))
        predictor.run()
        return np.array(predictor.get_output(0).numpy(), dtype=np.float32)


def _worker(model_file: str, threads: int) -> int:
    # The protocol owns the original stdout; anything paddlelite prints goes to stderr.
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    proto_in = sys.stdin.buffer
    try:
        run = _PredictorPerShape(model_file, threads)
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        proto_out.write(b"\x01")
        proto_out.flush()
        return 1
    proto_out.write(b"\x00")
    proto_out.flush()
    while True:
        try:
            batch = _read_array(proto_in)
        except EOFError:
            return 0
        try:
            out = run(batch)
        except Exception as exc:  # noqa: BLE001
            msg = f"{type(exc).__name__}: {exc}".encode("utf-8")
            proto_out.write(b"\x01" + struct.pack("<I", len(msg)) + msg)
            proto_out.flush()
            continue
        proto_out.write(b"\x00")
        _write_array(proto_out, out)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="internal: the Paddle-Lite worker of LiteEngine")
    parser.add_argument("--worker", required=True, help=".nb model file")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    sys.exit(_worker(args.worker, args.threads))

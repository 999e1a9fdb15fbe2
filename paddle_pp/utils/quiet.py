"""A quiet first run: one line per model prepared, and what third-party code prints kept in a log file.

Preparing an official or bundled model (importing its weights, exporting it, converting it to ONNX) runs
Paddle, Paddle2ONNX and Polygraphy, which print dozens of lines from C++ and from Python. The user sees

    preparing official det model (one time) ... done

and everything else is appended to `<model cache>/logs/prepare.log`, under a header per preparation. C++ code
writes to file descriptors 1 and 2 directly, so the redirection is done at the descriptor level; Python's
`sys.stdout` / `sys.stderr` write to the same descriptors and follow along. The objects themselves are left in
place on purpose: a logging handler created during the preparation keeps a reference to `sys.stderr`, which must
still work after it (a swapped-in log file would be closed by then).

A redirection covers the whole process for its duration (other threads' output goes to the log meanwhile), and
C stdio buffers are flushed before the descriptors are restored, so nothing printed inside lands outside.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from pathlib import Path
from typing import IO, Iterator, Optional, Union

PREPARE_LOG = Path("logs") / "prepare.log"


class ModelPreparationError(RuntimeError):
    """Preparing a model failed; the message names the model and the log file with the details."""


def prepare_log(cache_root: Union[str, os.PathLike]) -> Path:
    """The log of a model cache's preparations: <cache>/logs/prepare.log."""
    return Path(cache_root) / PREPARE_LOG


def _flush_all() -> None:
    """Python's streams and C's stdio buffers, so what was written so far goes where the descriptors point now."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library to ask (not glibc/musl): nothing buffered there
        pass


@contextlib.contextmanager
def output_to(log_file: Union[str, os.PathLike]) -> Iterator[IO[str]]:
    """Send everything written to file descriptors 1 and 2, and to sys.stdout / sys.stderr, to `log_file`
    (appended) during the block.

    Yields the open log (line-buffered text) for headers. Descriptors that are not open (a daemon) stay as
    they are.
    """
    log_file = Path(log_file)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a", encoding="utf-8", buffering=1) as log:
        _flush_all()
        saved = {}
        try:
            for fd in (1, 2):
                try:
                    saved[fd] = os.dup(fd)
                except OSError:
                    continue
                os.dup2(log.fileno(), fd)
            # Python-level writes too: sys.stdout/sys.stderr may not be the descriptors (pytest, notebooks)
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield log
        finally:
            _flush_all()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)


@contextlib.contextmanager
def exclusive_lock(lock_file: Union[str, os.PathLike]) -> Iterator[None]:
    """Hold an advisory lock on `lock_file` (created if needed) for the block; other processes asking for the
    same lock wait. Two first runs preparing the same model then take turns: the second finds the model ready
    instead of replacing the directory the first is exporting into. Without fcntl (not POSIX) it does nothing."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@contextlib.contextmanager
def preparing(what: str, log_file: Union[str, os.PathLike], stream: Optional[IO[str]] = None) -> Iterator[Path]:
    """Print "preparing <what> (one time) ... done" on `stream` (stderr) around the block, whose output goes to
    `log_file`. An exception inside becomes a ModelPreparationError naming `what` and the log file."""
    stream = stream or sys.stderr
    log_file = Path(log_file)
    print(f"preparing {what} (one time) ... ", end="", file=stream, flush=True)
    try:
        with output_to(log_file) as log:
            log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: preparing {what} ====\n")
            try:
                yield log_file
            except Exception as error:
                log.write(traceback.format_exc())
                log.write(f"==== preparing {what} failed: {_one_line(error)}\n")
                raise
    except Exception as error:
        print("failed", file=stream, flush=True)
        hint = ""
        if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == "paddle":
            # an inference-only install (an ARM board: docs/deploy.md) runs prepared models but cannot prepare them
            hint = ("; preparing the official models needs paddlepaddle: install it, or copy a model cache prepared "
                    "elsewhere and point PADDLE_PP_MODELS at it")
        raise ModelPreparationError(f"preparing {what} failed: {_one_line(error)}{hint} "
                                    f"(details in {log_file})") from error
    except BaseException:  # KeyboardInterrupt, SystemExit: end the line, let them through unchanged
        print("interrupted", file=stream, flush=True)
        raise
    print("done", file=stream, flush=True)

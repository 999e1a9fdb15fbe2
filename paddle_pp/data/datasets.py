"""Training / evaluation datasets: label files (SimpleDataSet) and LMDB trees (LMDBDataSet).

A sample is the dict {img_path, image (encoded bytes), label (str)} run through the dataset's transforms.

Bad data never crashes training:
- labels the first label-consuming operator can judge alone (CTC text too long / no known character,
  unreadable detection JSON, unknown direction label) are dropped when the dataset is built and counted in
  ``dropped_labels`` (reason -> count), so the trainer can log them once;
- a sample that fails to load, decode or transform (or that an operator rejects) is logged once, with its
  file and the reason, and replaced by another random sample; it is remembered (in memory shared with the
  DataLoader workers) so it is neither retried nor reported again. After ``max_consecutive_failures``
  failures in a row the dataset raises: the data is broken, not unlucky.
"""
from __future__ import annotations

import io
import logging
import multiprocessing
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from paddle_pp.data.imaug.base import SampleRejected, build_transforms
from paddle_pp.registry import DATASETS
from paddle_pp.utils.label_files import read_label_lines
from paddle_pp.utils.lmdb_file import LmdbDamagedError, parse_num_samples, read_lmdb_header

logger = logging.getLogger("paddle_pp.data")

OK, FAILED, REJECTED = 0, 1, 2
NUM_SAMPLES_KEY = b"num-samples"


class DataError(RuntimeError):
    """The data cannot be used at all (missing files, every sample failing, an incomplete LMDB)."""


class _BaseDataSet:
    """Shared machinery: transforms, up-front label filtering, once-only failure reports, replacement."""

    def __init__(self, transforms: Any, global_config: Optional[Mapping[str, Any]], mode: str, seed: int,
                 max_consecutive_failures: int):
        self.mode = mode
        self.seed = int(seed)
        self.global_config = dict(global_config or {})
        self.ops = build_transforms(transforms or [], self.global_config)
        self.max_consecutive_failures = int(max_consecutive_failures)
        self.dropped_labels: Dict[str, int] = {}

    # -- subclasses provide: self._num_total, self.index (list of global sample ids), _read(sample_id)
    def _init_status(self, num_total: int) -> None:
        # one byte per sample, shared with forked DataLoader workers: OK / FAILED / REJECTED
        self._status = multiprocessing.RawArray("b", max(1, num_total))
        self._status_lock = multiprocessing.Lock()

    def _filter_labels(self, labels: Sequence[str], reasons: Counter) -> List[bool]:
        """Judge each raw label with the first label-consuming operator; True = keep."""
        check = self.ops.label_checker()
        if check is None:
            return [True] * len(labels)
        keep = []
        for label in labels:
            problem = check(label)
            if problem:
                reasons[problem] += 1
            keep.append(problem is None)
        return keep

    def drop_summary(self) -> str:
        """'N labels dropped (reason: n, ...)' or '' when nothing was dropped."""
        total = sum(self.dropped_labels.values())
        if not total:
            return ""
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(self.dropped_labels.items()))
        return f"{total} labels dropped ({parts})"

    def bad_samples(self) -> Dict[str, int]:
        """Samples found unusable at load time so far (across all workers)."""
        status = np.frombuffer(self._status, dtype=np.int8)
        return {"failed": int((status == FAILED).sum()), "rejected": int((status == REJECTED).sum())}

    def __len__(self) -> int:
        return len(self.index)

    def _read(self, sample_id: int) -> Dict[str, Any]:
        raise NotImplementedError

    def image_sizes(self) -> List[Tuple[int, int]]:
        """(width, height) of every sample (by sample id, not by position in ``index``), read from the image
        headers only (no decoding); (0, 0) where the header cannot be read (the sample fails at load time,
        as it would without this). For the width-bucketing batch sampler: call once, before training."""
        return [self._header_size(sample_id) for sample_id in range(len(self.samples))]

    def _header_size(self, sample_id: int) -> Tuple[int, int]:
        raise NotImplementedError

    def _describe(self, sample_id: int) -> str:
        raise NotImplementedError

    def _mark(self, sample_id: int, code: int, reason: str) -> None:
        with self._status_lock:
            first = self._status[sample_id] == OK
            self._status[sample_id] = code
        if first:
            logger.warning("skipping bad sample %s: %s (replaced by a random other sample; reported once)",
                           self._describe(sample_id), reason)

    def __getitem__(self, idx: int) -> Dict[str, Any]:
        last_reason = ""
        for _ in range(self.max_consecutive_failures):
            sample_id = self.index[idx]
            if self._status[sample_id] == OK:
                try:
                    return self.ops(self._read(sample_id))
                except SampleRejected as exc:
                    last_reason = str(exc)
                    self._mark(sample_id, REJECTED, last_reason)
                except Exception as exc:  # noqa: BLE001 - any failure of one sample must not stop training
                    last_reason = f"{type(exc).__name__}: {exc}"
                    self._mark(sample_id, FAILED, last_reason)
            idx = int(np.random.randint(len(self.index)))
        raise DataError(f"{self.max_consecutive_failures} consecutive samples could not be loaded "
                        f"(last: {last_reason or 'previously failed sample'}); check the dataset")


@DATASETS.register()
class SimpleDataSet(_BaseDataSet):
    """Label files of ``relative/path<delimiter>label`` lines, paths relative to ``data_dir``.

    With several label files, ``ratio_list`` takes round(ratio * lines) lines of each file, drawn with the
    seed; ``set_epoch(e)`` redraws them with seed + e (PaddleOCR re-samples each epoch). In Train mode the
    draw happens for every file (a ratio of 1 keeps all lines, shuffled); in Eval only when ratio < 1.
    """

    def __init__(self, data_dir: str, label_file_list: Sequence[str], transforms: Any = None,
                 ratio_list: Any = None, delimiter: str = "\t", max_consecutive_failures: int = 50, *,
                 global_config: Optional[Mapping[str, Any]] = None, mode: str = "Train", seed: int = 0):
        super().__init__(transforms, global_config, mode, seed, max_consecutive_failures)
        self.data_dir = Path(data_dir)
        if isinstance(label_file_list, str):
            label_file_list = [label_file_list]
        if not label_file_list:
            raise DataError("SimpleDataSet: label_file_list is empty")
        if ratio_list is None:
            ratio_list = [1.0] * len(label_file_list)
        elif isinstance(ratio_list, (int, float)):
            ratio_list = [float(ratio_list)] * len(label_file_list)
        if len(ratio_list) != len(label_file_list):
            raise ValueError(f"SimpleDataSet: ratio_list has {len(ratio_list)} entries for "
                             f"{len(label_file_list)} label files")
        if any(not 0 < float(r) <= 1 for r in ratio_list):
            raise ValueError(f"SimpleDataSet: ratios must be in (0, 1], got {ratio_list}")
        self.ratio_list = [float(r) for r in ratio_list]
        self.delimiter = delimiter

        self.samples: List[Tuple[str, str]] = []      # (relative path, label), every kept line of every file
        self.file_ranges: List[Tuple[int, int]] = []  # [start, end) of each label file in self.samples
        reasons: Counter = Counter()
        for label_file in label_file_list:
            path = Path(label_file)
            if not path.is_file():
                raise DataError(f"SimpleDataSet: label file not found: {label_file}")
            def malformed(lineno: int, _line: str, label_file: str = label_file) -> None:
                reasons["malformed line (no delimiter)"] += 1
                logger.warning("%s:%d: no %r between path and label; line skipped", label_file, lineno,
                               self.delimiter)

            pairs = [(rel, label) for _, rel, label in read_label_lines(path, self.delimiter, malformed)]
            keep = self._filter_labels([label for _, label in pairs], reasons)
            start = len(self.samples)
            self.samples += [p for p, k in zip(pairs, keep) if k]
            self.file_ranges.append((start, len(self.samples)))
        self.dropped_labels = dict(reasons)
        if not self.samples:
            raise DataError(f"SimpleDataSet: no usable samples in {list(label_file_list)} "
                            f"({self.drop_summary() or 'empty label files'})")
        self._init_status(len(self.samples))
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """(Re)draw the per-file samples with seed + epoch; call before each epoch's iteration."""
        rng = random.Random(self.seed + int(epoch))
        index: List[int] = []
        for (start, end), ratio in zip(self.file_ranges, self.ratio_list):
            ids = list(range(start, end))
            if self.mode == "Train" or ratio < 1.0:
                ids = rng.sample(ids, int(round(len(ids) * ratio)))
            index += ids
        if not index:
            raise DataError("SimpleDataSet: ratio_list selects no samples")
        self.index = index

    def _describe(self, sample_id: int) -> str:
        return str(self.data_dir / self.samples[sample_id][0])

    def _header_size(self, sample_id: int) -> Tuple[int, int]:
        return _size_from_header(self.data_dir / self.samples[sample_id][0])

    def _read(self, sample_id: int) -> Dict[str, Any]:
        rel, label = self.samples[sample_id]
        path = self.data_dir / rel
        with open(path, "rb") as f:
            data = f.read()
        return {"img_path": str(path), "image": data, "label": label}


def _size_from_header(source: Any) -> Tuple[int, int]:
    """(width, height) from an image file's header (PIL reads no pixels for this), or (0, 0)."""
    from PIL import Image

    try:
        with Image.open(source) as image:
            return image.size
    except Exception:  # noqa: BLE001 - an unreadable image is reported when it is loaded, not here
        return (0, 0)


_ENVS: Dict[str, Any] = {}
_ENVS_PID: List[Optional[int]] = [None]


def open_lmdb(path: Path):
    """A read-only LMDB handle, one per directory and process.

    py-lmdb refuses to open one environment twice in a process (two datasets over the same LMDB, or a
    dataset rebuilt every epoch), and handles must not be used across fork(): so handles are cached per
    process and the cache is dropped in a forked worker.
    """
    import lmdb

    if _ENVS_PID[0] != os.getpid():
        _ENVS.clear()
        _ENVS_PID[0] = os.getpid()
    key = str(Path(path).resolve())
    if key not in _ENVS:
        _ENVS[key] = lmdb.open(key, readonly=True, lock=False, readahead=False, meminit=False, max_readers=64)
    return _ENVS[key]


def _utf8_or_none(value: Optional[bytes]) -> Optional[str]:
    """A stored label, or None when it is missing or not UTF-8 (the sample is then dropped, with its reason)."""
    try:
        return bytes(value).decode("utf-8") if value is not None else None
    except UnicodeDecodeError:
        return None


def find_lmdb_dirs(root: Path) -> List[Path]:
    """Every folder under root (root included) holding a data.mdb, sorted."""
    if (root / "data.mdb").is_file():
        return [root]
    return sorted(p.parent for p in root.rglob("data.mdb"))


@DATASETS.register()
class LMDBDataSet(_BaseDataSet):
    """One or more LMDB environments under ``data_dir`` (deep-text-recognition-benchmark layout:
    ``num-samples``, ``image-%09d`` encoded bytes, ``label-%09d`` UTF-8, indices from 1)."""

    def __init__(self, data_dir: str, transforms: Any = None, max_consecutive_failures: int = 50, *,
                 global_config: Optional[Mapping[str, Any]] = None, mode: str = "Train", seed: int = 0):
        super().__init__(transforms, global_config, mode, seed, max_consecutive_failures)
        self.data_dir = Path(data_dir)
        if not self.data_dir.is_dir():
            raise DataError(f"LMDBDataSet: data_dir not found: {data_dir}")
        self.env_dirs = find_lmdb_dirs(self.data_dir)
        if not self.env_dirs:
            raise DataError(f"LMDBDataSet: no LMDB (data.mdb) under {data_dir}")
        self.samples: List[Tuple[int, int]] = []  # (env number, 1-based index in the env)
        reasons: Counter = Counter()
        for env_no, env_dir in enumerate(self.env_dirs):
            n, values = self._read_labels(env_dir)
            labels = [_utf8_or_none(value) for value in values]
            reasons["missing label key"] += sum(value is None for value in values)
            reasons["label not UTF-8"] += sum(value is not None and lab is None for value, lab in zip(values, labels))
            judged = iter(self._filter_labels([lab for lab in labels if lab is not None], reasons))
            keep = [lab is not None and next(judged) for lab in labels]
            self.samples += [(env_no, i + 1) for i in range(n) if keep[i]]
        self.dropped_labels = {k: v for k, v in reasons.items() if v}
        if not self.samples:
            raise DataError(f"LMDBDataSet: no usable samples under {data_dir} ({self.drop_summary() or 'empty'})")
        self._init_status(len(self.samples))
        self.index = list(range(len(self.samples)))

    def _read_labels(self, env_dir: Path) -> Tuple[int, List[Optional[bytes]]]:
        """num-samples and every stored label (None: missing) of one env; a damaged env is a DataError.

        data.mdb is checked against its header before lmdb maps it: a truncated file would otherwise kill
        training with SIGBUS (no message) at the first sample stored past the end."""
        import lmdb

        advice = (f"run `paddle-pp data build_lmdb --check {env_dir}`, then rebuild it or remove it from "
                  f"{self.data_dir}")
        try:
            read_lmdb_header(env_dir)
            env = open_lmdb(env_dir)
            with env.begin() as txn:
                n = parse_num_samples(txn.get(NUM_SAMPLES_KEY), str(env_dir), env.stat()["entries"])
                if n is None:
                    raise DataError(f"LMDBDataSet: {env_dir} has no 'num-samples' key: an incomplete or foreign "
                                    f"LMDB (interrupted build?); rebuild it or remove it from {self.data_dir}")
                values = [txn.get(b"label-%09d" % i) for i in range(1, n + 1)]
        except LmdbDamagedError as error:
            raise DataError(f"LMDBDataSet: {error}; {advice}") from None
        except lmdb.Error as error:
            raise DataError(f"LMDBDataSet: {env_dir}: corrupt LMDB ({error}); {advice}") from None
        return n, values

    def set_epoch(self, epoch: int) -> None:  # nothing to redraw; kept for a uniform dataset API
        del epoch

    def _describe(self, sample_id: int) -> str:
        env_no, i = self.samples[sample_id]
        return f"{self.env_dirs[env_no]}#{i}"

    def _header_size(self, sample_id: int) -> Tuple[int, int]:
        # LMDB stores the encoded bytes: reading them costs a page-in, but PIL still parses the header only
        env_no, i = self.samples[sample_id]
        with open_lmdb(self.env_dirs[env_no]).begin() as txn:
            image = txn.get(b"image-%09d" % i)
        return (0, 0) if image is None else _size_from_header(io.BytesIO(bytes(image)))

    def _read(self, sample_id: int) -> Dict[str, Any]:
        env_no, i = self.samples[sample_id]
        with open_lmdb(self.env_dirs[env_no]).begin() as txn:
            image = txn.get(b"image-%09d" % i)
            label = txn.get(b"label-%09d" % i)
        if image is None:
            raise KeyError(f"no image-{i:09d} key")
        return {"img_path": self._describe(sample_id), "image": bytes(image), "label": label.decode("utf-8")}

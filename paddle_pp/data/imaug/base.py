"""Data operators and the pipeline that runs them.

Every operator declares the sample keys it reads and the keys it writes. The pipeline checks at build
time that each key an operator reads is produced by the dataset or by an earlier operator, so a typo in a
config (``keep_keys: [imgae]``) or an operator placed before the one that makes its input fails when the
pipeline is built, naming the operator and the key, instead of as a KeyError deep inside a worker.

At run time each operator receives a dict holding exactly the keys it declared (``reads`` plus those of
``optional_reads`` that are present) and returns a dict of the keys it declared in ``writes`` (or None to
reject the sample). Writing an undeclared key is an error too.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from paddle_pp.registry import TRANSFORMS

# What every dataset puts in a raw sample before the first operator runs.
DATASET_KEYS: Tuple[str, ...] = ("img_path", "image", "label")


class DataOp:
    """Base class of data operators.

    Subclasses set ``reads`` / ``writes`` (tuples of sample keys) and implement ``apply(data) -> data``,
    where ``data`` holds the declared keys. ``apply`` may return None to reject the sample; it should then
    say why through ``reject_reason`` when it can (used in the dataset's log line).
    """

    reads: Tuple[str, ...] = ()
    optional_reads: Tuple[str, ...] = ()
    writes: Tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return type(self).__name__

    def apply(self, data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        raise NotImplementedError

    def __call__(self, data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        return self.apply(data)

    def __repr__(self) -> str:
        return f"{self.name}(reads={self.reads}, writes={self.writes})"


class SampleRejected(Exception):
    """Raised by the pipeline when an operator returns None (a sample the data cannot use)."""

    def __init__(self, op_name: str, reason: str = ""):
        self.op_name = op_name
        self.reason = reason or "returned None"
        super().__init__(f"{op_name}: {self.reason}")


class TransformPipeline:
    """Runs operators in order on a sample dict, enforcing the declared keys."""

    def __init__(self, ops: Sequence[DataOp], input_keys: Iterable[str] = DATASET_KEYS):
        self.ops = list(ops)
        self.input_keys = tuple(input_keys)
        self.output_keys = self._check_keys()

    def _check_keys(self) -> Tuple[str, ...]:
        available = list(self.input_keys)
        for pos, op in enumerate(self.ops):
            missing = [k for k in op.reads if k not in available]
            if missing:
                raise KeyError(
                    f"data operator #{pos + 1} '{op.name}' reads {', '.join(repr(k) for k in missing)}, which "
                    f"neither the dataset nor an earlier operator produces; available keys: {sorted(available)}")
            if getattr(op, "keeps_only", False):
                available = list(op.reads)
            else:
                available += [k for k in op.writes if k not in available]
        return tuple(available)

    def label_checker(self) -> Optional[Callable[[str], Optional[str]]]:
        """The first operator that consumes the dataset's raw 'label', if it can judge a label on its own.

        Datasets use it to drop unusable labels up front (and count them) rather than at load time.
        """
        for op in self.ops:
            if "label" in op.reads or "label" in op.optional_reads:
                return getattr(op, "label_problem", None)
            if "label" in op.writes:
                return None
        return None

    def __call__(self, sample: Dict[str, Any]) -> Dict[str, Any]:
        for op in self.ops:
            view = {k: sample[k] for k in op.reads}
            for k in op.optional_reads:
                if k in sample:
                    view[k] = sample[k]
            out = op(view)
            if out is None:
                reason = ""
                problem = getattr(op, "label_problem", None)
                if problem is not None and "label" in view and isinstance(view["label"], str):
                    reason = problem(view["label"]) or ""
                raise SampleRejected(op.name, reason)
            extra = [k for k in out if k not in op.writes and k not in view]
            if extra:
                raise KeyError(f"data operator '{op.name}' wrote undeclared keys {extra} (declares {op.writes})")
            if getattr(op, "keeps_only", False):
                sample = {k: out[k] for k in op.reads}
                continue
            for k in op.writes:
                if k not in out:
                    raise KeyError(f"data operator '{op.name}' did not write its declared key '{k}'")
                sample[k] = out[k]
        return sample

    def __repr__(self) -> str:
        return "TransformPipeline(" + " -> ".join(op.name for op in self.ops) + ")"


def _op_entries(transform_cfgs: Any) -> List[Tuple[str, Dict[str, Any]]]:
    """Normalise PaddleOCR's list of one-key mappings (``- DecodeImage: {...}``) to (name, kwargs)."""
    if not isinstance(transform_cfgs, (list, tuple)):
        raise TypeError(f"transforms must be a list of {{OperatorName: {{args}}}} entries, got {type(transform_cfgs)}")
    entries = []
    for pos, item in enumerate(transform_cfgs):
        if not isinstance(item, Mapping) or len(item) != 1:
            raise TypeError(f"transforms entry #{pos + 1} must be a one-key mapping {{OperatorName: args}}, got {item!r}")
        (name, kwargs), = item.items()
        if kwargs is None:
            kwargs = {}
        if not isinstance(kwargs, Mapping):
            raise TypeError(f"transforms entry #{pos + 1} '{name}': arguments must be a mapping, got {kwargs!r}")
        entries.append((str(name), dict(kwargs)))
    return entries


def build_op(name: str, kwargs: Mapping[str, Any], global_config: Optional[Mapping[str, Any]] = None) -> DataOp:
    """Build one operator; ``global_config`` is passed only to operators whose constructor takes it."""
    factory = TRANSFORMS.get(name)  # unknown name: KeyError listing the known operators
    params = inspect.signature(factory).parameters
    accepted = [p for p in params if p != "global_config"
                and params[p].kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)]
    unknown = [k for k in kwargs if k not in accepted]
    if unknown and not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values()):
        raise TypeError(f"data operator '{name}': unknown argument(s) {unknown}; it accepts {accepted or 'none'}")
    extra = {}
    if "global_config" in params:
        if "global_config" in kwargs:
            raise TypeError(f"data operator '{name}': global_config is passed by the builder, not the config")
        extra["global_config"] = dict(global_config or {})
    return TRANSFORMS.build({"name": name, **kwargs}, **extra)


def build_transforms(transform_cfgs: Any, global_config: Optional[Mapping[str, Any]] = None,
                     input_keys: Iterable[str] = DATASET_KEYS) -> TransformPipeline:
    """Build the pipeline of a dataset's ``transforms`` list; checks the declared keys."""
    ops = [build_op(name, kwargs, global_config) for name, kwargs in _op_entries(transform_cfgs)]
    return TransformPipeline(ops, input_keys)

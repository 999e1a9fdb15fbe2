"""PaddleSlim 2.6.0 on Paddle 3.3.1: the known fixes, in one place (see ../shared/TOOLCHAIN.md).

- paddleslim's dygraph pruner imports `paddle.base.dygraph.base._to_static_mode_guard_`, which Paddle 3.x
  renamed to `to_static_mode_guard`: an alias restores it.
- The pruner traces the model into a legacy static program (`sensitive`, `prune_vars`), so those calls run
  with the legacy IR active; `legacy_ir()` switches to it and back. (`paddle.pir_utils.OldIrGuard` is not
  the same: it also enters static mode, which breaks the dygraph model.)
- paddleslim skips `reduce_mean` when it follows pruned channels, so a conv whose output feeds our SE
  block (a mean over H and W, see `global_avg_pool`) would be pruned without the SE convs that read it;
  a worker that passes the channel axis through a mean over other axes fixes that.
- Tracing nn.LSTM (rec) into a legacy program fails with 'Unknown place type: Place(undefined:0)' (Paddle
  reads `Tensor.device` of the LSTM's uninitialised state tensors); `apply()` installs the same fix the
  legacy export uses (`paddle_pp.export._patch_tensor_device_for_legacy_export`).
- Tracing DBHead's training forward under the legacy IR fails in `paddle.exp` ("must be Value, but got
  Variable"); slim/prune.py therefore traces all branches in eval mode (`prune._all_branches`).
- paddleslim has no prune worker for `concat`, so convs whose outputs are concatenated (DBFPN's p2..p5 convs,
  read by the DB head) were never prunable; `_register_concat_worker` maps each input's channels to its slice
  of the output. Its dygraph mask transform for such a slice ("src_start") computes the target mask and then
  returns None; `_fix_slice_mask_transform` returns it.
- After `paddleslim.QAT.save_quantized_model`, the process is left in static mode: `leave_static_mode()`.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator


def apply() -> None:
    """Idempotent: make paddleslim import and prune correctly on Paddle 3.x."""
    import paddle.base.dygraph.base as dygraph_base

    if not hasattr(dygraph_base, "_to_static_mode_guard_") and hasattr(dygraph_base, "to_static_mode_guard"):
        dygraph_base._to_static_mode_guard_ = dygraph_base.to_static_mode_guard
    _register_reduce_mean_worker()
    _register_concat_worker()
    _fix_slice_mask_transform()
    from paddle_pp.export import _patch_tensor_device_for_legacy_export

    _patch_tensor_device_for_legacy_export()


def _register_reduce_mean_worker() -> None:
    from paddleslim.prune import prune_worker as pw

    if pw.PRUNE_WORKER.get("reduce_mean") is not None:
        return

    class reduce_mean(pw.activation):  # noqa: N801 -- paddleslim looks workers up by op type name
        def _prune(self, var, pruned_axis, transforms):
            rank = len(var.shape())
            reduced = {d % rank for d in (self.op.attr("dim") or [])}
            if self.op.attr("reduce_all") or pruned_axis in reduced or not self.op.attr("keep_dim"):
                raise pw.UnsupportOpError(f"reduce_mean over the pruned axis {pruned_axis}")
            super()._prune(var, pruned_axis, transforms)

    pw.PRUNE_WORKER.register(reduce_mean)


def _register_concat_worker() -> None:
    from paddleslim.prune import prune_worker as pw

    if pw.PRUNE_WORKER.get("concat") is not None:
        return

    class concat(pw.PruneWorker):  # noqa: N801 -- looked up by op type name
        """Pruning channels of one input prunes its slice of the output (and what reads the output)."""

        def _prune(self, var, pruned_axis, transforms):
            inputs, out = self.op.inputs("X"), self.op.outputs("Out")[0]
            axis = self.op.attr("axis") % len(out.shape())
            if var not in inputs or pruned_axis != axis:
                raise pw.UnsupportOpError("concat: only an input's channels along the concat axis are prunable")
            offset = 0
            for item in inputs:
                if item == var:
                    break
                offset += item.shape()[axis]
            length = var.shape()[axis]
            trans = {"src_start": 0, "src_end": length, "target_start": offset, "target_end": offset + length,
                     "target_len": out.shape()[axis]}
            # paddleslim marks (op, variable) pairs visited once for all collections; the readers of the output
            # must be reached again for every input's slice, so they search with those marks removed.
            saved = self.visited
            fresh = {ax: {k: v for k, v in marks.items() if out.name() not in k} for ax, marks in saved.items()}
            try:
                for reader in out.outputs():
                    self._prune_op(reader, out, pruned_axis, transforms + [trans], visited=fresh)
            finally:
                self.visited = saved

    pw.PRUNE_WORKER.register(concat)


def _fix_slice_mask_transform() -> None:
    import numpy as np
    from paddleslim.dygraph.prune.filter_pruner import FilterPruner

    if getattr(FilterPruner._transform_mask, "_paddle_pp_fixed", False):
        return
    original = FilterPruner._transform_mask

    def _transform_mask(self, mask, transform):
        if "src_start" in transform:
            part = np.asarray(mask)[transform["src_start"]:transform["src_end"]]
            target = np.ones([transform["target_len"]], dtype=part.dtype)
            repeat = int((transform["target_end"] - transform["target_start"]) / len(part))
            target[transform["target_start"]:transform["target_end"]] = np.tile(part, repeat)
            return target
        return original(self, mask, transform)

    _transform_mask._paddle_pp_fixed = True
    FilterPruner._transform_mask = _transform_mask


@contextlib.contextmanager
def legacy_ir() -> Iterator[None]:
    """Run paddleslim's program tracing under the legacy IR, restoring the previous IR afterwards."""
    import paddle

    was_pir = paddle.framework.use_pir_api()
    old_flag = os.environ.get("FLAGS_enable_pir_api")
    if was_pir:
        paddle.set_flags({"FLAGS_enable_pir_api": False})
        paddle.pir_utils._switch_to_old_ir_()
    try:
        yield
    finally:
        if was_pir:
            paddle.set_flags({"FLAGS_enable_pir_api": True})
            paddle.pir_utils._switch_to_pir_()
            if old_flag is None:
                os.environ.pop("FLAGS_enable_pir_api", None)


def leave_static_mode() -> None:
    import paddle

    if not paddle.in_dynamic_mode():
        paddle.disable_static()

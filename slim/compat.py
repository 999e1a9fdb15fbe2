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

"""Operators that need care to work in every Paddle mode we export from."""
from __future__ import annotations

import paddle
import paddle.nn.functional as F


def sigmoid(x: paddle.Tensor) -> paddle.Tensor:
    """F.sigmoid, also under the legacy static IR (the `--legacy` export for Paddle-Lite).

    In Paddle 3.3.1, F.sigmoid calls the new-IR-only `_C_ops.sigmoid`, which rejects legacy static
    Variables; there the op is appended to the program directly, as Paddle 2.x did.
    """
    if paddle.in_dynamic_mode() or paddle.framework.use_pir_api():
        return F.sigmoid(x)
    from paddle.base.layer_helper import LayerHelper

    helper = LayerHelper("sigmoid")
    out = helper.create_variable_for_type_inference(x.dtype)
    helper.append_op(type="sigmoid", inputs={"X": x}, outputs={"Out": out})
    return out

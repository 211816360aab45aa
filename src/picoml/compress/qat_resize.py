"""QAT's float computations of RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, TRANSPOSE_CONV,
DEPTH_TO_SPACE and SPACE_TO_DEPTH (merged into ``compress.qat.FLOAT_OPS``).

Each takes (model, op, input 0's value as (N,) + the tensor's NHWC shape, values, plan) like the
other entries of ``FLOAT_OPS``. The resizes gather with the reference kernel's own tables
(``reference.resize.prepare``: TFLite's index and weight rules, not PyTorch's), so the float op
is the function the int8 kernel approximates and gradients flow through the gathers and weights.
TRANSPOSE_CONV is ``conv_transpose2d`` over the full extent of the taps, cropped by TFLite's
leading padding (and padded with zero rows where a VALID output extends past the taps); its
fused activation is applied by the caller, as for the other layers with weights.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import KERNELS


def _lead(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    """(N,)+(B,H,W,C) -> (N·B, H, W, C), and the leading dims to restore."""
    return x.reshape((-1,) + tuple(x.shape[2:])), tuple(x.shape[:2])


def _index(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, np.int64), device=like.device)


def _float_resize(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    p = KERNELS[op.type].prepare(op)
    xs, lead = _lead(x)
    if not p.bilinear:
        y = xs.index_select(1, _index(p.rows, xs)).index_select(2, _index(p.cols, xs))
        return y.reshape(lead + tuple(y.shape[1:]))
    top, bottom = xs.index_select(1, _index(p.rows, xs)), xs.index_select(1, _index(p.rows_hi, xs))
    x0, x1 = _index(p.cols, xs), _index(p.cols_hi, xs)
    fy = torch.as_tensor(np.asarray(p.frac_y, np.float32), device=xs.device).reshape(1, -1, 1, 1)
    fx = torch.as_tensor(np.asarray(p.frac_x, np.float32), device=xs.device).reshape(1, 1, -1, 1)
    fy, fx = fy.to(xs.dtype), fx.to(xs.dtype)
    y = (
        top.index_select(2, x0) * (1 - fy) * (1 - fx)
        + top.index_select(2, x1) * (1 - fy) * fx
        + bottom.index_select(2, x0) * fy * (1 - fx)
        + bottom.index_select(2, x1) * fy * fx
    )
    return y.reshape(lead + tuple(y.shape[1:]))


def _float_transpose_conv(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    p = KERNELS[op.type].prepare(op)
    w, b = m._layer_params(op, plan)  # OHWI
    xs, lead = _lead(x)
    y = F.conv_transpose2d(xs.permute(0, 3, 1, 2), w.permute(3, 0, 1, 2), stride=(p.stride_h, p.stride_w))
    y = y[:, :, p.pad_h : p.pad_h + p.out_h, p.pad_w : p.pad_w + p.out_w]
    y = F.pad(y, (0, p.out_w - y.shape[3], 0, p.out_h - y.shape[2]))  # VALID rows past the taps
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    y = y.permute(0, 2, 3, 1)
    return y.reshape(lead + tuple(y.shape[1:]))


def _float_depth_space(m, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    xs, lead = _lead(x)
    n, h, w, c = xs.shape
    k = int(op.attrs["block_size"])
    if op.type == OpType.DEPTH_TO_SPACE:
        y = xs.reshape(n, h, w, k, k, c // (k * k)).permute(0, 1, 3, 2, 4, 5).reshape(n, h * k, w * k, -1)
    else:
        y = xs.reshape(n, h // k, k, w // k, k, c).permute(0, 1, 3, 2, 4, 5).reshape(n, h // k, w // k, -1)
    return y.reshape(lead + tuple(y.shape[1:]))


RESIZE_FLOAT_OPS: dict[OpType, Callable[..., torch.Tensor]] = {
    OpType.RESIZE_NEAREST_NEIGHBOR: _float_resize,
    OpType.RESIZE_BILINEAR: _float_resize,
    OpType.TRANSPOSE_CONV: _float_transpose_conv,
    OpType.DEPTH_TO_SPACE: _float_depth_space,
    OpType.SPACE_TO_DEPTH: _float_depth_space,
}

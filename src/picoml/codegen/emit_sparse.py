"""C for the sparse layers' per-channel data and for sparse DEPTHWISE_CONV_2D layers.

``compact_quant`` stores a sparse layer's requantization as a ``pm_sparse_quant`` (int32
multiplier + int8 shift per channel, 5 bytes instead of a ``pm_requant`` record) and its folded
biases in 3 bytes each when all fit 24 bits (the struct's ``bias3``; the kernels' int32 bias
argument is then NULL), else as int32. ``emit_sparse_depthwise`` emits a depthwise layer whose
filter ``codegen.sparse`` stores as tap masks (``pm_depthwise_conv2d_sparse_s8``,
runtime/pm_sparse_depthwise_s8.h). Both are called by ``generate.py``'s convolution and fully
connected emitters with its ``_Ctx`` (this module does not import it).
"""

from __future__ import annotations

import numpy as np

from picoml.codegen.requant import exact_requant, folded_bias
from picoml.codegen.sparse import bias_bytes, encode_tapmask
from picoml.codegen.variants import DW_SPARSE, DW_SPARSE_FILE, EXACT
from picoml.errors import UnsupportedError
from picoml.graph.ir import Op


def compact_quant(c, i: int, multiplier, shift, n: int, bias: np.ndarray) -> tuple[str, str]:
    """(``&pm_sparse_quant``, bias argument) of sparse layer ``i``: multipliers, shifts and the
    biases as 3-byte little-endian values (argument ``NULL``) when all fit, else int32 (its array)."""
    m = np.broadcast_to(np.asarray(multiplier, np.int64), (n,)).astype(np.int32)
    sh = np.broadcast_to(np.asarray(shift, np.int64), (n,))
    if sh.min() < -128 or sh.max() > 127:
        raise UnsupportedError(f"{c.name}_l{i}_rq: requantization shift {int(sh.min())}..{int(sh.max())} out of int8")
    fields = {
        "multiplier": c.const_array(f"l{i}_rq_mult", m),
        "shift": c.const_array(f"l{i}_rq_shift", sh.astype(np.int8)),
    }
    b = np.asarray(bias, np.int64)
    if bias_bytes(b) == 3:
        le = (b.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]).reshape(-1)
        fields["bias3"] = c.const_array(f"l{i}_bias3", le.view(np.int8))
        arg = "NULL"
    else:
        fields["bias3"] = "NULL"
        arg = c.const_array(f"l{i}_bias", b.astype(np.int32))  # the kernels read it as data
    return "&" + c.struct("pm_sparse_quant", f"l{i}_rq", fields), arg


def _dims(shape: tuple[int, ...]) -> dict[str, int]:
    s = (1,) * (4 - len(shape)) + tuple(shape)
    return {"n": s[0], "h": s[1], "w": s[2], "c": s[3]}


def emit_sparse_depthwise(c, op: Op, i: int, p, fields: dict) -> None:
    """DEPTHWISE_CONV_2D layer ``i`` (prepared params ``p``, ``pm_conv_params`` ``fields``) with
    its filter as tap masks: one call of pm_depthwise_conv2d_sparse_s8 (or its _exact twin)."""
    x, y = op.inputs[0], op.outputs[0]
    c.dw_max_c = max(c.dw_max_c, int(y.shape[3]))  # PM_DW_MAX_C sizes its zero-point row and held pixel
    c.sparse_layers += 1
    c.files.update(("pm_sparse_s8", DW_SPARSE_FILE))
    w = c.const_array(f"l{i}_filter", encode_tapmask(p.filter))
    prm = c.struct("pm_conv_params", f"l{i}_params", fields)
    bias = folded_bias(op, p.bias, p.filter, True)
    exact = EXACT if exact_requant(op, bias, p.filter, p.shift, True) else ""
    if exact:
        c.body.append("/* |acc << shift| not provably below 2^29: the exact requantization twin */")
    q, b = compact_quant(c, i, p.multiplier, p.shift, p.multiplier.size, bias)
    di = c.struct("pm_dims", f"l{i}_in_dims", _dims(x.shape))
    df = c.struct("pm_dims", f"l{i}_f_dims", _dims(p.filter.shape))
    do = c.struct("pm_dims", f"l{i}_out_dims", _dims(y.shape))
    c.variants.add(DW_SPARSE + exact)
    c.body.append(
        f"status |= {DW_SPARSE}{exact}(&{prm}, {q}, &{di}, {c.ptr(x, True)}, &{df}, {w}, {b}, &{do}, {c.ptr(y)});"
    )

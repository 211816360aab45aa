"""C emitters for the int8 RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, TRANSPOSE_CONV, DEPTH_TO_SPACE
and SPACE_TO_DEPTH kernels.

Same pattern as ``emit_nonlinear.py``; ``generate.py`` merges ``RESIZE_FILES`` and
``RESIZE_EMITTERS`` into its tables. Every parameter comes from the reference kernel's
``prepare`` (bit-exact with tflite-micro):

- the resizes write the reference's per-row and per-column tables (source indices; bilinear:
  lower and upper index and the weight in 1/1024) as int16 arrays, so the C only gathers and
  weighs; no float, no division (``pm_resize_s8``);
- TRANSPOSE_CONV is a gather over output pixels (``pm_transpose_conv_s8``): no scratch buffer
  (tflite-micro's scatter needs 4 bytes per output value), register accumulators for 4 output
  channels at a time (int8 dot products, SMLAD on Armv7E-M, less the input zero point times each
  tap's weight sum, a flash table of O·kh·kw int32). ``transpose_conv_bound`` bounds, per
  stride phase, the accumulator and the kernel's partial sums: a layer whose partial sums could
  reach 2^31 is refused, one whose ``|acc + bias| << left`` may reach 2^29 calls the ``_exact``
  twin (``pm_requant_exact_s8``), the others requantize with ``pm_requant_s8``, as the
  convolutions do (codegen/requant.py);
- DEPTH_TO_SPACE / SPACE_TO_DEPTH copy channel runs (``pm_depth_space_s8``).
"""

from __future__ import annotations

import numpy as np

from picoml.codegen.requant import ACC_LIMIT, FAST_LIMIT
from picoml.codegen.variants import EXACT, EXACT_SOURCES
from picoml.errors import UnsupportedError
from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.graph.resize_ops import TC_INPUT
from picoml.reference import KERNELS

# op type -> runtime file stems (besides pm_common.h) its kernel needs (.h and .c each)
RESIZE_FILES: dict[OpType, tuple[str, ...]] = {
    OpType.RESIZE_NEAREST_NEIGHBOR: ("pm_resize_s8",),
    OpType.RESIZE_BILINEAR: ("pm_resize_s8",),
    OpType.TRANSPOSE_CONV: ("pm_transpose_conv_s8",),
    OpType.DEPTH_TO_SPACE: ("pm_resize_s8",),
    OpType.SPACE_TO_DEPTH: ("pm_resize_s8",),
}


def _prepared(op: Op):
    p = KERNELS[op.type].prepare(op)
    if getattr(p, "quantized", True) is False or op.inputs[0].dtype != "int8":
        raise UnsupportedError(f"{op.label}: only int8 {op.type} compiles to C")
    return p


def _dims(c, sym: str, shape) -> str:
    n, h, w, ch = (int(v) for v in shape)
    return c.struct("pm_dims", sym, {"n": n, "h": h, "w": w, "c": ch})


def _int16(c, sym: str, values: np.ndarray) -> str:
    v = np.asarray(values, np.int64)
    if v.size and (v.min() < -(1 << 15) or v.max() >= 1 << 15):
        raise UnsupportedError(f"{sym}: table values outside int16")
    return c.const_array(sym, v.astype(np.int16))


def emit_resize(c, op: Op, i: int) -> None:
    p = _prepared(op)
    x, y = op.inputs[0], op.outputs[0]
    di, do = _dims(c, f"l{i}_in_dims", x.shape), _dims(c, f"l{i}_out_dims", y.shape)
    if not p.bilinear:
        rows, cols = _int16(c, f"l{i}_rows", p.rows), _int16(c, f"l{i}_cols", p.cols)
        c.body.append(f"status |= pm_resize_nearest_s8(&{di}, {c.ptr(x, True)}, &{do}, {rows}, {cols}, {c.ptr(y)});")
        return
    tables = {
        "y0": p.rows,
        "y1": p.rows_hi,
        "dy": p.frac_y,
        "x0": p.cols,
        "x1": p.cols_hi,
        "dx": p.frac_x,
    }
    fields = {k: _int16(c, f"l{i}_{k}", v) for k, v in tables.items()}
    t = c.struct("pm_bilinear_tables", f"l{i}_tables", fields)
    c.body.append(f"status |= pm_resize_bilinear_s8(&{di}, {c.ptr(x, True)}, &{do}, &{t}, {c.ptr(y)});")


def emit_depth_space(c, op: Op, i: int) -> None:
    p = _prepared(op)
    x, y = op.inputs[0], op.outputs[0]
    di, do = _dims(c, f"l{i}_in_dims", x.shape), _dims(c, f"l{i}_out_dims", y.shape)
    c.body.append(
        f"status |= pm_depth_space_s8({int(p.to_space)}, {p.block}, &{di}, {c.ptr(x, True)}, &{do}, {c.ptr(y)});"
    )


def transpose_conv_bound(p) -> tuple[np.ndarray, np.ndarray]:
    """(final, partial) bounds per output channel of an int8 TRANSPOSE_CONV in the C kernel.

    An output pixel gathers the filter taps of one stride phase, ``ky ≡ r (mod stride_h)`` and
    ``kx ≡ s (mod stride_w)`` (at the edges a subset of them), each times an input value minus the
    zero point, at most ``span = max(127 - zp, zp + 128)`` in magnitude; with S the largest sum of
    |w| over one phase, ``final = (|bias| + span · S) << max(shift, 0)`` bounds what
    ``pm_requant_s8`` sees. The kernel sums ``x · w`` and subtracts ``zp · Σw`` tap by tap, so its
    partial sums stay within ``partial = |bias| + 256 · S``."""
    w = np.abs(p.filter.astype(np.int64))  # OHWI
    sums = np.zeros(w.shape[0], np.int64)
    for r in range(min(p.stride_h, w.shape[1])):
        for s in range(min(p.stride_w, w.shape[2])):
            sums = np.maximum(sums, w[:, r :: p.stride_h, s :: p.stride_w, :].sum(axis=(1, 2, 3)))
    span = max(127 - p.input_zp, p.input_zp + 128)
    bias = np.abs(p.bias.astype(np.int64))
    final = (bias + span * sums) << np.maximum(np.asarray(p.shift, np.int64), 0)
    return final, bias + 256 * sums


def transpose_conv_exact(op: Op, p) -> bool:
    """True when the layer needs the _exact requantization twin (its bound reaches 2^29, as for
    the convolutions: codegen/requant.py); refuses a layer whose int32 sums could overflow."""
    final, partial = transpose_conv_bound(p)
    if (partial >= ACC_LIMIT).any():
        raise UnsupportedError(
            f"{op.label}: accumulator range {int(partial.max())} reaches 2^31; the C kernel's int32 sums "
            f"could overflow (undefined in C)"
        )
    return bool((final >= FAST_LIMIT).any())


def emit_transpose_conv(c, op: Op, i: int) -> None:
    p = _prepared(op)
    x, y = op.inputs[TC_INPUT], op.outputs[0]
    exact = transpose_conv_exact(op, p)
    if exact:
        c.files.add(EXACT_SOURCES[op.type])
        c.body.append("/* |acc << shift| not provably below 2^29: the exact requantization twin */")
    fields = {
        "stride_h": p.stride_h,
        "stride_w": p.stride_w,
        "pad_h": p.pad_h,
        "pad_w": p.pad_w,
        "input_zp": p.input_zp,
        "output_zp": p.output_zp,
        "act_min": int(p.act_min),
        "act_max": int(p.act_max),
    }
    prm = c.struct("pm_transpose_conv_params", f"l{i}_params", fields)
    oc = p.filter.shape[0]
    q = c.requant(f"l{i}_rq", p.multiplier, p.shift, oc, exact)
    w = c.const_array(f"l{i}_filter", p.filter.astype(np.int8))
    sums = c.const_array(f"l{i}_tap_sums", p.filter.astype(np.int64).sum(axis=3).astype(np.int32))
    b = c.const_array(f"l{i}_bias", p.bias.astype(np.int32))
    di = _dims(c, f"l{i}_in_dims", x.shape)
    df = _dims(c, f"l{i}_f_dims", p.filter.shape)
    do = _dims(c, f"l{i}_out_dims", y.shape)
    c.body.append(
        f"status |= pm_transpose_conv_s8{EXACT if exact else ''}(&{prm}, {q}, &{di}, {c.ptr(x, True)}, &{df}, {w}, "
        f"{sums}, {b}, &{do}, "
        f"{c.ptr(y)});"
    )


RESIZE_EMITTERS = {
    OpType.RESIZE_NEAREST_NEIGHBOR: emit_resize,
    OpType.RESIZE_BILINEAR: emit_resize,
    OpType.TRANSPOSE_CONV: emit_transpose_conv,
    OpType.DEPTH_TO_SPACE: emit_depth_space,
    OpType.SPACE_TO_DEPTH: emit_depth_space,
}

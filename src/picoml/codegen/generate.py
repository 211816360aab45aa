"""Graph → self-contained C99 library (header, model source, the kernels it uses).

Prepare in Python, evaluate in C: each layer's parameters come from the reference kernel's
``prepare`` (the same multipliers, shifts and clamps the interpreter uses), are written as
``static const`` data (flash), and the model source calls one ``pm_<op>_s8`` kernel per
layer on buffers at planned offsets of one static arena.

Layout of the output directory::

    <name>.h         API: <name>_run() and the input / output pointers into the arena (zero-copy),
                     <name>_invoke() (copying), shapes, scales, zero points, arena size
    <name>.c         weights, per-layer parameters, arena, run(), invoke() (codegen/api.py)
    pm_*.h, pm_*.c   the runtime kernels this model uses (copied from codegen/runtime)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from picoml.codegen import cemit
from picoml.codegen.api import IO_CTYPES, IoRegion, entry_points, header_text, io_regions
from picoml.codegen.conv_rows import ROWS, padded_rows
from picoml.codegen.dw_planes import plane_bytes, zp_min
from picoml.codegen.emit_activation import ACTIVATION_EMITTERS, ACTIVATION_FILES
from picoml.codegen.emit_affine import emit_channel_tables, uses_channel_tables
from picoml.codegen.emit_binary import BINARY_EMITTERS, BINARY_FILES, operand
from picoml.codegen.emit_detection import DETECTION_EMITTERS, DETECTION_FILES
from picoml.codegen.emit_extra import EXTRA_EMITTERS, EXTRA_FILES
from picoml.codegen.emit_float import BYTE_OPS, FLOAT_EMITTERS, FLOAT_FILES, float_array, uses_float
from picoml.codegen.emit_float_extra import FLOAT_EXTRA_EMITTERS, FLOAT_EXTRA_FILES
from picoml.codegen.emit_fused import emit_fused, fused_blocks
from picoml.codegen.emit_logic import LOGIC_EMITTERS, LOGIC_FILES
from picoml.codegen.emit_movement import MOVEMENT_EMITTERS, MOVEMENT_FILES
from picoml.codegen.emit_nonlinear import (
    FIXEDPOINT_HEADER,
    FIXEDPOINT_USERS,
    LUT_FILE,
    LUT_OPS,
    NONLINEAR_EMITTERS,
    NONLINEAR_FILES,
)
from picoml.codegen.emit_reduce import REDUCE_EMITTERS, REDUCE_FILES
from picoml.codegen.emit_resize import RESIZE_EMITTERS, RESIZE_FILES
from picoml.codegen.emit_s16 import handles as s16_handles
from picoml.codegen.emit_s16 import wrap_s16
from picoml.codegen.emit_signal import SIGNAL_EMITTERS, SIGNAL_FILES
from picoml.codegen.emit_sparse import compact_quant, emit_sparse_depthwise
from picoml.codegen.emit_state import (
    STATE_EMITTERS,
    STATE_FILES,
    STATE_FLOAT_EMITTERS,
    STATE_FLOAT_FILES,
    reset_lines,
    update_lines,
)
from picoml.codegen.emit_tile import TILE_EMITTERS, TILE_FILES
from picoml.codegen.isa import PORTABLE, Isa, get_isa
from picoml.codegen.lanes import lanes_fit, pack_lanes
from picoml.codegen.layer_calls import conv_call_wrappers, fc_slices
from picoml.codegen.pair_records import RECORD_BYTES, maybe_stream, run_chunks
from picoml.codegen.pairs_raw import conv_raw, fc_raw, to_raw
from picoml.codegen.requant import exact_requant, fold_mode, folded_bias, prepare_layer, requant_rows
from picoml.codegen.sparse import C_ENCODING, ENCODERS, layer_encodings
from picoml.codegen.variants import (
    CONV_1X1,
    CONV_LANES,
    DW_GENERIC,
    DW_MAX_C,
    DW_MAX_TAPS,
    DW_MULT1,
    EXACT,
    EXACT_SOURCES,
    GEMM_VARIANTS,
    IM2COL_MAX,
    VARIANT_FUNCTIONS,
    kernel_variant,
    uses_gemm,
)
from picoml.errors import UnsupportedError
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import OpType, concat_axis
from picoml.outputs import write_tree
from picoml.passes.fold_pad import PadFold, fold_pads, window_pads
from picoml.passes.int32_args import int32_arguments
from picoml.plan import MemoryPlan, plan_memory
from picoml.reference import KERNELS
from picoml.reference.common import window_geometry
from picoml.version import __version__

RUNTIME = "picoml.codegen.runtime"

# op type -> runtime files (besides pm_common.h) its kernel needs
KERNEL_FILES: dict[OpType, tuple[str, ...]] = {
    OpType.CONV_2D: ("pm_conv2d_s8",),
    OpType.DEPTHWISE_CONV_2D: ("pm_conv2d_s8", "pm_depthwise_conv2d_s8"),  # shares pm_conv_params
    OpType.FULLY_CONNECTED: ("pm_fully_connected_s8",),
    OpType.AVERAGE_POOL_2D: ("pm_pool_s8",),
    OpType.MAX_POOL_2D: ("pm_pool_s8",),
    OpType.RELU: ("pm_requantize_s8",),
    OpType.RELU6: ("pm_requantize_s8",),
    OpType.QUANTIZE: ("pm_requantize_s8",),
    OpType.PAD: ("pm_data_s8",),
    OpType.CONCATENATION: ("pm_data_s8",),
    OpType.RESHAPE: (),
}
KERNEL_FILES.update(NONLINEAR_FILES)
KERNEL_FILES.update(ACTIVATION_FILES)
KERNEL_FILES.update(MOVEMENT_FILES)
KERNEL_FILES.update(RESIZE_FILES)
KERNEL_FILES.update(TILE_FILES)
KERNEL_FILES.update(BINARY_FILES)
KERNEL_FILES.update(REDUCE_FILES)
KERNEL_FILES.update(LOGIC_FILES)
KERNEL_FILES.update(EXTRA_FILES)
KERNEL_FILES.update(SIGNAL_FILES)
KERNEL_FILES.update(STATE_FILES)


# C types of model inputs and outputs: int8 activations, int32 indices (ARG_MAX's output)

# runtime files without a .c (pm_sparse_s8's ctz table lives in pm_dot_s8.c, always built with it)
HEADER_ONLY = {"pm_sparse_s8"}

# kernels built on the header-only micro-kernels and SIMD helpers of pm_dot_s8.h
DOT_USERS = {"pm_conv2d_s8", "pm_depthwise_conv2d_s8", "pm_fully_connected_s8", "pm_pool_s8"}
DOT_USERS |= {"pm_transpose_conv_s8", "pm_resize_s8"}


@dataclass
class _Ctx:
    graph: Graph
    name: str
    plan: MemoryPlan
    isa: Isa = PORTABLE
    sparse: bool = True  # allow sparse weight encodings (runtime/pm_sparse_s8.h) where smaller
    sparse_layers: int = 0  # layers emitted with a sparse encoding (PM_SPARSE_WEIGHTS)
    sparse_exact: bool = False  # some sparse layer requantizes exactly (PM_SPARSE_EXACT)
    im2col_bytes: int = 4  # PM_CONV_IM2COL_MAX: largest im2col buffer a GEMM layer needs
    fc_max_depth: int = 1  # PM_FC_MAX_DEPTH: input values of the deepest FULLY_CONNECTED ("vector")
    fc_max_units: int = 1  # PM_FC_MAX_UNITS: units of the widest FULLY_CONNECTED ("vector")
    max_oc: int = 2  # PM_CONV_MAX_OC: most output channels of a GEMM convolution ("vector" accumulator rows)
    dw_max_c: int = 4  # PM_DW_MAX_C: most channels of a depthwise layer on the fast path
    dw_max_taps: int = 1  # PM_DW_MAX_TAPS: most window taps of a depthwise layer on the fast path
    dw_plane: int = 0  # PM_DW_PLANE_MAX: stack bytes of the Armv7E-M depthwise planes (codegen/dw_planes.py)
    variants: set[str] = field(default_factory=set)  # named kernel variants the layers call
    w16_bytes: int = 0  # PM_CONV_W16_MAX: largest widened 4-row block (armv7em 4x2 kernel), 0 = none
    pw_runs: list = field(default_factory=list)  # (k / 4, rows in the arena): PM_PW_SP_CHUNKS (run_chunks)
    w16_scratch: dict[int, int] = field(default_factory=dict)  # op -> arena scratch for wider 4-row blocks
    fc_rows: list[tuple[int, int]] = field(default_factory=list)  # (depth & ~3, units & ~3): armv7em 4-unit FC
    fc_raw: bool = False  # PM_FC_RAW: FULLY_CONNECTED pairs in the raw-lane layout (codegen/pairs_raw.py)
    conv_raw: bool = False  # PM_CONV_RAW: the same for the GEMM convolutions' pairs
    conv_rows: int = 0  # PM_CONV_ROWS: largest window of a PM_FILTER_ROWS layer, bytes (codegen/conv_rows.py)
    conv_calls: dict[str, bool] = field(default_factory=dict)  # conv variant called through a record -> scratch arg
    direct_calls: bool = False  # emit_fused.py: calls with the geometry records in place, to swap per band
    decls: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    resets: list[str] = field(default_factory=list)  # <name>_reset() lines for static state (the signal ops)
    files: set[str] = field(default_factory=set)
    weight_bytes: int = 0
    encoding: dict[int, str] = field(default_factory=dict)  # op index -> weight encoding (layer_encodings)
    ptr_override: dict[int, str] = field(default_factory=dict)  # id(tensor) -> C pointer (emit_fused.py)
    shared: dict[tuple, str] = field(default_factory=dict)  # content key -> C symbol (emit_signal.py)

    def ptr(self, t: Tensor, const: bool = False) -> str:
        if t.data is not None:
            raise UnsupportedError(f"tensor {t.name!r}: constant used where an activation is expected")
        if id(t) in self.ptr_override:
            return f"({'const ' if const else ''}int8_t *)({self.ptr_override[id(t)]})"
        return f"({'const ' if const else ''}int8_t *)(pm_arena.bytes + {self.plan.offset_of(t)})"

    def const_array(self, sym: str, values: np.ndarray, ctype: str | None = None, flash: bool = False) -> str:
        """A constant array; ``flash``: declared PM_CONST (program memory on AVR), for the tables
        whose kernels read them only through PM_LD_* (pm_common.h)."""
        name = f"{self.name}_{sym}"
        arr = np.asarray(values)
        if arr.dtype == np.float32:  # float models (codegen/emit_float.py)
            self.decls.append(float_array(name, arr))
        else:
            self.decls.append(cemit.array(name, arr, ctype, qualifier="PM_CONST" if flash else "const"))
        self.weight_bytes += arr.size * arr.dtype.itemsize
        return name

    def requant(self, sym: str, multiplier, shift, n: int, exact: bool = False, rows: list | None = None) -> str:
        name, rows = f"{self.name}_{sym}", rows or requant_rows(multiplier, shift, n, exact)  # rows: already made
        self.decls.append(cemit.struct_array("pm_requant", name, rows, qualifier="PM_CONST"))
        self.weight_bytes += self.isa.requant_record_bytes * len(rows)
        return name

    def struct(self, ctype: str, sym: str, fields: dict) -> str:
        name = f"{self.name}_{sym}"
        self.decls.append(cemit.struct_init(ctype, name, fields))
        return name


def _dims(shape: tuple[int, ...]) -> dict[str, int]:
    s = (1,) * (4 - len(shape)) + tuple(shape)
    return {"n": s[0], "h": s[1], "w": s[2], "c": s[3]}


OB_BLOCK = 8  # PM_OB_BLOCK in pm_dot_s8.h
W16_MAX = 1152  # largest PM_CONV_W16_MAX: 4 rows of k <= 144 values widened to 16 bits, on the stack


def pack_pairs(w: np.ndarray, interleave: bool = False) -> np.ndarray:
    """Weights [out, k] in the packed layout of pm_dot_s8.h: channel pairs (a, b) store each
    chunk of 4 values as a0..a3 b0..b3 (``interleave``, PM_PAIRS_ILV: a0 b0 a2 b2 a1 b1 a3 b3),
    then the k % 4 tail as a_t b_t; an odd last channel stays plain. Same size as the input."""
    w = np.asarray(w).reshape(w.shape[0], -1)
    n, k = w.shape
    blocks = []
    full = k - k % 4
    for oc in range(0, n - 1, 2):
        a, b = w[oc], w[oc + 1]
        if interleave:  # per chunk: a0 b0 a2 b2 | a1 b1 a3 b3
            ca, cb = a[:full].reshape(-1, 2, 2), b[:full].reshape(-1, 2, 2)  # [chunk, pair j//2, parity j%2]
            chunks = np.stack([ca, cb], axis=3).transpose(0, 2, 1, 3).reshape(-1)
        else:
            chunks = np.stack([a[:full].reshape(-1, 4), b[:full].reshape(-1, 4)], axis=1).reshape(-1)
        tail = np.stack([a[full:], b[full:]], axis=1).reshape(-1)
        blocks += [chunks, tail]
    if n % 2:
        blocks.append(w[-1])
    return np.concatenate(blocks).astype(w.dtype)


def pack_dw4(w: np.ndarray) -> np.ndarray:
    """Depthwise weights 1HWO → PM_FILTER_DW4 (pm_conv2d_s8.h): channel groups of 4, each
    group's taps in order as 4 bytes. Needs O % 4 == 0. Same size as the input."""
    taps = w.shape[1] * w.shape[2]
    return np.ascontiguousarray(w.reshape(taps, -1, 4).transpose(1, 0, 2)).reshape(-1)


def pack_offset_binary(w: np.ndarray) -> np.ndarray:
    """Weights [out, k] in the offset-binary layout of pm_dot_s8.h (Armv6-M): blocks of 8
    output channels, each storing, for every input j, w[c][j] + 128 as uint8 for its channels
    (a last block of r < 8 channels stores r per input). Same size as the input."""
    w = np.asarray(w).reshape(w.shape[0], -1).astype(np.int16)
    blocks = [(w[c : c + OB_BLOCK].T + 128).reshape(-1) for c in range(0, w.shape[0], OB_BLOCK)]
    return np.concatenate(blocks).astype(np.uint8) if blocks else np.zeros(0, np.uint8)


def _round4(n: int) -> int:
    return (n + 3) & ~3


def _w16_scratch(
    g: Graph, isa: Isa | str, encoding: dict[int, str], arena_bytes: int, fused=(), scratch=None
) -> dict[int, int]:
    """Arena scratch (op index -> bytes) for the widened rows of Armv7E-M 4x2 layers, added one
    layer at a time, widest rows first, where the arena keeps its size: RAM the plan has free at
    that op. Rows too wide for the stack block (8 * k > W16_MAX) get the 4x2 kernel that way at no
    RAM cost; rows that would go to the stack block move out of the stack, and once every layer
    of the widest stack rows has moved, the block (PM_CONV_W16_MAX, in every such kernel's frame)
    shrinks to the next widest: peak stack, and so RAM, goes down. Layers stored sparsely
    (``encoding``: op index -> encoding) or that miss the 4x2 kernel's conditions (k % 4 == 0,
    the GEMM path) get none. ``fused``: plan with these blocks fused (plan.fusion); ``scratch``:
    the layers already given scratch."""
    if not get_isa(isa).has("gemm4x2"):
        return {}
    rows: list[tuple[int, int]] = []  # (8 * k, op index)
    for i, op in enumerate(g.ops):
        if not uses_gemm(op) or encoding.get(i, "dense") != "dense":
            continue
        k = int(np.prod(op.inputs[1].shape[1:]))
        if k % 4 == 0:
            rows.append((8 * k, i))
    scratch = dict(scratch or {})
    for size, i in sorted(rows, key=lambda r: (-r[0], r[1])):
        trial = {**scratch, i: size}
        if i not in scratch and plan_memory(g, trial, fused=fused).arena_bytes <= arena_bytes:
            scratch = trial
    return scratch


def _as_words(b: np.ndarray) -> np.ndarray:
    """int8 bytes as little-endian int32 words (zero-padded to a multiple of 4): a C array of
    words is word-aligned without compiler extensions. Every Isa is little-endian (codegen/isa.py)."""
    b = np.asarray(b, np.int8).reshape(-1)
    return np.concatenate([b, np.zeros(-len(b) % 4, np.int8)]).view("<i4")


def _gemm_weights(c: _Ctx, w: np.ndarray) -> np.ndarray:
    """The GEMM weight layout of the target's kernels (pm_dot_s8.h)."""
    if c.isa.gemm_layout == "plain-int16":
        return np.asarray(w).reshape(w.shape[0], -1).astype(np.int16)  # int16 rows: PMADDWD-friendly
    if c.isa.gemm_layout == "offset-binary":
        return pack_offset_binary(w)
    return pack_pairs(w, c.isa.has("pairs_ilv"))


def _sparse_weights(c: _Ctx, i: int, sym: str, w: np.ndarray) -> tuple[str, str] | None:
    """(array, PM_SPARSE_* constant) if this GEMM layer's weights are smaller sparse, else None."""
    enc = c.encoding.get(i, "dense")
    if enc == "dense":
        return None
    c.sparse_layers += 1
    c.files.add("pm_sparse_s8")
    return c.const_array(f"l{i}_{sym}", ENCODERS[enc](w)), C_ENCODING[enc]


def _requant_mode(c: _Ctx, op: Op, exact: bool, sparse: bool) -> str:
    """The kernel-name suffix of the layer's requantization ("" fast, EXACT: the _exact twin,
    codegen/requant.py), noting the twins' source file and, for a sparse layer, PM_SPARSE_EXACT."""
    if not exact:
        return ""
    c.files.add(EXACT_SOURCES[op.type])
    c.sparse_exact |= sparse
    c.body.append("/* |acc << shift| not provably below 2^29: the exact requantization twin */")
    return EXACT


def _emit_conv(c: _Ctx, op: Op, i: int) -> None:
    p = prepare_layer(op)
    x, y = op.inputs[0], op.outputs[0]
    depthwise = op.type == OpType.DEPTHWISE_CONV_2D
    variant = kernel_variant(op)
    assert variant is not None
    kh, kw = (p.filter.shape[1], p.filter.shape[2])
    pad_h, pad_w = window_pads(  # a folded PAD's pads, else TFLite's
        op,
        window_geometry(x.shape[1], x.shape[2], kh, kw, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.padding)[
            2:
        ],
    )
    fields = {
        "stride_h": p.stride_h,
        "stride_w": p.stride_w,
        "dilation_h": p.dilation_h,
        "dilation_w": p.dilation_w,
        "pad_h": pad_h,
        "pad_w": pad_w,
        "depth_multiplier": op.attrs.get("depth_multiplier", 1),
        "filter_layout": "PM_FILTER_PLAIN",
        "input_zp": p.input_zp,
        "output_zp": p.output_zp,
        "act_min": int(p.act_min),
        "act_max": int(p.act_max),
    }
    if c.encoding.get(i) == "tapmask":  # a sparse depthwise filter: codegen/emit_sparse.py
        return emit_sparse_depthwise(c, op, i, p, fields)
    taps, ch = kh * kw, int(p.filter.shape[3])
    dw4 = False
    if depthwise and c.isa.has("dw4"):
        geometry = (y.shape[1:3], (kh, kw), (p.stride_h, p.stride_w), (p.dilation_h, p.dilation_w))
        c.dw_plane = max(c.dw_plane, plane_bytes(*geometry, int(x.shape[3]), op.attrs.get("depth_multiplier", 1)))
    if variant == DW_MULT1:
        c.dw_max_c, c.dw_max_taps = max(c.dw_max_c, ch), max(c.dw_max_taps, taps)  # its stack tables
        dw4 = c.isa.has("dw4") and ch % 4 == 0
        if dw4:
            fields["filter_layout"] = "PM_FILTER_DW4"
    elif variant == DW_GENERIC and c.isa.has("dw4") and taps <= DW_MAX_TAPS and x.shape[3] <= DW_MAX_C:
        # Armv7E-M speed builds run it over a tap table too (any depth multiplier): size its tables
        c.dw_max_c, c.dw_max_taps = max(c.dw_max_c, int(x.shape[3])), max(c.dw_max_taps, taps)
    packed = variant in GEMM_VARIANTS
    k = int(np.prod(p.filter.shape[1:]))
    if packed:
        c.im2col_bytes = max(c.im2col_bytes, 2 * k)
        c.max_oc = max(c.max_oc, int(p.filter.shape[0]))
    sw = _sparse_weights(c, i, "filter", p.filter) if packed else None
    if sw is not None and c.isa.has("sparse_rows4") and 4 * k <= IM2COL_MAX:
        c.im2col_bytes = max(c.im2col_bytes, 4 * k)  # PM_SPARSE_ROWS4: four windows per decode
    bias = folded_bias(op, p.bias, p.filter, depthwise)
    exact = _requant_mode(c, op, exact_requant(op, bias, p.filter, p.shift, depthwise), sw is not None)
    rows = requant_rows(p.multiplier, p.shift, p.multiplier.size, bool(exact))  # the layer's pm_requant records
    if sw is None:
        if packed and c.isa.has("gemm4x2"):
            filt = p.filter
            padded = padded_rows(p.filter, p.dilation_w) if c.isa.has("k4") and variant != CONV_1X1 else None
            if padded is not None and 8 * _round4(k) <= W16_MAX:  # PM_FILTER_K4 / _ROWS: codegen/conv_rows.py
                filt, fields["filter_layout"] = padded
                c.conv_rows = max(c.conv_rows, k if padded[1] == ROWS else 0)  # its plain window (pm_window)
                k = filt.shape[1]
                c.im2col_bytes = max(c.im2col_bytes, 2 * k)
            # packed weights emitted as 32-bit words: word-aligned for the 4x2 kernel's word loads
            filt = to_raw(filt) if c.conv_raw else filt
            words, streamed = _as_words(_gemm_weights(c, filt)), False
            if c.conv_raw and c.isa.has("pair_stream") and not exact and (i in c.w16_scratch or 8 * k <= W16_MAX):
                words, streamed = maybe_stream(words, k, bias, rows, p, c.variants)
            fields["pair_records"] = RECORD_BYTES * streamed  # a stream: the C gets the first pair's weights (+ 4)
            fields["fold"] = fold_mode(rows, int(p.output_zp))  # the pair loops' requantization (PM_RQ_*)
            w = f"(const int8_t *){c.const_array(f'l{i}_filter', words, flash=True)}{' + 4' if streamed else ''}"
            rows16 = 32 if i in c.w16_scratch else 8 * k if k % 4 == 0 and 8 * k <= W16_MAX else 0  # 32: arena rows
            c.w16_bytes = max(c.w16_bytes, rows16)  # the 4x2 kernel's widened rows on the stack (8k bytes)
            if streamed and variant == CONV_1X1 and c.isa.has("pw_run"):  # pm_conv_pw4s (run_chunks: arena rows)
                c.pw_runs.append((k // 4, i in c.w16_scratch))
        elif dw4:
            w = c.const_array(f"l{i}_filter", pack_dw4(p.filter), flash=True)
        elif packed and c.isa.has("lanes") and lanes_fit(p.filter):  # Armv6-M: two channels per multiply
            variant = CONV_LANES
            w = c.const_array(f"l{i}_filter", pack_lanes(p.filter), flash=True)
        else:
            w = c.const_array(f"l{i}_filter", _gemm_weights(c, p.filter) if packed else p.filter, flash=True)
            if packed and c.isa.gemm_layout != "packed-pairs":
                w = f"(const int8_t *){w}"
    prm = c.struct("pm_conv_params", f"l{i}_params", fields)
    if variant == CONV_LANES:  # read in blocks of 4 channels
        bias = np.pad(bias, (0, -bias.size % 4))
    if sw is None:
        b = c.const_array(f"l{i}_bias", bias, flash=True)
        q = c.requant(f"l{i}_rq", p.multiplier, p.shift, p.multiplier.size, exact, rows)
    else:  # sparse: flash is what it is for, so the compact forms (5-byte requant, 3-byte biases)
        q, b = compact_quant(c, i, p.multiplier, p.shift, p.multiplier.size, bias)
    di = c.struct("pm_dims", f"l{i}_in_dims", _dims(x.shape))
    df = c.struct("pm_dims", f"l{i}_f_dims", _dims(p.filter.shape))
    do = c.struct("pm_dims", f"l{i}_out_dims", _dims(y.shape))
    if sw is not None:
        w, enc = sw
        c.body.append(
            f"status |= pm_conv2d_sparse_s8{exact}(&{prm}, {q}, {enc}, &{di}, {c.ptr(x, True)}, &{df}, {w}, {b}, "
            f"&{do}, {c.ptr(y)});"
        )
        return
    c.variants.add(variant + exact)
    scratch = ""
    if variant in GEMM_VARIANTS:  # w16: arena scratch for the widened rows of the 4-row kernel
        w16 = f"(int32_t *)(void *)(pm_arena.bytes + {c.plan.scratch_offset(i)})" if i in c.w16_scratch else "NULL"
        scratch = f", {w16}"
    if c.isa.progmem or c.direct_calls:  # AVR: a record of pointers would sit in RAM; fused rows: emit_fused
        args = f"&{prm}, {q}, &{di}, {c.ptr(x, True)}, &{df}, {w}, {b}, &{do}, {c.ptr(y)}{scratch}"
        c.body.append(f"status |= {variant}{exact}({args});")
        return
    rec = c.struct(
        "pm_conv_layer",
        f"l{i}_layer",
        {
            "params": f"&{prm}",
            "quant": q,
            "in_dims": f"&{di}",
            "f_dims": f"&{df}",
            "filter": w,
            "bias": b,
            "out_dims": f"&{do}",
        },
    )
    c.conv_calls[variant + exact] = bool(scratch)
    c.body.append(f"status |= {c.name}_call_{variant}{exact}(&{rec}, {c.ptr(x, True)}, {c.ptr(y)}{scratch});")


def _emit_fc(c: _Ctx, op: Op, i: int) -> None:
    p = prepare_layer(op)
    x, y = op.inputs[0], op.outputs[0]
    units, depth = p.weights.shape
    fields = {
        "batches": x.size // depth,
        "depth": depth,
        "units": units,
        "output_zp": p.output_zp,
        "act_min": int(p.act_min),
        "act_max": int(p.act_max),
    }
    prm = c.struct("pm_fully_connected_params", f"l{i}_params", fields)
    sw = _sparse_weights(c, i, "weights", p.weights)
    if sw is None:
        w = c.const_array(f"l{i}_weights", _gemm_weights(c, to_raw(p.weights) if c.fc_raw else p.weights), flash=True)
        if c.isa.gemm_layout != "packed-pairs":
            w = f"(const int8_t *){w}"
        if c.isa.gemm_layout == "plain-int16":
            c.fc_max_depth, c.fc_max_units = max(c.fc_max_depth, depth), max(c.fc_max_units, units)
        if c.isa.has("gemm4x2") and units >= 4 and depth >= 4:
            c.fc_rows.append((depth & ~3, units & ~3))
    bias = folded_bias(op, p.bias, p.weights, False)
    shift = np.broadcast_to(p.shift, (units,))
    exact = _requant_mode(c, op, exact_requant(op, bias, p.weights, shift, False), sw is not None)
    if sw is None:
        b = c.const_array(f"l{i}_bias", bias, flash=True)
        q = c.requant(f"l{i}_rq", p.multiplier, p.shift, units, exact)
    else:  # sparse: the compact forms (5-byte requant, 3-byte biases)
        q, b = compact_quant(c, i, p.multiplier, p.shift, units, bias)
    if sw is not None:
        w, enc = sw
        c.body.append(
            f"status |= pm_fully_connected_sparse_s8{exact}(&{prm}, {q}, {enc}, {c.ptr(x, True)}, {w}, {b}, "
            f"{c.ptr(y)});"
        )
        return
    c.body.append(f"status |= pm_fully_connected_s8{exact}(&{prm}, {q}, {c.ptr(x, True)}, {w}, {b}, {c.ptr(y)});")


def _emit_pool(c: _Ctx, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    _, _, pad_h, pad_w = window_geometry(
        x.shape[1], x.shape[2], p.filter_h, p.filter_w, p.stride_h, p.stride_w, 1, 1, p.padding
    )
    fields = {
        "filter_h": p.filter_h,
        "filter_w": p.filter_w,
        "stride_h": p.stride_h,
        "stride_w": p.stride_w,
        "pad_h": pad_h,
        "pad_w": pad_w,
        "act_min": int(p.act_min),
        "act_max": int(p.act_max),
    }
    prm = c.struct("pm_pool_params", f"l{i}_params", fields)
    di = c.struct("pm_dims", f"l{i}_in_dims", _dims(x.shape))
    do = c.struct("pm_dims", f"l{i}_out_dims", _dims(y.shape))
    fn = "pm_average_pool2d_s8" if op.type == OpType.AVERAGE_POOL_2D else "pm_max_pool2d_s8"
    c.body.append(f"status |= {fn}(&{prm}, &{di}, {c.ptr(x, True)}, &{do}, {c.ptr(y)});")


def _emit_requantize(c: _Ctx, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    if op.type == OpType.RELU6:
        c.body.append(
            f"status |= pm_clamp_s8({int(p.act_min)}, {int(p.act_max)}, {x.size}, {c.ptr(x, True)}, {c.ptr(y)});"
        )
        return
    if op.type == OpType.QUANTIZE:
        if x.dtype != "int8" or y.dtype != "int8":
            raise UnsupportedError(f"{op.label}: only int8 → int8 QUANTIZE compiles to C")
        fields = {
            "input_zp": p.input_zp,
            "output_zp": p.output_zp,
            "multiplier": p.multiplier,
            "shift": p.shift,
            "act_min": -128,
            "act_max": 127,
        }
    else:  # RELU
        fields = {
            "input_zp": p.input_zp,
            "output_zp": p.output_zp,
            "multiplier": p.multiplier,
            "shift": p.shift,
            "act_min": int(p.act_min),
            "act_max": int(p.act_max),
        }
    prm = c.struct("pm_requantize_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_requantize_s8(&{prm}, {x.size}, {c.ptr(x, True)}, {c.ptr(y)});")


def _emit_reshape(c: _Ctx, op: Op, i: int) -> None:
    x, y = op.inputs[0], op.outputs[0]
    if c.plan.offset_of(x) != c.plan.offset_of(y):
        c.body.append(f"memmove({c.ptr(y)}, {c.ptr(x, True)}, {x.nbytes});")


def _emit_pad(c: _Ctx, op: Op, i: int) -> None:
    x, y = op.inputs[0], op.outputs[0]
    pads = np.asarray(op.inputs[1].data).reshape(-1, 2)
    rank = len(x.shape)
    if rank > 6:
        raise UnsupportedError(f"{op.label}: PAD over more than 6 dimensions")
    fill = [0] * (6 - rank)
    fields = {
        "rank": rank,
        "in_shape": list(x.shape) + fill,
        "before": [int(v) for v in pads[:, 0]] + fill,
        "after": [int(v) for v in pads[:, 1]] + fill,
        "value": int(y.zero_point[0]),
    }
    prm = c.struct("pm_pad_params", f"l{i}_params", fields)
    c.body.append(f"status |= pm_pad_s8(&{prm}, {c.ptr(x, True)}, {c.ptr(y)});")


def _emit_concat(c: _Ctx, op: Op, i: int) -> None:

    ax = concat_axis(op)
    y = op.outputs[0]
    outer = int(np.prod(y.shape[:ax], dtype=np.int64))
    inner = [int(np.prod(t.shape[ax:], dtype=np.int64)) for t in op.inputs]
    sizes = c.const_array(f"l{i}_inner", np.array(inner, np.int32))
    ptrs = ", ".join(operand(c, t, f"l{i}_in{k}") for k, t in enumerate(op.inputs))
    c.body.append(f"{{ const int8_t *const ins[{len(op.inputs)}] = {{{ptrs}}};")
    c.body.append(f"  status |= pm_concatenation_s8({len(op.inputs)}, {outer}, {sizes}, ins, {c.ptr(y)}); }}")


EMITTERS = {
    OpType.CONV_2D: _emit_conv,
    OpType.DEPTHWISE_CONV_2D: _emit_conv,
    OpType.FULLY_CONNECTED: _emit_fc,
    OpType.AVERAGE_POOL_2D: _emit_pool,
    OpType.MAX_POOL_2D: _emit_pool,
    OpType.RELU: _emit_requantize,
    OpType.RELU6: _emit_requantize,
    OpType.QUANTIZE: _emit_requantize,
    OpType.RESHAPE: _emit_reshape,
    OpType.PAD: _emit_pad,
    OpType.CONCATENATION: _emit_concat,
}
EMITTERS.update(NONLINEAR_EMITTERS)
EMITTERS.update(ACTIVATION_EMITTERS)
EMITTERS.update(MOVEMENT_EMITTERS)
EMITTERS.update(RESIZE_EMITTERS)
EMITTERS.update(BINARY_EMITTERS)
EMITTERS.update(REDUCE_EMITTERS)
EMITTERS.update(LOGIC_EMITTERS)
EMITTERS.update(STATE_EMITTERS)
EMITTERS.update(EXTRA_EMITTERS)
EMITTERS.update(TILE_EMITTERS)
EMITTERS.update(SIGNAL_EMITTERS)
FLOAT_EMITTERS.update(FLOAT_EXTRA_EMITTERS)
FLOAT_FILES.update(FLOAT_EXTRA_FILES)
FLOAT_EMITTERS.update(DETECTION_EMITTERS)
FLOAT_FILES.update(DETECTION_FILES)
FLOAT_EMITTERS.update(STATE_FLOAT_EMITTERS)
FLOAT_FILES.update(STATE_FLOAT_FILES)
EMITTERS.update(wrap_s16(EMITTERS))  # int16 activations (16x8): codegen/emit_s16.py
FLOAT_EMITTERS.update(wrap_s16(FLOAT_EMITTERS))


def model_hash(g: Graph) -> str:
    """The model's digest as generated files and caches name it (``Graph.digest``)."""
    return g.digest()


@dataclass(frozen=True)
class CompiledModel:
    """One graph compiled to a C library, computed once and passed on: ``write`` puts it on disk,
    and verify, ``picoml info``, the compression pipeline and the benchmarks read the plan and
    the weight encodings from here instead of computing them again.

    ``plan`` is the arena as generated (kernel scratch included); ``encodings`` the per-layer
    rows of ``codegen.sparse.layer_encodings`` the generator followed; ``const_bytes`` the bytes
    of the ``static const`` data of ``<name>.c`` (weights, biases, requantization records and
    tables); ``digest`` the model's ``Graph.digest`` named in every file's banner."""

    name: str
    isa: Isa
    sparse: bool
    digest: str
    files: dict[str, str]
    plan: MemoryPlan
    encodings: tuple[dict, ...]
    const_bytes: int
    folds: tuple[PadFold, ...] = ()  # explicit PADs folded into convolutions (passes/fold_pad.py)
    #: where each model input / output lives in the arena (``<name>_input()`` ... point there)
    inputs: tuple[IoRegion, ...] = ()
    outputs: tuple[IoRegion, ...] = ()

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes

    def write(self, out_dir: str | Path, force: bool = False, protect: tuple[str | Path, ...] = ()) -> dict[str, str]:
        """Write the files into out_dir (``picoml.outputs.write_tree``: created if needed; picoml's
        earlier outputs there are replaced, stale ones removed; a directory holding files picoml
        did not write is refused unless ``force``; ``protect``: inputs never overwritten)."""
        write_tree(out_dir, self.files, force=force, protect=protect)
        return self.files


def _runtime_text(fname: str) -> str:
    return resources.files(RUNTIME).joinpath(fname).read_text()


def generate_c(g: Graph, name: str = "model", isa: Isa | str | None = None, sparse: bool = True) -> dict[str, str]:
    """All files of the C library for ``g`` as {filename: text} (``compile_c(...).files``)."""
    return compile_c(g, name, isa, sparse).files


def compile_c(
    g: Graph, name: str = "model", isa: Isa | str | None = None, sparse: bool = True, fuse: bool = True
) -> CompiledModel:
    """The C library for ``g`` with its arena plan and weight encodings. Deterministic.

    ``isa`` (an ``Isa`` such as a core's ``Target.isa``, or an ISA name of ``codegen.isa.ISAS``)
    selects kernel variants and weight layouts; None gives portable C (bit-exact everywhere, and
    it uses the Armv7E-M DSP instructions on its own where available). Output for an ISA is only
    meant for builds for it (``pm_config.h`` says which).

    ``sparse`` lets each FULLY_CONNECTED and GEMM-path CONV_2D layer store its weights in the
    smallest of dense, bitmask and CSR (``picoml.codegen.sparse``; ``layer_encodings`` lists
    the choices); False keeps every layer dense. ``fuse``: run residual blocks row by row where
    that shrinks the arena (``plan.fusion``); False runs every layer whole."""

    cemit.check_identifier(name)
    isa = get_isa(isa)
    g.validate()
    for t in g.inputs + g.outputs:
        if t.dtype not in IO_CTYPES:  # int32: indices (ARG_MAX's output)
            raise UnsupportedError(
                f"tensor {t.name!r} is {t.dtype}: C generation needs an int8 model (quantize it first)"
            )
    bad = sorted({op.type for op in g.ops if op.type not in EMITTERS and not uses_float(op)})
    bad_float = sorted({op.type for op in g.ops if uses_float(op) and op.type not in FLOAT_EMITTERS.keys() | BYTE_OPS})
    if bad or bad_float:
        raise UnsupportedError(f"no C kernel yet for: {', '.join(bad + [f'{t} (float32)' for t in bad_float])}")
    digest = g.digest()  # of the model as given
    g = int32_arguments(g)  # constant int64 shape arguments as int32 (the C kernels' type)
    g, folds = fold_pads(g)  # the graph generated: explicit PADs folded into their convolutions
    folded = {f.pad: f for f in folds}
    sparse = sparse and not isa.progmem  # sparse kernels read their tables as data, not through PM_LD_*
    encodings = tuple(layer_encodings(g, isa, sparse))
    encoding = {e["op"]: e["encoding"] for e in encodings}
    w16_scratch = _w16_scratch(g, isa, encoding, plan_memory(g).arena_bytes)
    fused = fused_blocks(g, w16_scratch) if fuse else ()  # residual blocks run row by row where that lowers the arena
    if fused:  # the fused arena may have room for more widened rows (and the stack block shrink)
        w16_scratch = _w16_scratch(
            g, isa, encoding, plan_memory(g, w16_scratch, fused=fused).arena_bytes, fused, w16_scratch
        )
    plan = plan_memory(g, w16_scratch, fused=fused)
    fused_at, fused_ops = {f.start: f for f in fused}, {i for f in fused for i in f.ops}
    c = _Ctx(g, name, plan, isa, sparse, w16_scratch=w16_scratch, encoding=encoding)
    c.fc_raw = fc_raw(g, encoding, isa.has("pairs_ilv"))
    c.conv_raw = conv_raw(g, encoding, isa.has("pairs_ilv") and isa.has("gemm4x2"))
    for i, op in enumerate(g.ops):
        if (
            any(t is not None and t.dtype not in IO_CTYPES for t in op.inputs + op.outputs)
            and op.type not in STATE_EMITTERS
            and not s16_handles(op)  # after any(): a PAD folded away has no tensors left
        ):
            raise UnsupportedError(f"{op.label}: C generation supports int8, int32, bool and float32 layers only")
        if i in folded:
            c.body.append(cemit.comment(f"{i}: {folded[i].describe()}"))
            c.body.append(f"PM_LAYER_DONE({i});")
            continue
        if i in fused_ops:  # a fused residual block: one loop for its layers (emit_fused.py)
            c.files.update(KERNEL_FILES[op.type])
            if i in fused_at:
                emit_fused(c, fused_at[i], EMITTERS)
            c.body.append(f"PM_LAYER_DONE({i});")
            continue
        fl = uses_float(op) and op.type not in BYTE_OPS  # float32 kernels: codegen/emit_float.py
        lut = not fl and isa.has("lut") and op.type in LUT_OPS
        tables = not fl and uses_channel_tables(op)
        if not s16_handles(op):  # codegen/emit_s16.py adds the files of its kernels itself
            c.files.update((LUT_FILE,) if lut or tables else (FLOAT_FILES if fl else KERNEL_FILES)[op.type])
        c.body.append(cemit.comment(f"{i}: {op.type} {op.name}"))
        (emit_channel_tables if tables else (FLOAT_EMITTERS if fl else EMITTERS)[op.type])(c, op, i)
        c.body.append(f"PM_LAYER_DONE({i});")

    c.body += update_lines(c, g)  # state (issue 15): codegen/emit_state.py
    reset = reset_lines(c, g) + c.resets if g.stateful or c.resets else None
    up = name.upper()
    ins, outs = list(g.inputs), list(g.outputs)
    for t in ins + outs:
        if t.data is not None or id(t) not in plan.offsets:
            raise UnsupportedError(f"tensor {t.name!r}: a model input or output must be a computed activation")
    banner = f"/* Generated by picoml {__version__} from model {digest}. Do not edit. */\n"
    header = header_text(name, banner, plan, ins, outs, len(g.ops), reset is not None)
    files = sorted(c.files)
    exact_sources = set(EXACT_SOURCES.values())
    includes = "\n".join(f'#include "{f}.h"' for f in files if f not in exact_sources)
    source = "\n".join(
        [
            banner.rstrip(),
            "#include <string.h>",
            "",
            f'#include "{name}.h"',
            '#include "pm_common.h"',
            includes,
            "",
            "/* PM_LAYER_DONE(i) runs after layer i; a test harness may define it to mark progress. */",
            "#ifndef PM_LAYER_DONE",
            "#define PM_LAYER_DONE(i) ((void)0)",
            "#endif",
            "",
            "/* one arena for every activation; offsets from picoml's memory planner */",
            f"static union {{ int64_t align; int8_t bytes[{up}_ARENA_SIZE]; }} pm_arena;",
            "",
            *c.decls,
            *conv_call_wrappers(c.name, c.conv_calls),
            *entry_points(name, plan, ins, outs, c.body, reset),
        ]
    )
    fc_w16, fc_slice_units = fc_slices(c.fc_rows, max(c.w16_bytes, c.im2col_bytes, c.dw_max_c + 8 * c.dw_max_taps))
    variant_macros = [
        f"#define {v.upper()} {int(v in c.variants)}"
        for f in files
        if f in VARIANT_FUNCTIONS
        for v in VARIANT_FUNCTIONS[f]
    ]
    config = "\n".join(
        [
            banner.rstrip(),
            f"/* Kernel variants and weight layouts of this library: generated for {isa.name}. */",
            "#ifndef PM_CONFIG_H",
            "#define PM_CONFIG_H",
            "",
            "/* GEMM weights (pm_dot_s8.h), 1: offset-binary blocks of 4 channels; plain rows (vectorizing",
            " * hosts); packed pairs storing chunks as a0 b0 a2 b2 a1 b1 a3 b3; PM_PW_SP_CHUNKS: pm_conv_pw4s's run */",
            f"#define PM_OFFSET_BINARY_WEIGHTS {int(isa.gemm_layout == 'offset-binary')}",
            f"#define PM_PLAIN_WEIGHTS {int(isa.gemm_layout == 'plain-int16')}",
            f"#define PM_PAIRS_ILV {int(isa.has('pairs_ilv'))}",
            f"#define PM_PW_SP_CHUNKS {run_chunks(c.pw_runs, max(c.dw_plane, c.w16_bytes, c.im2col_bytes))}",
            "/* 1: FULLY_CONNECTED / GEMM convolution pairs store b - [a < 0] for b (raw lanes, codegen/pairs_raw.py) */",
            f"#define PM_FC_RAW {int(c.fc_raw)}",
            f"#define PM_CONV_RAW {int(c.conv_raw)}",
            f"#define PM_CONV_ROWS {c.conv_rows} /* bytes of the largest PM_FILTER_ROWS window; 0: no such layer */",
            "/* 1: hand-written inline-assembly inner loops for this ISA (valid at every -O level;",
            " * the widest need the frame pointer omitted: PM_ASM_ALL_REGS in pm_dot_s8.h); 0: plain C */",
            f"#define PM_USE_ASM {int(isa.has('asm'))}",
            f"#define PM_DW_ZP_MIN {zp_min(g)} /* 1: every depthwise output zero point is -128 (dw_planes.zp_min) */",
            f"#define PM_CONV_IM2COL_MAX {c.im2col_bytes} /* stack bytes for im2col rows: the model's largest */",
            f"#define PM_CONV_W16_MAX {c.w16_bytes} /* stack bytes for 4 rows widened (4x2 GEMM kernel); 0: unused */",
            f"#define PM_CONV_MAX_OC {c.max_oc} /* output channels of the widest GEMM convolution (vector kernels) */",
            "/* input values of the deepest fully connected layer (its widened row, vector kernels) */",
            f"#define PM_FC_MAX_DEPTH {c.fc_max_depth}",
            f"#define PM_FC_MAX_UNITS {c.fc_max_units}",
            "/* stack bytes for a fully connected row (or a slice of it) widened to 16 bits, and units whose",
            " * partial sums stay on the stack between slices (Armv7E-M 4-unit kernel); 0: unused */",
            f"#define PM_FC_W16_MAX {fc_w16}",
            f"#define PM_FC_SLICE_UNITS {fc_slice_units}",
            "/* depthwise: zero-point row, tap table and (Armv7E-M) planes on the stack, sized for this model */",
            f"#define PM_DW_MAX_C {c.dw_max_c}",
            f"#define PM_DW_MAX_TAPS {c.dw_max_taps}",
            f"#define PM_DW_PLANE_MAX {c.dw_plane}",
            "/* named kernel variants: 1 for those some layer calls, the others are compiled out */",
            *variant_macros,
            "/* 1: some layers store weights sparsely (pm_sparse_s8.h) and their kernels are built */",
            f"#define PM_SPARSE_WEIGHTS {int(c.sparse_layers > 0)}",
            "/* 1: sparse convolutions decode each weight row once for four pixels (pm_sparse_s8.h) */",
            f"#define PM_SPARSE_ROWS4 {int(c.sparse_layers > 0 and isa.has('sparse_rows4'))}",
            "/* 1: some sparse layers requantize exactly (their _exact kernel twins are built) */",
            f"#define PM_SPARSE_EXACT {int(c.sparse_exact)}",
            "",
            "#endif /* PM_CONFIG_H */",
            "",
        ]
    )
    out = {
        f"{name}.h": header,
        f"{name}.c": source,
        "pm_common.h": _runtime_text("pm_common.h"),
        "pm_config.h": config,
    }
    for f in files:
        if f not in exact_sources:
            out[f"{f}.h"] = _runtime_text(f"{f}.h")
        if f not in HEADER_ONLY:
            out[f"{f}.c"] = _runtime_text(f"{f}.c")
    if c.files & DOT_USERS:
        out["pm_dot_s8.h"] = _runtime_text("pm_dot_s8.h")
        out["pm_dot_s8.c"] = _runtime_text("pm_dot_s8.c")  # Armv6-M assembly; empty elsewhere
    if c.files & FIXEDPOINT_USERS:
        out[FIXEDPOINT_HEADER] = _runtime_text(FIXEDPOINT_HEADER)
    return CompiledModel(
        name,
        isa,
        sparse,
        digest,
        out,
        plan,
        encodings,
        c.weight_bytes,
        tuple(folds),
        io_regions(plan, ins),
        io_regions(plan, outs),
    )


def write_c(
    g: Graph,
    out_dir: str | Path,
    name: str = "model",
    isa: Isa | str | None = None,
    sparse: bool = True,
    force: bool = False,
    protect: tuple[str | Path, ...] = (),
) -> dict[str, str]:
    """Generate the library and write it into out_dir (``CompiledModel.write``); the files."""
    return compile_c(g, name, isa, sparse).write(out_dir, force=force, protect=protect)

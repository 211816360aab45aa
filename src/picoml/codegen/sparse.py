"""Sparse int8 weight encodings of the generated C (runtime/pm_sparse_s8.h), and the per-layer choice.

A GEMM layer's weights ``[rows, k]`` (FULLY_CONNECTED, and CONV_2D on its GEMM paths: rows are
output channels, k = kh*kw*ic in OHWI order) are stored in whichever encoding is smallest,
dense included; dense wins ties. Sizes are exact byte counts of the streams the encoders write:

- ``dense``: rows * k (the packed-pair and offset-binary layouts are permutations, same size);
- ``bitmask``: per row and chunk of 32 columns its mask bytes (bit i of byte b: column
  32c + 8b + i; a last short chunk has ceil(rest / 8) bytes), then the chunk's non-zeros:
  rows * ceil(k / 8) + nnz;
- ``csr``: per row a 2-byte entry count, then (delta, value) byte pairs, where gaps over 255 take
  (255, 0) filler entries: rows * 2 + 2 * (nnz + fillers).

The generator folds the input zero point into the bias, so each output is a plain int8 dot
product over the non-zeros and skipping zeros is exact. A sparse layer also stores its
requantization compactly (``pm_sparse_quant``: int32 multiplier + int8 shift, 5 bytes per
channel instead of a 12-byte ``pm_requant`` record), which the kernel unpacks per output row,
and its folded biases in 3 bytes each when all fit 24 bits (else int32): at 80 % sparsity the
per-channel data would otherwise be a third of a small model's flash.

A DEPTHWISE_CONV_2D filter [1, kh, kw, oc] (at most 25 taps) has one sparse encoding,

- ``tapmask``: the tap masks of all channels as one bit stream (kh*kw bits per output channel,
  channel-major, no padding between channels), then the non-zeros in (channel, tap) order:
  ceil(oc * kh * kw / 8) + nnz (a per-channel byte-aligned mask would waste 7 of 16 bits of
  a 3x3 window); its kernel is ``pm_depthwise_conv2d_sparse_s8`` (runtime/pm_sparse_depthwise_s8.h).
"""

from __future__ import annotations

import numpy as np

from picoml.codegen.isa import Isa, get_isa
from picoml.codegen.requant import folded_bias, prepare_layer
from picoml.codegen.variants import DW_MAX_C, uses_gemm
from picoml.errors import PicomlError
from picoml.graph.int16_ops import is_int16_op
from picoml.graph.ir import Graph, Op
from picoml.graph.ops import OpType

ENCODINGS = ("dense", "bitmask", "csr", "tapmask")  # tie order: the first smallest wins
C_ENCODING = {"bitmask": "PM_SPARSE_BITMASK", "csr": "PM_SPARSE_CSR"}
DW_SPARSE_MAX_TAPS = 25  # PM_SPARSE_DW_MAX_TAPS (runtime/pm_sparse_depthwise_s8.h)
CSR_MAX_DELTA = 255
CSR_MAX_ENTRIES = 0xFFFF  # the 2-byte row count


def _rows(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w)
    return w.reshape(w.shape[0], -1)


def _csr_fillers(cols: np.ndarray) -> int:
    """(255, 0) entries needed before the non-zeros at sorted columns ``cols`` of one row: a
    delta d (the first from column 0, so d may be 0) needs ceil(d / 255) - 1 of them."""
    if cols.size == 0:
        return 0
    d = np.diff(cols, prepend=0)
    return int((np.maximum(d - 1, 0) // CSR_MAX_DELTA).sum())


def _tapmask_size(w: np.ndarray) -> int:
    """Bytes of the PM_SPARSE_DW_TAPMASK stream of a depthwise filter [1, kh, kw, oc]."""
    return -(-int(w.size) // 8) + int(np.count_nonzero(w))


def encoding_sizes(w: np.ndarray, depthwise: bool = False) -> dict[str, int | None]:
    """Exact bytes of each encoding of weights ``w`` ([rows, ...], flattened per row; a
    depthwise filter [1, kh, kw, oc] with ``depthwise``); None where an encoding cannot hold
    the weights (a CSR row over 65,535 entries; the row encodings of a depthwise filter, the
    tap masks of a GEMM matrix)."""
    if depthwise:
        return {"dense": int(w.size), "bitmask": None, "csr": None, "tapmask": _tapmask_size(w)}
    w = _rows(w)
    rows, k = w.shape
    nz = w != 0
    nnz = int(nz.sum())
    entries = [int(r.size) + _csr_fillers(r) for r in (np.flatnonzero(row) for row in nz)]
    csr = rows * 2 + 2 * sum(entries) if max(entries, default=0) <= CSR_MAX_ENTRIES else None
    return {"dense": rows * k, "bitmask": rows * (-(-k // 8)) + nnz, "csr": csr, "tapmask": None}


#: A sparse encoding must be at most this fraction of the dense bytes to be chosen. The bitmask
#: inner loop on Cortex-M4 is 14 instructions per non-zero for four pixels (11 for two, in fully
#: connected layers) against the dense SIMD loop's ~1-1.4 per weight, so a few percent of flash
#: saved on a lightly sparse layer (stock models often have 20-30 % zeros) would cost many more
#: instructions; at 80 % sparsity (0.325 bytes per weight) the sparse form wins on flash, and
#: on the 80 %-sparse digits CNN it runs in 0.86x the dense instructions (bench_compression.py).
MAX_SPARSE_RATIO = 0.75


def choose_encoding(w: np.ndarray, max_ratio: float = MAX_SPARSE_RATIO, depthwise: bool = False) -> str:
    """The smallest encoding of ``w`` among dense and the sparse ones that save enough.

    A sparse encoding competes only when it is at most ``max_ratio`` of the dense bytes
    (``max_ratio=1.0``: strictly the smallest); dense wins ties (it is the fastest kernel)."""
    sizes = encoding_sizes(w, depthwise)
    best = "dense"
    for e in ENCODINGS[1:]:
        if sizes[e] is not None and sizes[e] < sizes[best] and sizes[e] <= max_ratio * sizes["dense"]:
            best = e
    return best


def encode_bitmask(w: np.ndarray) -> np.ndarray:
    """The PM_SPARSE_BITMASK stream of ``w`` (int8; mask bytes hold their uint8 bit pattern)."""
    w = _rows(w).astype(np.int8)
    rows, k = w.shape
    masks = np.packbits(w != 0, axis=1, bitorder="little")  # [rows, ceil(k / 8)], zero-padded bits
    out: list[int] = []
    for r in range(rows):
        for c in range(0, k, 32):
            vals = w[r, c : c + 32]
            out.extend(masks[r, c // 8 : c // 8 + 4].tolist())
            out.extend(vals[vals != 0].tolist())
    return (np.array(out, np.int16) & 0xFF).astype(np.uint8).view(np.int8)


def encode_csr(w: np.ndarray) -> np.ndarray:
    """The PM_SPARSE_CSR stream of ``w`` (int8; counts and deltas hold their uint8 bit patterns)."""
    w = _rows(w).astype(np.int8)
    out: list[int] = []
    for row in w:
        entries: list[tuple[int, int]] = []
        col = 0
        for c in np.flatnonzero(row).tolist():
            d = c - col
            while d > CSR_MAX_DELTA:  # bridge the gap with zero-valued entries
                entries.append((CSR_MAX_DELTA, 0))
                d -= CSR_MAX_DELTA
            entries.append((d, int(row[c]) & 0xFF))
            col = c
        if len(entries) > CSR_MAX_ENTRIES:
            raise ValueError(f"CSR row of {len(entries)} entries exceeds {CSR_MAX_ENTRIES}")
        out += [len(entries) & 0xFF, len(entries) >> 8]
        for d, v in entries:
            out += [d, v]
    return np.array(out, np.uint8).view(np.int8)


def encode_tapmask(w: np.ndarray) -> np.ndarray:
    """The PM_SPARSE_DW_TAPMASK stream of a depthwise filter [1, kh, kw, oc]: the tap masks of
    all output channels as one little-endian bit stream (channel-major, taps row-major), then
    the non-zeros in (channel, tap) order."""
    w = np.asarray(w).astype(np.int8)
    rows = w.reshape(-1, w.shape[-1]).T  # [oc, taps]
    masks = np.packbits((rows != 0).reshape(-1), bitorder="little")
    vals = rows[rows != 0]  # row-major over [oc, taps]: channel, then tap
    return np.concatenate([masks.view(np.int8), vals])


def decode_tapmask(stream: np.ndarray, kh: int, kw: int, oc: int) -> np.ndarray:
    """The depthwise filter [1, kh, kw, oc] from a PM_SPARSE_DW_TAPMASK stream, walking it as the
    C kernel does; raises ValueError if the stream is not exactly consumed."""
    taps = kh * kw
    nmask = -(-oc * taps // 8)
    s = np.asarray(stream).astype(np.int8)
    bits = np.unpackbits(s[:nmask].view(np.uint8), bitorder="little")[: oc * taps].astype(bool)
    if len(s) != nmask + int(bits.sum()):
        raise ValueError(f"tapmask stream has {len(s)} bytes, masks mark {nmask} + {int(bits.sum())}")
    rows = np.zeros(oc * taps, np.int8)
    rows[bits] = s[nmask:]
    return rows.reshape(oc, kh, kw).transpose(1, 2, 0)[None].copy()


ENCODERS = {"bitmask": encode_bitmask, "csr": encode_csr}


def decode(stream: np.ndarray, encoding: str, rows: int, k: int) -> np.ndarray:
    """Dense int8 [rows, k] from an encoded stream, walking it as the C kernels do; raises
    ValueError if the stream is not exactly consumed."""
    b = np.asarray(stream).view(np.uint8).astype(np.int64)
    s = np.asarray(stream).astype(np.int64)
    w = np.zeros((rows, k), np.int8)
    p = 0
    for r in range(rows):
        if encoding == "bitmask":
            for g in range(0, k, 32):
                nb = -(-min(k - g, 32) // 8)
                m = sum(int(b[p + i]) << (8 * i) for i in range(nb))
                p += nb
                for bit in range(32):
                    if m >> bit & 1:
                        if g + bit >= k:
                            raise ValueError(f"bitmask row {r} marks column {g + bit} of {k}")
                        w[r, g + bit] = s[p]
                        p += 1
        elif encoding == "csr":
            n = int(b[p]) | int(b[p + 1]) << 8
            p += 2
            col = 0
            for _ in range(n):
                col += int(b[p])
                if col >= k:
                    raise ValueError(f"csr row {r} steps to column {col} of {k}")
                if s[p + 1] != 0:
                    w[r, col] = s[p + 1]
                p += 2
        else:
            raise ValueError(f"unknown encoding {encoding!r}")
    if p != len(b):
        raise ValueError(f"{encoding} stream has {len(b)} bytes, rows used {p}")
    return w


def sparse_depthwise(op: Op) -> bool:
    """A DEPTHWISE_CONV_2D layer the sparse kernel takes (pm_depthwise_conv2d_sparse_s8): window
    of at most 25 taps, at most DW_MAX_C output channels (its zero-point row and held pixel)."""
    if op.type != OpType.DEPTHWISE_CONV_2D or is_int16_op(op) or op.inputs[0].dtype != "int8":
        return False
    w = op.inputs[1]
    return w.shape[1] * w.shape[2] <= DW_SPARSE_MAX_TAPS and w.shape[3] <= DW_MAX_C


def sparse_candidate(op: Op) -> bool:
    """Layers whose C kernel has a sparse twin: FULLY_CONNECTED, CONV_2D on a GEMM variant, and
    DEPTHWISE_CONV_2D within pm_depthwise_conv2d_sparse_s8's limits."""

    return op.type == OpType.FULLY_CONNECTED or uses_gemm(op) or sparse_depthwise(op)


COMPACT_REQUANT_BYTES = 5  # pm_sparse_quant: int32 multiplier + int8 shift per channel
BIAS3_RANGE = (-(1 << 23), 1 << 23)  # a sparse layer's biases take 3 bytes each when all are in it


def bias_bytes(bias: np.ndarray) -> int:
    """Bytes per channel a sparse layer stores its (folded) biases in: 3 if all fit 24 bits, else 4."""
    b = np.asarray(bias, np.int64)
    return 3 if b.size and BIAS3_RANGE[0] <= b.min() and b.max() < BIAS3_RANGE[1] else 4


WEIGHTED = (OpType.CONV_2D, OpType.DEPTHWISE_CONV_2D, OpType.FULLY_CONNECTED)


def _prepared(op: Op):
    """``prepare_layer(op)``, or None for a layer its reference kernel refuses to prepare (an
    unrepresentable requantization, say): reports such as ``picoml info`` still list its weights,
    from the tensors, and compiling it fails with the kernel's own one-line error."""
    try:
        return prepare_layer(op)
    except PicomlError:
        return None


def layer_encodings(g: Graph, isa: Isa | str | None = None, sparse: bool = True) -> list[dict]:
    """Per weighted layer (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED) the encoding ``generate_c``
    picks for its weights and their bytes: op index, name, type, weights, nonzeros, density,
    encoding, bytes, dense_bytes, candidates ({encoding: bytes}, None where inapplicable) and
    layout (the dense layout of ``isa``'s kernels), and requant_bytes / dense_requant_bytes:
    the layer's requantization data as emitted (a sparse layer stores the compact
    ``pm_sparse_quant`` form, 5 bytes per channel, a dense one ``pm_requant`` records,
    ``Isa.requant_record_bytes`` each), and bias_bytes / dense_bias_bytes: the (folded) biases,
    int32 per channel in a dense layer, 3 bytes per channel in a sparse one where all fit 24
    bits (``bias_bytes``)."""

    isa = get_isa(isa)
    out = []
    for i, op in enumerate(g.ops):
        if op.type not in WEIGHTED or is_int16_op(op):  # 16x8 layers: dense, codegen/emit_s16.py
            continue
        int8 = op.inputs[0].dtype == "int8"
        p = _prepared(op) if int8 else None  # the weights and biases the C gets (constant channels)
        w = (
            np.asarray(op.inputs[1].data)
            if p is None
            else (p.weights if op.type == OpType.FULLY_CONNECTED else p.filter)
        )
        eligible = sparse and sparse_candidate(op)
        dw = op.type == OpType.DEPTHWISE_CONV_2D
        none = {"dense": int(w.size), "bitmask": None, "csr": None, "tapmask": None}
        sizes = encoding_sizes(w, dw) if eligible else none
        enc = choose_encoding(w, depthwise=dw) if eligible else "dense"
        gemm = op.type == OpType.FULLY_CONNECTED or uses_gemm(op)
        layout = isa.gemm_layout if gemm else "plain"
        nnz = int(np.count_nonzero(w))
        channels = int(w.shape[3] if op.type == OpType.DEPTHWISE_CONV_2D else w.shape[0])
        dense_rq = isa.requant_record_bytes * channels
        b3 = 4
        if enc != "dense" and p is not None:  # the int8 kernels' folded biases
            b3 = bias_bytes(folded_bias(op, np.asarray(p.bias), w, dw))
        elif enc != "dense" and int8:  # a layer the kernels refuse: its stored biases, for the report
            b = op.inputs[2].data if len(op.inputs) > 2 and op.inputs[2] is not None else None
            b3 = bias_bytes(folded_bias(op, np.zeros(channels, np.int64) if b is None else np.asarray(b), w, dw))
        out.append(
            {
                "op": i,
                "name": op.name,
                "type": op.type,
                "weights": int(w.size),
                "nonzeros": nnz,
                "density": nnz / w.size if w.size else 0.0,
                "encoding": enc,
                "bytes": int(sizes[enc]),
                "dense_bytes": int(w.size),
                "candidates": sizes,
                "layout": layout if enc == "dense" else enc,
                "requant_bytes": dense_rq if enc == "dense" else COMPACT_REQUANT_BYTES * channels,
                "dense_requant_bytes": dense_rq,
                "bias_bytes": channels * b3,
                "dense_bias_bytes": 4 * channels,
            }
        )
    return out

"""Instruction sets as descriptions: what the code generator may assume about a core.

An ``Isa`` names the facts the generator acts on (word size, SIMD, multiplies, byte order)
and the kernel variant set its output uses: the GEMM weight layout and the optional variants
(``Isa.variants``). Cores (``picoml.targets.catalog.Target.isa``) point at one of ``ISAS``;
the generator reads fields and variant membership, never a core's or an ISA's name. A new
ISA is one entry here (and, if it brings new kernels, their C and the layouts in generate.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from picoml.errors import PicomlError

#: GEMM weight layouts (pm_dot_s8.h): packed channel pairs, offset-binary blocks of 8 channels
#: (Armv6-M), plain int16 rows (auto-vectorizing hosts)
GEMM_LAYOUTS = ("packed-pairs", "offset-binary", "plain-int16")

#: optional kernel variants an ISA may enable
VARIANTS = {
    "asm": "hand-written inline-assembly inner loops (PM_USE_ASM)",
    "dw4": "depthwise weights in channel groups of 4 (PM_FILTER_DW4) for the SIMD fast path",
    "k4": "im2col GEMM rows zero-padded to a multiple of 4 (PM_FILTER_K4) for the 4-row kernel",
    "gemm4x2": "4-row GEMM kernel on widened rows, with arena scratch for wide rows (PM_CONV_W16_MAX)",
    "lut": "256-entry tables for LOGISTIC and TANH (pm_lut_s8)",
    "sparse_rows4": "sparse convolutions decode each weight row once for four pixels (PM_SPARSE_ROWS4)",
    "lanes": "Armv6-M convolutions with two output channels in the 16-bit lanes of one 32-bit multiply "
    "(pm_conv2d_s8_lanes: int32 words w_a + 65536 * w_b per channel pair and input)",
    "pairs_ilv": "packed GEMM pairs store each chunk as a0 b0 a2 b2 a1 b1 a3 b3 (PM_PAIRS_ILV): one weight word "
    "widens to both channels' even (odd) values",
    "pair_stream": "GEMM convolutions on raw-lane pairs store each pair's biases and precomputed requantization "
    "records beside its weights (codegen/pair_records.py): 16 more flash bytes per output channel, a faster pair loop",
    "pw_run": "pointwise pair-stream layers run their 4-row blocks with the rows widened on the stack and addressed "
    "from SP, every pair's values one fully unrolled run (pm_conv_pw4s, PM_PW_SP_CHUNKS): 56 code bytes per 2 values",
}


@dataclass(frozen=True)
class Isa:
    """One kernel variant set and the core facts it relies on."""

    name: str
    description: str
    word_bits: int = 32
    simd: str = ""  # "" none, "dsp32" Armv7E-M SIMD32 (SXTB16/SMLAD), "host" vector units
    multiplies: tuple[str, ...] = ("mul32",)  # mul8 (8x8->16), mul32, mul64 (32x32->64), smlad (dual 16-bit MAC)
    endian: str = "little"
    gemm_layout: str = "packed-pairs"  # one of GEMM_LAYOUTS
    variants: frozenset[str] = frozenset()  # keys of VARIANTS
    #: Harvard cores whose constants live in a separate program memory (AVR): the generator puts
    #: the tables kernels read through PM_LD_* there (PM_CONST) and keeps weights dense (the
    #: sparse kernels read their streams as data)
    progmem: bool = False

    def __post_init__(self) -> None:
        if self.gemm_layout not in GEMM_LAYOUTS:
            raise ValueError(f"ISA {self.name}: unknown GEMM layout {self.gemm_layout!r}")
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown:
            raise ValueError(f"ISA {self.name}: unknown kernel variants {unknown}")
        if self.endian != "little":
            raise ValueError(f"ISA {self.name}: the generated C stores words little-endian only")

    def has(self, variant: str) -> bool:
        """Whether this ISA's kernel set includes the optional ``variant`` (a VARIANTS key)."""
        if variant not in VARIANTS:
            raise KeyError(variant)
        return variant in self.variants

    @property
    def requant_record_bytes(self) -> int:
        """sizeof(pm_requant) (pm_common.h): four int32 with plain int16 weights, else 2 x int32 + 2 x int16."""
        return 16 if self.gemm_layout == "plain-int16" else 12


PORTABLE = Isa(
    "portable",
    "plain C99 everywhere (uses the Armv7E-M DSP instructions where the compiler reports them)",
)
ARMV6M = Isa(
    "armv6m",
    "Armv6-M (Thumb-1): offset-binary GEMM blocks, assembly loops, 16-bit split multiplies",
    multiplies=("mul32",),
    gemm_layout="offset-binary",
    variants=frozenset({"asm", "lut", "lanes"}),
)
ARMV7M = Isa(
    "armv7m",
    "Armv7-M without the DSP extension (Thumb-2, 32x32->64 multiplies): word-packed pairs in C",
    multiplies=("mul32", "mul64"),
    variants=frozenset({"lut"}),
)
ARMV7EM = Isa(
    "armv7em",
    "Armv7E-M and Armv8-M Mainline with the DSP extension: word-packed pairs, SMLAD 4-row GEMM, "
    "depthwise channel groups",
    simd="dsp32",
    multiplies=("mul32", "mul64", "smlad"),
    variants=frozenset({"asm", "dw4", "k4", "gemm4x2", "lut", "sparse_rows4", "pairs_ilv", "pair_stream", "pw_run"}),
)
VECTOR = Isa(
    "vector",
    "hosts with SIMD units: int16 weight rows and loops written for auto-vectorization",
    word_bits=64,
    simd="host",
    multiplies=("mul32", "mul64"),
    gemm_layout="plain-int16",
    variants=frozenset({"lut", "sparse_rows4"}),
)

AVR8 = Isa(
    "avr8",
    "8-bit AVR (ATmega): 16-bit int, 8x8->16 multiplier, constant tables in program memory "
    "(PM_CONST, read with LPM), portable C loops",
    word_bits=8,
    multiplies=("mul8",),
    variants=frozenset({"lut"}),
    progmem=True,
)

ISAS: dict[str, Isa] = {i.name: i for i in (PORTABLE, ARMV6M, ARMV7M, ARMV7EM, VECTOR, AVR8)}


def get_isa(isa: Isa | str | None) -> Isa:
    """An ``Isa`` from itself, an ISA name of ``ISAS``, or None (portable C)."""
    if isa is None:
        return PORTABLE
    if isinstance(isa, Isa):
        return isa
    if isa in ISAS:
        return ISAS[isa]
    raise PicomlError(f"unknown ISA {isa!r} (known: {', '.join(ISAS)}; a core's ISA is `picoml targets`' isa)")

"""The public C API of a generated library: ``<name>.h`` and the entry points of ``<name>.c``.

Zero-copy. The model's inputs and outputs are tensors of the arena like any other, at offsets
the planner chose (``picoml.plan``: a graph input lives from op 0 until its last reader, a graph
output from its first write to the last op, and no window op streams its output over a graph
output). So the library hands out pointers into the arena:

    int8_t *net_input(void);         where to write the input, before each net_run()
    const int8_t *net_output(void);  where the output is, after net_run()
    int net_run(void);               the layers, on the tensors already in the arena

(``net_input0()``, ``net_output1()``, ... for several; pointer types follow the tensor's
dtype), and ``net_invoke(in, out)`` stays as the copying convenience wrapper around
``net_run()``. An application (and picoml's emulator harness) then needs no I/O buffer of its
own: RAM is the arena plus the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from picoml.codegen import cemit
from picoml.graph.ir import Tensor
from picoml.plan import MemoryPlan

IO_CTYPES = {
    "int8": "int8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "bool": "uint8_t",
    "float32": "float",
}  # bool: 0 / 1
IO_CTYPES.update({"uint32": "uint32_t", "uint64": "uint64_t"})  # branch signal: the signal library's tensors


@dataclass(frozen=True)
class IoRegion:
    """Where one model input or output lives: bytes [offset, offset + nbytes) of the arena."""

    name: str  # the tensor's name in the model
    dtype: str
    offset: int
    nbytes: int


ITEMSIZE = {"int8": 1, "int32": 4, "bool": 1, "float32": 4, "int16": 2}
ITEMSIZE.update({"uint32": 4, "uint64": 8})  # branch signal

#: the symbol of the arena in ``<name>.c`` (file-static: one per library, local in the ELF)
ARENA_SYMBOL = "pm_arena"


def io_regions(plan: MemoryPlan, ts: list[Tensor]) -> tuple[IoRegion, ...]:
    return tuple(IoRegion(t.name, t.dtype, plan.offset_of(t), t.nbytes) for t in ts)


def packed_layout(dtypes: list[str], sizes: list[int]) -> tuple[list[int], int]:
    """Byte offsets of tensors laid back to back in one buffer (a harness row: every input of one
    inference, or every output), each aligned to its element size (int32 on 4 bytes), and the
    buffer's size."""
    offsets, off = [], 0
    for dt, n in zip(dtypes, sizes, strict=True):
        k = ITEMSIZE[dt]
        off = -(-off // k) * k
        offsets.append(off)
        off += n
    return offsets, off


def _names(ins: list[Tensor], outs: list[Tensor]) -> tuple[list[str], list[str]]:
    if len(ins) == 1 and len(outs) == 1:
        return ["input"], ["output"]
    return [f"input{i}" for i in range(len(ins))], [f"output{i}" for i in range(len(outs))]


def header_text(
    name: str, banner: str, plan: MemoryPlan, ins: list[Tensor], outs: list[Tensor], layers: int, stateful: bool = False
) -> str:
    """``<name>.h``: the model's facts as macros, the accessors, ``run`` and ``invoke``."""
    up = name.upper()
    single = len(ins) == 1 and len(outs) == 1
    in_names, out_names = _names(ins, outs)

    def io_macros(kind: str, t: Tensor) -> list[str]:
        return [
            *([] if single else [cemit.comment(f"{kind.lower()}: {t.name}")]),
            f"#define {up}_{kind}_SIZE {t.size}",
            f"#define {up}_{kind}_RANK {len(t.shape)}",
            f"#define {up}_{kind}_SHAPE {{{', '.join(map(str, t.shape))}}}",
            *(
                (
                    f"#define {up}_{kind}_SCALE {float(t.scale[0])!r}f",
                    f"#define {up}_{kind}_ZERO_POINT {int(t.zero_point[0])}",
                )
                if t.quantized
                else (cemit.comment(f"{kind.lower()}: {IO_CTYPES[t.dtype]} values, not quantized"),)
            ),
        ]

    signature = ", ".join(
        [f"const {IO_CTYPES[t.dtype]} *{n}" for n, t in zip(in_names, ins, strict=True)]
        + [f"{IO_CTYPES[t.dtype]} *{n}" for n, t in zip(out_names, outs, strict=True)]
    )
    if single:
        what = (
            "INPUT_SIZE float values,"
            if ins[0].dtype == "float32"
            else "INPUT_SIZE int8 values (real = SCALE * (q - ZERO_POINT)),"
        )
        invoke_doc = (
            f"/* Run one inference: input holds {what}",
            " * output receives OUTPUT_SIZE values. Returns 0 on success. Not reentrant (one static arena). */",
        )
        run_doc = (
            f"/* Zero-copy: write INPUT_SIZE values at {name}_input(), call {name}_run(), read OUTPUT_SIZE values",
            f" * at {name}_output(). Both point into the arena: {name}_run() may overwrite the input (write it",
            " * again for every inference) and the output may share bytes with the input (read it before",
            f" * writing the next input). {name}_invoke() is {name}_run() between two copies. */",
        )
    else:
        invoke_doc = (
            "/* Run one inference: inputK holds INPUTK_SIZE int8 values of input K (real = SCALE * (q -",
            " * ZERO_POINT)), outputK receives OUTPUTK_SIZE values of output K, in the model's order.",
            " * Returns 0 on success. Not reentrant (one static arena). */",
        )
        run_doc = (
            f"/* Zero-copy: write input K at {name}_inputK(), call {name}_run(), read output K at",
            f" * {name}_outputK(). All point into the arena: {name}_run() may overwrite the inputs (write them",
            " * again for every inference) and an output may share bytes with an input (read the outputs",
            f" * before writing the next inputs). {name}_invoke() is {name}_run() between copies. */",
        )
    accessors = [f"{IO_CTYPES[t.dtype]} *{name}_{n}(void);" for n, t in zip(in_names, ins, strict=True)]
    accessors += [f"const {IO_CTYPES[t.dtype]} *{name}_{n}(void);" for n, t in zip(out_names, outs, strict=True)]
    return "\n".join(
        [
            banner.rstrip(),
            f"#ifndef {up}_H",
            f"#define {up}_H",
            "",
            "#include <stdint.h>",
            "",
            f"#define {up}_ARENA_SIZE {plan.arena_bytes}",
            *(() if single else (f"#define {up}_INPUTS {len(ins)}", f"#define {up}_OUTPUTS {len(outs)}")),
            *(m for i, t in enumerate(ins) for m in io_macros(f"INPUT{'' if single else i}", t)),
            *(m for i, t in enumerate(outs) for m in io_macros(f"OUTPUT{'' if single else i}", t)),
            f"#define {up}_LAYERS {layers}",
            "",
            "#ifdef __cplusplus",
            'extern "C" {',
            "#endif",
            *run_doc,
            *accessors,
            f"int {name}_run(void);",
            *(
                (
                    f"/* The model has state (STATE_BYTES at the start of the arena) carried from one {name}_run() to",
                    f" * the next; {name}_reset() restores its initial values (the first {name}_run() calls it). */",
                    f"#define {up}_STATE_BYTES {plan.state_bytes}",
                    f"void {name}_reset(void);",
                )
                if stateful
                else ()
            ),
            "",
            *invoke_doc,
            f"int {name}_invoke({signature});",
            "#ifdef __cplusplus",
            "}",
            "#endif",
            "",
            f"#endif /* {up}_H */",
            "",
        ]
    )


def entry_points(
    name: str, plan: MemoryPlan, ins: list[Tensor], outs: list[Tensor], body: list[str], reset: list[str] | None = None
) -> list[str]:
    """The functions of ``<name>.c`` after the layer data: accessors, ``run`` (``body``: the
    layers' calls) and ``invoke``, which copies only where the caller's buffer is not already
    the tensor's place in the arena."""
    in_names, out_names = _names(ins, outs)

    def at(t: Tensor, const: bool = False) -> str:
        ctype = ("const " if const else "") + IO_CTYPES[t.dtype]
        return f"({ctype} *)(void *)(pm_arena.bytes + {plan.offset_of(t)})"

    signature = ", ".join(
        [f"const {IO_CTYPES[t.dtype]} *{n}" for n, t in zip(in_names, ins, strict=True)]
        + [f"{IO_CTYPES[t.dtype]} *{n}" for n, t in zip(out_names, outs, strict=True)]
    )
    lines: list[str] = []
    for n, t in zip(in_names, ins, strict=True):
        lines += [f"{IO_CTYPES[t.dtype]} *{name}_{n}(void) {{ return {at(t)}; }}"]
    for n, t in zip(out_names, outs, strict=True):
        lines += [f"const {IO_CTYPES[t.dtype]} *{name}_{n}(void) {{ return {at(t, True)}; }}"]
    first = []
    if reset is not None:  # state: <name>_reset() gives the initial values, once before the first run
        lines += ["", "static int pm_state_ready;", "", f"void {name}_reset(void) {{"]
        lines += [*("  " + ln for ln in reset), "  pm_state_ready = 1;", "}"]
        first = [f"if (!pm_state_ready) {name}_reset();"]
    lines += ["", f"int {name}_run(void) {{", "  int status = 0;", *("  " + ln for ln in first + body)]
    lines += ["  return status;", "}"]
    lines += ["", f"int {name}_invoke({signature}) {{", "  int status;"]
    for n, t in zip(in_names, ins, strict=True):
        dst = f"pm_arena.bytes + {plan.offset_of(t)}"
        lines += [f"  if ((const void *){n} != (const void *)({dst})) memcpy({dst}, {n}, {t.nbytes});"]
    lines += [f"  status = {name}_run();"]
    for n, t in zip(out_names, outs, strict=True):
        src = f"pm_arena.bytes + {plan.offset_of(t)}"
        lines += [f"  if ((void *){n} != (void *)({src})) memcpy({n}, {src}, {t.nbytes});"]
    lines += ["  return status;", "}", ""]
    return lines

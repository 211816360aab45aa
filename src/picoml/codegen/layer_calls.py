"""Two small generator helpers kept out of ``generate.py`` (its size): the Armv7E-M
FULLY_CONNECTED row slices (``PM_FC_W16_MAX`` / ``PM_FC_SLICE_UNITS``) and the wrappers model.c
calls CONV_2D / DEPTHWISE_CONV_2D variants through (``pm_conv_layer`` records)."""

from __future__ import annotations

FC_W16_MAX = 2048  # largest PM_FC_W16_MAX: a FULLY_CONNECTED row of depth <= 1024 widened, on the stack


def fc_slices(rows: list[tuple[int, int]], floor: int) -> tuple[int, int]:
    """(PM_FC_W16_MAX, PM_FC_SLICE_UNITS) for the Armv7E-M 4-unit FULLY_CONNECTED kernel, whose
    layers are ``rows`` of (values, units), both multiples of 4. A row of k values widened whole
    takes 2k stack bytes; widened in slices of b values, 2b plus 4 bytes per unit for the partial
    sums. The widest b whose stack stays within the other kernels' (``floor``) or, when the FC rows
    dominate, the smallest peak any b reaches: more slices cost a load and a store per unit and
    slice, a stack byte saved is a byte of RAM (AD: 640-value rows, 1,280 -> 768 B)."""
    if not rows:
        return 0, 0
    top = max(k for k, _ in rows)
    options = sorted({k for k, _ in rows} | {b for b in (64, 128, 256, 512, FC_W16_MAX // 2) if b < top}, reverse=True)
    options = [b for b in options if b <= FC_W16_MAX // 2]

    def peak(b: int) -> int:
        return max(2 * min(k, b) + (4 * u if k > b else 0) for k, u in rows)

    aim = max(min(peak(b) for b in options), floor)
    b = max(b for b in options if peak(b) <= aim)
    return 2 * b, max((u for k, u in rows if k > b), default=0)


def conv_call_wrappers(name: str, conv_calls: dict[str, bool]) -> list[str]:
    """The wrappers model.c calls CONV_2D / DEPTHWISE_CONV_2D variants through (pm_conv_layer)."""
    out = []
    for fn, scratch in sorted(conv_calls.items()):
        extra, pass_on = (", int32_t *w16", ", w16") if scratch else ("", "")
        out += [
            f"PM_LAYER_CALL int {name}_call_{fn}(const pm_conv_layer *l, const int8_t *in, int8_t *out{extra}) {{",
            f"  return {fn}(l->params, l->quant, l->in_dims, in, l->f_dims, l->filter, l->bias, l->out_dims, "
            f"out{pass_on});",
            "}",
            "",
        ]
    return out

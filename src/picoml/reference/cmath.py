"""C's float32 math functions (``expf``, ``expm1f``, ``logf``, ``sinf``, ``cosf``), elementwise.

tflite-micro and LiteRT call ``std::exp`` / ``std::log`` / ... on C floats, which is the C
library's single-precision libm. numpy's float32 ufuncs are its own SIMD approximations (``np.exp``
on float32 differs from glibc's ``expf`` in the last bit on about 40% of normal inputs) and the
double function rounded to float32 still differs now and then (about 1 in 2000), so the spec calls
the C library's functions themselves through ctypes, one element at a time. Where no C library
can be loaded, the double function rounded to float32 stands in (``LIBM`` is None).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from collections.abc import Callable

import numpy as np


def _load_libm() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("m")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


LIBM = _load_libm()

_FALLBACK: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "expf": np.exp,
    "expm1f": np.expm1,
    "logf": np.log,
    "sinf": np.sin,
    "cosf": np.cos,
    "erff": np.vectorize(math.erf, otypes=[np.float64]),
    "tanhf": np.tanh,
}


def _c_function(name: str) -> Callable[[np.ndarray], np.ndarray]:
    if LIBM is not None:
        fn = getattr(LIBM, name)
        fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
        vec = np.frompyfunc(fn, 1, 1)

        def apply(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, np.float32)
            with np.errstate(all="ignore"):  # the C function's floating-point flags (log of 0, ...)
                return np.asarray(vec(x.astype(np.float64)), np.float32).reshape(x.shape)

        return apply
    fallback = _FALLBACK[name]

    def approx(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return fallback(np.asarray(x, np.float64)).astype(np.float32)

    return approx


expf = _c_function("expf")
expm1f = _c_function("expm1f")
logf = _c_function("logf")
sinf = _c_function("sinf")
cosf = _c_function("cosf")
erff = _c_function("erff")
tanhf = _c_function("tanhf")

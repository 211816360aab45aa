"""Quantization: fixedpoint.py (the one rounding scheme, shared with the C runtime), calibrate.py
(activation statistics), ptq.py (float Graph -> int8 Graph; see docs/quantization.md)."""

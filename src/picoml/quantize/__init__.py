"""Quantization: the fixed-point arithmetic shared by the reference kernels and the C runtime."""

"""Flows: what combines the layers below into one user-facing job (verify, compile, demo, fit, compress, report)."""

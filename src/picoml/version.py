"""The picoml version (ground layer: generated files and reports carry it)."""

__version__ = "0.1.0"

"""Targets: the core/board catalog, toolchains (host cc, zig cc), the emulator, size reports."""

from picoml.targets.catalog import BOARDS, TARGETS, Board, Target, get_target

__all__ = ["BOARDS", "TARGETS", "Board", "Target", "get_target"]

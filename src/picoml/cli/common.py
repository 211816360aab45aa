"""What every ``picoml`` command shares: exit codes, the one-line error naming, the memory
limit, the board file option and the array readers."""

from __future__ import annotations

import argparse
import contextlib
import errno
from pathlib import Path

from picoml.errors import PicomlError
from picoml.graph.limits import DEFAULT_MAX_MEMORY
from picoml.targets.catalog import add_boards
from picoml.untrusted import for_terminal, load_npy

BOARDS_HELP = "a TOML file of more boards ([boards.NAME]: core, ram_kb, flash_kb, clock_mhz, ...; docs/targets.md)"
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3
EXIT_CODES = f"""exit codes:
  {EXIT_OK}  success
  {EXIT_CHECK_FAILED}  a check ran and failed: verify found a mismatch or the model does not fit the board;
     fit found nothing that fits
  {EXIT_USER_ERROR}  a user error (bad model, data, option or path): one line on stderr names it
  {EXIT_INTERNAL_ERROR}  a bug in picoml (please report it; PICOML_DEBUG=1 shows the traceback)
"""
# errno values that mean the machine or the user's files, not picoml, stopped the command
ENVIRONMENT_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.EMFILE,
    errno.ENAMETOOLONG,
}


@contextlib.contextmanager
def naming_errors(path: str | Path):
    """Errors raised while working on a loaded model name its file (the CLI's one-line rule)."""
    try:
        yield
    except PicomlError as e:
        shown = for_terminal(path)
        if str(e).startswith(shown):
            raise
        raise type(e)(f"{shown}: {e}") from None


def add_build_options(s: argparse.ArgumentParser) -> None:
    """--toolchain, --opt and --float-abi: how the generated C is built for an MCU core."""
    s.add_argument(
        "--toolchain",
        choices=("zig", "gcc"),
        help="MCU C compiler: zig (clang from the ziglang package; the default) or gcc "
        "(arm-none-eabi-gcc, riscv64-unknown-elf-gcc)",
    )
    s.add_argument(
        "--opt", choices=("speed", "size"), default="speed", help="optimize for speed (-O2, default) or size (-Os)"
    )
    s.add_argument(
        "--float-abi",
        choices=("hard", "soft"),
        help="FPU cores (cortex-m4, -m7, -m33): hard (default) or soft float ABI",
    )


def memory_limit(args: argparse.Namespace) -> int:
    return getattr(args, "max_memory", None) or DEFAULT_MAX_MEMORY


def load_array(path: Path, limit: int = DEFAULT_MAX_MEMORY):
    return load_npy(path, limit)


def apply_boards(args: argparse.Namespace) -> None:
    """Add the boards of --boards FILE to the catalogue for this command."""
    if getattr(args, "boards", None):
        add_boards(args.boards)

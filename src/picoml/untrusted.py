"""Untrusted input: how strings and files from users may reach picoml's outputs.

A .tflite, .onnx or .npy file comes from a model zoo, a colleague or a forum. picoml treats
every byte of it as hostile, and this module is the one place that decides what such a
string or file may become:

- **Names in generated files** (C and CMake comments, HTML, plot labels) pass through
  ``printable``: a bounded run of ASCII letters, digits and ``SAFE_PUNCTUATION``. No ``*``
  (so no ``/*`` or ``*/``), no backslash (no line splice, C translation phase 2), no ``?``
  (no trigraph ``??/``), no quote, no ``<``/``&``, no control or bidi character. C
  identifiers are never derived from names: picoml generates them.
- **Names on a terminal or in an error message** pass through ``for_terminal``: printable
  Unicode stays, everything else (line breaks, escape sequences, bidi controls, NUL) is shown
  as a Python escape, and the length is bounded. ``one_line`` does the same to a whole
  message so that an error is always exactly one line.
- **Files** are read through ``read_file``: regular files only (a FIFO or device is refused
  before anything waits on it), at most ``limit`` bytes, checked before reading.
- **.npy / .npz arrays** are read through ``load_npy`` / ``load_npz``: the header's declared
  dtype and shape are checked against the file's real size and the limit before a byte of
  the array is allocated (``numpy.load`` allocates what the header claims first).

JSON output needs nothing here: ``json.dump`` escapes every string it writes.
"""

from __future__ import annotations

import io
import math
import os
import re
import stat
import tomllib
import zipfile
from pathlib import Path

import numpy as np

from picoml.errors import InputError, ModelFormatError

#: Punctuation a name keeps in generated files: what TensorFlow, PyTorch and ONNX names use
#: (``model/conv2d/Relu;StatefulPartitionedCall:0``, ``layer1.0.conv``, ``onnx::Conv_12``),
#: and nothing that means something in C, CMake, HTML or a shell.
SAFE_PUNCTUATION = " _-.:/,;=+#@()[]"
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + SAFE_PUNCTUATION)
NAME_LIMIT = 64  # characters of a name kept in a generated file
TERMINAL_LIMIT = 160  # characters of a name kept on a terminal
MESSAGE_LIMIT = 2000  # characters of one error message


def printable(text: object, limit: int = NAME_LIMIT) -> str:
    """``text`` reduced to the safe printable subset for generated files.

    Every character outside ASCII letters, digits and ``SAFE_PUNCTUATION`` becomes ``~``;
    runs of spaces collapse; longer than ``limit`` keeps the head and ends in ``...``.
    The result never contains ``/*``, ``*/``, ``\\``, ``??``, a quote, ``<``, ``&``, ``$``, a
    control or a non-ASCII character.

    >>> printable("conv*/ evil(); /*\\n")
    'conv~/ evil(); /~~'
    """
    s = "".join(c if c in _SAFE else "~" for c in str(text))
    s = re.sub(r" {2,}", " ", s).strip()
    if len(s) > limit:
        s = s[: max(limit - 3, 0)].rstrip() + "..."
    return s


def _escape_char(c: str) -> str:
    n = ord(c)
    if n < 0x100:
        return f"\\x{n:02x}"
    if n < 0x10000:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def for_terminal(text: object, limit: int = TERMINAL_LIMIT) -> str:
    """``text`` safe to print: non-printable characters (line breaks, ESC, bidi controls,
    NUL, surrogates) become Python escapes, a backslash doubles, and the result is bounded.

    >>> for_terminal("a\\nb\\u202e")
    'a\\\\x0ab\\\\u202e'
    """
    out = []
    for c in str(text):
        if c == "\\":
            out.append("\\\\")
        elif c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF:
            out.append(c)
        else:
            out.append(_escape_char(c))
    s = "".join(out)
    if len(s) > limit:
        s = s[: max(limit - 3, 0)] + "..."
    return s


def one_line(message: object, limit: int = MESSAGE_LIMIT) -> str:
    """A message as exactly one bounded line: line breaks picoml put in become spaces, and
    any other non-printable character is escaped (``for_terminal``)."""
    s = " ".join(str(message).replace("\r\n", "\n").split("\n"))
    out = []
    for c in s:
        out.append(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else _escape_char(c))
    s = "".join(out).strip()
    if len(s) > limit:
        s = s[: limit - 3] + "..."
    return s


# ----------------------------------------------------------------------------- files
def _open_regular(path: Path, what: str, error: type[Exception]) -> tuple[int, int]:
    """Open ``path`` for reading without ever blocking; returns (fd, size). Only regular files."""
    shown = for_terminal(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{shown}: no such file") from None
    except NotADirectoryError:
        raise error(f"{shown}: no such file (a parent is not a directory)") from None
    except OSError as e:
        raise error(f"{shown}: cannot read: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{shown}: is a directory, expected a {what} file")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{shown}: is not a regular file (a FIFO, socket or device); give a {what} file")
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO after the stat, open() must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise error(f"{shown}: cannot read: {e.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise error(f"{shown}: is not a regular file (a FIFO, socket or device); give a {what} file")
    return fd, st.st_size


def size_text(n: int) -> str:
    """Bytes for a reader: ``1.5 GiB``, ``300 KiB``, ``12 B``."""
    for unit, k in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << k:
            return f"{n / (1 << k):.3g} {unit}"
    return f"{n} B"


def read_file(path: str | Path, what: str, limit: int, error: type[Exception] = InputError) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else is one ``error`` line."""
    p = Path(path)
    fd, size = _open_regular(p, what, error)
    try:
        if size > limit:
            raise error(
                f"{for_terminal(p)}: {size_text(size)} is more than the {size_text(limit)} memory limit for a {what} file "
                "(raise it with --max-memory)"
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise error(f"{for_terminal(p)}: cannot read: {e.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # the file grew while we read it
        raise error(f"{for_terminal(p)}: more than the {size_text(limit)} memory limit for a {what} file")
    return data


def read_model_file(path: str | Path, limit: int) -> bytes:
    """``read_file`` for model files: failures are ``ModelFormatError`` (exit code 2)."""
    return read_file(path, "model", limit, ModelFormatError)


def _npy_from(f, where: str, avail: int, limit: int) -> np.ndarray:
    """One .npy array from file object ``f`` holding ``avail`` bytes, header checked first."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as e:
        raise InputError(f"{where}: not a readable .npy array ({one_line(e, 200)}); save one with numpy.save") from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
        raise InputError(f"{where}: holds {dtype} data; picoml reads numeric arrays only (bool, int, uint, float)")
    if len(shape) > 32:
        raise InputError(f"{where}: has {len(shape)} dimensions")
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if nbytes > limit:
        raise InputError(
            f"{where}: the array {list(shape)} {dtype} needs {size_text(nbytes)}, more than the "
            f"{size_text(limit)} memory limit (raise it with --max-memory)"
        )
    header = f.tell()
    if avail - header < nbytes:
        raise InputError(
            f"{where}: truncated: its header declares {list(shape)} {dtype} ({nbytes} bytes of data), the file holds {max(avail - header, 0)}"
        )
    raw = f.read(nbytes)
    if len(raw) != nbytes:
        raise InputError(f"{where}: truncated while reading")
    a = np.frombuffer(raw, dtype, count)
    a = a.reshape(shape[::-1]).T if fortran else a.reshape(shape)
    return a.astype(dtype.newbyteorder("="), copy=True)


def load_npy(path: str | Path, limit: int) -> np.ndarray:
    """A .npy file as an array: numeric dtypes only, size checked against the file and ``limit``."""
    p = Path(path)
    data = read_file(p, ".npy array", limit + 4096)
    return _npy_from(io.BytesIO(data), for_terminal(p), len(data), limit)


def load_npz(path: str | Path, keys: tuple[str, ...], limit: int) -> dict[str, np.ndarray]:
    """Arrays ``keys`` of a .npz archive; each member's declared size is checked before it is
    inflated (a compressed archive can declare far more than it holds)."""
    p = Path(path)
    shown = for_terminal(p)
    data = read_file(p, ".npz archive", limit + 65536)
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise InputError(f"{shown}: not a readable .npz file (save one with numpy.savez(path, x=..., y=...))") from None
    have = sorted(n[:-4] for n in names if n.endswith(".npy"))
    missing = [k for k in keys if f"{k}.npy" not in names]
    if missing:
        raise InputError(f"{shown}: needs arrays {', '.join(repr(k) for k in keys)}; has {for_terminal(have, 200)}")
    out = {}
    total = 0
    for k in keys:
        info = z.getinfo(f"{k}.npy")
        if info.file_size > limit + 4096 or total + info.file_size > limit + 4096 * len(keys):
            raise InputError(
                f"{shown}: array {k!r} inflates to {size_text(info.file_size)}, more than the "
                f"{size_text(limit)} memory limit (raise it with --max-memory)"
            )
        try:
            with z.open(info) as f:
                member = f.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
            raise InputError(f"{shown}: array {k!r} is corrupted") from None
        if len(member) != info.file_size:
            raise InputError(f"{shown}: array {k!r} is corrupted (its size differs from the archive's record)")
        total += len(member)
        out[k] = _npy_from(io.BytesIO(member), f"{shown}: array {k!r}", len(member), limit)
    return out


def read_toml(path: str | Path, what: str, limit: int) -> dict:
    """A TOML file as a dict: a regular file of at most ``limit`` bytes (``read_file``), UTF-8,
    valid TOML; every failure is one InputError line naming the file."""
    shown = for_terminal(Path(path))
    data = read_file(path, what, limit)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{shown}: not valid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{shown}: not valid TOML: {e}") from None

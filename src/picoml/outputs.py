"""Writing outputs: nothing a user gave is overwritten or lost, and no output half-exists.

- ``write_file``: one file, written atomically (a temporary file beside it, then a rename;
  a failure removes the temporary file). A path that is a directory, or whose directory does
  not exist, is a one-line ``InputError``.
- ``write_tree``: a directory of files that belong together (a generated C library, an Arduino
  library, a CMake project, a dump of tensors). The directory keeps a manifest,
  ``.picoml-manifest.json``, of what picoml wrote there and each file's SHA-256. Writing again
  replaces picoml's own files and removes those the new output no longer has, so a directory
  never mixes two models. A file picoml did not write, or one changed since it did, stops the
  write before anything is touched, unless ``force`` (then such files are left in place, and
  overwritten only where the new output has a file of the same name).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path, PurePosixPath

from picoml.errors import InputError
from picoml.untrusted import for_terminal

MANIFEST = ".picoml-manifest.json"
_MANIFEST_FORMAT = "picoml-outputs/1"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else bytes(content)


def check_output_file(path: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Before any work: ``path`` must name a file in an existing directory, and not one of
    ``inputs`` (nothing a user gave is overwritten). Returns its directory."""
    p = Path(path)
    shown = for_terminal(p)
    if p.is_dir():
        raise InputError(f"{shown}: is a directory; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{shown}: directory {for_terminal(parent)} does not exist")
    for q in map(Path, inputs):
        if q.exists() and p.exists() and os.path.samefile(p, q):
            raise InputError(f"{shown}: output would overwrite an input file; choose another path")
    return parent


def write_file(path: str | Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` atomically; one-line InputError for an unusable path."""
    p = Path(path)
    shown = for_terminal(p)
    parent = check_output_file(p)
    data = _bytes(content)
    fd, tmp = None, None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:40]}.", suffix=".tmp", dir=parent)
        with os.fdopen(fd, "wb") as f:
            fd = None
            f.write(data)
        os.replace(tmp, p)
        tmp = None
    except OSError as e:
        raise InputError(f"{shown}: cannot write: {e.strerror or e}") from None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def check_writable_dir(path: str | Path) -> Path:
    """Create ``path`` (and parents) if needed and prove it writable, before any long work starts."""
    d = Path(path)
    shown = for_terminal(d)
    if d.exists() and not d.is_dir():
        raise InputError(f"{shown}: exists and is not a directory")
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".picoml-write-test.", dir=d)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise InputError(f"{shown}: cannot write there: {e.strerror or e}") from None
    return d


def _read_manifest(d: Path) -> dict[str, str]:
    """rel path -> sha256 of the files picoml wrote in ``d`` (empty when there is no valid manifest)."""
    m = d / MANIFEST
    if not m.is_file() or m.is_symlink():
        return {}
    try:
        raw = json.loads(m.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    files = raw.get("files") if isinstance(raw, dict) and raw.get("format") == _MANIFEST_FORMAT else None
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str) and _safe_rel(k)}


def _safe_rel(rel: str) -> bool:
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\\" not in rel and rel != MANIFEST


def _foreign(d: Path, ours: dict[str, str], limit: int = 5) -> list[str]:
    """Up to ``limit`` files (or symlinks) under ``d`` that picoml did not write there. Stops at
    the first few: a directory of a million files is refused as fast as one of two."""
    out: list[str] = []
    for root, dirs, files in os.walk(d):
        r = Path(root)
        for name in sorted(files) + sorted(x for x in dirs if (r / x).is_symlink()):
            rel = (r / name).relative_to(d).as_posix()
            if rel != MANIFEST and (rel not in ours or (r / name).is_symlink()):
                out.append(rel)
                if len(out) >= limit:
                    return out
    return out


def _listing(rels: list[str]) -> str:
    shown = ", ".join(for_terminal(r, 60) for r in rels[:4])
    return shown + (" and more" if len(rels) > 4 else "")


def write_tree(
    out_dir: str | Path, files: dict[str, str | bytes], force: bool = False, protect: tuple[str | Path, ...] = ()
) -> list[str]:
    """Write ``files`` ({relative posix path: content}) into ``out_dir`` as one output.

    ``protect``: the command's inputs; a file to be written that is one of them is refused even
    with ``force``. Returns the relative paths written. See the module docstring for the rules."""
    d = Path(out_dir)
    shown = for_terminal(d)
    for rel in files:
        if not _safe_rel(rel):  # names are generated by picoml; this guards against a bug
            raise ValueError(f"unsafe output path {rel!r}")
    if d.exists() and not d.is_dir():
        raise InputError(f"{shown}: exists and is not a directory")
    if d.is_symlink():
        raise InputError(f"{shown}: is a symbolic link; give a real directory")
    old = _read_manifest(d) if d.is_dir() else {}
    changed, gone = [], []
    for rel, digest in old.items():  # picoml's own files: still as it wrote them?
        p = d / rel
        if p.is_symlink() or (p.exists() and not p.is_file()):
            gone.append(rel)  # replaced by something else: not picoml's any more
        elif p.is_file():
            try:
                same = _sha(p.read_bytes()) == digest
            except OSError:
                same = False
            if not same:
                changed.append(rel)
    for rel in files:
        target = d / rel
        for q in map(Path, protect):
            if target.exists() and q.exists() and os.path.samefile(target, q):
                raise InputError(f"{for_terminal(target)}: is an input of this command; choose another directory")
    if not force:
        if changed:
            raise InputError(
                f"{shown}: {_listing(changed)} changed since picoml wrote it; move your changes elsewhere "
                "or pass --force to replace picoml's files"
            )
        foreign = _foreign(d, old) if d.is_dir() else []
        if foreign:
            raise InputError(
                f"{shown}: holds files picoml did not write there ({_listing(foreign)}); choose an empty or new "
                "directory, or pass --force to write beside them"
            )
    # no directory component of a new file may be a symlink (it would write outside out_dir)
    for rel in files:
        parts = PurePosixPath(rel).parts[:-1]
        for k in range(1, len(parts) + 1):
            sub = d.joinpath(*parts[:k])
            if sub.is_symlink() or (sub.exists() and not sub.is_dir()):
                raise InputError(f"{for_terminal(sub)}: is not a real directory; picoml will not write through it")
        target = d / rel
        if target.is_dir() and not target.is_symlink():
            raise InputError(f"{for_terminal(target)}: is a directory, where picoml writes a file")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{shown}: cannot create: {e.strerror or e}") from None
    new = {rel: _bytes(c) for rel, c in files.items()}
    keep_old = {rel: h for rel, h in old.items() if rel not in changed and rel not in gone}
    # The manifest first lists old and new files, so that an interrupted write still knows them all.
    _write_manifest(d, {**keep_old, **{rel: _sha(b) for rel, b in new.items()}})
    for rel, data in sorted(new.items()):
        p = d / rel
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{for_terminal(p.parent)}: cannot create: {e.strerror or e}") from None
        write_file(p, data)
    stale = sorted(rel for rel in keep_old if rel not in new)
    for rel in stale:
        p = d / rel
        try:
            p.unlink(missing_ok=True)
        except OSError:
            continue
        parent = p.parent
        while parent != d:  # directories emptied by the removal go too
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
    _write_manifest(d, {rel: _sha(b) for rel, b in new.items()})
    return sorted(new)


def _write_manifest(d: Path, files: dict[str, str]) -> None:
    text = json.dumps({"format": _MANIFEST_FORMAT, "files": dict(sorted(files.items()))}, indent=1) + "\n"
    write_file(d / MANIFEST, text)

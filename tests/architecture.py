"""The import graph of ``src/picoml`` against the layer order of docs/architecture.md.

Every module may import from its own layer and the layers below it, never from a layer above,
and no group of modules or packages may import each other in a circle. Imports inside function
bodies count (an import hidden in a function to dodge a cycle is still a cycle); imports under
``if TYPE_CHECKING:`` do not (they never run). ``python tests/architecture.py`` prints the
figures (layers, cycles, upward imports, largest modules); tests/test_architecture.py holds
them at zero.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "picoml"

#: bottom to top; a module belongs to the first prefix that matches (longest prefix wins)
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "ground",
        (
            "picoml.errors",
            "picoml.version",
            "picoml.untrusted",
            "picoml.outputs",
            "picoml.fixedpoint",
            "picoml.qparams",
        ),
    ),
    ("graph", ("picoml.graph",)),
    ("passes", ("picoml.passes",)),
    ("reference", ("picoml.reference",)),
    ("frontends", ("picoml.frontends", "picoml.audio")),
    ("quantize", ("picoml.quantize",)),
    ("compress", ("picoml.compress",)),
    ("tasks", ("picoml.tasks",)),
    ("plan", ("picoml.plan",)),
    ("codegen", ("picoml.codegen",)),
    ("targets", ("picoml.targets",)),
    ("flows", ("picoml.flows",)),
    ("cli", ("picoml.cli", "picoml")),
)

#: module cycles kept on purpose (none today)
ALLOWED_CYCLES: tuple[frozenset[str], ...] = ()


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    in_function: bool
    line: int


def modules(root: Path = SRC) -> dict[str, Path]:
    out = {}
    for p in sorted(root.rglob("*.py")):
        parts = list(p.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for pre in prefixes:
            if (module == pre or module.startswith(pre + ".")) and len(pre) > best:
                best, rank = len(pre), i
    if rank < 0:
        raise KeyError(f"{module} is in no layer of tests/architecture.py LAYERS")
    return rank


def _is_type_checking(node: ast.AST) -> bool:
    t = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING")
        or (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")
    )


def edges(root: Path = SRC) -> list[Edge]:
    mods = modules(root)
    out: list[Edge] = []

    def target(name: str) -> str | None:
        while name not in mods and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in mods else None

    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"

        def visit(node: ast.AST, in_func: bool, mod: str = mod, is_pkg: bool = is_pkg) -> None:
            for ch in ast.iter_child_nodes(node):
                if _is_type_checking(ch):
                    continue
                names: list[str] = []
                if isinstance(ch, ast.Import):
                    names = [a.name for a in ch.names]
                elif isinstance(ch, ast.ImportFrom):
                    base = ch.module or ""
                    if ch.level:
                        pkg = mod.split(".") if is_pkg else mod.split(".")[:-1]
                        pkg = pkg[: len(pkg) - (ch.level - 1)]
                        base = ".".join(pkg + ([base] if base else []))
                    names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in ch.names]
                for n in names:
                    if n == "picoml" or n.startswith("picoml."):
                        t = target(n)
                        if t and t != mod:
                            out.append(Edge(mod, t, in_func, ch.lineno))
                visit(ch, in_func or isinstance(ch, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

        visit(ast.parse(path.read_text()), False)
    return out


def _sccs(nodes: list[str], adj: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(adj.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in nodes:
        if v not in index:
            connect(v)
    return found


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "picoml"


def module_cycles(es: list[Edge]) -> list[list[str]]:
    adj: dict[str, set[str]] = defaultdict(set)
    for e in es:
        adj[e.src].add(e.dst)
    nodes = sorted({e.src for e in es} | {e.dst for e in es})
    return [c for c in _sccs(nodes, adj) if frozenset(c) not in ALLOWED_CYCLES]


def package_cycles(es: list[Edge]) -> list[list[str]]:
    adj: dict[str, set[str]] = defaultdict(set)
    for e in es:
        if package(e.src) != package(e.dst):
            adj[package(e.src)].add(package(e.dst))
    nodes = sorted({package(e.src) for e in es} | {package(e.dst) for e in es})
    return _sccs(nodes, adj)


def upward(es: list[Edge]) -> list[Edge]:
    return [e for e in es if layer_of(e.dst) > layer_of(e.src)]


def largest(root: Path = SRC, n: int = 5) -> list[tuple[int, str]]:
    sizes = [(len(p.read_text().splitlines()), str(p.relative_to(root.parent))) for p in root.rglob("*.py")]
    return sorted(sizes, reverse=True)[:n]


def report() -> str:
    es = edges()
    lines = [
        f"layers: {len(LAYERS)} ({' < '.join(name for name, _ in LAYERS)})",
        f"modules: {len(modules())}; picoml imports: {len(es)} ({sum(e.in_function for e in es)} inside functions)",
        f"module cycles: {module_cycles(es)}",
        f"package cycles: {package_cycles(es)}",
        f"upward imports: {len(upward(es))}",
    ]
    lines += [f"  {e.src}:{e.line} -> {e.dst}" for e in upward(es)]
    lines.append("largest modules: " + ", ".join(f"{p} {n}" for n, p in largest()))
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())

"""The layer rules of docs/architecture.md, checked on the source: imports run downward only,
no module or package imports another that imports it back (function-level imports count), and
no module grows past the size a reader can hold."""

from __future__ import annotations

import architecture as A

MAX_LINES = 900
#: modules still above MAX_LINES, with the line count they may not grow past
OVERSIZED: dict[str, int] = {}


def test_every_module_has_a_layer():
    for m in A.modules():
        A.layer_of(m)  # raises KeyError naming the module


def test_no_upward_imports():
    bad = [f"{e.src}:{e.line} imports {e.dst}" for e in A.upward(A.edges())]
    assert not bad, "imports from a higher layer:\n" + "\n".join(bad)


def test_no_module_cycles():
    assert A.module_cycles(A.edges()) == []


def test_no_package_cycles():
    assert A.package_cycles(A.edges()) == []


def test_module_sizes():
    big = {p: n for n, p in A.largest(n=50) if n > MAX_LINES}
    grown = {p: n for p, n in big.items() if n > OVERSIZED.get(p, MAX_LINES)}
    assert not grown, f"modules over {MAX_LINES} lines: {grown}"


def test_checker_sees_a_cycle_and_an_upward_import(tmp_path):
    """The checks above can fail: a two-module package that imports in a circle, from a
    function body, and reaches up into the CLI."""
    pkg = tmp_path / "picoml"
    (pkg / "graph").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "cli.py").write_text("")
    (pkg / "graph" / "__init__.py").write_text("")
    (pkg / "graph" / "a.py").write_text("from picoml.graph import b\n")
    (pkg / "graph" / "b.py").write_text("def f():\n    from picoml.graph import a\n    from picoml import cli\n")
    es = A.edges(pkg)
    assert A.module_cycles(es) == [["picoml.graph.a", "picoml.graph.b"]]
    assert [(e.src, e.dst) for e in A.upward(es)] == [("picoml.graph.b", "picoml.cli")]

"""The package as a whole: no import circle between its modules.

The import graph is built from the modules' source (:mod:`ast`), every ``import`` counted wherever
it stands (a function-level import is an edge too) except those under ``if TYPE_CHECKING:``.
Importing ``a.b.c`` from outside ``a.b`` also imports the package ``a.b`` (its ``__init__``), so it
is an edge to both.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import plancadre_eval

PACKAGE = Path(plancadre_eval.__file__).resolve().parent


def module_files(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` of ``package`` (``__init__`` is the package)."""
    out = {}
    for f in sorted(package.rglob("*.py")):
        parts = list(f.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for n in ast.walk(node))
    return skipped


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = module_files(package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_nodes(tree)
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    targets.add(sub if sub in modules else module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        deps = set()
        for target in targets:
            parts = target.split(".")
            for i in range(1, len(parts) + 1):  # the target and the packages it lies in
                candidate = ".".join(parts[:i])
                if candidate in modules and candidate != name and not name.startswith(candidate + "."):
                    deps.add(candidate)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (``[a, b, ..., a]``) or ``None``."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_has_no_import_circle():
    graph = import_graph(PACKAGE)
    assert "plancadre_eval.runner.planning" in graph and "plancadre_eval.provenance" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "cercle d'imports : " + " -> ".join(cycle)


def test_public_data_and_territories_share_provenance_not_each_other():
    graph = import_graph(PACKAGE)
    assert "plancadre_eval.public_data" not in graph["plancadre_eval.territories"]
    assert "plancadre_eval.provenance" in graph["plancadre_eval.territories"]


def package_cycle(root: Path, files: dict[str, str]) -> list[str] | None:
    """The circle :func:`find_cycle` finds in a package ``pkg`` made of ``files`` (path: source)."""
    for rel, text in {"__init__.py": "", **files}.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return find_cycle(import_graph(root / "pkg"))


@pytest.mark.parametrize("files, expected", [
    # a function-level import closes a circle too
    ({"a.py": "from . import b\n", "b.py": "def f():\n    from .a import x\n"},
     ["pkg.a", "pkg.b", "pkg.a"]),
    # importing pkg.sub.c runs pkg/sub/__init__.py, which imports pkg.a
    ({"a.py": "from .sub.c import y\n", "sub/__init__.py": "from ..a import z\n", "sub/c.py": ""},
     ["pkg.a", "pkg.sub", "pkg.a"]),
    # imports for type checking only, and a subpackage's modules importing each other, are not
    ({"a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
      "b.py": "from .a import A\n", "sub/__init__.py": "from .c import y\n",
      "sub/c.py": "from . import d\n", "sub/d.py": ""}, None),
])
def test_the_circle_finder_on_small_packages(tmp_path, files, expected):
    assert package_cycle(tmp_path, files) == expected


def architecture_rows(text: str) -> set[str]:
    """The module paths named in the first cell of ARCHITECTURE.md's table rows."""
    import re

    return set(re.findall(r"^\| `([A-Za-z_/]+\.py)` \|", text, flags=re.MULTILINE))


def test_architecture_table_matches_the_folder_listing():
    listed = architecture_rows((PACKAGE / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    on_disk = {f.relative_to(PACKAGE).as_posix() for f in PACKAGE.rglob("*.py")} - {"__init__.py"}
    assert sorted(on_disk - listed) == [], "modules absents du tableau d'ARCHITECTURE.md"
    assert sorted(listed - on_disk) == [], "lignes d'ARCHITECTURE.md sans module"


def test_architecture_rows_are_read_from_the_table_only():
    text = "| `a.py` | x | y |\n| `runner/b.py` | x | y |\nvoir `c.py` dans le texte\n"
    assert architecture_rows(text) == {"a.py", "runner/b.py"}

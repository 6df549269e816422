"""The set-up files agree: pyproject.toml, environment.yml and requirements.lock list the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: conda-forge names that differ from PyPI names.
CONDA_TO_PYPI = {"pyyaml": "pyyaml"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_names() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["test"]
    return {_norm(re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0]) for d in deps}


def _environment_names() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    names: set[str] = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_norm(p) for p in dep.get("pip", []) if not p.startswith("-")}
        else:
            name = re.split(r"[<>=! ]", dep, maxsplit=1)[0]
            if name not in ("python", "pip"):
                names.add(_norm(CONDA_TO_PYPI.get(name, name)))
    return names


def test_environment_yml_lists_the_same_packages_as_pyproject():
    py, conda = _pyproject_names(), _environment_names()
    assert py - conda == set(), f"absents de environment.yml : {sorted(py - conda)}"
    assert conda - py == set(), f"absents de pyproject.toml : {sorted(conda - py)}"


def test_lock_pins_every_declared_package():
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = {_norm(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==", lock, re.M)}
    missing = _pyproject_names() - pinned
    assert not missing, f"requirements.lock ne fige pas : {sorted(missing)} (lancez `make lock`)"


def test_notebooks_are_stored_without_outputs():
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = yaml.safe_load(nb_path.read_text(encoding="utf-8"))  # JSON is YAML
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{nb_path.name} contient des sorties"
                assert cell.get("execution_count") is None, f"{nb_path.name} a des compteurs d'exécution"

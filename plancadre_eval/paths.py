"""Where the project's files live.

The package is installed in editable mode from the repository, so the project root is the parent of
this package. ``PLANCADRE_ROOT`` overrides it (e.g. for an installed copy pointing at a data folder).
All paths returned are absolute; nothing here reads the read-only source folder beside the project.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: The file marking a folder of demonstration data (written by ``plancadre-eval demo``).
DEMO_MARKER = "DEMONSTRATION"


def project_root() -> Path:
    """Project root: ``$PLANCADRE_ROOT`` if set, else the folder holding ``plancadre_eval/``."""
    env = os.environ.get("PLANCADRE_ROOT")
    return Path(env).resolve() if env else PACKAGE_DIR.parent


def data_dir() -> Path:
    """``data/`` of the project."""
    return project_root() / "data"


def default_referential() -> Path:
    """The shipped referential folder (the plan 2019-2022)."""
    return data_dir() / "referentiel" / "plan-cadre-2019-2022"


def demo_dir() -> Path:
    """Demonstration collection files (the default input)."""
    return data_dir() / "demo"


def territories_dir() -> Path:
    """INSEE territories and populations (copied from public sources)."""
    return data_dir() / "territoires"


def public_dir() -> Path:
    """Public crime statistics (État 4001, SSMSI) copied from public sources."""
    return data_dir() / "public"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def outputs_dir() -> Path:
    return project_root() / "outputs"


def params_dir() -> Path:
    return project_root() / "params"


def resolve(path: str | os.PathLike | None, default: Path | None = None, *,
            root: Path | None = None) -> Path:
    """Absolute path: a relative ``path`` is taken relative to the project root (not the cwd),
    so notebooks run by papermill from any folder find ``data/demo``; ``root`` replaces the project
    root (the runner's). ``None`` gives ``default``."""
    if path is None or str(path) == "":
        if default is None:
            raise ValueError("Aucun chemin fourni.")
        return default
    p = Path(path).expanduser()
    return p if p.is_absolute() else (project_root() if root is None else root) / p


def is_demo_data(folder: str | os.PathLike, *, root: Path | None = None) -> bool:
    """True when ``folder`` (relative to the project root, or to ``root``) holds demonstration
    data: the :data:`DEMO_MARKER` file."""
    return (resolve(folder, root=root) / DEMO_MARKER).exists()

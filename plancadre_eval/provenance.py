"""Provenance of a report: data files with their SHA-256, library version, referential, editions.

Paths are shown relative to the project root (never absolute) so that pages are identical from one
machine to another.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from . import __version__, paths


def sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def display_path(path: str | os.PathLike) -> str:
    """Path relative to the project root when inside it, else the file name alone."""
    p = Path(path).resolve()
    try:
        return p.relative_to(paths.project_root()).as_posix()
    except ValueError:
        return p.name


def files_table(files: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per file: ``fichier`` (relative path), ``sha256``, ``octets`` (size in bytes)."""
    rows = [
        {"fichier": display_path(f), "sha256": sha256(f), "octets": Path(f).stat().st_size}
        for f in sorted({Path(f) for f in files}, key=lambda p: display_path(p))
    ]
    return pd.DataFrame(rows, columns=["fichier", "sha256", "octets"])


def library_version() -> str:
    """``plancadre-eval 0.1.0``: the version shown in every report."""
    return f"plancadre-eval {__version__}"

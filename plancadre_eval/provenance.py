"""Provenance of a report: file hashes, how paths are shown, which files a collection folder holds,
the library's version and fingerprint, the record of a public source file.

The one home of these shared concepts: the runner (cache keys, manifest, year index), the collection
reader, the public data and the territories all hash, show and discover files through the functions
below. Importing this module is cheap (no pandas): the runner's warm path uses it.

How a path is shown (:func:`display_path`): relative to the project root (POSIX ``/``) when it lies
inside it; outside the root, its file name alone in everything a reader sees (pages are identical
from one machine to another, they never hold an absolute path), or its absolute form with
``absolute=True`` where the path must locate the file (parameters handed to notebooks, the
manifest, error messages).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from . import __version__, paths

if TYPE_CHECKING:
    import pandas as pd

#: Suffixes of collection files (CSV, Excel).
COLLECTION_SUFFIXES = (".csv", ".xlsx")

# --- hashing -----------------------------------------------------------------------------------

_hash_memo: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes (memoised on path, size and modification time)."""
    p = os.fspath(path)
    st = os.stat(p)
    key = (p, st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hash_memo:
            return _hash_memo[key]
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    value = h.hexdigest()
    with _hash_lock:
        _hash_memo[key] = value
    return value


def digest(obj: Any) -> str:
    """SHA-256 of a JSON-serialisable object in canonical form (sorted keys, compact, UTF-8)."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def library_hash(package_dir: Path | None = None) -> str:
    """Fingerprint of the library: SHA-256 over the sources ``plancadre_eval/**/*.py`` and the
    templates (``templates/**``), by relative path. Any code or template change re-renders all."""
    base = Path(package_dir) if package_dir else paths.PACKAGE_DIR
    entries = {}
    for p in sorted(base.rglob("*")):
        if not p.is_file() or "__pycache__" in p.parts:
            continue
        rel = p.relative_to(base).as_posix()
        if p.suffix == ".py" or rel.startswith("templates/"):
            entries[rel] = sha256(p)
    return digest({"version": __version__, "files": entries})


# --- paths -------------------------------------------------------------------------------------

def display_path(path: str | os.PathLike, root: str | os.PathLike | None = None, *,
                 absolute: bool = False) -> str:
    """``path`` relative to ``root`` (default: the project root) when inside it, as POSIX; outside
    it, the file name alone, or with ``absolute=True`` the absolute POSIX path (see the module's
    docstring for which to use where)."""
    p = Path(path).resolve()
    base = Path(root).resolve() if root is not None else paths.project_root().resolve()
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        return p.as_posix() if absolute else p.name


def natural_key(text: str) -> list:
    """Sort key putting ``fiche-2.9`` before ``fiche-2.10`` (numbers compared as numbers)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def collection_files(folder: str | os.PathLike) -> list[tuple[Path, str]]:
    """Collection files of a folder, ``(path, path relative to the folder in POSIX form)`` in
    natural order of the relative path: ``*.csv`` and ``*.xlsx`` searched recursively, without
    README*, hidden files or folders and Excel lock files (``~$``). The one discovery used by
    :func:`plancadre_eval.collection.load_collection` and the runner's cache keys."""
    base = Path(folder)
    found = []
    for f in base.rglob("*"):
        if not f.is_file() or f.suffix.lower() not in COLLECTION_SUFFIXES:
            continue
        rel = f.relative_to(base)
        if any(part.startswith((".", "~$")) for part in rel.parts):
            continue
        if f.name.lower().startswith("readme"):
            continue
        found.append((f, rel.as_posix()))
    return sorted(found, key=lambda t: natural_key(t[1]))


# --- records -----------------------------------------------------------------------------------

def source_entry(libelle: str, edition: str, licence: str, origine: str,
                 path: str | os.PathLike) -> dict[str, str]:
    """Provenance record of a public or territorial source file: ``libelle``, ``edition``,
    ``licence``, ``origine``, ``fichier`` (shown by :func:`display_path`), ``sha256``."""
    path = Path(path).resolve()
    return {"libelle": libelle, "edition": edition, "licence": licence, "origine": origine,
            "fichier": display_path(path), "sha256": sha256(path)}


def files_table(files: Iterable[str | os.PathLike]) -> "pd.DataFrame":
    """One row per file: ``fichier`` (relative path), ``sha256``, ``octets`` (size in bytes)."""
    import pandas as pd

    rows = [
        {"fichier": display_path(f), "sha256": sha256(f), "octets": Path(f).stat().st_size}
        for f in sorted({Path(f) for f in files}, key=lambda p: display_path(p))
    ]
    return pd.DataFrame(rows, columns=["fichier", "sha256", "octets"])


def library_version() -> str:
    """``plancadre-eval 0.1.0``: the version shown in every report."""
    return f"plancadre-eval {__version__}"

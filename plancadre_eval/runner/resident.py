"""A pooled kernel kept warm between two commands (``run --garder-noyau``).

An analyst who tweaks a fiche re-renders it again and again (``run --fiche 2.6 --garder-noyau``):
each command would start a kernel and import pandas, matplotlib and the library (2 to 3 s) before
the first cell. With ``--garder-noyau`` the command leaves one warm kernel running when it ends,
registered in Jupyter's runtime folder (``plancadre-eval-<project>.json``, readable by its owner
only, like Jupyter's own connection files); the next ``run`` of the same project adopts it
(reset as between two pages of one run) instead of starting one. The kernel stops by itself after
:data:`IDLE_MINUTES` minutes without use, or with ``run --arreter-noyau``.

A kept kernel is adopted only if it was started for the same project folder, Python, warm-up
modules and library sources (:func:`compatibility_key`); any other is stopped and replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path
from typing import Any

#: Minutes without any execution after which a kept kernel stops by itself.
IDLE_MINUTES = 20


def compatibility_key(root: str, warm_modules: tuple[str, ...], lib_hash: str) -> str:
    """What a kept kernel must share with the run that adopts it (SHA-256, hex)."""
    import sys

    text = json.dumps([str(root), list(warm_modules), lib_hash, sys.executable])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def registry_path(root: str) -> Path:
    """The file naming the kept kernel of the project ``root`` (Jupyter's runtime folder)."""
    from jupyter_core.paths import jupyter_runtime_dir

    digest = hashlib.sha256(str(Path(root).resolve()).encode("utf-8")).hexdigest()[:16]
    return Path(jupyter_runtime_dir()) / f"plancadre-eval-{digest}.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's process with a reused pid
        return False
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def read(root: str) -> dict[str, Any] | None:
    """The registered kept kernel of ``root`` if its process is still running, else None (a stale
    registry file is removed)."""
    return _read_file(registry_path(root))


def _read_file(path: Path) -> dict[str, Any] | None:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        pid = int(entry["pid"])
        entry["connexion"]["key"]  # noqa: B018 - must be there
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    if not _pid_alive(pid):
        path.unlink(missing_ok=True)
        return None
    return entry


def take(root: str, key: str) -> dict[str, Any] | None:
    """Remove the registration of ``root``'s kept kernel and return it when it can be adopted
    (same :func:`compatibility_key`); an incompatible one is stopped. None when there is none.
    Two commands started at once never both take it: the registry file is claimed by an atomic
    rename, which only one of them wins."""
    path = registry_path(root)
    claimed = path.with_name(f"{path.name}.{os.getpid()}")
    try:
        os.rename(path, claimed)
    except OSError:  # none, or another command took it first
        return None
    try:
        entry = _read_file(claimed)
    finally:
        claimed.unlink(missing_ok=True)
    if entry is None:
        return None
    if entry.get("cle") != key:
        stop_process(int(entry["pid"]))
        return None
    return entry


def register(root: str, key: str, connection: dict[str, Any], pid: int) -> Path:
    """Write the registry file of ``root`` (mode 0600: it holds the kernel's signing key)."""
    path = registry_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {k: (v.decode("ascii") if isinstance(v, bytes) else v) for k, v in connection.items()}
    text = json.dumps({"pid": pid, "cle": key, "racine": str(root), "minutes": IDLE_MINUTES,
                       "connexion": info}, indent=1)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def stop_process(pid: int) -> None:
    """Stop a kept kernel's process (SIGTERM; it has no parent to reap it but init)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def stop(root: str) -> bool:
    """``run --arreter-noyau``: stop the kept kernel of ``root``; True if there was one."""
    entry = read(root)
    registry_path(root).unlink(missing_ok=True)
    if entry is None:
        return False
    stop_process(int(entry["pid"]))
    return True


#: Run in a kernel that is kept: it exits after ``minutes`` without an execution.
WATCH_CODE = '__import__("sys").modules["_plancadre_pool"].watch({minutes})\n'

"""``plancadre-eval run``: one command renders a year's evaluations (or every year's).

For a year ``Y`` the runner produces, in ``outputs/<Y>/``:

- ``fiche-<id>.html`` for each fiche due in ``Y`` (:func:`plancadre_eval.schedule.due_fiches`;
  ``--fiche`` picks some), from ``notebooks/evaluation_fiche.ipynb``;
- ``synthese.html`` (``notebooks/synthese_annuelle.ipynb``) and, when fiche 4.5 is due,
  ``diagnostic.html`` (``notebooks/diagnostic_departemental.ipynb``);
- the executed notebooks beside them (``fiche-<id>.ipynb``; a failed execution goes to
  ``fiche-<id>.echec.ipynb`` and never over the last good one), for audit;
- ``indicateurs.csv`` / ``.xlsx`` (:func:`plancadre_eval.export.write_indicator_table`);
- ``index.html`` (fiches grouped by axe with their status, data files with SHA-256, public data
  editions; no run date) and ``manifest.json`` (run date, per page: status, cache decision and its
  reason, error of the failing cell, input hashes);

and ``outputs/index.html`` links the years present.

How it works (in this order, so that bad input never starts a kernel):

1. parameters (``params/<Y>.yaml``, ``--params``, ``--data``, ``--referentiel``) and the referential
   are validated, then the collection files (:func:`plancadre_eval.collection.load_collection`, the
   same messages as ``check``; skipped when no input file changed since the last successful
   validation, see ``validation`` in ``manifest.json``). Usage errors exit 2, bad input exits 1.
2. Each page gets its inputs' hashes: the notebook, its parameters, the data files it reads (the
   collection files holding rows of the fiche, plus the public data files for fiches with public
   indicators and the diagnostic, plus the territory files; the synthesis reads everything), the
   referential and the library (SHA-256 of ``plancadre_eval/**/*.py`` and ``templates/**``). A page
   whose inputs did not change since its last successful render is reused; otherwise the summary
   says why it is re-rendered.
3. Pages are executed with papermill (python API) and rendered with nbconvert
   (:func:`plancadre_eval.rendering.render_html`) by a :mod:`concurrent.futures` executor: a
   thread pool (``--jobs``, default the number of cores) or a Dask cluster (``--scheduler``). Each
   worker thread keeps a warm kernel ("python3", started in the project root with the heavy modules
   imported once) and resets it (``%reset -f``, matplotlib/pandas/warnings/cwd/environment restored,
   execution counter back to 1) before each notebook: kernel start-up and imports are paid once per
   worker, not once per page (the library stays loaded, so its caches — the validated collection,
   territories, public series — serve every page of the run). A kernel that died or timed out is
   replaced.
4. Results are written as they arrive, each through a temporary file and :func:`os.replace`; one
   failing notebook never stops the others; the exit code is 1 if anything failed, else 0.

The heavy modules (papermill, nbconvert, pandas, dask) are imported only when something has to be
rendered: a run where nothing changed takes well under two seconds.
"""

from __future__ import annotations

import argparse
import ast
import atexit
import concurrent.futures as cf
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from . import __version__, paths
from .rendering import render_page, write_atomic

# --- constants ---------------------------------------------------------------------------------

KERNEL_NAME = "python3"
#: Notebook file of each kind of page, in ``notebooks/``.
NOTEBOOK_FILES = {
    "fiche": "evaluation_fiche.ipynb",
    "synthese": "synthese_annuelle.ipynb",
    "diagnostic": "diagnostic_departemental.ipynb",
}
#: The diagnostic is rendered when this fiche is due (it is the fiche's departmental diagnostic).
DIAGNOSTIC_FICHE = "4.5"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
#: Modules imported once in every pooled kernel, before its first notebook (missing ones are
#: skipped): the heavy third-party libraries and the library modules the notebooks use.
DEFAULT_WARM_MODULES = (
    "numpy", "pandas", "matplotlib", "matplotlib.pyplot", "yaml", "openpyxl", "IPython.display",
    "plancadre_eval.parameters", "plancadre_eval.evaluation", "plancadre_eval.charts",
    "plancadre_eval.collection", "plancadre_eval.territories", "plancadre_eval.public_data",
    "plancadre_eval.indicators", "plancadre_eval.secrecy", "plancadre_eval.formatting",
)
DEFAULT_START_TIMEOUT = 180  # s; generous: on 2 cores several kernels start at once
DEFAULT_CELL_TIMEOUT = 1800  # s per cell; a hung cell fails its page, not the run
DATA_SUFFIXES = (".csv", ".xlsx")  # as collection.FILE_SUFFIXES

# Cache decisions and reasons, as shown in the summary and the manifest.
CACHE_REUSED = "réutilisé"
CACHE_RENDERED = "re-rendu"
STATUS_OK = "ok"
STATUS_FAILED = "échec"
REASON_MISSING = "page absente"
REASON_FORCE = "--force"
REASON_FAILED_BEFORE = "échec précédent"
REASON_NOTEBOOK = "notebook modifié"
REASON_PARAMS = "paramètres modifiés"
REASON_REFERENTIAL = "référentiel modifié"
REASON_LIBRARY = "bibliothèque modifiée"
REASON_DATA = "données modifiées"
REASON_UNCHANGED = "entrées inchangées"


class UsageError(Exception):
    """Bad command line (unknown fiche, year outside the plan, unknown parameter...): exit 2."""


class InputError(Exception):
    """Invalid parameters, referential or data: exit 1. ``problems`` lists every message."""

    def __init__(self, problems: list[str] | str, title: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        text = "\n".join(self.problems)
        super().__init__(f"{title}\n{text}" if title else text)


# --- hashing -----------------------------------------------------------------------------------

_hash_memo: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def file_sha256(path: str | os.PathLike) -> str:
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
    digest = h.hexdigest()
    with _hash_lock:
        _hash_memo[key] = digest
    return digest


def _digest(obj: Any) -> str:
    """SHA-256 of a JSON-serialisable object (canonical form)."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def library_hash(package_dir: Path | None = None) -> str:
    """Fingerprint of the library: SHA-256 over the sources ``plancadre_eval/**/*.py`` and the
    templates (``templates/**``), by relative path. Any code or template change re-renders all."""
    base = Path(package_dir) if package_dir else Path(__file__).resolve().parent
    entries = {}
    for p in sorted(base.rglob("*")):
        if not p.is_file() or "__pycache__" in p.parts:
            continue
        rel = p.relative_to(base).as_posix()
        if p.suffix == ".py" or rel.startswith("templates/"):
            entries[rel] = file_sha256(p)
    return _digest({"version": __version__, "files": entries})


def display_path(path: str | os.PathLike, root: Path) -> str:
    """``path`` relative to the project root when inside it (POSIX), else its absolute form."""
    p = Path(path).resolve()
    try:
        return p.relative_to(root.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def _shown_path(path: str | os.PathLike, root: Path) -> str:
    """Path shown in a page: relative to the project root when inside it, else its last part only
    (pages never hold absolute paths: they must be identical from one machine to another)."""
    shown = display_path(path, root)
    return Path(shown).name if Path(shown).is_absolute() else shown


def _resolve(root: Path, value: str | os.PathLike) -> Path:
    """``value`` as an absolute path, relative ones taken from the project root (as notebooks do)."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else root / p


def _page_path_arg(path: str | os.PathLike, root: Path) -> str:
    """Path given to notebooks: relative to the project root when inside it (so pages and
    parameters do not depend on where the project lives), absolute otherwise."""
    return display_path(path, root)


# --- notebooks' parameters ---------------------------------------------------------------------

_params_memo: dict[tuple[str, int, int], dict[str, Any]] = {}


def notebook_parameters(path: str | os.PathLike) -> dict[str, Any]:
    """Parameters declared by a notebook: names assigned in its cell tagged ``parameters``, with
    their default value (``None`` when not a literal). Read with :mod:`ast`, without papermill."""
    p = os.fspath(path)
    st = os.stat(p)
    key = (p, st.st_size, st.st_mtime_ns)
    if key in _params_memo:
        return dict(_params_memo[key])
    with open(p, encoding="utf-8") as fh:
        nb = json.load(fh)
    declared: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError as exc:
            raise InputError(f"{Path(p).name} : la cellule « parameters » n'est pas du Python "
                             f"valide ({exc.msg}, ligne {exc.lineno}).") from None
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AnnAssign) else [])
            value = getattr(node, "value", None)
            for target in targets:
                if isinstance(target, ast.Name):
                    try:
                        declared[target.id] = ast.literal_eval(value) if value is not None else None
                    except ValueError:
                        declared[target.id] = None
        break
    _params_memo[key] = declared
    return dict(declared)


# --- pages and their inputs --------------------------------------------------------------------

@dataclass
class PageTask:
    """Everything a worker needs to execute and render one page (picklable, sent to Dask)."""

    year: int
    name: str  # "fiche-2.10", "synthese", "diagnostic"
    kind: str  # "fiche", "synthese", "diagnostic"
    fiche: str | None
    notebook: str  # absolute path of the notebook to execute
    notebook_display: str  # as shown in the manifest and the executed notebook
    parameters: dict[str, Any]
    title: str
    root: str  # working directory of the kernel (project root)
    run_token: str
    reuse_kernels: bool = True
    warm_modules: tuple[str, ...] = DEFAULT_WARM_MODULES
    start_timeout: float = DEFAULT_START_TIMEOUT
    cell_timeout: float | None = DEFAULT_CELL_TIMEOUT


@dataclass
class PageResult:
    """What a worker sends back: the page (HTML text), the executed notebook (JSON text), the
    error of the failing cell if any, and the duration in seconds."""

    year: int
    name: str
    status: str
    html: str | None
    notebook_json: str | None
    error: dict[str, Any] | None
    duration: float
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class PagePlan:
    """One page of a year: what it reads (``inputs``) and whether it must be rendered (``reasons``
    empty means reused)."""

    name: str
    kind: str
    fiche: str | None
    title: str
    notebook: Path
    parameters: dict[str, Any]
    inputs: dict[str, Any]
    reasons: list[str]
    previous: dict[str, Any] | None = None

    @property
    def to_render(self) -> bool:
        return bool(self.reasons)


@dataclass
class PageRecord:
    """One line of the summary and one entry of ``manifest.json``."""

    year: int
    name: str
    kind: str
    fiche: str | None
    status: str
    cache: str
    reason: str
    duration: float
    error: dict[str, Any] | None = None


def cache_reasons(previous: dict[str, Any] | None, inputs: dict[str, Any], *,
                  page_exists: bool, force: bool = False) -> list[str]:
    """Why a page must be rendered again (empty list: its last good render can be reused).

    ``previous`` is the page's entry in the last manifest (``statut``, ``entrees``), ``inputs``
    its current inputs (keys ``notebook``, ``parametres``, ``referentiel``, ``bibliotheque``: hashes
    or values; ``donnees``: file name -> SHA-256). Pure function.
    """
    if force:
        return [REASON_FORCE]
    if previous is None or not page_exists:
        return [REASON_MISSING]
    if previous.get("statut") != STATUS_OK:
        return [REASON_FAILED_BEFORE]
    before = previous.get("entrees") or {}
    reasons = []
    if before.get("notebook") != inputs.get("notebook"):
        reasons.append(REASON_NOTEBOOK)
    if before.get("parametres") != inputs.get("parametres"):
        reasons.append(REASON_PARAMS)
    if before.get("referentiel") != inputs.get("referentiel"):
        reasons.append(REASON_REFERENTIAL)
    if before.get("bibliotheque") != inputs.get("bibliotheque"):
        reasons.append(REASON_LIBRARY)
    old, new = before.get("donnees") or {}, inputs.get("donnees") or {}
    changed = sorted((set(old) ^ set(new)) | {k for k in set(old) & set(new) if old[k] != new[k]})
    if changed:
        shown = [Path(name).name for name in changed]
        more = f" (+{len(shown) - 5})" if len(shown) > 5 else ""
        reasons.append(f"{REASON_DATA} : {', '.join(shown[:5])}{more}")
    return reasons


# --- kernels -----------------------------------------------------------------------------------

# Code run in a new pooled kernel, after the warm-up imports: snapshot the state a notebook may
# change and define restore(), run before each following notebook, so that every notebook starts
# from the state the warm-up left. The library (plancadre_eval.*) stays loaded from one notebook to
# the next: its caches are keyed by file contents (e.g. evaluation._COLLECTIONS) and every page
# imports it anyway. Any other module imported from the project folder is forgotten, so that its
# import-time effects happen again, as in a fresh kernel. Matplotlib's backend and IPython's figure
# display, rcParams, pandas options, warning filters, working folder, environment and sys.path
# are put back; the user namespace is emptied (%reset -f) and the execution counter restarts at 1.
_KERNEL_SETUP = r'''
def _plancadre_pool_setup():
    # run in an execution of its own, after the imports: IPython finishes setting up matplotlib's
    # inline display in hooks that run at the end of the importing execution
    import os, sys, types, warnings
    state = types.ModuleType("_plancadre_pool")
    state.cwd = os.getcwd()
    state.root = os.path.abspath(os.getcwd()) + os.sep
    state.prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}  # the venv may be in the project
    state.environ = dict(os.environ)
    state.path = list(sys.path)
    state.filters = list(warnings.filters)
    state.rc = None
    state.backend = None
    state.pandas = {}
    state.pyplot_imported = "matplotlib.pyplot" in sys.modules
    state.backend_loaded = getattr(sys.modules.get("matplotlib.pyplot"), "_backend_mod", None) is not None
    state.modules_before_backend = set(sys.modules)
    if "matplotlib" in sys.modules:
        import matplotlib
        state.rc = matplotlib.rcParams.copy()
        state.backend = matplotlib.rcParams._get("backend") if hasattr(matplotlib.rcParams, "_get") \
            else matplotlib.rcParams["backend"]
    if "pandas" in sys.modules:
        import pandas
        try:
            for key in list(pandas._config.config._registered_options):
                try:
                    state.pandas[key] = pandas.get_option(key)
                except Exception:
                    pass
        except Exception:
            pass

    def _project_module(name, module):
        if name == "plancadre_eval" or name.startswith("plancadre_eval."):
            return False  # the library stays loaded, with its content-keyed caches
        path = getattr(module, "__file__", None)
        if not path:
            return False
        path = os.path.abspath(path)
        return path.startswith(state.root) and not any(
            path.startswith(os.path.abspath(p) + os.sep) for p in state.prefixes)

    state.modules = {n for n, m in sys.modules.items() if not _project_module(n, m)}

    # IPython's figure display (formatters for matplotlib figures, post-execute hooks, inline
    # backend bookkeeping): a notebook switching backend changes it.
    def _figure_display():
        from IPython import get_ipython
        ip = get_ipython()
        if ip is None or "matplotlib.figure" not in sys.modules:
            return None
        from matplotlib.figure import Figure
        inline = sys.modules.get("matplotlib_inline.backend_inline")
        support = getattr(inline, "configure_inline_support", None)
        return {
            "printers": {mime: f.type_printers.get(Figure)
                         for mime, f in ip.display_formatter.formatters.items()},
            "ipython_display": ip.display_formatter.ipython_display_formatter.type_printers.get(Figure),
            "post_execute": list(ip.events.callbacks.get("post_execute", [])),
            "post_run_cell": list(ip.events.callbacks.get("post_run_cell", [])),
            "current_backend": getattr(support, "current_backend", None) if support else None,
            "has_current": hasattr(support, "current_backend") if support else False,
            "saved_rc": dict(getattr(ip, "_saved_rcParams", {}) or {}) if hasattr(ip, "_saved_rcParams") else None,
        }

    def _restore_figure_display(snap):
        if snap is None:
            return
        from IPython import get_ipython
        from matplotlib.figure import Figure
        ip = get_ipython()
        for mime, f in ip.display_formatter.formatters.items():
            printer = snap["printers"].get(mime)
            if printer is None:
                f.type_printers.pop(Figure, None)
            else:
                f.type_printers[Figure] = printer
        disp = ip.display_formatter.ipython_display_formatter
        if snap["ipython_display"] is None:
            disp.type_printers.pop(Figure, None)
        else:
            disp.type_printers[Figure] = snap["ipython_display"]
        ip.events.callbacks["post_execute"][:] = snap["post_execute"]
        ip.events.callbacks["post_run_cell"][:] = snap["post_run_cell"]
        inline = sys.modules.get("matplotlib_inline.backend_inline")
        support = getattr(inline, "configure_inline_support", None)
        if support is not None:
            if snap["has_current"]:
                support.current_backend = snap["current_backend"]
            elif hasattr(support, "current_backend"):
                del support.current_backend
        if snap["saved_rc"] is None:
            if hasattr(ip, "_saved_rcParams"):
                del ip._saved_rcParams
        else:
            ip._saved_rcParams = dict(snap["saved_rc"])

    state.display = _figure_display()

    def restore():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if "matplotlib.pyplot" in sys.modules:
                sys.modules["matplotlib.pyplot"].close("all")
            for name, module in list(sys.modules.items()):
                if name not in state.modules and _project_module(name, module):
                    del sys.modules[name]
            pyplot = sys.modules.get("matplotlib.pyplot")
            if pyplot is not None and state.pyplot_imported:
                if not state.backend_loaded:
                    # pyplot loads its backend at the first figure, and the inline backend then
                    # hooks figure display into IPython: forget both, so that the next notebook's
                    # first figure (or matplotlib.use) sets them up as in a fresh kernel
                    pyplot._backend_mod = None
                    for name in ("matplotlib_inline.backend_inline",):
                        if name not in state.modules_before_backend:
                            sys.modules.pop(name, None)
                elif state.backend is not None:
                    import matplotlib
                    if matplotlib.get_backend() != state.backend:
                        pyplot.switch_backend(state.backend)
            _restore_figure_display(state.display)
            if state.rc is not None:
                import matplotlib
                matplotlib.rcParams.update(state.rc)
            if state.pandas:
                import pandas
                for key, value in state.pandas.items():
                    try:
                        if pandas.get_option(key) != value:
                            pandas.set_option(key, value)
                    except Exception:
                        pass
        warnings.filters[:] = state.filters
        try:
            warnings._filters_mutated()
        except Exception:
            pass
        os.chdir(state.cwd)
        os.environ.clear()
        os.environ.update(state.environ)
        sys.path[:] = state.path

    state.restore = restore
    sys.modules["_plancadre_pool"] = state

_plancadre_pool_setup()
del _plancadre_pool_setup
'''

_KERNEL_IMPORTS = (
    "import importlib\n"
    "for _name in __MODULES__:\n"
    "    try:\n"
    "        importlib.import_module(_name)\n"
    "    except Exception:\n"
    "        pass\n"
    "del _name, importlib\n"
)

_KERNEL_RESET = (
    'get_ipython().run_line_magic("reset", "-f")\n'
    '__import__("sys").modules["_plancadre_pool"].restore()\n'
    'get_ipython().execution_count = 1\n'
)

_kernel_manager_class = None


def _manager_class():
    """AsyncKernelManager that remembers the clients it creates (papermill leaves them open when
    it does not own the kernel), so they can be closed after each notebook."""
    global _kernel_manager_class
    if _kernel_manager_class is None:
        from jupyter_client.manager import AsyncKernelManager

        class _TrackingKernelManager(AsyncKernelManager):
            def client(self, **kwargs):
                kc = super().client(**kwargs)
                self.__dict__.setdefault("_plancadre_clients", []).append(kc)
                return kc

            def close_clients(self):
                for kc in self.__dict__.pop("_plancadre_clients", []):
                    try:
                        kc.stop_channels()
                    except Exception:
                        pass

        _kernel_manager_class = _TrackingKernelManager
    return _kernel_manager_class


def kernel_environment() -> dict[str, str]:
    """Environment of the kernels: the runner's, without ``MPLBACKEND`` (kernels always use the
    inline backend, as in Jupyter, whatever the caller set for its own process)."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


class _Kernel:
    """A python3 kernel started in ``root``; ``pooled`` ones are warmed up and reset between
    notebooks."""

    def __init__(self, root: str, token: str, warm_modules: tuple[str, ...], start_timeout: float,
                 pooled: bool):
        from jupyter_core.utils import run_sync

        self.root, self.token, self.pooled = root, token, pooled
        self.warm_modules = tuple(warm_modules)
        self.start_timeout = start_timeout
        self.uses = 0
        self.km = _manager_class()(kernel_name=KERNEL_NAME)
        import subprocess

        # The kernel's own stdout/stderr (start-up warnings) would mix with the progress bar; what
        # the notebook prints reaches the notebook through the messaging channels, not these.
        run_sync(self.km.start_kernel)(cwd=root, env=kernel_environment(),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with _kernels_lock:
            _live_kernels.add(self)
        self.shell = None  # persistent client (shell channel only) for the resets
        self.pending_reset: str | None = None
        if pooled:
            self.run_code(_KERNEL_IMPORTS.replace("__MODULES__", repr(self.warm_modules)),
                          timeout=start_timeout)
            self.run_code(_KERNEL_SETUP, timeout=start_timeout)
            # a blocking client (plain zmq sockets): independent of the event loops papermill runs
            from jupyter_client.blocking import BlockingKernelClient

            import zmq

            # its own session (same key): a shell socket's routing identity is the session id,
            # and papermill's clients, which share the manager's session id, come and go
            self.shell = BlockingKernelClient(context=zmq.Context())
            self.shell.load_connection_info(self.km.get_connection_info(session=False))
            self.shell.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)

    def run_code(self, code: str, timeout: float) -> None:
        from jupyter_core.utils import run_sync

        async def _run():
            kc = self.km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=timeout)
                reply = await kc.execute_interactive(code, store_history=False, timeout=timeout,
                                                     output_hook=lambda msg: None)
            finally:
                kc.stop_channels()
            content = reply.get("content", {})
            if content.get("status") != "ok":
                raise RuntimeError(f"préparation du noyau impossible : {content.get('ename')} "
                                   f"{content.get('evalue')}")

        run_sync(_run)()

    def start_reset(self) -> None:
        """Ask a pooled kernel to reset itself (without waiting): the kernel resets while this
        process renders the page it just executed."""
        if self.pooled and self.shell is not None and self.pending_reset is None:
            self.pending_reset = self.shell.execute(_KERNEL_RESET, store_history=False,
                                                    allow_stdin=False)

    def prepare(self) -> None:
        """Make sure a reused kernel is back to the state it had just after its warm-up."""
        if self.pooled and self.uses:
            self.start_reset()
            self._wait_reset()
        self.uses += 1

    def _wait_reset(self) -> None:
        import queue

        msg_id, self.pending_reset = self.pending_reset, None
        if msg_id is None:
            return
        deadline = time.monotonic() + self.start_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise queue.Empty
                msg = self.shell.get_shell_msg(timeout=remaining)
            except queue.Empty:
                raise TimeoutError("le noyau ne s'est pas réinitialisé à temps") from None
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                break
        content = msg.get("content", {})
        if content.get("status") != "ok":
            raise RuntimeError(f"réinitialisation du noyau impossible : {content.get('ename')} "
                               f"{content.get('evalue')}")

    def alive(self) -> bool:
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:
            return False

    def shutdown(self) -> None:
        with _kernels_lock:
            _live_kernels.discard(self)
        try:
            self.km.close_clients()
            if self.shell is not None:
                self.shell.stop_channels()
        except Exception:
            pass
        try:
            from jupyter_core.utils import run_sync

            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:
            try:
                proc = getattr(self.km.provisioner, "process", None)
                if proc is not None:
                    proc.kill()
                self.km.cleanup_resources()
            except Exception:
                pass


_live_kernels: set[_Kernel] = set()
_kernels_lock = threading.Lock()
_thread_state = threading.local()


def shutdown_kernels() -> int:
    """Shut down every kernel started by this process (pooled or not); returns how many."""
    with _kernels_lock:
        kernels = list(_live_kernels)
    for k in kernels:
        k.shutdown()
    return len(kernels)


def _acquire_kernel(task: PageTask) -> _Kernel:
    if not task.reuse_kernels:
        return _Kernel(task.root, task.run_token, (), task.start_timeout, pooled=False)
    kernel: _Kernel | None = getattr(_thread_state, "kernel", None)
    if kernel is not None and (kernel.token != task.run_token or kernel.root != task.root
                               or kernel.warm_modules != tuple(task.warm_modules)
                               or not kernel.alive()):
        kernel.shutdown()
        kernel = None
    if kernel is None:
        kernel = _Kernel(task.root, task.run_token, task.warm_modules, task.start_timeout, pooled=True)
        _thread_state.kernel = kernel
    return kernel


def _release_kernel(kernel: _Kernel, healthy: bool) -> None:
    kernel.km.close_clients()
    if not kernel.pooled or not healthy:
        if getattr(_thread_state, "kernel", None) is kernel:
            _thread_state.kernel = None
        kernel.shutdown()


atexit.register(shutdown_kernels)


# --- one page ----------------------------------------------------------------------------------

def clean_executed_notebook(nb, *, input_path: str, output_path: str):
    """Executed notebook as kept for audit: papermill/nbclient timestamps removed, paths shown
    relative to the project (``input_path``, ``output_path``). Modifies and returns ``nb``."""
    pm = nb.metadata.get("papermill")
    if pm is not None:
        for key in ("start_time", "end_time", "duration"):
            pm.pop(key, None)
        pm["input_path"] = input_path
        pm["output_path"] = output_path
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cpm = cell.metadata.get("papermill")
        if cpm is not None:
            for key in ("start_time", "end_time", "duration"):
                cpm.pop(key, None)
    return nb


def _output_meta(nb) -> dict[str, Any]:
    """Values notebooks hand to the runner: ``metadata={"plancadre": {...}}`` on any output (e.g.
    ``{"statut_fiche": "en cours"}``, shown in the year's index)."""
    meta: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            value = output.get("metadata", {}).get("plancadre")
            if isinstance(value, dict):
                meta.update(value)
    return meta


def _failing_cell(nb) -> int | None:
    """Index of the first cell with an error output in the executed notebook as saved (papermill's
    marker cells included), so that ``cells[index]`` of ``<page>.echec.ipynb`` is the failing cell."""
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code" and any(o.get("output_type") == "error"
                                                   for o in cell.get("outputs", [])):
            return index
    return None


def execute_page(task: PageTask) -> PageResult:
    """Execute one notebook with papermill and render it to HTML, in this process.

    Never raises for a failing notebook: the result then has ``status == "échec"`` and ``error``
    (``ename``, ``evalue``, ``cellule``: index of the failing cell in the saved
    ``<page>.echec.ipynb``, ``execution``: its ``In [n]`` number). Runs in executor threads and on Dask workers.
    """
    t0 = time.perf_counter()
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from .rendering import render_html

    error: dict[str, Any] | None = None
    nb = None
    healthy = True
    tmpdir = tempfile.mkdtemp(prefix="plancadre-run-")
    out_path = os.path.join(tmpdir, "execute.ipynb")
    kernel = None
    try:
        kernel = _acquire_kernel(task)
        try:
            kernel.prepare()
        except Exception:  # a reused kernel that cannot be reset is replaced by a new one
            _release_kernel(kernel, healthy=False)
            kernel = _acquire_kernel(task)
            kernel.prepare()
        nb = papermill.execute_notebook(
            task.notebook, out_path, parameters=dict(task.parameters), kernel_name=KERNEL_NAME,
            progress_bar=False, log_output=False, request_save_on_cell_execute=False,
            start_timeout=task.start_timeout, execution_timeout=task.cell_timeout,
            km=kernel.km, record_timing=False,
        )
    except PapermillExecutionError as exc:
        error = {"ename": exc.ename, "evalue": str(exc.evalue), "cellule": exc.cell_index,
                 "execution": exc.exec_count}
    except Exception as exc:  # kernel died, timeout, unreadable notebook...
        healthy = False
        error = {"ename": type(exc).__name__, "evalue": " ".join(str(exc).split())[:2000],
                 "cellule": None, "execution": None}
    finally:
        if kernel is not None:
            _release_kernel(kernel, healthy)
            if healthy and kernel.pooled:
                try:
                    kernel.start_reset()  # overlaps the kernel's reset with the rendering below
                except Exception:
                    pass
    if nb is None and os.path.exists(out_path):
        try:
            nb = nbformat.read(out_path, as_version=4)
        except Exception:
            nb = None
    shutil.rmtree(tmpdir, ignore_errors=True)
    if error is not None and nb is not None:
        failing = _failing_cell(nb)
        if failing is not None:
            error["cellule"] = failing

    html = None
    if error is None and nb is not None:
        try:
            html = render_html(nb, task.title)
        except Exception as exc:
            error = {"ename": type(exc).__name__,
                     "evalue": f"rendu HTML impossible : {' '.join(str(exc).split())[:2000]}",
                     "cellule": None, "execution": None}
    notebook_json = None
    meta: dict[str, Any] = {}
    if nb is not None:
        suffix = ".ipynb" if error is None else ".echec.ipynb"
        clean_executed_notebook(nb, input_path=task.notebook_display,
                                output_path=f"outputs/{task.year}/{task.name}{suffix}")
        meta = _output_meta(nb)
        notebook_json = nbformat.writes(nb)
    return PageResult(year=task.year, name=task.name, status=STATUS_OK if error is None else STATUS_FAILED,
                      html=html, notebook_json=notebook_json, error=error,
                      duration=round(time.perf_counter() - t0, 2), meta=meta)


# --- validation of the inputs ------------------------------------------------------------------

def collection_files(data_dir: Path) -> list[Path]:
    """Collection files of a folder, as :func:`plancadre_eval.collection.load_collection` finds
    them: ``*.csv`` and ``*.xlsx`` searched recursively, without README*, hidden files or folders
    and Excel lock files (``~$``)."""
    out = []
    for f in data_dir.rglob("*"):
        if f.suffix.lower() not in DATA_SUFFIXES or not f.is_file():
            continue
        rel = f.relative_to(data_dir)
        if any(part.startswith((".", "~$")) for part in rel.parts) or f.name.lower().startswith("readme"):
            continue
        out.append(f)
    return sorted(out, key=lambda p: p.relative_to(data_dir).as_posix())


Validator = Callable[[Path, Any], dict[str, list[str]]]


def validate_collection(data_dir: Path, referential) -> dict[str, list[str]]:
    """Validate the collection files of ``data_dir`` like ``plancadre-eval check`` and return, for
    each file (path relative to ``data_dir``), the fiches it holds rows for.

    Raises :class:`InputError` with the ``check`` problem lines.
    """
    from . import collection

    try:
        loaded = collection.load_collection([data_dir], referential)
    except collection.CollectionError as exc:
        raise InputError([str(p) for p in exc.problems],
                         title=f"Données de collecte invalides ({display_path(data_dir, paths.project_root())}) :"
                         ) from None
    obs = loaded.observations
    mapping: dict[str, set[str]] = {}
    for fichier, fiche in zip(obs["fichier"].tolist(), obs["fiche"].tolist()):
        mapping.setdefault(str(fichier), set()).add(str(fiche))
    return {k: sorted(v) for k, v in mapping.items()}


def public_sources() -> list[dict[str, str]]:
    """Public data and territory files the computations read: the entries of
    :func:`plancadre_eval.public_data.editions` (``libelle``, ``edition``, ``licence``, ``origine``,
    ``fichier`` relative to the project root, ``sha256``), each with ``nature`` "public" (crime
    statistics) or "territoire" (INSEE files and boundaries)."""
    from . import public_data

    public = [dict(e, nature="public") for e in public_data.editions(include_territories=False)]
    shown = {e["fichier"] for e in public}
    return public + [dict(e, nature="territoire") for e in public_data.editions(include_territories=True)
                     if e["fichier"] not in shown]


def _is_public_file(entry: dict[str, str]) -> bool:
    return entry.get("nature") == "public"


# --- planning a year ---------------------------------------------------------------------------

@dataclass
class YearPlan:
    year: int
    year_dir: Path
    referential: Any
    params: dict[str, Any]
    params_display: str
    data_dir: Path
    due: list[str]
    selected: list[str]
    pages: list[PagePlan]
    data_files: dict[str, str]  # name relative to data_dir -> sha256
    sources: list[dict[str, str]]
    fiches_by_file: dict[str, list[str]]
    validation: dict[str, Any]
    previous: dict[str, Any]
    referential_hash: str
    library_hash: str
    indicators_key: str
    notes: list[str] = field(default_factory=list)


def load_manifest(year_dir: Path) -> dict[str, Any]:
    """The previous ``manifest.json`` of a year folder (empty dict if absent or unreadable)."""
    try:
        with open(year_dir / MANIFEST_NAME, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT else {}
    except (OSError, ValueError):
        return {}


def _sources_unchanged(sources: list[dict[str, str]], root: Path) -> bool:
    for entry in sources:
        p = root / entry["fichier"]
        try:
            if file_sha256(p) != entry["sha256"]:
                return False
        except OSError:
            return False
    return True


_validation_memo: dict[str, dict[str, list[str]]] = {}


def _validate_inputs(data_dir: Path, referential, data_files: dict[str, str], ref_hash: str,
                     lib_hash: str, previous: dict[str, Any], validator: Validator | None,
                     root: Path, sources_fn: Callable[[], list[dict[str, str]]] | None = None,
                     ) -> tuple[dict[str, list[str]], list[dict[str, str]], dict[str, Any]]:
    """(fiches per collection file, public/territory sources, manifest entry), with a cache.

    The sources of the last run are reused when none of their files changed (re-hashed, cheap);
    the validation is skipped when the collection files, the sources (territories are used to
    validate codes), the referential and the library are those of the last successful validation.
    """
    cached = previous.get("validation") or {}
    sources = cached.get("sources")
    if not (isinstance(sources, list) and sources and _sources_unchanged(sources, root)):
        sources = (sources_fn or public_sources)()
    key = _digest({"donnees": data_files, "sources": sources, "referentiel": ref_hash,
                   "bibliotheque": lib_hash,
                   "validateur": getattr(validator, "__qualname__", "collection")})
    if cached.get("cle") == key and isinstance(cached.get("fiches_par_fichier"), dict):
        mapping = cached["fiches_par_fichier"]
    elif key + str(data_dir) in _validation_memo:
        mapping = _validation_memo[key + str(data_dir)]
    else:
        mapping = (validator or validate_collection)(data_dir, referential)
        _validation_memo[key + str(data_dir)] = mapping
    return mapping, sources, {"cle": key, "fiches_par_fichier": mapping, "sources": sources}


def _due_fiches(referential, year: int) -> list[str]:
    try:
        from .schedule import due_fiches
    except ImportError:  # pragma: no cover - schedule.py is part of the package
        return list(referential.fiche_ids)
    return [getattr(f, "id", f) for f in due_fiches(referential, year)]


def _titles(referential, year: int) -> dict[str, str]:
    titles = {f"fiche-{f.id}": f"Fiche {f.id} — {f.titre} — évaluation {year}" for f in referential.fiches}
    titles["synthese"] = f"Synthèse {year} — {referential.plan.titre}"
    titles["diagnostic"] = f"Diagnostic départemental {year} — {referential.plan.titre}"
    return titles


def plan_year(year: int, *, params: dict[str, Any], referential, notebooks: dict[str, Path],
              out_dir: Path, fiches: Iterable[str] | None = None, force: bool = False,
              lib_hash: str, validator: Validator | None = None, root: Path,
              params_display: str = "",
              sources: Callable[[], list[dict[str, str]]] | None = None) -> YearPlan:
    """Validate a year's inputs and decide, page by page, what must be rendered (no kernel)."""
    plan_years = list(referential.plan.years)
    if year not in plan_years:
        raise UsageError(f"L'année {year} est hors du plan ({referential.plan.annee_debut}-"
                         f"{referential.plan.annee_fin}). Années valides : "
                         f"{', '.join(map(str, plan_years))} ou « all ».")
    due = _due_fiches(referential, year)
    wanted = [str(f).strip() for f in (fiches or [])]
    unknown = [f for f in wanted if f not in referential.fiche_ids]
    if unknown:
        raise UsageError(f"Fiche(s) inconnue(s) : {', '.join(unknown)}. Fiches du plan : "
                         f"{', '.join(referential.fiche_ids)}.")
    notes = []
    if wanted:
        not_due = [f for f in wanted if f not in due]
        if not_due:
            notes.append(f"{year} : fiche(s) {', '.join(not_due)} non prévue(s) cette année par leur "
                         f"fréquence ; produite(s) quand même à la demande.")
        order = {fid: i for i, fid in enumerate(referential.fiche_ids)}
        selected = sorted(dict.fromkeys(wanted), key=order.__getitem__)
    else:
        selected = list(due)

    data_dir = _resolve(root, params["data_dir"]) if params.get("data_dir") else paths.demo_dir()
    if not data_dir.is_dir():
        raise InputError(f"data_dir {params.get('data_dir')!r} : dossier introuvable (fichiers de "
                         f"collecte ; voir params/{year}.yaml ou --data).")
    ref_files = sorted(referential.files)
    ref_hash = _digest({Path(f).name: file_sha256(f) for f in ref_files})
    files = collection_files(data_dir)
    data_files = {f.relative_to(data_dir).as_posix(): file_sha256(f) for f in files}

    year_dir = out_dir / str(year)
    previous = load_manifest(year_dir)
    mapping, sources, validation = _validate_inputs(data_dir, referential, data_files, ref_hash,
                                                    lib_hash, previous, validator, root, sources)
    public = {e["fichier"]: e["sha256"] for e in sources if _is_public_file(e)}
    territory = {e["fichier"]: e["sha256"] for e in sources if not _is_public_file(e)}

    def files_of(fiche_id: str) -> dict[str, str]:
        return {name: data_files[name] for name, ids in mapping.items()
                if fiche_id in ids and name in data_files}

    nb_hash = {kind: file_sha256(p) for kind, p in notebooks.items() if Path(p).exists()}
    titles = _titles(referential, year)
    page_specs: list[tuple[str, str, str | None]] = [(f"fiche-{f}", "fiche", f) for f in selected]
    page_specs.append(("synthese", "synthese", None))
    if DIAGNOSTIC_FICHE in selected:
        page_specs.append(("diagnostic", "diagnostic", None))

    pages = []
    prev_pages = previous.get("pages") or {}
    for name, kind, fiche_id in page_specs:
        nb_path = Path(notebooks[kind])
        if not nb_path.exists():
            raise InputError(f"Notebook introuvable pour {name} : {display_path(nb_path, root)}.")
        declared = notebook_parameters(nb_path)
        page_params = {k: v for k, v in params.items() if k in declared}
        if "year" in declared:
            page_params["year"] = year
        if kind == "fiche":
            page_params["fiche_id"] = fiche_id
        if kind == "fiche":
            fiche = referential.fiche(fiche_id)
            data = files_of(fiche_id)
            if any(i.source == "public" for i in fiche.indicateurs):
                data.update(public)
        elif kind == "diagnostic":
            data = dict(public)
        else:
            data = dict(data_files)
            data.update(public)
        data.update(territory)
        inputs = {"notebook": nb_hash[kind], "parametres": page_params, "referentiel": ref_hash,
                  "bibliotheque": lib_hash, "donnees": dict(sorted(data.items()))}
        prev = prev_pages.get(name)
        reasons = cache_reasons(prev, inputs, page_exists=(year_dir / f"{name}.html").exists(),
                                force=force)
        pages.append(PagePlan(name=name, kind=kind, fiche=fiche_id, title=titles[name],
                              notebook=nb_path, parameters=page_params, inputs=inputs,
                              reasons=reasons, previous=prev))
    indicators_key = _digest({"donnees": data_files, "sources": sources, "referentiel": ref_hash,
                              "bibliotheque": lib_hash, "annee": year,
                              "parametres": {k: v for k, v in params.items()}})
    return YearPlan(year=year, year_dir=year_dir, referential=referential, params=params,
                    params_display=params_display, data_dir=data_dir, due=due, selected=selected,
                    pages=pages, data_files=data_files, sources=sources, fiches_by_file=mapping,
                    validation=validation, previous=previous, referential_hash=ref_hash,
                    library_hash=lib_hash, indicators_key=indicators_key, notes=notes)


# --- parameters --------------------------------------------------------------------------------

def load_params_file(path: Path) -> dict[str, Any]:
    """Read a ``params/<year>.yaml`` file: a mapping of parameter names to values."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError:
        raise UsageError(f"Fichier de paramètres introuvable : {path}. Donnez-en un avec "
                         f"--params FICHIER (modèle : params/2021.yaml).") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path} : YAML illisible ({' '.join(str(exc).split())[:200]}).") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path} : attendu des paires « nom: valeur » (un dictionnaire YAML).")
    return {str(k): v for k, v in data.items()}


def resolve_params(raw: dict[str, Any], *, year: int, declared: set[str], source: str,
                   data: str | None = None, referentiel: str | None = None,
                   root: Path) -> dict[str, Any]:
    """Final parameters of a year: the file's values checked against the parameters the notebooks
    declare, ``--data`` / ``--referentiel`` overrides (paths given on the command line are relative
    to the current folder), paths normalised relative to the project root."""
    params = dict(raw)
    unknown = sorted(k for k in params if k not in declared)
    if unknown:
        raise UsageError(f"{source} : paramètre(s) inconnu(s) {', '.join(map(repr, unknown))} ; "
                         f"paramètres déclarés par les notebooks : {', '.join(sorted(declared))}.")
    if "fiche_id" in params:
        raise UsageError(f"{source} : fiche_id est fixé par le runner pour chaque fiche ; "
                         f"choisissez des fiches avec --fiche.")
    if "year" in params and str(params["year"]).strip() != str(year):
        raise UsageError(f"{source} indique year: {params['year']}, différent de --year {year}.")
    params["year"] = year
    if data is not None:
        params["data_dir"] = _page_path_arg(Path(data).expanduser().resolve(), root)
    elif "data_dir" in params:
        params["data_dir"] = _page_path_arg(_resolve(root, str(params["data_dir"])), root)
    if referentiel is not None:
        params["referentiel"] = _page_path_arg(Path(referentiel).expanduser().resolve(), root)
    elif "referentiel" in params:
        params["referentiel"] = _page_path_arg(_resolve(root, str(params["referentiel"])), root)
    if "secret_threshold" in params:
        from .parameters import ParameterError, check_threshold

        try:
            params["secret_threshold"] = check_threshold(params["secret_threshold"])
        except ParameterError as exc:
            raise InputError(f"{source} : {exc}") from None
    return params


# --- indicators table --------------------------------------------------------------------------

def write_indicators(plan: YearPlan, tmp_dir: Path) -> tuple[list[Path], dict[str, str]]:
    """Write ``indicateurs.csv`` / ``.xlsx`` of the year into ``tmp_dir`` and compute the due
    fiches' statuses, from the same inputs as the pages (:func:`plancadre_eval.evaluation.load_context`:
    validated collection, territories, public series, expected territories, secrecy threshold) and
    the engine of :mod:`plancadre_eval.indicators`, as the synthesis does.

    Returns ``(files written, {fiche id: statut})``.
    """
    from . import evaluation, parameters
    from .export import write_indicator_table

    settings = parameters.validate(year=plan.year, referentiel=plan.referential.folder,
                                   data_dir=str(plan.data_dir),
                                   secret_threshold=plan.params.get("secret_threshold", 5))
    ctx = evaluation.load_context(settings)
    table = ctx.engine.table(ctx.year)
    written = write_indicator_table(table, tmp_dir)
    statuses = ctx.engine.statuses(ctx.year, plan.due)
    status_map = {str(f): str(s) for f, s in zip(statuses["fiche"], statuses["statut"])}
    return [Path(p) for p in written.values()], status_map


# --- running -----------------------------------------------------------------------------------

@dataclass
class RunResult:
    """Outcome of a run: one record per page considered, the exit code (0 ok, 1 failure)."""

    records: list[PageRecord]
    out_dir: Path
    years: list[int]
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[PageRecord]:
        return [r for r in self.records if r.status == STATUS_FAILED]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def default_notebooks(root: Path | None = None) -> dict[str, Path]:
    """The notebooks of each kind of page: ``notebooks/`` of the project, or the folder named by
    the environment variable ``PLANCADRE_NOTEBOOKS`` (e.g. to measure other notebooks)."""
    env = os.environ.get("PLANCADRE_NOTEBOOKS")
    base = Path(env).resolve() if env else ((root / "notebooks") if root else paths.notebooks_dir())
    return {kind: base / name for kind, name in NOTEBOOK_FILES.items()}


def _progress(total: int, quiet: bool):
    if quiet or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, unit="page", dynamic_ncols=True, leave=True,
                desc="rendu", bar_format="{desc} {bar} {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")


def _make_executor(jobs: int, scheduler: str | None):
    """(executor, dask client or None)."""
    if scheduler:
        try:
            from dask.distributed import Client
        except ImportError:  # pragma: no cover - dask is a dependency
            raise UsageError("--scheduler demande dask.distributed, absent de l'environnement.") from None
        try:
            client = Client(scheduler, timeout="20s")
        except Exception as exc:
            raise UsageError(f"Ordonnanceur Dask injoignable à {scheduler} : "
                             f"{' '.join(str(exc).split())[:300]}") from None
        return client.get_executor(pure=False), client
    return cf.ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="plancadre-page"), None


def run_years(
    requests: list[tuple[int, dict[str, Any]]],
    *,
    referential,
    notebooks: dict[str, Path] | None = None,
    out_dir: str | os.PathLike | None = None,
    fiches: Iterable[str] | None = None,
    jobs: int | None = None,
    force: bool = False,
    quiet: bool = True,
    executor: cf.Executor | None = None,
    scheduler: str | None = None,
    lib_hash: str | None = None,
    validator: Validator | None = None,
    root: str | os.PathLike | None = None,
    reuse_kernels: bool = True,
    warm_modules: Iterable[str] = DEFAULT_WARM_MODULES,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
    params_display: dict[int, str] | None = None,
    indicators_writer: Callable[[YearPlan, Path], tuple[list[Path], dict[str, str]]] | None = None,
    sources: Callable[[], list[dict[str, str]]] | None = None,
    page_function: Callable[[PageTask], PageResult] = None,
) -> RunResult:
    """Render the years of ``requests`` (``(year, parameters)`` pairs, parameters already resolved,
    see :func:`resolve_params`). Every year is validated and planned before any kernel starts.

    ``notebooks`` maps "fiche", "synthese", "diagnostic" to notebook paths (default: the project's
    ``notebooks/``); ``executor`` replaces the thread pool (``jobs`` threads) or ``scheduler`` (Dask
    address); ``lib_hash`` replaces :func:`library_hash` (tests); ``validator(data_dir,
    referential) -> {file: [fiche ids]}`` replaces :func:`validate_collection` and
    ``indicators_writer(plan, folder) -> (files, {fiche: statut})`` :func:`write_indicators`,
    ``sources() -> [edition dicts]`` :func:`public_sources` and ``page_function(task) ->
    PageResult`` :func:`execute_page` (tests).
    """
    page_function = page_function or execute_page
    root = Path(root).resolve() if root else paths.project_root()
    out = Path(out_dir).resolve() if out_dir else paths.outputs_dir()
    notebooks = {k: Path(v).resolve() for k, v in (notebooks or default_notebooks(root)).items()}
    lib_hash = lib_hash or library_hash()
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1:
        raise UsageError(f"--jobs doit être au moins 1 (reçu {jobs}).")
    plans = [plan_year(year, params=params, referential=referential, notebooks=notebooks,
                       out_dir=out, fiches=fiches, force=force, lib_hash=lib_hash,
                       validator=validator, root=root,
                       params_display=(params_display or {}).get(year, ""), sources=sources)
             for year, params in requests]
    notes = [n for p in plans for n in p.notes]
    if not quiet:
        for n in notes:
            print(n, file=sys.stderr)

    token = uuid.uuid4().hex
    tasks: list[PageTask] = []
    for plan in plans:
        plan.year_dir.mkdir(parents=True, exist_ok=True)
        for page in plan.pages:
            if page.to_render:
                tasks.append(PageTask(
                    year=plan.year, name=page.name, kind=page.kind, fiche=page.fiche,
                    notebook=str(page.notebook), notebook_display=display_path(page.notebook, root),
                    parameters=page.parameters, title=page.title, root=str(root), run_token=token,
                    reuse_kernels=reuse_kernels, warm_modules=tuple(warm_modules),
                    start_timeout=start_timeout, cell_timeout=cell_timeout))

    results: dict[tuple[int, str], PageResult] = {}
    indicator_outcome: dict[int, dict[str, Any]] = {}
    own_executor = executor is None
    client = None
    bar = _progress(len(tasks), quiet)
    side = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="plancadre-indicateurs")
    futures: dict[cf.Future, PageTask] = {}
    indicator_futures: dict[int, cf.Future] = {}
    completed = False
    try:
        indicator_futures = {plan.year: side.submit(_indicators_step, plan, force, indicators_writer)
                             for plan in plans}
        if tasks:
            if own_executor:
                executor, client = _make_executor(min(jobs, len(tasks)), scheduler)
            futures = {executor.submit(page_function, t): t for t in tasks}
            pending = set(futures)
            counts = {STATUS_OK: 0, STATUS_FAILED: 0}
            while pending:
                done, pending = cf.wait(pending, timeout=0.5, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    task = futures[fut]
                    try:
                        res = fut.result()
                    except Exception as exc:  # worker lost, pickling error...
                        res = PageResult(year=task.year, name=task.name, status=STATUS_FAILED, html=None,
                                         notebook_json=None, duration=0.0,
                                         error={"ename": type(exc).__name__,
                                                "evalue": " ".join(str(exc).split())[:2000],
                                                "cellule": None, "execution": None})
                    _write_page(out / str(task.year), res)
                    results[(task.year, task.name)] = res
                    counts[res.status] += 1
                    if bar is not None:
                        bar.update(1)
                if bar is not None:
                    running = [futures[f].name for f in pending if f.running()]
                    bar.set_description_str(("en cours : " + ", ".join(sorted(running)[:3])
                                             + ("…" if len(running) > 3 else "")) if running else "rendu",
                                            refresh=False)
                    bar.set_postfix_str(f"ok={counts[STATUS_OK]} échec={counts[STATUS_FAILED]}")
        for year, fut in indicator_futures.items():
            indicator_outcome[year] = fut.result()
        completed = True
    finally:
        if bar is not None:
            bar.close()
        if not completed:  # interrupted: start nothing more, stop the kernels at work
            for fut in list(futures) + list(indicator_futures.values()):
                fut.cancel()
            shutdown_kernels()
        side.shutdown(wait=True, cancel_futures=not completed)
        if own_executor and executor is not None:
            try:
                executor.shutdown(wait=True, cancel_futures=not completed)
            except TypeError:  # dask's ClientExecutor.shutdown(wait)
                executor.shutdown(wait=True)
        if client is not None:
            try:
                client.run(shutdown_kernels)
            except Exception:
                pass
            client.close()
        if own_executor:
            shutdown_kernels()

    records: list[PageRecord] = []
    for plan in plans:
        year_records = _finalize_year(plan, results, indicator_outcome.get(plan.year), root)
        records.extend(year_records)
    _write_top_index(out, referential.plan.titre)
    return RunResult(records=records, out_dir=out, years=[p.year for p in plans], notes=notes)


def _write_page(year_dir: Path, res: PageResult) -> None:
    """Write a page's results atomically; a failure never touches the last good page."""
    year_dir.mkdir(parents=True, exist_ok=True)
    failed_nb = year_dir / f"{res.name}.echec.ipynb"
    if res.status == STATUS_OK and res.html is not None:
        if res.notebook_json is not None:
            write_atomic(year_dir / f"{res.name}.ipynb", res.notebook_json)
        write_atomic(year_dir / f"{res.name}.html", res.html)
        failed_nb.unlink(missing_ok=True)
    elif res.notebook_json is not None:
        write_atomic(failed_nb, res.notebook_json)
    else:
        failed_nb.unlink(missing_ok=True)


def _indicators_step(plan: YearPlan, force: bool, writer=None) -> dict[str, Any]:
    """Produce ``indicateurs.csv`` / ``.xlsx`` and the fiches' statuses unless their inputs did not
    change. Returns the manifest entry plus ``cache``, ``raison``, ``duree_s`` for the summary."""
    t0 = time.perf_counter()
    prev = plan.previous.get("indicateurs") or {}
    if (not force and prev.get("cle") == plan.indicators_key and prev.get("statut") == STATUS_OK
            and all((plan.year_dir / name).exists() for name in prev.get("fichiers", []))):
        return {**prev, "cache": CACHE_REUSED, "raison": REASON_UNCHANGED, "duree_s": 0.0}
    reason = REASON_FORCE if force else ("entrées modifiées" if prev.get("statut") == STATUS_OK
                                         else REASON_FAILED_BEFORE if prev else "tableau absent")
    tmp = Path(tempfile.mkdtemp(prefix=".indicateurs-", dir=plan.year_dir))
    try:
        files, statuses = (writer or write_indicators)(plan, tmp)
        for p in files:
            os.replace(p, plan.year_dir / p.name)
        return {"cle": plan.indicators_key, "statut": STATUS_OK, "fichiers": sorted(p.name for p in files),
                "statuts_fiches": statuses, "cache": CACHE_RENDERED, "raison": reason,
                "duree_s": round(time.perf_counter() - t0, 2)}
    except Exception as exc:
        error = f"{type(exc).__name__} : {' '.join(str(exc).split())[:500]}"
        return {"cle": None, "statut": STATUS_FAILED, "erreur": error,
                "fichiers": [n for n in prev.get("fichiers", []) if (plan.year_dir / n).exists()],
                "statuts_fiches": {}, "cache": CACHE_RENDERED, "raison": reason,
                "duree_s": round(time.perf_counter() - t0, 2)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _finalize_year(plan: YearPlan, results: dict[tuple[int, str], PageResult],
                   indicators: dict[str, Any] | None, root: Path) -> list[PageRecord]:
    """Manifest, year index and summary records of one year."""
    prev_pages = dict(plan.previous.get("pages") or {})
    pages_entry: dict[str, Any] = dict(prev_pages)  # pages not considered this time are kept
    records = []
    for page in plan.pages:
        res = results.get((plan.year, page.name))
        if res is None:  # reused
            entry = dict(page.previous or {})
            entry.update({"cache": CACHE_REUSED, "raison": REASON_UNCHANGED, "duree_s": 0.0})
            status, error, duration, reason, cache = STATUS_OK, None, 0.0, REASON_UNCHANGED, CACHE_REUSED
        else:
            status, error, duration = res.status, res.error, res.duration
            reason, cache = " ; ".join(page.reasons), CACHE_RENDERED
            entry = {
                "type": page.kind, "fiche": page.fiche, "titre": page.title,
                "notebook": display_path(page.notebook, root),
                "statut": status, "cache": cache, "raison": reason, "duree_s": duration,
                "erreur": error, "entrees": page.inputs,
                "html": f"{page.name}.html",
                "notebook_execute": f"{page.name}.ipynb" if status == STATUS_OK else f"{page.name}.echec.ipynb",
                "meta": res.meta,
            }
            if status == STATUS_FAILED and page.previous and page.previous.get("statut") == STATUS_OK:
                entry["derniere_reussite"] = page.previous.get("entrees")
        pages_entry[page.name] = entry
        records.append(PageRecord(year=plan.year, name=page.name, kind=page.kind, fiche=page.fiche,
                                  status=status, cache=cache, reason=reason, duration=duration,
                                  error=error))

    ind = dict(indicators or {})
    cache, reason, duration = ind.pop("cache", None), ind.pop("raison", ""), ind.pop("duree_s", 0.0)
    if cache is not None:
        failed = ind.get("statut") == STATUS_FAILED
        records.append(PageRecord(
            year=plan.year, name="indicateurs", kind="indicateurs", fiche=None,
            status=STATUS_FAILED if failed else STATUS_OK, cache=cache, reason=reason,
            duration=duration,
            error={"ename": "indicateurs", "evalue": ind.get("erreur"), "cellule": None,
                   "execution": None} if failed else None))
    ind_entry = ind

    html = render_year_index(plan, pages_entry, root, ind_entry.get("statuts_fiches") or {})
    index_path = plan.year_dir / "index.html"
    existed = index_path.exists()
    changed = not existed or index_path.read_bytes() != html.encode("utf-8")
    if changed:
        write_atomic(index_path, html)
    records.append(PageRecord(year=plan.year, name="index", kind="index", fiche=None, status=STATUS_OK,
                              cache=CACHE_RENDERED if changed else CACHE_REUSED,
                              reason=("contenu modifié" if existed else REASON_MISSING)
                              if changed else REASON_UNCHANGED, duration=0.0))

    manifest = {
        "format": MANIFEST_FORMAT,
        "annee": plan.year,
        "date_execution": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "bibliotheque": {"version": __version__, "empreinte": plan.library_hash},
        "referentiel": {"dossier": display_path(plan.referential.folder, root),
                        "empreinte": plan.referential_hash},
        "parametres": plan.params,
        "fichier_parametres": plan.params_display,
        "donnees": {"dossier": display_path(plan.data_dir, root), "fichiers": plan.data_files},
        "fiches_dues": plan.due,
        "fiches_demandees": plan.selected,
        "validation": plan.validation,
        "indicateurs": ind_entry,
        "pages": dict(sorted(pages_entry.items(), key=lambda kv: _page_order(kv[0]))),
    }
    write_atomic(plan.year_dir / MANIFEST_NAME,
                 json.dumps(manifest, ensure_ascii=False, indent=1, default=str) + "\n")
    return records


def _page_order(name: str) -> tuple:
    from .referential import fiche_sort_key

    if name.startswith("fiche-"):
        return (0, fiche_sort_key(name[len("fiche-"):]))
    return (1, name)


# --- indexes -----------------------------------------------------------------------------------

def render_year_index(plan: YearPlan, pages: dict[str, Any], root: Path,
                      fiche_statuses: dict[str, str] | None = None) -> str:
    """The year's ``index.html`` (deterministic: no date, no duration, no cache decision)."""
    ref = plan.referential
    shown = [f for f in ref.fiche_ids if f in plan.due or f"fiche-{f}" in pages]

    def page_row(name: str) -> dict[str, Any]:
        entry = pages.get(name)
        exists = (plan.year_dir / f"{name}.html").exists()
        if entry is None:
            return {"statut": "non produite", "lien": None, "echec": None, "erreur": None,
                    "statut_fiche": None}
        failed = entry.get("statut") == STATUS_FAILED
        err = entry.get("erreur") or {}
        message = None
        if failed:
            cell = f"cellule In [{err['execution']}]" if err.get("execution") else (
                f"cellule n° {err['cellule']}" if err.get("cellule") is not None else "exécution")
            message = f"{cell} : {err.get('ename', '')} : {err.get('evalue', '')}".strip()
        return {
            "statut": STATUS_FAILED if failed else STATUS_OK,
            "lien": f"{name}.html" if exists else None,
            "echec": f"{name}.echec.ipynb" if failed and (plan.year_dir / f"{name}.echec.ipynb").exists() else None,
            "erreur": message,
            "statut_fiche": None,
        }

    axes = []
    for axis in ref.axes:
        rows = []
        for f in ref.fiches:
            if f.axe != axis.id or f.id not in shown:
                continue
            row = {"id": f.id, "titre": f.titre, "due": f.id in plan.due, **page_row(f"fiche-{f.id}")}
            meta = (pages.get(f"fiche-{f.id}") or {}).get("meta") or {}
            row["statut_fiche"] = (fiche_statuses or {}).get(f.id) or meta.get("statut_fiche")
            rows.append(row)
        if rows:
            axes.append({"id": axis.id, "titre": axis.titre, "fiches": rows})
    others = []
    for name, label in (("synthese", "Synthèse de l'année"), ("diagnostic", "Diagnostic départemental")):
        if name in pages or name == "synthese":
            others.append({"nom": name, "libelle": label, **page_row(name)})
    data_dir = _shown_path(plan.data_dir, root)
    data_files = [{"fichier": f"{data_dir}/{name}", "sha256": sha,
                   "fiches": ", ".join(plan.fiches_by_file.get(name, []))}
                  for name, sha in sorted(plan.data_files.items())]
    indicators = [name for name in ("indicateurs.csv", "indicateurs.xlsx")
                  if (plan.year_dir / name).exists()]
    n_failed = sum(1 for name in pages if pages[name].get("statut") == STATUS_FAILED
                   and (name.startswith("fiche-") and name[6:] in shown or name in ("synthese", "diagnostic")))
    params = {k: (_shown_path(_resolve(root, v), root) if k in ("data_dir", "referentiel") else v)
              for k, v in plan.params.items()}
    return render_page(
        "annee.html.j2",
        annee=plan.year, plan=ref.plan, axes=axes, autres=others, donnees=data_files,
        dossier_donnees=data_dir, sources=plan.sources, indicateurs=indicators,
        parametres=params, referentiel=_shown_path(ref.folder, root),
        empreinte_referentiel=plan.referential_hash, empreinte_bibliotheque=plan.library_hash,
        n_echecs=n_failed, demonstration=(plan.data_dir / "DEMONSTRATION").exists(),
    )


def _write_top_index(out: Path, title: str) -> None:
    """``outputs/index.html``: the years present, with their numbers of pages and failures."""
    years = []
    for d in sorted(out.iterdir()) if out.exists() else []:
        if d.is_dir() and d.name.isdigit() and (d / "index.html").exists():
            manifest = load_manifest(d)
            pages = manifest.get("pages") or {}
            ok = sum(1 for p in pages.values() if p.get("statut") == STATUS_OK)
            failed = sum(1 for p in pages.values() if p.get("statut") == STATUS_FAILED)
            years.append({"annee": d.name, "pages": ok, "echecs": failed})
    html = render_page("accueil.html.j2", annees=years, titre=title)
    path = out / "index.html"
    if not path.exists() or path.read_bytes() != html.encode("utf-8"):
        write_atomic(path, html)


# --- summary -----------------------------------------------------------------------------------

def format_summary(records: list[PageRecord]) -> str:
    """The table printed at the end of a run: page, statut, cache, durée, raison."""
    multi_year = len({r.year for r in records}) > 1
    rows = [("page", "statut", "cache", "durée", "raison")]
    for r in records:
        name = f"{r.year}/{r.name}" if multi_year else r.name
        reason = r.reason
        if r.status == STATUS_FAILED and r.error:
            where = f" (In [{r.error['execution']}])" if r.error.get("execution") else ""
            reason = f"{reason} — {r.error.get('ename')}{where} : {r.error.get('evalue')}"
        duration = f"{r.duration:.1f} s" if r.cache == CACHE_RENDERED and r.kind not in ("index",) else "—"
        rows.append((name, r.status, r.cache, duration, " ".join(reason.split())[:160]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[j]) for j, c in enumerate(row[:4])) + "  " + row[4])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    n_fail = sum(1 for r in records if r.status == STATUS_FAILED)
    n_rendered = sum(1 for r in records if r.cache == CACHE_RENDERED and r.kind not in ("index",))
    n_reused = sum(1 for r in records if r.cache == CACHE_REUSED and r.kind not in ("index",))
    lines.append(f"{n_rendered} produite(s), {n_reused} réutilisée(s), {n_fail} échec(s).")
    return "\n".join(lines)


# --- command line ------------------------------------------------------------------------------

def _load_referential(path: str | os.PathLike | None):
    from .referential import ReferentialError, load_referential

    try:
        return load_referential(path)
    except ReferentialError as exc:
        raise InputError(str(exc)) from None


def prepare_requests(args: argparse.Namespace, *, root: Path | None = None,
                     notebooks: dict[str, Path] | None = None):
    """(referential, [(year, params)], {year: params file shown}) from the ``run`` arguments;
    raises :class:`UsageError` / :class:`InputError`."""
    root = Path(root).resolve() if root else paths.project_root()
    notebooks = notebooks or default_notebooks(root)
    year_arg = str(args.year).strip()

    def params_file(year: int | str) -> Path:
        if args.params:
            return Path(args.params).expanduser().resolve()
        return root / "params" / f"{year}.yaml"

    # Referential: --referentiel, else the one named by the year's params file (or --params), else
    # the shipped plan.
    if args.referentiel:
        ref_path: Path | None = Path(args.referentiel).expanduser().resolve()
    else:
        ref_path = None
        first = params_file(year_arg) if (args.params or year_arg.isdigit()) else None
        if first is not None and first.is_file():
            raw = load_params_file(first)
            if raw.get("referentiel"):
                ref_path = _resolve(root, str(raw["referentiel"]))
    referential = _load_referential(ref_path)
    plan_years = list(referential.plan.years)
    valid = ", ".join(map(str, plan_years))
    if year_arg.lower() in ("all", "toutes"):
        years = plan_years
    else:
        try:
            years = [int(year_arg)]
        except ValueError:
            raise UsageError(f"--year {year_arg!r} : attendu une année du plan ({valid}) ou « all ».") from None
        if years[0] not in plan_years:
            raise UsageError(f"L'année {years[0]} est hors du plan ({referential.plan.annee_debut}-"
                             f"{referential.plan.annee_fin}). Années valides : {valid} ou « all ».")
    unknown = [f for f in (args.fiche or []) if str(f).strip() not in referential.fiche_ids]
    if unknown:
        raise UsageError(f"Fiche(s) inconnue(s) : {', '.join(unknown)}. Fiches du plan : "
                         f"{', '.join(referential.fiche_ids)}.")
    declared: set[str] = set()
    for kind, nb in notebooks.items():
        if not Path(nb).exists():
            raise InputError(f"Notebook introuvable : {display_path(nb, root)}.")
        declared |= set(notebook_parameters(nb))
    requests, shown = [], {}
    for year in years:
        pfile = params_file(year)
        raw = load_params_file(pfile)
        if args.params and len(years) > 1:
            raw.pop("year", None)  # one --params file for every year: its year is each year
        params = resolve_params(raw, year=year, declared=declared,
                                source=display_path(pfile, root), data=args.data,
                                referentiel=args.referentiel, root=root)
        if params.get("referentiel") and _resolve(root, params["referentiel"]).resolve() != \
                Path(referential.folder).resolve():
            raise UsageError(f"{display_path(pfile, root)} : référentiel {params['referentiel']!r} "
                             f"différent de celui des autres années ; lancez les années séparément.")
        requests.append((year, params))
        shown[year] = display_path(pfile, root)
    return referential, requests, shown


def command_run(args: argparse.Namespace) -> int:
    """``plancadre-eval run``: 0 when every page is rendered, 1 if any failed or the input is
    invalid, 2 on usage errors. Progress on stderr, summary table on stdout."""
    t0 = time.perf_counter()
    import signal

    def _terminate(signum, frame):  # SIGTERM: stop like Ctrl-C (kernels shut down, pages intact)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        referential, requests, shown = prepare_requests(args)
        result = run_years(requests, referential=referential, out_dir=args.out, fiches=args.fiche,
                           jobs=args.jobs, force=args.force, quiet=args.quiet,
                           scheduler=args.scheduler, params_display=shown)
    except UsageError as exc:
        print(f"plancadre-eval run : erreur : {exc}", file=sys.stderr)
        return 2
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        print("Aucune page produite : corrigez ces problèmes puis relancez (plancadre-eval check "
              "pour les données).", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        shutdown_kernels()
        print("\nInterrompu : les pages déjà écrites sont complètes, les autres sont inchangées.",
              file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if not args.quiet:
        print(format_summary(result.records))
        print(f"Pages dans {result.out_dir} ({time.perf_counter() - t0:.1f} s).")
    for r in result.failed:
        if args.quiet:
            err = r.error or {}
            print(f"échec : {r.year}/{r.name} : {err.get('ename')} : {err.get('evalue')}", file=sys.stderr)
    return result.exit_code

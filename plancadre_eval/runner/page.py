"""One page: execute a notebook with papermill in a pooled kernel, render it to HTML."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .constants import (
    DEFAULT_CELL_TIMEOUT, DEFAULT_START_TIMEOUT, DEFAULT_WARM_MODULES, KERNEL_NAME, STATUS_FAILED,
    STATUS_OK,
)
from .kernels import IMPORT_LOCK, acquire_kernel, import_jupyter_client, release_kernel

#: Words of the back link of pages that are not in a year's folder (``outputs/bilan.html``).
BACK_TEXTS = {"bilan": "Retour à l'accueil des évaluations"}


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
    complement: str | None = None  # absolute path of the fiche's complement, run after it
    keep_kernel: bool = False  # start kernels that may outlive the run (``--garder-noyau``)


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



#: Id given to the cell of parameters papermill injects (papermill draws a random one).
INJECTED_CELL_ID = "parametres-injectes"


def clean_executed_notebook(nb, *, input_path: str, output_path: str):
    """Executed notebook as kept for audit: papermill/nbclient timestamps removed, paths shown
    relative to the project (``input_path``, ``output_path``), and the id of the cell papermill
    injects (random) made fixed, so that the same inputs give the same bytes. Modifies and
    returns ``nb``."""
    pm = nb.metadata.get("papermill")
    if pm is not None:
        for key in ("start_time", "end_time", "duration"):
            pm.pop(key, None)
        pm["input_path"] = input_path
        pm["output_path"] = output_path
    ids = {cell.get("id") for cell in nb.cells}
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []) \
                and INJECTED_CELL_ID not in ids:
            cell["id"] = INJECTED_CELL_ID
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


def _without_iri_grammar() -> None:
    """Keep jsonschema (imported by nbformat) from loading ``rfc3987_syntax``, its optional IRI
    format checker, which compiles a Lark grammar at import: 1 s on a quiet core, 4 s under load,
    in every process that imports nbformat. Notebook validation never checks IRIs. Only in the
    runner's own process (this module is not imported by kernels), and only if jsonschema is not
    loaded yet."""
    import sys

    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


_without_iri_grammar()  # before any import of nbformat by this process


_preload_started = threading.Event()


def start_preload() -> None:
    """Run :func:`import_stack` in a thread, once per process, while the kernels start, so that
    their first page does not wait for it (``run --fiche`` starts it first thing; the run starts
    it again when it has pages to render)."""
    if not _preload_started.is_set():
        _preload_started.set()
        threading.Thread(target=import_stack, name="plancadre-imports", daemon=True).start()


_stack_imported = threading.Event()


def import_stack() -> None:
    """Import the execution and rendering stack (jupyter_client, nbformat, papermill, nbconvert
    and the HTML exporter), once per process and one thread at a time, as
    :func:`~plancadre_eval.runner.kernels.import_jupyter_client` does and for the same reason:
    page threads and the preload thread would otherwise import these packages together."""
    if _stack_imported.is_set():
        return
    import_jupyter_client()  # first, alone: kernels can start while the rest is imported
    with IMPORT_LOCK:
        if not _stack_imported.is_set():
            import nbformat  # noqa: F401
            import papermill  # noqa: F401

            from ..rendering import _exporter

            _exporter()
            _stack_imported.set()


def execute_page(task: PageTask) -> PageResult:
    """Execute one notebook with papermill and render it to HTML, in this process.

    Never raises for a failing notebook: the result then has ``status == "échec"`` and ``error``
    (``ename``, ``evalue``, ``cellule``: index of the failing cell in the saved
    ``<page>.echec.ipynb``, ``execution``: its ``In [n]`` number). Runs in executor threads and on Dask workers.
    """
    t0 = time.perf_counter()
    error: dict[str, Any] | None = None
    nb = None
    healthy = True
    tmpdir = tempfile.mkdtemp(prefix="plancadre-run-")
    out_path = os.path.join(tmpdir, "execute.ipynb")
    kernel = None
    notebook = task.notebook
    try:
        # the kernel first: it starts in its own process while this one imports papermill
        kernel = acquire_kernel(task)
        try:
            kernel.prepare()
        except Exception:  # a reused kernel that cannot be reset is replaced by a new one
            release_kernel(kernel, healthy=False)
            kernel = acquire_kernel(task)
            kernel.prepare()
        import_stack()
        import nbformat
        import papermill

        if task.complement:
            from .complements import combine

            notebook = os.path.join(tmpdir, "input.ipynb")
            nbformat.write(combine(nbformat.read(task.notebook, as_version=4),
                                   nbformat.read(task.complement, as_version=4),
                                   os.path.basename(task.complement)), notebook)
        nb = papermill.execute_notebook(
            notebook, out_path, parameters=dict(task.parameters), kernel_name=KERNEL_NAME,
            progress_bar=False, log_output=False, request_save_on_cell_execute=False,
            start_timeout=task.start_timeout, execution_timeout=task.cell_timeout,
            km=kernel.km, record_timing=False,
        )
    except Exception as exc:  # kernel died, timeout, unreadable notebook, failing cell...
        import_stack()
        from papermill.exceptions import PapermillExecutionError

        if isinstance(exc, PapermillExecutionError):
            error = {"ename": exc.ename, "evalue": str(exc.evalue), "cellule": exc.cell_index,
                     "execution": exc.exec_count}
        else:
            healthy = False
            error = {"ename": type(exc).__name__, "evalue": " ".join(str(exc).split())[:2000],
                     "cellule": None, "execution": None}
    finally:
        if kernel is not None:
            release_kernel(kernel, healthy)
            if healthy and kernel.pooled:
                try:
                    kernel.start_reset()  # overlaps the kernel's reset with the rendering below
                except Exception:
                    pass
    import nbformat

    from ..rendering import render_html

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
            html = render_html(nb, task.title, back_text=BACK_TEXTS.get(task.kind))
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


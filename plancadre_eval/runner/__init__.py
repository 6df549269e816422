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

How it works (in this order, so that bad input never executes a notebook):

1. parameters (``params/<Y>.yaml``, ``--params``, ``--data``, ``--referentiel``) and the referential
   are validated, then the collection files (:func:`plancadre_eval.collection.load_collection`, the
   same messages as ``check``; skipped when no input file changed since the last successful
   validation, see ``validation`` in ``manifest.json``). Usage errors exit 2, bad input exits 1.
2. Each page gets its inputs' hashes: the notebook, its parameters, the data files it reads (the
   collection files holding rows of the fiche, plus the public data files for fiches with public
   indicators and the diagnostic, plus the territory files; the synthesis reads everything), the
   referential and the library (SHA-256 of ``plancadre_eval/**/*.py`` and ``templates/**``). A page
   whose inputs did not change since its last successful render is reused; otherwise the summary
   says why it is re-rendered. When pages will surely be rendered (``--force``, a year never
   rendered into the output folder or by another library, a fiche asked for whose page is
   absent), the kernels start during steps 1 and 2 instead of after them; bad input then stops
   them before any notebook runs.
3. Pages are executed with papermill (python API) and rendered with nbconvert
   (:func:`plancadre_eval.rendering.render_html`) by a :mod:`concurrent.futures` executor: a
   thread pool (``--jobs``, default the number of cores) or a Dask cluster (``--scheduler``). Each
   worker thread keeps a warm kernel ("python3", started in the project root with the heavy modules
   imported once) and resets it (``%reset -f``, matplotlib/pandas/warnings/cwd/environment restored,
   execution counter back to 1) before each notebook: kernel start-up and imports are paid once per
   worker, not once per page (the library stays loaded, so its caches — the validated collection,
   territories, public series — serve every page of the run). A kernel that died or timed out is
   replaced. The bilan, when the run renders one, is decided before the pages and runs with them,
   first (:mod:`.bilan`). With ``--garder-noyau`` one kernel outlives the command and the next
   ``run`` of the project adopts it (:mod:`.resident`).
4. Results are written as they arrive, each through a temporary file and :func:`os.replace`; one
   failing notebook never stops the others; the exit code is 1 if anything failed, else 0.

A bad collection file stops only its fiches (:mod:`plancadre_eval.exclusions`): their pages are not
rendered (the previous page stays), they are failed in the summary, the index and
``manifest.json`` (``erreur.problemes``: the ``FICHIER:LIGNE: colonne …`` lines), and every other
page is produced without their rows (the synthesis names them). A problem no fiche can be named for
(unreadable file, unknown fiche and indicator) still stops the whole year before any notebook.

The heavy modules (papermill, nbconvert, pandas, dask) are imported only when something has to be
rendered: a run where nothing changed takes well under two seconds.

The package: :mod:`.constants` (vocabulary), :mod:`.kernel_setup` (run inside each pooled kernel),
:mod:`.kernels` (the pool), :mod:`.page` (one page), :mod:`.planning` (pages, inputs, cache
reasons), :mod:`.report` (indicators table, manifest, indexes, summary); this module runs the years
(:func:`run_years`) and the command (:func:`command_run`). Hashing and paths come from
:mod:`plancadre_eval.provenance`, params files from :mod:`plancadre_eval.parameters`.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .. import paths
from ..parameters import InputError, UsageError, load_params_file, resolve_params
from ..provenance import display_path, library_hash
from .constants import (
    DEFAULT_CELL_TIMEOUT, DEFAULT_START_TIMEOUT, DEFAULT_WARM_MODULES, ERROR_INVALID_DATA,
    NOTEBOOK_FILES, STATUS_FAILED, STATUS_OK,
)
from .kernels import (
    discard_prestarted, keep_one_kernel, offer_kept_kernel, prestart_kernels, shutdown_kernels,
)
from .page import PageResult, PageTask, execute_page, start_preload
from .planning import Validator, YearPlan, expects_rendering, notebook_parameters, plan_year
from .report import (
    PageRecord, finalize_year, format_failure, format_summary, format_total, indicators_step,
    write_multi_year_table, write_page, write_top_index,
)

__all__ = [
    "InputError", "PageRecord", "PageResult", "PageTask", "RunHooks", "RunResult", "UsageError",
    "YearPlan", "command_run", "default_notebooks", "execute_page", "format_summary",
    "plan_year", "prepare_requests", "run_years", "shutdown_kernels",
]


# --- running -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunHooks:
    """Replacements for parts of a run (tests): ``executor`` replaces the thread pool or the Dask
    cluster; ``lib_hash`` :func:`~plancadre_eval.provenance.library_hash`; ``validator(data_dir,
    referential) -> {file: [fiche ids]}`` :func:`~.planning.validate_collection`;
    ``indicators_writer(plan, folder) -> (files, {fiche: statut})`` :func:`~.report.write_indicators`;
    ``sources() -> [edition
    dicts]`` :func:`~.planning.public_sources`; ``page_function(task) -> PageResult``
    :func:`~.page.execute_page`.
    ``None`` keeps the real one."""

    executor: cf.Executor | None = None
    lib_hash: str | None = None
    validator: Validator | None = None
    indicators_writer: Callable[[YearPlan, Path], tuple[list[Path], dict[str, str]]] | None = None
    sources: Callable[[], list[dict[str, str]]] | None = None
    page_function: Callable[[PageTask], PageResult] | None = None


@dataclass
class RunResult:
    """Outcome of a run: one record per page considered, the exit code (0 ok, 1 failure)."""

    records: list[PageRecord]
    out_dir: Path
    years: list[int]
    notes: list[str] = field(default_factory=list)
    fiches: dict[int, int] = field(default_factory=dict)  # year -> fiches considered
    plan_fiches: int = 0  # fiches in the plan

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


class _LineProgress:
    """Progress written to a file that is not a terminal (a log): one line per page, no bar."""

    def __init__(self, total: int, stream):
        self.total, self.stream, self.n = total, stream, 0

    def page_done(self, task: PageTask, res: PageResult) -> None:
        self.n += 1
        print(f"[{self.n}/{self.total}] {task.year}/{task.name} : {res.status} ({res.duration:.1f} s)",
              file=self.stream, flush=True)

    def running(self, names: list[str], counts: dict[str, int]) -> None:
        pass

    def close(self) -> None:
        pass


class _BarProgress:
    """A tqdm bar, for a terminal."""

    def __init__(self, total: int, stream):
        from tqdm import tqdm

        self.bar = tqdm(total=total, file=stream, unit="page", dynamic_ncols=True, leave=True,
                        desc="rendu",
                        bar_format="{desc} {bar} {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")

    def page_done(self, task: PageTask, res: PageResult) -> None:
        self.bar.update(1)

    def running(self, names: list[str], counts: dict[str, int]) -> None:
        self.bar.set_description_str(("en cours : " + ", ".join(sorted(names)[:3])
                                      + ("…" if len(names) > 3 else "")) if names else "rendu",
                                     refresh=False)
        self.bar.set_postfix_str(f"ok={counts[STATUS_OK]} échec={counts[STATUS_FAILED]}")

    def close(self) -> None:
        self.bar.close()


def _progress(total: int, quiet: bool, stream=None):
    """Progress on stderr: a bar on a terminal, one line per page otherwise (a log), nothing when
    ``quiet`` or nothing is rendered."""
    stream = stream or sys.stderr
    if quiet or total == 0:
        return None
    isatty = getattr(stream, "isatty", None)
    return _BarProgress(total, stream) if isatty and isatty() else _LineProgress(total, stream)


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


def longest_first(tasks: list[PageTask], referential) -> list[PageTask]:
    """The pages in the order they are started: the longest first, so that no worker is left
    with a long page at the end while the others wait. The bilan (every year) comes first, then
    the synthesis and the diagnostic (every fiche, maps), then the fiches by decreasing number of
    indicators (one chart each, the largest share of a fiche page), then by year and name; the
    order is stable."""
    def weight(task: PageTask) -> tuple:
        if task.kind == "bilan":  # every year of the plan
            return (-1, 0, task.year, task.name)
        if task.kind != "fiche":
            return (0, 0, task.year, task.name)
        try:
            n = len(referential.fiche(task.fiche).indicateurs)
        except (KeyError, ValueError):
            n = 0
        return (1, -n, task.year, task.name)

    return sorted(tasks, key=weight)


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
    scheduler: str | None = None,
    root: str | os.PathLike | None = None,
    reuse_kernels: bool = True,
    warm_modules: Iterable[str] = DEFAULT_WARM_MODULES,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
    params_display: dict[int, str] | None = None,
    hooks: RunHooks | None = None,
    bilan: tuple[int, int] | None = None,
    bilan_params: dict[str, Any] | None = None,
    keep_kernel: bool = False,
) -> RunResult:
    """Render the years of ``requests`` (``(year, parameters)`` pairs, parameters already resolved,
    see :func:`resolve_params`). Every year is validated and planned before any notebook runs; when
    pages will surely be rendered (:func:`.planning.expects_rendering`) the kernels start meanwhile
    (:func:`.kernels.prestart_kernels`) and those no page takes are stopped.

    ``notebooks`` maps "fiche", "synthese", "diagnostic" to notebook paths (default: the project's
    ``notebooks/``); the pages run in a thread pool (``jobs`` threads) or on a Dask cluster
    (``scheduler`` address); ``hooks`` replaces parts of the run (tests, see :class:`RunHooks`).
    ``bilan`` ``(first, last)`` also renders the bilan page (:mod:`.bilan`) with ``bilan_params``
    (default: the parameters of the last year requested).
    A kernel kept warm by an earlier ``keep_kernel`` run of the same project is adopted by the
    first worker (thread pool only); with ``keep_kernel`` one kernel is kept warm when the run
    ends (:mod:`.resident`).
    """
    hooks = hooks or RunHooks()
    page_function = hooks.page_function or execute_page
    bilan_outcome: dict[str, Any] | None = None
    executor, lib_hash, validator, sources = hooks.executor, hooks.lib_hash, hooks.validator, hooks.sources
    indicators_writer = hooks.indicators_writer
    root = Path(root).resolve() if root else paths.project_root()
    out = Path(out_dir).resolve() if out_dir else paths.outputs_dir()
    notebooks = {k: Path(v).resolve() for k, v in (notebooks or default_notebooks(root)).items()}
    lib_hash = lib_hash or library_hash()
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1:
        raise UsageError(f"--jobs doit être au moins 1 (reçu {jobs}).")
    fiches = None if fiches is None else list(fiches)  # read more than once below
    token = uuid.uuid4().hex
    from . import resident

    pooled_here = hooks.executor is None and not scheduler and reuse_kernels
    if pooled_here and page_function is execute_page and requests and \
            expects_rendering([y for y, _ in requests], out, force=force, lib_hash=lib_hash,
                              fiches=fiches):
        # the kernels start while the inputs are validated and the pages planned
        wanted = len(fiches) * len(requests) if fiches else jobs
        kept = 1 if resident.read(str(root)) is not None else 0
        prestart_kernels(min(jobs, wanted) - kept, root=str(root), token=token,
                         warm_modules=tuple(warm_modules), start_timeout=start_timeout,
                         detached=keep_kernel)
    try:
        plans = [plan_year(year, params=params, referential=referential, notebooks=notebooks,
                           out_dir=out, fiches=fiches, force=force, lib_hash=lib_hash,
                           validator=validator, root=root,
                           params_display=(params_display or {}).get(year, ""), sources=sources)
                 for year, params in requests]
    except BaseException:
        discard_prestarted()
        raise
    notes = [n for p in plans for n in p.notes]
    if not quiet:
        for n in notes:
            print(n, file=sys.stderr)

    kept_key = resident.compatibility_key(str(root), tuple(warm_modules), lib_hash)
    tasks: list[PageTask] = []
    for plan in plans:
        plan.year_dir.mkdir(parents=True, exist_ok=True)
        for page in plan.pages:
            if page.to_render:
                tasks.append(PageTask(
                    year=plan.year, name=page.name, kind=page.kind, fiche=page.fiche,
                    notebook=str(page.notebook),
                    notebook_display=display_path(page.notebook, root, absolute=True),
                    parameters=page.parameters, title=page.title, root=str(root), run_token=token,
                    reuse_kernels=reuse_kernels, warm_modules=tuple(warm_modules),
                    start_timeout=start_timeout, cell_timeout=cell_timeout,
                    complement=str(page.complement) if page.complement else None,
                    keep_kernel=keep_kernel))

    bilan_plan = None
    if bilan is not None and "bilan" in notebooks:
        from .bilan import plan_bilan
        from .planning import public_sources

        # the sources the years just checked (re-hashed, from the manifest): reading the public
        # files again would cost a second
        bilan_sources = (sources or ((lambda: plans[-1].sources) if plans else public_sources))()
        bilan_plan = plan_bilan(
            bilan, bilan_params or (requests[-1][1] if requests else {}), referential=referential,
            notebook=notebooks["bilan"], out=out, root=root, lib_hash=lib_hash, force=force,
            run_token=token, sources=bilan_sources,
            task_options=dict(reuse_kernels=reuse_kernels, warm_modules=tuple(warm_modules),
                              start_timeout=start_timeout, cell_timeout=cell_timeout,
                              keep_kernel=keep_kernel),
            planned_years={t.year for t in tasks if t.kind == "fiche"})
        if bilan_plan.task is not None:  # rendered with the years' pages, not after them
            tasks.append(bilan_plan.task)
    tasks = longest_first(tasks, referential)
    results: dict[tuple[int, str], PageResult] = {}
    for plan in plans:  # fiches stopped by their files' problems: failed, never rendered
        for page in plan.pages:
            if page.problems:
                res = PageResult(year=plan.year, name=page.name, status=STATUS_FAILED, html=None,
                                 notebook_json=None, duration=0.0,
                                 error={"ename": ERROR_INVALID_DATA,
                                        "evalue": " ; ".join(page.problems), "cellule": None,
                                        "execution": None, "problemes": list(page.problems)})
                write_page(plan.year_dir, res)
                results[(plan.year, page.name)] = res
    indicator_outcome: dict[int, dict[str, Any]] = {}
    bilan_result: PageResult | None = None
    own_executor = executor is None
    client = None
    bar = _progress(len(tasks), quiet)
    side = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="plancadre-indicateurs")
    futures: dict[cf.Future, PageTask] = {}
    indicator_futures: dict[int, cf.Future] = {}
    completed = False
    try:
        indicator_futures = {plan.year: side.submit(indicators_step, plan, force, indicators_writer)
                             for plan in plans}
        if tasks:
            if pooled_here and page_function is execute_page:
                # papermill, nbformat and nbconvert imported while the kernels start
                start_preload()
            if own_executor:
                executor, client = _make_executor(min(jobs, len(tasks)), scheduler)
            if pooled_here:
                offer_kept_kernel(resident.take(str(root), kept_key))
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
                    if task.kind == "bilan":
                        bilan_result = res
                    else:
                        write_page(out / str(task.year), res)
                        results[(task.year, task.name)] = res
                    counts[res.status] += 1
                    if bar is not None:
                        bar.page_done(task, res)
                if bar is not None:
                    bar.running([futures[f].name for f in pending if f.running()], counts)
        for year, fut in indicator_futures.items():
            indicator_outcome[year] = fut.result()
        if bilan_plan is not None:
            from .bilan import finish_bilan

            bilan_outcome = bilan_plan.outcome if bilan_plan.task is None else \
                finish_bilan(bilan_plan, bilan_result)
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
        offer_kept_kernel(None)
        discard_prestarted()  # more kernels started early than pages to render
        if completed and keep_kernel and pooled_here:
            keep_one_kernel(str(root), kept_key, resident.IDLE_MINUTES)
        if own_executor:
            shutdown_kernels()

    records: list[PageRecord] = []
    for plan in plans:
        year_records = finalize_year(plan, results, indicator_outcome.get(plan.year), root)
        records.extend(year_records)
        records.extend(dossier_step(plan))
    if bilan_outcome is not None:
        records.append(PageRecord(year=bilan[1], name=bilan_outcome["nom"], kind="bilan", fiche=None,
                                  status=bilan_outcome["statut"], cache=bilan_outcome["cache"],
                                  reason=bilan_outcome["raison"], duration=bilan_outcome["duree_s"],
                                  error=bilan_outcome["erreur"]))
    if plans:
        write_multi_year_table(out)
    write_top_index(out, referential.plan.titre, root)
    return RunResult(records=records, out_dir=out, years=[p.year for p in plans], notes=notes,
                     fiches={p.year: len(p.selected) for p in plans},
                     plan_fiches=len(referential.fiche_ids))



def dossier_step(plan: YearPlan) -> list[PageRecord]:
    """Rebuild ``dossier.html`` from the year's pages (:mod:`plancadre_eval.dossier`) when the
    synthesis is there; no kernel, written only when its content changed."""
    from .. import dossier
    from .constants import CACHE_RENDERED, CACHE_REUSED

    if not (plan.year_dir / "synthese.html").exists():
        return []
    try:
        _, changed = dossier.write_dossier(plan.year_dir, plan.referential)
    except (OSError, ValueError) as exc:
        return [PageRecord(year=plan.year, name="dossier", kind="dossier", fiche=None,
                           status=STATUS_FAILED, cache=CACHE_RENDERED, reason="dossier",
                           duration=0.0, error={"ename": type(exc).__name__, "evalue": str(exc),
                                                "cellule": None, "execution": None})]
    return [PageRecord(year=plan.year, name="dossier", kind="index", fiche=None, status=STATUS_OK,
                       cache=CACHE_RENDERED if changed else CACHE_REUSED,
                       reason="pages modifiées" if changed else "entrées inchangées", duration=0.0)]


# --- command line ------------------------------------------------------------------------------

def _load_referential(path: str | os.PathLike | None):
    from ..referential import ReferentialError, load_referential

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
    year_arg = str(args.year).strip() if args.year is not None else ""

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
                ref_path = paths.resolve(str(raw["referentiel"]), root=root)
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
        if kind == "bilan":  # checked only when a bilan is rendered (_requests_and_bilan)
            continue
        if not Path(nb).exists():
            raise InputError(f"Notebook introuvable : {display_path(nb, root, absolute=True)}.")
        declared |= set(notebook_parameters(nb))
    requests, shown = [], {}
    for year in years:
        pfile = params_file(year)
        raw = load_params_file(pfile)
        if args.params and len(years) > 1:
            raw.pop("year", None)  # one --params file for every year: its year is each year
        params = resolve_params(raw, year=year, declared=declared,
                                source=display_path(pfile, root, absolute=True), data=args.data,
                                referentiel=args.referentiel, root=root,
                                revue=getattr(args, "revue", None))
        if params.get("referentiel") and paths.resolve(params["referentiel"], root=root).resolve() != \
                Path(referential.folder).resolve():
            raise UsageError(f"{display_path(pfile, root, absolute=True)} : référentiel {params['referentiel']!r} "
                             f"différent de celui des autres années ; lancez les années séparément.")
        requests.append((year, params))
        shown[year] = display_path(pfile, root, absolute=True)
    return referential, requests, shown


def _requests_and_bilan(args: argparse.Namespace):
    """:func:`prepare_requests` plus the bilan to render: ``--bilan [PÉRIODE]``, or the whole plan
    when the run covers the plan's last year; ``run --bilan`` without ``--year`` renders the bilan
    only, with the parameters of its last year."""
    from .bilan import parse_period

    wanted = getattr(args, "bilan", None)
    notebook = default_notebooks().get("bilan")
    if notebook is None or not notebook.exists():
        if wanted is not None:
            raise InputError(f"Notebook introuvable : {display_path(notebook, absolute=True)}.")
        return (*prepare_requests(args), None, None)  # no bilan notebook: the years only
    if args.year is None:
        if wanted is None:
            raise UsageError("--year est requis (une année du plan ou « all »), sauf avec --bilan.")
        referential = _load_referential(args.referentiel)
        period = parse_period(wanted, referential)
        referential, requests, shown = prepare_requests(argparse.Namespace(**{**vars(args), "year": str(period[1])}))
        return referential, [], {}, period, requests[0][1]
    referential, requests, shown = prepare_requests(args)
    years = [y for y, _ in requests]
    if wanted is None and referential.plan.annee_fin not in years:
        return referential, requests, shown, None, None
    period = parse_period(wanted, referential)
    params = dict(requests).get(period[1])
    if params is None:
        params = prepare_requests(argparse.Namespace(**{**vars(args), "year": str(period[1])}))[1][0][1]
    return referential, requests, shown, period, params


#: Thresholds of the garbage collector in the process of ``plancadre-eval run``.
RUNNER_GC_THRESHOLDS = (50_000, 20, 100)


def command_run(args: argparse.Namespace) -> int:
    """``plancadre-eval run``: 0 when every page is rendered, 1 if any failed or the input is
    invalid, 2 on usage errors. Progress on stderr, summary table on stdout."""
    t0 = time.perf_counter()
    import gc
    import signal

    # this command's process holds few long-lived objects and drops many short ones (messages,
    # tables): rarer collections (Python's default is 700, 10, 10), as in the kernels
    gc.set_threshold(*RUNNER_GC_THRESHOLDS)

    def _terminate(signum, frame):  # SIGTERM: stop like Ctrl-C (kernels shut down, pages intact)
        raise KeyboardInterrupt

    if getattr(args, "arreter_noyau", False):
        from . import resident

        stopped = resident.stop(str(paths.project_root()))
        print("Noyau gardé prêt arrêté." if stopped else "Aucun noyau gardé prêt pour ce projet.")
        return 0
    if args.fiche and not args.scheduler:
        # `run --fiche`: the analyst's re-render loop, where a page is almost always re-rendered;
        # papermill and nbconvert are imported while the referential loads and the year is planned
        start_preload()
    previous = signal.signal(signal.SIGTERM, _terminate) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        referential, requests, shown, bilan, bilan_params = _requests_and_bilan(args)
        result = run_years(requests, referential=referential, out_dir=args.out, fiches=args.fiche,
                           jobs=args.jobs, force=args.force, quiet=args.quiet,
                           scheduler=args.scheduler, params_display=shown, bilan=bilan,
                           bilan_params=bilan_params,
                           keep_kernel=getattr(args, "garder_noyau", False))
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
        print(f"Pages dans {result.out_dir}.")
    print(format_total(result.records, result.fiches, result.plan_fiches, time.perf_counter() - t0))
    for r in result.failed:  # the whole sentence (the table cuts it), without traceback
        print(format_failure(r), file=sys.stderr)
    return result.exit_code

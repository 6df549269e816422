"""The year's report: indicators table, pages written, ``manifest.json``, the year's
``index.html`` and the top ``outputs/index.html``, the summary printed at the end of a run."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__, paths
from ..provenance import display_path
from ..rendering import render_page, write_atomic
from .constants import (
    CACHE_RENDERED, CACHE_REUSED, MANIFEST_FORMAT, MANIFEST_NAME, REASON_FAILED_BEFORE,
    REASON_FORCE, REASON_MISSING, REASON_UNCHANGED, STATUS_FAILED, STATUS_OK,
)
from .page import PageResult
from .planning import YearPlan, load_manifest


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



# --- indicators table --------------------------------------------------------------------------

def write_indicators(plan: YearPlan, tmp_dir: Path) -> tuple[list[Path], dict[str, str]]:
    """Write ``indicateurs.csv`` / ``.xlsx`` of the year into ``tmp_dir`` and compute the due
    fiches' statuses, from the same inputs as the pages (:func:`plancadre_eval.evaluation.load_context`:
    validated collection, territories, public series, expected territories, secrecy threshold) and
    the engine of :mod:`plancadre_eval.indicators`, as the synthesis does. Pilots' texts of fiches
    whose record does not publish them are withheld (:func:`plancadre_eval.review.gate_indicator_table`);
    the statuses are those retained by the committee when the fiche was examined. Fiches stopped by bad
    files (``Context.excluded``) have no row and no status.

    Also writes the follow-up of the collection (``collecte.html``, ``relances.csv``:
    :func:`plancadre_eval.followup.write_followup`), from the same inputs.

    Returns ``(files written, {fiche id: statut})``.
    """
    from .. import evaluation, parameters
    from ..export import analyst_table, write_indicator_table
    from ..followup import write_followup
    from ..review import gate_indicator_table

    settings = parameters.validate(year=plan.year, referentiel=plan.referential.folder,
                                   data_dir=str(plan.data_dir),
                                   secret_threshold=plan.params.get("secret_threshold", 5),
                                   revue=str(plan.review_dir) if plan.review_dir else None)
    ctx = evaluation.load_context(settings)
    every = ctx.fiche_statuses(ctx.year)  # retained by the committee when examined
    table = ctx.engine.table(ctx.year)
    if ctx.excluded:  # fiches stopped by bad files: no figure computed without their rows
        table = table[~table["fiche"].isin(list(ctx.excluded))].reset_index(drop=True)
    # pilots' texts only once the committee allowed their publication (comment gate)
    table = gate_indicator_table(table, ctx.observations, ctx.reviews, ctx.referential)
    table = analyst_table(table, ctx.referential, ctx.name_of,
                          dict(zip(every["fiche"], every["statut"])))
    written = write_indicator_table(table, tmp_dir)
    # the folder as the context read it (cached): not read a second time
    collection, problems, _ = evaluation.context.read_folder(Path(settings.data_dir),
                                                             ctx.referential, ctx.territories)
    followup = write_followup(ctx.referential, ctx.territories, plan.year, plan.data_dir, tmp_dir,
                              display_path(plan.data_dir), read=(collection, problems))
    statuses = every[every["fiche"].isin(plan.due) & ~every["fiche"].isin(list(ctx.excluded))]
    status_map = {str(f): str(s) for f, s in zip(statuses["fiche"], statuses["statut"])}
    return [Path(p) for p in written.values()] + followup, status_map



def write_page(year_dir: Path, res: PageResult) -> None:
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


def indicators_step(plan: YearPlan, force: bool, writer=None) -> dict[str, Any]:
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


def finalize_year(plan: YearPlan, results: dict[tuple[int, str], PageResult],
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
                "notebook": display_path(page.notebook, root, absolute=True),
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
        "referentiel": {"dossier": display_path(plan.referential.folder, root, absolute=True),
                        "empreinte": plan.referential_hash},
        "parametres": plan.params,
        "fichier_parametres": plan.params_display,
        "donnees": {"dossier": display_path(plan.data_dir, root, absolute=True), "fichiers": plan.data_files},
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
    from ..referential import fiche_sort_key

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
    data_dir = display_path(plan.data_dir, root)
    data_files = [{"fichier": f"{data_dir}/{name}", "sha256": sha,
                   "fiches": ", ".join(plan.fiches_by_file.get(name, []))}
                  for name, sha in sorted(plan.data_files.items())]
    indicators = [name for name in ("indicateurs.csv", "indicateurs.xlsx")
                  if (plan.year_dir / name).exists()]
    followup = [name for name in ("collecte.html", "relances.csv") if (plan.year_dir / name).exists()]
    n_failed = sum(1 for name in pages if pages[name].get("statut") == STATUS_FAILED
                   and (name.startswith("fiche-") and name[6:] in shown or name in ("synthese", "diagnostic")))
    params = {k: (display_path(paths.resolve(v, root=root), root) if k in ("data_dir", "referentiel") else v)
              for k, v in plan.params.items()}
    return render_page(
        "annee.html.j2",
        annee=plan.year, plan=ref.plan, axes=axes, autres=others, donnees=data_files,
        dossier_donnees=data_dir, sources=plan.sources, indicateurs=indicators, suivi=followup,
        parametres=params, referentiel=display_path(ref.folder, root),
        empreinte_referentiel=plan.referential_hash, empreinte_bibliotheque=plan.library_hash,
        n_echecs=n_failed, demonstration=paths.is_demo_data(plan.data_dir),
    )


def _year_dirs(out: Path) -> list[Path]:
    return [d for d in (sorted(out.iterdir()) if out.exists() else [])
            if d.is_dir() and d.name.isdigit() and (d / "index.html").exists()]


def write_multi_year_table(out: Path) -> list[Path]:
    """``indicateurs-<first>-<last>.csv`` / ``.xlsx`` in ``out`` from the ``indicateurs.csv`` of
    every year present (at least two years; older multi-year tables are removed)."""
    files = [d / "indicateurs.csv" for d in _year_dirs(out) if (d / "indicateurs.csv").exists()]
    stale = sorted(out.glob("indicateurs-*-*.*")) if out.exists() else []
    if len(files) < 2:
        return []
    years = sorted(int(f.parent.name) for f in files)
    current = [out / f"indicateurs-{years[0]}-{years[-1]}.{ext}" for ext in ("csv", "xlsx")]
    if all(p.exists() for p in current) and \
            min(p.stat().st_mtime_ns for p in current) >= max(f.stat().st_mtime_ns for f in files):
        return current  # no yearly table changed since: a run where nothing changed stays fast
    from ..export import read_indicator_csv, write_multi_year_table as write_table  # (pandas)

    tables = [t for t in (read_indicator_csv(f) for f in files) if {"fiche", "annee"} <= set(t.columns)]
    if len(tables) < 2:
        return []
    written = write_table(tables, out)
    for p in stale:
        if p not in written.values():
            p.unlink(missing_ok=True)
    return list(written.values())


def write_top_index(out: Path, title: str, root: Path | None = None) -> None:
    """``outputs/index.html``: the bilans, the years present with their numbers of pages and
    failures, the multi-year indicator table, and the demonstration notice when a year's (or a
    bilan's) data folder holds demonstration data."""
    from .bilan import listed_bilans

    years, folders = [], []
    for d in _year_dirs(out):
        manifest = load_manifest(d)
        pages = manifest.get("pages") or {}
        ok = sum(1 for p in pages.values() if p.get("statut") == STATUS_OK)
        failed = sum(1 for p in pages.values() if p.get("statut") == STATUS_FAILED)
        years.append({"annee": d.name, "pages": ok, "echecs": failed})
        folders.append((manifest.get("donnees") or {}).get("dossier"))
    bilans = listed_bilans(out)
    folders += [b.get("donnees") for b in bilans]
    demonstration = any(f and paths.is_demo_data(f, root=root) for f in folders)
    tables = sorted(p.name for p in out.glob("indicateurs-*-*.*")) if out.exists() else []
    html = render_page("accueil.html.j2", annees=years, titre=title, bilans=bilans,
                       tableaux=tables, demonstration=demonstration)
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



def format_total(records: list[PageRecord], fiches: dict[int, int], plan_fiches: int,
                 seconds: float) -> str:
    """The one-line total printed at the end of every run (``--quiet`` too): fiches produced out
    of the plan's, pages rendered, reused and failed, duration, e.g. « 2021 : 1 fiche sur 36 ;
    2 produite(s), 1 réutilisée(s), 0 échec(s) ; 3,2 s. »"""
    years = " ; ".join(f"{year} : {n} fiche{'s' if n > 1 else ''} sur {plan_fiches}"
                       for year, n in sorted(fiches.items()))
    if not years and any(r.kind == "bilan" for r in records):
        years = "bilan du plan"  # `run --bilan` alone: no year rendered
    pages = [r for r in records if r.kind not in ("index",)]
    n_rendered = sum(1 for r in pages if r.cache == CACHE_RENDERED)
    n_reused = sum(1 for r in pages if r.cache == CACHE_REUSED)
    n_fail = sum(1 for r in records if r.status == STATUS_FAILED)
    duration = f"{seconds:.1f}".replace(".", ",")
    return (f"{years} ; {n_rendered} produite(s), {n_reused} réutilisée(s), {n_fail} échec(s) ; "
            f"{duration} s.")


def format_failure(record: PageRecord) -> str:
    """A failed page in one line: where, then the error's own sentence (the French message of
    the library's errors, e.g. the papermill float trap), never a traceback."""
    err = record.error or {}
    where = f" (cellule In [{err['execution']}])" if err.get("execution") else ""
    message = " ".join(str(err.get("evalue") or "").split())
    ename = str(err.get("ename") or "")
    shown = message if ename in FRENCH_ERRORS or not ename else f"{ename} : {message}"
    return f"échec : {record.year}/{record.name}{where} : {shown}"


#: Errors whose message is a French sentence meant for the reader (shown without their class name).
FRENCH_ERRORS = frozenset({"ParameterError", "InputError", "UsageError", "ReferentialError",
                           "indicateurs"})

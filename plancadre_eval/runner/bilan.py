"""The bilan page of a run: ``outputs/bilan.html`` (whole plan) or ``outputs/bilan-<first>-<last>.html``.

Rendered by ``run`` when the run covers the plan's last year, and on demand (``run --bilan``,
``run --bilan 2019-2020``), from ``notebooks/bilan_plan.ipynb`` with the parameters of the bilan's
last year (data folder, referential, secrecy threshold) and the years whose fiche pages exist in
``outputs/`` (``linked_years``: the bilan links only to those). Reused when its inputs (notebook,
parameters, library, referential, collection and public files) did not change; the cache keys are
kept in ``outputs/bilans.json``. Also the multi-year indicator table of the years present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import paths
from ..parameters import UsageError
from ..provenance import collection_files, digest, display_path, sha256
from ..rendering import write_atomic
from .constants import CACHE_RENDERED, CACHE_REUSED, REASON_FORCE, REASON_MISSING, REASON_UNCHANGED, STATUS_OK
from .page import PageResult, PageTask

BILAN_MANIFEST = "bilans.json"
#: Parameters of the bilan notebook taken from the last year's parameters.
SHARED_PARAMETERS = ("data_dir", "referentiel", "secret_threshold", "revue")


def parse_period(value: str | None, referential) -> tuple[int, int]:
    """``--bilan`` value: "" or None for the whole plan, "2019-2020" for a part; UsageError else."""
    plan = referential.plan
    if value is None or not str(value).strip():
        return plan.annee_debut, plan.annee_fin
    text = str(value).strip()
    first, sep, last = text.partition("-")
    years = list(plan.years)
    try:
        period = (int(first), int(last)) if sep else (int(first), int(first))
    except ValueError:
        raise UsageError(f"--bilan {text!r} : attendu une période « 2019-2020 » d'années du plan "
                         f"({plan.annee_debut}-{plan.annee_fin}).") from None
    if period[0] not in years or period[1] not in years or period[0] > period[1]:
        raise UsageError(f"--bilan {text} : période hors du plan ou à l'envers ; années du plan : "
                         f"{', '.join(map(str, years))}.")
    return period


def bilan_name(period: tuple[int, int], referential) -> str:
    """"bilan" for the whole plan, else "bilan-2019-2020"."""
    plan = referential.plan
    if period == (plan.annee_debut, plan.annee_fin):
        return "bilan"
    return f"bilan-{period[0]}-{period[1]}"


@dataclass
class BilanPlan:
    """A bilan to render or reuse: ``task`` is None when the page is reused (``outcome`` then
    says so); else the page to execute, and what :func:`finish_bilan` needs to write it."""

    name: str
    key: str
    task: PageTask | None
    outcome: dict[str, Any] | None
    manifest: dict[str, Any]
    prev: dict[str, Any]
    out: Path
    period: tuple[int, int]
    data_display: str
    force: bool


def plan_bilan(period: tuple[int, int], params: dict[str, Any], *, referential, notebook: Path,
               out: Path, root: Path, lib_hash: str, force: bool, run_token: str,
               sources: list[dict[str, str]], task_options: dict[str, Any],
               planned_years: set[int] | frozenset[int] = frozenset()) -> BilanPlan:
    """Decide whether the bilan of ``period`` is reused, and the page to execute otherwise. It
    links the years whose fiche pages exist, or are rendered by this run (``planned_years``), so
    that the runner can start it with the years' pages instead of after them."""
    name = bilan_name(period, referential)
    linked = [y for y in range(period[0], period[1] + 1)
              if y in planned_years or any((out / str(y)).glob("fiche-*.html"))]
    parameters = {"first_year": period[0], "last_year": period[1],
                  **{k: params[k] for k in SHARED_PARAMETERS if k in params},
                  "linked_years": ",".join(map(str, linked))}
    data_dir = paths.resolve(parameters["data_dir"], root=root) if parameters.get("data_dir") \
        else paths.demo_dir()
    key = digest({"notebook": sha256(notebook), "parametres": parameters, "bibliotheque": lib_hash,
                  "referentiel": {Path(f).name: sha256(f) for f in sorted(referential.files)},
                  "donnees": {rel: sha256(f) for f, rel in collection_files(data_dir)},
                  "sources": sorted(e.get("sha256", "") for e in sources),
                  "revues": _review_hashes(parameters, referential, period[1], root)})
    try:
        manifest = json.loads((out / BILAN_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    prev = manifest.get(name) or {}
    common = dict(name=name, key=key, manifest=manifest, prev=prev, out=out, period=period,
                  data_display=display_path(data_dir, root, absolute=True), force=force)
    if not force and prev.get("cle") == key and prev.get("statut") == STATUS_OK \
            and (out / f"{name}.html").exists():
        return BilanPlan(task=None, outcome={"nom": name, "statut": STATUS_OK, "cache": CACHE_REUSED,
                                             "raison": REASON_UNCHANGED, "duree_s": 0.0,
                                             "erreur": None}, **common)
    plan = referential.plan
    title = (f"Bilan {period[0]}-{period[1]} — {plan.titre}" if name == "bilan"
             else f"Évaluation intermédiaire {period[0]}-{period[1]} — {plan.titre}")
    task = PageTask(year=period[1], name=name, kind="bilan", fiche=None, notebook=str(notebook),
                    notebook_display=display_path(notebook, root, absolute=True),
                    parameters=parameters, title=title, root=str(root), run_token=run_token,
                    **task_options)
    return BilanPlan(task=task, outcome=None, **common)


def finish_bilan(bp: BilanPlan, res: PageResult) -> dict[str, Any]:
    """Write the executed bilan (a failure never replaces a good page) and its cache key; returns
    ``{"nom", "statut", "cache", "raison", "duree_s", "erreur"}``."""
    name, manifest, prev, out = bp.name, bp.manifest, bp.prev, bp.out
    if res.status == STATUS_OK and res.html is not None:
        write_atomic(out / f"{name}.html", res.html)
        if res.notebook_json is not None:
            write_atomic(out / f"{name}.ipynb", res.notebook_json)
        manifest[name] = {"cle": bp.key, "statut": STATUS_OK, "premiere_annee": bp.period[0],
                          "derniere_annee": bp.period[1], "donnees": bp.data_display}
    elif prev.get("statut") == STATUS_OK:  # the last good page stays listed
        manifest[name] = {**prev, "dernier_echec": res.error}
    else:
        manifest[name] = {"statut": res.status, "erreur": res.error}
    write_atomic(out / BILAN_MANIFEST, json.dumps(dict(sorted(manifest.items())), ensure_ascii=False,
                                                  indent=1, default=str) + "\n")
    return {"nom": name, "statut": res.status, "cache": CACHE_RENDERED,
            "raison": REASON_FORCE if bp.force else (REASON_MISSING if not prev else "entrées modifiées"),
            "duree_s": res.duration, "erreur": res.error}


def _review_hashes(parameters: dict[str, Any], referential, last: int, root: Path) -> dict[str, str]:
    """``{file name: sha256}`` of the committee's records the bilan reads (years up to ``last``)."""
    from .. import review

    folder = paths.resolve(str(parameters.get("revue") or review.DEFAULT_DIR), root=root)
    files = review.review_files(folder, [y for y in referential.plan.years if y <= last])
    return {p.name: sha256(p) for _, p in sorted(files.items())}


def listed_bilans(out: Path) -> list[dict[str, Any]]:
    """The bilans present in ``out`` (for the top index): ``nom``, ``lien``, ``premiere_annee``,
    ``derniere_annee``, ``donnees`` (data folder), whole plan first then by period."""
    try:
        manifest = json.loads((out / BILAN_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    rows = [{"nom": n, "lien": f"{n}.html", "premiere_annee": e.get("premiere_annee"),
             "derniere_annee": e.get("derniere_annee"), "donnees": e.get("donnees")}
            for n, e in manifest.items() if (out / f"{n}.html").exists() and e.get("premiere_annee")]
    return sorted(rows, key=lambda r: (r["nom"] != "bilan", r["premiere_annee"], r["derniere_annee"]))

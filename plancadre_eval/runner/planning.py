"""Planning a year: its pages, the inputs of each (hashes), the cache decision and its reasons,
the validation of the collection (skipped when nothing changed). No kernel is started here."""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .. import paths
from ..parameters import InputError, UsageError
from ..provenance import collection_files, digest, display_path, sha256
from .complements import complement_path
from .constants import (
    DIAGNOSTIC_FICHE, MANIFEST_FORMAT, MANIFEST_NAME, REASON_DATA, REASON_FAILED_BEFORE,
    REASON_COMPLEMENT, REASON_FORCE, REASON_INVALID_DATA, REASON_LIBRARY, REASON_MISSING,
    REASON_NOTEBOOK, REASON_PARAMS, REASON_REFERENTIAL, STATUS_OK,
)

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
    complement: Path | None = None  # notebooks/complements/fiche-<id>.ipynb, run after the fiche's
    #: problem lines of the fiche's collection files: the page is failed without being rendered
    problems: list[str] = field(default_factory=list)

    @property
    def to_render(self) -> bool:
        return bool(self.reasons) and not self.problems



def cache_reasons(previous: dict[str, Any] | None, inputs: dict[str, Any], *,
                  page_exists: bool, force: bool = False) -> list[str]:
    """Why a page must be rendered again (empty list: its last good render can be reused).

    ``previous`` is the page's entry in the last manifest (``statut``, ``entrees``), ``inputs``
    its current inputs (keys ``notebook``, ``complement`` (fiche pages with one), ``parametres``, ``referentiel``, ``bibliotheque``: hashes
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
    if before.get("complement") != inputs.get("complement"):
        reasons.append(REASON_COMPLEMENT)
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



# --- validation of the inputs ------------------------------------------------------------------

@dataclass
class CollectionCheck:
    """Result of :func:`validate_collection`: ``fiches_by_file`` (file relative to the folder ->
    fiches it holds valid rows for) and ``excluded`` (fiche -> the problem lines that stop it,
    :mod:`plancadre_eval.exclusions`)."""

    fiches_by_file: dict[str, list[str]]
    excluded: dict[str, list[str]] = field(default_factory=dict)


#: ``validator(data_dir, referential)``: a :class:`CollectionCheck`, or only its
#: ``fiches_by_file`` mapping (nothing excluded).
Validator = Callable[[Path, Any], "CollectionCheck | dict[str, list[str]]"]


def validate_collection(data_dir: Path, referential, warnings: list[str] | None = None
                        ) -> CollectionCheck:
    """Validate the collection files of ``data_dir`` like ``plancadre-eval check``: the fiches
    each file holds rows for, and the fiches stopped by problems (a bad file stops only its fiches,
    :func:`plancadre_eval.exclusions.excluded_fiches`); the plausibility warning lines
    (:func:`plancadre_eval.plausibility.collection_warnings`, on the valid rows) are appended to
    ``warnings`` when given.

    Raises :class:`InputError` with every ``check`` problem line when a problem names no fiche
    (unreadable file, unknown fiche…): nothing is rendered then.
    """
    from .. import collection
    from ..evaluation.context import read_folder
    from ..plausibility import collection_warnings

    territories = collection._default_territories()
    # the same cached read as the pages' context: the year table of this run reuses it
    loaded, problems, found = read_folder(Path(data_dir), referential, territories)
    if not found.general and warnings is not None:
        warnings.extend(str(w) for w in collection_warnings(loaded, referential, territories))
    if found.general:
        raise InputError([str(p) for p in problems],
                         title=f"Données de collecte invalides "
                               f"({display_path(data_dir, paths.project_root(), absolute=True)}) :"
                         ) from None
    obs = loaded.observations
    mapping: dict[str, set[str]] = {}
    for fichier, fiche in zip(obs["fichier"].tolist(), obs["fiche"].tolist()):
        mapping.setdefault(str(fichier), set()).add(str(fiche))
    return CollectionCheck({k: sorted(v) for k, v in mapping.items()},
                           {f: list(lines) for f, lines in found.as_lines().items()})


def public_sources() -> list[dict[str, str]]:
    """Public data and territory files the computations read: the entries of
    :func:`plancadre_eval.public_data.editions` (``libelle``, ``edition``, ``licence``, ``origine``,
    ``fichier`` relative to the project root, ``sha256``), each with ``nature`` "public" (crime
    statistics) or "territoire" (INSEE files and boundaries)."""
    from .. import public_data

    public = [dict(e, nature="public")
              for e in public_data.editions(include_territories=False, include_france=True)]
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
    #: fiche -> problem lines of the fiches stopped by bad files (not rendered, failed)
    excluded: dict[str, list[str]] = field(default_factory=dict)
    review_dir: Path | None = None
    review_files: dict[str, str] = field(default_factory=dict)  # "revue/<année>.xlsx" -> sha256


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
            if sha256(p) != entry["sha256"]:
                return False
        except OSError:
            return False
    return True


_validation_memo: dict[str, tuple[dict[str, list[str]], list[str]]] = {}


def _validate_inputs(data_dir: Path, referential, data_files: dict[str, str], ref_hash: str,
                     lib_hash: str, previous: dict[str, Any], validator: Validator | None,
                     root: Path, sources_fn: Callable[[], list[dict[str, str]]] | None = None,
                     ) -> tuple[CollectionCheck, list[dict[str, str]], dict[str, Any]]:
    """(collection check, public/territory sources, manifest entry), with a cache.

    The sources of the last run are reused when none of their files changed (re-hashed, cheap);
    the validation is skipped when the collection files, the sources (territories are used to
    validate codes), the referential and the library are those of the last successful validation.
    """
    cached = previous.get("validation") or {}
    sources = cached.get("sources")
    if not (isinstance(sources, list) and sources and _sources_unchanged(sources, root)):
        sources = (sources_fn or public_sources)()
    key = digest({"donnees": data_files, "sources": sources, "referentiel": ref_hash,
                   "bibliotheque": lib_hash,
                   "validateur": getattr(validator, "__qualname__", "collection")})
    if cached.get("cle") == key and isinstance(cached.get("fiches_par_fichier"), dict):
        check = CollectionCheck(cached["fiches_par_fichier"], dict(cached.get("fiches_exclues") or {}))
        warnings = list(cached.get("avertissements") or [])
    elif key + str(data_dir) in _validation_memo:
        check, warnings = _validation_memo[key + str(data_dir)]
    else:
        warnings = []
        if validator is None:
            check = validate_collection(data_dir, referential, warnings)
        else:
            check = validator(data_dir, referential)
        if not isinstance(check, CollectionCheck):
            check = CollectionCheck(dict(check))
        _validation_memo[key + str(data_dir)] = (check, warnings)
    entry = {"cle": key, "fiches_par_fichier": check.fiches_by_file, "sources": sources,
             "avertissements": warnings}
    if check.excluded:
        entry["fiches_exclues"] = check.excluded
    return check, sources, entry


def _short_line(line: str, data_dir: Path, root: Path) -> str:
    """A problem line with its file shown relative to the project root (``data/collecte/x.csv``)."""
    prefix = str(data_dir) + os.sep
    if line.startswith(prefix):
        return display_path(data_dir, root, absolute=True) + "/" + line[len(prefix):]
    return line


def _due_fiches(referential, year: int) -> list[str]:
    try:
        from ..schedule import due_fiches
    except ImportError:  # pragma: no cover - schedule.py is part of the package
        return list(referential.fiche_ids)
    return [getattr(f, "id", f) for f in due_fiches(referential, year)]


def _titles(referential, year: int) -> dict[str, str]:
    titles = {f"fiche-{f.id}": f"Fiche {f.id} — {f.titre} — évaluation {year}" for f in referential.fiches}
    titles["synthese"] = f"Synthèse {year} — {referential.plan.titre}"
    titles["diagnostic"] = f"Diagnostic départemental {year} — {referential.plan.titre}"
    return titles


def expects_rendering(years: Iterable[int], out_dir: Path, *, force: bool, lib_hash: str,
                      fiches: Iterable[str] | None = None) -> bool:
    """A cheap guess, before any validation, that the run will render pages: ``--force``, a year
    never rendered into ``out_dir`` (no manifest) or rendered by another library, or a fiche
    asked for whose page is absent or failed. Used to start kernels early; a wrong guess only
    costs the kernels' start."""
    if force:
        return True
    for year in years:
        year_dir = out_dir / str(year)
        previous = load_manifest(year_dir)
        library = previous.get("bibliotheque")
        if not isinstance(library, dict) or library.get("empreinte") != lib_hash:
            return True
        pages = previous.get("pages") or {}
        for fid in fiches or ():
            name = f"fiche-{str(fid).strip()}"
            if (pages.get(name) or {}).get("statut") != STATUS_OK \
                    or not (year_dir / f"{name}.html").exists():
                return True
    return False


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

    data_dir = paths.resolve(params["data_dir"], root=root) if params.get("data_dir") else paths.demo_dir()
    if not data_dir.is_dir():
        raise InputError(f"data_dir {params.get('data_dir')!r} : dossier introuvable (fichiers de "
                         f"collecte ; voir params/{year}.yaml ou --data).")
    ref_files = sorted(referential.files)
    ref_hash = digest({Path(f).name: sha256(f) for f in ref_files})
    # the collection's own discovery; keyed (and kept in the manifest) in plain path order
    data_files = {rel: sha256(f)
                  for f, rel in sorted(collection_files(data_dir), key=lambda t: t[1])}

    review_dir, reviews = _reviews(params, referential, year, root)

    year_dir = out_dir / str(year)
    previous = load_manifest(year_dir)
    check, sources, validation = _validate_inputs(data_dir, referential, data_files, ref_hash,
                                                  lib_hash, previous, validator, root, sources)
    mapping = check.fiches_by_file
    notes += validation["avertissements"]  # plausibility warnings, printed before the run
    public = {e["fichier"]: e["sha256"] for e in sources if _is_public_file(e)}
    territory = {e["fichier"]: e["sha256"] for e in sources if not _is_public_file(e)}

    def files_of(fiche_id: str) -> dict[str, str]:
        return {name: data_files[name] for name, ids in mapping.items()
                if fiche_id in ids and name in data_files}

    nb_hash = {kind: sha256(p) for kind, p in notebooks.items() if Path(p).exists()}
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
            raise InputError(f"Notebook introuvable pour {name} : "
                             f"{display_path(nb_path, root, absolute=True)}.")
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
        if kind != "diagnostic":
            data.update(reviews)
        inputs = {"notebook": nb_hash[kind], "parametres": page_params, "referentiel": ref_hash,
                  "bibliotheque": lib_hash, "donnees": dict(sorted(data.items()))}
        complement = complement_path(nb_path, fiche_id) if kind == "fiche" else None
        if complement is not None:
            inputs["complement"] = sha256(complement)
        prev = prev_pages.get(name)
        reasons = cache_reasons(prev, inputs, page_exists=(year_dir / f"{name}.html").exists(),
                                force=force)
        problems = ([_short_line(line, data_dir, root) for line in check.excluded.get(fiche_id, [])]
                    if kind == "fiche" else [])
        if problems:
            reasons = [REASON_INVALID_DATA]
        pages.append(PagePlan(name=name, kind=kind, fiche=fiche_id, title=titles[name],
                              notebook=nb_path, parameters=page_params, inputs=inputs,
                              reasons=reasons, previous=prev, complement=complement,
                              problems=problems))
    indicators_key = digest({"donnees": data_files, "sources": sources, "referentiel": ref_hash,
                              "bibliotheque": lib_hash, "annee": year, "revues": reviews,
                              "parametres": {k: v for k, v in params.items()}})
    return YearPlan(year=year, year_dir=year_dir, referential=referential, params=params,
                    params_display=params_display, data_dir=data_dir, due=due, selected=selected,
                    pages=pages, data_files=data_files, sources=sources, fiches_by_file=mapping,
                    validation=validation, previous=previous, referential_hash=ref_hash,
                    library_hash=lib_hash, indicators_key=indicators_key, notes=notes,
                    excluded={f: list(v) for f, v in check.excluded.items()},
                    review_dir=review_dir, review_files=reviews)


def _reviews(params: dict[str, Any], referential, year: int, root: Path
             ) -> tuple[Path, dict[str, str]]:
    """The folder of the committee's records (``revue`` of the params, else ``data/revue``) and
    ``{"revue/<année>.<ext>": sha256}`` of the records of the years up to ``year`` (the pages read
    them), validated like ``check`` (:class:`InputError` with the problem lines)."""
    from .. import review

    folder = paths.resolve(str(params.get("revue") or review.DEFAULT_DIR), root=root)
    try:
        review.load_reviews(folder, referential, year)
        files = review.review_files(folder, [y for y in referential.plan.years if y <= year])
    except review.ReviewError as exc:
        raise InputError([str(p) for p in exc.problems],
                         title=f"Revue du comité invalide ({display_path(folder, root, absolute=True)}) :"
                         ) from None
    return folder, {f"revue/{p.name}": sha256(p) for _, p in sorted(files.items())}


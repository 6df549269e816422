"""Following the collection of a year, per pilot service: ``plancadre-eval collecte``, the page
``outputs/<year>/collecte.html`` and ``outputs/<year>/relances.csv``.

For each pilot (the plan's ``pilote_court``, shown with its current names: "DDCS (aujourd'hui
DDETS)"): the fiches due that year (:func:`pilots.fiches_due`), the values expected (one per
collected indicator and expected territory, and per milestone not yet declared done: the rows of
its collection template, :func:`template.template_rows`, a percentage's numerator, denominator
and percentage rows counting as one value), received (an observation of that year for the
indicator and territory, or its département total) and missing, the files received (with rows
for its fiches) and their problems.

- :func:`follow_up` ``(referential, territories, year, collection, problems, pilot)`` ->
  ``list[PilotFollowUp]``;
- :func:`reminders_table` -> the ``relances.csv`` table (one row per pilot with something
  missing or wrong);
- :func:`write_followup` — both files into a folder (the runner's year);
- :func:`command_collecte` — ``plancadre-eval collecte --year Y [--data DIR] [--pilote NOM]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .pilots import fiches_due, pilot_label, pilot_named, unknown_pilot_message
from .provenance import display_path, natural_key
from .referential import COMPONENTS, Referential

#: Columns of ``relances.csv``.
REMINDER_COLUMNS = (
    "pilote", "service", "fiches_dues", "valeurs_attendues", "valeurs_recues",
    "valeurs_manquantes", "manquantes", "fichiers_recus", "problemes",
)
#: How many missing ids the text and the page list before "…".
SHOWN_MISSING = 40


@dataclass
class PilotFollowUp:
    """The collection of one pilot service for one year (see the module docstring).

    ``missing`` is ``[(collected id, [territory codes])]`` in the template's order; ``files`` the
    files received (as shown in problem lines); ``problems`` the ``check`` lines of those files
    that concern the pilot's fiches or cannot be attributed to a fiche.
    """

    pilot: str
    label: str
    fiches: list[str]
    expected: int
    received: int
    missing: list[tuple[str, list[str]]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dep: str = "62"

    @property
    def n_missing(self) -> int:
        return self.expected - self.received

    def missing_text(self, limit: int | None = None) -> str:
        """"2.6.1 (621, 622), 2.6.J1" (a département-only id without its code)."""
        parts = [ident if codes == [self.dep] else f"{ident} ({', '.join(codes)})"
                 for ident, codes in self.missing]
        if limit is not None and len(parts) > limit:
            parts = parts[:limit] + [f"… ({len(parts) - limit} de plus)"]
        return ", ".join(parts)


def _base_id(ident: str) -> str:
    base, _, comp = ident.rpartition(".")
    return base if comp in {c for comps in COMPONENTS.values() for c in comps} else ident


def follow_up(referential: Referential, territories, year: int, collection,
              problems: list, pilot: str | None = None) -> list[PilotFollowUp]:
    """One :class:`PilotFollowUp` per pilot owing fiches in ``year`` (or only ``pilot``, a name or
    an alias; an unknown name raises ``ValueError``), in alphabetical order of the plan's names.

    ``collection`` is a :class:`collection.Collection` (its observations of every year: milestones
    declared done earlier are not expected again), ``problems`` the :class:`spreadsheets.Problem`
    list of the same reading.
    """
    from .template import template_rows

    if pilot:
        resolved = pilot_named(referential, pilot)
        if resolved is None:
            raise ValueError(unknown_pilot_message(referential, pilot))
        pilots = [resolved]
    else:
        pilots = sorted({f.pilote_court for f in fiches_due(referential, year)}, key=str.lower)
    obs = collection.observations
    dep = referential.plan.departement
    this_year = obs[obs["annee"] == year]
    declared = set(zip(this_year["indicateur"], this_year["territoire"]))
    files_of_fiche: dict[str, set[str]] = {}
    for display, fiches in collection.file_fiches.items():
        for fiche in fiches:
            files_of_fiche.setdefault(fiche, set()).add(display)
    year_files = {collection.displays.get(f, f) for f in this_year["fichier"]}
    out = []
    for name in pilots:
        fiches = [f.id for f in fiches_due(referential, year, name)]
        rows = template_rows(referential, territories, year, name, obs) if fiches else None
        expected: dict[tuple[str, str], None] = {}
        for ident, code in ([] if rows is None else zip(rows["indicateur"], rows["territoire"])):
            expected.setdefault((_base_id(ident), code), None)
        missing: dict[str, list[str]] = {}
        received = 0
        for base, code in expected:
            if (base, code) in declared or (base, dep) in declared:
                received += 1
            else:
                missing.setdefault(base, []).append(code)
        files = sorted({d for f in fiches for d in files_of_fiche.get(f, ())}, key=natural_key)
        shown_files = [_shown(d, collection) for d in files
                       if d in year_files or _has_problem(d, problems)]
        attributed = set(files)
        lines = [_line(p, collection) for p in problems if p.file in attributed]
        out.append(PilotFollowUp(pilot=name, label=pilot_label(referential, name), fiches=fiches,
                                 expected=len(expected), received=received,
                                 missing=list(missing.items()), files=shown_files,
                                 problems=lines, dep=dep))
    return out


def _shown(display: str, collection) -> str:
    """A file as the follow-up shows it: its path inside the collection folder ("2021/ddets.csv"),
    else :func:`provenance.display_path` (pages never hold an absolute path)."""
    names = {d: n for n, d in collection.displays.items()}
    return names.get(display) or display_path(display)


def _line(problem, collection) -> str:
    """A problem line with its file shown by :func:`_shown`."""
    from .spreadsheets import Problem

    return str(Problem(_shown(problem.file, collection), problem.row, problem.column,
                       problem.message))


def _has_problem(display: str, problems: list) -> bool:
    return any(p.file == display for p in problems)


def unattributed_problems(collection, problems: list) -> list[str]:
    """Problem lines of files with no row naming a fiche of the plan (unreadable, wrong header…)."""
    known = set(collection.file_fiches)
    return [_line(p, collection) for p in problems if p.file not in known]


def reminders_table(followups: list[PilotFollowUp]) -> pd.DataFrame:
    """``relances.csv``: one row per pilot with a value missing or a file with problems
    (columns :data:`REMINDER_COLUMNS`; ``manquantes`` lists every missing id and territory)."""
    rows = [{"pilote": f.pilot, "service": f.label, "fiches_dues": ", ".join(f.fiches),
             "valeurs_attendues": f.expected, "valeurs_recues": f.received,
             "valeurs_manquantes": f.n_missing, "manquantes": f.missing_text(),
             "fichiers_recus": ", ".join(f.files), "problemes": len(f.problems)}
            for f in followups if f.n_missing or f.problems]
    return pd.DataFrame(rows, columns=list(REMINDER_COLUMNS))


def format_followup(year: int, followups: list[PilotFollowUp], data_label: str,
                    orphans: list[str]) -> str:
    """The text printed by ``plancadre-eval collecte``."""
    lines = [f"Collecte {year} — dossier {data_label}"]
    for f in followups:
        lines.append("")
        lines.append(f"{f.label} : {len(f.fiches)} fiche(s) due(s) en {year}"
                     + (f" ({', '.join(f.fiches)})" if f.fiches else ""))
        lines.append(f"  valeurs attendues {f.expected}, reçues {f.received}, "
                     f"manquantes {f.n_missing}")
        if f.missing:
            lines.append(f"  manquantes : {f.missing_text(SHOWN_MISSING)}")
        lines.append("  fichiers reçus : " + (", ".join(f.files) if f.files else "aucun"))
        for p in f.problems:
            lines.append(f"  {p}")
    if orphans:
        lines += ["", "Problèmes qui ne concernent aucune fiche (fichier illisible, en-tête, "
                  "dossier vide) :"] + [f"  {p}" for p in orphans]
    return "\n".join(lines) + "\n"


def _read(data_dir: Path, referential: Referential, territories):
    from .collection import read_collection

    return read_collection([data_dir], referential, territories)


def write_followup(referential: Referential, territories, year: int, data_dir: Path,
                   out_dir: Path, data_label: str, read: tuple | None = None) -> list[Path]:
    """Write ``collecte.html`` and ``relances.csv`` of ``year`` into ``out_dir`` (French Excel
    CSV: ``;``, UTF-8 with BOM); returns the paths written. Deterministic (no date).

    ``read``: ``(collection, problems)`` of ``data_dir`` as
    :func:`plancadre_eval.collection.read_collection` returns them, when the caller has them
    already (the runner's year table); read here otherwise."""
    from .rendering import render_page, write_atomic

    collection, problems = read if read is not None else _read(data_dir, referential, territories)
    followups = follow_up(referential, territories, year, collection, problems)
    orphans = unattributed_problems(collection, problems)
    html = render_page("collecte.html.j2", annee=year, plan=referential.plan,
                       dossier=data_label, pilotes=followups, orphelins=orphans,
                       limite=SHOWN_MISSING)
    table = reminders_table(followups)
    csv = table.to_csv(sep=";", index=False, lineterminator="\n").encode("utf-8-sig")
    return [write_atomic(out_dir / "collecte.html", html),
            write_atomic(out_dir / "relances.csv", csv)]


def command_collecte(args) -> int:
    """``plancadre-eval collecte --year Y [--data DIR] [--pilote NOM]``: 0 (a report, whatever it
    says), 2 on a usage error (year outside the plan, unknown pilot, folder not found)."""
    from . import paths
    from .collection import _default_territories
    from .provenance import display_path
    from .referential import load_for_command

    ref = load_for_command(args)
    if ref is None:
        return 1
    if args.year not in ref.plan.years:
        print(f"Année {args.year} hors du plan ; attendu une année entre {ref.plan.years[0]} et "
              f"{ref.plan.years[-1]}.", file=sys.stderr)
        return 2
    folder = paths.resolve(args.data) if args.data else paths.data_dir() / "collecte"
    if not folder.is_dir():
        print(f"Dossier de collecte introuvable : {folder}.", file=sys.stderr)
        return 2
    territories = _default_territories()
    collection, problems = _read(folder, ref, territories)
    try:
        followups = follow_up(ref, territories, args.year, collection, problems, args.pilote)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    orphans = [] if args.pilote else unattributed_problems(collection, problems)
    print(format_followup(args.year, followups, display_path(folder), orphans), end="")
    return 0

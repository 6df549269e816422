"""Which fiches the problems of a collection stop: a bad file stops only its fiches.

:func:`excluded_fiches` attributes each problem found by :func:`collection.read_collection` to
fiches:

- a problem on a row stops the fiche named by that row (its ``fiche`` cell, else the fiche of its
  ``indicateur``) and every fiche the same file holds valid rows for — a file with a bad cell is
  not trusted for any of its fiches;
- a problem about a whole file (unreadable, missing column…) stops the fiches the file holds valid
  rows for;
- a problem that names no fiche (an unreadable file, a row whose fiche and indicator are both
  unknown, a missing folder) is **general**: it stops the whole year, since no one can say which
  pages it would make wrong.

The fiches stopped are not rendered (their previous page stays) and are failed in the summary, the
index and ``manifest.json`` with their problem lines; every other page is produced from the rows of
the other fiches, and the synthesis says which fiches were excluded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping


@dataclass(frozen=True)
class Exclusions:
    """``problems``: fiche id -> its problems (:class:`collection.Problem`, printed
    ``FICHIER:LIGNE: colonne …``), in file and row order, fiches in plan order; ``general``:
    problems no fiche can be named for."""

    problems: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    general: tuple[Any, ...] = ()

    @property
    def fiches(self) -> list[str]:
        return list(self.problems)

    def as_lines(self) -> dict[str, tuple[str, ...]]:
        """fiche id -> its problem lines."""
        return {f: tuple(str(p) for p in probs) for f, probs in self.problems.items()}


def excluded_fiches(problems: Iterable[Any], observations, referential,
                    file_names: Mapping[str, str] | None = None) -> Exclusions:
    """The fiches stopped by ``problems`` (:class:`collection.Problem`), see the module docstring.

    ``observations``: the valid rows (``fichier``, ``fiche``) of the same read; ``file_names``:
    problem file (as shown in problem lines) -> ``fichier`` of the observations (the path relative
    to the folder), when they differ.
    """
    from . import collection
    from .referential import fiche_sort_key

    problems = list(problems)
    if not problems:
        return Exclusions()
    names = dict(file_names or {})
    fiche_ids = set(referential.fiche_ids)
    fiche_of_indicator = {i.id: i.fiche for i in referential.indicators()}
    fiche_of_indicator.update({m.id: f.id for f in referential.fiches for m in f.jalons})
    held: dict[str, set[str]] = {}
    for fichier, fiche in zip(observations["fichier"].tolist(), observations["fiche"].tolist()):
        held.setdefault(str(fichier), set()).add(str(fiche))
    cells: dict[str, dict[int, dict[str, str]]] = {}

    def row_fiche(file: str, row: int) -> str | None:
        if file not in cells:
            try:
                cells[file] = collection.row_cells(file) if Path(file).is_file() else {}
            except Exception:  # an unreadable file names no fiche
                cells[file] = {}
        found = cells[file].get(row) or {}
        fiche = found.get("fiche", "")
        if fiche in fiche_ids:
            return fiche
        ind = found.get("indicateur", "")
        for suffix in (".numerateur", ".denominateur", ".personnes"):
            ind = ind.removesuffix(suffix)
        return fiche_of_indicator.get(ind)

    by_fiche: dict[str, list[Any]] = {}
    general: list[Any] = []
    for p in problems:
        stopped = set(held.get(names.get(p.file, p.file), set()))
        if p.row is not None:
            own = row_fiche(p.file, p.row)
            if own is not None:
                stopped.add(own)
        if not stopped:
            general.append(p)
            continue
        for fiche in stopped:
            by_fiche.setdefault(fiche, []).append(p)
    ordered = {f: tuple(by_fiche[f]) for f in sorted(by_fiche, key=fiche_sort_key)}
    return Exclusions(problems=ordered, general=tuple(general))


def exclusions_of_folder(collection_result, problems, referential, data_dir: str | Path
                         ) -> Exclusions:
    """:func:`excluded_fiches` for a collection read from the folder ``data_dir``."""
    from .provenance import collection_files

    names = {str(f): rel for f, rel in collection_files(Path(data_dir))}
    return excluded_fiches(problems, collection_result.observations, referential, names)

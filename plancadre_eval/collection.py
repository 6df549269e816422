"""Collected partner files: validation against the referential, check (reading the spreadsheets
themselves is :mod:`spreadsheets`).

A collection file has one row per observation and the columns ``fiche``, ``indicateur``, ``annee``,
``territoire``, ``valeur`` (required) and ``source``, ``commentaire`` (optional); any other column
(``libelle``, ``unite``…) is ignored, and a row whose ``valeur`` is empty means "not reported".
The row conventions (``<id>.numerateur`` / ``<id>.denominateur`` for percentages, ``<id>.personnes``
for average durations, milestone ids such as ``2.10.J1`` answered oui/non/date) are described in
``data/referentiel/README.md``.

Public functions:

- :func:`read_collection` ``(paths, referential, territories) -> (Collection, list[Problem])``;
- :func:`load_collection` — the same, raising :class:`CollectionError` when any problem exists (the
  run never works from partly-read data);
- :func:`command_check` — ``plancadre-eval check``.

The workbook a pilot service fills in (``plancadre-eval template``) is in :mod:`template`.

``territories`` is any object with ``valid_codes(referential) -> set[str]`` and
``level_of(code, referential) -> str`` (see ``territories.py``). Input files are read once, as
bytes, and never written to.
"""

from __future__ import annotations

import functools
import math
import re
import sys
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

import pandas as pd

from .paths import DEMO_MARKER  # the file marking a folder of demonstration data
from .provenance import natural_key
from .referential import COMPONENTS, Indicator, Referential, suggest
from .spreadsheets import (  # noqa: F401 - re-exported: the collection's reading vocabulary
    _DATE_HINT,
    _SPACES_RE,
    COLLECTION_COLUMNS,
    DataWarning,
    FILE_SUFFIXES,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    TEMPLATE_SHEET,
    Problem,
    RawFile,
    _fmt_list,
    _fold,
    _looks_like_date,
    _norm_id,
    _parse_numbers,
    discover,
    parse_date,
    parse_number,
    read_file,
)
from .territories import Level, expected_codes, structure_level

#: Columns of :attr:`Collection.observations` (ARCHITECTURE.md, "Observations").
OBSERVATION_COLUMNS = (
    "fiche", "indicateur", "composante", "annee", "territoire", "valeur", "texte", "source",
    "commentaire", "fichier", "ligne",
)


_LEVEL_IS = {
    Level.DEPARTEMENT: "le département",
    Level.ARRONDISSEMENT: "un arrondissement",
    Level.EPCI: "un EPCI",
    Level.COMMUNE: "une commune",
    Level.STRUCTURE: "une structure",
    Level.COMPAGNIE_GENDARMERIE: "une compagnie de gendarmerie",
}
_LEVEL_COLLECTED = {
    Level.DEPARTEMENT: "au niveau du département",
    Level.ARRONDISSEMENT: "par arrondissement",
    Level.EPCI: "par EPCI",
    Level.COMMUNE: "par commune",
    Level.STRUCTURE: "par structure (hors compagnies de gendarmerie)",
    Level.COMPAGNIE_GENDARMERIE: "par compagnie de gendarmerie",
}
_NEGATIVE = {
    "comptage": "un comptage est positif ou nul",
    "duree": "une durée est positive ou nulle",
    "numerateur": "un numérateur est positif ou nul",
    "denominateur": "un dénominateur est positif ou nul",
    "personnes": "un effectif est positif ou nul",
    "pourcentage": "un pourcentage est compris entre 0 et 100",
}
_COLUMN_ORDER = {None: -1, **{c: i for i, c in enumerate(COLLECTION_COLUMNS)}}


class TerritoriesLike(Protocol):
    def valid_codes(self, referential: Referential) -> set[str]: ...

    def level_of(self, code: str, referential: Referential) -> str: ...


class CollectionError(ValueError):
    """Collected data that does not pass ``check``; ``str()`` is every problem line."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Collection:
    """Validated observations (ARCHITECTURE.md, "Observations") and the files read.

    ``files`` lists ``(path, sha256 hex digest)`` of every file read, in reading order;
    ``warnings`` the :class:`DataWarning` lines found while reading (identical duplicates; the
    plausibility warnings are :func:`plausibility.plausibility_warnings`); ``displays`` maps the
    ``fichier`` column to the path shown in problem lines; ``file_fiches`` the fiches each file
    (as shown in problem lines) has rows for, rows with problems included.
    """

    observations: pd.DataFrame
    files: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[DataWarning] = field(default_factory=list)
    displays: dict[str, str] = field(default_factory=dict)
    file_fiches: dict[str, list[str]] = field(default_factory=dict)



# --- what a collected id means -----------------------------------------------------------------

@dataclass(frozen=True)
class _Entry:
    """One id a collection row may use (or a known id that must not be collected)."""

    id: str                # canonical id as written in files, e.g. "2.9.3.numerateur"
    fiche: str
    base: str              # indicator or milestone id, e.g. "2.9.3"
    composante: str        # valeur | numerateur | denominateur | personnes
    kind: str              # nombre | pourcentage | jalon | date | texte
    type_label: str        # for messages: comptage, duree, numerateur, ...
    niveau: str
    refusal: str | None = None   # why a known id is not collected


class _Ids:
    """Look-up of collected ids built from the referential."""

    def __init__(self, ref: Referential):
        self.ref = ref
        self.entries: dict[str, _Entry] = {}
        self.indicators: dict[str, Indicator] = {}
        self.by_fiche: dict[str, list[str]] = {}
        for fiche in ref.fiches:
            ids = self.by_fiche.setdefault(fiche.id, [])
            for ind in fiche.indicateurs:
                self.indicators[_norm_id(ind.id)] = ind
                refusal = _refusal(ind)
                kind = {"pourcentage": "pourcentage", "jalon": "jalon", "date": "date",
                        "qualitatif": "texte"}.get(ind.type, "nombre")
                self._add(_Entry(ind.id, fiche.id, ind.id, "valeur", kind, ind.type, ind.niveau,
                                 refusal))
                for comp in COMPONENTS.get(ind.type, ()):
                    self._add(_Entry(f"{ind.id}.{comp}", fiche.id, ind.id, comp, "nombre", comp,
                                     ind.niveau, refusal))
                if refusal is None:
                    ids += ind.collected_ids()
            for ms in fiche.jalons:
                self._add(_Entry(ms.id, fiche.id, ms.id, "valeur", "jalon", "jalon", "departement"))
                ids.append(ms.id)
        self.fiches = {_norm_id(f.id): f.id for f in ref.fiches}
        self.all_collected = [i for ids in self.by_fiche.values() for i in ids]

    def _add(self, entry: _Entry) -> None:
        self.entries[_norm_id(entry.id)] = entry

    def unknown_message(self, text: str, fiche: str | None) -> str:
        """Message for an indicator id that is not in the referential."""
        key = _norm_id(text)
        base, _, comp = key.rpartition(".")
        if comp in ("numerateur", "denominateur", "personnes") and base in self.indicators:
            ind = self.indicators[base]
            allowed = " ou ".join(f"'{i}'" for i in ind.collected_ids()) if ind.collected_ids() \
                else None
            msg = (f"l'indicateur '{ind.id}' est de type {ind.type} et n'a pas de ligne "
                   f"'.{comp}'")
            return f"{msg} ; attendu {allowed}." if allowed else f"{msg}."
        choices = self.by_fiche.get(fiche, []) if fiche else []
        near = suggest(text.strip(), choices or self.all_collected)
        if near:
            return f"indicateur '{text}' inconnu ; vouliez-vous dire '{near}' ?"
        if choices:
            return (f"indicateur '{text}' inconnu ; identifiants de la fiche {fiche} : "
                    f"{_fmt_list(choices)}.")
        return (f"indicateur '{text}' inconnu ; la liste des identifiants est dans le gabarit "
                "(plancadre-eval template).")


def _refusal(ind: Indicator) -> str | None:
    if ind.source == "public":
        serie = f" (série {ind.serie})" if ind.serie else ""
        return (f"l'indicateur '{ind.id}' n'est pas collecté : il est calculé depuis la "
                f"statistique publique{serie} ; supprimez cette ligne.")
    if ind.type == "taux":
        return (f"l'indicateur '{ind.id}' n'est pas collecté : c'est un taux calculé depuis "
                f"l'indicateur '{ind.numerateur}' et la population légale ; déclarez "
                f"'{ind.numerateur}' à la place.")
    if ind.type == "a_determiner":
        return (f"l'indicateur '{ind.id}' n'est pas collecté : le plan renvoie sa définition à "
                "plus tard (à déterminer) ; supprimez cette ligne.")
    return None


class _Places:
    """Territory codes accepted, with their level (cached per code)."""

    def __init__(self, ref: Referential, territories: TerritoriesLike):
        self.ref = ref
        self.territories = territories
        self.dep = ref.plan.departement
        structures = {s.code: structure_level(s) for s in ref.structures}
        codes = {str(c) for c in territories.valid_codes(ref)} | set(structures) | {self.dep}
        self.levels: dict[str, str | None] = {**structures, self.dep: Level.DEPARTEMENT}
        self._codes = codes
        self.lookup = {c.lower(): c for c in codes}
        if len(self.lookup) < len(codes):   # equal but for case: the last in natural order wins
            self.lookup = {c.lower(): c for c in self.codes}
        self._at_level: dict[str, list[str]] = {}

    @functools.cached_property
    def codes(self) -> list[str]:
        """Every accepted code, in natural order (sorted when first needed: suggestions)."""
        return sorted(self._codes, key=natural_key)

    def canonical(self, text: str) -> str | None:
        s = _SPACES_RE.sub("", text)
        if re.fullmatch(r"\d+\.0+", s):
            s = s.split(".")[0]
        return self.lookup.get(s.lower())

    def level(self, code: str) -> str | None:
        if code not in self.levels:
            try:
                self.levels[code] = self.territories.level_of(code, self.ref)
            except Exception:  # noqa: BLE001 - a code the territories module cannot place
                self.levels[code] = None
        return self.levels[code]

    def accepts(self, code: str, niveau: str) -> bool:
        """The département total, or a code of the indicator's level (a gendarmerie company is
        not a "structure": see :class:`territories.Level`)."""
        return code == self.dep or self.level(code) == niveau

    def name(self, code: str) -> str:
        """Label of a code for the template ("" when the territories module has none)."""
        for s in self.ref.structures:
            if s.code == code:
                return s.libelle
        name_of = getattr(self.territories, "name_of", None)
        try:
            return str(name_of(code, self.ref)) if name_of else ""
        except Exception:  # noqa: BLE001 - a name is only a reminder
            return ""

    def at_level(self, niveau: str) -> list[str]:
        """Codes of one level (:func:`territories.expected_codes`), cached."""
        if niveau not in self._at_level:
            self._at_level[niveau] = expected_codes(niveau, self.ref, self.territories)
        return self._at_level[niveau]


# --- validation --------------------------------------------------------------------------------

def _empty_observations() -> pd.DataFrame:
    return pd.DataFrame({
        "fiche": pd.Series([], dtype=str), "indicateur": pd.Series([], dtype=str),
        "composante": pd.Series([], dtype=str), "annee": pd.Series([], dtype="int64"),
        "territoire": pd.Series([], dtype=str), "valeur": pd.Series([], dtype=float),
        "texte": pd.Series([], dtype=str), "source": pd.Series([], dtype=str),
        "commentaire": pd.Series([], dtype=str), "fichier": pd.Series([], dtype=str),
        "ligne": pd.Series([], dtype="int64"),
    })


def read_collection(
    paths: Iterable[str | Path] | str | Path,
    referential: Referential,
    territories: TerritoriesLike | None = None,
) -> tuple[Collection, list[Problem]]:
    """Read and validate collection files or folders; never raises for bad data.

    Returns the observations of the rows without any problem (columns :data:`OBSERVATION_COLUMNS`;
    ``valeur`` is a float in the indicator's unit — percentages in percent, durations in the
    indicator's unit, counts as counts — NaN for milestones, dates and text; ``texte`` is the cell
    as written, normalised to "oui" / "non" / ``AAAA-MM-JJ`` for milestones and dates; for a
    qualitative indicator whose ``valeur`` is empty it is the ``commentaire``), and every problem
    found, sorted by file and row. Rows whose ``valeur`` is empty are "not reported" and skipped.
    """
    if territories is None:
        territories = _default_territories()
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = list(paths)
    files, problems = discover(paths)
    raws = [read_file(path, display, name) for path, display, name in files]
    roots = [Path(p) for p in paths]
    for raw in raws:
        raw.demo = _in_demo_folder(raw.path, roots)
        problems.extend(raw.problems)
    warnings: list[DataWarning] = []
    file_fiches: dict[str, set[str]] = {}
    observations, row_problems = _validate(raws, referential, territories, warnings, file_fiches)
    problems.extend(row_problems)
    order = {raw.display: i for i, raw in enumerate(raws)}
    problems.sort(key=lambda p: (order.get(p.file, -1), p.row if p.row is not None else -1,
                                 _COLUMN_ORDER.get(p.column, 99)))
    collection = Collection(observations=observations,
                            files=[(str(raw.path), raw.sha256) for raw in raws if raw.sha256],
                            warnings=warnings, displays={raw.name: raw.display for raw in raws},
                            file_fiches={k: sorted(v, key=natural_key)
                                         for k, v in file_fiches.items()})
    return collection, problems


def _in_demo_folder(path: Path, roots: list[Path]) -> bool:
    """True when a folder from the file's own folder up to the path given on the command line
    (the file's folder when the file itself was given) holds the ``DEMONSTRATION`` marker."""
    path = path.resolve()
    folder = path.parent
    top = folder
    for root in roots:
        root = root.resolve()
        if root.is_dir() and (root == folder or root in folder.parents):
            top = root
            break
    while True:
        if (folder / DEMO_MARKER).exists():
            return True
        if folder == top or folder == folder.parent:
            return False
        folder = folder.parent


def is_demo_source(source: str) -> bool:
    """True when a row's ``source`` says it is demonstration data (the demo generator writes
    "données de démonstration (fictives)")."""
    return "demonstration" in _fold(source)


def load_collection(
    paths: Iterable[str | Path] | str | Path,
    referential: Referential,
    territories: TerritoriesLike | None = None,
) -> Collection:
    """:func:`read_collection`, raising :class:`CollectionError` (all problem lines) if any."""
    collection, problems = read_collection(paths, referential, territories)
    if problems:
        raise CollectionError(problems)
    return collection


def _frame(raws: list[RawFile]) -> pd.DataFrame:
    """Raw text rows of all readable files, one column per collection column."""
    columns = list(COLLECTION_COLUMNS) + ["file_index", "ligne"]
    data: dict[str, list] = {c: [] for c in columns}
    for index, raw in enumerate(raws):
        if not raw.rows:
            continue
        for c in COLLECTION_COLUMNS:
            i = raw.columns.get(c)
            if i is None:
                data[c] += [""] * len(raw.rows)
            else:
                data[c] += [cells[i] if i < len(cells) else "" for _, cells in raw.rows]
        data["file_index"] += [index] * len(raw.rows)
        data["ligne"] += [n for n, _ in raw.rows]
    if not data["ligne"]:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(data, columns=columns)


_UNSET = object()   # no result memoised yet (see _RowChecks.cell)


class _RowChecks:
    """Checks of one cell each: ``(parsed value, French message or None)``.

    Suggestions ("vouliez-vous dire") are memoised: difflib is slow and bad values repeat.
    """

    def __init__(self, ref: Referential, territories: TerritoriesLike):
        self.ref = ref
        self.ids = _Ids(ref)
        self.places = _Places(ref, territories)
        self.years = ref.plan.data_years
        self._memo: dict[tuple[str, str], str | None] = {}
        self._cells: dict[tuple, Any] = {}   # (check, cell text...) -> its result

    def cell(self, check: str, *args) -> Any:
        """``getattr(self, check)(*args)``, once per distinct cell: a column holds few distinct
        texts (fiches, ids, years, territory codes), and each check is a pure function of them."""
        key = (check, *args)
        found = self._cells.get(key, _UNSET)
        if found is _UNSET:
            found = self._cells[key] = getattr(self, check)(*args)
        return found

    def entry(self, text: str) -> _Entry | None:
        """The id a row's ``indicateur`` cell names; None when empty or unknown."""
        return self.ids.entries.get(_norm_id(text)) if text else None

    def _closest(self, text: str, pool_name: str, pool: list[str]) -> str | None:
        key = (text, pool_name)
        if key not in self._memo:
            self._memo[key] = suggest(text, pool)
        return self._memo[key]

    def fiche(self, text: str) -> tuple[str | None, str | None]:
        if not text:
            return None, ("vide ; attendu l'identifiant de la fiche, écrit comme dans le plan "
                          "(ex. '2.10').")
        fiche = self.ids.fiches.get(_norm_id(text))
        if fiche is not None:
            return fiche, None
        near = self._closest(text, "fiches", self.ref.fiche_ids)
        if near:
            return None, f"fiche '{text}' inconnue ; vouliez-vous dire '{near}' ?"
        return None, f"fiche '{text}' inconnue ; fiches du plan : {_fmt_list(self.ref.fiche_ids)}."

    def indicator(self, text: str, entry: _Entry | None, fiche: str | None
                  ) -> tuple[_Entry | None, str | None]:
        """The row's id (``entry`` already looked up); fiche consistency is :meth:`same_fiche`."""
        if not text:
            return None, ("vide ; attendu l'identifiant d'un indicateur ou d'un jalon de la fiche "
                          "(ex. '2.10.1', '2.10.J1').")
        if entry is None:
            key = (text, f"indicateur:{fiche}")
            if key not in self._memo:
                self._memo[key] = self.ids.unknown_message(text, fiche)
            return None, self._memo[key]
        if entry.refusal:
            return None, entry.refusal
        return entry, None

    @staticmethod
    def same_fiche(entry: _Entry, fiche: str, fiche_text: str) -> str | None:
        if entry.fiche == fiche:
            return None
        msg = (f"l'indicateur '{entry.id}' appartient à la fiche '{entry.fiche}', pas à la fiche "
               f"'{fiche_text}'")
        typed, _ = parse_number(fiche_text)
        if not math.isnan(typed) and typed == parse_number(entry.fiche)[0]:
            msg += (f" ; Excel a pu lire '{entry.fiche}' comme le nombre "
                    f"{fiche_text.replace('.', ',')} : mettez la colonne fiche au format Texte")
        return msg + "."

    def year(self, text: str) -> tuple[int | None, str | None]:
        y0, y1 = self.years[0], self.years[-1]
        if not text:
            return None, f"vide ; attendu une année entre {y0} et {y1}."
        y, percent = parse_number(text)
        if math.isnan(y) or not y.is_integer() or percent:
            return None, f"'{text}' n'est pas une année ; attendu un entier entre {y0} et {y1}."
        if int(y) not in self.years:
            return None, f"année {int(y)} hors du plan ; attendu une année entre {y0} et {y1}."
        return int(y), None

    def territory(self, text: str, entry: _Entry | None) -> tuple[str | None, str | None]:
        places = self.places
        if not text:
            return None, (f"vide ; attendu un code de territoire (ex. '{places.dep}' pour le "
                          "département).")
        code = places.canonical(text)
        if code is None:
            if entry:
                pool = list(dict.fromkeys([places.dep] + places.at_level(entry.niveau)))
            else:
                pool = places.codes
            near = self._closest(text, entry.niveau if entry else "*", pool)
            if near:
                return None, f"territoire '{text}' inconnu ; vouliez-vous dire '{near}' ?"
            if entry and len(pool) <= 15:
                return None, (f"territoire '{text}' inconnu ; codes admis pour '{entry.id}' : "
                              f"{_fmt_list(pool)}.")
            return None, (f"territoire '{text}' inconnu ; attendu un code du référentiel des "
                          "territoires (département, arrondissement, EPCI, commune ou structure "
                          "du plan).")
        if entry and not places.accepts(code, entry.niveau):
            level = places.level(code)
            is_what = _LEVEL_IS.get(level, f"de niveau {level}") if level else "inclassable"
            if entry.niveau == "departement":
                total = f" ('{places.dep}')"
            else:
                total = f" ou pour le total départemental ('{places.dep}')"
            return None, (f"'{code}' est {is_what} ; l'indicateur '{entry.base}' se collecte "
                          f"{_LEVEL_COLLECTED[entry.niveau]}{total}.")
        return code, None

    @staticmethod
    def value(text: str, number: float, percent: bool, entry: _Entry, commentaire: str
              ) -> tuple[float, str, str | None]:
        """``(valeur, texte, message)`` of the value cell; ``number``/``percent`` pre-parsed."""
        if entry.kind in ("nombre", "pourcentage"):
            if math.isnan(number):
                return number, text, (f"'{text}' n'est pas un nombre ; attendu un nombre (ex. 1030 "
                                      "ou 12,5).")
            if percent and entry.kind != "pourcentage":
                return number, text, (f"'{text}' : le signe % n'est admis que pour un indicateur "
                                      "de type pourcentage ; attendu un nombre.")
            if number < 0:
                return number, text, f"valeur négative '{text}' ; {_NEGATIVE[entry.type_label]}."
            if entry.kind == "pourcentage" and number > 100:
                return number, text, (f"pourcentage '{text}' supérieur à 100 ; attendu un "
                                      "pourcentage entre 0 et 100.")
            return number, text, None
        if entry.kind == "texte":
            return math.nan, text or commentaire, None
        if entry.kind == "jalon" and _fold(text) in ("oui", "non"):
            return math.nan, _fold(text), None
        date = parse_date(text)
        if date:
            return math.nan, date.isoformat(), None
        if _looks_like_date(text):
            return math.nan, text, f"'{text}' n'est pas une date valide ; attendu {_DATE_HINT}."
        if entry.kind == "jalon":
            return math.nan, text, (f"'{text}' n'est pas une réponse de jalon ; attendu oui, non "
                                    f"ou la date de réalisation ({_DATE_HINT}).")
        return math.nan, text, f"'{text}' n'est pas une date ; attendu {_DATE_HINT}."


#: One row of :func:`_frame` as :func:`_validate` reads it, with its parsed ``valeur``.
_Row = namedtuple("_Row", ("file_index", "ligne", "fiche", "indicateur", "annee", "territoire",
                           "valeur", "source", "commentaire", "number", "percent"))


def _validate(raws: list[RawFile], ref: Referential, territories: TerritoriesLike,
              warnings: list[DataWarning] | None = None,
              file_fiches: dict[str, set[str]] | None = None) -> tuple[pd.DataFrame, list[Problem]]:
    """Check every reported row; cross-row checks (duplicates, numerator > denominator, demo and
    real data mixed) last.

    The same observation (indicator id, year, territory) declared twice: with the same value, the
    first row is kept and the second is a warning appended to ``warnings`` (a file sent twice, or
    copied into two folders); with different values, an error naming both files and rows.
    """
    warnings = [] if warnings is None else warnings
    file_fiches = {} if file_fiches is None else file_fiches
    table = _frame(raws)
    if table.empty:
        return _empty_observations(), []
    checks = _RowChecks(ref, territories)
    numbers, percents = _parse_numbers(table["valeur"])   # vectorised: the costly part
    problems: list[Problem] = []
    kept: list[dict[str, Any]] = []
    first_seen: dict[tuple, tuple[int, int]] = {}          # key -> (file index, row)
    fractions: dict[tuple, dict[str, tuple[float, str, int, int]]] = {}
    bad_rows: set[tuple[int, int]] = set()

    def where(file_index: int, row: int, seen_from: int) -> str:
        if file_index == seen_from:
            return f"ligne {row}"
        return f"ligne {row} de {raws[file_index].display}"

    # plain Python over the columns, each read once (a row: one tuple of cells)
    for rec in map(_Row._make, zip(*(table[c].tolist() for c in _Row._fields[:-2]),
                                   numbers.tolist(), percents.tolist())):
        raw, row = raws[rec.file_index], rec.ligne
        entry = checks.cell("entry", rec.indicateur)
        if not rec.valeur and not (entry and entry.kind == "texte" and rec.commentaire):
            continue  # an empty valeur means "not reported"
        messages: list[tuple[str, str | None]] = []
        fiche, msg = checks.cell("fiche", rec.fiche)
        messages.append(("fiche", msg))
        if fiche is not None:
            file_fiches.setdefault(raw.display, set()).add(fiche)
        entry, msg = checks.indicator(rec.indicateur, entry, fiche)
        messages.append(("indicateur", msg))
        if entry is not None and fiche is not None:
            messages.append(("fiche", checks.same_fiche(entry, fiche, rec.fiche)))
        year, msg = checks.cell("year", rec.annee)
        messages.append(("annee", msg))
        code, msg = checks.cell("territory", rec.territoire, entry)
        messages.append(("territoire", msg))
        number, texte = math.nan, rec.valeur
        if entry is not None:
            number, texte, msg = checks.value(rec.valeur, float(rec.number),
                                              bool(rec.percent), entry, rec.commentaire)
            messages.append(("valeur", msg))
        local = [Problem(raw.display, row, col, m) for col, m in messages if m]
        if entry is not None and year is not None and code is not None:
            key = (entry.base, entry.composante, year, code)
            if key in first_seen:
                f0, r0, v0 = first_seen[key]
                if not local and v0[:2] == _same_value(number, texte)[:2]:
                    warnings.append(DataWarning(
                        raw.display, row, f"'{entry.id}', année {year}, territoire '{code}' déjà "
                        f"déclaré avec la même valeur à la {where(f0, r0, rec.file_index)} ; cette "
                        "ligne est ignorée (supprimez le doublon)."))
                    continue
                local.append(Problem(
                    raw.display, row, "valeur",
                    f"observation déclarée deux fois avec des valeurs différentes : "
                    f"'{entry.id}', année {year}, territoire '{code}' vaut '{rec.valeur}' ici et "
                    f"'{v0[2]}' à la {where(f0, r0, rec.file_index)} ; gardez la bonne valeur et "
                    "supprimez l'autre ligne."))
                bad_rows.add((f0, r0))
            else:
                first_seen[key] = (rec.file_index, row, _same_value(number, texte, rec.valeur))
                if entry.composante in ("numerateur", "denominateur") and not local:
                    fractions.setdefault((entry.base, year, code), {})[entry.composante] = (
                        number, rec.valeur, rec.file_index, row)
        if local:
            problems.extend(local)
            bad_rows.add((rec.file_index, row))
            continue
        kept.append({
            "fiche": entry.fiche, "indicateur": entry.base, "composante": entry.composante,
            "annee": year, "territoire": code, "valeur": number, "texte": texte,
            "source": rec.source, "commentaire": rec.commentaire, "fichier": raw.name,
            "ligne": row, "file_index": rec.file_index,
        })

    problems.extend(_demo_mix(raws, table, bad_rows))
    for parts in fractions.values():
        if "numerateur" in parts and "denominateur" in parts:
            num, num_text, nf, nr = parts["numerateur"]
            den, den_text, df_, dr = parts["denominateur"]
            if num > den:
                problems.append(Problem(
                    raws[nf].display, nr, "valeur",
                    f"numérateur '{num_text}' supérieur au dénominateur '{den_text}' "
                    f"({where(df_, dr, nf)}) ; le numérateur compte une partie du dénominateur."))
                bad_rows.add((nf, nr))

    if not kept:
        return _empty_observations(), problems
    obs = pd.DataFrame.from_records(kept)
    obs = obs[[(f, r) not in bad_rows for f, r in zip(obs["file_index"], obs["ligne"])]]
    obs = obs.sort_values(["file_index", "ligne"], kind="stable").reset_index(drop=True)
    obs = obs.drop(columns="file_index")[list(OBSERVATION_COLUMNS)]
    obs = obs.astype({"annee": "int64", "ligne": "int64", "valeur": float})
    for col in ("fiche", "indicateur", "composante", "territoire", "texte", "source",
                "commentaire", "fichier"):
        obs[col] = obs[col].astype(str)
    return obs, problems


def _same_value(number: float, texte: str, written: str = "") -> tuple:
    """What two declarations of one observation are compared on: the number (NaN-safe) or the
    normalised text; ``written`` (the cell as typed, for messages) is carried along and ignored
    by the comparison of :func:`_validate` (it compares the first two items)."""
    return (None if math.isnan(number) else number, "" if not math.isnan(number) else texte,
            written)


def _demo_mix(raws: list[RawFile], table: pd.DataFrame, bad_rows: set[tuple[int, int]]
              ) -> list[Problem]:
    """Demonstration and real data never mix: one problem per file (first row concerned, and how
    many), every row concerned added to ``bad_rows``.

    A row whose ``source`` says "démonstration" read from a folder without the ``DEMONSTRATION``
    marker, or a row without it read from a folder holding the marker, is an error."""
    problems = []
    demo_of: dict[str, bool] = {}
    wrong: dict[int, list[int]] = {}           # file index -> rows concerned, in table order
    for index, valeur, source, ligne in zip(*(table[c].tolist() for c in (
            "file_index", "valeur", "source", "ligne"))):
        if valeur == "":
            continue
        if source not in demo_of:
            demo_of[source] = bool(is_demo_source(source))
        if demo_of[source] != raws[index].demo:
            wrong.setdefault(index, []).append(ligne)
    for index, raw in enumerate(raws):
        rows = wrong.get(index)
        if not rows:
            continue
        others = f" (et {len(rows) - 1} autres lignes)" if len(rows) > 1 else ""
        if raw.demo:
            message = (f"ligne de données réelles{others} dans un dossier de démonstration (il "
                       f"contient le fichier {DEMO_MARKER}) : les pages porteraient la mention "
                       "« Données de démonstration » sur des données réelles ; déposez les "
                       f"fichiers réels dans data/collecte/, sans le fichier {DEMO_MARKER}.")
        else:
            message = (f"donnée de démonstration (fictive){others} dans un dossier de données "
                       f"réelles (sans fichier {DEMO_MARKER}) : ses chiffres passeraient pour "
                       "réels ; retirez ce fichier du dossier de collecte (les données de "
                       "démonstration restent dans data/demo/).")
        problems.append(Problem(raw.display, rows[0], "source", message))
        bad_rows.update((index, r) for r in rows)
    return problems


def _default_territories() -> TerritoriesLike:
    """The project's territories (``territories.load_territories()``)."""
    from .territories import load_territories

    return load_territories()


# --- command line ------------------------------------------------------------------------------

def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


def command_check(args) -> int:
    """``plancadre-eval check PATH... [--strict]``: every problem (one per line on stdout, a count
    on stderr), then every warning (``FICHIER:LIGNE: avertissement : …``, see
    :mod:`plausibility`). Exit 1 when a problem exists, or with ``--strict`` a warning; else 0
    with a summary."""
    from .plausibility import collection_warnings
    from .referential import load_for_command

    ref = load_for_command(args)
    if ref is None:
        return 1
    territories = _default_territories()
    collection, problems = read_collection(args.paths, ref, territories)
    warnings = collection_warnings(collection, ref, territories)
    for p in problems:
        print(p)
    for w in warnings:
        print(w)
    strict = bool(getattr(args, "strict", False))
    if problems:
        files = len({p.file for p in problems})
        print(f"{_plural(len(problems), 'problème')} dans {_plural(files, 'fichier')} : "
              "corrigez-les puis relancez plancadre-eval check.", file=sys.stderr)
        return 1
    summary = (f"{_plural(len(collection.files), 'fichier')}, "
               f"{_plural(len(collection.observations), 'observation')}")
    if warnings and strict:
        print(f"{_plural(len(warnings), 'avertissement')} (--strict) : vérifiez ces valeurs "
              "auprès des services pilotes.", file=sys.stderr)
        return 1
    if warnings:
        print(f"OK : {summary}, {_plural(len(warnings), 'avertissement')} à vérifier.")
    else:
        print(f"OK : {summary}.")
    return 0


def row_cells(path: str | Path, columns: Iterable[str] = ("fiche", "indicateur")
              ) -> dict[int, dict[str, str]]:
    """The raw text of some collection columns for every data row of one file, by the row number
    problem lines show (``{row: {column: text}}``; empty for an unreadable file). Used to name the
    fiche a rejected row belongs to (:mod:`plancadre_eval.exclusions`)."""
    p = Path(path)
    raw = read_file(p, str(p), p.name)
    wanted = [c for c in columns if c in raw.columns]
    return {n: {c: (cells[raw.columns[c]].strip() if raw.columns[c] < len(cells) else "")
                for c in wanted}
            for n, cells in raw.rows}

"""Collected partner files: reading (CSV/XLSX as French Excel writes them), validation, check.

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

import csv
import datetime as dt
import hashlib
import io
import math
import re
import sys
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

import pandas as pd

from .provenance import COLLECTION_SUFFIXES, collection_files, natural_key
from .referential import COMPONENTS, Indicator, Referential, suggest
from .territories import Level, expected_codes, structure_level

#: Required columns of a collection file, in the order users see them.
REQUIRED_COLUMNS = ("fiche", "indicateur", "annee", "territoire", "valeur")
OPTIONAL_COLUMNS = ("source", "commentaire")
COLLECTION_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
#: Columns of :attr:`Collection.observations` (ARCHITECTURE.md, "Observations").
OBSERVATION_COLUMNS = (
    "fiche", "indicateur", "composante", "annee", "territoire", "valeur", "texte", "source",
    "commentaire", "fichier", "ligne",
)
#: Sheet read in a workbook that has it (the one :mod:`template` writes), else the first sheet.
TEMPLATE_SHEET = "Collecte"
FILE_SUFFIXES = COLLECTION_SUFFIXES

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
_DATE_HINT = "AAAA-MM-JJ ou JJ/MM/AAAA"


class TerritoriesLike(Protocol):
    def valid_codes(self, referential: Referential) -> set[str]: ...

    def level_of(self, code: str, referential: Referential) -> str: ...


# --- problems and results ----------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One problem found in a collection file.

    ``row`` is the row number seen in the spreadsheet (header = 1), ``None`` for a problem about the
    whole file; ``column`` is the column concerned, or ``None``. ``str()`` gives the line printed by
    ``plancadre-eval check``: ``FILE:ROW: colonne 'NAME': message``.
    """

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}:" if self.row is not None else f"{self.file}:"
        col = f" colonne '{self.column}':" if self.column else ""
        return f"{where}{col} {self.message}"


class CollectionError(ValueError):
    """Collected data that does not pass ``check``; ``str()`` is every problem line."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Collection:
    """Validated observations (ARCHITECTURE.md, "Observations") and the files read.

    ``files`` lists ``(path, sha256 hex digest)`` of every file read, in reading order.
    """

    observations: pd.DataFrame
    files: list[tuple[str, str]] = field(default_factory=list)


# --- small parsers -----------------------------------------------------------------------------

def _fold(text: str) -> str:
    """Lower case without accents nor surrounding spaces (for lenient matching of names)."""
    text = unicodedata.normalize("NFKD", str(text).strip().lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


_SPACES_RE = re.compile(r"[\s\u00a0\u202f\u2007\u2009]+")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def parse_number(text: str) -> tuple[float, bool]:
    """A number written the French-Excel way -> ``(value, had_percent_sign)``; NaN if not a number.

    Accepts a decimal comma or point, spaces / non-breaking spaces (U+00A0, U+202F) as thousands
    separators ("1 030"), and a trailing "%" ("12 %" -> 12.0, True). The value is *not* divided
    by 100: a percentage is kept in percent.
    """
    s = _SPACES_RE.sub("", str(text))
    percent = s.endswith("%")
    if percent:
        s = s[:-1]
    if "," in s and "." in s:
        # "1.030,5" (dot thousands) or "1,030.5" (comma thousands): the last one is decimal.
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    else:
        s = s.replace(",", ".")
    if not _NUMBER_RE.match(s):
        return math.nan, percent
    return float(s), percent


def _parse_numbers(texts: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`parse_number` over a column: ``(values as float, had % sign)``."""
    s = texts.astype(str).str.replace(_SPACES_RE, "", regex=True)
    percent = s.str.endswith("%").astype(bool)
    s = s.str.removesuffix("%")
    both = (s.str.contains(",", regex=False) & s.str.contains(".", regex=False)).astype(bool)
    s = s.str.replace(",", ".", regex=False)
    ok = s.str.match(_NUMBER_RE).astype(bool)
    values = pd.to_numeric(s.where(ok, "nan"), errors="coerce").astype(float)
    if both.any():  # rare: "1.030,5" -> the slow, careful path
        values[both] = [parse_number(t)[0] for t in texts[both]]
    return values, percent


def parse_date(text: str) -> dt.date | None:
    """``AAAA-MM-JJ`` or ``JJ/MM/AAAA`` -> date; None when not a valid date."""
    s = str(text).strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", s)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", s)
        if not m:
            return None
        d, mo, y = (int(g) for g in m.groups())
    try:
        return dt.date(y, mo, d)
    except ValueError:
        return None


def _looks_like_date(text: str) -> bool:
    s = str(text).strip()
    return bool(re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4}", s))


def _cell_text(value: Any, number_format: str | None = None) -> str:
    """An XLSX cell as the text a user typed: 2.0 -> "2", 2021.0 -> "2021", dates in ISO,
    0.12 formatted as a percentage -> "12 %", TRUE/FALSE -> "oui"/"non"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (int, float)):
        v = float(value)
        percent = bool(number_format) and "%" in str(number_format)
        if percent:
            v = round(v * 100, 10)
        if math.isnan(v) or math.isinf(v):
            text = ""
        elif v.is_integer():
            text = str(int(v))
        else:
            text = f"{v:.15g}"
        return f"{text} %" if percent and text else text
    return str(value).strip()


def _norm_id(text: str) -> str:
    """Id typed by a user -> lookup key: no spaces, commas as points, lower case, no accents."""
    return _fold(_SPACES_RE.sub("", str(text)).replace(",", "."))


def _fmt_list(items: Iterable[str]) -> str:
    return ", ".join(items)


# --- reading one file into raw text rows -------------------------------------------------------

@dataclass
class _RawFile:
    path: Path
    display: str                   # what problem lines show (the path as given by the user)
    name: str                      # "fichier" column: path relative to the folder given
    sha256: str = ""
    header_row: int = 1
    columns: dict[str, int] = field(default_factory=dict)   # collection column -> cell index
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    delimiter: str | None = None

    def problem(self, row, column, message):
        self.problems.append(Problem(self.display, row, column, message))


def _decode(data: bytes) -> str | None:
    """Bytes of a CSV -> text: UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252.

    None when none fits (Windows-1252 leaves five bytes undefined)."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _header_key(cell: str) -> str:
    key = _fold(cell.replace("\ufeff", ""))
    key = re.sub(r"[\s_\-]+", "_", key)
    return key


def _score_header(cells: list[str]) -> int:
    return sum(1 for c in cells if _header_key(c) in COLLECTION_COLUMNS)


def _sniff_delimiter(text: str) -> str:
    """``;`` (French Excel), ``,`` or tab: the one whose first line splits into known columns."""
    lines = [ln for ln in text.splitlines() if ln.strip()][:20]
    if not lines:
        return ";"
    best, best_score = ";", (-1, -1)
    for delim in (";", "\t", ","):
        try:
            parsed = list(csv.reader(lines, delimiter=delim))
        except csv.Error:
            continue
        header = parsed[0]
        widths = {len(r) for r in parsed}
        score = (_score_header(header), len(header) if len(widths) == 1 else 0)
        if score > best_score:
            best, best_score = delim, score
    return best


def _read_csv_rows(raw: _RawFile, data: bytes) -> list[tuple[int, list[str]]] | None:
    if data.startswith(b"PK\x03\x04"):
        raw.problem(None, None, "fichier illisible : c'est un classeur Excel enregistré avec "
                    "l'extension .csv ; renommez-le en .xlsx.")
        return None
    text = None if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")) \
        else _decode(data)
    if text is None:
        if b"\x00" in data:
            raw.problem(None, None, "fichier illisible : contenu binaire, ce n'est pas un fichier "
                        "CSV ; enregistrez-le depuis Excel au format « CSV (séparateur : "
                        "point-virgule) » ou « Classeur Excel (.xlsx) ».")
        else:
            raw.problem(None, None, "fichier illisible : encodage inconnu (ni UTF-8 ni "
                        "Windows-1252) ; enregistrez-le depuis Excel au format « CSV UTF-8 » ou "
                        "« CSV (séparateur : point-virgule) ».")
        return None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > max(2, len(text) // 100):
        raw.problem(None, None, "fichier illisible : contenu binaire, ce n'est pas un fichier "
                    "CSV ; enregistrez-le depuis Excel au format « CSV (séparateur : "
                    "point-virgule) » ou « Classeur Excel (.xlsx) ».")
        return None
    raw.delimiter = _sniff_delimiter(text)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=raw.delimiter))
    except csv.Error as exc:
        raw.problem(None, None, f"fichier illisible : CSV mal formé ({exc}).")
        return None
    # One CSV record is one spreadsheet row (Excel shows a quoted line break inside one cell).
    return [(i, [c.strip() for c in rec]) for i, rec in enumerate(records, start=1)]


def _read_xlsx_rows(raw: _RawFile, data: bytes) -> list[tuple[int, list[str]]] | None:
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any failure means "not a readable workbook"
        raw.problem(None, None, "fichier illisible : classeur XLSX endommagé ou qui n'est pas au "
                    "format Excel (.xlsx) ; ouvrez-le dans Excel et enregistrez-le de nouveau.")
        return None
    try:
        names = wb.sheetnames
        sheet = TEMPLATE_SHEET if TEMPLATE_SHEET in names else names[0]
        ws = wb[sheet]
        rows = []
        for i, cells in enumerate(ws.iter_rows(min_row=1), start=1):
            rows.append((i, [_cell_text(c.value, getattr(c, "number_format", None))
                             for c in cells]))
    except Exception:  # noqa: BLE001
        raw.problem(None, None, "fichier illisible : classeur XLSX endommagé ou qui n'est pas au "
                    "format Excel (.xlsx) ; ouvrez-le dans Excel et enregistrez-le de nouveau.")
        return None
    finally:
        wb.close()
    return rows


def _read_file(path: Path, display: str, name: str) -> _RawFile:
    raw = _RawFile(path=path, display=display, name=name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raw.problem(None, None, f"fichier illisible ({exc.strerror or exc}).")
        return raw
    raw.sha256 = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        suffix_shown = path.suffix or "sans extension"
        raw.problem(None, None, f"fichier au format non pris en charge ({suffix_shown}) ; "
                    "attendu un fichier .csv ou .xlsx.")
        return raw
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raw.problem(None, None, "fichier vide : attendu une ligne d'en-tête (fiche, indicateur, "
                    "annee, territoire, valeur) puis une ligne par observation.")
        return raw
    rows = _read_csv_rows(raw, data) if suffix == ".csv" else _read_xlsx_rows(raw, data)
    if rows is None:
        return raw
    non_empty = [(n, cells) for n, cells in rows if any(cells)]
    if not non_empty:
        raw.problem(None, None, "fichier vide : attendu une ligne d'en-tête (fiche, indicateur, "
                    "annee, territoire, valeur) puis une ligne par observation.")
        return raw
    header_row, header = non_empty[0]
    raw.header_row = header_row
    found: dict[str, int] = {}
    for idx, cell in enumerate(header):
        key = _header_key(cell)
        if key in COLLECTION_COLUMNS:
            if key in found:
                raw.problem(header_row, key, f"colonne en double (cellules {found[key] + 1} et "
                            f"{idx + 1} de l'en-tête) ; gardez-en une seule.")
            else:
                found[key] = idx
    shown = [c for c in header if c]
    if not any(c in found for c in REQUIRED_COLUMNS):
        trouve = ", ".join(f"'{c}'" for c in shown[:8]) or "rien"
        raw.problem(header_row, None, "ce fichier n'est pas un tableau de collecte : aucune des "
                    f"colonnes attendues ({_fmt_list(REQUIRED_COLUMNS)}) sur la première ligne ; "
                    f"trouvé : {trouve}.")
        return raw
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    for col in missing:
        raw.problem(header_row, col, "colonne obligatoire absente ; colonnes trouvées : "
                    f"{_fmt_list(shown)}.")
    if missing or raw.problems:
        return raw
    raw.columns = found
    data_rows = [(n, cells) for n, cells in rows if n > header_row and any(cells)]
    if not data_rows:
        raw.problem(None, None, "fichier vide : aucune ligne de données sous l'en-tête.")
        return raw
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    kept = []
    for n, cells in data_rows:
        if not any(cells[width:]):
            kept.append((n, cells))
        else:  # reported here, and not validated further: its cells are not where they seem
            last = max(i for i, c in enumerate(cells) if c) + 1
            if raw.delimiter == ",":
                hint = ("dans un fichier séparé par des virgules, une virgule décimale coupe le "
                        "nombre en deux : utilisez le point-virgule comme séparateur ou entourez "
                        "le nombre de guillemets.")
            else:
                hint = "donnez un en-tête à la colonne en trop ou supprimez-la."
            raw.problem(n, None, f"la ligne contient {last} cellules pour {width} colonnes "
                        f"d'en-tête ; {hint}")
    raw.rows = kept
    return raw


def _discover(paths: Iterable[str | Path] | str | Path
              ) -> tuple[list[tuple[Path, str, str]], list[Problem]]:
    """Files to read: ``(path, display, name)``; folders are searched recursively for *.csv and
    *.xlsx, ignoring README*, hidden files/folders and Excel ``~$`` lock files."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    found: list[tuple[Path, str, str]] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for given in paths:
        p = Path(given)
        if p.is_dir():
            files = collection_files(p)
            if not files:
                problems.append(Problem(str(p), None, None, "dossier sans fichier de collecte "
                                        "(.csv ou .xlsx)."))
            for f, rel in files:
                key = f.resolve()
                if key not in seen:
                    seen.add(key)
                    found.append((f, str(f), rel))
        elif p.is_file():
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                found.append((p, str(p), p.name))
        else:
            problems.append(Problem(str(p), None, None, "fichier ou dossier introuvable."))
    return found, problems


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
        self.codes = sorted(codes, key=natural_key)
        self.lookup = {c.lower(): c for c in self.codes}
        self._at_level: dict[str, list[str]] = {}

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
    files, problems = _discover(paths)
    raws = [_read_file(path, display, name) for path, display, name in files]
    for raw in raws:
        problems.extend(raw.problems)
    observations, row_problems = _validate(raws, referential, territories)
    problems.extend(row_problems)
    order = {raw.display: i for i, raw in enumerate(raws)}
    problems.sort(key=lambda p: (order.get(p.file, -1), p.row if p.row is not None else -1,
                                 _COLUMN_ORDER.get(p.column, 99)))
    collection = Collection(observations=observations,
                            files=[(str(raw.path), raw.sha256) for raw in raws if raw.sha256])
    return collection, problems


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


def _frame(raws: list[_RawFile]) -> pd.DataFrame:
    """Raw text rows of all readable files, one column per collection column."""
    records = []
    for index, raw in enumerate(raws):
        if not raw.rows:
            continue
        cols = raw.columns
        for n, cells in raw.rows:
            rec = {}
            for c in COLLECTION_COLUMNS:
                i = cols.get(c)
                rec[c] = cells[i] if i is not None and i < len(cells) else ""
            rec["file_index"] = index
            rec["ligne"] = n
            records.append(rec)
    columns = list(COLLECTION_COLUMNS) + ["file_index", "ligne"]
    return pd.DataFrame.from_records(records, columns=columns)


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


def _validate(raws: list[_RawFile], ref: Referential, territories: TerritoriesLike
              ) -> tuple[pd.DataFrame, list[Problem]]:
    """Check every reported row; cross-row checks (duplicates, numerator > denominator) last."""
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

    for pos, rec in enumerate(table.itertuples(index=False)):
        raw, row = raws[rec.file_index], rec.ligne
        entry = checks.ids.entries.get(_norm_id(rec.indicateur)) if rec.indicateur else None
        if not rec.valeur and not (entry and entry.kind == "texte" and rec.commentaire):
            continue  # an empty valeur means "not reported"
        messages: list[tuple[str, str | None]] = []
        fiche, msg = checks.fiche(rec.fiche)
        messages.append(("fiche", msg))
        entry, msg = checks.indicator(rec.indicateur, entry, fiche)
        messages.append(("indicateur", msg))
        if entry is not None and fiche is not None:
            messages.append(("fiche", checks.same_fiche(entry, fiche, rec.fiche)))
        year, msg = checks.year(rec.annee)
        messages.append(("annee", msg))
        code, msg = checks.territory(rec.territoire, entry)
        messages.append(("territoire", msg))
        number, texte = math.nan, rec.valeur
        if entry is not None:
            number, texte, msg = checks.value(rec.valeur, float(numbers.iat[pos]),
                                              bool(percents.iat[pos]), entry, rec.commentaire)
            messages.append(("valeur", msg))
        local = [Problem(raw.display, row, col, m) for col, m in messages if m]
        if entry is not None and year is not None and code is not None:
            key = (entry.base, entry.composante, year, code)
            if key in first_seen:
                f0, r0 = first_seen[key]
                local.append(Problem(
                    raw.display, row, "indicateur",
                    f"observation en double : '{entry.id}', année {year}, territoire '{code}' "
                    f"déjà déclaré {where(f0, r0, rec.file_index)} ; gardez une seule ligne."))
            else:
                first_seen[key] = (rec.file_index, row)
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


def _default_territories() -> TerritoriesLike:
    """The project's territories (``territories.load_territories()``)."""
    from .territories import load_territories

    return load_territories()


# --- command line ------------------------------------------------------------------------------

def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


def command_check(args) -> int:
    """``plancadre-eval check PATH...``: 0 when every file is valid (summary on stdout), 1 otherwise
    (one problem per line on stdout, a count on stderr)."""
    from .referential import ReferentialError, load_referential

    try:
        ref = load_referential(getattr(args, "referentiel", None))
    except ReferentialError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    collection, problems = read_collection(args.paths, ref, _default_territories())
    if problems:
        for p in problems:
            print(p)
        files = len({p.file for p in problems})
        print(f"{_plural(len(problems), 'problème')} dans {_plural(files, 'fichier')} : "
              "corrigez-les puis relancez plancadre-eval check.", file=sys.stderr)
        return 1
    print(f"OK : {_plural(len(collection.files), 'fichier')}, "
          f"{_plural(len(collection.observations), 'observation')}.")
    return 0


def row_cells(path: str | Path, columns: Iterable[str] = ("fiche", "indicateur")
              ) -> dict[int, dict[str, str]]:
    """The raw text of some collection columns for every data row of one file, by the row number
    problem lines show (``{row: {column: text}}``; empty for an unreadable file). Used to name the
    fiche a rejected row belongs to (:mod:`plancadre_eval.exclusions`)."""
    p = Path(path)
    raw = _read_file(p, str(p), p.name)
    wanted = [c for c in columns if c in raw.columns]
    return {n: {c: (cells[raw.columns[c]].strip() if raw.columns[c] < len(cells) else "")
                for c in wanted}
            for n, cells in raw.rows}

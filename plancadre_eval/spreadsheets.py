"""Reading spreadsheets the way French Excel writes them: CSV (``;``, Windows-1252 or UTF-8 with
BOM, decimal comma, "1 030", "12 %") and XLSX, into raw text rows; the problem lines they give.

- :class:`Problem` — one ``FICHIER:LIGNE: colonne 'NOM': message`` line;
- :func:`parse_number`, :func:`parse_date` — one cell as a French user types it;
- :func:`read_file` — one file into a :class:`RawFile` (header located, rows as text);
- :func:`discover` — the files of the paths given (folders searched recursively).

Validation against the referential is in :mod:`collection`. Input files are read once, as bytes,
and never written to.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from .provenance import COLLECTION_SUFFIXES, collection_files

#: Required columns of a collection file, in the order users see them.
REQUIRED_COLUMNS = ("fiche", "indicateur", "annee", "territoire", "valeur")
OPTIONAL_COLUMNS = ("source", "commentaire")
COLLECTION_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

#: Sheet read in a workbook that has it (the one :mod:`template` writes), else the first sheet.
TEMPLATE_SHEET = "Collecte"
FILE_SUFFIXES = COLLECTION_SUFFIXES
_DATE_HINT = "AAAA-MM-JJ ou JJ/MM/AAAA"


# --- problems -------------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class DataWarning:
    """A plausibility warning: the data are readable and valid but look wrong (``check`` prints
    it, the run goes on). ``str()`` is ``FICHIER:LIGNE: avertissement : message``."""

    file: str
    row: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}:" if self.row is not None else f"{self.file}:"
        return f"{where} avertissement : {self.message}"


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
class RawFile:
    path: Path
    display: str                   # what problem lines show (the path as given by the user)
    name: str                      # "fichier" column: path relative to the folder given
    sha256: str = ""
    header_row: int = 1
    columns: dict[str, int] = field(default_factory=dict)   # collection column -> cell index
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    delimiter: str | None = None
    demo: bool = False             # read from a folder holding the DEMONSTRATION marker

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


#: Control characters other than tab and line ends (``str.translate`` deletes them: their number
#: tells a binary file from a CSV one).
_CONTROLS = {c: None for c in range(32) if chr(c) not in "\t\r\n"}


def _read_csv_rows(raw: RawFile, data: bytes) -> list[tuple[int, list[str]]] | None:
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
    controls = len(text) - len(text.translate(_CONTROLS))
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


def _read_xlsx_rows(raw: RawFile, data: bytes) -> list[tuple[int, list[str]]] | None:
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


def read_file(path: Path, display: str, name: str) -> RawFile:
    raw = RawFile(path=path, display=display, name=name)
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


def discover(paths: Iterable[str | Path] | str | Path
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


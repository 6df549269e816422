"""The steering committee's record of a year (``data/revue/<année>.xlsx`` or ``.csv``) and the
gate of pilots' comments.

- :func:`review_rows` / :func:`write_review_workbook` — the workbook the committee fills in
  (``plancadre-eval revue --year Y --out F.xlsx``): one row per fiche evaluated that year, prefilled
  with ``fiche``, ``titre``, ``pilote``, ``statut_calcule`` and ``commentaires_a_relire``; to fill:
  ``statut_retenu``, ``justification``, ``avis_comite``, ``decisions`` (one per line:
  ``quoi ; qui ; échéance``), ``publier_commentaires`` (oui/non);
- :func:`read_review` — the filled record validated like a collection file (problems
  ``FICHIER:LIGNE: colonne 'NOM': …``, :class:`ReviewError`); :func:`load_reviews` reads the
  records of the years up to the evaluated one from a folder (``--revue``, ``revue:`` in params);
- the comment gate: a pilot's comment (``commentaire`` column, text of a qualitative indicator,
  follow-up of a decision) is published only when the record of its year says
  ``publier_commentaires: oui`` for its fiche (:func:`comments_published`); every page and table
  goes through :func:`gate_comments` or :func:`gate_indicator_table`;
- the follow-up of last year's decisions: a "Suivi des décisions" sheet added to the next year's
  collection template (:func:`add_followup_sheet`), read back by :func:`read_followups`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

from .provenance import sha256 as file_sha256

if TYPE_CHECKING:
    from .spreadsheets import Problem
    from .statuses import FicheStatus


def _collection():
    """:mod:`plancadre_eval.spreadsheets` (French Excel parsers and :class:`Problem`), imported on
    first use: ``run`` plans a year without importing pandas when nothing has to be rendered."""
    from . import spreadsheets

    return spreadsheets

PREFILLED_COLUMNS = ("fiche", "titre", "pilote", "statut_calcule", "commentaires_a_relire")
FILLED_COLUMNS = ("statut_retenu", "justification", "avis_comite", "decisions",
                  "publier_commentaires")
REVIEW_COLUMNS = PREFILLED_COLUMNS + FILLED_COLUMNS
REVIEW_SHEET = "Revue"
HELP_SHEET = "Mode d'emploi"
REVIEW_SUFFIXES = (".xlsx", ".csv")
#: Default folder of the records, relative to the project root.
DEFAULT_DIR = "data/revue"
YES, NO = "oui", "non"
#: Shown in place of a text awaiting the committee's review (pages and ``indicateurs.csv``).
PENDING_NOTE = "commentaire en attente de relecture par le comité"
NOT_REVIEWED = "non encore examinée par le comité"
#: Followed-up decisions: sheet of the next year's collection template and its columns.
FOLLOWUP_SHEET = "Suivi des décisions"
FOLLOWUP_COLUMNS = ("fiche", "annee_revue", "decision", "responsable", "echeance", "suivi")
QUALITATIVE_TYPES = ("qualitatif", "a_determiner")
#: Texts of qualitative indicators that only point to the comment.
PLACEHOLDERS = ("voir commentaire", "voir commentaires")


class ReviewError(ValueError):
    """A record that does not pass ``check``; ``problems`` lists every :class:`Problem`."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Decision:
    """One decision of the committee: what (``action``), who (``owner``), by when (``due``)."""

    action: str
    owner: str
    due: dt.date

    def text(self) -> str:
        return f"{self.action} — {self.owner} — pour le {self.due.strftime('%d/%m/%Y')}"


@dataclass(frozen=True)
class ReviewEntry:
    """The committee's record for one fiche: ``retained`` is ``None`` while the fiche is not
    examined (no ``statut_retenu``)."""

    fiche: str
    computed: str
    retained: FicheStatus | None
    justification: str = ""
    opinion: str = ""
    decisions: tuple[Decision, ...] = ()
    publish_comments: bool = False

    @property
    def examined(self) -> bool:
        return self.retained is not None


@dataclass(frozen=True)
class Review:
    """The record of one year: ``entries`` by fiche id, read from ``path`` (SHA-256 ``sha256``)."""

    year: int
    path: Path
    sha256: str
    entries: Mapping[str, ReviewEntry] = field(default_factory=dict)

    def entry(self, fiche_id: str) -> ReviewEntry | None:
        return self.entries.get(str(fiche_id))


# --- the comment gate ------------------------------------------------------------------------------

def comments_published(reviews: Mapping[int, Review] | None, fiche_id: str, year: int) -> bool:
    """True when the record of ``year`` says ``publier_commentaires: oui`` for ``fiche_id``: the
    only way a pilot's text reaches a page or an output file."""
    review = (reviews or {}).get(int(year))
    entry = review.entry(fiche_id) if review else None
    return bool(entry and entry.publish_comments)


def gate_comments(comments, reviews: Mapping[int, Review] | None, fiche_id: str,
                  year_column: str = "Année"):
    """``(published rows, number withheld)`` of a table of pilot texts of one fiche (one row per
    text, its year in ``year_column``): rows whose year's record does not publish the fiche's
    comments are dropped and counted."""
    if comments.empty:
        return comments, 0
    keep = [comments_published(reviews, fiche_id, int(y)) for y in comments[year_column]]
    shown = comments[keep].reset_index(drop=True)
    return shown, int(len(comments) - len(shown))


def pilot_texts(observations, fiche_id: str, year: int, types: Mapping[str, str]) -> list[str]:
    """The pilots' free texts of a fiche in a year: comments, and the text of qualitative
    indicators (``types``: indicator id -> type)."""
    obs = observations[(observations["fiche"] == str(fiche_id)) & (observations["annee"] == int(year))]
    texts = [str(c).strip() for c in obs["commentaire"] if str(c).strip()]
    for ind, texte in zip(obs["indicateur"], obs["texte"]):
        t = str(texte).strip()
        if types.get(str(ind)) in QUALITATIVE_TYPES and t and t.lower() not in PLACEHOLDERS:
            texts.append(t)
    return sorted(set(texts), key=len, reverse=True)


def gate_indicator_table(table, observations, reviews: Mapping[int, Review] | None, referential):
    """``indicateurs.csv`` without the pilots' texts of unpublished fiches: in ``commentaire``
    each pilot comment is removed (the computation notes stay) and replaced by
    :data:`PENDING_NOTE`; ``texte`` of qualitative indicators is emptied. Returns a copy."""
    types = {i.id: str(i.type) for i in referential.indicators()}
    out = table.copy()
    if out.empty:
        return out
    comments, texts = list(out["commentaire"]), list(out["texte"])
    memo: dict[tuple[str, int], list[str]] = {}
    for i, (fiche, year, ind) in enumerate(zip(out["fiche"], out["annee"], out["indicateur"])):
        if comments_published(reviews, str(fiche), int(year)):
            continue
        key = (str(fiche), int(year))
        if key not in memo:
            memo[key] = pilot_texts(observations, *key, types)
        if types.get(str(ind)) in QUALITATIVE_TYPES and str(texts[i]).strip():
            texts[i] = PENDING_NOTE
        comment = str(comments[i] or "")
        removed = False
        for t in memo[key]:
            if t in comment:
                comment, removed = comment.replace(t, ""), True
        if removed:
            parts = [p.strip() for p in comment.split(" ; ") if p.strip() and p.strip() != ";"]
            comment = " ; ".join(parts + [PENDING_NOTE])
        comments[i] = comment
    out["commentaire"], out["texte"] = comments, texts
    return out


# --- the workbook to fill ----------------------------------------------------------------------------

def review_rows(referential, year: int, fiche_ids: Iterable[str], statuses: Mapping[str, str],
                comments: Mapping[str, list[str]]):
    """One row per fiche of ``fiche_ids`` (prefilled columns, empty columns to fill)."""
    import pandas as pd

    from .statuses import FicheStatus

    rows = []
    for fid in fiche_ids:
        f = referential.fiche(fid)
        rows.append({"fiche": f.id, "titre": f.titre, "pilote": f.pilote_court,
                     "statut_calcule": str(statuses.get(f.id, FicheStatus.INSUFFICIENT_DATA)),
                     "commentaires_a_relire": "\n".join(comments.get(f.id, [])),
                     **{c: "" for c in FILLED_COLUMNS}})
    return pd.DataFrame(rows, columns=list(REVIEW_COLUMNS))


HELP_TEXT = (
    "# Revue {year} du comité de pilotage",
    "Une ligne par fiche évaluée en {year}. Les colonnes fiche, titre, pilote, statut_calcule et "
    "commentaires_a_relire sont préremplies ; le comité remplit les autres. Enregistrez le "
    "classeur sous data/revue/{year}.xlsx (ou en CSV : data/revue/{year}.csv), puis vérifiez-le "
    "avec : plancadre-eval check data/revue/{year}.xlsx",
    "# Colonnes à remplir",
    "statut_retenu : le statut retenu par le comité, parmi : {statuses}. Laissé vide, la fiche "
    "est « non encore examinée par le comité ».",
    "justification : obligatoire quand le statut retenu diffère du statut calculé.",
    "avis_comite : l'avis du comité, en quelques phrases.",
    "decisions : une décision par ligne (Alt+Entrée dans Excel), sous la forme « quoi ; qui ; "
    "échéance », l'échéance en JJ/MM/AAAA ; exemple : Réunir les partenaires ; DDCS ; 30/06/2022.",
    "publier_commentaires : oui pour publier les commentaires des pilotes (après relecture : pas "
    "de nom de personne, pas de petit effectif) ; non ou vide : ils restent hors des pages, qui "
    "indiquent seulement « N commentaire(s) en attente de relecture ».",
)


def write_review_workbook(rows, year: int, out: str | Path) -> Path:
    """Write the workbook (sheets "Revue" and "Mode d'emploi"); lists on ``statut_retenu`` and
    ``publier_commentaires``. Deterministic content."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from .statuses import FicheStatus

    out = Path(out)
    wb = Workbook()
    ws = wb.active
    ws.title = REVIEW_SHEET
    ws.append(list(REVIEW_COLUMNS))
    for r in rows.itertuples(index=False):
        ws.append([str(v) for v in r])
    widths = {"fiche": 8, "titre": 45, "pilote": 12, "statut_calcule": 20,
              "commentaires_a_relire": 60, "statut_retenu": 20, "justification": 40,
              "avis_comite": 50, "decisions": 50, "publier_commentaires": 12}
    fill = PatternFill("solid", fgColor="FFF6E0")
    for i, col in enumerate(REVIEW_COLUMNS, start=1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = widths[col]
        ws.cell(1, i).font = Font(bold=True)
        if col in FILLED_COLUMNS:
            ws.cell(1, i).fill = fill
        for row in range(2, len(rows) + 2):
            ws.cell(row, i).alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "B2"
    last = max(2, len(rows) + 1)
    status_list = DataValidation(type="list", formula1='"' + ",".join(FicheStatus) + '"',
                                 allow_blank=True, showErrorMessage=False)
    yes_no = DataValidation(type="list", formula1=f'"{YES},{NO}"', allow_blank=True)
    for dv, col in ((status_list, "statut_retenu"), (yes_no, "publier_commentaires")):
        letter = get_column_letter(REVIEW_COLUMNS.index(col) + 1)
        dv.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(dv)
    help_ws = wb.create_sheet(HELP_SHEET)
    help_ws.column_dimensions["A"].width = 110
    for text in HELP_TEXT:
        line = text.format(year=year, statuses=", ".join(FicheStatus))
        help_ws.append([line.removeprefix("# ")])
        cell = help_ws.cell(help_ws.max_row, 1)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if line.startswith("# "):
            cell.font = Font(bold=True, size=13)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


# --- reading and validating a record ------------------------------------------------------------

def _header_key(cell: str) -> str:
    return "_".join(_collection()._fold(cell.replace("\ufeff", "")).replace("-", " ").split())


def _table_rows(path: Path, display: str, sheet: str) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    """Rows ``(row number, cells)`` of a CSV (French Excel: ``;``, cp1252 or UTF-8) or of the
    sheet ``sheet`` of a workbook (else its first sheet)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], [_collection().Problem(display, None, None, f"fichier illisible ({exc.strerror or exc}).")]
    if path.suffix.lower() == ".csv":
        text = _collection()._decode(data)
        if text is None:
            return [], [_collection().Problem(display, None, None, "fichier illisible : encodage inconnu ; "
                                "enregistrez-le depuis Excel au format « CSV UTF-8 ».")]
        first = text.splitlines()[0] if text.strip() else ""
        delim = max((";", "\t", ","), key=lambda d: sum(_header_key(c) in REVIEW_COLUMNS
                                                         + FOLLOWUP_COLUMNS
                                                         for c in first.split(d)))
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
        return [(i, [c.strip() for c in rec]) for i, rec in enumerate(records, start=1)], []
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any failure means "not a readable workbook"
        return [], [_collection().Problem(display, None, None, "fichier illisible : classeur XLSX endommagé ; "
                            "ouvrez-le dans Excel et enregistrez-le de nouveau.")]
    try:
        ws = wb[sheet] if sheet in wb.sheetnames else wb[wb.sheetnames[0]]
        rows = [(i, [_collection()._cell_text(c.value) for c in cells])
                for i, cells in enumerate(ws.iter_rows(min_row=1), start=1)]
    finally:
        wb.close()
    return rows, []


def is_review_file(path: str | Path) -> bool:
    """True when the file's header has the record's ``statut_retenu`` column (``check`` then
    validates it as a record, not as a collection file)."""
    p = Path(path)
    if p.suffix.lower() not in REVIEW_SUFFIXES or not p.is_file():
        return False
    rows, problems = _table_rows(p, str(p), REVIEW_SHEET)
    header = next((cells for _, cells in rows if any(cells)), [])
    return not problems and "statut_retenu" in {_header_key(c) for c in header}


def parse_decisions(text: str) -> tuple[list[Decision], list[str]]:
    """``(decisions, errors)`` of a ``decisions`` cell: one decision per line, ``quoi ; qui ;
    échéance`` with the deadline as ``JJ/MM/AAAA`` or ``AAAA-MM-JJ``."""
    decisions, errors = [], []
    for n, line in enumerate([ln.strip() for ln in str(text).splitlines() if ln.strip()], start=1):
        parts = [p.strip() for p in line.split(";")]
        if len(parts) != 3 or not all(parts):
            errors.append(f"décision {n} « {line} » : attendu « quoi ; qui ; échéance » (trois "
                          "parties séparées par des points-virgules, une décision par ligne).")
            continue
        due = _collection().parse_date(parts[2])
        if due is None:
            errors.append(f"décision {n} « {line} » : échéance « {parts[2]} » illisible ; "
                          "attendu JJ/MM/AAAA ou AAAA-MM-JJ.")
            continue
        decisions.append(Decision(parts[0], parts[1], due))
    return decisions, errors


def read_review(path: str | Path, referential, year: int | None = None,
                display: str | None = None) -> Review:
    """The validated record of ``path``; :class:`ReviewError` lists every problem.

    Errors: missing ``fiche`` or ``statut_retenu`` column, unknown or repeated fiche,
    ``statut_retenu`` or ``statut_calcule`` outside :class:`~plancadre_eval.statuses.FicheStatus`,
    ``statut_retenu`` different from ``statut_calcule`` without ``justification``, a filled row
    without ``statut_retenu``, a ``decisions`` line not ``quoi ; qui ; échéance``,
    ``publier_commentaires`` other than oui/non. ``year`` defaults to the file name (``2021.xlsx``).
    """
    path = Path(path)
    display = display or str(path)
    problems: list[Problem] = []
    if year is None:
        try:
            year = int(path.stem)
        except ValueError:
            year = 0
    rows, problems = _table_rows(path, display, REVIEW_SHEET)
    non_empty = [(n, cells) for n, cells in rows if any(cells)]
    if problems or not non_empty:
        raise ReviewError(problems or [_collection().Problem(display, None, None, "fichier vide : attendu "
                                               "l'en-tête de la revue puis une ligne par fiche.")])
    header_row, header = non_empty[0]
    cols = {}
    for i, c in enumerate(header):
        key = _header_key(c)
        if key in REVIEW_COLUMNS and key not in cols:
            cols[key] = i
    for required in ("fiche", "statut_retenu"):
        if required not in cols:
            problems.append(_collection().Problem(display, header_row, required, "colonne obligatoire absente "
                                    f"(colonnes de la revue : {', '.join(REVIEW_COLUMNS)})."))
    if problems:
        raise ReviewError(problems)
    from .statuses import FicheStatus

    vocabulary = ", ".join(f"« {s} »" for s in FicheStatus)
    entries: dict[str, ReviewEntry] = {}
    for n, cells in non_empty[1:]:
        def get(col: str) -> str:
            i = cols.get(col)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        def bad(col: str, message: str) -> None:
            problems.append(_collection().Problem(display, n, col, message))

        fid = get("fiche").replace(",", ".")
        if fid not in referential.fiche_ids:
            bad("fiche", f"fiche « {fid} » inconnue du référentiel." if fid else "fiche vide.")
            continue
        if fid in entries:
            bad("fiche", f"fiche {fid} en double ; une seule ligne par fiche.")
            continue
        statuses = {}
        for col in ("statut_calcule", "statut_retenu"):
            value = get(col)
            fold = _collection()._fold
            match = next((s for s in FicheStatus if fold(s) == fold(value)), None)
            if value and match is None:
                bad(col, f"« {value} » n'est pas un statut de fiche ; attendu : {vocabulary}.")
            statuses[col] = match
        retained, computed = statuses["statut_retenu"], statuses["statut_calcule"]
        filled = [c for c in ("justification", "avis_comite", "decisions") if get(c)]
        if not get("statut_retenu") and filled:
            bad("statut_retenu", f"vide alors que {', '.join(filled)} est rempli ; indiquez le "
                "statut retenu par le comité (le statut calculé s'il est confirmé).")
        if retained and computed and retained != computed and not get("justification"):
            bad("justification", f"obligatoire : le statut retenu « {retained} » diffère du "
                f"statut calculé « {computed} » ; donnez le motif du comité.")
        decisions, errors = parse_decisions(get("decisions"))
        for e in errors:
            bad("decisions", e)
        publish = _collection()._fold(get("publier_commentaires"))
        if publish not in ("", YES, NO):
            bad("publier_commentaires", f"« {get('publier_commentaires')} » : attendu oui ou non.")
        entries[fid] = ReviewEntry(
            fiche=fid, computed=str(computed or ""), retained=retained,
            justification=get("justification"), opinion=get("avis_comite"),
            decisions=tuple(decisions), publish_comments=publish == YES)
    if problems:
        raise ReviewError(problems)
    return Review(year=int(year), path=path, sha256=file_sha256(path),
                  entries=entries)


def review_file(folder: str | Path | None, year: int) -> Path | None:
    """``<folder>/<year>.xlsx`` or ``.csv`` (None when neither exists); both is an error."""
    if folder is None:
        return None
    found = [Path(folder) / f"{year}{s}" for s in REVIEW_SUFFIXES if (Path(folder) / f"{year}{s}").is_file()]
    if len(found) > 1:
        raise ReviewError([_collection().Problem(str(Path(folder)), None, None, f"deux revues pour {year} "
                                   f"({found[0].name} et {found[1].name}) ; gardez-en une seule.")])
    return found[0] if found else None


def review_files(folder: str | Path | None, years: Iterable[int]) -> dict[int, Path]:
    """The records present in ``folder`` for ``years``."""
    out = {}
    for y in years:
        p = review_file(folder, y)
        if p is not None:
            out[int(y)] = p
    return out


def load_reviews(folder: str | Path | None, referential, up_to: int) -> dict[int, Review]:
    """The validated records of ``folder`` for the plan's years up to ``up_to`` (the comments of
    earlier years are gated by their own year's record; last year's decisions are followed up).
    :class:`ReviewError` lists the problems of every file."""
    reviews, problems = {}, []
    years = [y for y in referential.plan.years if y <= int(up_to)]
    try:
        files = review_files(folder, years)
    except ReviewError as exc:
        raise ReviewError(exc.problems) from None
    for y, p in files.items():
        try:
            reviews[y] = read_review(p, referential, y)
        except ReviewError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ReviewError(problems)
    return reviews


# --- follow-up of last year's decisions ---------------------------------------------------------

def add_followup_sheet(path: str | Path, review: Review, fiche_ids: Iterable[str]) -> int:
    """Add the sheet "Suivi des décisions" to a collection template: one row per decision of
    ``review`` (the previous year's record) on ``fiche_ids``, with an empty ``suivi`` column for
    the pilot. Returns the number of decisions."""
    from openpyxl import load_workbook
    from openpyxl.styles import Alignment, Font

    wanted = set(fiche_ids)
    rows = [(e.fiche, str(review.year), d.action, d.owner, d.due.strftime("%d/%m/%Y"), "")
            for e in review.entries.values() if e.fiche in wanted for d in e.decisions]
    if not rows:
        return 0
    wb = load_workbook(path)
    ws = wb.create_sheet(FOLLOWUP_SHEET, 1)
    ws.append(list(FOLLOWUP_COLUMNS))
    for r in rows:
        ws.append(list(r))
    for i, width in enumerate((8, 12, 50, 16, 12, 60), start=1):
        ws.column_dimensions[chr(64 + i)].width = width
        ws.cell(1, i).font = Font(bold=True)
    for row in ws.iter_rows(min_row=2):
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    wb.save(path)
    return len(rows)


def followup_for_template(path: str | Path, referential, year: int, fiche_ids: Iterable[str],
                          folder: str | Path | None = None) -> int:
    """Add to the collection template of ``year`` the decisions of the record of ``year - 1``
    (``folder``, default ``data/revue``) on ``fiche_ids``; the number of decisions added."""
    from . import paths

    previous = load_reviews(paths.resolve(folder or DEFAULT_DIR), referential, year - 1).get(year - 1)
    return add_followup_sheet(path, previous, fiche_ids) if previous else 0


def read_followups(data_dir: str | Path | None):
    """Follow-ups written by pilots in the "Suivi des décisions" sheet of the collection
    workbooks of ``data_dir``: a table ``fiche, annee_revue, decision, responsable, echeance,
    suivi, fichier``."""
    import pandas as pd

    cols = list(FOLLOWUP_COLUMNS) + ["fichier"]
    out = []
    folder = Path(data_dir) if data_dir else None
    for p in sorted(folder.rglob("*.xlsx")) if folder and folder.is_dir() else []:
        if p.name.startswith(("~$", ".")):
            continue
        import openpyxl

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - unreadable workbooks are reported by check
            continue
        try:
            if FOLLOWUP_SHEET not in wb.sheetnames:
                continue
            rows = [[_collection()._cell_text(c.value) for c in r] for r in wb[FOLLOWUP_SHEET].iter_rows()]
        finally:
            wb.close()
        if not rows:
            continue
        idx = {_header_key(c): i for i, c in enumerate(rows[0])}
        for r in rows[1:]:
            if any(r):
                out.append([r[idx[c]] if c in idx and idx[c] < len(r) else "" for c in FOLLOWUP_COLUMNS]
                           + [p.name])
    return pd.DataFrame(out, columns=cols, dtype=object)


# --- command line ----------------------------------------------------------------------------------

def check_review_files(paths: Iterable[str | Path], referential) -> tuple[int, list[Problem]]:
    """``(records read, problems)`` for ``check``: each path is a record file."""
    problems, n = [], 0
    for p in paths:
        n += 1
        try:
            read_review(p, referential)
        except ReviewError as exc:
            problems.extend(exc.problems)
    return n, problems


def entry_status(review_entry: ReviewEntry | None, computed: str) -> str:
    """The status shown: the retained one when the committee examined the fiche, else the
    computed one."""
    if review_entry is not None and review_entry.retained is not None:
        return str(review_entry.retained)
    return str(computed)


def retained_statuses(statuses, review: Review | None):
    """A copy of a statuses table (``fiche``, ``statut``) with ``statut_calcule`` (the engine's),
    ``statut`` (retained by the committee when examined), ``examinee`` and ``modifie`` (retained
    differs from computed)."""
    out = statuses.copy()
    out["statut_calcule"] = out["statut"].astype(str)
    entries = [review.entry(f) if review else None for f in out["fiche"]]
    out["statut"] = [entry_status(e, c) for e, c in zip(entries, out["statut_calcule"])]
    out["examinee"] = [bool(e and e.examined) for e in entries]
    out["modifie"] = [bool(e and e.examined and str(e.retained) != c)
                      for e, c in zip(entries, out["statut_calcule"])]
    return out


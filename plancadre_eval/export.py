"""The indicator table as files analysts open: ``indicateurs.csv`` and ``indicateurs.xlsx``.

:func:`write_indicator_table` writes the table of :meth:`plancadre_eval.engine.Engine.table`
(statistical secrecy applied) for French Excel; identical input gives byte-identical files (fixed
document and archive dates), written atomically. :func:`analyst_table` adds the territory's name,
the fiche's pilot and status and rounds values as the pages do; :func:`write_multi_year_table`
writes ``indicateurs-<first>-<last>.csv`` / ``.xlsx`` from the yearly tables.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .indicators import TABLE_COLUMNS

#: Columns added for analysts (:func:`analyst_table`), each placed after the column named here.
ANALYST_COLUMNS = {"pilote": "fiche", "statut_fiche": "pilote", "nom_territoire": "territoire"}
#: Full-precision value, kept in the CSV only (the XLSX shows the rounded ``valeur``).
PRECISE_COLUMN = "valeur_precise"
#: Columns rounded as the pages show them: with the indicator's decimals, or a fixed number.
ROUNDED_BY_TYPE = ("valeur", "valeur_n_1", "evolution", "reference", "cible")
ROUNDED_FIXED = {"evolution_pct": 1, "evolution_reference_pct": 1, "progression_pct": 0}
FIXED_TIMESTAMP = dt.datetime(2019, 1, 1, 0, 0, 0)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _atomic_write(path: Path, data: bytes) -> None:
    """Atomic write shared with the HTML pages (temporary file + ``os.replace``)."""
    from .rendering import write_atomic

    write_atomic(path, data)


def _csv_bytes(table: pd.DataFrame) -> bytes:
    text = table.to_csv(sep=";", decimal=",", index=False, lineterminator="\n")
    return "\ufeff".encode("utf-8") + text.encode("utf-8")


def _cell_value(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
        if isinstance(v, float) and math.isnan(v):
            return None
    return v


def _sheet_rows_xml(table: pd.DataFrame) -> str | None:
    """The ``<row>`` elements of the data rows (rows 2…), written exactly as openpyxl writes them
    (inline strings, numbers as ``%.16g``, empty cells left out), in one pass instead of one
    openpyxl cell object per value. None when a value needs openpyxl's own handling (a formula-like
    or error-code string, a control character, a very long text, a date, a boolean, an infinite
    number…): the caller then lets openpyxl write every cell."""
    from xml.sax.saxutils import escape

    from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(i) for i in range(1, len(table.columns) + 1)]
    out: list[str] = []
    for r, row in enumerate(table.itertuples(index=False, name=None), start=2):
        out.append(f'<row r="{r}">')
        for letter, raw in zip(letters, row):
            v = _cell_value(raw)
            t = type(v)
            if v is None:
                continue
            if t is str:
                if v == "":
                    out.append(f'<c r="{letter}{r}" t="inlineStr" />')
                    continue
                if (len(v) > 32767 or (len(v) > 1 and v[0] == "=") or v in ERROR_CODES
                        or ILLEGAL_CHARACTERS_RE.search(v)):
                    return None
                stripped = v.strip()
                space = ' xml:space="preserve"' if stripped and stripped != v else ""
                out.append(f'<c r="{letter}{r}" t="inlineStr"><is><t{space}>{escape(v)}</t>'
                           "</is></c>")
            elif t is int or (t is float and math.isfinite(v)):
                out.append(f'<c r="{letter}{r}" t="n"><v>{"%.16g" % v}</v></c>')
            else:
                return None
        out.append("</row>")
    return "".join(out)


def _xlsx_bytes(table: pd.DataFrame, sheet: str = "Indicateurs", fast: bool = True) -> bytes:
    """The workbook's bytes (see :func:`write_indicator_table`). The data rows are written by
    :func:`_sheet_rows_xml` into the sheet openpyxl writes with the header only (same bytes as
    openpyxl writing every cell, which ``fast=False`` or an unusual value falls back to)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    rows_xml = _sheet_rows_xml(table) if fast and len(table.columns) else None
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(table.columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    header_dimension = ws.dimensions
    if rows_xml is None:
        for row in table.itertuples(index=False, name=None):
            ws.append([_cell_value(v) for v in row])
        dimension = ws.dimensions
    else:
        dimension = f"A1:{get_column_letter(len(table.columns))}{len(table) + 1}"
    ws.freeze_panes = "A2"
    if len(table.columns):
        ws.auto_filter.ref = dimension
    props = wb.properties
    props.creator = "plancadre-eval"
    props.lastModifiedBy = "plancadre-eval"
    props.title = "Indicateurs du plan cadre"
    props.created = FIXED_TIMESTAMP
    props.modified = FIXED_TIMESTAMP
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    # rewrite the archive with fixed entry dates (zipfile stamps entries with the current time)
    fixed = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            data = src.read(info.filename)
            if rows_xml is not None and info.filename == "xl/worksheets/sheet1.xml":
                data = _with_rows(data, rows_xml, header_dimension, dimension)
            dst.writestr(entry, data)
    return fixed.getvalue()


def _with_rows(sheet_xml: bytes, rows_xml: str, header_dimension: str, dimension: str) -> bytes:
    """The sheet openpyxl wrote with the header row only, with the data rows and the whole
    table's dimension."""
    text = sheet_xml.decode("utf-8")
    before, after = f'<dimension ref="{header_dimension}" />', f'<dimension ref="{dimension}" />'
    if text.count(before) != 1 or text.count("</sheetData>") != 1:
        raise RuntimeError("Feuille XLSX inattendue : en-tête ou données introuvables.")
    text = text.replace(before, after).replace("</sheetData>", rows_xml + "</sheetData>")
    return text.encode("utf-8")


def analyst_table(table: pd.DataFrame, referential, name_of, fiche_statuses: dict[str, str]
                  ) -> pd.DataFrame:
    """The indicator table for analysts: ``pilote`` (the fiche's short pilot name) and
    ``statut_fiche`` (``fiche_statuses[fiche]``, "" if absent) after ``fiche``, ``nom_territoire``
    (``name_of(code)``) after ``territoire``; values rounded as on the pages (``valeur``,
    ``valeur_n_1``, ``evolution``, ``reference``, ``cible`` to the indicator type's decimals —
    :func:`plancadre_eval.evaluation.html.decimals_of` —, changes in % to 1 decimal, progression to
    0) with the unrounded value kept in :data:`PRECISE_COLUMN`."""
    from .evaluation.html import DECIMALS

    out = table.copy()
    pilots = {f.id: f.pilote_court for f in referential.fiches}
    out[PRECISE_COLUMN] = out["valeur"]
    decimals = [DECIMALS.get(str(t), 2) for t in out["type"]]
    for col in ROUNDED_BY_TYPE:
        if col in out:
            out[col] = [_round(v, d) for v, d in zip(out[col], decimals)]
    for col, d in ROUNDED_FIXED.items():
        if col in out:
            out[col] = [_round(v, d) for v in out[col]]
    names = {code: name_of(code) for code in dict.fromkeys(str(c) for c in out["territoire"])}
    added = {"pilote": [pilots.get(str(f), "") for f in out["fiche"]],
             "statut_fiche": [str(fiche_statuses.get(str(f), "")) for f in out["fiche"]],
             "nom_territoire": [names[str(c)] for c in out["territoire"]]}
    for col, after in ANALYST_COLUMNS.items():
        out.insert(list(out.columns).index(after) + 1, col, added[col])
    return out


def _round(value: Any, decimals: int) -> Any:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return value
    if math.isnan(v) or math.isinf(v):
        return v
    from decimal import ROUND_HALF_UP, Decimal

    # half up on the decimal writing of the value, as formatting.format_number does on the pages
    return float(Decimal(repr(v)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def file_columns(table: pd.DataFrame, csv: bool) -> list[str]:
    """Columns written: :data:`TABLE_COLUMNS` present, each analyst column after its anchor, and
    the full-precision value at the end of the CSV only."""
    cols = [c for c in TABLE_COLUMNS if c in table.columns]
    for col, after in ANALYST_COLUMNS.items():
        if col in table.columns and after in cols:
            cols.insert(cols.index(after) + 1, col)
    if csv and PRECISE_COLUMN in table.columns:
        cols.append(PRECISE_COLUMN)
    return cols


def write_multi_year_table(tables: list[pd.DataFrame], out_dir: str | os.PathLike) -> dict[str, Path]:
    """``indicateurs-<first>-<last>.csv`` / ``.xlsx`` in ``out_dir``: the yearly tables (as read
    back by :func:`read_indicator_csv` or from :func:`analyst_table`) one after the other, years
    in order; header frozen and filters on in the XLSX. Returns ``{"csv": path, "xlsx": path}``."""
    table = pd.concat(tables, ignore_index=True).sort_values("annee", kind="mergesort")
    years = sorted({int(y) for y in table["annee"]})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"indicateurs-{years[0]}-{years[-1]}"
    paths = {"csv": out / f"{stem}.csv", "xlsx": out / f"{stem}.xlsx"}
    data = table.reset_index(drop=True)
    _atomic_write(paths["csv"], _csv_bytes(data[file_columns(data, csv=True)]))
    _atomic_write(paths["xlsx"], _xlsx_bytes(data[file_columns(data, csv=False)]))
    return paths


#: Columns of the files read back as numbers (the others stay text: codes are strings).
NUMERIC_COLUMNS = ("annee", "valeur", "valeur_n_1", "evolution", "evolution_pct", "reference",
                   "annee_reference", "evolution_reference_pct", "cible", "progression_pct",
                   "numerateur", "denominateur", "effectif", PRECISE_COLUMN)


def read_indicator_csv(path: str | os.PathLike) -> pd.DataFrame:
    """An ``indicateurs.csv`` written by :func:`write_indicator_table`, read back with codes as
    strings ("2.10", "62") and numbers as floats (``annee`` as int)."""
    table = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for col in NUMERIC_COLUMNS:
        if col in table:
            table[col] = pd.to_numeric(table[col].str.replace(",", ".", regex=False), errors="coerce")
    if "annee" in table:
        table["annee"] = table["annee"].astype(int)
    if "annee_reference" in table:
        table["annee_reference"] = table["annee_reference"].astype("Int64")
    return table


def write_indicator_table(table: pd.DataFrame, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``indicateurs.csv`` and ``indicateurs.xlsx`` in ``out_dir`` (created if needed).

    CSV for French Excel: UTF-8 with BOM, ``;`` separator, decimal comma, empty cells for missing
    values, ``\\n`` line ends. XLSX: one sheet "Indicateurs", header in bold, fixed document dates.
    Columns: :func:`file_columns` (helper columns are not written). Each file is
    written to a temporary file in the same folder then renamed (``os.replace``), so readers never
    see a half-written file; identical input gives byte-identical files. Returns ``{"csv": path,
    "xlsx": path}``.
    """
    if "diffusion" not in table.columns:
        raise ValueError("Table d'indicateurs sans colonne « diffusion » : appliquez le secret "
                         "statistique (Engine.table) avant d'écrire les fichiers.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = table.reset_index(drop=True)
    paths = {"csv": out / "indicateurs.csv", "xlsx": out / "indicateurs.xlsx"}
    _atomic_write(paths["csv"], _csv_bytes(data[file_columns(data, csv=True)]))
    _atomic_write(paths["xlsx"], _xlsx_bytes(data[file_columns(data, csv=False)]))
    return paths

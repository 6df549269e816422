"""The indicator table as files analysts open: ``indicateurs.csv`` and ``indicateurs.xlsx``.

:func:`write_indicator_table` writes the table of :meth:`plancadre_eval.engine.Engine.table`
(statistical secrecy applied) for French Excel; identical input gives byte-identical files (fixed
document and archive dates), written atomically.
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


def _xlsx_bytes(table: pd.DataFrame, sheet: str = "Indicateurs") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(table.columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in table.itertuples(index=False, name=None):
        ws.append([_cell_value(v) for v in row])
    ws.freeze_panes = "A2"
    if len(table.columns):
        ws.auto_filter.ref = ws.dimensions
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
            dst.writestr(entry, src.read(info.filename))
    return fixed.getvalue()


def write_indicator_table(table: pd.DataFrame, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``indicateurs.csv`` and ``indicateurs.xlsx`` in ``out_dir`` (created if needed).

    CSV for French Excel: UTF-8 with BOM, ``;`` separator, decimal comma, empty cells for missing
    values, ``\\n`` line ends. XLSX: one sheet "Indicateurs", header in bold, fixed document dates.
    Columns: :data:`TABLE_COLUMNS` present in ``table`` (helper columns are not written). Each file is
    written to a temporary file in the same folder then renamed (``os.replace``), so readers never
    see a half-written file; identical input gives byte-identical files. Returns ``{"csv": path,
    "xlsx": path}``.
    """
    if "diffusion" not in table.columns:
        raise ValueError("Table d'indicateurs sans colonne « diffusion » : appliquez le secret "
                         "statistique (Engine.table) avant d'écrire les fichiers.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cols = [c for c in TABLE_COLUMNS if c in table.columns]
    data = table[cols].reset_index(drop=True)
    paths = {"csv": out / "indicateurs.csv", "xlsx": out / "indicateurs.xlsx"}
    _atomic_write(paths["csv"], _csv_bytes(data))
    _atomic_write(paths["xlsx"], _xlsx_bytes(data))
    return paths

"""French presentation of numbers, percentages, changes and dates (every table and chart uses it).

Conventions (fixed here, once):

- thousands separator: no-break space U+00A0 (``"1 030"``), decimal comma (``"2,25"``);
  integers are written without decimals, trailing zeros of decimals are dropped (``2.50 -> "2,5"``);
- rounding is "half up" on the decimal value as written (``2.125 -> "2,13"``), never banker's rounding;
- negative numbers and decreases use the real minus sign U+2212 (``"−3"``), increases a ``+``
  (``"+12,6 %"``); a change that rounds to zero is written ``"0"`` without sign;
- a no-break space U+00A0 separates a number from its unit and from ``%`` (``"81 %"``, ``"100 places"``);
- a missing value is ``"—"`` (em dash U+2014), a value hidden by statistical secrecy ``"secret"``;
- dates are written ``"1er novembre 2019"``, ``"15 septembre 2018"``.

The CSV/XLSX files keep raw numbers (``-3``, ``2.25``): this module is only for what people read.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from numbers import Real
from typing import Any

import pandas as pd

NBSP = "\u00a0"
MINUS = "\u2212"
MISSING = "\u2014"
SECRET = "secret"

MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


def is_missing(value: Any) -> bool:
    """True for None, NaN, pandas NA/NaT and empty strings."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Real, Decimal)):
        raise TypeError(f"Valeur non numérique impossible à mettre en forme : {value!r}.")
    if isinstance(value, float) and math.isinf(value):
        raise ValueError(f"Valeur infinie impossible à mettre en forme : {value!r}.")
    try:
        return Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - str() of a Real is always a valid decimal
        raise ValueError(f"Valeur illisible : {value!r}.") from None


def _digits(value: Decimal, decimals: int) -> tuple[bool, str]:
    """(negative, French digits without sign) of ``value`` rounded half-up to ``decimals``."""
    if decimals < 0:
        raise ValueError(f"Nombre de décimales négatif : {decimals}.")
    rounded = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    negative = rounded < 0
    text = f"{abs(rounded):f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = NBSP.join(groups)
    if frac:
        out += "," + frac
    if out == "0":
        negative = False
    return negative, out


def format_number(value: Any, decimals: int = 2, unit: str | None = None) -> str:
    """A number in French: ``1030 -> "1 030"``, ``2.25 -> "2,25"``, ``-3 -> "−3"``.

    ``decimals`` is the maximum number of decimals kept (rounded half up, trailing zeros dropped).
    ``unit`` is appended after a no-break space (``"%"`` included). Missing values give ``"—"``.
    """
    if is_missing(value):
        return MISSING
    negative, digits = _digits(_to_decimal(value), decimals)
    text = (MINUS if negative else "") + digits
    return f"{text}{NBSP}{unit}" if unit else text


def format_percent(value: Any, decimals: int = 1) -> str:
    """A percentage already expressed in percent (81.0, not 0.81): ``"81 %"``, ``"12,5 %"``."""
    return format_number(value, decimals, "%")


def format_change(value: Any, percent: bool = False, decimals: int = 1, unit: str | None = None) -> str:
    """A signed change: ``12.6, percent=True -> "+12,6 %"``; ``-3 -> "−3"``; ``0 -> "0"``.

    ``percent`` appends ``" %"`` (a relative change in percent); ``unit`` appends another unit
    (e.g. ``"points"`` for a change between two percentages). Missing values give ``"—"``.
    """
    if is_missing(value):
        return MISSING
    negative, digits = _digits(_to_decimal(value), decimals)
    sign = MINUS if negative else ("" if digits == "0" else "+")
    suffix = "%" if percent else unit
    text = sign + digits
    return f"{text}{NBSP}{suffix}" if suffix else text


def to_date(value: Any) -> dt.date | None:
    """A ``datetime.date`` from a date, datetime, Timestamp, ``"AAAA-MM-JJ"`` or ``"JJ/MM/AAAA"``.

    Missing values give None; an unreadable string raises a French ValueError.
    """
    if is_missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if "/" in text:
            day, month, year = (int(p) for p in text.split("/"))
            return dt.date(year, month, day)
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(
            f"Date illisible : {value!r} (attendu AAAA-MM-JJ ou JJ/MM/AAAA)."
        ) from None


def format_date(value: Any) -> str:
    """A date in French: ``"1er novembre 2019"``, ``"15 septembre 2018"``; missing -> ``"—"``."""
    d = to_date(value)
    if d is None:
        return MISSING
    day = "1er" if d.day == 1 else str(d.day)
    return f"{day} {MONTHS[d.month - 1]} {d.year}"


def format_value(value: Any, unit: str | None = None, decimals: int = 2, secret: bool = False) -> str:
    """A value with its unit (``"100 places"``), ``"secret"`` when masked, ``"—"`` when missing."""
    if secret:
        return SECRET
    return format_number(value, decimals, unit)


#: Decimals shown per indicator type.
TYPE_DECIMALS = {"comptage": 2, "pourcentage": 1, "taux": 1, "duree": 1}


def format_indicator_value(value: Any, indicator_type: str = "comptage", unit: str | None = None,
                           diffusion: str = "public") -> str:
    """An indicator value as shown in reports: percentages ``"81 %"``, others with their unit.

    ``diffusion == "secret"`` gives ``"secret"`` whatever the value (the value is already emptied).
    """
    if diffusion == "secret":
        return SECRET
    decimals = TYPE_DECIMALS.get(indicator_type, 2)
    if indicator_type == "pourcentage":
        return format_percent(value, decimals)
    return format_number(value, decimals, unit or None)


def format_indicator_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of an indicator table (``engine.Engine.table``) with French display strings.

    Values and references get their unit, changes a sign (``evolution`` in the indicator's unit, in
    points for percentages; ``*_pct`` in %), dates are spelled out, masked cells read ``"secret"``.
    Columns absent from ``table`` are skipped; other columns are left unchanged.
    """
    out = table.copy()
    types = table["type"] if "type" in table else pd.Series("comptage", index=table.index)
    units = table["unite"] if "unite" in table else pd.Series("", index=table.index)
    diffusion = table["diffusion"] if "diffusion" in table else pd.Series("public", index=table.index)

    def each(col, fn):
        if col in table:
            out[col] = [fn(v, t, u, d) for v, t, u, d in zip(table[col], types, units, diffusion)]

    for col in ("valeur", "valeur_n_1", "reference"):
        each(col, lambda v, t, u, d: format_indicator_value(v, t, u, d))
    each("cible", lambda v, t, u, d: format_indicator_value(v, t, u))  # the plan's target: public
    each("evolution", lambda v, t, u, d: SECRET if d == "secret" else format_change(
        v, decimals=TYPE_DECIMALS.get(t, 2), unit="points" if t == "pourcentage" else (u or None)))
    for col in ("evolution_pct", "evolution_reference_pct", "progression_pct"):
        each(col, lambda v, t, u, d: SECRET if d == "secret" else (
            format_percent(v, 0) if col == "progression_pct" else format_change(v, percent=True)))
    for col in ("echeance_cible", "echeance", "realisation"):
        if col in table:
            out[col] = [format_date(v) for v in table[col]]
    return out

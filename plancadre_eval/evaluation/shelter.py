"""Use of the dedicated shelter places by arrondissement: the computation behind fiche 2.6's
complement (``notebooks/complements/fiche-2.6.ipynb``).

Pure functions on the fiche's indicator table (:attr:`FicheData.table
<plancadre_eval.evaluation.fiche.FicheData.table>`, one year, statistical secrecy already applied):
a masked or missing count gives no ratio (never a ratio computed from a secret value).
"""

from __future__ import annotations

import math
from typing import Callable

import pandas as pd

from .. import formatting
from .html import Html, html_table

#: Indicators of fiche 2.6 used here: dedicated places (stock at the end of the year), women
#: sheltered during the year (flow), requests not met during the year (flow).
PLACES, WOMEN, UNMET = "2.6.5", "2.6.3", "2.6.2"
COLUMNS = ["Territoire", "Places dédiées", "Femmes accueillies", "Demandes non pourvues",
           "Femmes accueillies par place", "Demandes non pourvues pour 100 places", "Remarque"]


def shelter_use(table: pd.DataFrame, name_of: Callable[[str], str] = str) -> pd.DataFrame:
    """One row per territory of the fiche 2.6 table (département first, then arrondissements):
    ``code``, ``Territoire`` (``name_of(code)``), ``Places dédiées`` (2.6.5, places),
    ``Femmes accueillies`` (2.6.3, women), ``Demandes non pourvues`` (2.6.2, requests),
    ``Femmes accueillies par place`` (2.6.3 / 2.6.5, women per place over the year),
    ``Demandes non pourvues pour 100 places`` (2.6.2 / 2.6.5 × 100), ``Remarque`` (why a ratio is
    absent: "secret", "valeur absente", "aucune place"). Counts are NaN when secret or missing.
    """
    wanted = table[table["indicateur"].isin([PLACES, WOMEN, UNMET])]
    codes = list(dict.fromkeys(
        wanted.sort_values(["niveau", "territoire"], key=lambda s: s.map(
            lambda v: "0" if v == "departement" else str(v)))["territoire"].astype(str)))
    rows = []
    for code in codes:
        here = wanted[wanted["territoire"].astype(str) == code]

        def value(ind: str) -> tuple[float, str]:
            r = here[here["indicateur"] == ind]
            if r.empty:
                return math.nan, "valeur absente"
            if str(r["diffusion"].iloc[0]) == "secret":
                return math.nan, "secret"
            v = r["valeur"].iloc[0]
            return (math.nan, "valeur absente") if formatting.is_missing(v) else (float(v), "")

        (places, p_note), (women, w_note), (unmet, u_note) = value(PLACES), value(WOMEN), value(UNMET)
        notes = [n for n in (p_note, w_note, u_note) if n]
        if not notes and places == 0:
            notes.append("aucune place")
        ok = not math.isnan(places) and places > 0
        rows.append({
            "code": code, "Territoire": name_of(code), "Places dédiées": places,
            "Femmes accueillies": women, "Demandes non pourvues": unmet,
            "Femmes accueillies par place": women / places if ok else math.nan,
            "Demandes non pourvues pour 100 places": unmet / places * 100 if ok else math.nan,
            "Remarque": ", ".join(dict.fromkeys(notes)),
        })
    return pd.DataFrame(rows, columns=["code"] + COLUMNS)


def shelter_use_table(usage: pd.DataFrame, year: int) -> Html:
    """:func:`shelter_use` as the page's table (French numbers, "—" for an absent value)."""
    shown = usage[COLUMNS].copy()
    for col, decimals in (("Places dédiées", 0), ("Femmes accueillies", 0),
                          ("Demandes non pourvues", 0), ("Femmes accueillies par place", 1),
                          ("Demandes non pourvues pour 100 places", 0)):
        shown[col] = [formatting.format_number(v, decimals) for v in usage[col]]
    return html_table(shown, f"Utilisation des places d'hébergement dédiées en {year}",
                      numeric=COLUMNS[1:6], row_header="Territoire")

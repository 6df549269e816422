"""Plausibility warnings on collected observations: values that are valid but look wrong.

``plancadre-eval check`` prints them (and ``run`` before rendering), one line each,
``FICHIER:LIGNE: avertissement : …`` (:class:`spreadsheets.DataWarning`); they never change the
exit code unless ``check --strict``. What is *impossible* (a negative count, a percentage above
100, a numerator above its denominator, two different values for one observation) is an error of
:mod:`collection`, not a warning. The warnings here:

- **natural bounds**: a count of territories above the number that exist (unit "arrondissements":
  at most 7 in the Pas-de-Calais; "communes", "EPCI" likewise), a share outside 0-100 %, a
  negative value (observations built elsewhere than by :mod:`collection`);
- **year-on-year change** beyond ``plan.facteur_plausibilite`` (default 3: ×3 or ÷3) of one
  indicator, component and territory between two consecutive years; values below
  :data:`SMALL_COUNT` on both sides are not compared (1 -> 4 is not news);
- **parts above their total**: sub-département values (arrondissements, structures…) of an
  additive quantity (count, numerator, denominator, number of persons) summing above the
  département value declared for the same year;
- **average duration without its count**: a ``duree`` value without the ``.personnes`` row that
  weighs it (the département average cannot be computed).

Pure function of the observations (ARCHITECTURE.md, "Observations") and the referential.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import pandas as pd

from .referential import Indicator, Referential
from .spreadsheets import DataWarning, _fold
from .territories import Level

#: Values below this on both years are not compared year on year.
SMALL_COUNT = 10
#: Components that add up over territories (a duration or a percentage does not).
ADDITIVE = ("numerateur", "denominateur", "personnes")
#: Units that count territories of a level (folded, singular prefix -> level).
TERRITORY_UNITS = {"arrondissement": Level.ARRONDISSEMENT, "commune": Level.COMMUNE,
                   "epci": Level.EPCI}


def _number(value: float) -> str:
    """A value in a message: "16", "12,5"."""
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}".replace(".", ",")


def territory_bound(ind: Indicator, count_of: Callable[[str], int]) -> tuple[int, str] | None:
    """``(bound, what)`` when ``ind`` counts territories of a level (its unit says
    "arrondissements", "communes", "EPCI"): at most ``count_of(level)`` of them."""
    unit = _fold(ind.unite or "")
    for prefix, level in TERRITORY_UNITS.items():
        if unit.startswith(prefix):
            return count_of(level), unit
    return None


def _missing(value) -> bool:
    """True for a missing cell (None, NaN, ``pd.NA``): a key pandas' ``groupby`` would drop."""
    return value is None or value is pd.NA or value != value


def plausibility_warnings(
    observations: pd.DataFrame,
    referential: Referential,
    count_of: Callable[[str], int],
    displays: Mapping[str, str] | None = None,
) -> list[DataWarning]:
    """Every plausibility warning of ``observations``, sorted by file and row.

    ``count_of(level)`` is the number of territories of a level in the département
    (:func:`territories.expected_codes`), asked once per level; ``displays`` maps the ``fichier``
    column to the path shown in the lines (default: the ``fichier`` value itself).

    Plain Python over the columns (each read once with ``tolist``), rows in the table's order:
    the checks of each value, then the year-on-year changes (rows sorted by year, stable; groups
    in order of first appearance), the parts above their total, the durations without persons;
    the warnings of one file and row keep that order.
    """
    if observations.empty:
        return []
    displays = displays or {}
    factor = float(referential.plan.facteur_plausibilite)
    dep = referential.plan.departement
    indicators = {i.id: i for i in referential.indicators()}
    found: list[tuple[str, int, str]] = []

    def warn(row: tuple, message: str) -> None:
        found.append((str(row[5]), int(row[6]), message))

    # rows: (indicateur, composante, annee, territoire, valeur, fichier, ligne)
    rows = list(zip(*(observations[c].tolist() for c in (
        "indicateur", "composante", "annee", "territoire", "valeur", "fichier", "ligne"))))
    keep = (observations["valeur"].notna()
            & observations["indicateur"].isin(list(indicators))).tolist()
    numeric = [row for row, ok in zip(rows, keep) if ok]

    counts: dict[str, int] = {}

    def count_once(level: str) -> int:
        if level not in counts:
            counts[level] = count_of(level)
        return counts[level]

    bounds: dict[str, tuple[int, str] | None] = {}   # indicator -> its bound, asked once
    for row in numeric:
        ident_, comp, year, code, raw, _, _ = row
        ind = indicators[ident_]
        ident = ident_ if comp == "valeur" else f"{ident_}.{comp}"
        value = float(raw)
        if value < 0:
            warn(row, f"'{ident}' vaut {_number(value)} en {year} (territoire "
                      f"'{code}') : une valeur négative est hors de ses bornes naturelles.")
        if comp == "valeur" and ind.type == "pourcentage" and not 0 <= value <= 100:
            warn(row, f"'{ident}' vaut {_number(value)} % en {year} : une part est comprise "
                      "entre 0 et 100 %.")
        if comp != "valeur":
            continue
        if ident_ not in bounds:
            bounds[ident_] = territory_bound(ind, count_once)
        bound = bounds[ident_]
        if bound is not None and code == dep and value > bound[0]:
            warn(row, f"'{ident}' vaut {_number(value)} {bound[1]} en {year} : le "
                      f"département n'en compte que {bound[0]} ; vérifiez qu'il s'agit bien du "
                      "nombre de territoires concernés (et non d'une somme de places ou de "
                      "dispositifs).")

    series: dict[tuple, list[tuple]] = {}   # (indicateur, composante, territoire) -> rows by year
    for row in sorted(numeric, key=lambda r: r[2]):
        if not (_missing(row[1]) or _missing(row[3])):
            series.setdefault((row[0], row[1], row[3]), []).append(row)
    for (ident, comp, code), group in series.items():
        if comp == "valeur" and indicators[ident].type == "pourcentage":
            continue  # a share's change is judged on its numerator and denominator
        for before, now in zip(group, group[1:]):
            if int(now[2]) != int(before[2]) + 1:
                continue
            a, b = float(before[4]), float(now[4])
            if a <= 0 or b <= 0 or max(a, b) < SMALL_COUNT:
                continue
            ratio = b / a
            if ratio > factor or ratio < 1 / factor:
                name = ident if comp == "valeur" else f"{ident}.{comp}"
                change = (f"multipliée par {_number(round(ratio, 1))}" if ratio > 1
                          else f"divisée par {_number(round(1 / ratio, 1))}")
                warn(now, f"'{name}' (territoire '{code}') passe de {_number(a)} en {before[2]} "
                          f"à {_number(b)} en {now[2]} : valeur {change} en un an (seuil : "
                          f"×{_number(factor)} ou ÷{_number(factor)}, facteur_plausibilite du "
                          "référentiel) ; vérifiez l'unité et le périmètre.")

    def additive(row: tuple) -> bool:
        return row[1] in ADDITIVE or (row[1] == "valeur"
                                      and indicators[row[0]].type == "comptage")

    is_total = [ok and additive(row) and not _missing(row[3]) and row[3] == dep
                for row, ok in zip(rows, keep)]
    is_part = [ok and additive(row) and (_missing(row[3]) or row[3] != dep)
               for row, ok in zip(rows, keep)]
    if any(is_total) and any(is_part):
        # pandas' own sums (its summation, exactly), computed once and read from a dict
        parts = observations.loc[is_part, ["indicateur", "composante", "annee", "valeur"]]
        sums = parts.groupby(["indicateur", "composante", "annee"])["valeur"].agg(["sum", "count"])
        sum_of = dict(zip(sums.index, zip(sums["sum"].tolist(), sums["count"].tolist())))
        for row, total in zip(rows, is_total):
            if not total:
                continue
            ident, comp, year, _, raw, _, _ = row
            if (ident, comp, year) not in sum_of:
                continue
            total_parts, n = sum_of[(ident, comp, year)]
            if total_parts > float(raw) + 1e-9:
                name = ident if comp == "valeur" else f"{ident}.{comp}"
                warn(row, f"'{name}' : le total départemental {year} ({_number(raw)}) "
                          f"est inférieur à la somme de ses {int(n)} parties déclarées "
                          f"({_number(total_parts)}) ; l'un des deux est faux.")

    durations = [row for row in rows
                 if row[0] in indicators and indicators[row[0]].type == "duree"]
    weighted = {(r[0], r[2], r[3]) for r in durations if r[1] == "personnes"}
    for row in durations:
        if row[1] == "valeur" and (row[0], row[2], row[3]) not in weighted:
            warn(row, f"durée moyenne '{row[0]}' {row[2]} (territoire "
                      f"'{row[3]}') sans la ligne '{row[0]}.personnes' : "
                      "sans le nombre de personnes, la moyenne départementale ne peut pas "
                      "être calculée ; déclarez-le.")

    found.sort(key=lambda t: (t[0], t[1]))
    return [DataWarning(displays.get(f, f), row, message) for f, row, message in found]


def collection_warnings(collection, referential: Referential, territories) -> list[DataWarning]:
    """The warnings of a read collection (:class:`collection.Collection`): those found while
    reading (identical duplicates) then :func:`plausibility_warnings`, with the territories'
    counts of :func:`territories.expected_codes`."""
    from .territories import expected_codes

    def count_of(level: str) -> int:
        try:
            return len(expected_codes(level, referential, territories))
        except Exception:  # noqa: BLE001 - a level the territories cannot list: no bound
            return math.inf

    return list(collection.warnings) + plausibility_warnings(
        collection.observations, referential, count_of, collection.displays)

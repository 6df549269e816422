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


def plausibility_warnings(
    observations: pd.DataFrame,
    referential: Referential,
    count_of: Callable[[str], int],
    displays: Mapping[str, str] | None = None,
) -> list[DataWarning]:
    """Every plausibility warning of ``observations``, sorted by file and row.

    ``count_of(level)`` is the number of territories of a level in the département
    (:func:`territories.expected_codes`); ``displays`` maps the ``fichier`` column to the path
    shown in the lines (default: the ``fichier`` value itself).
    """
    if observations.empty:
        return []
    displays = displays or {}
    factor = float(referential.plan.facteur_plausibilite)
    dep = referential.plan.departement
    indicators = {i.id: i for i in referential.indicators()}
    found: list[tuple[str, int, str]] = []

    def warn(rec, message: str) -> None:
        found.append((str(rec.fichier), int(rec.ligne), message))

    numeric = observations[observations["valeur"].notna()]
    numeric = numeric[numeric["indicateur"].isin(list(indicators))]
    for rec in numeric.itertuples(index=False):
        ind = indicators[rec.indicateur]
        ident = rec.indicateur if rec.composante == "valeur" else f"{rec.indicateur}.{rec.composante}"
        value = float(rec.valeur)
        if value < 0:
            warn(rec, f"'{ident}' vaut {_number(value)} en {rec.annee} (territoire "
                      f"'{rec.territoire}') : une valeur négative est hors de ses bornes naturelles.")
        if rec.composante == "valeur" and ind.type == "pourcentage" and not 0 <= value <= 100:
            warn(rec, f"'{ident}' vaut {_number(value)} % en {rec.annee} : une part est comprise "
                      "entre 0 et 100 %.")
        bound = territory_bound(ind, count_of) if rec.composante == "valeur" else None
        if bound is not None and rec.territoire == dep and value > bound[0]:
            warn(rec, f"'{ident}' vaut {_number(value)} {bound[1]} en {rec.annee} : le "
                      f"département n'en compte que {bound[0]} ; vérifiez qu'il s'agit bien du "
                      "nombre de territoires concernés (et non d'une somme de places ou de "
                      "dispositifs).")

    by_key = numeric.sort_values("annee", kind="stable").groupby(
        ["indicateur", "composante", "territoire"], sort=False)
    for (ident, comp, code), group in by_key:
        ind = indicators[ident]
        if ind.type == "pourcentage" and comp == "valeur":
            continue  # a share's change is judged on its numerator and denominator
        rows = list(group.itertuples(index=False))
        for before, now in zip(rows, rows[1:]):
            if int(now.annee) != int(before.annee) + 1:
                continue
            a, b = float(before.valeur), float(now.valeur)
            if a <= 0 or b <= 0 or max(a, b) < SMALL_COUNT:
                continue
            ratio = b / a
            if ratio > factor or ratio < 1 / factor:
                name = ident if comp == "valeur" else f"{ident}.{comp}"
                change = (f"multipliée par {_number(round(ratio, 1))}" if ratio > 1
                          else f"divisée par {_number(round(1 / ratio, 1))}")
                warn(now, f"'{name}' (territoire '{code}') passe de {_number(a)} en {before.annee} "
                          f"à {_number(b)} en {now.annee} : valeur {change} en un an (seuil : "
                          f"×{_number(factor)} ou ÷{_number(factor)}, facteur_plausibilite du "
                          "référentiel) ; vérifiez l'unité et le périmètre.")

    additive = numeric[numeric["composante"].isin(ADDITIVE)
                       | ((numeric["composante"] == "valeur")
                          & numeric["indicateur"].map(lambda i: indicators[i].type == "comptage"))]
    totals = additive[additive["territoire"] == dep]
    parts = additive[additive["territoire"] != dep]
    if not totals.empty and not parts.empty:
        sums = parts.groupby(["indicateur", "composante", "annee"])["valeur"].agg(["sum", "count"])
        for rec in totals.itertuples(index=False):
            key = (rec.indicateur, rec.composante, rec.annee)
            if key not in sums.index:
                continue
            total_parts, n = sums.loc[key]
            if total_parts > float(rec.valeur) + 1e-9:
                name = rec.indicateur if rec.composante == "valeur" \
                    else f"{rec.indicateur}.{rec.composante}"
                warn(rec, f"'{name}' : le total départemental {rec.annee} ({_number(rec.valeur)}) "
                          f"est inférieur à la somme de ses {int(n)} parties déclarées "
                          f"({_number(total_parts)}) ; l'un des deux est faux.")

    durations = observations[observations["indicateur"].map(
        lambda i: i in indicators and indicators[i].type == "duree")]
    if not durations.empty:
        weighted = set(zip(*(durations.loc[durations["composante"] == "personnes", c]
                             for c in ("indicateur", "annee", "territoire"))))
        for rec in durations[durations["composante"] == "valeur"].itertuples(index=False):
            if (rec.indicateur, rec.annee, rec.territoire) not in weighted:
                warn(rec, f"durée moyenne '{rec.indicateur}' {rec.annee} (territoire "
                          f"'{rec.territoire}') sans la ligne '{rec.indicateur}.personnes' : "
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

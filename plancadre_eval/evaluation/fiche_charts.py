"""The charts section of a fiche's page (``notebooks/evaluation_fiche.ipynb``): one chart per
quantitative indicator, département values from the reference year to the year, with the target,
the plan's baseline and partial values (an aggregate of only some of its parts) drawn apart.
Re-exported by :mod:`.fiche`, whose :class:`~.fiche.FicheData` these functions read."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import pandas as pd

from .. import formatting, indicators
from ..referential import Fiche, Indicator
from .html import Html, date_text, decimals_of, esc, figure, paragraph, years_text

if TYPE_CHECKING:  # pragma: no cover
    from .fiche import FicheData


def _series_alt(label: str, unit: str, territory: str, points: Sequence[tuple[int, Any, str]],
                decimals: int, target: float | None = None, target_date: Any = None,
                pct: bool = False, partial: dict[int, str] | None = None) -> str:
    def fmt(v):
        return formatting.format_percent(v, decimals) if pct else formatting.format_number(v, decimals)

    parts = []
    for year, value, diff in points:
        if diff == "secret":
            parts.append(f"secret en {year}")
        elif formatting.is_missing(value):
            parts.append(f"pas de valeur en {year}")
        elif partial and partial.get(year):
            parts.append(f"{fmt(value)} en {year} ({partial[year]})")
        else:
            parts.append(f"{fmt(value)} en {year}")
    years = [p[0] for p in points]
    span = f"de {min(years)} à {max(years)}" if years else ""
    unit_text = f" ({unit})" if unit and not pct else ""
    text = f"{label}{unit_text}, {territory}, {span} : " + ", ".join(parts)
    if target is not None and not formatting.is_missing(target):
        text += f" ; cible {fmt(target)}"
        if target_date is not None and not formatting.is_missing(target_date):
            text += f" au {date_text(target_date)}"
    return text + "."


def _baseline(fiche: Fiche, ind: Indicator, territory: str):
    for b in fiche.etat_des_lieux:
        if b.indicateur == ind.id and b.territoire == territory:
            return b
    return None


def indicator_figure(data: FicheData, ind: Indicator) -> Html | None:
    """Chart of one quantitative indicator for the département from the reference year to the
    year, with its target (dashed) and the plan's baseline; None when there is no value at all."""
    from .. import charts

    ctx, y = data.context, data.year
    dept = ctx.departement
    first = ctx.referential.plan.annee_reference
    vals = data.values[(data.values["indicateur"] == ind.id) & (data.values["territoire"] == dept)]
    by_year = {int(a): (v, str(d)) for a, v, d in zip(vals["annee"], vals["valeur"], vals["diffusion"])}
    partial = {int(a): indicators.coverage_text(str(c or ""), str(n or ""))
               for a, c, n in zip(vals["annee"], vals["couverture"], vals["niveau_couverture"])}
    partial = {a: text for a, text in partial.items() if text}
    if not any(not formatting.is_missing(v) for v, _ in by_year.values()):
        return None
    years = list(range(first, y + 1))
    series = pd.DataFrame({"annee": years,
                           "valeur": [by_year.get(a, (math.nan, ""))[0] for a in years]})
    r = data.row(ind.id)
    target = target_date = None
    if r is not None and not formatting.is_missing(r["cible"]):
        target = float(r["cible"])
        target_date = formatting.to_date(r["echeance_cible"]) if r["echeance_cible"] else None
    b = _baseline(data.fiche, ind, dept)
    pct = ind.type == "pourcentage"
    unit = "%" if pct else ind.unite
    fig = charts.indicator_chart(
        series, title="", unit=unit, decimals=decimals_of(ind),
        years=(first, y), target=target, target_date=target_date,
        baseline=float(b.valeur) if b is not None else None,
        baseline_date=b.date if b is not None else None, label=ctx.name_of(dept),
        partial_years=sorted(partial))
    points = [(a, by_year.get(a, (math.nan, ""))[0], by_year.get(a, (math.nan, ""))[1]) for a in years]
    alt = _series_alt(ind.libelle, unit, ctx.name_of(dept), points, decimals_of(ind), target,
                      target_date, pct, partial)
    caption = f"{ind.id} : valeurs départementales {first}-{y}"
    if target is not None:
        caption += " ; cible en pointillés jusqu'à son échéance"
    if b is not None:
        caption += " ; cercle vide : état des lieux du plan"
    if partial:
        caption += (f" ; carré vide : valeur partielle ({years_text(sorted(partial))}), calculée sur "
                    "les seuls territoires déclarés")
    gaps = [a for a, v, d in points if formatting.is_missing(v) and d != "secret"]
    if gaps:
        caption += f" ; pas de valeur pour {years_text(gaps)}"
    return figure(fig, alt, caption + ".")


def charts_section(data: FicheData) -> Html:
    """One chart per quantitative indicator (``h3`` each), or a sentence saying why there is none."""
    quantitative = [i for i in data.fiche.indicateurs if i.quantitative]
    if not quantitative:
        return Html(paragraph("Cette fiche n'a pas d'indicateur chiffré : pas de graphique d'évolution "
                       "(voir le tableau des indicateurs et les commentaires)."))
    out = []
    for ind in quantitative:
        out.append(f"<h3>{esc(ind.id)} — {esc(ind.libelle)}</h3>")
        fig = indicator_figure(data, ind)
        if fig is None:
            out.append(paragraph(f"Aucune valeur départementale de {data.context.referential.plan.annee_reference} "
                          f"à {data.year} : pas de graphique."))
        else:
            out.append(fig)
    return Html("".join(out))

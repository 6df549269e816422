"""The charts of a fiche's page: indicator series (:func:`charts_section`) and values by territory
(:func:`territories_section`), split from :mod:`.fiche` (which re-exports them for the notebook).

Each section takes the figures it shows (``figures=``, indicator id -> figure) and builds them
itself when none are given; :func:`indicator_figures` / :func:`territory_figures` return them, so
that a notebook can change a chart between the two calls. Every figure carries its French text
alternative (:func:`~plancadre_eval.notebook_figures.alt_text`) and its caption
(:func:`chart_caption`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pandas as pd
from matplotlib.figure import Figure

from .. import formatting, indicators
from ..notebook_figures import alt_text, figure_alt
from ..referential import Fiche, Indicator
from .html import Html, date_text, decimals_of, esc, figure, paragraph, value_text

if TYPE_CHECKING:
    from .fiche import FicheData

#: Attribute of a figure holding the caption shown under it.
CAPTION_ATTRIBUTE = "_plancadre_caption"


def _with_texts(fig: Figure, alt: str, caption: str) -> Figure:
    alt_text(fig, alt)
    setattr(fig, CAPTION_ATTRIBUTE, caption)
    return fig


def chart_caption(fig: Figure, default: str | None = None) -> str | None:
    """The caption of a figure made by this module (``default`` for another figure)."""
    return getattr(fig, CAPTION_ATTRIBUTE, None) or default


def _years_text(years: Sequence[int]) -> str:
    years = [str(y) for y in years]
    if not years:
        return "aucune année du plan"
    return years[0] if len(years) == 1 else ", ".join(years[:-1]) + " et " + years[-1]


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


def indicator_chart(data: FicheData, ind: Indicator) -> Figure | None:
    """Chart of one quantitative indicator for the département from the reference year to the
    year, with its target (dashed) and the plan's baseline; None when there is no value at all.
    The figure carries its French alt text (:func:`~plancadre_eval.notebook_figures.figure_alt`)
    and the caption shown under it (:func:`chart_caption`)."""
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
        caption += (f" ; carré vide : valeur partielle ({_years_text(sorted(partial))}), calculée sur "
                    "les seuls territoires déclarés")
    gaps = [a for a, v, d in points if formatting.is_missing(v) and d != "secret"]
    if gaps:
        caption += f" ; pas de valeur pour {_years_text(gaps)}"
    return _with_texts(fig, alt, caption + ".")


def indicator_figure(data: FicheData, ind: Indicator) -> Html | None:
    """:func:`indicator_chart` as the page shows it (``<figure>`` with alt text and caption)."""
    fig = indicator_chart(data, ind)
    return None if fig is None else figure(fig, figure_alt(fig), chart_caption(fig))


def indicator_figures(data: FicheData) -> dict[str, Figure | None]:
    """The charts of :func:`charts_section`, one per quantitative indicator (id -> figure, None
    when the indicator has no value at all): change them, then pass them back with
    ``charts_section(data, figures=figures)``."""
    return {ind.id: indicator_chart(data, ind) for ind in data.fiche.indicateurs if ind.quantitative}


def charts_section(data: FicheData, figures: Mapping[str, Figure | None] | None = None) -> Html:
    """One chart per quantitative indicator (``h3`` each), or a sentence saying why there is none.

    ``figures`` (default :func:`indicator_figures`) gives the figure shown for each indicator id; an
    indicator left out, or given None, gets the "no value" sentence. A figure's alt text is the one
    given by :func:`~plancadre_eval.notebook_figures.alt_text`, else its title."""
    figures = indicator_figures(data) if figures is None else figures
    quantitative = [i for i in data.fiche.indicateurs if i.quantitative]
    if not quantitative:
        return Html(paragraph("Cette fiche n'a pas d'indicateur chiffré : pas de graphique d'évolution "
                       "(voir le tableau des indicateurs et les commentaires)."))
    out = []
    for ind in quantitative:
        out.append(f"<h3>{esc(ind.id)} — {esc(ind.libelle)}</h3>")
        fig = figures.get(ind.id)
        if fig is None:
            out.append(paragraph(f"Aucune valeur départementale de {data.context.referential.plan.annee_reference} "
                          f"à {data.year} : pas de graphique."))
        else:
            out.append(figure(fig, figure_alt(fig), chart_caption(fig, f"{ind.id} — {ind.libelle}.")))
    return Html("".join(out))


def territory_breakdown(data: FicheData, ind: Indicator) -> tuple[pd.DataFrame, int]:
    """The infra-départemental values of an indicator: ``territoire, nom, valeur, diffusion`` and
    the year they are for (the evaluated year; for a public series without value that year, its
    latest year with values). Empty when the indicator has no territorial breakdown."""
    ctx = data.context
    dept = ctx.departement
    rows = data.table[(data.table["indicateur"] == ind.id) & (data.table["territoire"] != dept)]
    year = data.year
    if ind.source == "public" and rows["valeur"].isna().all():
        vals = data.values[(data.values["indicateur"] == ind.id) & (data.values["territoire"] != dept)
                           & data.values["valeur"].notna()]
        if not vals.empty:
            year = int(vals["annee"].max())
            rows = vals[vals["annee"] == year]
    out = pd.DataFrame({"territoire": [str(t) for t in rows["territoire"]],
                        "nom": [ctx.short_name_of(t) for t in rows["territoire"]],
                        "valeur": [float(v) if not formatting.is_missing(v) else math.nan
                                   for v in rows["valeur"]],
                        "diffusion": [str(d) for d in rows["diffusion"]]})
    return out, year


def territory_figures(data: FicheData) -> dict[str, Figure]:
    """The bar charts of :func:`territories_section` (indicator id -> figure), for the
    quantitative indicators with at least one value below the département: change them, then pass
    them back with ``territories_section(data, figures=figures)``."""
    return _territory_figures(data, _breakdowns(data))


def _breakdowns(data: FicheData) -> dict[str, tuple[pd.DataFrame, int]]:
    """:func:`territory_breakdown` of each quantitative indicator (id -> (parts, year))."""
    return {ind.id: territory_breakdown(data, ind) for ind in data.fiche.indicateurs
            if ind.quantitative}


def _territory_figures(data: FicheData, breakdowns: Mapping[str, tuple[pd.DataFrame, int]]
                       ) -> dict[str, Figure]:
    out = {}
    for ind in data.fiche.indicateurs:
        if ind.id in breakdowns:
            parts, year = breakdowns[ind.id]
            if not parts.empty and not parts["valeur"].isna().all():
                out[ind.id] = territory_chart(data, ind, parts, year)
    return out


def territory_chart(data: FicheData, ind: Indicator, parts: pd.DataFrame, year: int) -> Figure:
    """Horizontal bars of one indicator's values by territory (``parts``: :func:`territory_breakdown`),
    with the territories' targets; the figure carries its alt text and caption."""
    from .. import charts

    ctx = data.context
    pct = ind.type == "pourcentage"
    unit = "%" if pct else ind.unite
    targets = data.targets[(data.targets["indicateur"] == ind.id)
                           & (data.targets["territoire"] != ctx.departement)]
    target_map = {str(t): float(v) for t, v in zip(targets["territoire"], targets["valeur_cible"])}
    fig = charts.territory_bars(parts, title="", unit=unit, decimals=decimals_of(ind),
                                target=target_map or None)
    missing_word = "non publié" if ind.source == "public" else "non déclaré"
    items = []
    for nom, v, d in zip(parts["nom"], parts["valeur"], parts["diffusion"]):
        if d == "secret":
            items.append(f"{nom} : secret")
        elif math.isnan(v):
            items.append(f"{nom} : {missing_word}")
        else:
            items.append(f"{nom} : {value_text(v, ind)}")
    alt = f"{ind.libelle} ({unit}) par territoire en {year} : " + " ; ".join(items) + "."
    if target_map:
        alt += " Cibles : " + " ; ".join(
            f"{ctx.short_name_of(t)} : {value_text(v, ind)}" for t, v in target_map.items()) + "."
    note = ""
    if year != data.year:
        note = (f" Pas de valeur publiée pour {data.year} : dernière année disponible, {year}.")
    caption = f"{ind.id} : valeurs par territoire en {year}."
    if (parts["diffusion"] == "secret").any():
        caption += " « secret » : valeur masquée (secret statistique)."
    return _with_texts(fig, alt, caption + note)


def territories_section(data: FicheData, figures: Mapping[str, Figure] | None = None) -> Html:
    """Horizontal bars of the year's values by territory (arrondissement, gendarmerie company,
    structure…) for each quantitative indicator collected below the département.

    ``figures`` (default :func:`territory_figures`) gives the chart shown for each indicator id;
    an indicator left out shows no chart."""
    breakdowns = _breakdowns(data)
    figures = _territory_figures(data, breakdowns) if figures is None else figures
    ctx = data.context
    out = []
    for ind in data.fiche.indicateurs:
        if not ind.quantitative:
            continue
        parts, year = breakdowns[ind.id]
        if parts.empty:
            continue
        if parts["valeur"].isna().all():
            out.append(f"<h3>{esc(ind.id)} — {esc(ind.libelle)}</h3>")
            if (parts["diffusion"] == "secret").all():
                out.append(paragraph(f"Valeurs {year} par territoire couvertes par le secret statistique "
                              f"(effectifs de personnes inférieurs à {ctx.secret_threshold}) : "
                              "seule la valeur départementale est publiée."))
            else:
                out.append(paragraph(f"Aucune valeur par territoire pour {year}" + (
                    " (valeurs secrètes pour " + ", ".join(
                        n for n, d in zip(parts["nom"], parts["diffusion"]) if d == "secret") + ")"
                    if (parts["diffusion"] == "secret").any() else "") + "."))
            continue
        fig = figures.get(ind.id)
        if fig is None:
            continue
        out.append(f"<h3>{esc(ind.id)} — {esc(ind.libelle)}</h3>")
        out.append(figure(fig, figure_alt(fig), chart_caption(fig, f"{ind.id} — {ind.libelle}.")))
    if not out:
        return Html(paragraph("Les indicateurs de cette fiche sont suivis au niveau départemental seulement : "
                       "pas de répartition territoriale."))
    return Html("".join(out))

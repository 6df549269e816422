"""The départemental diagnostic (public statistics of fiche 4.5):
``notebooks/diagnostic_departemental.ipynb``.

:func:`diagnostic_data`, then :func:`diagnostic_header`, … return the HTML of each section.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import formatting, provenance
from .context import Context, load_context  # noqa: F401 (the notebook calls load_context)
from .html import (
    Html, STYLE, bullet_list, editions_table, esc, figure, html_table, paragraph,
)

#: Cautions of the départemental diagnostic (see data/README.md, "Réserves").
DIAGNOSTIC_CAVEATS = (
    "Ces chiffres comptent les faits ou les victimes enregistrés par la police et la gendarmerie "
    "(plaintes et constatations), pas l'ensemble des violences subies : une hausse peut traduire "
    "une meilleure révélation des violences autant qu'une aggravation.",
    "Ni l'État 4001 ni la base départementale du SSMSI ne donnent le sexe des victimes : les séries "
    "portent sur les femmes et les hommes, majeurs et mineurs.",
    "L'État 4001 s'arrête en 2020 : les années suivantes n'ont pas de valeur pour ses séries. Le "
    "ministère y signale des ruptures statistiques pour les violences sexuelles et les violences, "
    "mauvais traitements et abandons d'enfants de 2012 à 2015.",
    "Une seule édition du SSMSI est utilisée (voir les sources) : chaque édition révise les années "
    "passées et celle de juin 2025 redéfinit ses indicateurs ; ses chiffres ne se comparent pas à ceux "
    "d'autres éditions.",
)


# --- diagnostic ----------------------------------------------------------------------------------

@dataclass
class DiagnosticData:
    """The public series of the départemental diagnostic up to the evaluated year
    (:func:`public_data.diagnostic_table`) and their approximation sentences."""

    context: Context
    table: pd.DataFrame
    approximations: dict[str, str]

    @property
    def year(self) -> int:
        return self.context.year


def diagnostic_data(ctx: Context) -> DiagnosticData:
    """Départemental totals, populations and rates per 1 000 inhabitants up to ``ctx.year``."""
    from .. import public_data

    table = public_data.diagnostic_table(ctx.territories)
    table = table[table["annee"] <= ctx.year].reset_index(drop=True)
    approximations = {code: public_data.series(code).attrs.get("approximation", "")
                      for code in dict.fromkeys(table["serie"])}
    return DiagnosticData(context=ctx, table=table, approximations=approximations)


def diagnostic_header(dd: DiagnosticData) -> Html:
    ref = dd.context.referential
    y = dd.year
    years = sorted(set(dd.table["annee"]))
    span = f"{years[0]} à {years[-1]}" if years else "—"
    return Html(
        STYLE + f'<p class="surtitre">{esc(ref.plan.titre)} — fiche 4.5</p>'
        + f"<h1>Diagnostic départemental {y} : les violences enregistrées dans le Pas-de-Calais</h1>"
        + paragraph(f"Statistiques publiques de la police et de la gendarmerie, de {span}, rapportées à la "
             "population (taux pour 1 000 habitants). Cette page n'utilise aucune donnée des "
             "services pilotes.")
    )


def diagnostic_series(dd: DiagnosticData, serie: str) -> pd.DataFrame:
    """One series of the diagnostic (strings): ``Année``, ``Nombre``, ``Population``,
    ``Millésime de population``, ``Taux pour 1 000 habitants``."""
    part = dd.table[dd.table["serie"] == serie].sort_values("annee")
    return pd.DataFrame({
        "Année": [str(a) for a in part["annee"]],
        "Nombre": [formatting.format_number(v, 0) for v in part["valeur"]],
        "Population": [formatting.format_number(v, 0) for v in part["population"]],
        "Millésime de population": [str(v) for v in part["millesime_population"]],
        "Taux pour 1 000 habitants": [formatting.format_number(v, 2) for v in part["taux_pour_mille"]],
    }, dtype=object)


def diagnostic_charts_section(dd: DiagnosticData) -> Html:
    from .. import charts

    t = dd.table
    if t.empty:
        return Html(paragraph(f"Aucune statistique publique jusqu'en {dd.year}."))
    fig = charts.diagnostic_chart(t, title=f"Taux pour 1 000 habitants, Pas-de-Calais, "
                                           f"{int(t['annee'].min())}-{int(t['annee'].max())}")
    parts = []
    for label in dict.fromkeys(t["libelle"]):
        p = t[t["libelle"] == label].sort_values("annee")
        parts.append(f"{label} : de {formatting.format_number(p['taux_pour_mille'].iloc[0], 2)} en "
                     f"{int(p['annee'].iloc[0])} à {formatting.format_number(p['taux_pour_mille'].iloc[-1], 2)} "
                     f"en {int(p['annee'].iloc[-1])}")
    alt = "Taux pour 1 000 habitants dans le Pas-de-Calais : " + " ; ".join(parts) + "."
    return Html(figure(fig, alt, "Faits ou victimes enregistrés pour 1 000 habitants, par série "
                                 "(voir les précautions de lecture)."))


def diagnostic_series_section(dd: DiagnosticData) -> Html:
    out = []
    t = dd.table
    for code in dict.fromkeys(t["serie"]):
        part = t[t["serie"] == code]
        label = str(part["libelle"].iloc[0])
        out.append(f"<h3>{esc(label)}</h3>")
        out.append(html_table(diagnostic_series(dd, code), f"{label} : nombre et taux pour 1 000 habitants",
                              numeric=("Nombre", "Population", "Taux pour 1 000 habitants"),
                              row_header="Année"))
        out.append(f'<div class="note-source" role="note"><p><strong>Source</strong> : '
                   f"{esc(part['source'].iloc[0])}</p><p><strong>Approximation</strong> : "
                   f"{esc(dd.approximations.get(code, ''))}</p></div>")
    if not out:
        return Html(paragraph(f"Aucune statistique publique jusqu'en {dd.year}."))
    return Html("".join(out))


def diagnostic_caveats_section(dd: DiagnosticData) -> Html:
    return Html(bullet_list(DIAGNOSTIC_CAVEATS)
                + paragraph("Population : celle qu'utilise l'édition SSMSI retenue pour l'année, sinon les "
                     "populations légales INSEE du millésime indiqué dans chaque tableau."))


def diagnostic_provenance_section(dd: DiagnosticData) -> Html:
    from .. import public_data

    ctx = dd.context
    return Html(paragraph(f"Produit par {provenance.library_version()} ; référentiel : "
                   f"{provenance.display_path(ctx.referential.folder)}.")
                + editions_table(public_data.editions(include_territories=True)))

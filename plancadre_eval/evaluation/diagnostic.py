"""The départemental diagnostic (public statistics of fiche 4.5):
``notebooks/diagnostic_departemental.ipynb``.

:func:`diagnostic_data`, then :func:`diagnostic_header`, … return the HTML of each section.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .. import formatting, provenance
from ..referential import READING_LABELS, Referential
from .context import Context, load_context  # noqa: F401 (the notebook calls load_context)
from .html import (
    MISSING, Html, STYLE, bullet_list, editions_table, esc, figure, html_table, paragraph,
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
    #: The Pas-de-Calais among the other départements up to the year (SSMSI, all départements):
    #: :func:`public_data.comparison_table`, :func:`public_data.departement_ranks`,
    #: :func:`public_data.region_departements`.
    comparison: pd.DataFrame = field(default_factory=pd.DataFrame)
    ranks: pd.DataFrame = field(default_factory=pd.DataFrame)
    region: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def year(self) -> int:
        return self.context.year


def diagnostic_data(ctx: Context) -> DiagnosticData:
    """Départemental totals, populations and rates per 1 000 inhabitants up to ``ctx.year``, and
    the comparison with the region, metropolitan France and France (same SSMSI edition)."""
    from .. import public_data

    table = public_data.diagnostic_table(ctx.territories)
    table = table[table["annee"] <= ctx.year].reset_index(drop=True)
    approximations = {code: public_data.series(code).attrs.get("approximation", "")
                      for code in dict.fromkeys(table["serie"])}
    base = public_data.load_ssmsi_departements()
    base = base[base["annee"] <= ctx.year]
    dep = ctx.departement
    return DiagnosticData(context=ctx, table=table, approximations=approximations,
                          comparison=public_data.comparison_table(base, dep),
                          ranks=public_data.departement_ranks(base, dep),
                          region=public_data.region_departements(base))


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
                     "populations légales INSEE du millésime indiqué dans chaque tableau.")
                + population_vintage_note(dd))


# --- the plan's own figures and the comparison with other départements (issue 15) -------------

PERIMETER_LABELS = {"departement": "Pas-de-Calais", "region": "Hauts-de-France",
                    "france_metropolitaine": "France métropolitaine", "france": "France"}
#: Why the preface's figures are shown as the plan's and not recomputed.
PLAN_FIGURES_NOTE = (
    "Ces chiffres sont ceux que cite l'avant-propos du plan (source : plan cadre). Aucun jeu de "
    "données public ne les reproduit : l'État 4001 et la base départementale du SSMSI ne donnent ni "
    "le sexe des victimes ni les violences conjugales, et leurs indicateurs ne correspondent pas aux "
    "catégories du plan (« violences envers les femmes », « violences intrafamiliales »). Ils ne se "
    "comparent donc pas aux séries publiques ci-dessous.")


def plan_figures(ref: Referential) -> pd.DataFrame:
    """The figures quoted by the plan itself (``chiffres_plan`` of ``plan.yaml``), as strings:
    ``Chiffre du plan``, ``Année``, ``Valeur``, ``Lecture``, ``Source``."""
    rows = []
    for c in ref.chiffres:
        value = formatting.format_number(c.valeur, 0 if float(c.valeur).is_integer() else 2)
        shown = f"{value} %" if c.unite == "%" else f"{value} {c.unite}"
        if c.lecture == "plancher":
            shown = f"plus de {shown}"
        rows.append([c.libelle, str(c.annee), shown, READING_LABELS.get(c.lecture, "valeur du plan"),
                     c.source])
    return pd.DataFrame(rows, columns=["Chiffre du plan", "Année", "Valeur", "Lecture", "Source"],
                        dtype=object)


def diagnostic_plan_figures_section(dd: DiagnosticData) -> Html:
    """The preface's figures, labelled as the plan's, with why no public dataset reproduces them."""
    table = plan_figures(dd.context.referential)
    if table.empty:
        return Html(paragraph("Le référentiel ne reprend aucun chiffre cité par le plan lui-même."))
    return Html(html_table(table, "Chiffres cités par le plan (avant-propos), source : plan cadre",
                           numeric=("Valeur",), row_header="Chiffre du plan")
                + paragraph(PLAN_FIGURES_NOTE))


def comparison_overview(dd: DiagnosticData, indicateur: str) -> pd.DataFrame:
    """One SSMSI indicator year by year (strings): ``Année``, the rate per 1 000 inhabitants of
    the Pas-de-Calais, Hauts-de-France, France métropolitaine and France, and ``Rang du
    Pas-de-Calais`` among the metropolitan départements (1 = highest rate)."""
    comp = dd.comparison[dd.comparison["indicateur"] == indicateur]
    ranks = dd.ranks[dd.ranks["indicateur"] == indicateur].set_index("annee")
    rows = []
    for year in sorted(set(comp["annee"])):
        part = comp[comp["annee"] == year].set_index("perimetre")
        rank = (f"{int(ranks.at[year, 'rang'])}e sur {int(ranks.at[year, 'sur'])}"
                if year in ranks.index else MISSING)
        rows.append([str(year)] + [formatting.format_number(part.at[p, "taux_pour_mille"], 2)
                                   if p in part.index else MISSING
                                   for p in PERIMETER_LABELS] + [rank])
    return pd.DataFrame(rows, columns=["Année"] + list(PERIMETER_LABELS.values())
                        + ["Rang du Pas-de-Calais"], dtype=object)


def region_overview(dd: DiagnosticData, indicateur: str) -> pd.DataFrame:
    """The five Hauts-de-France départements year by year (strings): ``Année`` then one rate per
    1 000 inhabitants column per département."""
    part = dd.region[dd.region["indicateur"] == indicateur]
    names = list(dict.fromkeys(part.sort_values("departement")["nom"]))
    rows = []
    for year in sorted(set(part["annee"])):
        by = part[part["annee"] == year].set_index("nom")["taux_pour_mille"]
        rows.append([str(year)] + [formatting.format_number(by.get(n), 2) for n in names])
    return pd.DataFrame(rows, columns=["Année"] + names, dtype=object)


def diagnostic_comparison_section(dd: DiagnosticData) -> Html:
    """Pas-de-Calais beside Hauts-de-France, France métropolitaine and France (rates = sum of
    counts / sum of populations), its rank among the metropolitan départements, and the five
    départements of the region side by side (chart of the evaluated year and table of every year)."""
    from .. import charts, public_data

    comp = dd.comparison
    if comp.empty:
        return Html(paragraph(f"Aucune donnée nationale du SSMSI jusqu'en {dd.year}."))
    out = []
    for ind in dict.fromkeys(comp["indicateur"]):
        years = sorted(set(comp.loc[comp["indicateur"] == ind, "annee"]))
        out.append(f"<h3>{esc(ind)}</h3>")
        out.append(html_table(comparison_overview(dd, ind),
                              f"{ind} : victimes enregistrées pour 1 000 habitants, "
                              f"{years[0]}-{years[-1]}",
                              numeric=list(PERIMETER_LABELS.values()), row_header="Année"))
    out.append(paragraph("Taux d'un ensemble de départements = somme des victimes enregistrées / somme des "
                  "populations × 1 000 (jamais une moyenne des taux départementaux). Rang : place "
                  "du Pas-de-Calais parmi les 96 départements de France métropolitaine, du taux le "
                  "plus élevé (1er) au plus faible. France = 96 départements métropolitains et 5 "
                  "d'outre-mer."))
    last = max(comp["annee"])
    reg = dd.region[dd.region["annee"] == last]
    if not reg.empty:
        refs = {}
        for ind in dict.fromkeys(reg["indicateur"]):
            part = comp[(comp["indicateur"] == ind) & (comp["annee"] == last)].set_index("perimetre")
            refs[ind] = [(PERIMETER_LABELS[p], float(part.at[p, "taux_pour_mille"]))
                         for p in ("region", "france_metropolitaine") if p in part.index]
        fig = charts.departements_bars(
            reg, references=refs,
            title=f"Victimes enregistrées pour 1 000 habitants en {last}, départements des "
                  "Hauts-de-France")
        parts = []
        for ind in dict.fromkeys(reg["indicateur"]):
            p = reg[reg["indicateur"] == ind].sort_values("departement")
            vals = ", ".join(f"{n} {formatting.format_number(v, 2)}"
                             for n, v in zip(p["nom"], p["taux_pour_mille"]))
            ref_text = ", ".join(f"{lab} {formatting.format_number(v, 2)}" for lab, v in refs[ind])
            parts.append(f"{ind} : {vals} (repères : {ref_text})")
        alt = (f"Barres horizontales, taux pour 1 000 habitants en {last} des cinq départements des "
               "Hauts-de-France : " + " ; ".join(parts) + ".")
        out.append("<h3>Les cinq départements des Hauts-de-France</h3>")
        out.append(figure(fig, alt, "Pas-de-Calais en orange ; traits verticaux : taux des "
                                    "Hauts-de-France (tirets) et de la France métropolitaine "
                                    "(pointillés)."))
        for ind in dict.fromkeys(dd.region["indicateur"]):
            yrs = sorted(set(dd.region.loc[dd.region["indicateur"] == ind, "annee"]))
            overview = region_overview(dd, ind)
            out.append(html_table(overview,
                                  f"{ind} : victimes enregistrées pour 1 000 habitants par "
                                  f"département des Hauts-de-France, {yrs[0]}-{yrs[-1]}",
                                  numeric=[c for c in overview.columns if c != "Année"],
                                  row_header="Année"))
    out.append(f'<div class="note-source" role="note"><p><strong>Source</strong> : '
               f"{esc(public_data.FRANCE_LABEL)}, indicateurs « "
               f"{' » et « '.join(public_data.COMPARISON_INDICATORS)} » (unité de compte : "
               "victime) ; même édition que les séries du Pas-de-Calais ci-dessus.</p></div>")
    return Html("".join(out))


def population_vintage_note(dd: DiagnosticData) -> str:
    """A sentence naming the years whose rates use a population of another year (the État 4001
    years before the SSMSI edition: the project has no populations légales for them)."""
    t = dd.table
    other = t[t["millesime_population"] != t["annee"]]
    if other.empty:
        return ""
    years = sorted({int(a) for a in other["annee"]})
    vintages = sorted({int(v) for v in other["millesime_population"]})
    pops = sorted({int(v) for v in other["population"]})
    return paragraph(f"Pour {years_text(years)}, le projet ne dispose pas des populations légales de ces "
              f"années : les taux utilisent la population du millésime "
              f"{years_text(vintages)} ({', '.join(formatting.format_number(p, 0) for p in pops)} "
              "habitants). Ces taux sont donc approchés ; leur évolution reflète celle des faits, "
              "pas celle de la population.")


def diagnostic_provenance_section(dd: DiagnosticData) -> Html:
    from .. import public_data

    ctx = dd.context
    return Html(paragraph(f"Produit par {provenance.library_version()} ; référentiel : "
                   f"{provenance.display_path(ctx.referential.folder)}.")
                + editions_table(public_data.editions(include_territories=True,
                                                      include_france=True)))


def years_text(years) -> str:
    """"2012, 2013 et 2014" (French list of years)."""
    years = [str(y) for y in years]
    if not years:
        return ""
    return years[0] if len(years) == 1 else ", ".join(years[:-1]) + " et " + years[-1]

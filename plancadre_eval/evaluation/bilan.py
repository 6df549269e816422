"""The bilan of the plan over several years: ``notebooks/bilan_plan.ipynb``.

:func:`bilan_data` computes every table once from the context's engine (statuses of every year
through :meth:`Context.fiche_statuses`, as the year pages; targets read at their deadline;
milestones at the end; headline indicators from the baseline to the last year), then one function
per section returns its HTML fragment. Computations are in :mod:`plancadre_eval.bilan`. The page is
written to ``outputs/bilan.html`` (whole plan) or ``outputs/bilan-<first>-<last>.html``: links to
the year pages are relative to ``outputs/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import bilan as computations
from .. import formatting, schedule
from ..statuses import FicheStatus, plan_summary
from .context import Context, load_context  # noqa: F401 (the notebook calls load_context)
from .html import (
    MISSING, STYLE, Html, badge, change_text, demo_notice, esc, html_table, link, paragraph,
    indicator_or_placeholder, plural, provenance_html, referential_rows, value_text,
)
from .synthesis import KEY_INDICATORS, status_bars_figure


#: The grid's links are the status badges: underlined so that they read as links.
BILAN_STYLE = """<style>
.grille-statuts a{text-decoration:none}
.grille-statuts a .statut{text-decoration:underline;text-underline-offset:.15em}
.grille-statuts a:focus .statut,.grille-statuts a:hover .statut{outline:2px solid #005a8c}
</style>"""


@dataclass
class BilanData:
    """The tables of the bilan from ``first`` to ``last`` (``context.year`` is ``last``).

    ``statuses``: one row per fiche and year (``fiche``, ``axe``, ``annee``, ``statut``…);
    ``grid``: :func:`plancadre_eval.bilan.status_grid`; ``summary``: :func:`plan_summary` of
    ``last``; ``targets``: :func:`plancadre_eval.bilan.targets_at_deadline`; ``milestones``:
    :meth:`Engine.milestones` of ``last``; ``outcomes``: :func:`plancadre_eval.bilan.milestone_outcomes`;
    ``due``: ``{year: [fiche ids with a page that year]}`` (empty for the years not linked).
    """

    context: Context
    first: int
    last: int
    statuses: pd.DataFrame
    grid: pd.DataFrame
    summary: pd.DataFrame
    targets: pd.DataFrame
    milestones: pd.DataFrame
    outcomes: pd.DataFrame
    due: dict[int, list[str]]

    @property
    def years(self) -> list[int]:
        return list(range(self.first, self.last + 1))

    @property
    def whole_plan(self) -> bool:
        plan = self.context.referential.plan
        return self.first == plan.annee_debut and self.last == plan.annee_fin


@dataclass(frozen=True)
class BilanSettings:
    """The bilan notebook's parameters, validated: ``settings`` (:func:`parameters.validate` of the
    last year: data folder, referential, secrecy threshold), the period and the linked years."""

    settings: Any
    first: int
    last: int
    linked_years: str


def validate(*, first_year, last_year, data_dir, referentiel, secret_threshold,
             linked_years="", revue=None) -> BilanSettings:
    """Validate every parameter of ``bilan_plan.ipynb`` (French errors naming the parameter);
    ``revue``: the folder of the committee's records (statuses retained year by year)."""
    from .. import parameters

    settings = parameters.validate(year=last_year, data_dir=data_dir, referentiel=referentiel,
                                   secret_threshold=secret_threshold, revue=revue)
    first, last = computations.check_period(first_year, last_year, settings.referential)
    linked = computations.parse_years(linked_years, settings.referential)
    return BilanSettings(settings=settings, first=first, last=last,
                         linked_years=",".join(map(str, linked)))


def bilan_data(ctx: Context, first_year, last_year, linked_years: str = "") -> BilanData:
    """Compute the bilan's tables from ``first_year`` to ``last_year`` (plan years, checked).
    ``linked_years`` ("2019,2020", "" for none): the years whose fiche pages exist beside the bilan
    (``<year>/fiche-<id>.html``); the bilan links to the fiches due in those years only."""
    ref = ctx.referential
    first, last = computations.check_period(first_year, last_year, ref)
    linked = computations.parse_years(linked_years, ref)
    engine = ctx.engine
    statuses = pd.concat([ctx.fiche_statuses(y) for y in range(first, last + 1)], ignore_index=True)
    grid = computations.status_grid(statuses, ref)
    summary = plan_summary(statuses[statuses["annee"] == last], ref)
    targets = computations.targets_at_deadline(
        {y: engine.targets(y) for y in range(first, last + 1)}, first, last)
    milestones = engine.milestones(last)
    return BilanData(context=ctx, first=first, last=last, statuses=statuses, grid=grid,
                     summary=summary, targets=targets, milestones=milestones,
                     outcomes=computations.milestone_outcomes(milestones),
                     due={y: list(schedule.due_fiches(ref, y)) if y in linked else []
                          for y in range(first, last + 1)})


def _period(bd: BilanData) -> str:
    return f"{bd.first}-{bd.last}" if bd.first != bd.last else str(bd.first)


def bilan_header(bd: BilanData) -> Html:
    """``h1`` of the bilan, demonstration notice, and what the page covers."""
    ctx, ref = bd.context, bd.context.referential
    kind = "Bilan du plan cadre" if bd.whole_plan else "Évaluation intermédiaire du plan cadre"
    return Html(
        STYLE + BILAN_STYLE + f'<p class="surtitre">{esc(ref.plan.titre)}</p>'
        + f"<h1>{kind} {_period(bd)}</h1>"
        + '<p class="sous-titre">Pour le comité de pilotage</p>'
        + demo_notice(ctx.data_dir)
        + paragraph(f"Cette page rassemble les {len(bd.years)} années évaluées de {bd.first} à "
                    f"{bd.last} pour les {len(ref.fiches)} fiches action du plan : la part des fiches "
                    f"mises en œuvre fin {bd.last}, le statut de chaque fiche année par année, les "
                    "cibles chiffrées à leur échéance, les jalons, la trajectoire des indicateurs "
                    "phares depuis l'état des lieux et un résumé par axe. Chaque chiffre est calculé "
                    "à partir des mêmes données et des mêmes règles que les pages annuelles.")
    )


def shares_section(bd: BilanData) -> Html:
    """The share of fiches implemented (and engaged) at the end of the period, overall and per axe."""
    total = bd.summary[bd.summary["axe"] == "Ensemble"].iloc[0]
    y = bd.last
    sentence = (f"Fin {y}, {formatting.format_percent(total['part mises en œuvre (%)'], 0)} des fiches "
                f"du plan sont mises en œuvre ({formatting.format_number(total['mises en œuvre'], 0)} "
                f"sur {formatting.format_number(total['fiches'], 0)}) et "
                f"{formatting.format_percent(total['part engagées (%)'], 0)} sont engagées "
                f"({formatting.format_number(total['engagées'], 0)} : mises en œuvre, en cours ou en "
                "retard).")
    rows = []
    for _, r in bd.summary.iterrows():
        label = "Ensemble du plan" if r["axe"] == "Ensemble" else f"Axe {r['axe']} : {r['titre']}"
        rows.append([label, formatting.format_number(r["fiches"], 0),
                     formatting.format_number(r["mises en œuvre"], 0),
                     formatting.format_percent(r["part mises en œuvre (%)"], 0),
                     formatting.format_number(r["engagées"], 0),
                     formatting.format_percent(r["part engagées (%)"], 0),
                     formatting.format_number(r[str(FicheStatus.LATE)], 0)])
    cols = ["Axe", "Fiches", "Mises en œuvre", "Part mises en œuvre", "Engagées", "Part engagées",
            "En retard"]
    table = pd.DataFrame(rows, columns=cols, dtype=object)
    return Html(f'<p class="chiffre-cle"><strong>{esc(sentence)}</strong></p>'
                + html_table(table, f"Fiches mises en œuvre et engagées par axe fin {y}",
                             numeric=cols[1:], row_header="Axe")
                + status_bars_figure(bd.summary, f"fin {y}"))


def status_grid_table(bd: BilanData, axe: str) -> pd.DataFrame:
    """The grid of one axe as shown: ``Fiche``, ``Titre``, then one column per year whose cell is
    the status written in a badge (a link to that year's page of the fiche when it has one)."""
    g = bd.grid[bd.grid["axe"] == axe]
    rows = []
    for _, r in g.iterrows():
        row = [r["fiche"], r["titre"]]
        for y in bd.years:
            status = r[str(y)]
            cell = badge(status) if status else MISSING
            if status and r["fiche"] in bd.due[y]:
                cell = Html(f'<a href="{y}/fiche-{esc(r["fiche"])}.html" '
                            f'aria-label="Fiche {esc(r["fiche"])} en {y} : {esc(status)}">{cell}</a>')
            row.append(cell)
        rows.append(row)
    return pd.DataFrame(rows, columns=["Fiche", "Titre"] + [str(y) for y in bd.years], dtype=object)


def committee_changes_text(bd: BilanData) -> str:
    """How many statuses of the period the committee examined and changed (retained statuses,
    :meth:`Context.fiche_statuses`), naming the changed ones: "fiche 2.5 en 2021 : calculé en
    retard, retenu en cours"."""
    st = bd.statuses
    if "examinee" not in st.columns or not st["examinee"].any():
        return (f"Aucune revue du comité de pilotage n'est enregistrée pour {bd.first}-{bd.last} : "
                "les statuts sont les statuts calculés.")
    seen, changed = st[st["examinee"]], st[st["modifie"]]
    years = sorted({int(y) for y in seen["annee"]})
    text = (f"Statuts retenus par le comité de pilotage (revues {', '.join(map(str, years))}) : "
            f"{len(seen)} statut(s) examiné(s), dont {len(changed)} changé(s) par le comité")
    if changed.empty:
        return text + " ; les autres statuts sont calculés."
    return text + " : " + " ; ".join(
        f"fiche {r['fiche']} en {int(r['annee'])} : calculé {r['statut_calcule']}, retenu {r['statut']}"
        for _, r in changed.iterrows()) + " ; les autres statuts sont calculés."


def status_grid_section(bd: BilanData) -> Html:
    """Statuses fiche × year, one table per axe; each status is written (readable without colour)."""
    out = [paragraph(f"Statut de chaque fiche au 31 décembre de chaque année, de {bd.first} à "
                     f"{bd.last}. Un statut souligné mène à la page de la fiche cette année-là, quand "
                     "elle a été produite (les fiches ne sont évaluées en détail que les années "
                     "prévues par leur fréquence).")]
    out.append(paragraph(committee_changes_text(bd)))
    ref = bd.context.referential
    for a in ref.axes:
        out.append(f"<h3>Axe {esc(a.id)} : {esc(a.titre)}</h3>")
        out.append(html_table(status_grid_table(bd, a.id),
                              f"Statut des fiches de l'axe {a.id} de {bd.first} à {bd.last}",
                              row_header="Fiche", css_class="grille-statuts"))
    return Html("".join(out))


def targets_section(bd: BilanData) -> Html:
    """Every target at its deadline: reference, final value, target, reached or not."""
    t = bd.targets
    if t.empty:
        return Html(paragraph("Le référentiel ne contient aucune cible chiffrée."))
    ctx = bd.context
    counts = t["resultat"].value_counts()
    due = t[t["resultat"] != computations.NOT_DUE]
    parts = [plural(int(counts.get(k, 0)), k, k.replace("atteinte", "atteintes") if "atteinte" in k else k)
             for k in (computations.REACHED, computations.NOT_REACHED, computations.NOT_ASSESSABLE)]
    text = (f"{formatting.format_number(len(due), 0)} cibles chiffrées arrivent à échéance d'ici fin "
            f"{bd.last} : " + ", ".join(parts) + ".")
    later = int(counts.get(computations.NOT_DUE, 0))
    if later:
        text += f" {formatting.format_number(later, 0)} autre(s) ont une échéance postérieure à {bd.last}."
    rows = []
    for _, r in t.iterrows():
        ind = indicator_or_placeholder(bd.context.referential, r["indicateur"])
        rows.append([link(f"{r['annee_lue']}/fiche-{r['fiche']}.html", r["fiche"])
                     if r["fiche"] in bd.due[r["annee_lue"]] else r["fiche"],
                     r["cible"], ctx.name_of(str(r["territoire"])),
                     formatting.format_date(r["echeance"]), value_text(r["reference"], ind),
                     f"{value_text(r['valeur'], ind)} ({r['annee_lue']})"
                     if not formatting.is_missing(r["valeur"]) else MISSING,
                     value_text(r["valeur_cible"], ind), r["resultat"]])
    table = pd.DataFrame(rows, columns=["Fiche", "Cible", "Territoire", "Échéance", "Référence",
                                        "Valeur à l'échéance", "Cible visée", "Résultat"], dtype=object)
    return Html(paragraph(text)
                + html_table(table, f"Cibles chiffrées lues à leur échéance (au plus tard fin {bd.last})",
                             numeric=("Référence", "Valeur à l'échéance", "Cible visée"),
                             row_header="Fiche"))


def milestones_section(bd: BilanData) -> Html:
    """Milestones done on time, done late, not done, and not yet due, at the end of the period."""
    o = bd.outcomes
    n = int(o["jalons"].sum())
    if n == 0:
        return Html(paragraph("Le référentiel ne contient aucun jalon."))
    rows = [[r["resultat"].capitalize(), formatting.format_number(r["jalons"], 0),
             formatting.format_percent(r["part_pct"], 0)] for _, r in o.iterrows()]
    rows.append(["Total", formatting.format_number(n, 0), formatting.format_percent(100, 0)])
    table = pd.DataFrame(rows, columns=["Jalons", "Nombre", "Part"], dtype=object)
    by = dict(zip(o["resultat"], o["jalons"]))
    done = by["réalisés à l'échéance"] + by["réalisés en retard"]
    not_done = by["non réalisés à l'échéance"]
    text = (f"Fin {bd.last}, {formatting.format_number(done, 0)} jalons sur {formatting.format_number(n, 0)} "
            f"sont réalisés, dont {formatting.format_number(by['réalisés en retard'], 0)} après leur "
            f"échéance ; {formatting.format_number(not_done, 0)} ne sont pas "
            "réalisés alors que leur échéance est passée.")
    return Html(paragraph(text) + html_table(table, f"Jalons du plan au 31 décembre {bd.last}",
                                             numeric=("Nombre", "Part"), row_header="Jalons"))


#: The bilan's headline indicators: the synthesis' key figures, then what the préfecture quoted at
#: the end of the plan (professionals trained, social workers' posts, places created).
HEADLINE_INDICATORS = KEY_INDICATORS + tuple(
    i for i in ("1.2.1", "2.9.1", "2.1.3", "2.17.1") if i not in KEY_INDICATORS)


def trajectory_table(bd: BilanData) -> pd.DataFrame:
    """Headline indicators (:data:`HEADLINE_INDICATORS` present in the referential), département
    values (strings): ``Indicateur``, ``Fiche``, ``État des lieux`` (baseline and its year), one
    column per year of the bilan, ``Évolution depuis l'état des lieux`` (last year's value minus the
    baseline, and in % of the baseline)."""
    ctx, engine = bd.context, bd.context.engine
    dept = ctx.departement
    indicators = {i.id: i for i in ctx.referential.indicators()}
    # the year's whole table once (a row's secrecy depends on its indicator's rows only)
    table = engine.table(bd.last)
    dept_rows = table[table["territoire"] == dept]
    rows = []
    for iid in HEADLINE_INDICATORS:
        ind = indicators.get(iid)
        if ind is None:
            continue
        row = dept_rows[dept_rows["indicateur"] == iid]
        baseline, change = MISSING, MISSING
        if not row.empty and not formatting.is_missing(row.iloc[0]["reference"]):
            r = row.iloc[0]
            baseline = f"{value_text(r['reference'], ind)} ({r['annee_reference']})"
            if not formatting.is_missing(r["valeur"]):
                change = change_text(r["valeur"] - r["reference"], r["evolution_reference_pct"], ind,
                                     str(r["diffusion"]))
        values = engine.values(bd.last, ind.fiche)
        values = values[(values["indicateur"] == iid) & (values["territoire"] == dept)]
        by_year = {int(a): (v, d) for a, v, d in zip(values["annee"], values["valeur"], values["diffusion"])}
        cells = [value_text(by_year[y][0], ind, by_year[y][1]) if y in by_year else MISSING for y in bd.years]
        label = f"{ind.libelle} ({ind.unite})" if ind.unite and ind.type != "pourcentage" else ind.libelle
        rows.append([label, ind.fiche, baseline] + cells + [change])
    return pd.DataFrame(rows, columns=["Indicateur", "Fiche", "État des lieux"]
                        + [str(y) for y in bd.years] + [CHANGE_COLUMN], dtype=object)


CHANGE_COLUMN = "Évolution depuis l'état des lieux"


def trajectory_section(bd: BilanData) -> Html:
    table = trajectory_table(bd)
    if table.empty:
        return Html(paragraph("Aucun des indicateurs phares n'est présent dans ce référentiel."))
    return Html(html_table(table, f"Indicateurs phares, Pas-de-Calais, de l'état des lieux à {bd.last}",
                           numeric=["État des lieux"] + [str(y) for y in bd.years] + [CHANGE_COLUMN],
                           row_header="Indicateur"))


def axis_paragraph(bd: BilanData, axe: str) -> str:
    """The generated paragraph of one axe (:func:`plancadre_eval.bilan.axis_facts`); a clause whose
    count is zero is left out, except the fiches implemented and engaged."""
    a = bd.context.referential.axis(axe)
    f = computations.axis_facts(bd.summary, bd.grid, bd.targets, axe, bd.first, bd.last)
    n = f["fiches"]
    text = (f"Axe {a.id} ({a.titre}) : fin {bd.last}, {f['mises_en_oeuvre']} fiche"
            f"{'s' if f['mises_en_oeuvre'] > 1 else ''} sur {n} "
            f"{'sont mises' if f['mises_en_oeuvre'] > 1 else 'est mise'} en œuvre et {f['engagees']} "
            f"sur {n} {'sont engagées' if f['engagees'] > 1 else 'est engagée'}.")
    if bd.first != bd.last and f["progressions"]:
        k = f["progressions"]
        text += (f" {plural(k, 'fiche')} non démarrée{'s' if k > 1 else ''} ou sans données "
                 f"suffisantes en {bd.first} {'sont engagées' if k > 1 else 'est engagée'} en {bd.last}.")
    if f["retard"]:
        k = f["retard"]
        text += f" {plural(k, 'fiche')} {'restent' if k > 1 else 'reste'} en retard."
    else:
        text += " Aucune fiche n'est en retard."
    if f["cibles"]:
        text += (f" Cibles chiffrées arrivées à échéance : {f['cibles_atteintes']} atteinte"
                 f"{'s' if f['cibles_atteintes'] > 1 else ''} sur {f['cibles']}.")
    return text


def axes_section(bd: BilanData) -> Html:
    """One generated paragraph per axe."""
    return Html("".join(paragraph(axis_paragraph(bd, a.id)) for a in bd.context.referential.axes))


def bilan_provenance_section(bd: BilanData) -> Html:
    from .. import public_data

    ctx = bd.context
    return provenance_html(ctx, list(ctx.files), referential_rows(ctx.referential),
                           public_data.editions(include_territories=True), "pour le bilan")

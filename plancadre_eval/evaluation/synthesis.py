"""The year's review for the steering committee: ``notebooks/synthese_annuelle.ipynb``.

:func:`synthesis_data` computes the tables once from the context's engine, then
:func:`synthesis_header`, :func:`plan_overview_section`, … return the HTML of each section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from .. import formatting, schedule
from ..engine import completeness_summary
from ..indicators import coverage_text
from ..referential import fiche_sort_key
from ..review import NOT_REVIEWED
from ..statuses import (
    FICHE_STATUS_RULE, FicheStatus, MilestoneStatus, TargetStatus, plan_summary,
)
from .context import (  # noqa: F401 (the notebook calls load_context)
    Context, arrondissement_names, load_context,
)
from .html import (
    Html, MISSING, STYLE, badge, bullet_list, change_text, date_text, demo_notice, esc, figure,
    html_table, indicator_or_placeholder, link, paragraph, provenance_html, referential_rows,
    rule_html, value_text,
)

#: Headline indicators of the synthesis ("chiffres clés"): ids of the shipped referential; ids
#: absent from another referential are skipped.
KEY_INDICATORS = ("2.5.1", "2.5.2", "2.6.5", "2.6.3", "2.1.1", "2.2.4", "3.1.1", "3.1.2")
#: Dispositifs mapped by arrondissement in the synthesis: (indicator id, short title).
MAP_INDICATORS = (
    ("2.5.1", "Accueils de jour"),
    ("2.6.5", "Places d'hébergement dédiées"),
    ("2.1.1", "Intervenants sociaux en commissariat"),
    ("2.2.4", "Intervenants sociaux en gendarmerie"),
)


# --- synthesis ---------------------------------------------------------------------------------

@dataclass
class SynthesisData:
    """Tables of the annual synthesis, computed once: ``statuses`` of every fiche (with ``due``;
    ``statut`` is the status retained by the committee when the year's record examined the fiche,
    ``statut_calcule`` the engine's, ``examinee`` and ``modifie``: see
    :func:`~plancadre_eval.review.retained_statuses`),
    ``summary`` (:func:`~plancadre_eval.statuses.plan_summary`), ``targets`` and ``milestones`` of every fiche,
    ``completeness`` of the fiches due, ``table`` (:meth:`~plancadre_eval.engine.Engine.table`, all fiches)."""

    context: Context
    statuses: pd.DataFrame
    summary: pd.DataFrame
    targets: pd.DataFrame
    milestones: pd.DataFrame
    completeness: pd.DataFrame
    table: pd.DataFrame
    due: list[str]

    @property
    def year(self) -> int:
        return self.context.year


def synthesis_data(ctx: Context) -> SynthesisData:
    """Compute the synthesis tables for ``ctx.year``. Fiches stopped by bad files
    (``ctx.excluded``) are "données insuffisantes" (:meth:`Context.fiche_statuses`), without
    targets, milestones, completeness or values."""
    ref, y, engine = ctx.referential, ctx.year, ctx.engine
    statuses = ctx.fiche_statuses(y)
    due = list(schedule.due_fiches(ref, y))
    statuses["due"] = statuses["fiche"].isin(due)
    excluded = list(ctx.excluded)
    summary = plan_summary(statuses, ref)
    targets = engine.targets(y)
    milestones = engine.milestones(y)
    comp = engine.completeness(y)
    comp = comp[comp["fiche"].isin(due) & ~comp["fiche"].isin(excluded)]
    table = engine.table(y)
    if excluded:
        targets = targets[~targets["fiche"].isin(excluded)].reset_index(drop=True)
        milestones = milestones[~milestones["fiche"].isin(excluded)].reset_index(drop=True)
        table = table[~table["fiche"].isin(excluded)].reset_index(drop=True)
    return SynthesisData(context=ctx, statuses=statuses, summary=summary, targets=targets,
                         milestones=milestones, completeness=comp, table=table, due=due)


def synthesis_header(sd: SynthesisData) -> Html:
    """``h1`` of the synthesis, demonstration notice and a one-paragraph reading guide."""
    ctx = sd.context
    ref = ctx.referential
    n, n_due = len(ref.fiches), len(sd.due)
    return Html(
        STYLE + f'<p class="surtitre">{esc(ref.plan.titre)}</p>'
        + f"<h1>Synthèse {sd.year} du plan cadre</h1>"
        + f'<p class="sous-titre">Bilan annuel pour le comité de pilotage</p>'
        + demo_notice(ctx.data_dir)
        + paragraph(f"Le plan compte {n} fiches action réparties en {len(ref.axes)} axes. Le statut de "
             f"chaque fiche est calculé pour {sd.year} à partir des données déclarées ; "
             f"{n_due} fiches font l'objet d'une évaluation détaillée cette année selon la "
             "fréquence fixée par le plan (liens dans le tableau des fiches).")
        + excluded_notice(ctx)
    )


def excluded_notice(ctx: Context) -> str:
    """The fiches left out because their data files have errors, with the problem lines
    (empty when none)."""
    if not ctx.excluded:
        return ""
    items = [Html(f"<strong>Fiche {esc(f)}</strong> : " + "<br>".join(esc(line) for line in lines))
             for f, lines in ctx.excluded.items()]
    return ('<div class="avertissement" role="note">'
            + paragraph(f"Fiches exclues de cette synthèse ({', '.join(ctx.excluded)}) : leurs "
                        "fichiers de données contiennent des erreurs. Leurs chiffres ne sont ni "
                        "calculés ni comptés ; corrigez les fichiers puis relancez.")
            + bullet_list(items) + "</div>")


def plan_overview(sd: SynthesisData) -> pd.DataFrame:
    """:func:`~plancadre_eval.statuses.plan_summary` as shown (strings): ``Axe``, ``Fiches`` and one column per
    fiche status, ``Mises en œuvre``, ``Engagées`` (count and share)."""
    rows = []
    for _, r in sd.summary.iterrows():
        label = "Ensemble du plan" if r["axe"] == "Ensemble" else f"Axe {r['axe']} : {r['titre']}"
        row = [label, formatting.format_number(r["fiches"], 0)]
        row += [formatting.format_number(r[s], 0) for s in FicheStatus]
        for key in ("mises en œuvre", "engagées"):
            row.append(f"{formatting.format_number(r[key], 0)} "
                       f"({formatting.format_percent(r[f'part {key} (%)'], 0)})")
        rows.append(row)
    cols = (["Axe", "Fiches"] + [s.capitalize() for s in FicheStatus]
            + ["Mises en œuvre (part)", "Engagées (part)"])
    return pd.DataFrame(rows, columns=cols, dtype=object)


def plan_overview_section(sd: SynthesisData) -> Html:
    """The plan-level figures: share of fiches implemented and engaged, by axe, with a bar chart."""
    total = sd.summary[sd.summary["axe"] == "Ensemble"].iloc[0]
    y = sd.year
    sentence = (f"En {y}, {formatting.format_number(total['mises en œuvre'], 0)} fiches sur "
                f"{formatting.format_number(total['fiches'], 0)} sont mises en œuvre "
                f"({formatting.format_percent(total['part mises en œuvre (%)'], 0)}) et "
                f"{formatting.format_number(total['engagées'], 0)} sont engagées "
                f"({formatting.format_percent(total['part engagées (%)'], 0)} : mises en œuvre, en "
                "cours ou en retard).")
    table = plan_overview(sd)
    due_rows = sd.statuses[sd.statuses["due"]]
    if sd.context.review is None:
        committee = (f"Revue {y} du comité de pilotage non encore enregistrée : les statuts sont "
                     f"les statuts calculés (fiches {NOT_REVIEWED}).")
    else:
        n_seen, n_changed = int(sd.statuses["examinee"].sum()), int(sd.statuses["modifie"].sum())
        committee = (f"Statuts retenus par le comité de pilotage : {n_seen} fiche(s) examinée(s) "
                     f"sur {len(due_rows)} évaluées en {y}, dont {n_changed} dont le comité a "
                     "changé le statut calculé ; les autres gardent leur statut calculé.")
    return Html(
        f"<p><strong>{esc(sentence)}</strong></p>" + paragraph(committee)
        + html_table(table, f"Fiches par statut et par axe en {y}",
                     numeric=[c for c in table.columns if c != "Axe"], row_header="Axe")
        + status_bars_figure(sd.summary, f"en {y}")
    )


def status_bars_figure(summary: pd.DataFrame, when: str) -> Html:
    """The bar chart of fiches by status and axe of a :func:`plancadre_eval.statuses.plan_summary`
    table (its "Ensemble" row left out), with its alt text and caption; ``when`` says the date in
    French ("en 2021", "fin 2022")."""
    from .. import charts

    counts = summary[summary["axe"] != "Ensemble"].copy()
    counts["libelle"] = [f"Axe {a}" for a in counts["axe"]]
    alt = f"Statut des fiches par axe {when} : " + " ; ".join(
        f"{r['libelle']} : " + ", ".join(f"{int(r[s])} {s}" for s in FicheStatus if int(r[s]))
        for _, r in counts.iterrows()) + "."
    return figure(charts.status_bars(counts), alt, f"Nombre de fiches par statut et par axe {when}.")


def fiche_grid(sd: SynthesisData, axe: str) -> pd.DataFrame:
    """The fiches of one axe (strings): ``Fiche`` (a link to its page when due this year),
    ``Titre``, ``Pilote``, ``Statut`` (badge), ``Évaluation {year}``."""
    ref = sd.context.referential
    status = dict(zip(sd.statuses["fiche"], sd.statuses["statut"]))
    computed = {f: c for f, c, m in zip(sd.statuses["fiche"], sd.statuses["statut_calcule"],
                                        sd.statuses["modifie"]) if m}
    rows = []
    for f in ref.fiches:
        if f.axe != axe:
            continue
        due = f.id in sd.due and f.id not in sd.context.excluded
        if f.id in sd.context.excluded:
            rows.append([f.id, f.titre, f.pilote_court, badge(FicheStatus.INSUFFICIENT_DATA),
                         "exclue : fichier de données en erreur"])
            continue
        rows.append([
            link(f"fiche-{f.id}.html", f.id) if due else f.id, f.titre, f.pilote_court,
            Html(badge(status.get(f.id, "données insuffisantes"))
                 + (f" (retenu par le comité ; calculé : {esc(computed[f.id])})"
                    if f.id in computed else "")),
            link(f"fiche-{f.id}.html", f"Évaluation de la fiche {f.id}") if due else
            f"pas d'évaluation prévue en {sd.year} ({f.frequence.libelle.lower()})",
        ])
    return pd.DataFrame(rows, columns=["Fiche", "Titre", "Pilote", "Statut", f"Évaluation {sd.year}"],
                        dtype=object)


def fiche_grid_section(sd: SynthesisData) -> Html:
    """Status of every fiche, one table per axe (``h3``), with links to the fiches' pages."""
    out = []
    for a in sd.context.referential.axes:
        out.append(f"<h3>Axe {esc(a.id)} : {esc(a.titre)}</h3>")
        out.append(html_table(fiche_grid(sd, a.id), f"Statut {sd.year} des fiches de l'axe {a.id}",
                              row_header="Fiche"))
    out.append("<details><summary>Règle de décision du statut d'une fiche</summary>"
               + rule_html(FICHE_STATUS_RULE) + "</details>")
    return Html("".join(out))


def _count_table(values: pd.Series, order: Sequence[str], label: str, caption: str) -> Html:
    counts = values.value_counts()
    rows = [[badge(s), formatting.format_number(int(counts.get(s, 0)), 0)] for s in order]
    rows.append(["Total", formatting.format_number(int(counts.sum()), 0)])
    return html_table(pd.DataFrame(rows, columns=["Statut", label], dtype=object), caption,
                      numeric=(label,), row_header="Statut")


def targets_overview_section(sd: SynthesisData) -> Html:
    """Targets of the plan by status, and the targets behind schedule."""
    t = sd.targets
    if t.empty:
        return Html(paragraph("Le référentiel ne contient aucune cible chiffrée."))
    y = sd.year
    ctx = sd.context
    order = [s for s in TargetStatus if s != TargetStatus.NO_TARGET]
    out = [_count_table(t["statut"], order, "Cibles", f"Cibles chiffrées par statut au 31 décembre {y}")]
    late = t[t["statut"] == "en retard"]
    if late.empty:
        out.append(paragraph("Aucune cible n'est en retard."))
    else:
        rows = []
        for _, r in late.iterrows():
            ind = indicator_or_placeholder(ctx.referential, str(r["indicateur"]))
            rows.append([link(f"fiche-{r['fiche']}.html", r["fiche"]) if r["fiche"] in sd.due else r["fiche"],
                         str(r["cible"]), ctx.name_of(str(r["territoire"])),
                         value_text(r["valeur"], ind), value_text(r["valeur_cible"], ind),
                         date_text(r["echeance"]), formatting.format_percent(r["progression_pct"], 0)])
        table = pd.DataFrame(rows, columns=["Fiche", "Cible", "Territoire", f"Valeur {y}", "Cible visée",
                                            "Échéance", "Progression"], dtype=object)
        out.append(html_table(table, f"Cibles en retard au 31 décembre {y}",
                              numeric=(f"Valeur {y}", "Cible visée", "Progression"), row_header="Fiche"))
    return Html("".join(out))


def milestones_overview_section(sd: SynthesisData) -> Html:
    """Milestones of the plan by status, and the late ones listed."""
    ms = sd.milestones
    if ms.empty:
        return Html(paragraph("Le référentiel ne contient aucun jalon."))
    y = sd.year
    out = [_count_table(ms["statut"], tuple(MilestoneStatus), "Jalons",
                        f"Jalons par statut au 31 décembre {y}")]
    late = ms[ms["statut"] == "en retard"]
    if late.empty:
        out.append(paragraph("Aucun jalon n'est en retard."))
    else:
        rows = [[r["jalon"], link(f"fiche-{r['fiche']}.html", r["fiche"]) if r["fiche"] in sd.due
                 else r["fiche"], r["libelle"], date_text(r["echeance"])] for _, r in late.iterrows()]
        table = pd.DataFrame(rows, columns=["Jalon", "Fiche", "Étape", "Échéance"], dtype=object)
        out.append(html_table(table, f"Jalons en retard au 31 décembre {y}", row_header="Jalon"))
    return Html("".join(out))


def key_figures(sd: SynthesisData) -> pd.DataFrame:
    """Headline indicators (:data:`KEY_INDICATORS` present in the referential), département values
    (strings): ``Indicateur``, ``Fiche``, previous year, year, ``Évolution sur un an``, ``Cible``."""
    ctx, y = sd.context, sd.year
    inds = {i.id: i for i in ctx.referential.indicators()}
    t = sd.table
    rows = []
    for iid in KEY_INDICATORS:
        ind = inds.get(iid)
        if ind is None:
            continue
        r = t[(t["indicateur"] == iid) & (t["territoire"] == ctx.departement)]
        if r.empty:
            continue
        r = r.iloc[0]
        diff = str(r["diffusion"])
        unit = "" if ind.type == "pourcentage" else f" {ind.unite}"
        cible = MISSING
        if not formatting.is_missing(r["cible"]):
            cible = f"{value_text(r['cible'], ind)} ({date_text(r['echeance_cible'])})"
        rows.append([f"{ind.libelle}", link(f"fiche-{ind.fiche}.html", ind.fiche)
                     if ind.fiche in sd.due else ind.fiche,
                     value_text(r["valeur_n_1"], ind, diff) + (unit if not formatting.is_missing(r["valeur_n_1"]) else ""),
                     _with_coverage(value_text(r["valeur"], ind, diff)
                                    + (unit if not formatting.is_missing(r["valeur"]) else ""), r),
                     change_text(r["evolution"], r["evolution_pct"], ind, diff), cible])
    return pd.DataFrame(rows, columns=["Indicateur", "Fiche", str(y - 1), str(y),
                                       "Évolution sur un an", "Cible"], dtype=object)


def _with_coverage(text: str, row: pd.Series) -> str:
    """A key figure followed by ", partiel (2/7 arrondissements)" when it is an incomplete
    aggregate (see :func:`plancadre_eval.indicators.coverage_text`)."""
    partial = coverage_text(str(row.get("couverture", "") or ""),
                            str(row.get("niveau_couverture", "") or ""))
    if partial and text not in (MISSING, formatting.SECRET):
        return f"{text}, {partial}"
    return text


def key_figures_section(sd: SynthesisData) -> Html:
    """The year's key figures (accueils de jour, hébergement, intervenants sociaux, TGD…)."""
    table = key_figures(sd)
    if table.empty:
        return Html(paragraph("Aucun des indicateurs phares n'est présent dans ce référentiel."))
    y = sd.year
    return Html(html_table(table, f"Chiffres clés {y}, Pas-de-Calais",
                           numeric=(str(y - 1), str(y), "Évolution sur un an"),
                           row_header="Indicateur"))


def map_section(sd: SynthesisData) -> Html:
    """Map of the dispositifs by arrondissement (:data:`MAP_INDICATORS`): small multiples."""
    from .. import charts

    ctx, y = sd.context, sd.year
    inds = {i.id: i for i in ctx.referential.indicators()}
    names = arrondissement_names(ctx.territories)
    t = sd.table
    panels, alt_parts, rows = [], [], []
    for iid, title in MAP_INDICATORS:
        ind = inds.get(iid)
        if ind is None or ind.niveau != "arrondissement":
            continue
        part = t[(t["indicateur"] == iid) & (t["territoire"].isin(list(names)))]
        values = {str(c): (float(v) if not formatting.is_missing(v) else None)
                  for c, v in zip(part["territoire"], part["valeur"])}
        panels.append((title, values, ind.unite))
        alt_parts.append(f"{title} ({ind.unite}) : " + ", ".join(
            f"{names[c]} {formatting.format_number(values.get(c), 2) if values.get(c) is not None else 'non déclaré'}"
            for c in sorted(names)))
        rows.append([title] + [formatting.format_number(values.get(c), 2) for c in sorted(names)])
    if not panels:
        return Html(paragraph("Aucun dispositif suivi par arrondissement dans ce référentiel."))
    fig = charts.maps_panel(panels, ctx.territories.boundaries("arrondissement"), names)
    table = pd.DataFrame(rows, columns=["Dispositif"] + [names[c] for c in sorted(names)], dtype=object)
    alt = f"Cartes des arrondissements du Pas-de-Calais en {y} : " + " ; ".join(alt_parts) + "."
    return Html(
        figure(fig, alt, f"Dispositifs par arrondissement en {y} (teinte plus foncée : valeur plus "
                         "élevée, chaque carte ayant sa propre échelle ; hachures : pas de valeur).")
        + html_table(table, f"Dispositifs par arrondissement en {y}",
                     numeric=[names[c] for c in sorted(names)], row_header="Dispositif"))


def completeness_overview(sd: SynthesisData) -> pd.DataFrame:
    """Completeness by pilot for the fiches due (strings), least complete first."""
    comp = sd.completeness
    if comp.empty:
        return pd.DataFrame(columns=["Service pilote", "Fiches", "Attendues", "Déclarées",
                                     "Manquantes", "Taux de réponse"])
    summary = completeness_summary(comp, by=("pilote",))
    fiches = comp.groupby("pilote")["fiche"].agg(lambda s: sorted(set(s), key=fiche_sort_key))
    summary = summary.sort_values(["taux_pct", "pilote"], kind="mergesort")
    return pd.DataFrame({
        "Service pilote": list(summary["pilote"]),
        "Fiches": [", ".join(fiches[p]) for p in summary["pilote"]],
        "Attendues": [formatting.format_number(v, 0) for v in summary["attendues"]],
        "Déclarées": [formatting.format_number(v, 0) for v in summary["declarees"]],
        "Manquantes": [formatting.format_number(v, 0) for v in summary["manquantes"]],
        "Taux de réponse": [formatting.format_percent(v, 0) for v in summary["taux_pct"]],
    }, dtype=object)


def completeness_overview_section(sd: SynthesisData) -> Html:
    table = completeness_overview(sd)
    if table.empty:
        return Html(paragraph(f"Aucune valeur n'est attendue des services pilotes en {sd.year}."))
    comp = sd.completeness
    n, k = len(comp), int(comp["declare"].sum())
    return Html(
        paragraph(f"{formatting.format_number(k, 0)} valeurs déclarées sur {formatting.format_number(n, 0)} "
           f"attendues ({formatting.format_percent(k / n * 100, 0)}) pour les fiches évaluées en "
           f"{sd.year}. Le détail des valeurs manquantes figure dans la page de chaque fiche.")
        + html_table(table, f"Complétude des données par service pilote en {sd.year}",
                     numeric=("Attendues", "Déclarées", "Manquantes", "Taux de réponse"),
                     row_header="Service pilote"))


def synthesis_provenance_section(sd: SynthesisData) -> Html:
    from .. import public_data

    ctx = sd.context
    return provenance_html(ctx, list(ctx.files), referential_rows(ctx.referential),
                       public_data.editions(include_territories=True), "pour l'année")

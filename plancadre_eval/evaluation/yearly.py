"""Year-over-year sections: "Depuis l'année précédente" on a fiche page, "Faits marquants" and
"Points d'attention" at the top of the synthesis.

Every statement comes from :mod:`plancadre_eval.changes` applied to the context's engine tables of
the year and of the year before; fiche statuses come from :meth:`Context.fiche_statuses` and the
pilots' explanations from :func:`pilot_explanations` (the one access to the collection's comments).
"""

from __future__ import annotations


import pandas as pd

from .. import changes, formatting
from ..referential import Fiche
from ..statuses import FicheStatus, MilestoneStatus
from .context import Context
from .committee import gated_comments, pending_text
from .fiche import FicheData
from .html import (
    Html, badge, bullet_list, change_text, date_text, esc, html_table, indicator_or_placeholder, link,
    paragraph, value_text,
)
from .synthesis import SynthesisData

#: Number of indicators listed among the largest changes of the year.
LARGEST_CHANGES = 5


def previous_year(ctx: Context, year: int) -> int | None:
    """The previous evaluated year of the plan (None for the plan's first year)."""
    return year - 1 if year - 1 >= ctx.referential.plan.annee_debut else None


def duration_text(months: int) -> str:
    """"14 mois" ("moins d'un mois" for 0)."""
    if months <= 0:
        return "moins d'un mois"
    return f"{formatting.format_number(months, 0)} mois"


def months_text(months: int) -> str:
    """"en retard de 14 mois" ("en retard de moins d'un mois" for 0)."""
    return f"en retard de {duration_text(months)}"


def pilot_explanations(ctx: Context, fiche: Fiche, year: int) -> list[str]:
    """The pilots' comments of ``year`` for a fiche, as "indicateur (territoire) : commentaire",
    read through :func:`plancadre_eval.evaluation.committee.gated_comments` (the pages' one
    access to comments, behind the comment gate): a comment the committee has not allowed to
    publish is only counted ("N commentaire(s) en attente de relecture …")."""
    table, pending = gated_comments(ctx, fiche, year)
    out = [f"{r['Indicateur']} ({r['Territoire']}) : {r['Commentaire']}" for _, r in table.iterrows()]
    return out + ([pending_text(pending)] if pending else [])


def _fiche_link(fid: str, due: bool) -> str | Html:
    return link(f"fiche-{fid}.html", fid) if due else fid


# --- one fiche -------------------------------------------------------------------------------------

def yearly_section(data: FicheData) -> Html:
    """The fiche's status the previous year beside this year's, milestones newly done or newly late
    since then, targets newly reached, and how late each late milestone is."""
    ctx, f, y = data.context, data.fiche, data.year
    prev = previous_year(ctx, y)
    now = ctx.fiche_statuses(y, [f.id])
    out = []
    late = data.milestones[data.milestones["statut"] == MilestoneStatus.LATE]
    if prev is None:
        out.append(paragraph(f"{y} est la première année du plan : il n'y a pas d'année précédente "
                             "à comparer."))
    else:
        before = ctx.fiche_statuses(prev, [f.id])
        ch = changes.status_changes(before, now).iloc[0]
        verb = "a changé" if ch["change"] else "est inchangé"
        out.append(f"<p>Statut de la fiche : {badge(ch['statut_avant'])} en {prev} → "
                   f"{badge(ch['statut'])} en {y} ({verb}).</p>")
        ms = changes.milestone_changes(ctx.engine.milestones(prev, f.id), data.milestones, y)
        items = []
        for _, r in ms.iterrows():
            what = (f"réalisé depuis {prev}" if r["nature"] == changes.NEWLY_DONE
                    else f"passé en retard en {y} ({months_text(r['mois_retard'])})")
            items.append(f"Jalon {r['jalon']} « {r['libelle']} » (échéance "
                         f"{date_text(r['echeance'])}) : {what}.")
        reached = changes.target_changes(ctx.engine.targets(prev, f.id), data.targets)
        for _, r in reached.iterrows():
            items.append(f"Cible « {r['cible']} » atteinte en {y} ({ctx.name_of(str(r['territoire']))}).")
        if items:
            out.append(bullet_list(items))
        else:
            out.append(paragraph(f"Aucun jalon nouvellement réalisé ou en retard et aucune cible "
                                 f"nouvellement atteinte depuis {prev}."))
    if not late.empty:
        out.append(paragraph("Jalons en retard au 31 décembre " + str(y) + " : " + " ; ".join(
            f"{r['jalon']} (échéance {date_text(r['echeance'])}, "
            f"{months_text(changes.months_late(r['echeance'], y))})" for _, r in late.iterrows()) + "."))
    return Html("".join(out))


# --- synthesis -------------------------------------------------------------------------------------

def highlights_section(sd: SynthesisData) -> Html:
    """"Faits marquants": status changes since the previous year, targets newly reached, milestones
    newly done, the largest changes of the département's indicators; each linked to its fiche
    (when the fiche has a page this year)."""
    ctx, y = sd.context, sd.year
    prev = previous_year(ctx, y)
    if prev is None:
        return Html(paragraph(f"{y} est la première année du plan : les faits marquants se lisent "
                              "à partir de l'année suivante."))
    due = set(sd.due)
    titles = {f.id: f.titre for f in ctx.referential.fiches}
    out = []
    st = changes.status_changes(ctx.fiche_statuses(prev), ctx.fiche_statuses(y))
    moved = st[st["change"]]
    out.append(f"<h3>Changements de statut depuis {prev}</h3>")
    if moved.empty:
        out.append(paragraph(f"Aucune fiche n'a changé de statut depuis {prev}."))
    else:
        out.append(paragraph(f"{formatting.format_number(len(moved), 0)} fiche(s) sur {len(st)} ont "
                             f"changé de statut depuis {prev}."))
        rows = [[_fiche_link(r["fiche"], r["fiche"] in due), titles.get(r["fiche"], ""),
                 badge(r["statut_avant"]), badge(r["statut"])] for _, r in moved.iterrows()]
        out.append(html_table(pd.DataFrame(rows, columns=["Fiche", "Titre", f"Statut {prev}",
                                                          f"Statut {y}"], dtype=object),
                              f"Fiches dont le statut a changé entre {prev} et {y}", row_header="Fiche"))
    out.append(f"<h3>Cibles nouvellement atteintes et jalons réalisés en {y}</h3>")
    items = []
    for _, r in changes.target_changes(ctx.engine.targets(prev), sd.targets).iterrows():
        items.append(Html(f"Fiche {_html(_fiche_link(r['fiche'], r['fiche'] in due))} : cible "
                          f"« {esc(r['cible'])} » atteinte ({esc(ctx.name_of(str(r['territoire'])))})."))
    ms = changes.milestone_changes(ctx.engine.milestones(prev), sd.milestones, y)
    for _, r in ms[ms["nature"] == changes.NEWLY_DONE].iterrows():
        items.append(Html(f"Fiche {_html(_fiche_link(r['fiche'], r['fiche'] in due))} : jalon "
                          f"{esc(r['jalon'])} « {esc(r['libelle'])} » {esc(r['statut'])}."))
    out.append(bullet_list(items) if items else
               paragraph(f"Aucune cible nouvellement atteinte ni aucun jalon réalisé en {y}."))
    out.append(f"<h3>Les plus fortes évolutions sur un an</h3>")
    big = changes.largest_changes(sd.table, ctx.departement, LARGEST_CHANGES)
    if big.empty:
        out.append(paragraph(f"Aucun indicateur départemental n'a de valeur en {prev} et en {y}."))
    else:
        rows = []
        for _, r in big.iterrows():
            ind = indicator_or_placeholder(ctx.referential, str(r["indicateur"]))
            rows.append([f"{r['libelle']} ({r['unite']})" if r["unite"] else r["libelle"],
                         _fiche_link(r["fiche"], r["fiche"] in due),
                         value_text(r["valeur_n_1"], ind), value_text(r["valeur"], ind),
                         change_text(r["evolution"], r["evolution_pct"], ind)])
        out.append(html_table(pd.DataFrame(rows, columns=["Indicateur", "Fiche", str(prev), str(y),
                                                          "Évolution"], dtype=object),
                              f"Les {len(rows)} plus fortes évolutions départementales entre {prev} "
                              f"et {y} (en valeur relative)",
                              numeric=(str(prev), str(y), "Évolution"), row_header="Indicateur"))
    return Html("".join(out))


def attention_section(sd: SynthesisData) -> Html:
    """"Points d'attention": late fiches with the pilots' explanations, late milestones and how
    late, targets due within a year whose progression is behind, fiches whose data are missing or
    partial, by pilot."""
    ctx, y = sd.context, sd.year
    due = set(sd.due)
    ref = ctx.referential
    out = [f"<h3>Fiches en retard en {y}</h3>"]
    statuses = ctx.fiche_statuses(y)
    late = statuses[statuses["statut"] == FicheStatus.LATE]
    if late.empty:
        out.append(paragraph(f"Aucune fiche n'est en retard en {y}."))
    else:
        rows = []
        for _, r in late.iterrows():
            f = ref.fiche(r["fiche"])
            reasons = [m for m in str(r["motifs"]).split(" ; ") if "en retard" in m]
            explained = pilot_explanations(ctx, f, y)
            rows.append([_fiche_link(f.id, f.id in due), f.pilote_court,
                         Html(bullet_list(reasons)) if reasons else "—",
                         Html(bullet_list(explained)) if explained
                         else "aucune explication déclarée dans la collecte"])
        out.append(html_table(pd.DataFrame(rows, columns=["Fiche", "Pilote", "Ce qui est en retard",
                                                          "Explications des pilotes"], dtype=object),
                              f"Fiches en retard en {y} et explications des services pilotes",
                              row_header="Fiche"))
    out.append(f"<h3>Jalons en retard</h3>")
    ms = sd.milestones[sd.milestones["statut"] == MilestoneStatus.LATE]
    if ms.empty:
        out.append(paragraph(f"Aucun jalon n'est en retard au 31 décembre {y}."))
    else:
        ms = ms.assign(_m=[changes.months_late(d, y) for d in ms["echeance"]])
        ms = ms.sort_values("_m", ascending=False, kind="mergesort")
        rows = [[r["jalon"], _fiche_link(r["fiche"], r["fiche"] in due), r["libelle"],
                 date_text(r["echeance"]), duration_text(int(r["_m"]))] for _, r in ms.iterrows()]
        out.append(html_table(pd.DataFrame(rows, columns=["Jalon", "Fiche", "Étape", "Échéance",
                                                          "Retard"], dtype=object),
                              f"Jalons en retard au 31 décembre {y}, du plus ancien au plus récent",
                              row_header="Jalon"))
    out.append(f"<h3>Cibles à échéance d'ici fin {y + 1} dont la progression est insuffisante</h3>")
    behind = changes.targets_due_behind(sd.targets, y)
    if behind.empty:
        out.append(paragraph(f"Aucune cible à échéance en {y + 1} n'est en deçà de sa trajectoire."))
    else:
        rows = []
        for _, r in behind.iterrows():
            ind = indicator_or_placeholder(ctx.referential, str(r["indicateur"] or ""))
            rows.append([_fiche_link(r["fiche"], r["fiche"] in due), r["cible"],
                         date_text(r["echeance"]), value_text(r["valeur"], ind),
                         value_text(r["valeur_cible"], ind),
                         formatting.format_percent(r["progression_pct"], 0),
                         formatting.format_percent(r["progression_attendue_pct"], 0)])
        out.append(html_table(pd.DataFrame(rows, columns=["Fiche", "Cible", "Échéance", f"Valeur {y}",
                                                          "Cible visée", "Progression",
                                                          "Progression attendue"], dtype=object),
                              f"Cibles à échéance d'ici le 31 décembre {y + 1} en deçà de leur trajectoire",
                              numeric=(f"Valeur {y}", "Cible visée", "Progression",
                                       "Progression attendue"), row_header="Fiche"))
    out.append(f"<h3>Données manquantes ou partielles, par service pilote</h3>")
    partial = changes.partial_data(sd.completeness)
    if partial.empty:
        out.append(paragraph(f"Toutes les valeurs attendues des fiches évaluées en {y} ont été déclarées."))
    else:
        rows = [[r["pilote"], _fiche_link(r["fiche"], r["fiche"] in due),
                 f"{formatting.format_number(r['declarees'], 0)} sur {formatting.format_number(r['attendues'], 0)}",
                 formatting.format_number(r["manquantes"], 0), formatting.format_percent(r["taux_pct"], 0)]
                for _, r in partial.iterrows()]
        out.append(html_table(pd.DataFrame(rows, columns=["Service pilote", "Fiche", "Valeurs déclarées",
                                                          "Manquantes", "Taux de réponse"], dtype=object),
                              f"Fiches évaluées en {y} dont des données manquent",
                              numeric=("Manquantes", "Taux de réponse"), row_header="Service pilote"))
    return Html("".join(out))


def _html(x) -> str:
    return str(x) if isinstance(x, Html) else esc(x)

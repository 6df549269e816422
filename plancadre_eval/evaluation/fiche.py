"""The page of one fiche and one year: ``notebooks/evaluation_fiche.ipynb``.

:func:`fiche_data` computes every table once (indicators, values over the years, targets,
milestones, completeness, status, discrepancies) from the context's engine, then one function per
section returns the HTML fragment of that section (:func:`fiche_header`, :func:`status_section`,
:func:`indicators_section`, …). Every number shown is **after statistical secrecy**: masked values
arrive empty with ``diffusion == "secret"`` and are written "secret".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import pandas as pd

from .. import formatting, indicators, schedule, statuses
from ..engine import completeness_summary
from ..referential import (
    READING_LABELS, UNDATED_TEXT, Fiche, Indicator, origin_label,
)
from .committee import (  # noqa: F401 (sections of the page, called by the notebook)
    comments_section, committee_section, fiche_comments, followup_section, status_lines,
)
from ..notebook_figures import alt_text  # noqa: F401 (notebooks: evaluation.alt_text(fig, "…"))
from .context import Context, load_context  # noqa: F401 (the notebook calls load_context)
from .fiche_charts import (  # noqa: F401 (the notebook calls the chart sections from here)
    _years_text, charts_section, indicator_figure, indicator_figures, territories_section,
    territory_breakdown, territory_figures,
)
from .html import (
    Html, STYLE, Span, badge, bullet_list, change_text, date_text, demo_notice,
    esc, figure, html_table, link, paragraph, plural, provenance_html, referential_rows,
    partial_value_text, rule_html, value_text,
)

QUALITATIVE_TEXT = "indicateur qualitatif : voir commentaires"
TO_BE_DEFINED_TEXT = "indicateur à déterminer par le comité"
DATE_TEXT = "indicateur de date"
MISSING = formatting.MISSING
SECRET = formatting.SECRET

NATURE_LABELS = {"a_poursuivre": "action à poursuivre", "nouvelle": "nouvelle action"}
TYPE_LABELS = {
    "comptage": "comptage", "pourcentage": "pourcentage", "taux": "taux", "duree": "durée moyenne",
    "jalon": "jalon", "date": "date", "qualitatif": "qualitatif", "a_determiner": "à déterminer",
}
COMPONENT_LABELS = {
    "valeur": "valeur", "numerateur": "numérateur", "denominateur": "dénominateur",
    "personnes": "effectif de personnes", "jalon": "réponse au jalon (oui, non ou date)",
}
ORIGIN_NOTES = {
    indicators.ORIGIN_SUM: "valeur départementale = somme des valeurs des territoires",
    indicators.ORIGIN_RATIO: "pourcentage départemental = somme des numérateurs / somme des "
                             "dénominateurs des territoires × 100 (jamais une moyenne de pourcentages)",
    indicators.ORIGIN_WEIGHTED: "durée départementale = moyenne des territoires pondérée par leurs "
                                "effectifs de personnes",
    indicators.ORIGIN_RATE: "taux calculé : numérateur / population légale × base",
    indicators.ORIGIN_PUBLIC: "valeur de la statistique publique (voir la section correspondante)",
    indicators.ORIGIN_NOT_EVALUABLE: "valeur départementale non évaluable (parties incomplètes ou "
                                     "pourcentages déclarés sans numérateur ni dénominateur)",
    indicators.ORIGIN_MISSING: "aucune valeur déclarée",
}


# --- one fiche: data ------------------------------------------------------------------------------

@dataclass
class FicheData:
    """Every table of one fiche's evaluation, computed once (statistical secrecy applied).

    ``table``: :meth:`Engine.table <plancadre_eval.engine.Engine.table>` of the year for the fiche;
    ``values``: :meth:`~plancadre_eval.engine.Engine.values` (reference year to year, all
    territories); ``targets``,
    ``milestones``, ``completeness``, ``discrepancies``: the engine's tables for the fiche;
    ``status``/``reasons``: :meth:`~plancadre_eval.engine.Engine.status`; ``due``: whether the frequency of the
    fiche plans an evaluation this year.
    """

    context: Context
    fiche: Fiche
    table: pd.DataFrame
    values: pd.DataFrame
    targets: pd.DataFrame
    milestones: pd.DataFrame
    completeness: pd.DataFrame
    discrepancies: pd.DataFrame
    status: str
    reasons: list[str]
    due: bool
    due_years: list[int] = field(default_factory=list)

    @property
    def year(self) -> int:
        return self.context.year

    def row(self, indicator_id: str, territory: str | None = None) -> pd.Series | None:
        """The indicator table row of an indicator for a territory (default: the département, else
        the first row of the indicator)."""
        first_of_pair, first_of_indicator = self.indexed("_rows", self.table, _first_rows)
        code = territory or self.context.departement
        position = first_of_pair.get((indicator_id, code))
        if position is None and not territory:
            position = first_of_indicator.get(indicator_id)
        return None if position is None else self.table.iloc[position]

    def indexed(self, name: str, frame: pd.DataFrame, build):
        """``build(frame)``, kept under ``name`` while ``frame`` is the same object: pages look
        rows up a few hundred times; a table replaced by an analyst gets a new index."""
        kept = self.__dict__.get(name)
        if kept is None or kept[0] is not frame:
            kept = self.__dict__[name] = (frame, build(frame))
        return kept[1]


def _first_rows(table: pd.DataFrame) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """Positions of the first row of each (indicator, territory) and of each indicator."""
    pairs: dict[tuple[str, str], int] = {}
    firsts: dict[str, int] = {}
    for i, (ind, code) in enumerate(zip(table["indicateur"], table["territoire"])):
        pairs.setdefault((ind, code), i)
        firsts.setdefault(ind, i)
    return pairs, firsts


def _coverages(values: pd.DataFrame) -> dict[tuple, tuple]:
    """(indicator, year, territory) -> (couverture, niveau_couverture) of its first row."""
    found: dict[tuple, tuple] = {}
    for entry in zip(values["indicateur"], values["annee"], values["territoire"],
                     values["couverture"], values["niveau_couverture"]):
        found.setdefault(entry[:3], entry[3:])
    return found


def fiche_data(ctx: Context, fiche_id: str) -> FicheData:
    """Compute the tables of one fiche's evaluation for ``ctx.year`` (see :class:`FicheData`)."""
    ref, year = ctx.referential, ctx.year
    try:
        fiche = ref.fiche(str(fiche_id))
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    engine = ctx.engine
    table = engine.table(year, [fiche.id])
    values = engine.values(year, fiche.id)
    targets = engine.targets(year, fiche.id)
    milestones = engine.milestones(year, fiche.id)
    comp = engine.completeness(year, fiche.id)
    disc = engine.discrepancies(year, fiche.id)
    status, reasons = engine.status(year, fiche.id)
    years = schedule.due_years(fiche, ref.plan)
    return FicheData(context=ctx, fiche=fiche, table=table, values=values, targets=targets,
                     milestones=milestones, completeness=comp, discrepancies=disc, status=status,
                     reasons=list(reasons), due=year in years, due_years=list(years))


# --- one fiche: sections ---------------------------------------------------------------------------

# --- what the plan says and what the evaluators added (issue 15) ------------------------------

#: Said next to the evaluation frequency when the plan asks for half-yearly values.
HALF_YEARLY_NOTE = (
    "le plan demande aussi un point tous les six mois pendant l'expérimentation ; le format de "
    "collecte étant annuel (une valeur par indicateur, territoire et année), les valeurs "
    "semestrielles ne sont pas collectées ni évaluées ici : les pilotes peuvent les donner en "
    "commentaire")


def _notes_html(label: str, notes: Sequence[str]) -> Html:
    """``label`` followed by each note on its own line (class ``origine-plan``)."""
    return Html(esc(label) + "".join(f'<span class="origine-plan">{esc(n)}</span>' for n in notes
                                     if n))


def indicator_notes(ind: Indicator, public: dict[str, pd.DataFrame] | None = None) -> list[str]:
    """What a reader must know about an indicator's wording, shown under its label: its origin
    when the plan did not adopt it as such ("indicateur ajouté pour l'évaluation") and, for a public
    series, what the series measures ("mesuré par : …")."""
    notes = [origin_label("indicateur", ind.origine)]
    serie = (public or {}).get(ind.serie or "") if ind.source == "public" else None
    if serie is not None and serie.attrs.get("mesure"):
        notes.append(f"mesuré par : {serie.attrs['mesure']}")
    return [n for n in notes if n]


def target_notes(fiche: Fiche, label: str) -> list[str]:
    """Origin and reading of the fiche's target named ``label`` ("cible déduite du plan",
    "fourchette du plan ramenée à une valeur")."""
    for t in fiche.cibles:
        if t.libelle == label:
            return [n for n in (origin_label("cible", t.origine), READING_LABELS.get(t.lecture, ""))
                    if n]
    return []


def milestone_notes(fiche: Fiche, milestone_id: str) -> list[str]:
    """Origin of the fiche's milestone ``milestone_id`` ("jalon déduit du plan"), if not the plan."""
    for m in fiche.jalons:
        if m.id == milestone_id:
            return [n for n in (origin_label("jalon", m.origine),) if n]
    return []


def baseline_notes(fiche: Fiche, indicator_id: str, territory: str, year: Any) -> list[str]:
    """Date and reading notes of the baseline used as reference for ``indicator_id`` in
    ``territory`` (its ``year``): "date non précisée dans le plan", "plancher du plan … lu comme
    valeur exacte"; nothing when the reference is not a baseline of the plan."""
    for b in fiche.etat_des_lieux:
        if (b.indicateur == indicator_id and b.territoire == territory
                and not formatting.is_missing(year) and b.date.year == int(year)):
            return [n for n in (UNDATED_TEXT if not b.date_precisee else "",
                                READING_LABELS.get(b.lecture, "")) if n]
    return []


def fiche_header(data: FicheData) -> Html:
    """The page's ``h1`` (fiche and year), the demonstration notice and the fiche's identity: axe,
    objective, pilot, partners, territory, evaluation frequency, deadlines, means, related fiches."""
    f, ctx = data.fiche, data.context
    ref = ctx.referential
    try:
        axis = ref.axis(f.axe)
        axis_text = f"Axe {axis.id} : {axis.titre}"
    except KeyError:
        axis_text = f"Axe {f.axe}"
    due_note = ("" if data.due else
                f" — pas d'évaluation prévue en {data.year} par cette fréquence ; page produite à la demande")
    items = [
        ("Axe", esc(axis_text)),
        ("Objectif", esc(f.objectif)),
        ("Nature", esc(NATURE_LABELS.get(f.nature, f.nature))),
        ("Pilote" + ("s" if len(f.pilotes) > 1 else ""),
         esc(" ; ".join(f.pilotes)) + f" (<abbr>{esc(f.pilote_court)}</abbr>)"),
        ("Partenaires", esc(" ; ".join(f.partenaires)) if f.partenaires else MISSING),
        ("Territoire", esc(f.territoire)),
        ("Fréquence d'évaluation",
         esc(f"{f.frequence.libelle} (évaluée en {_years_text(data.due_years)}){due_note}"
             + (f" — {HALF_YEARLY_NOTE}" if f.frequence.code == "semestrielle" else ""))),
    ]
    if f.delais:
        items.append(("Délais de mise en œuvre", esc(f.delais)))
    if f.moyens:
        items.append(("Moyens", esc(f.moyens)))
    if f.liens:
        due = set(schedule.due_fiches(ref, data.year))
        links = [link(f"fiche-{x}.html", f"fiche {x}") if x in due else esc(f"fiche {x}")
                 for x in f.liens]
        items.append(("Fiches liées", ", ".join(links)))
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items)
    return Html(
        STYLE
        + f'<p class="surtitre">{esc(ref.plan.titre)}</p>'
        + f"<h1>Fiche {esc(f.id)} — {esc(f.titre)}</h1>"
        + f'<p class="sous-titre">Évaluation {data.year}</p>'
        + demo_notice(ctx.data_dir)
        + f'<dl class="identite">{dl}</dl>'
    )


def status_section(data: FicheData) -> Html:
    """The fiche's status for the year as a large badge (retained by the committee when examined,
    :func:`.committee.status_lines`), the reasons of the computed status, and the decision rule
    (:data:`statuses.FICHE_STATUS_RULE`) in a ``<details>``."""
    return Html(
        status_lines(data)
        + "<p>Ce qui fonde le statut calculé :</p>" + bullet_list(data.reasons)
        + "<details><summary>Règle de décision du statut d'une fiche</summary>"
        + rule_html(statuses.FICHE_STATUS_RULE) + "</details>"
    )


def _not_quantified_text(ind: Indicator) -> str | None:
    if ind.type == "qualitatif":
        return QUALITATIVE_TEXT
    if ind.type == "a_determiner":
        return TO_BE_DEFINED_TEXT
    return None


def _milestone_of(data: FicheData, ind: Indicator) -> pd.Series | None:
    if not ind.jalon:
        return None
    ms = data.milestones[data.milestones["jalon"] == ind.jalon]
    if not ms.empty:
        return ms.iloc[0]
    others = data.context.engine.milestones(data.year)
    ms = others[others["jalon"] == ind.jalon]
    return None if ms.empty else ms.iloc[0]


def indicator_overview(data: FicheData) -> pd.DataFrame:
    """One row per indicator of the fiche, as shown in the page's indicator table (strings).

    Columns: ``N°``, ``Indicateur``, ``Unité``, ``Référence``, the previous year, the year,
    ``Évolution sur un an``, ``Cible``, ``Progression vers la cible``, ``Statut``. Values are the
    département's (the indicator's first territory when it has no département row). Qualitative and
    "à déterminer" indicators read :data:`QUALITATIVE_TEXT` / :data:`TO_BE_DEFINED_TEXT` across the
    value columns (a :class:`Span`), never a zero; jalon-type indicators give the milestone's
    realisation and status.
    """
    y = data.year
    cols = ["N°", "Indicateur", "Unité", "Référence", str(y - 1), str(y), "Évolution sur un an",
            "Cible", "Progression vers la cible", "Statut"]
    rows = []
    for ind in data.fiche.indicateurs:
        r = data.row(ind.id)
        notes = indicator_notes(ind, data.context.public)
        base = [ind.id, _notes_html(ind.libelle, notes) if notes else ind.libelle]
        text = _not_quantified_text(ind)
        if text is not None:
            rows.append(base + [Span(text, 7)] + [None] * 6 + [MISSING])
            continue
        if ind.type == "jalon":
            ms = _milestone_of(data, ind)
            if ms is None:
                rows.append(base + [Span("jalon non trouvé dans le référentiel", 7)] + [None] * 6
                            + [MISSING])
                continue
            done = ms["realisation"]
            done_text = (f"réalisé le {date_text(done)}" if not formatting.is_missing(done)
                         else "non réalisé")
            rows.append(base + ["jalon", MISSING, MISSING, done_text, MISSING,
                                f"échéance : {date_text(ms['echeance'])}", MISSING,
                                badge(str(ms["statut"]))])
            continue
        if ind.type == "date":
            texte = "" if r is None else str(r.get("texte", "") or "")
            shown = date_text(texte) if texte else MISSING
            rows.append(base + ["date", MISSING, MISSING, shown, MISSING, MISSING, MISSING, MISSING])
            continue
        if r is None:
            rows.append(base + [ind.unite or MISSING] + [MISSING] * 6 + [badge("non évaluable")])
            continue
        diff = str(r["diffusion"])
        ref_text = value_text(r["reference"], ind, diff)
        if ref_text not in (MISSING, SECRET) and not formatting.is_missing(r["annee_reference"]):
            ref_notes = baseline_notes(data.fiche, ind.id, str(r["territoire"]), r["annee_reference"])
            ref_text += f" ({', '.join([str(int(r['annee_reference']))] + ref_notes)})"
        cible = MISSING
        if not formatting.is_missing(r["cible"]):
            cible = Html(esc(value_text(r["cible"], ind)) + "<br>échéance : "
                         + esc(date_text(r["echeance_cible"])))
        progress = (SECRET if diff == "secret" else formatting.format_percent(r["progression_pct"], 0))
        unit = "%" if ind.type == "pourcentage" else (ind.unite or MISSING)
        prev = _coverage_of(data, ind, y - 1, str(r["territoire"]))
        rows.append(base + [unit, ref_text, partial_value_text(r["valeur_n_1"], ind, diff, *prev),
                            partial_value_text(r["valeur"], ind, diff, r["couverture"],
                                               r["niveau_couverture"]),
                            change_text(r["evolution"], r["evolution_pct"], ind, diff),
                            cible, progress, badge(str(r["statut"]))])
    return pd.DataFrame(rows, columns=cols, dtype=object)


def _coverage_of(data: FicheData, ind: Indicator, year: int, territory: str) -> tuple[str, str]:
    """(couverture, niveau_couverture) of an indicator's value for a year and territory."""
    hit = data.indexed("_coverages", data.values, _coverages).get((ind.id, year, territory))
    if hit is None:
        return "", ""
    return str(hit[0] or ""), str(hit[1] or "")


def indicators_section(data: FicheData, table: pd.DataFrame | None = None) -> Html:
    """The table of the fiche's indicators for the year (département values, reference, previous
    year, change, target, progress, status), with how each value was obtained in a ``<details>``.

    ``table`` (default :func:`indicator_overview`) is the table shown: drop or rename columns,
    filter rows or add a column between the two calls."""
    y, ctx = data.year, data.context
    table = indicator_overview(data) if table is None else table
    numeric = ("Référence", str(y - 1), str(y), "Évolution sur un an", "Progression vers la cible")
    out = [html_table(table, f"Indicateurs de la fiche {data.fiche.id} en {y}, "
                             f"{ctx.name_of(ctx.departement)}",
                      numeric=[c for c in numeric if c in table.columns],
                      row_header="N°" if "N°" in table.columns else None)]
    notes = []
    for ind in data.fiche.indicateurs:
        r = data.row(ind.id)
        if r is None or not ind.quantitative:
            continue
        origin = str(r.get("origine", "") or "")
        note = ORIGIN_NOTES.get(origin)
        if note and origin != indicators.ORIGIN_REPORTED:
            notes.append(f"{ind.id} ({y}) : {note}.")
        if str(r.get("origine_reference", "") or ""):
            notes.append(f"{ind.id} : référence = {r['origine_reference']}.")
    out.append(paragraph("Référence : valeur de l'état des lieux du plan (ou, à défaut, valeur déclarée pour "
                  f"{ctx.referential.plan.annee_reference}) ; progression : part du chemin parcouru "
                  "de la référence à la cible ; « — » : valeur absente ; « secret » : valeur masquée "
                  "(secret statistique)."))
    if any(str(c or "") and indicators.coverage_text(str(c), str(n or ""))
           for c, n in zip(data.table["couverture"], data.table["niveau_couverture"])):
        out.append(paragraph("« partiel (déclarés/attendus) » : valeur calculée sur les seuls "
                             "territoires déclarés ; elle n'est comparée ni à l'année précédente ni "
                             "à la cible (statut « non évaluable »)."))
    if notes:
        out.append("<details><summary>Mode de calcul des valeurs</summary>" + bullet_list(notes)
                   + "</details>")
    return Html("".join(out))


def target_overview(data: FicheData) -> pd.DataFrame:
    """One row per quantified target of the fiche (strings): ``Cible``, ``Indicateur``,
    ``Territoire``, ``Référence``, the year's value, ``Cible et échéance``, ``Progression``,
    ``Progression attendue``, ``Statut``."""
    y, ctx = data.year, data.context
    inds = {i.id: i for i in ctx.referential.indicators()}
    rows = []
    for _, t in data.targets.iterrows():
        ind = inds.get(str(t["indicateur"]))
        dummy = ind or Indicator(id="", fiche="", libelle="", type="comptage", unite=str(t["unite"]))
        ref_text = value_text(t["reference"], dummy)
        if ref_text != MISSING and not formatting.is_missing(t["date_reference"]):
            ref_notes = baseline_notes(data.fiche, str(t["indicateur"]), str(t["territoire"]),
                                       pd.Timestamp(t["date_reference"]).year)
            ref_text += (f" ({pd.Timestamp(t['date_reference']).year}, {', '.join(ref_notes)})"
                         if UNDATED_TEXT in ref_notes else
                         f" ({', '.join([date_text(t['date_reference'])] + ref_notes)})")
        notes = target_notes(data.fiche, str(t["cible"]))
        rows.append([
            _notes_html(str(t["cible"]), notes) if notes else str(t["cible"]),
            str(t["indicateur"] or MISSING), ctx.name_of(str(t["territoire"])),
            ref_text, value_text(t["valeur"], dummy),
            Html(esc(value_text(t["valeur_cible"], dummy, with_unit=dummy.type != "pourcentage"))
                 + "<br>échéance : " + esc(date_text(t["echeance"]))),
            formatting.format_percent(t["progression_pct"], 0),
            formatting.format_percent(t["progression_attendue_pct"], 0),
            badge(str(t["statut"])),
        ])
    return pd.DataFrame(rows, columns=["Cible", "Indicateur", "Territoire", "Référence", f"Valeur {y}",
                                       "Cible et échéance", "Progression", "Progression attendue",
                                       "Statut"], dtype=object)


def targets_section(data: FicheData, table: pd.DataFrame | None = None) -> Html:
    """The fiche's quantified targets: progress from the reference and the status, with why.
    ``table`` (default :func:`target_overview`) is the table shown."""
    if data.targets.empty:
        return Html(paragraph("Le plan ne fixe pas de cible chiffrée à cette fiche."))
    table = target_overview(data) if table is None else table
    reasons = [f"« {c} » : {m}" for c, m in zip(data.targets["cible"], data.targets["motif"]) if m]
    return Html(
        html_table(table, f"Cibles de la fiche {data.fiche.id} au 31 décembre {data.year}",
                   numeric=[c for c in ("Référence", f"Valeur {data.year}", "Progression",
                                        "Progression attendue") if c in table.columns],
                   row_header="Cible" if "Cible" in table.columns else None)
        + paragraph("Progression : part du chemin parcouru de la référence à la cible ; progression "
             "attendue : part du temps écoulé entre la date de référence et l'échéance au 31 "
             f"décembre {data.year} (trajectoire linéaire).")
        + ("<p>Motifs :</p>" + bullet_list(reasons) if reasons else ""))


def milestones_section(data: FicheData) -> Html:
    """The fiche's milestones: table (deadline, realisation, status) and a dated timeline."""
    from .. import charts

    ms = data.milestones
    if ms.empty:
        return Html(paragraph("Cette fiche n'a pas de jalon daté."))
    table = pd.DataFrame({
        "Jalon": list(ms["jalon"]),
        "Étape": [_notes_html(str(lab), milestone_notes(data.fiche, str(j)))
                  if milestone_notes(data.fiche, str(j)) else lab
                  for j, lab in zip(ms["jalon"], ms["libelle"])],
        "Échéance": [date_text(d) for d in ms["echeance"]],
        "Réalisation": [date_text(d) if not formatting.is_missing(d) else "non déclarée"
                        for d in ms["realisation"]],
        "Statut": [badge(str(s)) for s in ms["statut"]],
    }, dtype=object)
    fig = charts.milestone_timeline(ms, data.year)
    parts = []
    for _, m in ms.iterrows():
        done = (f"réalisé le {date_text(m['realisation'])}"
                if not formatting.is_missing(m["realisation"]) else "non réalisé")
        parts.append(f"{m['jalon']} : échéance {date_text(m['echeance'])}, {done} ({m['statut']})")
    alt = (f"Frise des {len(ms)} jalons de la fiche {data.fiche.id} au 31 décembre {data.year} : "
           + " ; ".join(parts) + ".")
    return Html(
        html_table(table, f"Jalons de la fiche {data.fiche.id} au 31 décembre {data.year}",
                   row_header="Jalon")
        + figure(fig, alt, "Trait noir : échéance ; symbole : réalisation (forme et couleur selon le "
                           "statut) ; un jalon en retard non réalisé est placé à la date de "
                           "l'évaluation.")
    )


def public_section(data: FicheData) -> Html:
    """For indicators taken from public statistics: the source sentence (dataset, edition, index
    numbers), the approximation warning and the published values by territory and year."""
    ctx, y = data.context, data.year
    inds = [i for i in data.fiche.indicateurs if i.source == "public"]
    if not inds:
        return Html(paragraph("Cette fiche n'utilise pas de statistique publique : ses indicateurs chiffrés "
                       "sont déclarés par les services pilotes."))
    first = ctx.referential.plan.annee_reference
    out = []
    for ind in inds:
        out.append(f"<h3>{esc(ind.id)} — {esc(ind.libelle)}</h3>")
        serie = ctx.public.get(ind.serie or "")
        if serie is None:
            out.append(paragraph(f"Série publique « {ind.serie} » non disponible."))
            continue
        attrs = serie.attrs
        out.append('<div class="note-source" role="note">'
                   f"<p><strong>Source</strong> : {esc(attrs.get('source', ''))}</p>"
                   f"<p><strong>Approximation</strong> : {esc(attrs.get('approximation', ''))}</p></div>")
        sel = serie[(serie["annee"] >= first) & (serie["annee"] <= y)]
        if sel.empty:
            out.append(paragraph(f"Aucune valeur publiée de {first} à {y}."))
            continue
        years = sorted({int(a) for a in sel["annee"]})
        codes = sorted(set(sel["territoire"]), key=lambda c: (c != ctx.departement, c))
        rows = []
        for code in codes:
            part = sel[sel["territoire"] == code]
            by = dict(zip(part["annee"].astype(int), part["valeur"]))
            rows.append([ctx.name_of(code)] + [formatting.format_number(by.get(a), 0) for a in years])
        table = pd.DataFrame(rows, columns=["Territoire"] + [str(a) for a in years], dtype=object)
        unit = attrs.get("unite") or ind.unite
        out.append(html_table(table, f"{ind.id} : {unit} publiés, {years[0]}-{years[-1]}",
                              numeric=[str(a) for a in years], row_header="Territoire"))
        if max(years) < y:
            out.append(paragraph(f"La série publiée s'arrête en {max(years)} : pas de valeur pour "
                          f"{_years_text(list(range(max(years) + 1, y + 1)))}."))
    return Html("".join(out))


def missing_values(data: FicheData) -> pd.DataFrame:
    """Expected values of the year that were not reported (strings): ``Indicateur``, ``Libellé``,
    ``Élément manquant``, ``Territoire``, ``Service pilote``."""
    comp = data.completeness
    miss = comp[~comp["declare"].astype(bool)]
    ctx = data.context
    return pd.DataFrame({
        "Indicateur": list(miss["indicateur"]), "Libellé": list(miss["libelle"]),
        "Élément manquant": [COMPONENT_LABELS.get(c, c) for c in miss["composante"]],
        "Territoire": [ctx.name_of(t) for t in miss["territoire"]],
        "Service pilote": list(miss["pilote"]),
    }, dtype=object)


def completeness_section(data: FicheData) -> Html:
    """What data was expected for the year, what is missing and from whom; discrepancies found."""
    comp, f, y = data.completeness, data.fiche, data.year
    out = []
    if comp.empty:
        out.append(paragraph(f"Aucune valeur n'est attendue des services pilotes pour {y} (indicateurs "
                      "issus de la statistique publique, à déterminer, ou jalons non échus)."))
    else:
        summary = completeness_summary(comp, by=("pilote",))
        expected, declared = int(summary["attendues"].sum()), int(summary["declarees"].sum())
        out.append(paragraph(f"{plural(declared, 'valeur déclarée', 'valeurs déclarées')} sur "
                      f"{formatting.format_number(expected, 0)} attendues pour {y} "
                      f"({formatting.format_percent(declared / expected * 100, 0)}), "
                      f"à fournir par : {' ; '.join(f.pilotes)} ({f.pilote_court})."))
        table = pd.DataFrame({
            "Service pilote": list(summary["pilote"]),
            "Attendues": [formatting.format_number(v, 0) for v in summary["attendues"]],
            "Déclarées": [formatting.format_number(v, 0) for v in summary["declarees"]],
            "Manquantes": [formatting.format_number(v, 0) for v in summary["manquantes"]],
            "Taux de réponse": [formatting.format_percent(v, 0) for v in summary["taux_pct"]],
        }, dtype=object)
        out.append(html_table(table, f"Complétude des données de la fiche {f.id} en {y}",
                              numeric=("Attendues", "Déclarées", "Manquantes", "Taux de réponse"),
                              row_header="Service pilote"))
        missing = missing_values(data)
        if missing.empty:
            out.append(paragraph("Toutes les valeurs attendues ont été déclarées."))
        else:
            tab = html_table(missing, f"Valeurs attendues et non déclarées pour {y}",
                             row_header="Indicateur")
            if len(missing) > 12:
                out.append(f"<details><summary>Voir les {len(missing)} valeurs manquantes</summary>"
                           f"{tab}</details>")
            else:
                out.append(tab)
    not_collected = [i for i in f.indicateurs if not i.collected]
    if not_collected:
        out.append(paragraph("Ne sont pas demandés aux pilotes : " + " ; ".join(
            f"{i.id} ({'statistique publique' if i.source == 'public' else 'calculé' if i.type == 'taux' else 'à déterminer'})"
            for i in not_collected) + "."))
    if not data.discrepancies.empty:
        out.append("<h3>Incohérences relevées dans les données</h3>")
        out.append(paragraph("Quand un total départemental déclaré diffère de la somme de ses parties, le "
                      "total déclaré est retenu ; l'écart est signalé ici pour vérification."))
        out.append(bullet_list(list(data.discrepancies["message"])))
    return Html("".join(out))


def fiche_files(data: FicheData) -> list[tuple[str, str]]:
    """``(path, sha256)`` of the collection files holding rows of the fiche (only those)."""
    names = set(data.context.fiche_observations(data.fiche)["fichier"])
    return [(path, digest) for path, digest, rel_name, name in data.context.file_names
            if rel_name in names or name in names]


def provenance_section(data: FicheData) -> Html:
    """Sources of the page: the collection files of the fiche with their SHA-256, the library
    version, the referential files, the public data editions (fiches with public indicators; the
    INSEE files when a rate uses legal populations)."""
    from .. import public_data

    f, ctx = data.fiche, data.context
    uses_public = any(i.source == "public" for i in f.indicateurs)
    uses_population = any(i.type == "taux" for i in f.indicateurs)
    editions = []
    if uses_public or uses_population:
        all_ed = public_data.editions(include_territories=uses_population)
        editions = [e for e in all_ed if uses_public or not e["fichier"].startswith("data/public/")]
    return provenance_html(ctx, fiche_files(data), referential_rows(ctx.referential, f), editions,
                       f"pour la fiche {f.id}")

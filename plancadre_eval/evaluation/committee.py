"""What the steering committee decided, on a fiche's page: the retained status, the committee's
opinion and decisions, the follow-up of last year's decisions, and the pilots' comments once
reviewed (:mod:`plancadre_eval.review`: the record and the comment gate).

Every pilot text shown here goes through :func:`~plancadre_eval.review.gate_comments`: a text of
year ``Y`` appears only when the record of ``Y`` says ``publier_commentaires: oui`` for the fiche;
otherwise the page says how many texts wait for the committee's review, never what they say.
The functions take a :class:`~plancadre_eval.evaluation.fiche.FicheData` (``data``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pandas as pd

from ..referential import fiche_sort_key
from ..review import (
    NOT_REVIEWED, PLACEHOLDERS, QUALITATIVE_TYPES, ReviewEntry, comments_published, entry_status,
    gate_comments, read_followups,
)
from .html import Html, badge, esc, html_table, paragraph, plural

if TYPE_CHECKING:
    from ..referential import Fiche
    from .context import Context
    from .fiche import FicheData


def review_entry(data: "FicheData") -> ReviewEntry | None:
    """The committee's record of the fiche for the evaluated year (None: not examined)."""
    review = data.context.review
    entry = review.entry(data.fiche.id) if review else None
    return entry if entry is not None and entry.examined else None


def shown_status(data: "FicheData") -> str:
    """The fiche's status as published: retained by the committee, else computed."""
    return entry_status(review_entry(data), data.status)


def status_lines(data: "FicheData") -> Html:
    """The status paragraph of the page: the retained status as a large badge and, when the
    committee changed it, "statut calculé : …, retenu par le comité : …, motif : …"; without a
    record, that the fiche is not yet examined."""
    entry, f, y = review_entry(data), data.fiche, data.year
    head = (f"<p>Statut de la fiche {esc(f.id)} en {y} : "
            f"{badge(shown_status(data), large=True)}</p>")
    if entry is None:
        return Html(head + paragraph(f"Statut calculé, {NOT_REVIEWED}."))
    if str(entry.retained) == str(data.status):
        return Html(head + paragraph("Statut calculé, confirmé par le comité de pilotage."))
    motif = entry.justification or "non précisé"
    return Html(head + f'<p class="statut-comite">Statut calculé : {badge(data.status)}, retenu par '
                f"le comité : {badge(str(entry.retained))}, motif : {esc(motif)}</p>")


def decisions_table(decisions, caption: str) -> Html:
    table = pd.DataFrame([[d.action, d.owner, d.due.strftime("%d/%m/%Y")] for d in decisions],
                         columns=["Décision", "Responsable", "Échéance"], dtype=object)
    return html_table(table, caption, row_header="Décision")


def committee_section(data: "FicheData") -> Html:
    """The committee's opinion and decisions on the fiche for the year, or
    "non encore examinée par le comité"."""
    entry, f, y = review_entry(data), data.fiche, data.year
    if entry is None:
        return Html(paragraph(f"Fiche {f.id} {NOT_REVIEWED} pour {y}."))
    out = [f"<p><strong>Avis du comité</strong> : {esc(entry.opinion or 'aucun avis consigné.')}</p>"]
    if entry.decisions:
        out.append(decisions_table(entry.decisions, f"Décisions du comité pour la fiche {f.id} "
                                                    f"(revue {y})"))
    else:
        out.append(paragraph("Aucune décision consignée."))
    return Html("".join(out))


def followup_section(data: "FicheData") -> Html:
    """Last year's decisions on the fiche and the pilot's follow-up (sheet "Suivi des décisions"
    of this year's collection template; a follow-up is a pilot text: shown once reviewed)."""
    ctx, f, y = data.context, data.fiche, data.year
    last = ctx.reviews.get(y - 1)
    entry = last.entry(f.id) if last else None
    if entry is None or not entry.decisions:
        return Html(paragraph(f"Aucune décision du comité à suivre pour la fiche {f.id} "
                              f"(revue {y - 1})."))
    followups = read_followups(ctx.data_dir)
    mine = followups[(followups["fiche"] == f.id) & (followups["annee_revue"] == str(y - 1))]
    by_action = {str(a).strip(): str(s).strip() for a, s in zip(mine["decision"], mine["suivi"])}
    published = comments_published(ctx.reviews, f.id, y)
    rows, pending = [], 0
    for d in entry.decisions:
        text = by_action.get(d.action, "")
        if text and not published:
            pending, text = pending + 1, "suivi en attente de relecture"
        rows.append([d.action, d.owner, d.due.strftime("%d/%m/%Y"), text or "non renseigné"])
    table = pd.DataFrame(rows, columns=["Décision", "Responsable", "Échéance", "Suivi du pilote"],
                         dtype=object)
    return Html(html_table(table, f"Décisions de la revue {y - 1} et leur suivi en {y}",
                           row_header="Décision"))


# --- pilots' comments, gated ------------------------------------------------------------------

def _reported_comments(ctx: "Context", f: "Fiche", evaluated: int,
                       year: int | None = None) -> pd.DataFrame:
    """Every comment reported for the fiche ``f`` (``commentaire`` column of the collection files,
    and the text of qualitative indicators), for ``year`` (default: the evaluated year
    ``evaluated``) or, with ``year=0``, for every year up to the evaluated one: ``Année``,
    ``Indicateur``, ``Territoire``, ``Commentaire``. Not for display: :func:`gated_comments`
    gates it."""
    sel = ctx.fiche_observations(f)
    sel = sel[sel["annee"] <= evaluated] if year == 0 else sel[sel["annee"] == (year or evaluated)]
    types = {i.id: i.type for i in f.indicateurs}
    names: dict[str, str] = {}
    rows = []
    for annee, indicateur, territoire, raw_texte, raw_comment in zip(
            sel["annee"], sel["indicateur"], sel["territoire"], sel["texte"], sel["commentaire"]):
        texts = []
        texte, comment = str(raw_texte or "").strip(), str(raw_comment or "").strip()
        if types.get(str(indicateur)) in QUALITATIVE_TYPES and texte \
                and texte.lower() not in PLACEHOLDERS and texte != comment:
            texts.append(texte)
        if comment:
            texts.append(comment)
        if texts:
            code = str(territoire)
            if code not in names:
                names[code] = ctx.name_of(code)
            rows.append([int(annee), str(indicateur), names[code], " — ".join(texts)])
    # most recent year first, then indicator (plan order) and territory; stable; no repeats
    rows.sort(key=lambda r: (-r[0], fiche_sort_key(r[1]), r[2]))
    unique = list(dict.fromkeys(map(tuple, rows)))
    return pd.DataFrame(unique,
                        columns=["Année", "Indicateur", "Territoire", "Commentaire"])


def gated_comments(ctx: "Context", fiche: "Fiche", evaluated: int,
                   year: int | None = None) -> tuple[pd.DataFrame, int]:
    """``(comments the committee allowed to publish, number awaiting review)`` of ``fiche`` for
    the evaluated year ``evaluated`` (``year`` as :func:`_reported_comments`): the reported
    comments through :func:`~plancadre_eval.review.gate_comments`."""
    return gate_comments(_reported_comments(ctx, fiche, evaluated, year), ctx.reviews, fiche.id)


def published_comments(data: "FicheData", year: int | None = None) -> tuple[pd.DataFrame, int]:
    """:func:`gated_comments` of a fiche page's fiche and year."""
    return gated_comments(data.context, data.fiche, data.year, year)


def fiche_comments(data: "FicheData", year: int | None = None) -> pd.DataFrame:
    """The comments of the fiche the committee allowed to publish (same columns and ``year`` as
    :func:`_reported_comments`): a table an analyst may filter and hand to
    :func:`comments_section` (``table=``); withheld comments are never in it."""
    return published_comments(data, year)[0]


def pending_text(n: int) -> str:
    """"N commentaire(s) en attente de relecture" (the committee's review)."""
    return f"{plural(n, 'commentaire')} en attente de relecture par le comité de pilotage."


def comments_section(data: "FicheData", table: pd.DataFrame | None = None) -> Html:
    """The pilots' comments of the year once the committee allowed their publication (else how
    many wait for review), earlier years' published comments in a ``<details>``. ``table``
    (default :func:`fiche_comments` of the year) is the year's table shown; it goes through the
    gate again (rows of a year whose record does not publish the fiche are dropped; without an
    ``Année`` column, the evaluated year's record decides)."""
    y = data.year
    now, pending = published_comments(data)
    if table is not None:
        if "Année" in table.columns:
            now = gate_comments(table, data.context.reviews, data.fiche.id)[0]
        else:
            now = table if comments_published(data.context.reviews, data.fiche.id, y) else table.iloc[0:0]
    all_years, pending_all = published_comments(data, 0)
    before = all_years[all_years["Année"] < y]
    pending_before = pending_all - pending
    out = []
    if now.empty and not pending:
        out.append(paragraph(f"Aucun commentaire déclaré pour {y}."))
    if pending:
        out.append(f'<p class="en-attente">{esc(pending_text(pending))}</p>')
    if not now.empty:
        shown = now.drop(columns="Année", errors="ignore")
        out.append(html_table(shown.astype(object), f"Commentaires déclarés pour {y}",
                              row_header="Indicateur" if "Indicateur" in shown.columns else None))
    if not before.empty or pending_before:
        shown = before.astype(object).assign(Année=[str(a) for a in before["Année"]])
        inner = (html_table(shown, "Commentaires des années précédentes", row_header="Année")
                 if not before.empty else "")
        if pending_before:
            inner += paragraph(f"Années précédentes : {pending_text(pending_before)}")
        out.append("<details><summary>Commentaires des années précédentes "
                   f"({len(before)})</summary>" + inner + "</details>")
    return Html("".join(out))



# --- the record to fill: plancadre-eval revue ------------------------------------------------

def command_revue(args) -> int:
    """``plancadre-eval revue --year Y --out FICHIER.xlsx [--data DIR]``: the record to fill,
    prefilled with the statuses computed from the year's data and the comments to review."""
    from .. import collection, parameters, schedule
    from ..parameters import ParameterError
    from ..review import pilot_texts, review_rows, write_review_workbook
    from .context import load_context

    if not str(args.out).lower().endswith(".xlsx"):
        print(f"La revue est un classeur Excel : --out doit se terminer par .xlsx (reçu "
              f"{args.out!r}).", file=sys.stderr)
        return 2
    try:
        settings = parameters.validate(year=args.year, referentiel=args.referentiel,
                                       data_dir=args.data or None)
    except ParameterError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        ctx = load_context(settings)
    except collection.CollectionError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    ref, year = ctx.referential, ctx.year
    due = list(schedule.due_fiches(ref, year))
    st = ctx.engine.statuses(year, due)
    statuses = dict(zip(st["fiche"].astype(str), st["statut"].astype(str)))
    types = {i.id: str(i.type) for i in ref.indicators()}
    comments = {f: list(reversed(pilot_texts(ctx.observations, f, year, types))) for f in due}
    rows = review_rows(ref, year, due, statuses, comments)
    path = write_review_workbook(rows, year, args.out)
    print(f"Revue {year} écrite : {path} ({len(rows)} fiches). Remplie, enregistrez-la sous "
          f"data/revue/{year}.xlsx et vérifiez-la avec plancadre-eval check.")
    return 0

"""The committee on the pages (plancadre_eval.evaluation.committee, and the retained statuses in
the synthesis): retained vs computed status, opinion and decisions, follow-up, gated comments.

Context and referential are those of ``test_evaluation.py`` (fiche 1.1 is computed "en retard" in
2021; its comments: "Bilan positif <confirmé> & partagé" in 2021, "Premier bilan" in 2020)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from html_support import Html
from test_evaluation import data_dir, make_context, referential  # noqa: F401 (fixtures)

from plancadre_eval import review
from plancadre_eval.evaluation import committee
from plancadre_eval.evaluation import fiche as fiche_page
from plancadre_eval.evaluation import synthesis as synthesis_page
from plancadre_eval.review import Decision, Review, ReviewEntry
from plancadre_eval.statuses import FicheStatus

COMMENT_2021 = "Bilan positif &lt;confirmé&gt; &amp; partagé"


def text(html: str) -> str:
    """Visible text of a fragment, without the space the parser leaves before a comma."""
    return Html(html).text.replace(" ,", ",")


def record(year: int, **entries: ReviewEntry) -> Review:
    return Review(year=year, path=Path(f"{year}.csv"), sha256="0" * 64,
                  entries={e.fiche: e for e in entries.values()})


def entry(retained=None, computed="en retard", **kw) -> ReviewEntry:
    return ReviewEntry(fiche="1.1", computed=computed,
                       retained=FicheStatus(retained) if retained else None, **kw)


def fiche_data(referential, data_dir, reviews, followups: Path | None = None):  # noqa: F811
    """Fiche 1.1's data with ``reviews``; ``followups``: collection folder read for follow-ups."""
    ctx = dataclasses.replace(make_context(referential, data_dir), reviews=reviews,
                              data_dir=followups or data_dir)
    return fiche_page.fiche_data(ctx, "1.1")


def test_without_a_record_the_page_says_not_yet_examined_and_withholds_comments(referential, data_dir):  # noqa: F811
    data = fiche_data(referential, data_dir, {})
    assert data.status == "en retard"
    status = fiche_page.status_section(data)
    assert "Statut calculé, non encore examinée par le comité." in status
    assert 'statut-en-retard statut-grand">en retard<' in status
    assert committee.committee_section(data) == "<p>Fiche 1.1 non encore examinée par le comité pour 2021.</p>"
    comments = committee.comments_section(data)
    assert "1 commentaire en attente de relecture par le comité de pilotage." in comments
    assert "Bilan positif" not in comments and "Premier bilan" not in comments
    assert "Années précédentes : 1 commentaire en attente" in comments


def test_a_changed_status_shows_computed_retained_and_the_reason(referential, data_dir):  # noqa: F811
    rec = record(2021, a=entry("en cours", justification="Jalon reporté par le comité",
                               opinion="Avancée réelle",
                               decisions=(Decision("Relancer le pilote", "DDE", dt.date(2022, 6, 30)),)))
    data = fiche_data(referential, data_dir, {2021: rec})
    assert committee.shown_status(data) == "en cours"
    shown = text(fiche_page.status_section(data))
    assert "Statut de la fiche 1.1 en 2021 : en cours" in shown
    assert ("Statut calculé : en retard, retenu par le comité : en cours, motif : Jalon reporté "
            "par le comité") in shown
    assert Html(fiche_page.status_section(data)).badges == ["en cours"]
    section = text(committee.committee_section(data))
    assert "Avis du comité : Avancée réelle" in section
    assert ("Décision Responsable Échéance Relancer le pilote DDE 30/06/2022") in section


def test_a_confirmed_status_is_said_confirmed(referential, data_dir):  # noqa: F811
    data = fiche_data(referential, data_dir, {2021: record(2021, a=entry("en retard"))})
    assert "Statut calculé, confirmé par le comité de pilotage." in fiche_page.status_section(data)
    assert "aucun avis consigné" in committee.committee_section(data)


def test_comments_appear_once_their_year_s_record_says_oui(referential, data_dir):  # noqa: F811
    data = fiche_data(referential, data_dir,
                      {2021: record(2021, a=entry("en retard", publish_comments=True))})
    html = committee.comments_section(data)
    assert COMMENT_2021 in html and "en attente" in html  # 2020 is still withheld
    assert "Premier bilan" not in html
    both = fiche_data(referential, data_dir,
                      {2021: record(2021, a=entry("en retard", publish_comments=True)),
                       2020: record(2020, a=entry("en retard", publish_comments=True))})
    html = committee.comments_section(both)
    assert COMMENT_2021 in html and "Premier bilan" in html and "en attente" not in html


def test_the_comment_table_an_analyst_filters_stays_behind_the_gate(referential, data_dir):  # noqa: F811
    published = fiche_data(referential, data_dir,
                           {2021: record(2021, a=entry("en retard", publish_comments=True))})
    table = committee.fiche_comments(published)
    assert table.to_dict("records") == [{"Année": 2021, "Indicateur": "1.1.3",
                                         "Territoire": "Pas-de-Calais",
                                         "Commentaire": "Bilan positif <confirmé> & partagé"}]
    html = committee.comments_section(published, table=table[["Commentaire"]])
    assert COMMENT_2021 in html
    # a table built for a fiche whose comments are not published shows none of them
    withheld = fiche_data(referential, data_dir, {})
    assert COMMENT_2021 not in committee.comments_section(withheld, table=table)
    assert COMMENT_2021 not in committee.comments_section(withheld, table=table[["Commentaire"]])


def write_followup(folder: Path, suivi: str) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Collecte"
    ws = wb.create_sheet(review.FOLLOWUP_SHEET)
    ws.append(list(review.FOLLOWUP_COLUMNS))
    ws.append(["1.1", "2020", "Relancer le pilote", "DDE", "30/06/2021", suivi])
    wb.save(folder / "collecte-DDE.xlsx")


@pytest.mark.parametrize("published", [True, False])
def test_last_year_s_decisions_are_listed_with_the_pilot_s_follow_up(referential, data_dir, tmp_path,  # noqa: F811
                                                                      published):
    write_followup(tmp_path, "Relance faite le 3 mars")
    last = record(2020, a=entry("en retard", decisions=(
        Decision("Relancer le pilote", "DDE", dt.date(2021, 6, 30)),
        Decision("Ouvrir un lieu", "Mairie", dt.date(2021, 12, 31)))))
    now = record(2021, a=entry("en retard", publish_comments=published))
    data = fiche_data(referential, data_dir, {2020: last, 2021: now}, followups=tmp_path)
    shown = text(committee.followup_section(data))
    follow = "Relance faite le 3 mars" if published else "suivi en attente de relecture"
    assert ("Décision Responsable Échéance Suivi du pilote Relancer le pilote DDE 30/06/2021 "
            f"{follow} Ouvrir un lieu Mairie 31/12/2021 non renseigné") in shown
    assert published or "Relance faite" not in shown
    nothing = fiche_data(referential, data_dir, {2021: now}, followups=tmp_path)
    assert "Aucune décision du comité à suivre pour la fiche 1.1 (revue 2020)." in \
        committee.followup_section(nothing)


def test_the_synthesis_counts_retained_statuses_and_how_many_the_committee_changed(referential, data_dir):  # noqa: F811
    computed = synthesis_page.synthesis_data(make_context(referential, data_dir))
    assert "non encore enregistrée" in synthesis_page.plan_overview_section(computed)
    rec = record(2021, a=entry("en cours", justification="motif"))
    ctx = dataclasses.replace(make_context(referential, data_dir), reviews={2021: rec})
    sd = synthesis_page.synthesis_data(ctx)
    total = synthesis_page.plan_overview(sd).set_index("Axe").loc["Ensemble du plan"]
    assert total["En retard"] == "0" and total["En cours"] == "1"  # computed: 1 en retard
    overview = text(synthesis_page.plan_overview_section(sd))
    assert ("Statuts retenus par le comité de pilotage : 1 fiche(s) examinée(s) sur 1 évaluées en "
            "2021, dont 1 dont le comité a changé le statut calculé") in overview
    grid = text(synthesis_page.fiche_grid_section(sd))
    assert "en cours (retenu par le comité ; calculé : en retard)" in grid


def test_revue_command_explains_a_bad_output_name_and_bad_parameters(capsys):
    """`plancadre-eval revue` prints its French error (it used to raise NameError: no `sys`)."""
    from plancadre_eval.cli import main

    assert main(["revue", "--year", "2021", "--out", "revue.csv"]) == 2
    assert "--out doit se terminer par .xlsx" in capsys.readouterr().err
    assert main(["revue", "--year", "2035", "--out", "revue.xlsx"]) == 2
    assert "2035" in capsys.readouterr().err

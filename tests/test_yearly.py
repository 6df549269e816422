"""Year-over-year sections of the pages (evaluation/yearly.py) on the small referential: the fiche's
"Depuis l'année précédente", the synthesis' "Faits marquants" and "Points d'attention"."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd

from plancadre_eval.evaluation import context as page_context
from plancadre_eval.evaluation import fiche as fiche_page
from plancadre_eval.evaluation import synthesis as synthesis_page
from plancadre_eval.evaluation import yearly
from plancadre_eval.review import Review, ReviewEntry
from plancadre_eval.statuses import FicheStatus
from small_plan import BASE_OBS, EXPECTED, REF, FakeTerritories, obs

#: 1.2.J1 (due 2019-12-31) done in 2019; 1.2.J2 (due 2020-06-30) "non" in 2020 with the pilot's
#: explanation, done 15/03/2021; 1.2.J3 (due 2022-12-31) done 2022-06-01.
MILESTONES = obs(
    ("1.2.J1", "valeur", 2019, "62", None, "oui"),
    ("1.2.J2", "valeur", 2020, "62", None, "non", "Convention en attente de signature"),
    ("1.2.J2", "valeur", 2021, "62", None, "15/03/2021"),
    ("1.2.1", "valeur", 2022, "62", None, "2022-06-01"),
)


def context(tmp_path, year):
    return page_context.Context(
        referential=REF, year=year, data_dir=tmp_path, secret_threshold=5,
        territories=FakeTerritories(), observations=pd.concat([BASE_OBS, MILESTONES], ignore_index=True),
        files=(), public={}, expected=EXPECTED, demo=False)


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_months_are_written_in_french():
    assert yearly.months_text(14) == "en retard de 14 mois"
    assert yearly.months_text(0) == "en retard de moins d'un mois"
    assert yearly.duration_text(1) == "1 mois"


def test_fiche_page_shows_the_previous_status_and_the_milestone_newly_late(tmp_path):
    ctx = context(tmp_path, 2020)
    html = yearly.yearly_section(fiche_page.fiche_data(ctx, "1.2"))
    before = ctx.fiche_statuses(2019, ["1.2"]).iloc[0]["statut"]
    now = ctx.fiche_statuses(2020, ["1.2"]).iloc[0]["statut"]
    assert now == "en retard"
    assert f"{before} en 2019 → {now} en 2020" in text(html)
    # 30 June 2020 -> 31 December 2020: 6 months
    assert "Jalon 1.2.J2 « Annuaire » (échéance 30 juin 2020) : passé en retard en 2020 (en retard de 6 mois)." in text(html)
    assert "Jalons en retard au 31 décembre 2020 : 1.2.J2 (échéance 30 juin 2020, en retard de 6 mois)." in text(html)


def test_fiche_page_says_done_since_and_first_year_has_no_comparison(tmp_path):
    html = text(yearly.yearly_section(fiche_page.fiche_data(context(tmp_path, 2021), "1.2")))
    assert "Jalon 1.2.J2 « Annuaire » (échéance 30 juin 2020) : réalisé depuis 2020." in html
    first = text(yearly.yearly_section(fiche_page.fiche_data(context(tmp_path, 2019), "1.2")))
    assert "2019 est la première année du plan" in first


def test_synthesis_highlights_list_status_changes_and_milestones_done(tmp_path):
    ctx = context(tmp_path, 2021)
    sd = synthesis_page.synthesis_data(ctx)
    html = yearly.highlights_section(sd)
    changed = [f for f, a, b in zip(ctx.fiche_statuses(2021)["fiche"], ctx.fiche_statuses(2020)["statut"],
                                    ctx.fiche_statuses(2021)["statut"]) if a != b]
    assert f"{len(changed)} fiche(s) sur 4 ont changé de statut depuis 2020." in text(html)
    assert '<a href="fiche-1.2.html">1.2</a>' in html  # linked: the fiche is due in 2021
    assert "jalon 1.2.J2 « Annuaire » réalisé en retard." in text(html)
    # 1.1.1: 20 -> 25 (+25 %), 1.1.4: 70 -> 80 (+14,3 %): the larger relative change first
    biggest = text(html).split("Les plus fortes évolutions")[1]
    assert biggest.index("Libellé 1.1.1") < biggest.index("Libellé 1.1.4")


def test_synthesis_points_of_attention_quote_the_pilots_and_count_months(tmp_path):
    # the pilots' explanations are quoted once the committee's 2020 record publishes them
    withheld = text(yearly.attention_section(synthesis_page.synthesis_data(context(tmp_path, 2020))))
    assert "Convention en attente" not in withheld
    assert "1 commentaire en attente de relecture par le comité de pilotage." in withheld
    published = Review(year=2020, path=tmp_path / "2020.csv", sha256="0" * 64, entries={
        "1.2": ReviewEntry(fiche="1.2", computed="en retard", retained=FicheStatus.LATE,
                           publish_comments=True)})
    ctx = dataclasses.replace(context(tmp_path, 2020), reviews={2020: published})
    sd = synthesis_page.synthesis_data(ctx)
    html = text(yearly.attention_section(sd))
    assert "Jalon 1.2.J2 en retard (échéance : 30 juin 2020)." in html
    assert "1.2.J2 (Pas-de-Calais) : Convention en attente de signature" in html
    assert "1.2.J2 1.2 Annuaire 30 juin 2020 6 mois" in html
    # missing data by pilot: the DDCS fiche 1.1 expects values not all reported in 2020
    assert "Données manquantes ou partielles, par service pilote" in html
    partial = html.split("Données manquantes ou partielles, par service pilote")[1]
    assert "DDCS" in partial

"""Which fiches are due in a year: every frequency code, overrides and the plan's bounds."""

from __future__ import annotations

import pytest

from plancadre_eval.referential import Axis, Fiche, Frequency, Plan, Referential
from plancadre_eval.schedule import due_fiches, due_years, is_due

PLAN = Plan(id="p", titre="Plan test", departement="62", annee_debut=2019, annee_fin=2022,
            annee_reference=2018)


def fiche(fid: str = "1.1", code: str = "annuelle", **freq) -> Fiche:
    return Fiche(id=fid, axe=fid.split(".")[0], titre=f"Fiche {fid}", objectif="o", nature="nouvelle",
                 pilotes=("DDCS",), pilote_court="DDCS", partenaires=(), territoire="Départemental",
                 frequence=Frequency(code=code, libelle=code, **freq))


@pytest.mark.parametrize("code, years", [
    ("annuelle", [2019, 2020, 2021, 2022]),
    ("continue", [2019, 2020, 2021, 2022]),
    ("point_etape_annuel", [2019, 2020, 2021, 2022]),
    ("non_precisee", [2019, 2020, 2021, 2022]),
    ("semestrielle", [2019, 2020, 2021, 2022]),
    ("triennale", [2019, 2022]),                     # fiche 4.5
    ("intermediaire_et_finale", [2020, 2022]),       # fiche 1.3
    ("annuelle_apres_2e_annee", [2020, 2021, 2022]),  # fiche 1.4
])
def test_every_frequency_code(code, years):
    assert due_years(fiche(code=code), PLAN) == years
    for y in PLAN.years:
        assert is_due(fiche(code=code), y, PLAN) == (y in years)


def test_explicit_years_override_the_code_and_stay_within_the_plan():
    # fiche 4.7: semestrielle 2018-2019 during the experimentation, then annual
    f = fiche(code="semestrielle", debut=2018, fin=2019, annees=(2019, 2020, 2021, 2022))
    assert due_years(f, PLAN) == [2019, 2020, 2021, 2022]
    assert due_years(fiche(code="triennale", annees=(2018, 2021, 2030)), PLAN) == [2021]


def test_debut_and_fin_narrow_the_window():
    assert due_years(fiche(code="semestrielle", debut=2018, fin=2019), PLAN) == [2019]
    assert due_years(fiche(code="annuelle", debut=2021), PLAN) == [2021, 2022]
    assert due_years(fiche(code="triennale", debut=2020), PLAN) == [2020]
    assert due_years(fiche(code="intermediaire_et_finale", fin=2021), PLAN) == [2020, 2021]
    assert due_years(fiche(code="annuelle_apres_2e_annee", debut=2020), PLAN) == [2021, 2022]


def test_longer_plan_midterm():
    plan = Plan(id="p", titre="t", departement="62", annee_debut=2023, annee_fin=2027,
                annee_reference=2022)
    assert due_years(fiche(code="intermediaire_et_finale"), plan) == [2025, 2027]
    assert due_years(fiche(code="triennale"), plan) == [2023, 2026]


def test_year_outside_the_plan_is_a_french_error():
    with pytest.raises(ValueError, match="hors du plan"):
        is_due(fiche(), 2018, PLAN)
    with pytest.raises(ValueError, match="hors du plan"):
        is_due(fiche(), 2023, PLAN)
    with pytest.raises(ValueError, match="n'est pas une année"):
        is_due(fiche(), "deux mille vingt", PLAN)
    with pytest.raises(ValueError, match="n'est pas une année"):
        is_due(fiche(), 2020.5, PLAN)


def test_window_starting_after_its_end_is_reported():
    with pytest.raises(ValueError, match="après sa fin"):
        due_years(fiche(code="annuelle", debut=2022, fin=2020), PLAN)


def test_due_fiches_in_plan_order():
    ref = Referential(plan=PLAN, axes=(Axis("1", "a"), Axis("2", "b")), structures=(), fiches=(
        fiche("1.3", "intermediaire_et_finale"), fiche("2.9", "annuelle"),
        fiche("2.10", "annuelle_apres_2e_annee"), fiche("4.5", "triennale"),
    ))
    assert due_fiches(ref, 2019) == ["2.9", "4.5"]
    assert due_fiches(ref, 2020) == ["1.3", "2.9", "2.10"]
    assert due_fiches(ref, 2021) == ["2.9", "2.10"]
    assert due_fiches(ref, 2022) == ["1.3", "2.9", "2.10", "4.5"]
    with pytest.raises(ValueError, match="Années du plan : 2019, 2020, 2021, 2022"):
        due_fiches(ref, 2017)

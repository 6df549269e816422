"""The status rules (targets, milestones, fiches) and their vocabularies, on hand-computed cases."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from plancadre_eval import statuses as sx
from plancadre_eval.statuses import (
    FicheFacts, FicheStatus, MilestoneStatus, TargetStatus, assess_milestone, assess_target,
    decide_fiche_status,
)
from small_plan import REF

D = dt.date


@pytest.mark.parametrize("value, year, expected_status, progress", [
    (140, 2020, "atteint", 100.0),
    (150, 2021, "atteint", 125.0),
    (120, 2020, "en bonne voie", 50.0),      # exactly on the straight line
    (119, 2020, "en retard", 47.5),          # just behind it
    (139, 2022, "en retard", 97.5),          # deadline passed, not reached
    (float("nan"), 2020, "non évaluable", float("nan")),
])
def test_assess_target_statuses(value, year, expected_status, progress):
    status, prog, expected, reason = assess_target(value, 140, 100, D(2019, 1, 1), D(2022, 12, 31),
                                                   year, "hausse")
    assert status == expected_status and reason
    assert (math.isnan(prog) and math.isnan(progress)) or prog == pytest.approx(progress)
    if year == 2020:
        assert expected == pytest.approx(50.0)


def test_assess_target_without_reference_or_downwards():
    assert assess_target(120, 140, float("nan"), None, D(2022, 12, 31), 2020, "hausse")[0] == "non évaluable"
    assert assess_target(140, 140, float("nan"), None, D(2022, 12, 31), 2020, "hausse")[0] == "atteint"
    assert assess_target(120, 140, float("nan"), None, D(2020, 12, 31), 2021, "hausse")[0] == "en retard"
    # baisse: from 50 to 30; 40 at the end of 2020 (halfway) is on track, 25 reached
    assert assess_target(40, 30, 50, D(2019, 1, 1), D(2022, 12, 31), 2020, "baisse")[:2] == \
        ("en bonne voie", pytest.approx(50.0))
    assert assess_target(25, 30, 50, D(2019, 1, 1), D(2022, 12, 31), 2020, "baisse")[0] == "atteint"
    assert assess_target(31, 30, 50, D(2019, 1, 1), D(2022, 12, 31), 2022, "baisse")[0] == "en retard"
    # neutre: direction from the reference to the target
    assert assess_target(25, 30, 50, D(2019, 1, 1), D(2022, 12, 31), 2020, "neutre")[0] == "atteint"
    # a target equal to its reference that is not kept
    assert assess_target(4, 5, 5, D(2019, 1, 1), D(2022, 12, 31), 2020, "hausse")[0] == "en retard"


@pytest.mark.parametrize("deadline, realised, year, status", [
    (D(2020, 6, 30), D(2020, 6, 30), 2020, "réalisé"),
    (D(2020, 6, 30), D(2020, 7, 1), 2020, "réalisé en retard"),
    (D(2020, 12, 31), None, 2020, "en retard"),
    (D(2021, 1, 1), None, 2020, "à venir"),
])
def test_assess_milestone(deadline, realised, year, status):
    assert assess_milestone(deadline, realised, year) == status


@pytest.mark.parametrize("texte, valeur, expected", [
    ("Oui", None, (True, D(2020, 12, 31))),
    ("non", None, (False, None)),
    ("2020-03-01", None, (True, D(2020, 3, 1))),
    ("01/03/2020", None, (True, D(2020, 3, 1))),
    ("", 1, (True, D(2020, 12, 31))),
    ("", 0, (False, None)),
    ("peut-être", None, (None, None)),
])
def test_parse_milestone_answer(texte, valeur, expected):
    assert sx.parse_milestone_answer(texte, valeur, 2020) == expected


def _facts(**kw) -> FicheFacts:
    base = dict(expected=4, reported=4, milestones=(), targets=(), values=(3.0,), quantitative=True)
    base.update(kw)
    return FicheFacts(**base)


def test_status_donnees_insuffisantes_when_less_than_half_reported():
    status, reasons = decide_fiche_status(_facts(expected=5, reported=2), 2021)
    assert status == "données insuffisantes"
    assert any("2 valeur(s) déclarée(s) sur 5" in r for r in reasons)
    assert decide_fiche_status(_facts(expected=4, reported=2), 2021)[0] != "données insuffisantes"


def test_status_en_retard_when_a_milestone_or_a_target_is_late():
    late = (("1.2.J1", "en retard", D(2020, 6, 30)),)
    status, reasons = decide_fiche_status(_facts(milestones=late), 2021)
    assert status == "en retard" and any("30 juin 2020" in r for r in reasons)
    assert decide_fiche_status(_facts(targets=(("140 places", "en retard"),)), 2021)[0] == "en retard"


def test_status_non_demarree_when_nothing_was_realised():
    coming = (("1.2.J1", "à venir", D(2022, 6, 30)),)
    assert decide_fiche_status(_facts(values=(0.0, float("nan")), milestones=coming), 2021)[0] == \
        "non démarrée"
    # a qualitative text reported is a sign of activity
    assert decide_fiche_status(_facts(values=(0.0,), milestones=coming, texts=1), 2021)[0] == "en cours"


def test_status_mise_en_oeuvre():
    done = (("1.2.J1", "réalisé en retard", D(2020, 6, 30)), ("1.2.J2", "à venir", D(2022, 6, 30)))
    assert decide_fiche_status(_facts(milestones=done, targets=(("t", "atteint"),)), 2021)[0] == \
        "mise en œuvre"
    # neither target nor milestone: complete data
    assert decide_fiche_status(_facts(), 2021)[0] == "mise en œuvre"


def test_status_en_cours():
    assert decide_fiche_status(_facts(targets=(("t", "en bonne voie"),)), 2021)[0] == "en cours"
    assert decide_fiche_status(_facts(expected=4, reported=3), 2021)[0] == "en cours"
    # milestones exist but none is due yet, something done: not yet "mise en œuvre"
    coming = (("1.2.J1", "à venir", D(2022, 6, 30)),)
    assert decide_fiche_status(_facts(milestones=coming), 2021)[0] == "en cours"


def test_status_of_qualitative_only_fiches():
    qual = dict(expected=0, reported=0, values=(), quantitative=False)
    assert decide_fiche_status(_facts(**qual, comments=1), 2021)[0] == "en cours"
    assert decide_fiche_status(_facts(**qual, comments=0), 2021)[0] == "données insuffisantes"


def test_plan_summary_counts_and_shares():
    statuses = pd.DataFrame({"fiche": ["1.1", "1.2", "2.1"],
                             "statut": ["mise en œuvre", "en retard", "non démarrée"]})
    s = sx.plan_summary(statuses, REF).set_index("axe")
    assert s.loc["1", "fiches"] == 2 and s.loc["2", "fiches"] == 1 and s.loc["2", "non évaluées"] == 1
    assert s.loc["1", "mises en œuvre"] == 1 and s.loc["1", "engagées"] == 2
    assert s.loc["Ensemble", "fiches"] == 3 and s.loc["Ensemble", "engagées"] == 2
    assert s.loc["Ensemble", "part engagées (%)"] == pytest.approx(200 / 3)
    assert s.loc["Ensemble", "part non démarrée (%)"] == pytest.approx(100 / 3)
    assert s.loc["Ensemble", "non évaluées"] == 1
    with pytest.raises(ValueError, match="statut\\(s\\) inconnu\\(s\\) terminée"):
        sx.plan_summary(pd.DataFrame({"fiche": ["1.1"], "statut": ["terminée"]}), REF)
    with pytest.raises(ValueError, match="fiche\\(s\\) inconnue\\(s\\) 9.9"):
        sx.plan_summary(pd.DataFrame({"fiche": ["9.9"], "statut": ["en cours"]}), REF)


def test_vocabularies_are_the_french_words_written_in_indicateurs_csv():
    assert [s.value for s in TargetStatus] == ["atteint", "en bonne voie", "en retard",
                                               "non évaluable", "sans cible"]
    assert [s.value for s in MilestoneStatus] == ["réalisé", "réalisé en retard", "en retard",
                                                  "à venir"]
    assert [s.value for s in FicheStatus] == ["mise en œuvre", "en cours", "en retard",
                                              "non démarrée", "données insuffisantes"]
    # written as the French word wherever a status is turned into text (CSV, HTML, messages)
    assert str(FicheStatus.NOT_STARTED) == f"{FicheStatus.NOT_STARTED}" == "non démarrée"
    assert pd.Series([TargetStatus.ON_TRACK]).to_csv(index=False, header=False) == "en bonne voie\n"



def test_a_target_on_the_wrong_side_of_its_reference_is_not_reached_at_72_percent():
    # issue 10, 2.6.6: reference 25, target 7 "hausse", value 12 in 2021 -> progression 72 % and
    # "atteint" contradicted each other; now neither is claimed
    status, progress, _, reason = sx.assess_target(12, 7, 25, dt.date(2019, 1, 1),
                                                   dt.date(2022, 12, 31), 2021, "hausse")
    assert status == "non évaluable" and math.isnan(progress)
    assert "en dessous de la référence (25)" in reason


from hypothesis import given, strategies as st  # noqa: E402


@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40), st.sampled_from(
    ["hausse", "baisse", "neutre"]), st.integers(2019, 2022))
def test_target_status_and_progression_always_agree(value, target, baseline, sens, year):
    status, progress, _, _ = sx.assess_target(value, target, baseline, dt.date(2019, 1, 1),
                                              dt.date(2022, 12, 31), year, sens)
    if not math.isnan(progress):
        assert (status == "atteint") == (progress >= 100 - 1e-9)

"""Year-over-year facts and the Points d'attention rules, on small hand-made tables."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from plancadre_eval import changes
from plancadre_eval.engine import Engine
from small_plan import EXPECTED, MS_OBS, REF, population

D = dt.date


@pytest.mark.parametrize("deadline, year, months", [
    (D(2021, 10, 31), 2022, 14),   # 31 Oct 2021 -> 31 Dec 2022
    (D(2022, 12, 31), 2022, 0),    # due on the evaluation date: not late yet
    (D(2020, 6, 30), 2021, 18),
    (D(2019, 3, 31), 2022, 45),
    (D(2022, 12, 1), 2022, 0),     # 30 days: less than a month
    (D(2023, 6, 30), 2022, 0),     # not due
])
def test_months_late_counts_whole_months_to_31_december(deadline, year, months):
    assert changes.months_late(deadline, year) == months


def test_status_changes_pair_each_fiche_with_its_previous_status():
    before = pd.DataFrame({"fiche": ["1.1", "1.2", "2.1"],
                           "statut": ["non démarrée", "en cours", "en retard"]})
    now = pd.DataFrame({"fiche": ["1.1", "1.2", "2.1", "2.10"],
                        "statut": ["en cours", "en cours", "mise en œuvre", "en cours"]})
    out = changes.status_changes(before, now).set_index("fiche")
    assert out.loc["1.1", "statut_avant"] == "non démarrée" and out.loc["1.1", "change"]
    assert not out.loc["1.2", "change"]
    assert out.loc["2.1", "change"]
    assert out.loc["2.10", "statut_avant"] == "" and not out.loc["2.10", "change"]


def test_milestones_newly_done_or_newly_late_on_the_engine():
    """small_plan milestones: 1.2.J1 due 2019-12-31 done 2019; 1.2.J2 due 2020-06-30, "non" in
    2020, done 15/03/2021; 1.2.J3 due 2022-12-31, done 2022-06-01 via the jalon indicator."""
    e = Engine(REF, MS_OBS, population=population, public={}, expected=EXPECTED)
    # 2020 vs 2019: J2 becomes late (6 months: 30 June -> 31 December 2020)
    ch = changes.milestone_changes(e.milestones(2019, "1.2"), e.milestones(2020, "1.2"), 2020)
    assert ch[["jalon", "nature", "mois_retard"]].values.tolist() == [["1.2.J2", changes.NEWLY_LATE, 6]]
    # 2021 vs 2020: J2 done (late), nothing newly late
    ch = changes.milestone_changes(e.milestones(2020, "1.2"), e.milestones(2021, "1.2"), 2021)
    assert ch[["jalon", "statut_avant", "statut", "nature"]].values.tolist() == [
        ["1.2.J2", "en retard", "réalisé en retard", changes.NEWLY_DONE]]
    # 2022 vs 2021: J3 done on time
    ch = changes.milestone_changes(e.milestones(2021, "1.2"), e.milestones(2022, "1.2"), 2022)
    assert ch[["jalon", "nature", "mois_retard"]].values.tolist() == [["1.2.J3", changes.NEWLY_DONE, 0]]


def _targets(rows):
    cols = ["fiche", "cible", "indicateur", "territoire", "echeance", "valeur", "valeur_cible",
            "progression_pct", "progression_attendue_pct", "statut"]
    return pd.DataFrame(rows, columns=cols)


def test_targets_newly_reached_only():
    before = _targets([["1.1", "140 places", "1.1.4", "62", D(2022, 12, 31), 120, 140, 50, 75, "en retard"],
                       ["2.10", "Une réunion", "2.10.1", "62", D(2022, 12, 31), 1, 1, 100, 75, "atteint"]])
    now = _targets([["1.1", "140 places", "1.1.4", "62", D(2022, 12, 31), 140, 140, 100, 100, "atteint"],
                    ["2.10", "Une réunion", "2.10.1", "62", D(2022, 12, 31), 1, 1, 100, 100, "atteint"]])
    out = changes.target_changes(before, now)
    assert out["cible"].tolist() == ["140 places"]
    assert out.iloc[0]["statut_avant"] == "en retard"


def test_targets_due_within_a_year_and_behind():
    t = _targets([
        ["1.1", "A", "1.1.4", "62", D(2022, 12, 31), 110, 140, 33, 75, "en retard"],     # kept
        ["1.1", "B", "1.1.4", "621", D(2022, 6, 30), 50, 60, 90, 80, "en bonne voie"],  # on track
        ["1.1", "C", "1.1.4", "622", D(2023, 3, 31), 10, 60, 10, 60, "en retard"],      # too far
        ["1.1", "D", "1.1.4", "623", D(2021, 12, 31), 10, 60, 10, 100, "en retard"],    # already due
    ])
    out = changes.targets_due_behind(t, 2021)
    assert out["cible"].tolist() == ["A"]


def test_largest_changes_rank_relative_changes_and_skip_secrets_and_missing():
    rows = [
        # fiche, indicateur, type, territoire, valeur, valeur_n_1, evolution, evolution_pct, diffusion
        ("1.1", "1.1.1", "comptage", "62", 30, 20, 10, 50.0, "public"),       # +50 %
        ("1.1", "1.1.2", "pourcentage", "62", 40, 20, 20, 100.0, "public"),   # +20 points: 20
        ("1.1", "1.1.3", "comptage", "62", 1, 10, -9, -90.0, "public"),       # −90 %
        ("1.1", "1.1.4", "comptage", "62", None, 10, None, None, "public"),   # no value
        ("1.1", "1.1.5", "comptage", "621", 100, 1, 99, 9900.0, "public"),    # not the département
        ("1.1", "1.1.6", "comptage", "62", None, 10, None, None, "secret"),   # secret
        ("1.1", "1.1.7", "comptage", "62", 5, 5, 0, 0.0, "public"),           # no change
    ]
    t = pd.DataFrame(rows, columns=["fiche", "indicateur", "type", "territoire", "valeur",
                                    "valeur_n_1", "evolution", "evolution_pct", "diffusion"])
    t["libelle"], t["unite"] = "l", "u"
    out = changes.largest_changes(t, "62", n=2)
    assert out["indicateur"].tolist() == ["1.1.3", "1.1.1"]
    assert changes.largest_changes(t, "62", n=10)["indicateur"].tolist() == ["1.1.3", "1.1.1", "1.1.2"]


def test_partial_data_by_pilot_least_complete_first():
    comp = pd.DataFrame({
        "fiche": ["1.1"] * 4 + ["1.2"] * 2 + ["2.10"] * 2,
        "pilote": ["DDCS"] * 4 + ["Préfecture"] * 2 + ["DDCS"] * 2,
        "declare": [True, True, True, False, True, True, False, False],
    })
    out = changes.partial_data(comp)
    # 1.2 complete: left out; DDCS: 2.10 (0 %) before 1.1 (75 %)
    assert out[["pilote", "fiche", "attendues", "declarees", "manquantes"]].values.tolist() == [
        ["DDCS", "2.10", 2, 0, 2], ["DDCS", "1.1", 4, 3, 1]]
    assert out["taux_pct"].tolist() == [0.0, 75.0]
    assert changes.partial_data(comp.iloc[0:0]).empty

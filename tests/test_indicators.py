"""The indicator engine on a small referential built in code, with hand-computed expectations."""

from __future__ import annotations

import datetime as dt
import math
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plancadre_eval import indicators as ix
from plancadre_eval.indicators import FicheFacts, assess_milestone, assess_target, decide_fiche_status
from plancadre_eval.referential import (
    Axis, Baseline, Fiche, Frequency, Indicator, Milestone, Plan, Referential, Structure, Target,
)

D = dt.date
PLAN = Plan(id="test", titre="Plan test", departement="62", annee_debut=2019, annee_fin=2022,
            annee_reference=2018)
ARRS = ["621", "622", "623"]
EXPECTED = {"arrondissement": ARRS}
POP = {"62": 200_000, "621": 100_000, "622": 50_000, "623": 50_000}


def population(code: str, year: int) -> int:
    return POP[code]


def ind(iid: str, itype: str = "comptage", **kw) -> Indicator:
    return Indicator(id=iid, fiche=iid.rsplit(".", 1)[0], libelle=f"Libellé {iid}", type=itype,
                     unite=kw.pop("unite", "unités"), **kw)


def fiche(fid: str, axe: str, indicateurs=(), **kw) -> Fiche:
    return Fiche(id=fid, axe=axe, titre=f"Fiche {fid}", objectif="o", nature="nouvelle",
                 pilotes=(f"Pilote {fid}",), pilote_court=kw.pop("pilote_court", "DDCS"),
                 partenaires=(), territoire="Départemental",
                 frequence=Frequency("annuelle", "Annuelle"), indicateurs=tuple(indicateurs), **kw)


def make_referential() -> Referential:
    f11 = fiche("1.1", "1", [
        ind("1.1.1", niveau="arrondissement", personnes=True, unite="victimes"),
        ind("1.1.2", "pourcentage", niveau="arrondissement", unite="%"),
        ind("1.1.3", "duree", niveau="structure", personnes=True, unite="jours", sens="baisse"),
        ind("1.1.4", niveau="arrondissement", unite="places"),
        ind("1.1.5", "taux", niveau="arrondissement", numerateur="1.1.4", base=10000,
            unite="places pour 10 000 habitants"),
    ], etat_des_lieux=(Baseline("100 places", 100, "places", D(2019, 1, 1), indicateur="1.1.4"),),
        cibles=(Target("140 places", 140, "places", D(2022, 12, 31), indicateur="1.1.4"),))
    f12 = fiche("1.2", "1", [
        ind("1.2.1", "jalon", jalon="1.2.J3", unite=""),
        ind("1.2.2", "qualitatif", unite=""),
    ], jalons=(Milestone("1.2.J1", "Premier programme", D(2019, 12, 31)),
               Milestone("1.2.J2", "Annuaire", D(2020, 6, 30)),
               Milestone("1.2.J3", "Diagnostic présenté", D(2022, 12, 31))),
        pilote_court="Préfecture")
    f21 = fiche("2.1", "2", [
        ind("2.1.1", niveau="compagnie_gendarmerie", source="public", serie="s1", unite="faits"),
        ind("2.1.2", "a_determiner", unite=""),
    ])
    f210 = fiche("2.10", "2", [ind("2.10.1", unite="réunions")],
                 cibles=(Target("Une réunion par an", 1, "réunions", D(2022, 12, 31), indicateur="2.10.1"),))
    return Referential(
        plan=PLAN, axes=(Axis("1", "Axe un"), Axis("2", "Axe deux")),
        structures=(Structure("TJ-A", "Tribunal A", "tribunal_judiciaire", "621"),
                    Structure("TJ-B", "Tribunal B", "tribunal_judiciaire", "622"),
                    Structure("CGD-X", "Compagnie X", "compagnie_gendarmerie", "621"),
                    Structure("CGD-Y", "Compagnie Y", "compagnie_gendarmerie", "623")),
        fiches=(f11, f12, f21, f210),
    )


REF = make_referential()


def obs(*rows) -> pd.DataFrame:
    """Rows (indicateur, composante, annee, territoire, valeur[, texte[, commentaire]])."""
    records = []
    for i, r in enumerate(rows):
        indicateur, composante, annee, territoire, valeur = r[:5]
        texte = r[5] if len(r) > 5 else ("" if valeur is None else str(valeur))
        records.append({
            "fiche": indicateur.split(".J")[0].rsplit(".", 1)[0] if ".J" not in indicateur
            else indicateur.split(".J")[0],
            "indicateur": indicateur, "composante": composante, "annee": annee,
            "territoire": territoire, "valeur": np.nan if valeur is None else float(valeur),
            "texte": texte, "source": "test", "commentaire": r[6] if len(r) > 6 else "",
            "fichier": "f.csv", "ligne": i + 2,
        })
    return pd.DataFrame(records)


BASE_OBS = obs(
    # 1.1.1 victims by arrondissement (no "62" row): 62 = sum of parts
    ("1.1.1", "valeur", 2020, "621", 4), ("1.1.1", "valeur", 2020, "622", 6),
    ("1.1.1", "valeur", 2020, "623", 10),
    ("1.1.1", "valeur", 2021, "621", 3), ("1.1.1", "valeur", 2021, "622", 7),
    ("1.1.1", "valeur", 2021, "623", 15),
    # 1.1.2 percentage: (3 + 1) / (10 + 10) = 20 %, not the mean of 30 % and 10 %
    ("1.1.2", "numerateur", 2021, "621", 3), ("1.1.2", "denominateur", 2021, "621", 10),
    ("1.1.2", "numerateur", 2021, "622", 1), ("1.1.2", "denominateur", 2021, "622", 10),
    # 1.1.3 duration: TJ-A 10 days over 2 persons, TJ-B 40 days over 8: (20 + 320) / 10 = 34
    ("1.1.3", "valeur", 2021, "TJ-A", 10), ("1.1.3", "personnes", 2021, "TJ-A", 2),
    ("1.1.3", "valeur", 2021, "TJ-B", 40), ("1.1.3", "personnes", 2021, "TJ-B", 8),
    # 1.1.4 places; 2018 reported (90) but the plan's baseline (100, 2019-01-01) is the reference
    ("1.1.4", "valeur", 2018, "62", 90),
    ("1.1.4", "valeur", 2020, "621", 40), ("1.1.4", "valeur", 2020, "622", 30),
    ("1.1.4", "valeur", 2021, "621", 50), ("1.1.4", "valeur", 2021, "622", 30),
    # 2.10.1 reunions at the département
    ("2.10.1", "valeur", 2018, "62", 0), ("2.10.1", "valeur", 2021, "62", 1),
)


def row(table: pd.DataFrame, indicator: str, territory: str = "62") -> pd.Series:
    sel = table[(table["indicateur"] == indicator) & (table["territoire"] == territory)]
    assert len(sel) == 1, (indicator, territory, len(sel))
    return sel.iloc[0]


@pytest.fixture(scope="module")
def table_2021() -> pd.DataFrame:
    return ix.compute_indicators(REF, BASE_OBS, 2021, population, {}, EXPECTED)


# --- values per indicator type ------------------------------------------------------------------

def test_counts_of_the_parts_sum_to_the_departement(table_2021):
    r = row(table_2021, "1.1.1")
    assert r["valeur"] == 3 + 7 + 15
    assert r["origine"] == ix.ORIGIN_SUM and r["niveau"] == "departement"
    assert row(table_2021, "1.1.1", "622")["valeur"] == 7


def test_percentage_is_the_sum_of_numerators_over_the_sum_of_denominators(table_2021):
    assert row(table_2021, "1.1.2")["valeur"] == pytest.approx(20.0)  # not (30 + 10) / 2
    assert row(table_2021, "1.1.2", "621")["valeur"] == pytest.approx(30.0)
    assert row(table_2021, "1.1.2", "622")["valeur"] == pytest.approx(10.0)
    assert row(table_2021, "1.1.2")["numerateur"] == 4 and row(table_2021, "1.1.2")["denominateur"] == 20
    assert row(table_2021, "1.1.2")["effectif"] == 20


def test_direct_percentages_are_never_averaged_into_the_departement():
    o = obs(("1.1.2", "numerateur", 2021, "621", 3), ("1.1.2", "denominateur", 2021, "621", 10),
            ("1.1.2", "valeur", 2021, "622", 50))
    t = ix.compute_indicators(REF, o, 2021, fiches=["1.1"])
    assert row(t, "1.1.2", "622")["valeur"] == 50
    assert math.isnan(row(t, "1.1.2")["valeur"])
    assert row(t, "1.1.2")["origine"] == ix.ORIGIN_NOT_EVALUABLE
    assert "622" in row(t, "1.1.2")["commentaire"]
    with62 = pd.concat([o, obs(("1.1.2", "valeur", 2021, "62", 41))], ignore_index=True)
    assert row(ix.compute_indicators(REF, with62, 2021, fiches=["1.1"]), "1.1.2")["valeur"] == 41


def test_average_duration_is_weighted_by_persons(table_2021):
    r = row(table_2021, "1.1.3")
    assert r["valeur"] == pytest.approx(34.0)  # not (10 + 40) / 2 = 25
    assert r["effectif"] == 10 and r["origine"] == ix.ORIGIN_WEIGHTED
    assert row(table_2021, "1.1.3", "TJ-A")["niveau"] == "structure"


def test_rate_per_10000_inhabitants(table_2021):
    assert row(table_2021, "1.1.5", "621")["valeur"] == pytest.approx(50 / 100_000 * 10_000)  # 5
    assert row(table_2021, "1.1.5", "622")["valeur"] == pytest.approx(30 / 50_000 * 10_000)   # 6
    # the département rate divides the département count by its population (not a mean of rates)
    assert row(table_2021, "1.1.5")["valeur"] == pytest.approx(80 / 200_000 * 10_000)        # 4
    assert row(table_2021, "1.1.5")["denominateur"] == 200_000
    # 623 reported no places: expected territory shown empty
    assert math.isnan(row(table_2021, "1.1.5", "623")["valeur"])


def test_rate_without_population_is_empty_and_says_why():
    t = ix.compute_indicators(REF, BASE_OBS, 2021, None, fiches=["1.1"])
    r = row(t, "1.1.5")
    assert math.isnan(r["valeur"]) and "Population légale" in r["commentaire"]


def test_reported_total_is_kept_and_the_discrepancy_listed():
    o = obs(("1.1.1", "valeur", 2021, "62", 30), ("1.1.1", "valeur", 2021, "621", 3),
            ("1.1.1", "valeur", 2021, "622", 7), ("1.1.1", "valeur", 2021, "623", 15))
    t = ix.compute_indicators(REF, o, 2021, fiches=["1.1"])
    assert row(t, "1.1.1")["valeur"] == 30 and row(t, "1.1.1")["origine"] == ix.ORIGIN_REPORTED
    d = ix.discrepancies(REF, o, 2021)
    assert len(d) == 1
    assert d.iloc[0][["indicateur", "annee", "valeur_declaree", "valeur_attendue", "ecart"]].tolist() == \
        ["1.1.1", 2021, 30, 25, 5]
    assert "diffère" in d.iloc[0]["message"]
    agreeing = pd.concat([o[o["territoire"] != "62"], obs(("1.1.1", "valeur", 2021, "62", 25))])
    assert ix.discrepancies(REF, agreeing).empty


def test_percentage_and_duration_discrepancies_compare_components():
    o = obs(("1.1.2", "numerateur", 2021, "62", 5), ("1.1.2", "denominateur", 2021, "62", 20),
            ("1.1.2", "numerateur", 2021, "621", 3), ("1.1.2", "denominateur", 2021, "621", 10),
            ("1.1.2", "numerateur", 2021, "622", 1), ("1.1.2", "denominateur", 2021, "622", 10),
            ("1.1.3", "valeur", 2021, "62", 34), ("1.1.3", "personnes", 2021, "62", 10),
            ("1.1.3", "valeur", 2021, "TJ-A", 10), ("1.1.3", "personnes", 2021, "TJ-A", 2),
            ("1.1.3", "valeur", 2021, "TJ-B", 40), ("1.1.3", "personnes", 2021, "TJ-B", 8),
            ("1.1.2", "numerateur", 2020, "621", 12), ("1.1.2", "denominateur", 2020, "621", 10))
    d = ix.discrepancies(REF, o)
    assert d[["indicateur", "annee", "composante"]].values.tolist() == [
        ["1.1.2", 2020, "numerateur"],   # numerator above its denominator
        ["1.1.2", 2021, "numerateur"],   # 5 reported vs 3 + 1
    ]
    assert "supérieur au dénominateur" in d.iloc[0]["message"]


def test_discrepancies_do_not_reveal_small_counts_of_persons():
    o = obs(("1.1.1", "valeur", 2021, "621", 2), ("1.1.1", "valeur", 2021, "621", 3),
            ("1.1.4", "valeur", 2021, "621", 2), ("1.1.4", "valeur", 2021, "621", 3))
    d = ix.discrepancies(REF, o).set_index("indicateur")
    assert math.isnan(d.loc["1.1.1", "valeur_declaree"]) and "secret" in d.loc["1.1.1", "message"]
    assert "3" not in d.loc["1.1.1", "message"].split(":")[-1]
    assert d.loc["1.1.4", "valeur_declaree"] == 3  # places: not persons
    assert ix.discrepancies(REF, o, secret_threshold=0).set_index("indicateur").loc[
        "1.1.1", "valeur_declaree"] == 3


def test_values_reported_twice_keep_the_last_and_are_listed():
    o = obs(("2.10.1", "valeur", 2021, "62", 1), ("2.10.1", "valeur", 2021, "62", 2))
    assert row(ix.compute_indicators(REF, o, 2021, fiches=["2.10"]), "2.10.1")["valeur"] == 2
    d = ix.discrepancies(REF, o)
    assert d["nature"].tolist() == ["valeur déclarée deux fois"] and "ligne 3" in d.iloc[0]["message"]


def test_collected_structures_aggregate_to_the_departement():
    o = obs(("1.1.1", "valeur", 2021, "TJ-A", 12), ("1.1.1", "valeur", 2021, "TJ-B", 9))
    t = ix.compute_indicators(REF, o, 2021, fiches=["1.1"])
    assert row(t, "1.1.1")["valeur"] == 21 and row(t, "1.1.1", "TJ-A")["niveau"] == "structure"


def test_public_series_are_taken_as_published():
    s1 = pd.DataFrame({"annee": [2020, 2020, 2020, 2021, 2021, 2021],
                       "territoire": ["62", "CGD-X", "CGD-Y"] * 2,
                       "valeur": [100.0, 10.0, 5.0, 90.0, 12.0, 6.0]})
    s1.attrs = {"source": "État 4001, édition test", "approximation": "Approximation test."}
    t = ix.compute_indicators(REF, None, 2021, public={"s1": s1}, fiches=["2.1"])
    r = row(t, "2.1.1")
    assert r["valeur"] == 90 and r["valeur_n_1"] == 100 and r["evolution"] == -10
    assert r["evolution_pct"] == pytest.approx(-10.0) and r["origine"] == ix.ORIGIN_PUBLIC
    assert r["source"] == "État 4001, édition test" and r["commentaire"] == "Approximation test."
    assert row(t, "2.1.1", "CGD-X")["valeur"] == 12
    assert row(t, "2.1.1", "CGD-X")["niveau"] == "compagnie_gendarmerie"
    # gendarmerie companies cover the gendarmerie zone only: never summed, never "discrepant"
    assert ix.discrepancies(REF, None, public={"s1": s1}).empty
    only_parts = ix.compute_indicators(REF, None, 2021, public={"s1": s1[s1["territoire"] != "62"]},
                                       fiches=["2.1"])
    assert math.isnan(row(only_parts, "2.1.1")["valeur"])
    missing = ix.compute_indicators(REF, None, 2021, public={}, fiches=["2.1"])
    assert math.isnan(row(missing, "2.1.1")["valeur"])
    assert "non fournie" in row(missing, "2.1.1")["commentaire"]


def test_qualitative_and_undetermined_rows_have_no_value():
    o = obs(("1.2.2", "valeur", 2021, "62", None, "Campagne diffusée", "affiches"))
    t = ix.compute_indicators(REF, o, 2021, fiches=["1.2", "2.1"])
    q = row(t, "1.2.2")
    assert math.isnan(q["valeur"]) and q["statut"] == "sans cible" and q["type"] == "qualitatif"
    assert q["texte"] == "Campagne diffusée" and q["commentaire"] == "affiches"
    a = row(t, "2.1.2")
    assert math.isnan(a["valeur"]) and a["type"] == "a_determiner" and a["statut"] == "sans cible"


# --- evolution, reference, targets --------------------------------------------------------------

def test_evolution_versus_previous_year(table_2021):
    r = row(table_2021, "1.1.1")
    assert r["valeur_n_1"] == 20 and r["evolution"] == 5 and r["evolution_pct"] == pytest.approx(25.0)
    r = row(table_2021, "1.1.1", "621")
    assert r["valeur_n_1"] == 4 and r["evolution"] == -1 and r["evolution_pct"] == pytest.approx(-25.0)


def test_no_percentage_change_from_a_zero_base(table_2021):
    r = row(table_2021, "2.10.1")
    assert r["reference"] == 0 and r["annee_reference"] == 2018
    assert r["origine_reference"] == ix.REFERENCE_REPORTED
    assert math.isnan(r["evolution_reference_pct"])
    assert math.isnan(r["valeur_n_1"]) and math.isnan(r["evolution_pct"])


def test_reference_is_the_plans_baseline_before_the_reported_reference_year(table_2021):
    r = row(table_2021, "1.1.4")
    assert r["reference"] == 100 and r["annee_reference"] == 2019  # not the 90 reported for 2018
    assert r["origine_reference"] == ix.REFERENCE_PLAN
    assert r["evolution_reference_pct"] == pytest.approx(-20.0)


def test_target_columns_on_the_departement_row(table_2021):
    r = row(table_2021, "1.1.4")
    assert r["cible"] == 140 and r["echeance_cible"] == "2022-12-31"
    # (80 - 100) / (140 - 100) = -50 %: behind the straight line
    assert r["progression_pct"] == pytest.approx(-50.0) and r["statut"] == "en retard"
    assert row(table_2021, "1.1.4", "621")["statut"] == "sans cible"
    assert row(table_2021, "2.10.1")["statut"] == "atteint"
    assert row(table_2021, "1.1.1")["statut"] == "sans cible"


# baseline 100 on 2019-01-01, target 140 on 2022-12-31: 1 460 days; end of 2020 = 730 days = 50 %
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


def test_target_progress_table():
    tp = ix.target_progress(REF, BASE_OBS, 2021, population)
    assert tp["fiche"].tolist() == ["1.1", "2.10"]
    r = tp.iloc[0]
    assert r["valeur"] == 80 and r["reference"] == 100 and r["date_reference"] == D(2019, 1, 1)
    assert r["progression_pct"] == pytest.approx(-50.0)
    assert r["progression_attendue_pct"] == pytest.approx(1095 / 1460 * 100)
    assert r["statut"] == "en retard"
    assert tp.iloc[1]["statut"] == "atteint"


# --- milestones ---------------------------------------------------------------------------------

MS_OBS = obs(
    ("1.2.J1", "valeur", 2019, "62", None, "oui"),          # done by 2019-12-31 = deadline
    ("1.2.J2", "valeur", 2020, "62", None, "non"),
    ("1.2.J2", "valeur", 2021, "62", None, "15/03/2021"),   # done after 2020-06-30
    ("1.2.1", "valeur", 2022, "62", None, "2022-06-01"),    # via the jalon-type indicator
)


@pytest.mark.parametrize("year, expected", [
    (2019, {"1.2.J1": "réalisé", "1.2.J2": "à venir", "1.2.J3": "à venir"}),
    (2020, {"1.2.J1": "réalisé", "1.2.J2": "en retard", "1.2.J3": "à venir"}),
    (2021, {"1.2.J1": "réalisé", "1.2.J2": "réalisé en retard", "1.2.J3": "à venir"}),
    (2022, {"1.2.J1": "réalisé", "1.2.J2": "réalisé en retard", "1.2.J3": "réalisé"}),
])
def test_milestone_statuses_use_reports_up_to_the_year(year, expected):
    ms = ix.milestone_status(REF, MS_OBS, year, "1.2")
    assert list(ms.columns[:6]) == ["fiche", "jalon", "libelle", "echeance", "realisation", "statut"]
    assert dict(zip(ms["jalon"], ms["statut"])) == expected


def test_milestone_realisation_dates():
    ms = ix.milestone_status(REF, MS_OBS, 2022, "1.2").set_index("jalon")
    assert ms.loc["1.2.J1", "realisation"] == D(2019, 12, 31)
    assert ms.loc["1.2.J2", "realisation"] == D(2021, 3, 15)
    assert ms.loc["1.2.J3", "realisation"] == D(2022, 6, 1)
    late_yes = obs(("1.2.J1", "valeur", 2020, "62", None, "oui"))
    assert ix.milestone_status(REF, late_yes, 2020, "1.2").iloc[0]["statut"] == "réalisé en retard"
    assert ix.milestone_status(REF, late_yes, 2019, "1.2").iloc[0]["statut"] == "en retard"
    unreported = ix.milestone_status(REF, None, 2022, "1.2")
    assert unreported["statut"].tolist() == ["en retard"] * 3


@pytest.mark.parametrize("deadline, realised, year, status", [
    (D(2020, 6, 30), D(2020, 6, 30), 2020, "réalisé"),
    (D(2020, 6, 30), D(2020, 7, 1), 2020, "réalisé en retard"),
    (D(2020, 12, 31), None, 2020, "en retard"),
    (D(2021, 1, 1), None, 2020, "à venir"),
])
def test_assess_milestone(deadline, realised, year, status):
    assert assess_milestone(deadline, realised, year) == status


def test_jalon_indicator_row_carries_the_milestone_status():
    t = ix.compute_indicators(REF, MS_OBS, 2022, fiches=["1.2"])
    r = row(t, "1.2.1")
    assert r["statut"] == "réalisé" and r["texte"] == "2022-06-01" and math.isnan(r["valeur"])


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
    assert ix.parse_milestone_answer(texte, valeur, 2020) == expected


# --- completeness -------------------------------------------------------------------------------

def test_completeness_expects_every_territory_and_component():
    c = ix.completeness(REF, BASE_OBS, 2021, EXPECTED, "1.1")
    # 1.1.1: 3 arrondissements; 1.1.2: 3 × (numérateur, dénominateur); 1.1.3: 2 tribunals × (valeur,
    # personnes) — gendarmerie companies are not "structures"; 1.1.4: 3; the rate 1.1.5 is computed
    assert len(c) == 3 + 6 + 4 + 3
    missing = c[~c["declare"]]
    assert sorted(zip(missing["indicateur"], missing["composante"], missing["territoire"])) == [
        ("1.1.2", "denominateur", "623"), ("1.1.2", "numerateur", "623"), ("1.1.4", "valeur", "623")]
    assert set(c["pilote"]) == {"DDCS"}
    s = ix.completeness_summary(c)
    assert s[["attendues", "declarees", "manquantes"]].iloc[0].tolist() == [16, 13, 3]
    assert s["taux_pct"].iloc[0] == pytest.approx(13 / 16 * 100)


def test_completeness_of_milestones_once_due_and_of_texts():
    c = ix.completeness(REF, MS_OBS, 2020, EXPECTED, "1.2")
    # qualitative 1.2.2 expected; J1 (2019, done before) and J2 (answered "non" in 2020) due; J3 not
    assert c[["indicateur", "declare"]].values.tolist() == [["1.2.2", False], ["1.2.J1", True],
                                                           ["1.2.J2", True]]
    assert (c["pilote"] == "Préfecture").all()


def test_completeness_needs_the_territories_of_each_level():
    with pytest.raises(ValueError, match="Territoires attendus du niveau « arrondissement »"):
        ix.completeness(REF, BASE_OBS, 2021, {}, "1.1")


# --- fiche status: one rule, one test per status -----------------------------------------------

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


def test_fiche_status_end_to_end():
    assert ix.fiche_status(REF, BASE_OBS, 2021, "1.1", EXPECTED, population)[0] == "en retard"
    assert ix.fiche_status(REF, BASE_OBS, 2021, "2.10", EXPECTED)[0] == "mise en œuvre"
    # 1.2 in 2021: the due milestones J1 and J2 are done (J2 late), no target
    assert ix.fiche_status(REF, MS_OBS, 2021, "1.2", EXPECTED)[0] == "mise en œuvre"
    assert ix.fiche_status(REF, MS_OBS, 2020, "1.2", EXPECTED)[0] == "en retard"
    zero = obs(("2.10.1", "valeur", 2021, "62", 0), ("2.10.1", "valeur", 2022, "62", 0))
    # no reference: the target cannot be judged before its deadline; nothing done
    assert ix.fiche_status(REF, zero, 2021, "2.10", EXPECTED)[0] == "non démarrée"
    assert ix.fiche_status(REF, zero, 2022, "2.10", EXPECTED)[0] == "en retard"   # deadline passed
    assert ix.fiche_status(REF, zero, 2019, "2.10", EXPECTED)[0] == "données insuffisantes"
    comment = obs(("2.1.2", "valeur", 2021, "62", None, "", "Indicateur en cours de définition"))
    assert ix.fiche_status(REF, comment, 2021, "2.1", EXPECTED)[0] == "en cours"
    # only a public series and an undetermined indicator, no comment: nothing to judge
    assert ix.fiche_status(REF, None, 2021, "2.1", EXPECTED)[0] == "données insuffisantes"
    assert ix.FICHE_STATUS_RULE.startswith("Statut d'une fiche")


def test_plan_summary_counts_and_shares():
    statuses = pd.DataFrame({"fiche": ["1.1", "1.2", "2.1"],
                             "statut": ["mise en œuvre", "en retard", "non démarrée"]})
    s = ix.plan_summary(statuses, REF).set_index("axe")
    assert s.loc["1", "fiches"] == 2 and s.loc["2", "fiches"] == 1 and s.loc["2", "non évaluées"] == 1
    assert s.loc["1", "mises en œuvre"] == 1 and s.loc["1", "engagées"] == 2
    assert s.loc["Ensemble", "fiches"] == 3 and s.loc["Ensemble", "engagées"] == 2
    assert s.loc["Ensemble", "part engagées (%)"] == pytest.approx(200 / 3)
    assert s.loc["Ensemble", "part non démarrée (%)"] == pytest.approx(100 / 3)
    assert s.loc["Ensemble", "non évaluées"] == 1
    with pytest.raises(ValueError, match="statut\\(s\\) inconnu\\(s\\) terminée"):
        ix.plan_summary(pd.DataFrame({"fiche": ["1.1"], "statut": ["terminée"]}), REF)
    with pytest.raises(ValueError, match="fiche\\(s\\) inconnue\\(s\\) 9.9"):
        ix.plan_summary(pd.DataFrame({"fiche": ["9.9"], "statut": ["en cours"]}), REF)


def test_fiche_statuses_feed_the_plan_summary():
    st_ = ix.fiche_statuses(REF, BASE_OBS, 2021, EXPECTED, population)
    assert st_["fiche"].tolist() == ["1.1", "1.2", "2.1", "2.10"]
    assert set(st_["statut"]) <= set(ix.FICHE_STATUSES)
    assert ix.plan_summary(st_, REF).set_index("axe").loc["Ensemble", "fiches"] == 4


# --- the analysts' table ------------------------------------------------------------------------

def test_indicator_table_columns_order_and_secrecy():
    t = ix.indicator_table(REF, BASE_OBS, 2021, population, {}, EXPECTED)
    required = ["fiche", "indicateur", "libelle", "type", "annee", "territoire", "niveau", "valeur",
                "unite", "valeur_n_1", "evolution", "evolution_pct", "reference", "annee_reference",
                "evolution_reference_pct", "cible", "echeance_cible", "progression_pct", "statut",
                "diffusion", "source", "commentaire"]
    assert [c for c in t.columns if c in required] == required
    # natural order: 2.10 after 2.1; département first within an indicator
    assert list(dict.fromkeys(t["fiche"])) == ["1.1", "1.2", "2.1", "2.10"]
    assert t[t["indicateur"] == "1.1.1"]["territoire"].tolist() == ["62", "621", "622", "623"]
    # 621 has 3 victims (< 5): primary; the smallest other part (622, 7) secondary
    victims = t[t["indicateur"] == "1.1.1"].set_index("territoire")
    assert victims["motif_secret"].to_dict() == {"62": "", "621": "primaire", "622": "secondaire",
                                                 "623": ""}
    assert victims.loc["62", "valeur"] == 25 and math.isnan(victims.loc["621", "valeur"])
    # last year 621 had 4 (secret) and 622 6 (secondary): 623's n-1 (10) stays
    assert victims.loc["623", "valeur_n_1"] == 10 and victims.loc["623", "evolution"] == 5
    # durations: TJ-A rests on 2 persons
    assert row(t, "1.1.3", "TJ-A")["diffusion"] == "secret"
    # places never secret
    assert (t[t["indicateur"] == "1.1.4"]["diffusion"] == "public").all()
    again = ix.indicator_table(REF, BASE_OBS, 2021, population, {}, EXPECTED)
    pd.testing.assert_frame_equal(t, again)


def test_the_table_says_whether_the_plan_adopted_the_indicator(tmp_path):
    """``origine_indicateur`` = the referential's origin; ``origine`` keeps its meaning (how the
    value was obtained), and the CSV carries both."""
    import dataclasses

    f11 = REF.fiche("1.1")
    added = dataclasses.replace(f11, indicateurs=tuple(
        dataclasses.replace(i, origine="ajout") if i.id == "1.1.4" else i for i in f11.indicateurs))
    ref = dataclasses.replace(REF, fiches=(added,) + REF.fiches[1:])
    t = ix.indicator_table(ref, BASE_OBS, 2021, population, {}, EXPECTED)
    by = t[t["territoire"] == "62"].set_index("indicateur")["origine_indicateur"]
    assert by["1.1.4"] == "ajout" and by["1.1.1"] == "plan" and by["1.2.1"] == "plan"
    assert row(t, "1.1.4")["origine"] == ix.ORIGIN_SUM
    csv = ix.write_indicator_table(t, tmp_path)["csv"].read_text(encoding="utf-8-sig")
    header = csv.splitlines()[0].split(";")
    assert header[-1] == "origine_indicateur" and "origine" in header


def test_the_table_formats_for_readers():
    from plancadre_eval.formatting import format_indicator_table

    shown = format_indicator_table(ix.indicator_table(REF, BASE_OBS, 2021, population, {}, EXPECTED))
    assert row(shown, "1.1.1")["valeur"] == "25\u00a0victimes"
    assert row(shown, "1.1.1", "621")["valeur"] == "secret"
    assert row(shown, "1.1.2")["valeur"] == "20\u00a0%"
    assert row(shown, "1.1.4")["echeance_cible"] == "31 décembre 2022"
    assert row(shown, "1.1.4")["evolution_reference_pct"] == "\u221220\u00a0%"


def test_write_indicator_table_is_french_excel_and_byte_identical(tmp_path, monkeypatch):
    t = ix.indicator_table(REF, BASE_OBS, 2021, population, {}, EXPECTED)
    paths = ix.write_indicator_table(t, tmp_path / "2021")
    raw = paths["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    header = text.splitlines()[0].split(";")
    assert header[:4] == ["fiche", "indicateur", "libelle", "type"]
    assert "effectif_n_1" not in header
    line = next(l for l in text.splitlines() if l.startswith("1.1;1.1.2;") and ";62;" in l)
    assert ";20,0;" in line  # decimal comma
    back = pd.read_csv(paths["csv"], sep=";", decimal=",", encoding="utf-8-sig",
                       dtype={"fiche": str, "indicateur": str, "territoire": str})
    assert back["fiche"].tolist()[:1] == ["1.1"] and len(back) == len(t)
    xlsx = paths["xlsx"].read_bytes()
    with zipfile.ZipFile(paths["xlsx"]) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert b"2019-01-01T00:00:00Z" in z.read("docProps/core.xml")
    # a later write (other clock) gives the same bytes; no temporary file is left behind
    import time as _time
    monkeypatch.setattr(_time, "time", lambda: 2_000_000_000.0)
    ix.write_indicator_table(t, tmp_path / "2021")
    assert paths["csv"].read_bytes() == raw and paths["xlsx"].read_bytes() == xlsx
    assert sorted(p.name for p in (tmp_path / "2021").iterdir()) == ["indicateurs.csv",
                                                                     "indicateurs.xlsx"]
    with pytest.raises(ValueError, match="secret statistique"):
        ix.write_indicator_table(ix.compute_indicators(REF, BASE_OBS, 2021), tmp_path)


def test_indicator_values_for_charts_span_the_years_and_are_masked():
    v = ix.indicator_values(REF, BASE_OBS, "1.1", 2021, population)
    assert sorted(set(v["annee"])) == [2018, 2020, 2021]
    assert set(v["indicateur"]) == {"1.1.1", "1.1.2", "1.1.3", "1.1.4", "1.1.5"}
    v20 = v[(v["indicateur"] == "1.1.1") & (v["annee"] == 2020)].set_index("territoire")
    assert v20.loc["62", "valeur"] == 20
    # 2020: 621 has 4 (primary), 622 has 6, the smallest other part (secondary)
    assert v20["motif_secret"].to_dict() == {"62": "", "621": "primaire", "622": "secondaire", "623": ""}
    assert v20.loc["623", "valeur"] == 10 and math.isnan(v20.loc["622", "valeur"])
    assert ix.indicator_values(REF, BASE_OBS, "1.1", 2020, population)["annee"].max() == 2020


# --- errors -------------------------------------------------------------------------------------

def test_impossible_inputs_are_french_sentences():
    with pytest.raises(ValueError, match="hors du plan"):
        ix.indicator_table(REF, BASE_OBS, 2030)
    with pytest.raises(ValueError, match="colonnes manquantes : territoire"):
        ix.compute_indicators(REF, BASE_OBS.drop(columns=["territoire"]), 2021)
    with pytest.raises(ValueError, match="chaînes"):
        ix.compute_indicators(REF, BASE_OBS.assign(territoire=62.0), 2021)
    with pytest.raises(ValueError, match="Fiche inconnue"):
        ix.compute_indicators(REF, BASE_OBS, 2021, fiches=["9.9"])
    with pytest.raises(ValueError, match="chaîne"):
        ix.compute_indicators(REF, BASE_OBS, 2021, fiches=[2.1])
    with pytest.raises(ValueError, match="population"):
        ix.compute_indicators(REF, BASE_OBS, 2021, population=42)


# --- invariants ---------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=500), min_size=3, max_size=3))
def test_parts_sum_to_the_whole_where_nothing_is_masked(places):
    o = obs(*[("1.1.4", "valeur", 2021, code, v) for code, v in zip(ARRS, places)])
    t = ix.indicator_table(REF, o, 2021, population, {}, EXPECTED, fiches=["1.1"])
    rows = t[t["indicateur"] == "1.1.4"].set_index("territoire")
    assert (rows["diffusion"] == "public").all()
    assert rows.loc[ARRS, "valeur"].sum() == rows.loc["62", "valeur"] == sum(places)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)), min_size=1, max_size=3))
def test_percentages_stay_within_0_and_100_when_num_le_den(pairs):
    rows = []
    for code, (a, b) in zip(ARRS, pairs):
        num, den = min(a, b), max(a, b)
        rows += [("1.1.2", "numerateur", 2021, code, num), ("1.1.2", "denominateur", 2021, code, den)]
    t = ix.compute_indicators(REF, obs(*rows), 2021, fiches=["1.1"])
    values = t[t["indicateur"] == "1.1.2"]["valeur"].dropna()
    assert ((values >= 0) & (values <= 100)).all()
    total_den = sum(max(a, b) for a, b in pairs)
    if total_den:
        assert row(t, "1.1.2")["valeur"] == pytest.approx(
            sum(min(a, b) for a, b in pairs) / total_den * 100)

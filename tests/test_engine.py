"""The indicator engine (``Engine``: values, tables, targets, milestones, completeness, statuses,
discrepancies) on a small referential built in code, with hand-computed expectations."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plancadre_eval import engine as ex
from plancadre_eval import indicators as ix
from plancadre_eval.engine import Engine
from plancadre_eval.statuses import FICHE_STATUS_RULE, FicheStatus, plan_summary
from small_plan import ARRS, BASE_OBS, D, EXPECTED, MS_OBS, REF, obs, population, row

@pytest.fixture(scope="module")
def table_2021() -> pd.DataFrame:
    return Engine(REF, BASE_OBS, population=population, public={}, expected=EXPECTED).computed_table(2021)


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
    t = Engine(REF, o).computed_table(2021, ["1.1"])
    assert row(t, "1.1.2", "622")["valeur"] == 50
    assert math.isnan(row(t, "1.1.2")["valeur"])
    assert row(t, "1.1.2")["origine"] == ix.ORIGIN_NOT_EVALUABLE
    assert "622" in row(t, "1.1.2")["commentaire"]
    with62 = pd.concat([o, obs(("1.1.2", "valeur", 2021, "62", 41))], ignore_index=True)
    assert row(Engine(REF, with62).computed_table(2021, ["1.1"]), "1.1.2")["valeur"] == 41


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
    # 623 reported no places (0): its rate is 0, not empty
    assert row(table_2021, "1.1.5", "623")["valeur"] == 0


def test_rate_without_population_is_empty_and_says_why():
    t = Engine(REF, BASE_OBS, population=None).computed_table(2021, ["1.1"])
    r = row(t, "1.1.5")
    assert math.isnan(r["valeur"]) and "Population légale" in r["commentaire"]


def test_reported_total_is_kept_and_the_discrepancy_listed():
    o = obs(("1.1.1", "valeur", 2021, "62", 30), ("1.1.1", "valeur", 2021, "621", 3),
            ("1.1.1", "valeur", 2021, "622", 7), ("1.1.1", "valeur", 2021, "623", 15))
    t = Engine(REF, o).computed_table(2021, ["1.1"])
    assert row(t, "1.1.1")["valeur"] == 30 and row(t, "1.1.1")["origine"] == ix.ORIGIN_REPORTED
    d = Engine(REF, o).discrepancies(2021)
    assert len(d) == 1
    assert d.iloc[0][["indicateur", "annee", "valeur_declaree", "valeur_attendue", "ecart"]].tolist() == \
        ["1.1.1", 2021, 30, 25, 5]
    assert "diffère" in d.iloc[0]["message"]
    agreeing = pd.concat([o[o["territoire"] != "62"], obs(("1.1.1", "valeur", 2021, "62", 25))])
    assert Engine(REF, agreeing).discrepancies().empty


def test_percentage_and_duration_discrepancies_compare_components():
    o = obs(("1.1.2", "numerateur", 2021, "62", 5), ("1.1.2", "denominateur", 2021, "62", 20),
            ("1.1.2", "numerateur", 2021, "621", 3), ("1.1.2", "denominateur", 2021, "621", 10),
            ("1.1.2", "numerateur", 2021, "622", 1), ("1.1.2", "denominateur", 2021, "622", 10),
            ("1.1.3", "valeur", 2021, "62", 34), ("1.1.3", "personnes", 2021, "62", 10),
            ("1.1.3", "valeur", 2021, "TJ-A", 10), ("1.1.3", "personnes", 2021, "TJ-A", 2),
            ("1.1.3", "valeur", 2021, "TJ-B", 40), ("1.1.3", "personnes", 2021, "TJ-B", 8),
            ("1.1.2", "numerateur", 2020, "621", 12), ("1.1.2", "denominateur", 2020, "621", 10))
    d = Engine(REF, o).discrepancies()
    assert d[["indicateur", "annee", "composante"]].values.tolist() == [
        ["1.1.2", 2020, "numerateur"],   # numerator above its denominator
        ["1.1.2", 2021, "numerateur"],   # 5 reported vs 3 + 1
    ]
    assert "supérieur au dénominateur" in d.iloc[0]["message"]


def test_discrepancies_do_not_reveal_small_counts_of_persons():
    o = obs(("1.1.1", "valeur", 2021, "621", 2), ("1.1.1", "valeur", 2021, "621", 3),
            ("1.1.4", "valeur", 2021, "621", 2), ("1.1.4", "valeur", 2021, "621", 3))
    d = Engine(REF, o).discrepancies().set_index("indicateur")
    assert math.isnan(d.loc["1.1.1", "valeur_declaree"]) and "secret" in d.loc["1.1.1", "message"]
    assert "3" not in d.loc["1.1.1", "message"].split(":")[-1]
    assert d.loc["1.1.4", "valeur_declaree"] == 3  # places: not persons
    assert Engine(REF, o, secret_threshold=0).discrepancies().set_index("indicateur").loc[
        "1.1.1", "valeur_declaree"] == 3


def test_values_reported_twice_keep_the_last_and_are_listed():
    o = obs(("2.10.1", "valeur", 2021, "62", 1), ("2.10.1", "valeur", 2021, "62", 2))
    assert row(Engine(REF, o).computed_table(2021, ["2.10"]), "2.10.1")["valeur"] == 2
    d = Engine(REF, o).discrepancies()
    assert d["nature"].tolist() == ["valeur déclarée deux fois"] and "ligne 3" in d.iloc[0]["message"]


def test_collected_structures_aggregate_to_the_departement():
    o = obs(("1.1.1", "valeur", 2021, "TJ-A", 12), ("1.1.1", "valeur", 2021, "TJ-B", 9))
    t = Engine(REF, o).computed_table(2021, ["1.1"])
    assert row(t, "1.1.1")["valeur"] == 21 and row(t, "1.1.1", "TJ-A")["niveau"] == "structure"


def test_public_series_are_taken_as_published():
    s1 = pd.DataFrame({"annee": [2020, 2020, 2020, 2021, 2021, 2021],
                       "territoire": ["62", "CGD-X", "CGD-Y"] * 2,
                       "valeur": [100.0, 10.0, 5.0, 90.0, 12.0, 6.0]})
    s1.attrs = {"source": "État 4001, édition test", "approximation": "Approximation test."}
    t = Engine(REF, None, public={"s1": s1}).computed_table(2021, ["2.1"])
    r = row(t, "2.1.1")
    assert r["valeur"] == 90 and r["valeur_n_1"] == 100 and r["evolution"] == -10
    assert r["evolution_pct"] == pytest.approx(-10.0) and r["origine"] == ix.ORIGIN_PUBLIC
    assert r["source"] == "État 4001, édition test" and r["commentaire"] == "Approximation test."
    assert row(t, "2.1.1", "CGD-X")["valeur"] == 12
    assert row(t, "2.1.1", "CGD-X")["niveau"] == "compagnie_gendarmerie"
    # gendarmerie companies cover the gendarmerie zone only: never summed, never "discrepant"
    assert Engine(REF, None, public={"s1": s1}).discrepancies().empty
    only_parts = Engine(REF, None, public={"s1": s1[s1["territoire"] != "62"]}).computed_table(2021, ["2.1"])
    assert math.isnan(row(only_parts, "2.1.1")["valeur"])
    missing = Engine(REF, None, public={}).computed_table(2021, ["2.1"])
    assert math.isnan(row(missing, "2.1.1")["valeur"])
    assert "non fournie" in row(missing, "2.1.1")["commentaire"]


def test_qualitative_and_undetermined_rows_have_no_value():
    o = obs(("1.2.2", "valeur", 2021, "62", None, "Campagne diffusée", "affiches"))
    t = Engine(REF, o).computed_table(2021, ["1.2", "2.1"])
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
def test_target_progress_table():
    tp = Engine(REF, BASE_OBS, population=population).targets(2021)
    assert tp["fiche"].tolist() == ["1.1", "2.10"]
    r = tp.iloc[0]
    assert r["valeur"] == 80 and r["reference"] == 100 and r["date_reference"] == D(2019, 1, 1)
    assert r["progression_pct"] == pytest.approx(-50.0)
    assert r["progression_attendue_pct"] == pytest.approx(1095 / 1460 * 100)
    assert r["statut"] == "en retard"
    assert tp.iloc[1]["statut"] == "atteint"


# --- milestones ---------------------------------------------------------------------------------

@pytest.mark.parametrize("year, expected", [
    (2019, {"1.2.J1": "réalisé", "1.2.J2": "à venir", "1.2.J3": "à venir"}),
    (2020, {"1.2.J1": "réalisé", "1.2.J2": "en retard", "1.2.J3": "à venir"}),
    (2021, {"1.2.J1": "réalisé", "1.2.J2": "réalisé en retard", "1.2.J3": "à venir"}),
    (2022, {"1.2.J1": "réalisé", "1.2.J2": "réalisé en retard", "1.2.J3": "réalisé"}),
])
def test_milestone_statuses_use_reports_up_to_the_year(year, expected):
    ms = Engine(REF, MS_OBS).milestones(year, "1.2")
    assert list(ms.columns[:6]) == ["fiche", "jalon", "libelle", "echeance", "realisation", "statut"]
    assert dict(zip(ms["jalon"], ms["statut"])) == expected


def test_milestone_realisation_dates():
    ms = Engine(REF, MS_OBS).milestones(2022, "1.2").set_index("jalon")
    assert ms.loc["1.2.J1", "realisation"] == D(2019, 12, 31)
    assert ms.loc["1.2.J2", "realisation"] == D(2021, 3, 15)
    assert ms.loc["1.2.J3", "realisation"] == D(2022, 6, 1)
    late_yes = obs(("1.2.J1", "valeur", 2020, "62", None, "oui"))
    assert Engine(REF, late_yes).milestones(2020, "1.2").iloc[0]["statut"] == "réalisé en retard"
    assert Engine(REF, late_yes).milestones(2019, "1.2").iloc[0]["statut"] == "en retard"
    unreported = Engine(REF, None).milestones(2022, "1.2")
    assert unreported["statut"].tolist() == ["en retard"] * 3


def test_jalon_indicator_row_carries_the_milestone_status():
    t = Engine(REF, MS_OBS).computed_table(2022, ["1.2"])
    r = row(t, "1.2.1")
    assert r["statut"] == "réalisé" and r["texte"] == "2022-06-01" and math.isnan(r["valeur"])


# --- completeness -------------------------------------------------------------------------------

def test_completeness_expects_every_territory_and_component():
    c = Engine(REF, BASE_OBS, expected=EXPECTED).completeness(2021, "1.1")
    # 1.1.1: 3 arrondissements; 1.1.2: 3 × (numérateur, dénominateur); 1.1.3: 2 tribunals × (valeur,
    # personnes) — gendarmerie companies are not "structures"; 1.1.4: 3; the rate 1.1.5 is computed
    assert len(c) == 3 + 6 + 4 + 3
    missing = c[~c["declare"]]
    assert sorted(zip(missing["indicateur"], missing["composante"], missing["territoire"])) == [
        ("1.1.2", "denominateur", "623"), ("1.1.2", "numerateur", "623")]
    assert set(c["pilote"]) == {"DDCS"}
    s = ex.completeness_summary(c)
    assert s[["attendues", "declarees", "manquantes"]].iloc[0].tolist() == [16, 14, 2]
    assert s["taux_pct"].iloc[0] == pytest.approx(14 / 16 * 100)


def test_completeness_of_milestones_once_due_and_of_texts():
    c = Engine(REF, MS_OBS, expected=EXPECTED).completeness(2020, "1.2")
    # qualitative 1.2.2 expected; J1 (2019, done before) and J2 (answered "non" in 2020) due; J3 not
    assert c[["indicateur", "declare"]].values.tolist() == [["1.2.2", False], ["1.2.J1", True],
                                                           ["1.2.J2", True]]
    assert (c["pilote"] == "Préfecture").all()


def test_completeness_needs_the_territories_of_each_level():
    with pytest.raises(ValueError, match="Territoires attendus du niveau « arrondissement »"):
        Engine(REF, BASE_OBS, expected={}).completeness(2021, "1.1")


# --- fiche status: one rule, one test per status -----------------------------------------------

def test_fiche_status_end_to_end():
    assert Engine(REF, BASE_OBS, population=population, expected=EXPECTED).status(2021, "1.1")[0] == "en retard"
    assert Engine(REF, BASE_OBS, expected=EXPECTED).status(2021, "2.10")[0] == "mise en œuvre"
    # 1.2 in 2021: the due milestones J1 and J2 are done (J2 late), no target
    assert Engine(REF, MS_OBS, expected=EXPECTED).status(2021, "1.2")[0] == "mise en œuvre"
    assert Engine(REF, MS_OBS, expected=EXPECTED).status(2020, "1.2")[0] == "en retard"
    zero = obs(("2.10.1", "valeur", 2021, "62", 0), ("2.10.1", "valeur", 2022, "62", 0))
    # no reference: the target cannot be judged before its deadline; nothing done
    assert Engine(REF, zero, expected=EXPECTED).status(2021, "2.10")[0] == "non démarrée"
    assert Engine(REF, zero, expected=EXPECTED).status(2022, "2.10")[0] == "en retard"   # deadline passed
    assert Engine(REF, zero, expected=EXPECTED).status(2019, "2.10")[0] == "données insuffisantes"
    comment = obs(("2.1.2", "valeur", 2021, "62", None, "", "Indicateur en cours de définition"))
    assert Engine(REF, comment, expected=EXPECTED).status(2021, "2.1")[0] == "en cours"
    # only a public series and an undetermined indicator, no comment: nothing to judge
    assert Engine(REF, None, expected=EXPECTED).status(2021, "2.1")[0] == "données insuffisantes"
    assert FICHE_STATUS_RULE.startswith("Statut d'une fiche")


def test_fiche_statuses_feed_the_plan_summary():
    st_ = Engine(REF, BASE_OBS, population=population, expected=EXPECTED).statuses(2021)
    assert st_["fiche"].tolist() == ["1.1", "1.2", "2.1", "2.10"]
    assert set(st_["statut"]) <= set(FicheStatus)
    assert plan_summary(st_, REF).set_index("axe").loc["Ensemble", "fiches"] == 4



def test_each_fiche_is_computed_once_per_year_and_tables_are_copies(monkeypatch):
    """The pages of a year share one engine: statuses, tables, targets and completeness asked
    again (for all fiches or one) reuse the per-fiche results; a table handed out is a copy."""
    monkeypatch.setattr(ex, "_SHARED", {})
    engine = Engine(REF, BASE_OBS, population=population, public={}, expected=EXPECTED)
    calls: list[tuple[str, int, str]] = []
    for name in ("_facts", "_fiche_targets", "_fiche_completeness", "_indicator_rows"):
        original = getattr(Engine, name)

        def counted(self, *args, _name=name, _original=original):
            year = next(a for a in args if isinstance(a, int))
            fiche = next(a for a in args if hasattr(a, "pilote_court"))
            calls.append((_name, year, fiche.id))
            return _original(self, *args)

        monkeypatch.setattr(Engine, name, counted)
    first = engine.statuses(2021)
    table = engine.table(2021)
    for _ in range(2):
        assert engine.statuses(2021).equals(first)
        engine.status(2021, "1.1")
        engine.targets(2021), engine.completeness(2021, "1.1"), engine.table(2021, "1.1")
        pd.testing.assert_frame_equal(engine.table(2021), table)
    assert sorted(c for c in calls if c[0] == "_facts") == [("_facts", 2021, f) for f in
                                                            ["1.1", "1.2", "2.1", "2.10"]]
    for name in ("_fiche_targets", "_fiche_completeness"):
        assert len([c for c in calls if c[0] == name]) == 4  # once per fiche
    n_rows = len([c for c in calls if c[0] == "_indicator_rows"])
    assert n_rows == sum(len(f.indicateurs) for f in REF.fiches)  # once per indicator
    engine.statuses(2020)
    assert len([c for c in calls if c[0] == "_facts"]) == 8  # another year is its own
    table.loc[0, "valeur"] = -1.0
    other = engine.table(2021)
    other.loc[1, "libelle"] = "modifié"
    fresh = engine.table(2021)
    assert fresh.loc[0, "valeur"] != -1.0 and fresh.loc[1, "libelle"] != "modifié"



def test_engines_built_from_the_same_inputs_share_what_they_computed(monkeypatch):
    """Each year's page context builds its engine: built again in the same thread from the same
    inputs (same content), an engine reuses the values and results already computed; other
    observations, another threshold or another thread start afresh."""
    import threading

    monkeypatch.setattr(ex, "_SHARED", {})
    calls = []
    original = Engine._facts
    monkeypatch.setattr(Engine, "_facts", lambda self, y, f: calls.append((y, f.id)) or original(self, y, f))

    def build(observations=BASE_OBS, threshold=5):
        return Engine(REF, observations, population=population, public={}, expected=EXPECTED,
                      secret_threshold=threshold)

    first = build().statuses(2021)
    assert len(calls) == 4
    again = build(BASE_OBS.copy())  # another object, same content
    assert again.statuses(2021).equals(first) and len(calls) == 4
    assert again.cells is build().cells
    changed = BASE_OBS.copy()
    changed.loc[0, "valeur"] = changed.loc[0, "valeur"] + 1
    build(changed).statuses(2021)
    build(threshold=3).statuses(2021)
    assert len(calls) == 12
    other: list = []
    thread = threading.Thread(target=lambda: other.append(build().cells))
    thread.start()
    thread.join()
    assert other[0] is not build().cells



@pytest.mark.parametrize("year", [2020, 2021])
def test_a_fiche_table_taken_from_the_years_table_is_the_one_computed_alone(monkeypatch, year):
    """Once the year's table is computed, a fiche's table is read from it (secrecy is decided
    within an indicator's rows): same rows, values, masking and column types as computed alone."""
    def build():
        monkeypatch.setattr(ex, "_SHARED", {})
        return Engine(REF, BASE_OBS, population=population, public={}, expected=EXPECTED,
                      secret_threshold=10)

    whole = build()
    assert (whole.table(year)["diffusion"] == "secret").any()
    for fiche in REF.fiches + (None,):
        ids = [fiche.id] if fiche else ["2.10", "1.1"]
        alone = build().table(year, ids)
        pd.testing.assert_frame_equal(whole.table(year, ids), alone)


# --- the analysts' table ------------------------------------------------------------------------

def test_indicator_table_columns_order_and_secrecy():
    t = Engine(REF, BASE_OBS, population=population, public={}, expected=EXPECTED).table(2021)
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
    again = Engine(REF, BASE_OBS, population=population, public={}, expected=EXPECTED).table(2021)
    pd.testing.assert_frame_equal(t, again)


def test_the_table_formats_for_readers():
    from plancadre_eval.formatting import format_indicator_table

    shown = format_indicator_table(Engine(REF, BASE_OBS, population=population, public={}, expected=EXPECTED).table(2021))
    assert row(shown, "1.1.1")["valeur"] == "25\u00a0victimes"
    assert row(shown, "1.1.1", "621")["valeur"] == "secret"
    assert row(shown, "1.1.2")["valeur"] == "20\u00a0%"
    assert row(shown, "1.1.4")["echeance_cible"] == "31 décembre 2022"
    assert row(shown, "1.1.4")["evolution_reference_pct"] == "\u221220\u00a0%"


def test_indicator_values_for_charts_span_the_years_and_are_masked():
    v = Engine(REF, BASE_OBS, population=population).values(2021, "1.1")
    assert sorted(set(v["annee"])) == [2018, 2020, 2021]
    assert set(v["indicateur"]) == {"1.1.1", "1.1.2", "1.1.3", "1.1.4", "1.1.5"}
    v20 = v[(v["indicateur"] == "1.1.1") & (v["annee"] == 2020)].set_index("territoire")
    assert v20.loc["62", "valeur"] == 20
    # 2020: 621 has 4 (primary), 622 has 6, the smallest other part (secondary)
    assert v20["motif_secret"].to_dict() == {"62": "", "621": "primaire", "622": "secondaire", "623": ""}
    assert v20.loc["623", "valeur"] == 10 and math.isnan(v20.loc["622", "valeur"])
    assert Engine(REF, BASE_OBS, population=population).values(2020, "1.1")["annee"].max() == 2020


# --- errors -------------------------------------------------------------------------------------

def test_impossible_inputs_are_french_sentences():
    with pytest.raises(ValueError, match="hors du plan"):
        Engine(REF, BASE_OBS).table(2030)
    with pytest.raises(ValueError, match="colonnes manquantes : territoire"):
        Engine(REF, BASE_OBS.drop(columns=["territoire"])).computed_table(2021)
    with pytest.raises(ValueError, match="chaînes"):
        Engine(REF, BASE_OBS.assign(territoire=62.0)).computed_table(2021)
    with pytest.raises(ValueError, match="Fiche inconnue"):
        Engine(REF, BASE_OBS).computed_table(2021, ["9.9"])
    with pytest.raises(ValueError, match="chaîne"):
        Engine(REF, BASE_OBS).computed_table(2021, [2.1])
    with pytest.raises(ValueError, match="population"):
        Engine(REF, BASE_OBS, population=42).computed_table(2021)


# --- invariants ---------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=500), min_size=3, max_size=3))
def test_parts_sum_to_the_whole_where_nothing_is_masked(places):
    o = obs(*[("1.1.4", "valeur", 2021, code, v) for code, v in zip(ARRS, places)])
    t = Engine(REF, o, population=population, public={}, expected=EXPECTED).table(2021, ["1.1"])
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
    t = Engine(REF, obs(*rows)).computed_table(2021, ["1.1"])
    values = t[t["indicateur"] == "1.1.2"]["valeur"].dropna()
    assert ((values >= 0) & (values <= 100)).all()
    total_den = sum(max(a, b) for a, b in pairs)
    if total_den:
        assert row(t, "1.1.2")["valeur"] == pytest.approx(
            sum(min(a, b) for a, b in pairs) / total_den * 100)


# --- coverage of aggregates -----------------------------------------------------------------------

def _partial_2021():
    # 1.1.4 places: 2020 complete (40 + 30 + 0 = 70, 3/3); 2021 only 621 (50) and 622 (30): 80, 2/3
    return obs(("1.1.4", "valeur", 2020, "621", 40), ("1.1.4", "valeur", 2020, "622", 30),
               ("1.1.4", "valeur", 2020, "623", 0),
               ("1.1.4", "valeur", 2021, "621", 50), ("1.1.4", "valeur", 2021, "622", 30))


def test_a_partial_aggregate_says_its_coverage_and_gets_no_evolution_nor_progression():
    e = Engine(REF, _partial_2021(), population=population, expected=EXPECTED)
    t = e.computed_table(2021, ["1.1"])
    r = row(t, "1.1.4")
    assert r["valeur"] == 80 and r["couverture"] == "2/3" and r["niveau_couverture"] == "arrondissement"
    assert r["valeur_n_1"] == 70  # shown, but not compared
    assert math.isnan(r["evolution"]) and math.isnan(r["evolution_pct"])
    assert math.isnan(r["progression_pct"]) and math.isnan(r["evolution_reference_pct"])
    assert r["statut"] == "non évaluable"
    assert "partiel (2/3 arrondissements)" in r["commentaire"] and "manquent 623" in r["commentaire"]
    # the rate built on it inherits the coverage: 80 / 200 000 × 10 000 = 4, partial too
    rate = row(t, "1.1.5")
    assert rate["valeur"] == pytest.approx(4.0) and rate["couverture"] == "2/3"
    assert math.isnan(rate["evolution"])
    # a value declared by a territory itself has no coverage
    assert row(t, "1.1.4", "621")["couverture"] == ""
    # 2020 complete: 3/3, compared as usual
    t20 = e.computed_table(2020, ["1.1"])
    assert row(t20, "1.1.4")["couverture"] == "3/3" and row(t20, "1.1.4")["valeur"] == 70
    target = e.targets(2021, "1.1").iloc[0]
    assert target["statut"] == "non évaluable" and math.isnan(target["progression_pct"])
    assert "partiel (2/3 arrondissements)" in target["motif"]


def test_a_value_declared_for_the_departement_takes_precedence_over_its_parts():
    o = pd.concat([_partial_2021(), obs(("1.1.4", "valeur", 2021, "62", 95))], ignore_index=True)
    e = Engine(REF, o, population=population, expected=EXPECTED)
    r = row(e.computed_table(2021, ["1.1"]), "1.1.4")
    assert r["valeur"] == 95 and r["couverture"] == "" and r["origine"] == ix.ORIGIN_REPORTED
    assert r["evolution"] == 95 - 70 and r["statut"] != "non évaluable"
    # parts incomplete: their sum (80) below the total is no discrepancy
    assert e.discrepancies(2021).empty


def test_a_declared_total_different_from_its_complete_parts_is_a_warning():
    o = pd.concat([_partial_2021(), obs(("1.1.4", "valeur", 2021, "623", 5),
                                        ("1.1.4", "valeur", 2021, "62", 95))], ignore_index=True)
    e = Engine(REF, o, population=population, expected=EXPECTED)
    assert row(e.computed_table(2021, ["1.1"]), "1.1.4")["valeur"] == 95
    d = e.discrepancies(2021)
    assert d[["indicateur", "valeur_declaree", "valeur_attendue", "territoires"]].values.tolist() == [
        ["1.1.4", 95, 50 + 30 + 5, 3]]


def test_an_indicator_of_the_departement_level_is_never_summed_over_its_parts():
    # 2.10.1 (niveau département) reported by two arrondissements: not a département value
    o = obs(("2.10.1", "valeur", 2021, "621", 1), ("2.10.1", "valeur", 2021, "622", 1))
    r = row(Engine(REF, o, expected=EXPECTED).computed_table(2021, ["2.10"]), "2.10.1")
    assert math.isnan(r["valeur"]) and r["couverture"] == ""


def test_levels_come_from_the_territories_module():
    cells = Engine(REF, None, expected=EXPECTED).cells
    assert cells.level("62") == "departement" and cells.level("627") == "arrondissement"
    assert cells.level("62498") == "commune" and cells.level("TJ-A") == "structure"
    assert cells.level("zzz") == "autre"

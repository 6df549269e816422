"""Statistical secrecy: primary and secondary masking, the département never masked, indicators that do
not count persons never masked, and no leak through last year's value or the reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plancadre_eval.referential import Axis, Fiche, Frequency, Indicator, Plan, Referential
from plancadre_eval.secrecy import apply_secrecy, counts_persons, secrecy_reasons

PLAN = Plan(id="p", titre="Plan test", departement="62", annee_debut=2019, annee_fin=2022,
            annee_reference=2018)


def _ind(iid, itype="comptage", personnes=True, **kw):
    return Indicator(id=iid, fiche="1.1", libelle=f"Indicateur {iid}", type=itype,
                     unite=kw.pop("unite", "personnes"), niveau="arrondissement",
                     personnes=personnes, **kw)


REF = Referential(plan=PLAN, axes=(Axis("1", "Axe"),), structures=(), fiches=(Fiche(
    id="1.1", axe="1", titre="F", objectif="o", nature="nouvelle", pilotes=("DDCS",),
    pilote_court="DDCS", partenaires=(), territoire="62", frequence=Frequency("annuelle", "Annuelle"),
    indicateurs=(
        _ind("1.1.1"),                                                   # victims (persons)
        _ind("1.1.2", personnes=False, unite="places"),                  # places: never secret
        _ind("1.1.3", "pourcentage", unite="%"),                         # share of persons
        _ind("1.1.4", "duree", unite="jours"),                           # duration of persons
        _ind("1.1.5", "taux", personnes=False, numerateur="1.1.1", base=10000),
        _ind("1.1.6", "qualitatif", personnes=True),
    )),))


def table(indicator, values, effectifs=None, year=2021, **extra):
    """Rows for the département ("62") and arrondissements 621, 622, … in that order."""
    codes = ["62"] + [f"62{i}" for i in range(1, len(values))]
    df = pd.DataFrame({
        "indicateur": indicator, "annee": year, "territoire": codes,
        "niveau": ["departement"] + ["arrondissement"] * (len(values) - 1),
        "valeur": [float(v) for v in values],
    })
    if effectifs is not None:
        df["effectif"] = [float(e) for e in effectifs]
    for k, v in extra.items():
        df[k] = [float(x) for x in v]
    return df


def reasons(df):
    return list(apply_secrecy(df, REF, 5)["motif_secret"])


def test_primary_and_secondary_masking_of_person_counts():
    # 62 = 3 + 12 + 8 + 20: 621 (3) is primary; the smallest other part, 622 is 12, 623 is 8
    out = apply_secrecy(table("1.1.1", [43, 3, 12, 8, 20]), REF, 5)
    assert list(out["motif_secret"]) == ["", "primaire", "", "secondaire", ""]
    assert list(out["diffusion"]) == ["public", "secret", "public", "secret", "public"]
    assert out["valeur"].isna().tolist() == [False, True, False, True, False]
    assert out.loc[0, "valeur"] == 43  # the département is always published


def test_threshold_is_strict_and_zero_is_not_secret():
    out = apply_secrecy(table("1.1.1", [29, 5, 4, 0, 20]), REF, 5)
    # 5 is not below 5; 4 is; 0 identifies nobody but is the smallest other part -> secondary
    assert list(out["motif_secret"]) == ["", "", "primaire", "secondaire", ""]
    assert reasons(table("1.1.1", [25, 5, 0, 20])) == ["", "", "", ""]


def test_two_primary_cells_need_no_secondary_masking():
    assert reasons(table("1.1.1", [25, 2, 3, 20])) == ["", "primaire", "primaire", ""]


def test_departement_is_never_masked_even_when_tiny():
    assert reasons(table("1.1.1", [2, 1, 1])) == ["", "primaire", "primaire"]
    only = apply_secrecy(table("1.1.1", [3]), REF, 5)
    assert only.loc[0, "diffusion"] == "public" and only.loc[0, "valeur"] == 3


def test_indicators_not_counting_persons_are_never_masked():
    assert reasons(table("1.1.2", [10, 1, 2, 7])) == ["", "", "", ""]
    assert reasons(pd.DataFrame({"indicateur": ["1.1.6", "2.2.2"], "annee": 2021,
                                 "territoire": ["621", "622"], "valeur": [1.0, 1.0]})) == ["", ""]


def test_percentage_masked_when_its_denominator_is_small_or_unknown():
    df = table("1.1.3", [50, 50, 50, 50], effectifs=[24, 4, 10, 10])
    assert reasons(df) == ["", "primaire", "secondaire", ""]  # tie 10/10 -> smallest code (622)
    # 2 persons out of 100 (2 %): the numerator is a small count of persons
    small_num = table("1.1.3", [10, 2, 15, 50], effectifs=[300, 100, 100, 100])
    assert reasons(small_num) == ["", "primaire", "secondaire", ""]
    assert reasons(table("1.1.3", [50, 5, 95], effectifs=[200, 100, 100])) == ["", "", ""]
    direct = table("1.1.3", [50, 50, 40], effectifs=[30, 20, float("nan")])
    # size unknown: cannot be checked, masked; then 621 could give it by subtraction
    assert reasons(direct) == ["", "secondaire", "primaire"]


def test_duration_and_rate_follow_the_persons_they_rest_on():
    assert reasons(table("1.1.4", [30, 20, 40], effectifs=[12, 3, 9])) == ["", "primaire", "secondaire"]
    # rate of 1.1.1 (persons): effectif = numerator count
    assert counts_persons(REF.indicator("1.1.5"), REF)
    assert reasons(table("1.1.5", [2.0, 0.1, 3.0], effectifs=[30, 2, 28])) == ["", "primaire", "secondaire"]


def test_masked_rows_lose_every_derived_number():
    df = table("1.1.1", [43, 3, 12, 8, 20], effectifs=[43, 3, 12, 8, 20],
               valeur_n_1=[40, 6, 10, 6, 18], evolution=[3, -3, 2, 2, 2],
               evolution_pct=[7.5, -50, 20, 33.3, 11.1], progression_pct=[10, 10, 10, 10, 10])
    out = apply_secrecy(df, REF, 5)
    for col in ("valeur", "effectif", "valeur_n_1", "evolution", "evolution_pct", "progression_pct"):
        assert out[col].isna().tolist() == [False, True, False, True, False], col
    assert df["valeur"].notna().all()  # a new table; the input is untouched


def test_last_years_secret_value_does_not_leak_through_a_public_row():
    # this year 621 has 9 (public) but last year it had 2 (secret): its n-1 and evolutions go
    df = table("1.1.1", [40, 9, 11, 20], effectifs=[40, 9, 11, 20],
               valeur_n_1=[30, 2, 8, 20], effectif_n_1=[30, 2, 8, 20],
               evolution=[10, 7, 3, 0], evolution_pct=[33.3, 350, 37.5, 0])
    out = apply_secrecy(df, REF, 5)
    assert list(out["diffusion"]) == ["public"] * 4
    assert out["valeur"].notna().all()
    # 621 primary in n-1, 622 (8) secondary in n-1
    assert out["valeur_n_1"].isna().tolist() == [False, True, True, False]
    assert out["evolution"].isna().tolist() == [False, True, True, False]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=2, max_size=6))
def test_published_values_of_last_year_never_reveal_a_hidden_one(pairs):
    now, before = [p[0] for p in pairs], [p[1] for p in pairs]
    df = table("1.1.1", [sum(now)] + now, effectifs=[sum(now)] + now,
               valeur_n_1=[sum(before)] + before, effectif_n_1=[sum(before)] + before)
    out = apply_secrecy(df, REF, 5)
    hidden = out["valeur_n_1"].iloc[1:].isna()
    assert int(hidden.sum()) != 1
    for value, gone in zip(before, hidden):
        if 0 < value < 5:
            assert gone
    assert out["valeur_n_1"].iloc[0] == sum(before)


def test_reported_reference_is_masked_but_not_a_published_baseline():
    df = table("1.1.1", [40, 9, 11, 20], reference=[30, 2, 8, 20], effectif_reference=[30, 2, 8, 20],
               evolution_reference_pct=[33.3, 350, 37.5, 0])
    df["origine_reference"] = ["état des lieux du plan", "valeur déclarée pour l'année de référence",
                               "valeur déclarée pour l'année de référence",
                               "valeur déclarée pour l'année de référence"]
    out = apply_secrecy(df, REF, 5)
    assert out["reference"].isna().tolist() == [False, True, True, False]
    df["origine_reference"] = "état des lieux du plan"  # published in the plan itself
    assert apply_secrecy(df, REF, 5)["reference"].notna().all()


def test_applying_twice_changes_nothing():
    once = apply_secrecy(table("1.1.1", [43, 3, 12, 8, 20]), REF, 5)
    twice = apply_secrecy(once, REF, 5)
    pd.testing.assert_frame_equal(once, twice)


def test_threshold_zero_masks_nothing_and_bad_thresholds_raise():
    assert reasons(table("1.1.1", [4, 1, 3])) == ["", "primaire", "primaire"]
    assert list(apply_secrecy(table("1.1.1", [4, 1, 3]), REF, 0)["motif_secret"]) == ["", "", ""]
    for bad in (-1, 2.5, "cinq", True):
        with pytest.raises(ValueError, match="seuil du secret"):
            apply_secrecy(table("1.1.1", [4, 1, 3]), REF, bad)
    with pytest.raises(ValueError, match="colonnes manquantes"):
        apply_secrecy(pd.DataFrame({"indicateur": ["1.1.1"]}), REF, 5)


def test_groups_are_per_indicator_year_and_level():
    a = table("1.1.1", [23, 3, 20], year=2020)
    b = table("1.1.1", [30, 10, 20], year=2021)
    out = apply_secrecy(pd.concat([a, b], ignore_index=True), REF, 5)
    assert list(out["motif_secret"]) == ["", "primaire", "secondaire", "", "", ""]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=8),
       st.integers(min_value=1, max_value=10))
def test_secondary_masking_never_leaves_a_single_masked_part(parts, threshold):
    df = table("1.1.1", [sum(parts)] + parts)
    out = secrecy_reasons(df, REF, threshold)
    masked_parts = int((out.iloc[1:] != "").sum())
    valued_parts = len(parts)
    assert out.iloc[0] == ""  # département
    if valued_parts >= 2:
        assert masked_parts != 1
    # every primary cell is a small positive count and every small positive count is masked
    for value, reason in zip(parts, out.iloc[1:]):
        if 0 < value < threshold:
            assert reason == "primaire"
        if reason == "primaire":
            assert 0 < value < threshold


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=8))
def test_non_person_parts_are_all_published_and_sum_to_the_total(parts):
    out = apply_secrecy(table("1.1.2", [sum(parts)] + parts), REF, 5)
    assert (out["diffusion"] == "public").all()
    assert math.isclose(out["valeur"].iloc[1:].sum(), out["valeur"].iloc[0])
    assert np.array_equal(out["valeur"].iloc[1:].to_numpy(), np.array(parts, dtype=float))

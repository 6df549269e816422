"""French presentation helpers: exact strings (no-break spaces U+00A0, real minus U+2212)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plancadre_eval import formatting as fm

NB = "\u00a0"
MINUS = "\u2212"


@pytest.mark.parametrize("value, decimals, expected", [
    (1030, 2, f"1{NB}030"),
    (1030.0, 2, f"1{NB}030"),
    (2.25, 2, "2,25"),
    (2.5, 2, "2,5"),
    (7, 2, "7"),
    (0, 2, "0"),
    (1234567.891, 2, f"1{NB}234{NB}567,89"),
    (999, 0, "999"),
    (10000, 0, f"10{NB}000"),
    (2.125, 2, "2,13"),       # half up, not banker's rounding
    (0.5, 0, "1"),
    (-3, 2, f"{MINUS}3"),
    (-1030.5, 1, f"{MINUS}1{NB}030,5"),
    (-0.001, 2, "0"),          # rounds to zero: no sign
    (np.int64(12), 2, "12"),
    (np.float64(81.0), 1, "81"),
])
def test_format_number(value, decimals, expected):
    assert fm.format_number(value, decimals) == expected


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA, pd.NaT, ""])
def test_missing_values_are_an_em_dash(missing):
    assert fm.format_number(missing) == "—"
    assert fm.format_percent(missing) == "—"
    assert fm.format_change(missing, percent=True) == "—"
    assert fm.format_date(missing) == "—"


def test_units_follow_a_no_break_space():
    assert fm.format_number(100, unit="places") == f"100{NB}places"
    assert fm.format_value(1030, "places") == f"1{NB}030{NB}places"
    assert fm.format_value(None, "places") == "—"
    assert fm.format_value(3, "victimes", secret=True) == "secret"


@pytest.mark.parametrize("value, decimals, expected", [
    (81, 1, f"81{NB}%"),
    (81.0, 1, f"81{NB}%"),
    (20.0, 1, f"20{NB}%"),
    (12.55, 1, f"12,6{NB}%"),
    (33.333333, 1, f"33,3{NB}%"),
    (66.6666, 0, f"67{NB}%"),
])
def test_format_percent(value, decimals, expected):
    assert fm.format_percent(value, decimals) == expected


@pytest.mark.parametrize("kwargs, expected", [
    ({"value": 12.6, "percent": True}, f"+12,6{NB}%"),
    ({"value": -3}, f"{MINUS}3"),
    ({"value": 3}, "+3"),
    ({"value": 0}, "0"),
    ({"value": 0.04, "percent": True}, f"0{NB}%"),
    ({"value": -0.04}, "0"),
    ({"value": 1500, "decimals": 0}, f"+1{NB}500"),
    ({"value": -2.5, "unit": "points"}, f"{MINUS}2,5{NB}points"),
])
def test_format_change(kwargs, expected):
    assert fm.format_change(**kwargs) == expected


@pytest.mark.parametrize("value, expected", [
    (dt.date(2019, 11, 1), "1er novembre 2019"),
    (dt.date(2018, 9, 15), "15 septembre 2018"),
    (dt.datetime(2020, 2, 29, 13, 5), "29 février 2020"),
    (pd.Timestamp("2022-08-01"), "1er août 2022"),
    ("2022-12-31", "31 décembre 2022"),
    ("01/11/2019", "1er novembre 2019"),
])
def test_format_date(value, expected):
    assert fm.format_date(value) == expected


def test_unreadable_inputs_raise_french_errors():
    with pytest.raises(ValueError, match="Date illisible"):
        fm.format_date("bientôt")
    with pytest.raises(TypeError, match="non numérique"):
        fm.format_number("douze")
    with pytest.raises(TypeError, match="non numérique"):
        fm.format_number(True)
    with pytest.raises(ValueError, match="infinie"):
        fm.format_number(math.inf)


def test_indicator_values_by_type_and_secret():
    assert fm.format_indicator_value(20.0, "pourcentage", "%") == f"20{NB}%"
    assert fm.format_indicator_value(4.0, "taux", "places pour 10 000 habitants") == \
        f"4{NB}places pour 10 000 habitants"
    assert fm.format_indicator_value(34.25, "duree", "jours") == f"34,3{NB}jours"
    assert fm.format_indicator_value(float("nan"), "comptage", "victimes", "secret") == "secret"


def test_format_indicator_table_formats_every_number_column():
    table = pd.DataFrame({
        "type": ["comptage", "pourcentage", "comptage"],
        "unite": ["places", "%", "victimes"],
        "valeur": [1030.0, 20.0, float("nan")],
        "valeur_n_1": [1000.0, 25.0, float("nan")],
        "evolution": [30.0, -5.0, float("nan")],
        "evolution_pct": [3.0, -20.0, float("nan")],
        "progression_pct": [50.0, float("nan"), float("nan")],
        "cible": [1500.0, 50.0, 10.0],
        "echeance_cible": ["2022-12-31", "", ""],
        "diffusion": ["public", "public", "secret"],
    })
    out = fm.format_indicator_table(table)
    assert list(out["valeur"]) == [f"1{NB}030{NB}places", f"20{NB}%", "secret"]
    assert list(out["evolution"]) == [f"+30{NB}places", f"{MINUS}5{NB}points", "secret"]
    assert list(out["evolution_pct"]) == [f"+3{NB}%", f"{MINUS}20{NB}%", "secret"]
    assert list(out["progression_pct"]) == [f"50{NB}%", "—", "secret"]
    assert list(out["cible"]) == [f"1{NB}500{NB}places", f"50{NB}%", f"10{NB}victimes"]
    assert list(out["echeance_cible"]) == ["31 décembre 2022", "—", "—"]
    assert table["valeur"].iloc[0] == 1030.0  # input untouched


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_integers_read_back_exactly(n):
    text = fm.format_number(n)
    assert "," not in text
    back = int(text.replace(NB, "").replace(MINUS, "-"))
    assert back == n


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_numbers_round_to_at_most_two_decimals(x):
    text = fm.format_number(x)
    whole, _, frac = text.partition(",")
    assert len(frac) <= 2 and not frac.endswith("0")
    assert abs(float(text.replace(NB, "").replace(MINUS, "-").replace(",", ".")) - x) <= 0.005 + 1e-9

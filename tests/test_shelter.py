"""plancadre_eval.evaluation.shelter: use of the dedicated shelter places (fiche 2.6's complement),
on a hand-made table."""

from __future__ import annotations

import math

import pandas as pd

from html_support import Html
from plancadre_eval.evaluation import shelter


def row(ind, code, value, diffusion="public"):
    return {"indicateur": ind, "territoire": code,
            "niveau": "departement" if code == "62" else "arrondissement",
            "valeur": value, "diffusion": diffusion}


TABLE = pd.DataFrame([
    row("2.6.5", "62", 20), row("2.6.3", "62", 90), row("2.6.2", "62", 30),
    row("2.6.5", "621", 8), row("2.6.3", "621", 40), row("2.6.2", "621", 6),
    row("2.6.5", "622", 0), row("2.6.3", "622", 0), row("2.6.2", "622", 12),
    row("2.6.5", "623", 12), row("2.6.3", "623", math.nan, "secret"), row("2.6.2", "623", 12),
    row("2.6.1", "621", 0.5),  # another indicator: ignored
])
NAMES = {"62": "Pas-de-Calais", "621": "Arras", "622": "Béthune", "623": "Boulogne"}


def test_ratios_by_territory_hand_computed():
    usage = shelter.shelter_use(TABLE, NAMES.get)
    assert list(usage["code"]) == ["62", "621", "622", "623"]
    by = usage.set_index("code")
    assert by.loc["62", "Femmes accueillies par place"] == 4.5           # 90 / 20
    assert by.loc["62", "Demandes non pourvues pour 100 places"] == 150  # 30 / 20 × 100
    assert by.loc["621", "Femmes accueillies par place"] == 5            # 40 / 8
    assert by.loc["621", "Demandes non pourvues pour 100 places"] == 75  # 6 / 8 × 100
    assert by.loc["621", "Territoire"] == "Arras" and by.loc["621", "Remarque"] == ""


def test_no_ratio_without_places_nor_from_a_secret_value():
    by = shelter.shelter_use(TABLE, NAMES.get).set_index("code")
    assert math.isnan(by.loc["622", "Femmes accueillies par place"])
    assert by.loc["622", "Remarque"] == "aucune place"
    assert math.isnan(by.loc["623", "Femmes accueillies"])
    assert math.isnan(by.loc["623", "Femmes accueillies par place"])
    assert by.loc["623", "Demandes non pourvues pour 100 places"] == 100  # 12 / 12 × 100
    assert by.loc["623", "Remarque"] == "secret"


def test_table_is_french_and_accessible():
    page = Html(shelter.shelter_use_table(shelter.shelter_use(TABLE, NAMES.get), 2021))
    table = page.tables[0]
    assert table["caption"] == "Utilisation des places d'hébergement dédiées en 2021"
    text = str(shelter.shelter_use_table(shelter.shelter_use(TABLE, NAMES.get), 2021))
    assert "4,5" in text and "—" in text and "secret" in text

"""A small referential built in code and observations on it, with hand-computed values in comments
(shared by ``test_engine.py``, ``test_statuses.py`` and ``test_export.py``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

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
    # (all three arrondissements declared: a complete sum, see test_partial_coverage_* for 2 of 3)
    ("1.1.4", "valeur", 2020, "621", 40), ("1.1.4", "valeur", 2020, "622", 30),
    ("1.1.4", "valeur", 2020, "623", 0),
    ("1.1.4", "valeur", 2021, "621", 50), ("1.1.4", "valeur", 2021, "622", 30),
    ("1.1.4", "valeur", 2021, "623", 0),
    # 2.10.1 reunions at the département
    ("2.10.1", "valeur", 2018, "62", 0), ("2.10.1", "valeur", 2021, "62", 1),
)


def row(table: pd.DataFrame, indicator: str, territory: str = "62") -> pd.Series:
    sel = table[(table["indicateur"] == indicator) & (table["territoire"] == territory)]
    assert len(sel) == 1, (indicator, territory, len(sel))
    return sel.iloc[0]


MS_OBS = obs(
    ("1.2.J1", "valeur", 2019, "62", None, "oui"),          # done by 2019-12-31 = deadline
    ("1.2.J2", "valeur", 2020, "62", None, "non"),
    ("1.2.J2", "valeur", 2021, "62", None, "15/03/2021"),   # done after 2020-06-30
    ("1.2.1", "valeur", 2022, "62", None, "2022-06-01"),    # via the jalon-type indicator
)


class FakeTerritories:
    """Territories of the small plan for page contexts: three arrondissements, names, populations."""

    arrondissements = pd.DataFrame({"arrondissement": ["621", "622", "623"], "nom": ["A", "B", "C"]})

    def name_of(self, code, referential=None):
        return {"62": "Pas-de-Calais"}.get(code, f"Territoire {code}")

    def population(self, code, year):
        return population(code, year)

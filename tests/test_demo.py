"""Demonstration data: regenerated identically from its seed, labelled, and covering the plan."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from plancadre_eval import demo
from plancadre_eval.referential import load_referential

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


@pytest.fixture(scope="module")
def ref():
    return load_referential()


@pytest.fixture(scope="module")
def rows():
    out = []
    for path in sorted(DEMO.glob("fiche-*.csv")):
        with open(path, encoding="utf-8", newline="") as fh:
            out += list(csv.DictReader(fh, delimiter=";"))
    return out


def test_committed_demo_data_is_what_the_seeded_script_generates(tmp_path, ref):
    written = demo.generate(tmp_path, seed=62, referential=ref)
    assert written, "aucun fichier généré"
    committed = sorted(p.name for p in DEMO.glob("fiche-*.csv"))
    assert sorted(p.name for p in written) == committed
    for path in written:
        assert path.read_bytes() == (DEMO / path.name).read_bytes(), (
            f"{path.name} diffère : relancez `plancadre-eval demo` et validez le résultat")


def test_demo_data_is_labelled_as_such(rows):
    assert demo.is_demo_data(DEMO)
    assert rows and all(r["source"] == demo.DEMO_SOURCE for r in rows)


def test_every_quantitative_collected_indicator_is_covered_2018_2022(ref, rows):
    seen = {(r["indicateur"].split(".numerateur")[0].split(".denominateur")[0].split(".personnes")[0], r["annee"])
            for r in rows}
    missing = []
    for ind in ref.indicators():
        if ind.collected and ind.quantitative:
            years = {y for (i, y) in seen if i == ind.id}
            if not years:
                missing.append(ind.id)
    assert not missing, f"indicateurs sans donnée de démonstration : {missing}"


def test_every_milestone_due_by_2022_is_reported(ref, rows):
    reported = {r["indicateur"] for r in rows}
    for ms in ref.milestones():
        if ms.echeance.year <= 2022 and ms.echeance.year >= 2019:
            assert ms.id in reported, ms.id


def test_day_centres_follow_the_plan(rows):
    """2.5: 5 accueils de jour in 2018 (Calais, Boulogne, Montreuil, Lens, Béthune), Arras from end 2019."""
    by_year = {}
    for r in rows:
        if r["indicateur"] == "2.5.1":
            by_year.setdefault(int(r["annee"]), {})[r["territoire"]] = int(r["valeur"])
    assert sum(by_year[2018].values()) == 5 and by_year[2018]["621"] == 0
    assert by_year[2019]["621"] == 1
    assert sum(by_year[2022].values()) == 7

"""The bilan of the plan: shares, grid, targets at their deadline, milestones, axe paragraphs (small
referential, hand-computed), and the bilan's figures against the year pages (demonstration data)."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from plancadre_eval import bilan
from plancadre_eval.engine import Engine
from plancadre_eval.evaluation import bilan as bilan_page
from plancadre_eval.evaluation import context as page_context
from plancadre_eval.statuses import plan_summary
from small_plan import BASE_OBS, EXPECTED, MS_OBS, REF, FakeTerritories, population

D = dt.date

#: fiche statuses by hand: axe 1 = 1.1, 1.2 ; axe 2 = 2.1, 2.10
STATUSES = pd.DataFrame([
    ("1.1", 2019, "non démarrée"), ("1.2", 2019, "en cours"), ("2.1", 2019, "données insuffisantes"),
    ("2.10", 2019, "en retard"),
    ("1.1", 2020, "en cours"), ("1.2", 2020, "mise en œuvre"), ("2.1", 2020, "en cours"),
    ("2.10", 2020, "en retard"),
], columns=["fiche", "annee", "statut"])


def test_linked_years_are_plan_years():
    assert bilan.parse_years("2020, 2019,", REF) == [2019, 2020]
    assert bilan.parse_years("", REF) == []
    with pytest.raises(ValueError, match="hors du plan"):
        bilan.parse_years("2030", REF)


def test_period_is_checked_in_french():
    assert bilan.check_period("2019", 2020, REF) == (2019, 2020)
    with pytest.raises(ValueError, match="hors du plan"):
        bilan.check_period(2019, 2023, REF)
    with pytest.raises(ValueError, match="précéder"):
        bilan.check_period(2021, 2020, REF)
    with pytest.raises(ValueError, match="n'est pas une année"):
        bilan.check_period("deux mille", 2020, REF)


def test_status_grid_is_fiche_by_year_in_referential_order():
    grid = bilan.status_grid(STATUSES, REF)
    assert list(grid.columns) == ["fiche", "axe", "titre", "pilote", "2019", "2020"]
    assert grid["fiche"].tolist() == ["1.1", "1.2", "2.1", "2.10"]
    assert grid.set_index("fiche").loc["1.1", ["2019", "2020"]].tolist() == ["non démarrée", "en cours"]


def test_shares_at_the_end_overall_and_per_axe():
    """2020: axe 1 = 1 mise en œuvre of 2 (50 %), 2 engaged (100 %); axe 2 = 0 of 2, 2 engaged;
    plan = 1 of 4 (25 %), 4 engaged (100 %)."""
    s = plan_summary(STATUSES[STATUSES["annee"] == 2020], REF).set_index("axe")
    assert s.loc["1", "part mises en œuvre (%)"] == 50.0
    assert s.loc["2", "part mises en œuvre (%)"] == 0.0
    assert s.loc["Ensemble", "part mises en œuvre (%)"] == 25.0
    assert s.loc["Ensemble", "part engagées (%)"] == 100.0


def test_axis_facts_count_progressions_late_fiches_and_targets():
    grid = bilan.status_grid(STATUSES, REF)
    summary = plan_summary(STATUSES[STATUSES["annee"] == 2020], REF)
    targets = pd.DataFrame({"fiche": ["2.10", "1.1", "1.1"],
                            "resultat": [bilan.REACHED, bilan.NOT_REACHED, bilan.NOT_DUE]})
    f1 = bilan.axis_facts(summary, grid, targets, "1", 2019, 2020)
    # 1.1 non démarrée -> en cours; 1.2 was already engaged; the later target is not counted
    assert f1 == {"fiches": 2, "mises_en_oeuvre": 1, "engagees": 2, "progressions": 1, "retard": 0,
                  "cibles": 1, "cibles_atteintes": 0}
    f2 = bilan.axis_facts(summary, grid, targets, "2", 2019, 2020)
    # 2.1 données insuffisantes -> en cours; 2.10 late both years
    assert f2 == {"fiches": 2, "mises_en_oeuvre": 0, "engagees": 2, "progressions": 1, "retard": 1,
                  "cibles": 1, "cibles_atteintes": 1}


def test_targets_are_read_at_their_deadline():
    """small_plan: 1.1.4 places, reference 100 (2019-01-01), target 140 by 2022-12-31; values
    2020 = 70, 2021 = 80 (sum of arrondissements); 2.10.1: target 1 by 2022, value 1 in 2021."""
    e = Engine(REF, BASE_OBS, population=population, public={}, expected=EXPECTED)
    by_year = {y: e.targets(y) for y in (2019, 2020, 2021, 2022)}
    whole = bilan.targets_at_deadline(by_year, 2019, 2022).set_index("cible")
    # deadline 2022: read in 2022, where nothing is reported -> non évaluable
    assert whole.loc["140 places", "annee_lue"] == 2022
    assert whole.loc["140 places", "resultat"] == bilan.NOT_ASSESSABLE
    mid = bilan.targets_at_deadline({y: by_year[y] for y in (2019, 2020, 2021)}, 2019, 2021)
    mid = mid.set_index("cible")
    # a bilan stopping in 2021: deadline later -> read in 2021 and marked as not due yet
    assert mid.loc["140 places", "annee_lue"] == 2021
    assert mid.loc["140 places", "valeur"] == 80 and mid.loc["140 places", "reference"] == 100
    assert mid.loc["140 places", "resultat"] == bilan.NOT_DUE


def test_milestone_outcomes_at_the_end():
    """1.2.J1 done on time (2019), 1.2.J2 due 2020-06-30 done 15/03/2021, 1.2.J3 due 2022-12-31
    done 2022-06-01."""
    e = Engine(REF, MS_OBS, population=population, public={}, expected=EXPECTED)
    end = bilan.milestone_outcomes(e.milestones(2022)).set_index("resultat")["jalons"].to_dict()
    assert end == {"réalisés à l'échéance": 2, "réalisés en retard": 1,
                   "non réalisés à l'échéance": 0, "échéance postérieure": 0}
    mid = bilan.milestone_outcomes(e.milestones(2020)).set_index("resultat")
    assert mid["jalons"].tolist() == [1, 0, 1, 1]
    assert round(mid.loc["réalisés à l'échéance", "part_pct"], 6) == round(100 / 3, 6)


def _context(tmp_path, year=2022):
    obs = pd.concat([BASE_OBS, MS_OBS], ignore_index=True)
    return page_context.Context(referential=REF, year=year, data_dir=tmp_path, secret_threshold=5,
                                territories=FakeTerritories(), observations=obs, files=(),
                                public={}, expected=EXPECTED, demo=False)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_bilan_page_sections_on_the_small_plan(tmp_path):
    ctx = _context(tmp_path)
    bd = bilan_page.bilan_data(ctx, 2019, 2022, "2021")
    # the grid is Context.fiche_statuses of each year
    for y in range(2019, 2023):
        expected = ctx.fiche_statuses(y).set_index("fiche")["statut"]
        assert bd.grid.set_index("fiche")[str(y)].to_dict() == {k: str(v) for k, v in expected.items()}
    total = bd.summary.set_index("axe").loc["Ensemble"]
    shares = _text(bilan_page.shares_section(bd))
    assert f"{int(total['mises en œuvre'])} sur 4" in shares
    header = bilan_page.bilan_header(bd)
    assert "<h1>Bilan du plan cadre 2019-2022</h1>" in header
    assert "Évaluation intermédiaire du plan cadre 2019-2020" in bilan_page.bilan_header(
        bilan_page.bilan_data(ctx, 2019, 2020))
    grid = bilan_page.status_grid_section(bd)
    assert 'href="2021/fiche-1.2.html"' in grid  # annual fiches have a page every year
    assert 'href="2020/fiche-1.2.html"' not in grid  # only the years rendered are linked
    ms = _text(bilan_page.milestones_section(bd))
    assert "3 jalons sur 3 sont réalisés, dont 1 après leur échéance" in ms
    paragraph = bilan_page.axis_paragraph(bd, "1")
    assert paragraph.startswith("Axe 1 (Axe un) : fin 2022,")
    with pytest.raises(ValueError, match="hors du plan"):
        bilan_page.bilan_data(ctx, 2018, 2022)


@pytest.mark.slow
def test_bilan_figures_agree_with_the_year_pages():
    """On the demonstration data: the bilan's grid is each year's synthesis statuses, and its
    shares at the end are the last synthesis' plan overview."""
    from plancadre_eval import parameters
    from plancadre_eval.evaluation import synthesis

    def settings(year):
        return parameters.validate(year=year, data_dir="data/demo",
                                   referentiel="data/referentiel/plan-cadre-2019-2022", secret_threshold=5)

    ctx = bilan_page.load_context(settings(2022))
    bd = bilan_page.bilan_data(ctx, 2019, 2022)
    grid = bd.grid.set_index("fiche")
    for y in (2019, 2020, 2021, 2022):
        sd = synthesis.synthesis_data(synthesis.load_context(settings(y)))
        assert grid[str(y)].to_dict() == {f: str(s) for f, s in zip(sd.statuses["fiche"], sd.statuses["statut"])}
    assert synthesis.plan_overview(sd).values.tolist() == synthesis.plan_overview(
        synthesis.SynthesisData(context=sd.context, statuses=sd.statuses, summary=bd.summary,
                                targets=sd.targets, milestones=sd.milestones,
                                completeness=sd.completeness, table=sd.table, due=sd.due)).values.tolist()


def test_the_bilan_counts_retained_statuses_and_the_committee_s_changes(tmp_path):
    import dataclasses

    from plancadre_eval.review import Review, ReviewEntry
    from plancadre_eval.statuses import FicheStatus

    ctx = _context(tmp_path)
    plain = bilan_page.bilan_data(ctx, 2019, 2022)
    assert "Aucune revue du comité de pilotage n'est enregistrée pour 2019-2022" in \
        _text(bilan_page.status_grid_section(plain))
    computed = ctx.fiche_statuses(2021).set_index("fiche")["statut"]
    other = next(s for s in FicheStatus if s != computed["2.10"])
    record = Review(year=2021, path=tmp_path / "2021.csv", sha256="0" * 64, entries={
        "2.10": ReviewEntry("2.10", str(computed["2.10"]), other, justification="motif"),
        "1.1": ReviewEntry("1.1", str(computed["1.1"]), FicheStatus(computed["1.1"]))})
    reviewed = dataclasses.replace(ctx, reviews={2021: record})
    bd = bilan_page.bilan_data(reviewed, 2019, 2022)
    grid = bd.grid.set_index("fiche")
    assert grid.loc["2.10", "2021"] == str(other)  # the retained status, in the grid and counts
    assert grid.loc["1.1", "2021"] == str(computed["1.1"])
    assert grid.loc["2.10", "2022"] == str(ctx.fiche_statuses(2022).set_index("fiche")["statut"]["2.10"])
    assert (f"Statuts retenus par le comité de pilotage (revues 2021) : 2 statut(s) examiné(s), dont "
            f"1 changé(s) par le comité : fiche 2.10 en 2021 : calculé {computed['2.10']}, retenu "
            f"{other}") in _text(bilan_page.status_grid_section(bd))


def test_trajectory_runs_from_the_baseline_to_the_last_year(tmp_path, monkeypatch):
    """1.1.4 places: baseline 100 (2019-01-01), 2020 = 40 + 30 = 70, 2021 = 50 + 30 = 80:
    from the baseline to 2021, −20 (−20 %)."""
    monkeypatch.setattr(bilan_page, "HEADLINE_INDICATORS", ("1.1.4", "9.9.9"))
    bd = bilan_page.bilan_data(_context(tmp_path, 2021), 2019, 2021)
    table = bilan_page.trajectory_table(bd)
    assert table.values.tolist() == [["Libellé 1.1.4 (places)", "1.1", "100 (2019)", "—", "70", "80",
                                      "−20 (−20\u00a0%)"]]

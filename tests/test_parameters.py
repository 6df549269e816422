"""Notebook parameters: the papermill float trap and out-of-range values give French errors."""

from __future__ import annotations

import pytest

from plancadre_eval.parameters import ParameterError, check_fiche_id, check_threshold, check_year, validate
from plancadre_eval.referential import load_referential


@pytest.fixture(scope="module")
def ref():
    return load_referential()


def test_float_fiche_id_is_refused_with_the_r_hint(ref):
    with pytest.raises(ParameterError) as exc:
        check_fiche_id(2.1, ref)
    msg = str(exc.value)
    assert "pas le nombre 2.1" in msg and "-r fiche_id 2.10" in msg and "2.10" in msg.split("Fiches valides")[1]


def test_unknown_fiche_lists_the_valid_ids(ref):
    with pytest.raises(ParameterError, match=r"fiche_id '9\.9' inconnu\. Fiches valides : 1\.1, 1\.2"):
        check_fiche_id("9.9", ref)


def test_string_ids_pass_and_2_10_stays_2_10(ref):
    assert check_fiche_id("2.10", ref) == "2.10"
    assert check_fiche_id(" 2.5 ", ref) == "2.5"


def test_year_outside_the_plan_lists_the_plan_years(ref):
    with pytest.raises(ParameterError, match="year 2030 est hors du plan. Années valides : 2019, 2020, 2021, 2022."):
        check_year(2030, ref)
    with pytest.raises(ParameterError, match="n'est pas une année"):
        check_year("deux mille", ref)
    assert check_year("2021", ref) == 2021


def test_threshold_must_be_a_positive_integer():
    assert check_threshold("5") == 5
    with pytest.raises(ParameterError, match="^secret_threshold : .* au moins égal à 1, pas 0"):
        check_threshold(0)
    with pytest.raises(ParameterError, match="^secret_threshold : .*pas 2.5"):
        check_threshold(2.5)                # int() would have truncated it to 2


def test_validate_resolves_relative_paths_from_the_project_root(ref, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = validate(year=2021, referentiel="data/referentiel/plan-cadre-2019-2022",
                 data_dir="data/referentiel", fiche_id="2.10")
    assert s.fiche.id == "2.10" and s.year == 2021 and s.data_dir.is_absolute()
    with pytest.raises(ParameterError, match="introuvable"):
        validate(year=2021, data_dir="pas/de/dossier")

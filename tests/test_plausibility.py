"""Plausibility warnings: each rule on a small hand-made table of observations (the shipped
referential: 2.6.6 counts arrondissements, 2.6.5 places by arrondissement, 2.6.4 an average
duration by arrondissement, 2.9.2 a percentage), and their lines through ``check``."""

from __future__ import annotations

import pandas as pd
import pytest

from plancadre_eval import cli
from plancadre_eval.plausibility import plausibility_warnings
from plancadre_eval.referential import load_referential

HEADER = "fiche;indicateur;annee;territoire;valeur;source;commentaire"


@pytest.fixture(scope="module")
def ref():
    return load_referential()


def obs(*rows) -> pd.DataFrame:
    """Observations from ``(indicateur, composante, annee, territoire, valeur, ligne[, fichier])``
    tuples, in file ``f.csv`` unless given."""
    records = [{"fiche": i.rsplit(".", 1)[0], "indicateur": i, "composante": c, "annee": y,
                "territoire": t, "valeur": float(v), "texte": str(v), "source": "",
                "commentaire": "", "fichier": (rest or ["f.csv"])[0], "ligne": n}
               for i, c, y, t, v, n, *rest in rows]
    return pd.DataFrame.from_records(records)


def lines(ref, table) -> list[str]:
    return [str(w) for w in plausibility_warnings(table, ref, lambda level: 7)]


def test_valid_values_give_no_warning(ref):
    table = obs(("2.6.6", "valeur", 2021, "62", 7, 2), ("2.6.5", "valeur", 2021, "621", 16, 3),
                ("2.6.5", "valeur", 2021, "622", 14, 4), ("2.6.5", "valeur", 2021, "62", 30, 5),
                ("2.6.5", "valeur", 2020, "621", 12, 6))
    assert lines(ref, table) == []


def test_more_arrondissements_than_exist(ref):
    assert lines(ref, obs(("2.6.6", "valeur", 2021, "62", 16, 9))) == [
        "f.csv:9: avertissement : '2.6.6' vaut 16 arrondissements en 2021 : le département n'en "
        "compte que 7 ; vérifiez qu'il s'agit bien du nombre de territoires concernés (et non "
        "d'une somme de places ou de dispositifs)."]


def test_share_outside_0_100_and_negative_count(ref):
    found = lines(ref, obs(("2.9.2", "valeur", 2021, "62", 130, 2),
                           ("2.6.5", "valeur", 2021, "621", -3, 3)))
    assert found == [
        "f.csv:2: avertissement : '2.9.2' vaut 130 % en 2021 : une part est comprise entre 0 et "
        "100 %.",
        "f.csv:3: avertissement : '2.6.5' vaut -3 en 2021 (territoire '621') : une valeur "
        "négative est hors de ses bornes naturelles."]


def test_year_on_year_change_beyond_the_referential_factor(ref):
    table = obs(("2.6.5", "valeur", 2020, "62", 100, 2), ("2.6.5", "valeur", 2021, "62", 30, 3),
                ("2.6.5", "valeur", 2022, "62", 80, 4),      # ×2,7: below the factor 3
                ("2.6.5", "valeur", 2020, "621", 2, 5), ("2.6.5", "valeur", 2021, "621", 8, 6))
    assert lines(ref, table) == [
        "f.csv:3: avertissement : '2.6.5' (territoire '62') passe de 100 en 2020 à 30 en 2021 : "
        "valeur divisée par 3,3 en un an (seuil : ×3 ou ÷3, facteur_plausibilite du référentiel) "
        "; vérifiez l'unité et le périmètre."]   # 2 -> 8 is a small count: not compared
    looser = ref.__class__(**{**ref.__dict__, "plan": ref.plan.__class__(
        **{**ref.plan.__dict__, "facteur_plausibilite": 4.0})})
    assert lines(looser, table) == []


def test_parts_summing_above_their_declared_total(ref):
    table = obs(("2.6.5", "valeur", 2021, "621", 16, 2), ("2.6.5", "valeur", 2021, "622", 14, 3),
                ("2.6.5", "valeur", 2021, "62", 25, 4))
    assert lines(ref, table) == [
        "f.csv:4: avertissement : '2.6.5' : le total départemental 2021 (25) est inférieur à la "
        "somme de ses 2 parties déclarées (30) ; l'un des deux est faux."]


def test_average_duration_without_its_persons(ref):
    table = obs(("2.6.4", "valeur", 2021, "621", 12.5, 2), ("2.6.4", "valeur", 2021, "622", 10, 3),
                ("2.6.4", "personnes", 2021, "622", 40, 4))
    assert lines(ref, table) == [
        "f.csv:2: avertissement : durée moyenne '2.6.4' 2021 (territoire '621') sans la ligne "
        "'2.6.4.personnes' : sans le nombre de personnes, la moyenne départementale ne peut pas "
        "être calculée ; déclarez-le."]


YEAR_ON_YEAR = ("valeur {change} en un an (seuil : ×3 ou ÷3, facteur_plausibilite du "
                "référentiel) ; vérifiez l'unité et le périmètre.")


def test_year_on_year_compares_consecutive_declared_years_only(ref):
    table = obs(("2.6.5", "valeur", 2022, "62", 40, 2),    # rows in any order: sorted by year
                ("2.6.5", "valeur", 2019, "62", 100, 3),
                ("2.6.5", "valeur", 2021, "62", 10, 4),    # 2019 -> 2021: a gap, not compared
                ("2.6.3", "valeur", 2020, "62", 10, 5),
                ("2.6.3", "valeur", 2021, "62", 30, 6),    # ×3 exactly: not beyond the factor
                ("2.6.2", "valeur", 2020, "621", 50, 7),
                ("2.6.2", "valeur", 2021, "621", 12, 8),
                ("2.6.2", "valeur", 2021, "622", 3, 9),
                ("2.6.2", "valeur", 2022, "622", 9, 10))   # 3 -> 9: small counts
    assert lines(ref, table) == [
        "f.csv:2: avertissement : '2.6.5' (territoire '62') passe de 10 en 2021 à 40 en 2022 : "
        + YEAR_ON_YEAR.format(change="multipliée par 4"),
        "f.csv:8: avertissement : '2.6.2' (territoire '621') passe de 50 en 2020 à 12 en 2021 : "
        + YEAR_ON_YEAR.format(change="divisée par 4,2")]      # 50 / 12 = 4,17 -> 4,2


def test_year_on_year_of_a_share_is_judged_on_its_components(ref):
    table = obs(("2.9.2", "valeur", 2020, "62", 10, 2), ("2.9.2", "valeur", 2021, "62", 50, 3),
                ("2.9.2", "numerateur", 2020, "62", 12, 4),
                ("2.9.2", "numerateur", 2021, "62", 60, 5),
                ("2.9.2", "denominateur", 2020, "62", 120, 6),
                ("2.9.2", "denominateur", 2021, "62", 120, 7))
    assert lines(ref, table) == [
        "f.csv:5: avertissement : '2.9.2.numerateur' (territoire '62') passe de 12 en 2020 à 60 "
        "en 2021 : " + YEAR_ON_YEAR.format(change="multipliée par 5")]


def test_several_parts_above_their_total_and_components(ref):
    table = obs(("2.6.5", "valeur", 2021, "621", 10, 2), ("2.6.5", "valeur", 2021, "622", 12.5, 3),
                ("2.6.5", "valeur", 2021, "623", 8, 4), ("2.6.5", "valeur", 2021, "62", 30, 5),
                ("2.6.5", "valeur", 2020, "621", 10, 6), ("2.6.5", "valeur", 2020, "622", 20, 7),
                ("2.6.5", "valeur", 2020, "62", 30, 8),    # parts equal to the total: right
                ("2.6.4", "personnes", 2021, "621", 40, 9),
                ("2.6.4", "personnes", 2021, "622", 35, 10),
                ("2.6.4", "personnes", 2021, "62", 70, 11),
                ("2.6.4", "valeur", 2021, "621", 30, 12),  # averages: not summed
                ("2.6.4", "valeur", 2021, "62", 10, 13))
    assert lines(ref, table) == [
        "f.csv:5: avertissement : '2.6.5' : le total départemental 2021 (30) est inférieur à la "
        "somme de ses 3 parties déclarées (30,5) ; l'un des deux est faux.",
        "f.csv:11: avertissement : '2.6.4.personnes' : le total départemental 2021 (70) est "
        "inférieur à la somme de ses 2 parties déclarées (75) ; l'un des deux est faux."]


def test_duration_needs_persons_of_the_same_year_and_territory(ref):
    table = obs(("2.6.4", "valeur", 2021, "62", 12, 2), ("2.6.4", "personnes", 2020, "62", 40, 3),
                ("2.6.4", "valeur", 2021, "621", 12, 4),
                ("2.6.4", "personnes", 2021, "622", 30, 5),
                ("2.6.4", "valeur", 2021, "622", 10, 6))
    missing = ("sans la ligne '2.6.4.personnes' : sans le nombre de personnes, la moyenne "
               "départementale ne peut pas être calculée ; déclarez-le.")
    assert lines(ref, table) == [
        f"f.csv:2: avertissement : durée moyenne '2.6.4' 2021 (territoire '62') {missing}",
        f"f.csv:4: avertissement : durée moyenne '2.6.4' 2021 (territoire '621') {missing}"]


def test_negative_values_and_several_warnings_on_one_row(ref):
    table = obs(("2.9.2", "numerateur", 2021, "62", -2.5, 2),
                ("2.9.2", "valeur", 2021, "62", -5, 3), ("2.6.4", "valeur", 2021, "621", -1, 4))
    assert lines(ref, table) == [
        "f.csv:2: avertissement : '2.9.2.numerateur' vaut -2,5 en 2021 (territoire '62') : une "
        "valeur négative est hors de ses bornes naturelles.",
        "f.csv:3: avertissement : '2.9.2' vaut -5 en 2021 (territoire '62') : une valeur "
        "négative est hors de ses bornes naturelles.",
        "f.csv:3: avertissement : '2.9.2' vaut -5 % en 2021 : une part est comprise entre 0 et "
        "100 %.",
        "f.csv:4: avertissement : '2.6.4' vaut -1 en 2021 (territoire '621') : une valeur "
        "négative est hors de ses bornes naturelles.",
        "f.csv:4: avertissement : durée moyenne '2.6.4' 2021 (territoire '621') sans la ligne "
        "'2.6.4.personnes' : sans le nombre de personnes, la moyenne départementale ne peut pas "
        "être calculée ; déclarez-le."]


def test_territory_count_bound_by_level_for_the_departement_only(ref):
    asked = []

    def count_of(level):
        asked.append(level)
        return {"arrondissement": 7, "commune": 890}[level]

    table = obs(("2.6.6", "valeur", 2021, "62", 7, 2), ("2.6.6", "valeur", 2022, "62", 8, 3),
                ("2.17.4", "valeur", 2021, "621", 9, 4),   # not the département: no bound
                ("2.17.4", "valeur", 2022, "62", 6, 5),
                ("2.11.1", "valeur", 2021, "62", 891, 6))
    found = [str(w) for w in plausibility_warnings(table, ref, count_of)]
    check = ("vérifiez qu'il s'agit bien du nombre de territoires concernés (et non d'une somme de "
             "places ou de dispositifs).")
    assert found == [
        f"f.csv:3: avertissement : '2.6.6' vaut 8 arrondissements en 2022 : le département n'en "
        f"compte que 7 ; {check}",
        f"f.csv:6: avertissement : '2.11.1' vaut 891 communes en 2021 : le département n'en "
        f"compte que 890 ; {check}"]
    assert asked == ["arrondissement", "commune"]   # once per level, not once per row


def test_warnings_sorted_by_file_then_row_with_displayed_paths(ref):
    table = obs(("2.6.5", "valeur", 2021, "621", -3, 2, "b.csv"),
                ("2.6.5", "valeur", 2021, "622", -4, 9, "a.csv"),
                ("2.6.5", "valeur", 2021, "623", -5, 1, "b.csv"))
    found = [str(w) for w in plausibility_warnings(table, ref, lambda level: 7,
                                                    {"a.csv": "collecte/a.csv"})]
    assert [line.split(" : ", 1)[0] for line in found] == [
        "collecte/a.csv:9: avertissement", "b.csv:1: avertissement", "b.csv:2: avertissement"]


def test_check_prints_warnings_and_fails_only_with_strict(tmp_path, capsys):
    path = tmp_path / "fiche-2.6.csv"
    path.write_text(HEADER + "\n2.6;2.6.6;2020;62;6;DDETS;\n2.6;2.6.6;2021;62;16;DDETS;\n",
                    encoding="utf-8")
    assert cli.main(["check", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{path}:3: avertissement : '2.6.6' vaut 16 arrondissements en 2021 : le département "
        "n'en compte que 7 ; vérifiez qu'il s'agit bien du nombre de territoires concernés (et "
        "non d'une somme de places ou de dispositifs).",
        "OK : 1 fichier, 2 observations, 1 avertissement à vérifier."]
    assert cli.main(["check", "--strict", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith(f"{path}:3: avertissement : ")
    assert "1 avertissement (--strict)" in captured.err

"""The collection template: rows per pilot and level, the workbook, ``plancadre-eval template``;
a filled template passes ``check``. Miniature referential and fake territories as in
``test_collection.py``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import openpyxl
import pytest
from collection_support import ARRONDISSEMENTS, MINI, TERR

from plancadre_eval import cli, collection, template
from plancadre_eval.collection import load_collection, read_collection
from plancadre_eval.referential import load_referential
from plancadre_eval.template import template_rows, write_template


@pytest.fixture(scope="module")
def ref():
    return load_referential(MINI)


@pytest.fixture
def fake_territories(monkeypatch):
    monkeypatch.setattr(collection, "_default_territories", lambda: TERR)
    monkeypatch.setattr(template, "_default_territories", lambda: TERR)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_template_rows_for_one_pilot(ref):
    rows = template_rows(ref, TERR, 2021, "ddcs")           # case-insensitive
    ids = rows["indicateur"].tolist()
    # 1.4.1 (62) + 3 ids of 1.4.2 x 7 arrondissements + 1.4.J1 + 2.5.1 x 7 + 2.5.J1 = 31 rows;
    # not the taux 1.4.3, not the public 2.5.2, not 2.5.3 (its milestone 2.5.J1 has a row)
    assert len(rows) == 1 + 21 + 1 + 7 + 1
    assert ids.count("1.4.2.numerateur") == ids.count("1.4.2.denominateur") == 7
    assert {"1.4.3", "2.5.2", "2.5.3"}.isdisjoint(ids)
    assert rows.loc[rows["indicateur"] == "2.5.1", "territoire"].tolist() == ARRONDISSEMENTS
    assert rows.loc[rows["indicateur"] == "1.4.J1", "territoire"].tolist() == ["62"]
    assert set(rows["annee"]) == {2021} and set(rows["valeur"]) == {""}
    assert rows.loc[rows["indicateur"] == "1.4.2.numerateur", "libelle"].iloc[0] == \
        "Participants satisfaits"


def test_template_territories_by_level(ref):
    rows = template_rows(ref, TERR, 2020)
    terr = rows.groupby("indicateur", sort=False)["territoire"].apply(list).to_dict()
    assert terr["2.10.1"] == ["CGD-ARRAS", "CGD-CALAIS"]
    assert terr["2.1.1"] == terr["2.1.1.personnes"] == ["TJ-ARRAS"]
    assert terr["2.1.2"] == ["62"]
    assert terr["2.1.4"] == ["62041"]


def test_template_refuses_an_unknown_pilot_and_year(ref):
    with pytest.raises(ValueError, match=r"^Service pilote 'DDSC' inconnu ; services pilotes du "
                       r"référentiel : DDCS, Gendarmerie, Parquets, DDETS \(= DDCS\)\. Vouliez-vous dire "
                       r"'DDCS' \?$"):
        template_rows(ref, TERR, 2021, "DDSC")
    with pytest.raises(ValueError, match=r"^Année 2030 hors du plan ; attendu une année entre "
                       r"2018 et 2022\.$"):
        template_rows(ref, TERR, 2030)


def _fill(path: Path, ref) -> int:
    """Fill every row of a template with a valid value; returns the number of rows filled."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Collecte"]
    head = [c.value for c in ws[1]]
    ind_col, val_col = head.index("indicateur"), head.index("valeur")
    types = {i.id: i.type for i in ref.indicators()}
    n = 0
    for row in ws.iter_rows(min_row=2):
        ident = row[ind_col].value
        if ident.endswith(".numerateur"):
            value = 3
        elif ident.endswith((".denominateur", ".personnes")):
            value = 10
        elif ".J" in ident or types[ident] == "jalon":
            value = "oui"
        elif types[ident] == "date":
            value = "15/06/2021"
        elif types[ident] == "qualitatif":
            value = "Bilan : le dispositif fonctionne."
        elif types[ident] == "pourcentage":
            value = "30 %"
        else:
            value = 12.5
        row[val_col].value = value
        n += 1
    wb.save(path)
    return n


def test_filled_template_passes_check(tmp_path, ref):
    path = write_template(ref, TERR, 2021, tmp_path / "modele.xlsx")
    assert load_collection(path, ref, TERR).observations.empty   # unfilled: nothing reported
    n = _fill(path, ref)
    obs = load_collection(path, ref, TERR).observations
    assert len(obs) == n == len(template_rows(ref, TERR, 2021))
    assert obs["ligne"].tolist() == list(range(2, n + 2))


def test_template_workbook_layout(tmp_path, ref):
    path = write_template(ref, TERR, 2021, tmp_path / "modele.xlsx", "DDCS")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:2] == ["Collecte", "Mode d'emploi"]
    ws = wb["Collecte"]
    head = [c.value for c in ws[1]]
    assert head[:2] == ["fiche", "indicateur"] and "libelle" in head and "valeur" in head
    assert all(isinstance(c.value, str) for c in ws["A"][1:])          # ids stay text
    validations = {dv.formula1: dv for dv in ws.data_validations.dataValidation}
    assert str(validations['"oui,non"'].sqref) == "I24 I32"               # the two milestones
    lists = wb["Listes"]
    assert lists.sheet_state == "hidden"
    column = {lists.cell(1, j).value: j for j in range(1, lists.max_column + 1)}
    arr = column["arrondissement"]
    letter = openpyxl.utils.get_column_letter(arr)
    assert [lists.cell(r, arr).value for r in range(2, 10)] == ["62"] + ARRONDISSEMENTS
    dv = validations[f"=Listes!${letter}$2:${letter}$9"]
    assert str(dv.sqref) == "F3:F23 F25:F31" and dv.showErrorMessage
    help_text = "\n".join(str(r[0].value) for r in wb["Mode d'emploi"].iter_rows() if r[0].value)
    assert "valeur laissée vide" in help_text and "numérateur" in help_text


def test_xlsx_input_is_not_modified(tmp_path, ref):
    out = write_template(ref, TERR, 2021, tmp_path / "g.xlsx", "Gendarmerie")
    before = sha256(out)
    read_collection(out, ref, TERR)
    assert sha256(out) == before


# --- command line ---------------------------------------------------------------------------------------

def test_cli_template_then_check(tmp_path, capsys, fake_territories):
    out = tmp_path / "sous" / "gendarmerie-2021.xlsx"
    assert cli.main(["template", "--year", "2021", "--pilote", "gendarmerie", "--out", str(out),
                     "--referentiel", str(MINI)]) == 0
    assert capsys.readouterr().out == (
        f"Gabarit écrit : {out} (4 lignes à renseigner, 1 fiche : 2.10).\n")
    assert cli.main(["check", str(out), "--referentiel", str(MINI)]) == 0
    assert capsys.readouterr().out == "OK : 1 fichier, 0 observation.\n"


def test_cli_template_unknown_pilot_exits_2(tmp_path, capsys, fake_territories):
    out = tmp_path / "x.xlsx"
    assert cli.main(["template", "--year", "2021", "--pilote", "Mairie", "--out", str(out),
                     "--referentiel", str(MINI)]) == 2
    assert capsys.readouterr().err == ("Service pilote 'Mairie' inconnu ; services pilotes du "
                                       "référentiel : DDCS, Gendarmerie, Parquets, DDETS (= DDCS).\n")
    assert not out.exists()


def test_cli_template_needs_an_xlsx_and_a_year(tmp_path, capsys, fake_territories):
    assert cli.main(["template", "--year", "2021", "--out", str(tmp_path / "x.csv"),
                     "--referentiel", str(MINI)]) == 2
    assert "doit se terminer par .xlsx" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["template", "--out", str(tmp_path / "x.xlsx")])
    assert exit_.value.code == 2


def test_renamed_pilot_is_found_under_its_new_name(ref):
    """The DDCS became the DDETS in 2021: ``--pilote DDETS`` gives the DDCS's fiches."""
    from plancadre_eval.pilots import pilot_label, pilot_named

    assert pilot_named(ref, "ddets") == pilot_named(ref, "DDCS") == "DDCS"
    assert pilot_label(ref, "DDCS") == "DDCS (aujourd'hui DDETS)"
    pd_equal = template_rows(ref, TERR, 2021, "DDETS").equals(template_rows(ref, TERR, 2021, "DDCS"))
    assert pd_equal


def test_template_lists_only_the_fiches_due_that_year(tmp_path):
    import shutil

    folder = tmp_path / "ref"
    shutil.copytree(MINI, folder)
    fiches = folder / "fiches-test.yaml"
    text = fiches.read_text(encoding="utf-8")
    start = text.index('- id: "2.5"')
    end = text.index("frequence:", start)
    line_end = text.index("\n", end)
    fiches.write_text(text[:end] + "frequence: {code: triennale, libelle: Triennale}"
                      + text[line_end:], encoding="utf-8")
    tri = load_referential(folder)
    assert set(template_rows(tri, TERR, 2021, "DDCS")["fiche"]) == {"1.4"}
    assert set(template_rows(tri, TERR, 2022, "DDCS")["fiche"]) == {"1.4", "2.5"}


def test_template_shows_last_year_value_and_skips_milestones_already_done(tmp_path, ref):
    write = tmp_path / "f.csv"
    write.write_text("fiche;indicateur;annee;territoire;valeur\n"
                     "1.4;1.4.1;2020;62;1 030\n1.4;1.4.1;2019;62;900\n"
                     "1.4;1.4.2.numerateur;2020;621;12\n1.4;1.4.J1;2019;62;2019-06-30\n"
                     "2.5;2.5.J1;2020;62;non\n", encoding="utf-8")
    obs = load_collection(write, ref, TERR).observations
    rows = template_rows(ref, TERR, 2021, "DDCS", obs)
    shown = {(i, t): v for i, t, v in zip(rows["indicateur"], rows["territoire"],
                                          rows["valeur_annee_precedente"]) if v}
    assert shown == {("1.4.1", "62"): "1 030", ("1.4.2.numerateur", "621"): "12",
                     ("2.5.J1", "62"): "non"}
    ids = rows["indicateur"].tolist()
    assert "1.4.J1" not in ids and "2.5.J1" in ids   # done in 2019: not asked again

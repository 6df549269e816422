"""Collection files: French-Excel reading, one exact message per class of bad input, check CLI.

Everything runs against the miniature referential ``tests/fixtures/referentiel-mini`` (one fiche per
indicator type) and a fake territories object, so that these tests depend neither on the shipped
plan nor on the INSEE files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from collection_support import (
    ARRONDISSEMENTS,
    BAD,
    HEADER,
    MINI,
    TERR,
    FakeTerritories,
    write_csv,
)
from hypothesis import strategies as st

from plancadre_eval import cli, collection
from plancadre_eval.collection import (
    OBSERVATION_COLUMNS,
    CollectionError,
    Problem,
    load_collection,
    parse_date,
    parse_number,
    read_collection,
)
from plancadre_eval.referential import load_referential


@pytest.fixture(scope="module")
def ref():
    return load_referential(MINI)


def lines(paths, ref) -> list[str]:
    return [str(p) for p in read_collection(paths, ref, TERR)[1]]


def one_line(tmp_path, ref, *rows: str) -> str:
    """The single problem line of a CSV holding ``rows`` (path shown as ``F``)."""
    path = write_csv(tmp_path, list(rows))
    found = lines(path, ref)
    assert len(found) == 1, found
    return found[0].replace(str(path), "F")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the fixture referential ---------------------------------------------------------------------

def test_mini_referential_covers_every_indicator_type(ref):
    types = {i.type for i in ref.indicators()}
    assert {"comptage", "pourcentage", "duree", "jalon", "qualitatif", "taux", "a_determiner",
            "date"} <= types
    assert any(i.source == "public" for i in ref.indicators())


# --- reading valid files -------------------------------------------------------------------------

def test_valid_csv_gives_the_observation_table(tmp_path, ref):
    path = write_csv(tmp_path, [
        "1.4;1.4.1;2021;62;1 030;tableau de bord;provisoire",
        "1.4;1.4.2.numerateur;2021;621;12;;",
        "1.4;1.4.2.denominateur;2021;621;40;;",
        "1.4;1.4.J1;2021;62;Oui;;",
        "2.1;2.1.2;2021;62;;;Bilan positif",        # qualitative text in commentaire
        "2.5;2.5.1;2021;621;;;pas de donnée",       # empty valeur: not reported
        ";;;;;;",                                   # blank row
    ], name="fiche-1.4.csv")
    coll = load_collection(path, ref, TERR)
    obs = coll.observations
    assert list(obs.columns) == list(OBSERVATION_COLUMNS)
    assert obs["ligne"].tolist() == [2, 3, 4, 5, 6]
    assert obs["indicateur"].tolist() == ["1.4.1", "1.4.2", "1.4.2", "1.4.J1", "2.1.2"]
    assert obs["composante"].tolist() == ["valeur", "numerateur", "denominateur", "valeur", "valeur"]
    assert obs["valeur"].iloc[:3].tolist() == [1030.0, 12.0, 40.0]
    assert math.isnan(obs["valeur"].iloc[3])
    assert obs["texte"].tolist() == ["1 030", "12", "40", "oui", "Bilan positif"]
    assert obs["annee"].dtype == "int64" and obs["ligne"].dtype == "int64"
    assert set(obs["fichier"]) == {"fiche-1.4.csv"}
    assert obs.loc[0, "source"] == "tableau de bord" and obs.loc[0, "commentaire"] == "provisoire"
    assert coll.files == [(str(path), sha256(path))]


def _key_values(obs: pd.DataFrame) -> pd.DataFrame:
    return obs[["fiche", "indicateur", "composante", "annee", "territoire", "valeur", "source",
                "commentaire", "ligne"]].reset_index(drop=True)


def test_windows_1252_excel_export_reads_like_the_utf8_original(ref):
    original = load_collection(BAD / "original-utf8.csv", ref, TERR).observations
    export = load_collection(BAD / "export-excel-cp1252.csv", ref, TERR).observations
    assert len(original) == 7
    pd.testing.assert_frame_equal(_key_values(export), _key_values(original))
    # "1 030" -> 1030, "12 %" -> 12, "12,5" -> 12.5, "1 250 000" (non-breaking spaces) -> 1250000
    assert export["valeur"].iloc[:6].tolist() == [1030.0, 12.0, 100.0, 12.0, 12.5, 1250000.0]
    assert export.loc[0, "commentaire"] == "Chiffre d’été 2021, cœur de cible"  # ’ and œ: cp1252 only
    # milestone dates are normalised: 15/12/2019 and 2019-12-15 are the same answer
    assert export["texte"].iloc[6] == original["texte"].iloc[6] == "2019-12-15"


def test_utf8_bom_and_comma_separator(ref):
    obs = load_collection(BAD / "bom-virgule.csv", ref, TERR).observations
    assert obs["fiche"].tolist() == ["1.4", "2.1"]         # no BOM glued to the first header
    assert obs["valeur"].tolist() == [1030.0, 12.5]
    assert obs.loc[0, "commentaire"] == "Chiffre été 2021"


def test_tab_separated_file(tmp_path, ref):
    path = tmp_path / "t.csv"
    path.write_text(HEADER.replace(";", "\t") + "\n1.4\t1.4.1\t2021\t62\t7,5\t\t\n", encoding="utf-8")
    assert load_collection(path, ref, TERR).observations["valeur"].tolist() == [7.5]


def test_header_names_are_matched_leniently_and_extra_columns_ignored(tmp_path, ref):
    path = write_csv(tmp_path, ["1.4;Total;1.4.1;2021;62;5"],
                     header="Fiche;libelle;Indicateur;Année;Territoire;Valeur")
    obs = load_collection(path, ref, TERR).observations
    assert obs[["indicateur", "annee", "valeur"]].values.tolist() == [["1.4.1", 2021, 5.0]]
    assert obs.loc[0, "source"] == "" and obs.loc[0, "commentaire"] == ""


def test_xlsx_cells_are_read_as_text_with_real_sheet_rows(tmp_path, ref):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Collecte"
    ws.append(["fiche", "indicateur", "libelle", "annee", "territoire", "valeur"])
    ws.append([1.4, "1.4.1", "x", 2021.0, 62, 1030.0])        # numbers typed by Excel
    ws.append([None] * 6)                                     # blank sheet row 3
    ws.append(["1.4", "1.4.2", "", 2021, "621", 0.125])       # row 4: percentage cell
    ws.cell(row=4, column=6).number_format = "0.0%"
    ws.append(["1.4", "1.4.J1", "", 2021, "62", dt.datetime(2019, 11, 30)])
    ws.append(["2.1", "2.1.2", "", 2021, "62", True])         # Excel boolean
    wb.create_sheet("Autre").append(["rien"])
    path = tmp_path / "c.xlsx"
    wb.save(path)
    obs = load_collection(path, ref, TERR).observations
    assert obs["ligne"].tolist() == [2, 4, 5, 6]
    assert obs["fiche"].tolist() == ["1.4", "1.4", "1.4", "2.1"]
    assert obs["annee"].tolist() == [2021] * 4
    assert obs["territoire"].tolist() == ["62", "621", "62", "62"]
    assert obs["valeur"].iloc[:2].tolist() == [1030.0, 12.5]
    assert obs["texte"].iloc[2:].tolist() == ["2019-11-30", "oui"]


def test_xlsx_fiche_typed_as_a_number_cannot_be_recovered(tmp_path, ref):
    """Excel turns 2.10 into 2.1: compared as text, the row is refused with a hint."""
    wb = openpyxl.Workbook()
    wb.active.append(list(collection.REQUIRED_COLUMNS))
    wb.active.append([2.10, "2.10.1", 2021, "CGD-ARRAS", 4])
    path = tmp_path / "g.xlsx"
    wb.save(path)
    assert lines(path, ref) == [
        f"{path}:2: colonne 'fiche': l'indicateur '2.10.1' appartient à la fiche '2.10', pas à la "
        "fiche '2.1' ; Excel a pu lire '2.10' comme le nombre 2,1 : mettez la colonne fiche au "
        "format Texte."
    ]


def test_folders_are_searched_recursively_skipping_readme_hidden_and_lock_files(tmp_path, ref):
    (tmp_path / "sous-dossier").mkdir()
    (tmp_path / ".cache").mkdir()
    write_csv(tmp_path, ["1.4;1.4.1;2021;62;1"], name="a.csv")
    write_csv(tmp_path / "sous-dossier", ["2.5;2.5.1;2021;621;2"], name="b.CSV")
    for junk in ("README.csv", ".cache/x.csv", ".cachee.csv", "~$a.xlsx"):
        (tmp_path / junk).write_bytes(b"\x00junk")
    (tmp_path / "notes.txt").write_text("ignoré", encoding="utf-8")
    coll = load_collection(tmp_path, ref, TERR)
    assert coll.observations["fichier"].tolist() == ["a.csv", "sous-dossier/b.CSV"]
    assert [Path(p).name for p, _ in coll.files] == ["a.csv", "b.CSV"]


# --- one exact message per class of bad input: whole files ----------------------------------------

@pytest.mark.parametrize("name, message", [
    ("vide.csv", "fichier vide : attendu une ligne d'en-tête (fiche, indicateur, annee, territoire, "
                 "valeur) puis une ligne par observation."),
    ("entete-seule.csv", "fichier vide : aucune ligne de données sous l'en-tête."),
    ("binaire.csv", "fichier illisible : contenu binaire, ce n'est pas un fichier CSV ; "
                    "enregistrez-le depuis Excel au format « CSV (séparateur : point-virgule) » ou "
                    "« Classeur Excel (.xlsx) »."),
    ("classeur-renomme.csv", "fichier illisible : c'est un classeur Excel enregistré avec "
                             "l'extension .csv ; renommez-le en .xlsx."),
    ("encodage-inconnu.csv", "fichier illisible : encodage inconnu (ni UTF-8 ni Windows-1252) ; "
                             "enregistrez-le depuis Excel au format « CSV UTF-8 » ou « CSV "
                             "(séparateur : point-virgule) »."),
    ("corrompu.xlsx", "fichier illisible : classeur XLSX endommagé ou qui n'est pas au format "
                      "Excel (.xlsx) ; ouvrez-le dans Excel et enregistrez-le de nouveau."),
])
def test_unreadable_or_empty_file(ref, name, message):
    path = BAD / name
    assert lines(path, ref) == [f"{path}: {message}"]


def test_file_that_is_not_a_table(ref):
    path = BAD / "pas-un-tableau.csv"
    assert lines(path, ref) == [
        f"{path}:1: ce fichier n'est pas un tableau de collecte : aucune des colonnes attendues "
        "(fiche, indicateur, annee, territoire, valeur) sur la première ligne ; trouvé : 'Bonjour,'."
    ]


def test_missing_column_names_it_and_the_columns_found(ref):
    path = BAD / "colonnes-manquantes.csv"
    assert lines(path, ref) == [
        f"{path}:1: colonne 'territoire': colonne obligatoire absente ; colonnes trouvées : "
        "fiche, indicateur, annee, valeur, libelle."
    ]


def test_duplicate_column(tmp_path, ref):
    path = write_csv(tmp_path, ["1.4;1.4.1;2021;62;1;2"],
                     header="fiche;indicateur;annee;territoire;valeur;valeur")
    assert lines(path, ref) == [
        f"{path}:1: colonne 'valeur': colonne en double (cellules 5 et 6 de l'en-tête) ; "
        "gardez-en une seule."
    ]


def test_comma_separated_file_with_unquoted_decimal_comma(tmp_path, ref):
    path = write_csv(tmp_path, ["1.4,1.4.1,2021,62,12,5", "1.4,1.4.1,2022,62,\"12,5\""],
                     header="fiche,indicateur,annee,territoire,valeur")
    coll, problems = read_collection(path, ref, TERR)
    assert coll.observations["valeur"].tolist() == [12.5]     # never 12 from "12,5" cut in two
    assert [str(p) for p in problems] == [
        f"{path}:2: la ligne contient 6 cellules pour 5 colonnes d'en-tête ; dans un fichier "
        "séparé par des virgules, une virgule décimale coupe le nombre en deux : utilisez le "
        "point-virgule comme séparateur ou entourez le nombre de guillemets."
    ]


def test_unsupported_extension_missing_path_and_empty_folder(tmp_path, ref):
    xls = tmp_path / "vieux.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "vide").mkdir()
    assert lines([xls, tmp_path / "absent.csv", tmp_path / "vide"], ref) == [
        f"{tmp_path / 'absent.csv'}: fichier ou dossier introuvable.",
        f"{tmp_path / 'vide'}: dossier sans fichier de collecte (.csv ou .xlsx).",
        f"{xls}: fichier au format non pris en charge (.xls) ; attendu un fichier .csv ou .xlsx.",
    ]


# --- one exact message per class of bad input: rows ------------------------------------------------

def test_unknown_fiche_suggests_the_closest(tmp_path, ref):
    assert one_line(tmp_path, ref, "2.50;2.5.1;2021;621;3") == \
        "F:2: colonne 'fiche': fiche '2.50' inconnue ; vouliez-vous dire '2.5' ?"


def test_unknown_fiche_without_close_match_lists_the_fiches(tmp_path, ref):
    assert one_line(tmp_path, ref, "xyz;2.5.1;2021;621;3") == \
        "F:2: colonne 'fiche': fiche 'xyz' inconnue ; fiches du plan : 1.4, 2.1, 2.5, 2.10."


def test_empty_fiche(tmp_path, ref):
    assert one_line(tmp_path, ref, ";2.5.1;2021;621;3") == (
        "F:2: colonne 'fiche': vide ; attendu l'identifiant de la fiche, écrit comme dans le plan "
        "(ex. '2.10').")


def test_unknown_indicator_suggests_the_closest(tmp_path, ref):
    assert one_line(tmp_path, ref, "2.5;2.5.11;2021;621;3") == \
        "F:2: colonne 'indicateur': indicateur '2.5.11' inconnu ; vouliez-vous dire '2.5.1' ?"


def test_component_that_the_indicator_type_does_not_have(tmp_path, ref):
    assert one_line(tmp_path, ref, "1.4;1.4.1.numerateur;2021;62;3") == (
        "F:2: colonne 'indicateur': l'indicateur '1.4.1' est de type comptage et n'a pas de ligne "
        "'.numerateur' ; attendu '1.4.1'.")


def test_indicator_of_another_fiche(tmp_path, ref):
    assert one_line(tmp_path, ref, "1.4;2.5.1;2021;621;3") == (
        "F:2: colonne 'fiche': l'indicateur '2.5.1' appartient à la fiche '2.5', pas à la fiche "
        "'1.4'.")


@pytest.mark.parametrize("row, message", [
    ("2.5;2.5.2;2021;62;3", "l'indicateur '2.5.2' n'est pas collecté : il est calculé depuis la "
                            "statistique publique (série etat4001_cbv) ; supprimez cette "
                            "ligne."),
    ("1.4;1.4.3;2021;62;3", "l'indicateur '1.4.3' n'est pas collecté : c'est un taux calculé "
                            "depuis l'indicateur '1.4.1' et la population légale ; déclarez "
                            "'1.4.1' à la place."),
    ("2.1;2.1.3;2021;62;3", "l'indicateur '2.1.3' n'est pas collecté : le plan renvoie sa "
                            "définition à plus tard (à déterminer) ; supprimez cette ligne."),
])
def test_indicators_that_are_not_collected(tmp_path, ref, row, message):
    assert one_line(tmp_path, ref, row) == f"F:2: colonne 'indicateur': {message}"


@pytest.mark.parametrize("year, message", [
    ("2017", "année 2017 hors du plan ; attendu une année entre 2018 et 2022."),
    ("2021,5", "'2021,5' n'est pas une année ; attendu un entier entre 2018 et 2022."),
    ("deux mille", "'deux mille' n'est pas une année ; attendu un entier entre 2018 et 2022."),
    ("", "vide ; attendu une année entre 2018 et 2022."),
])
def test_bad_year(tmp_path, ref, year, message):
    assert one_line(tmp_path, ref, f"1.4;1.4.1;{year};62;3") == f"F:2: colonne 'annee': {message}"


def test_year_written_as_a_float_is_accepted(tmp_path, ref):
    path = write_csv(tmp_path, ["1.4;1.4.1;2021.0;62;3"])
    assert load_collection(path, ref, TERR).observations["annee"].tolist() == [2021]


def test_unknown_territory_suggests_a_code_of_the_indicator_level(tmp_path, ref):
    assert one_line(tmp_path, ref, "2.5;2.5.1;2021;6210;3") == \
        "F:2: colonne 'territoire': territoire '6210' inconnu ; vouliez-vous dire '621' ?"


def test_unknown_territory_lists_the_codes_when_none_is_close(tmp_path, ref):
    assert one_line(tmp_path, ref, "2.10;2.10.1;2021;Arras;3") == (
        "F:2: colonne 'territoire': territoire 'Arras' inconnu ; codes admis pour '2.10.1' : "
        "62, CGD-ARRAS, CGD-CALAIS.")


def test_territory_at_another_level(tmp_path, ref):
    assert one_line(tmp_path, ref, "2.5;2.5.1;2021;CGD-ARRAS;3") == (
        "F:2: colonne 'territoire': 'CGD-ARRAS' est une compagnie de gendarmerie ; l'indicateur "
        "'2.5.1' se collecte par arrondissement ou pour le total départemental ('62').")
    assert one_line(tmp_path, ref, "1.4;1.4.1;2021;622;3") == (
        "F:2: colonne 'territoire': '622' est un arrondissement ; l'indicateur '1.4.1' se collecte "
        "au niveau du département ('62').")


def test_departement_total_and_a_structure_are_accepted(tmp_path, ref):
    path = write_csv(tmp_path, ["2.5;2.5.1;2021;62;5", "2.1;2.1.1;2021;tj-arras;40"])
    obs = load_collection(path, ref, TERR).observations
    assert obs["territoire"].tolist() == ["62", "TJ-ARRAS"]


def test_a_gendarmerie_company_is_not_a_structure(tmp_path, ref):
    # the referential gives companies their own level (territories.Level)
    assert one_line(tmp_path, ref, "2.1;2.1.1;2021;CGD-ARRAS;30") == (
        "F:2: colonne 'territoire': 'CGD-ARRAS' est une compagnie de gendarmerie ; l'indicateur "
        "'2.1.1' se collecte par structure (hors compagnies de gendarmerie) ou pour le total "
        "départemental ('62').")


def test_empty_territory(tmp_path, ref):
    assert one_line(tmp_path, ref, "1.4;1.4.1;2021;;3") == (
        "F:2: colonne 'territoire': vide ; attendu un code de territoire (ex. '62' pour le "
        "département).")


def test_non_numeric_value(tmp_path, ref):
    assert one_line(tmp_path, ref, "1.4;1.4.1;2021;62;beaucoup") == (
        "F:2: colonne 'valeur': 'beaucoup' n'est pas un nombre ; attendu un nombre (ex. 1030 ou "
        "12,5).")


def test_negative_count(tmp_path, ref):
    assert one_line(tmp_path, ref, "1.4;1.4.1;2021;62;-3") == \
        "F:2: colonne 'valeur': valeur négative '-3' ; un comptage est positif ou nul."


def test_percentage_above_100(tmp_path, ref):
    assert one_line(tmp_path, ref, "1.4;1.4.2;2021;621;112 %") == (
        "F:2: colonne 'valeur': pourcentage '112 %' supérieur à 100 ; attendu un pourcentage entre "
        "0 et 100.")


def test_percent_sign_on_a_count(tmp_path, ref):
    assert one_line(tmp_path, ref, "1.4;1.4.2.numerateur;2021;621;12 %") == (
        "F:2: colonne 'valeur': '12 %' : le signe % n'est admis que pour un indicateur de type "
        "pourcentage ; attendu un nombre.")


def test_numerator_above_denominator(tmp_path, ref):
    assert one_line(tmp_path, ref, "1.4;1.4.2.denominateur;2021;621;20",
                    "1.4;1.4.2.numerateur;2021;621;30",
                    "1.4;1.4.2.numerateur;2021;622;20",      # other territory: not compared
                    "1.4;1.4.2.denominateur;2022;622;10") == (
        "F:3: colonne 'valeur': numérateur '30' supérieur au dénominateur '20' (ligne 2) ; le "
        "numérateur compte une partie du dénominateur.")


def test_numerator_above_denominator_across_files(tmp_path, ref):
    a = write_csv(tmp_path, ["1.4;1.4.2.numerateur;2021;621;30"], name="a.csv")
    b = write_csv(tmp_path, ["1.4;1.4.2.denominateur;2021;621;20"], name="b.csv")
    assert lines(tmp_path, ref) == [
        f"{a}:2: colonne 'valeur': numérateur '30' supérieur au dénominateur '20' (ligne 2 de "
        f"{b}) ; le numérateur compte une partie du dénominateur."
    ]


@pytest.mark.parametrize("value, message", [
    ("fait", "'fait' n'est pas une réponse de jalon ; attendu oui, non ou la date de réalisation "
             "(AAAA-MM-JJ ou JJ/MM/AAAA)."),
    ("31/02/2021", "'31/02/2021' n'est pas une date valide ; attendu AAAA-MM-JJ ou JJ/MM/AAAA."),
])
def test_bad_milestone_answer(tmp_path, ref, value, message):
    assert one_line(tmp_path, ref, f"1.4;1.4.J1;2021;62;{value}") == f"F:2: colonne 'valeur': {message}"


@pytest.mark.parametrize("value, texte", [("oui", "oui"), ("NON", "non"), ("2021-03-04", "2021-03-04"),
                                          ("04/03/2021", "2021-03-04")])
def test_milestone_answers(tmp_path, ref, value, texte):
    # a milestone id and an indicator of type jalon are both answered oui/non/date
    path = write_csv(tmp_path, [f"1.4;1.4.j1;2021;62;{value}", f"2.5;2.5.3;2021;62;{value}"])
    obs = load_collection(path, ref, TERR).observations
    assert obs["indicateur"].tolist() == ["1.4.J1", "2.5.3"]
    assert obs["texte"].tolist() == [texte, texte]


def test_bad_date_indicator(tmp_path, ref):
    assert one_line(tmp_path, ref, "2.10;2.10.2;2021;62;bientôt") == \
        "F:2: colonne 'valeur': 'bientôt' n'est pas une date ; attendu AAAA-MM-JJ ou JJ/MM/AAAA."


def test_conflicting_duplicate_names_the_first_row(tmp_path, ref):
    assert one_line(tmp_path, ref, "1.4;1.4.1;2021;62;3", "1.4;1.4.1;2022;62;3",
                    "1.4;1.4.1;2021;62;4") == (
        "F:4: colonne 'valeur': observation déclarée deux fois avec des valeurs différentes : "
        "'1.4.1', année 2021, territoire '62' vaut '4' ici et '3' à la ligne 2 ; gardez la bonne "
        "valeur et supprimez l'autre ligne.")


def test_conflicting_duplicate_across_files_names_both_files_and_keeps_neither(tmp_path, ref):
    (tmp_path / "2020").mkdir()
    (tmp_path / "2021").mkdir()
    a = write_csv(tmp_path / "2020", ["2.1;2.1.1.personnes;2021;TJ-ARRAS;3"], name="a.csv")
    b = write_csv(tmp_path / "2021", ["2.1;2.1.1.personnes;2021;TJ-ARRAS;4"], name="b.csv")
    coll, problems = read_collection(tmp_path, ref, TERR)
    assert [str(p) for p in problems] == [
        f"{b}:2: colonne 'valeur': observation déclarée deux fois avec des valeurs différentes : "
        f"'2.1.1.personnes', année 2021, territoire 'TJ-ARRAS' vaut '4' ici et '3' à la ligne 2 "
        f"de {a} ; gardez la bonne valeur et supprimez l'autre ligne."
    ]
    assert coll.observations.empty  # neither value is trusted


def test_identical_duplicate_is_kept_once_with_a_warning(tmp_path, ref):
    """A file sent twice (or copied in two folders) is not an error: the first row is kept."""
    a = write_csv(tmp_path, ["1.4;1.4.1;2021;62;1 030"], name="a.csv")
    b = write_csv(tmp_path, ["1.4;1.4.1;2021;62;1030"], name="b.csv")
    coll, problems = read_collection(tmp_path, ref, TERR)
    assert problems == []
    assert coll.observations[["fichier", "valeur"]].values.tolist() == [["a.csv", 1030.0]]
    assert [str(w) for w in coll.warnings] == [
        f"{b}:2: avertissement : '1.4.1', année 2021, territoire '62' déjà déclaré avec la même "
        f"valeur à la ligne 2 de {a} ; cette ligne est ignorée (supprimez le doublon)."]


def test_folder_split_by_year_reads_like_the_flat_folder(tmp_path, ref):
    rows = {2019: ["1.4;1.4.1;2019;62;10", "1.4;1.4.J1;2019;62;oui"],
            2020: ["1.4;1.4.1;2020;62;12"], 2021: ["1.4;1.4.1;2021;62;15"]}
    flat, split = tmp_path / "plat", tmp_path / "par-annee"
    flat.mkdir()
    write_csv(flat, [r for year in rows for r in rows[year]], name="fiche-1.4.csv")
    for year, year_rows in rows.items():
        (split / str(year)).mkdir(parents=True)
        write_csv(split / str(year), year_rows, name="fiche-1.4.csv")
    a = load_collection(flat, ref, TERR).observations
    b = load_collection(split, ref, TERR).observations
    columns = ["fiche", "indicateur", "composante", "annee", "territoire", "valeur", "texte"]
    pd.testing.assert_frame_equal(a[columns], b[columns])
    assert b["fichier"].tolist() == ["2019/fiche-1.4.csv"] * 2 + ["2020/fiche-1.4.csv",
                                                                  "2021/fiche-1.4.csv"]
    from plancadre_eval.engine import Engine

    shown = ["indicateur", "territoire", "valeur", "valeur_n_1", "evolution", "reference", "statut"]
    flat_table = Engine(ref, a).computed_table(2021, ["1.4"])[shown]
    split_table = Engine(ref, b).computed_table(2021, ["1.4"])[shown]
    pd.testing.assert_frame_equal(flat_table, split_table)
    assert flat_table.set_index("indicateur").loc["1.4.1", "valeur_n_1"] == 12


def test_milestone_declared_once_stays_done_in_later_years(tmp_path, ref):
    """A milestone answered "oui" in the 2019 sub-folder is done in 2021 without being declared
    again; read from the 2021 sub-folder alone (the old one-folder-per-year way) it is late."""
    from plancadre_eval.engine import Engine

    for year in (2019, 2021):
        (tmp_path / str(year)).mkdir()
    write_csv(tmp_path / "2019", ["1.4;1.4.J1;2019;62;oui;;"], name="ddcs.csv")
    write_csv(tmp_path / "2021", ["1.4;1.4.1;2021;62;12;;"], name="ddcs.csv")
    whole = load_collection(tmp_path, ref, TERR).observations
    status = Engine(ref, whole).milestones(2021, "1.4").set_index("jalon")["statut"]
    assert status["1.4.J1"] == "réalisé"
    one_year = load_collection(tmp_path / "2021", ref, TERR).observations
    assert Engine(ref, one_year).milestones(2021, "1.4").set_index("jalon")["statut"][
        "1.4.J1"] == "en retard"


DEMO_ROW = "1.4;1.4.1;2021;62;12;données de démonstration (fictives);"


def test_demo_rows_in_a_real_folder_are_an_error(tmp_path, ref):
    path = write_csv(tmp_path, ["1.4;1.4.1;2020;62;10;service;", DEMO_ROW,
                                DEMO_ROW.replace("2021", "2022")])
    coll, problems = read_collection(tmp_path, ref, TERR)
    assert [str(p) for p in problems] == [
        f"{path}:3: colonne 'source': donnée de démonstration (fictive) (et 1 autres lignes) dans "
        "un dossier de données réelles (sans fichier DEMONSTRATION) : ses chiffres passeraient "
        "pour réels ; retirez ce fichier du dossier de collecte (les données de démonstration "
        "restent dans data/demo/)."]
    assert coll.observations["annee"].tolist() == [2020]


def test_real_rows_in_a_demo_folder_are_an_error(tmp_path, ref):
    (tmp_path / "DEMONSTRATION").write_text("démo", encoding="utf-8")
    (tmp_path / "recu").mkdir()
    write_csv(tmp_path, [DEMO_ROW], name="demo.csv")
    real = write_csv(tmp_path / "recu", ["1.4;1.4.1;2020;62;10;tableau de bord DDETS;"])
    problems = read_collection(tmp_path, ref, TERR)[1]
    assert [str(p) for p in problems] == [
        f"{real}:2: colonne 'source': ligne de données réelles dans un dossier de démonstration "
        "(il contient le fichier DEMONSTRATION) : les pages porteraient la mention « Données de "
        "démonstration » sur des données réelles ; déposez les fichiers réels dans "
        "data/collecte/, sans le fichier DEMONSTRATION."]
    assert read_collection(tmp_path / "demo.csv", ref, TERR)[1] == []


def test_demo_rows_of_several_files_are_reported_file_by_file(tmp_path, ref):
    a = write_csv(tmp_path, ["1.4;1.4.1;2020;62;10;service;", DEMO_ROW.replace("2021", "2019")],
                  name="a.csv")
    b = write_csv(tmp_path, [DEMO_ROW, DEMO_ROW.replace("2021", "2022"), "1.4;1.4.1;2018;62;;;"],
                  name="b.csv")      # an empty valeur is not reported: not counted
    coll, problems = read_collection(tmp_path, ref, TERR)
    message = ("colonne 'source': donnée de démonstration (fictive){} dans un dossier de données "
               "réelles (sans fichier DEMONSTRATION) : ses chiffres passeraient pour réels ; "
               "retirez ce fichier du dossier de collecte (les données de démonstration restent "
               "dans data/demo/).")
    assert [str(p) for p in problems] == [f"{a}:3: " + message.format(""),
                                          f"{b}:2: " + message.format(" (et 1 autres lignes)")]
    assert coll.observations["annee"].tolist() == [2020]


def test_the_same_bad_cell_on_several_rows_is_reported_on_each(tmp_path, ref):
    path = write_csv(tmp_path, ["1.4;1.4.1;1990;62;1;;", "9.9;1.4.1;2021;62;2;;",
                                "1.4;1.4.1;1990;62;3;;", "9.9;1.4.1;2022;62;4;;"])
    found = [str(p).replace(str(path), "F") for p in read_collection(path, ref, TERR)[1]]
    year = "colonne 'annee': année 1990 hors du plan ; attendu une année entre 2018 et 2022."
    fiche = "colonne 'fiche': fiche '9.9' inconnue ; fiches du plan : "
    assert found[0] == f"F:2: {year}" and found[2] == f"F:4: {year}"
    assert found[1].startswith(f"F:3: {fiche}") and found[3] == found[1].replace("F:3:", "F:5:")
    assert len(found) == 4


def test_every_problem_of_a_file_in_one_pass_and_input_untouched(ref):
    path = BAD / "erreurs.csv"
    before = sha256(path)
    coll, problems = read_collection(path, ref, TERR)
    assert sha256(path) == before
    assert [(p.row, p.column) for p in problems] == [
        (3, "fiche"), (4, "annee"), (5, "territoire"), (6, "valeur"), (7, "valeur"),
        (8, "valeur")]
    assert str(problems[-1]) == (
        f"{path}:8: colonne 'valeur': observation déclarée deux fois avec des valeurs "
        "différentes : '1.4.1', année 2021, territoire '62' vaut '11' ici et '10' à la ligne 2 ; "
        "gardez la bonne valeur et supprimez l'autre ligne.")
    # row 2 is valid alone but contradicted by row 8: neither is read
    assert coll.observations["ligne"].tolist() == []
    with pytest.raises(CollectionError) as err:
        load_collection(path, ref, TERR)
    assert str(err.value) == "\n".join(str(p) for p in problems)
    assert isinstance(err.value, ValueError)


def test_problem_line_format():
    assert str(Problem("a.csv", 4, "valeur", "x.")) == "a.csv:4: colonne 'valeur': x."
    assert str(Problem("a.csv", 4, None, "x.")) == "a.csv:4: x."
    assert str(Problem("a.csv", None, None, "fichier vide.")) == "a.csv: fichier vide."


# --- number and date parsing -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("1 030", (1030.0, False)), ("1\u00a0030", (1030.0, False)), ("1\u202f030,5", (1030.5, False)),
    ("12 %", (12.0, True)), ("12,5%", (12.5, True)), ("-3", (-3.0, False)), ("0,5", (0.5, False)),
    ("1.030,25", (1030.25, False)), ("1,030.25", (1030.25, False)), ("abc", (math.nan, False)),
    ("", (math.nan, False)), ("12 500 bis", (math.nan, False)),
])
def test_parse_number(text, expected):
    value, percent = parse_number(text)
    assert percent == expected[1]
    assert (math.isnan(value) and math.isnan(expected[0])) or value == expected[0]


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=99),
       st.sampled_from([" ", "\u00a0", "\u202f", ""]))
def test_parse_number_reads_french_excel_formatting(units, cents, sep):
    text = f"{units:,}".replace(",", sep) + f",{cents:02d}"
    value, percent = parse_number(text)
    assert percent is False
    assert value == pytest.approx(units + cents / 100, rel=1e-12)


@given(st.lists(st.text(alphabet="0123456789 ,.%-+eE\u00a0\u202fx", max_size=12), min_size=1,
                max_size=20))
def test_vectorised_number_parsing_agrees_with_parse_number(texts):
    values, percents = collection._parse_numbers(pd.Series(texts, dtype=str))
    for text, value, percent in zip(texts, values, percents):
        expected, expected_percent = parse_number(text)
        assert percent == expected_percent
        assert value == expected or (math.isnan(value) and math.isnan(expected)), text


@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["62"] + ARRONDISSEMENTS),
                          st.integers(2018, 2022)),
                min_size=1, max_size=30, unique_by=lambda t: (t[1], t[2])),
       st.sampled_from([(";", "cp1252"), (";", "utf-8-sig"), ("\t", "utf-8"), (",", "utf-8")]))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_valid_export_reads_back_every_value(tmp_path_factory, ref, rows, dialect):
    sep, encoding = dialect
    folder = tmp_path_factory.mktemp("h")
    body = [sep.join(["2.5", "2.5.1", str(y), t, f'"{v:,}"'.replace(",", "\u00a0")])
            for v, t, y in rows]
    (folder / "h.csv").write_bytes(
        ("\r\n".join([sep.join(collection.REQUIRED_COLUMNS)] + body) + "\r\n").encode(encoding))
    obs = load_collection(folder, ref, TERR).observations
    assert obs["valeur"].tolist() == [float(v) for v, _, _ in rows]
    assert obs["territoire"].tolist() == [t for _, t, _ in rows]
    assert obs["ligne"].tolist() == list(range(2, len(rows) + 2))


def test_parse_date():
    assert parse_date("2021-03-04") == parse_date("04/03/2021") == dt.date(2021, 3, 4)
    assert parse_date("31/02/2021") is None and parse_date("mars 2021") is None


# --- command line --------------------------------------------------------------------------------------

@pytest.fixture
def fake_territories(monkeypatch):
    monkeypatch.setattr(collection, "_default_territories", lambda: TERR)


def test_cli_check_ok(tmp_path, capsys, fake_territories):
    write_csv(tmp_path, ["1.4;1.4.1;2021;62;1", "1.4;1.4.1;2022;62;2"], name="a.csv")
    write_csv(tmp_path, ["2.5;2.5.1;2021;621;1"], name="b.csv")
    assert cli.main(["check", str(tmp_path), "--referentiel", str(MINI)]) == 0
    assert capsys.readouterr().out == "OK : 2 fichiers, 3 observations.\n"


def test_cli_check_problems(capsys, fake_territories):
    path = BAD / "erreurs.csv"
    assert cli.main(["check", str(path), "--referentiel", str(MINI)]) == 1
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert len(out) == 6 and all(line.startswith(f"{path}:") for line in out)
    assert out[0] == f"{path}:3: colonne 'fiche': fiche '2.50' inconnue ; vouliez-vous dire '2.5' ?"
    assert captured.err == ("6 problèmes dans 1 fichier : corrigez-les puis relancez "
                            "plancadre-eval check.\n")


# --- volume (speed is measured by `make bench`, never by a timed test) -----------------------------------------------------------------------------------------

class ManyCommunes(FakeTerritories):
    LEVELS = {**FakeTerritories.LEVELS, **{f"62{i:03d}": "commune" for i in range(1, 891)}}


def test_a_folder_of_a_few_thousand_rows_is_read_whole(tmp_path, ref):
    communes = [f"62{i:03d}" for i in range(1, 891)]
    for year in range(2018, 2023):        # 5 files x 890 communes = 4450 valid rows
        write_csv(tmp_path, [f"2.1;2.1.4;{year};{c};1 {i % 1000:03d};enquête;RAS"
                             for i, c in enumerate(communes)], name=f"communes-{year}.csv")
    coll, problems = read_collection(tmp_path, ref, ManyCommunes())
    assert problems == [] and len(coll.observations) == 4450


def test_thousands_of_bad_rows_are_each_reported(tmp_path, ref):
    write_csv(tmp_path, [f"2.1;2.1.4;2021;6200{i % 10};{i}" for i in range(3000)])
    problems = read_collection(tmp_path, ref, ManyCommunes())[1]
    # 62000 is unknown (300 rows); 62001..62009 are valid: 9 keys, 2691 duplicates
    assert len(problems) == 300 + 2691

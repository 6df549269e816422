"""Which fiches a collection's problems stop (``exclusions.excluded_fiches``), on hand-made files."""

from __future__ import annotations

from pathlib import Path

from plancadre_eval import collection, exclusions
from small_plan import REF

HEADER = "fiche;indicateur;annee;territoire;valeur;source;commentaire\n"


def read(folder: Path):
    col, problems = collection.read_collection([folder], REF)
    return exclusions.exclusions_of_folder(col, problems, REF, folder)


def test_a_bad_cell_stops_the_fiches_of_its_file_only(tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + "1.1;1.1.1;2021;621;3;t;\n"
                                    "2.10;2.10.1;2021;62;beaucoup;t;\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text(HEADER + "1.2;1.2.2;2021;62;bilan;t;\n", encoding="utf-8")
    found = read(tmp_path)
    # the bad row names 2.10; the same file holds valid rows of 1.1: both stopped, 1.2 is not
    assert found.fiches == ["1.1", "2.10"] and found.general == ()
    lines = found.as_lines()
    assert lines["2.10"] == lines["1.1"]
    assert lines["2.10"][0].startswith(f"{tmp_path / 'a.csv'}:3: colonne 'valeur':")


def test_a_problem_naming_no_fiche_is_general(tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + "9.9;9.9.1;2021;62;3;t;\n", encoding="utf-8")
    found = read(tmp_path)
    assert found.fiches == [] and {(p.row, p.column) for p in found.general} == {(2, "fiche"), (2, "indicateur")}


def test_no_problem_no_exclusion(tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + "1.1;1.1.1;2021;621;3;t;\n", encoding="utf-8")
    assert read(tmp_path) == exclusions.Exclusions()

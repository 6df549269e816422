"""Following the collection: per pilot, values expected / received / missing, files and their
problems; ``plancadre-eval collecte``, ``collecte.html`` and ``relances.csv``. Miniature
referential (DDCS pilots 1.4 and 2.5, alias DDETS) and fake territories."""

from __future__ import annotations

import csv

import pytest
from collection_support import MINI, TERR, write_csv
from html_support import Html

from plancadre_eval import cli, collection
from plancadre_eval.collection import read_collection
from plancadre_eval.followup import follow_up, reminders_table, write_followup
from plancadre_eval.referential import load_referential

ARR = ["621", "622", "623", "624", "625", "626", "627"]


@pytest.fixture(scope="module")
def ref():
    return load_referential(MINI)


@pytest.fixture
def folder(tmp_path):
    """2021 collection of the DDCS: 1.4.1, 1.4.2 for 621 only, 1.4.J1 done in 2020 (not asked
    again), 2.5.1 as a département total (stands for its 7 arrondissements); a second file with a
    bad milestone answer for 2.5.J1."""
    (tmp_path / "2020").mkdir()
    (tmp_path / "2021").mkdir()
    write_csv(tmp_path / "2020", ["1.4;1.4.J1;2020;62;oui;;"], name="ddcs.csv")
    write_csv(tmp_path / "2021", ["1.4;1.4.1;2021;62;10;;", "1.4;1.4.2.numerateur;2021;621;5;;",
                                  "1.4;1.4.2.denominateur;2021;621;10;;",
                                  "2.5;2.5.1;2021;62;40;;"], name="ddets.csv")
    write_csv(tmp_path / "2021", ["2.5;2.5.J1;2021;62;peut-être;;"], name="ddets-jalons.csv")
    return tmp_path


def test_follow_up_of_one_pilot(ref, folder):
    coll, problems = read_collection(folder, ref, TERR)
    (ddcs,) = follow_up(ref, TERR, 2021, coll, problems, "DDETS")
    assert ddcs.pilot == "DDCS" and ddcs.label == "DDCS (aujourd'hui DDETS)"
    assert ddcs.fiches == ["1.4", "2.5"]
    # 1.4.1 + 1.4.2 x 7 + 2.5.1 x 7 + 2.5.J1 = 16 (1.4.J1 was done in 2020)
    assert (ddcs.expected, ddcs.received, ddcs.n_missing) == (16, 9, 7)
    assert ddcs.missing == [("1.4.2", ARR[1:]), ("2.5.J1", ["62"])]
    assert ddcs.missing_text() == "1.4.2 (622, 623, 624, 625, 626, 627), 2.5.J1"
    assert ddcs.files == ["2021/ddets-jalons.csv", "2021/ddets.csv"]   # 2020/ddcs.csv: no 2021 row
    assert len(ddcs.problems) == 1 and ddcs.problems[0] == (
        "2021/ddets-jalons.csv:2: colonne 'valeur': 'peut-être' n'est pas une réponse de jalon ; "
        "attendu oui, non ou la date de réalisation (AAAA-MM-JJ ou JJ/MM/AAAA).")


def test_reminders_have_one_row_per_pilot_with_something_missing(ref, folder):
    coll, problems = read_collection(folder, ref, TERR)
    table = reminders_table(follow_up(ref, TERR, 2021, coll, problems))
    assert table["pilote"].tolist() == ["DDCS", "Gendarmerie", "Parquets"]
    ddcs = table.iloc[0]
    assert (ddcs["valeurs_attendues"], ddcs["valeurs_recues"], ddcs["valeurs_manquantes"],
            ddcs["problemes"]) == (16, 9, 7, 1)
    complete = write_csv(folder / "2021", [f"1.4;1.4.2;2021;{a};50;;" for a in ARR[1:]]
                         + ["2.5;2.5.J1;2021;62;non;;"], name="complement.csv")
    (folder / "2021" / "ddets-jalons.csv").unlink()
    coll, problems = read_collection(folder, ref, TERR)
    assert problems == [] and complete.exists()
    table = reminders_table(follow_up(ref, TERR, 2021, coll, problems))
    assert "DDCS" not in table["pilote"].tolist()


def test_page_and_relances_csv(ref, folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("sorties")
    written = write_followup(ref, TERR, 2021, folder, out, "data/collecte")
    assert [p.name for p in written] == ["collecte.html", "relances.csv"]
    page = Html((out / "collecte.html").read_text(encoding="utf-8"))
    text = page.text
    assert "relances.csv" in page.links
    assert "Suivi de la collecte 2021" in text
    assert "DDCS (aujourd'hui DDETS)" in text
    assert "1.4.2 (622, 623, 624, 625, 626, 627), 2.5.J1" in text
    assert "'peut-être' n'est pas une réponse de jalon" in text
    assert str(folder) not in (out / "collecte.html").read_text(encoding="utf-8")  # no abs. path
    raw = (out / "relances.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert [r["pilote"] for r in rows] == ["DDCS", "Gendarmerie", "Parquets"]
    assert rows[0]["manquantes"] == "1.4.2 (622, 623, 624, 625, 626, 627), 2.5.J1"
    again = tmp_path_factory.mktemp("encore")
    write_followup(ref, TERR, 2021, folder, again, "data/collecte")
    assert (again / "collecte.html").read_bytes() == (out / "collecte.html").read_bytes()


def test_collection_already_read_is_not_read_again(ref, folder, tmp_path_factory, monkeypatch):
    read = read_collection([folder], ref, TERR)
    first = tmp_path_factory.mktemp("lu")
    write_followup(ref, TERR, 2021, folder, first, "data/collecte")

    def no_second_read(*args, **kwargs):
        raise AssertionError("collecte relue alors qu'elle était fournie")

    monkeypatch.setattr("plancadre_eval.followup._read", no_second_read)
    given = tmp_path_factory.mktemp("fourni")
    write_followup(ref, TERR, 2021, folder, given, "data/collecte", read=read)
    for name in ("collecte.html", "relances.csv"):
        assert (given / name).read_bytes() == (first / name).read_bytes()


def test_cli_collecte(folder, capsys, monkeypatch):
    monkeypatch.setattr(collection, "_default_territories", lambda: TERR)
    assert cli.main(["collecte", "--year", "2021", "--data", str(folder), "--pilote", "DDETS",
                     "--referentiel", str(MINI)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2:5] == [
        "DDCS (aujourd'hui DDETS) : 2 fiche(s) due(s) en 2021 (1.4, 2.5)",
        "  valeurs attendues 16, reçues 9, manquantes 7",
        "  manquantes : 1.4.2 (622, 623, 624, 625, 626, 627), 2.5.J1"]
    assert out[5] == "  fichiers reçus : 2021/ddets-jalons.csv, 2021/ddets.csv"
    assert out[6].startswith("  2021/ddets-jalons.csv:2: colonne 'valeur': 'peut-être' ")
    assert cli.main(["collecte", "--year", "2021", "--data", str(folder), "--pilote", "Mairie",
                     "--referentiel", str(MINI)]) == 2
    assert "Service pilote 'Mairie' inconnu" in capsys.readouterr().err

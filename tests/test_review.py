"""The committee's record (plancadre_eval.review): workbook round trip, every validation error,
the comment gate on tables, retained statuses, the follow-up sheet, and ``check`` on a record."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from small_plan import REF, obs

from plancadre_eval import cli, review
from plancadre_eval.review import Decision, ReviewError
from plancadre_eval.statuses import FicheStatus

STATUSES = {"1.1": "en cours", "1.2": "en retard", "2.10": "mise en œuvre"}


def blank_workbook(tmp_path: Path, name: str = "2021.xlsx") -> Path:
    rows = review.review_rows(REF, 2021, ["1.1", "1.2", "2.10"], STATUSES,
                              {"1.2": ["Retard dû à Mme Martin", "Deux victimes à Arras"]})
    return review.write_review_workbook(rows, 2021, tmp_path / name)


def fill(path: Path, values: dict[str, dict[str, str]], out: Path | None = None) -> Path:
    wb = openpyxl.load_workbook(path)
    ws = wb[review.REVIEW_SHEET]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        fiche = row[0].value
        for col, value in values.get(fiche, {}).items():
            row[header.index(col)].value = value
    out = out or path
    wb.save(out)
    return out


def write_csv(tmp_path: Path, lines: list[str], name: str = "2021.csv", encoding="cp1252") -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


HEADER = ";".join(review.REVIEW_COLUMNS)


def test_the_workbook_is_prefilled_and_read_back_with_the_committee_s_answers(tmp_path):
    path = blank_workbook(tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb[review.REVIEW_SHEET]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == review.REVIEW_COLUMNS
    assert [r[:4] for r in rows[1:]] == [
        ("1.1", "Fiche 1.1", "DDCS", "en cours"), ("1.2", "Fiche 1.2", "Préfecture", "en retard"),
        ("2.10", "Fiche 2.10", "DDCS", "mise en œuvre")]
    assert rows[2][4] == "Retard dû à Mme Martin\nDeux victimes à Arras"
    assert all(v in (None, "") for r in rows[1:] for v in r[5:])  # columns to fill are empty
    assert review.HELP_SHEET in wb.sheetnames

    fill(path, {"1.2": {"statut_retenu": "en cours", "justification": "Jalon reporté par décision",
                        "avis_comite": "Avancée réelle", "publier_commentaires": "non",
                        "decisions": "Relancer le pilote ; DDCS ; 30/06/2022\n"
                                     "Présenter le bilan ; Préfecture ; 2022-12-01"},
                "2.10": {"statut_retenu": "mise en œuvre", "publier_commentaires": "oui"}})
    rec = review.read_review(path, REF)
    assert rec.year == 2021 and set(rec.entries) == {"1.1", "1.2", "2.10"}
    e = rec.entry("1.2")
    assert e.retained == FicheStatus.IN_PROGRESS and e.computed == "en retard"
    assert e.justification == "Jalon reporté par décision" and e.opinion == "Avancée réelle"
    assert e.decisions == (Decision("Relancer le pilote", "DDCS", dt.date(2022, 6, 30)),
                           Decision("Présenter le bilan", "Préfecture", dt.date(2022, 12, 1)))
    assert not e.publish_comments
    assert rec.entry("2.10").publish_comments and rec.entry("2.10").examined
    assert not rec.entry("1.1").examined  # no statut_retenu: not yet examined


def test_a_french_excel_csv_record_is_read(tmp_path):
    path = write_csv(tmp_path, [HEADER,
                                "1.2;Fiche 1.2;Préfecture;en retard;;Non démarrée;Rien fait;;;OUI"])
    e = review.read_review(path, REF).entry("1.2")
    assert e.retained == FicheStatus.NOT_STARTED and e.publish_comments


@pytest.mark.parametrize("line, column, message", [
    ("9.9;;;en cours;;en cours;;;;", "fiche", "fiche « 9.9 » inconnue du référentiel."),
    ("1.2;;;en retard;;terminée;;;;", "statut_retenu", "« terminée » n'est pas un statut de fiche"),
    ("1.2;;;presque;;en retard;;;;", "statut_calcule", "« presque » n'est pas un statut de fiche"),
    ("1.2;;;en retard;;en cours;;;;", "justification",
     "obligatoire : le statut retenu « en cours » diffère du statut calculé « en retard »"),
    ("1.2;;;en retard;;;;Bon travail;;", "statut_retenu", "vide alors que avis_comite est rempli"),
    ("1.2;;;en retard;;en retard;;;Relancer le pilote DDCS;", "decisions",
     "attendu « quoi ; qui ; échéance »"),
    ('1.2;;;en retard;;en retard;;;"Relancer ; DDCS ; juin";', "decisions",
     "échéance « juin » illisible"),
    ("1.2;;;en retard;;en retard;;;;peut-être", "publier_commentaires", "attendu oui ou non"),
])
def test_each_invalid_cell_is_reported_with_file_row_and_column(tmp_path, line, column, message):
    path = write_csv(tmp_path, [HEADER, "1.1;;;en cours;;en cours;;;;", line])
    with pytest.raises(ReviewError) as err:
        review.read_review(path, REF)
    [problem] = err.value.problems
    assert str(problem).startswith(f"{path}:3: colonne '{column}': ")
    assert message in str(problem)


def test_a_repeated_fiche_and_a_missing_column_are_errors(tmp_path):
    path = write_csv(tmp_path, [HEADER, "1.1;;;en cours;;en cours;;;;", "1.1;;;en cours;;;;;;"])
    with pytest.raises(ReviewError, match=r":3: colonne 'fiche': fiche 1.1 en double"):
        review.read_review(path, REF)
    path = write_csv(tmp_path, ["fiche;avis_comite", "1.1;bien"], name="2020.csv")
    with pytest.raises(ReviewError, match=r"2020.csv:1: colonne 'statut_retenu': colonne obligatoire"):
        review.read_review(path, REF)


def test_records_are_found_by_year_and_two_files_for_one_year_are_refused(tmp_path):
    write_csv(tmp_path, [HEADER, "1.1;;;en cours;;en cours;;;;"], name="2020.csv")
    write_csv(tmp_path, [HEADER, "1.1;;;en cours;;en retard;motif;;;oui"], name="2021.csv")
    reviews = review.load_reviews(tmp_path, REF, 2021)
    assert sorted(reviews) == [2020, 2021]
    assert reviews[2021].entry("1.1").retained == "en retard"
    assert sorted(review.load_reviews(tmp_path, REF, 2020)) == [2020]
    assert review.load_reviews(tmp_path / "absent", REF, 2021) == {}
    blank_workbook(tmp_path)  # 2021.xlsx beside 2021.csv
    with pytest.raises(ReviewError, match="deux revues pour 2021"):
        review.load_reviews(tmp_path, REF, 2021)


def test_the_gate_publishes_a_fiche_s_comments_only_when_its_year_s_record_says_oui(tmp_path):
    write_csv(tmp_path, [HEADER, "1.1;;;en cours;;en cours;;;;oui", "1.2;;;en retard;;en retard;;;;non"])
    reviews = review.load_reviews(tmp_path, REF, 2021)
    assert review.comments_published(reviews, "1.1", 2021)
    assert not review.comments_published(reviews, "1.2", 2021)
    assert not review.comments_published(reviews, "2.10", 2021)  # not in the record
    assert not review.comments_published(reviews, "1.1", 2020)   # no record for 2020
    assert not review.comments_published({}, "1.1", 2021)
    comments = pd.DataFrame({"Année": [2021, 2020, 2021], "Commentaire": ["a", "b", "c"]})
    shown, pending = review.gate_comments(comments, reviews, "1.1")
    assert list(shown["Commentaire"]) == ["a", "c"] and pending == 1


def test_the_indicator_table_loses_unreviewed_pilot_texts_but_keeps_computation_notes(tmp_path):
    write_csv(tmp_path, [HEADER, "1.1;;;en cours;;en cours;;;;oui"])
    reviews = review.load_reviews(tmp_path, REF, 2021)
    observations = obs(("1.1.4", "valeur", 2021, "621", 50, "50", "Mme Durand absente"),
                       ("1.2.2", "valeur", 2021, "62", None, "Trois victimes à Lens", ""),
                       ("2.10.1", "valeur", 2021, "62", 1, "1", "Réunion annulée ; reportée"))
    table = pd.DataFrame({
        "fiche": ["1.1", "1.2", "2.10", "2.10"], "annee": [2021] * 4,
        "indicateur": ["1.1.4", "1.2.2", "2.10.1", "2.10.1"],
        "commentaire": ["Mme Durand absente", "", "Réunion annulée ; reportée ; somme des territoires",
                        "somme des territoires"],
        "texte": ["50", "Trois victimes à Lens", "1", "1"]})
    out = review.gate_indicator_table(table, observations, reviews, REF)
    assert list(out["commentaire"]) == [
        "Mme Durand absente",  # 1.1 published by the 2021 record
        "",
        f"somme des territoires ; {review.PENDING_NOTE}",
        "somme des territoires"]
    assert list(out["texte"]) == ["50", review.PENDING_NOTE, "1", "1"]
    assert list(table["commentaire"])[0] == "Mme Durand absente"  # the input is not modified


def test_retained_statuses_count_what_the_committee_changed(tmp_path):
    write_csv(tmp_path, [HEADER, "1.1;;;en cours;;en cours;;;;", "1.2;;;en retard;;en cours;motif;;;"])
    rec = review.load_reviews(tmp_path, REF, 2021)[2021]
    st = pd.DataFrame({"fiche": ["1.1", "1.2", "2.10"],
                       "statut": ["en cours", "en retard", "mise en œuvre"]})
    out = review.retained_statuses(st, rec)
    assert list(out["statut"]) == ["en cours", "en cours", "mise en œuvre"]
    assert list(out["statut_calcule"]) == ["en cours", "en retard", "mise en œuvre"]
    assert list(out["examinee"]) == [True, True, False]
    assert list(out["modifie"]) == [False, True, False]
    assert list(review.retained_statuses(st, None)["statut"]) == list(st["statut"])


def test_last_year_s_decisions_go_to_a_follow_up_sheet_read_back_with_the_pilot_s_text(tmp_path):
    write_csv(tmp_path, [HEADER, '1.2;;;en retard;;en retard;;;"Relancer ; DDCS ; 30/06/2022";'],
              name="2021.csv")
    rec = review.read_review(tmp_path / "2021.csv", REF)
    template = tmp_path / "collecte" / "gabarit.xlsx"
    template.parent.mkdir()
    wb = openpyxl.Workbook()
    wb.active.title = "Collecte"
    wb.save(template)
    assert review.add_followup_sheet(template, rec, ["1.1"]) == 0  # no decision on 1.1
    assert review.add_followup_sheet(template, rec, ["1.1", "1.2"]) == 1
    wb = openpyxl.load_workbook(template)
    ws = wb[review.FOLLOWUP_SHEET]
    assert [c.value for c in ws[1]] == list(review.FOLLOWUP_COLUMNS)
    assert [c.value for c in ws[2]][:5] == ["1.2", "2021", "Relancer", "DDCS", "30/06/2022"]
    ws.cell(2, 6).value = "Pilote relancé en mars"
    wb.save(template)
    got = review.read_followups(template.parent)
    assert got[["fiche", "annee_revue", "decision", "suivi", "fichier"]].values.tolist() == [
        ["1.2", "2021", "Relancer", "Pilote relancé en mars", "gabarit.xlsx"]]


def test_check_validates_a_record_with_the_same_lines_as_a_collection_file(tmp_path, capsys):
    good = fill(blank_workbook(tmp_path), {"1.1": {"statut_retenu": "en cours"}})
    assert cli.main(["check", str(good)]) == 0
    assert "OK : 1 revue(s) du comité." in capsys.readouterr().out
    bad = fill(blank_workbook(tmp_path, "2020.xlsx"), {"1.2": {"statut_retenu": "abandonnée"}})
    assert cli.main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:3: colonne 'statut_retenu': « abandonnée » n'est pas un statut de fiche" in out


# --- the comment gate, end to end: a planted comment in no output until the committee says oui --

PLANTED = "Mme Zerbinette Quentel-Vauban, 2 victimes à Hesdin"


def _output_texts(out: Path) -> dict[str, str]:
    """Every file under ``out`` as text (XLSX: every XML part unzipped)."""
    import zipfile

    texts = {}
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        if f.suffix == ".xlsx":
            with zipfile.ZipFile(f) as z:
                texts[str(f)] = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        else:
            texts[str(f)] = f.read_bytes().decode("utf-8", "replace")
    return texts


@pytest.mark.slow
def test_a_planted_comment_reaches_no_output_until_the_record_says_oui(tmp_path):
    from plancadre_eval import paths

    data = tmp_path / "collecte"
    data.mkdir()
    lines = (paths.demo_dir() / "fiche-1.2.csv").read_text(encoding="utf-8").splitlines()
    planted = [ln + PLANTED if ";2021;" in ln and ln.startswith("1.2;1.2.4;") else ln for ln in lines]
    assert planted != lines
    (data / "fiche-1.2.csv").write_text("\n".join(planted) + "\n", encoding="utf-8")
    revue, out = tmp_path / "revue", tmp_path / "sorties"
    argv = ["run", "--year", "2021", "--fiche", "1.2", "--data", str(data), "--revue", str(revue),
            "--out", str(out), "--jobs", "1", "--quiet"]

    assert cli.main(argv) == 0  # no record at all
    texts = _output_texts(out)
    assert {Path(f).name for f in texts} >= {"fiche-1.2.html", "fiche-1.2.ipynb", "synthese.html",
                                             "synthese.ipynb", "indicateurs.csv", "indicateurs.xlsx",
                                             "manifest.json", "dossier.html", "index.html"}
    assert [f for f, t in texts.items() if "Zerbinette" in t] == []
    page = texts[str(out / "2021" / "fiche-1.2.html")]
    assert re.search(r"\d+ commentaires? en attente de relecture par le comité de pilotage\.", page)
    assert "non encore examinée par le comité" in page

    revue.mkdir()
    write_csv(revue, [HEADER, "1.2;;;;;mise en œuvre;;;;non"], encoding="utf-8")
    assert cli.main(argv) == 0  # examined, comments not accepted
    assert [f for f, t in _output_texts(out).items() if "Zerbinette" in t] == []

    write_csv(revue, [HEADER, "1.2;;;;;mise en œuvre;;Bon;;oui"], encoding="utf-8")
    assert cli.main(argv) == 0  # accepted: on the page, in the tables and the dossier
    shown = {Path(f).name for f, t in _output_texts(out).items() if "Zerbinette" in t}
    assert {"fiche-1.2.html", "indicateurs.csv", "indicateurs.xlsx", "dossier.html"} <= shown

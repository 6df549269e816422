"""indicateurs.csv / indicateurs.xlsx: French Excel CSV, byte-identical XLSX, atomic writes."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from plancadre_eval import export
from plancadre_eval.engine import Engine
from small_plan import BASE_OBS, EXPECTED, REF, population


def test_write_indicator_table_is_french_excel_and_byte_identical(tmp_path, monkeypatch):
    t = Engine(REF, BASE_OBS, population=population, public={}, expected=EXPECTED).table(2021)
    paths = export.write_indicator_table(t, tmp_path / "2021")
    raw = paths["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    header = text.splitlines()[0].split(";")
    assert header[:4] == ["fiche", "indicateur", "libelle", "type"]
    assert "effectif_n_1" not in header
    line = next(l for l in text.splitlines() if l.startswith("1.1;1.1.2;") and ";62;" in l)
    assert ";20,0;" in line  # decimal comma
    back = pd.read_csv(paths["csv"], sep=";", decimal=",", encoding="utf-8-sig",
                       dtype={"fiche": str, "indicateur": str, "territoire": str})
    assert back["fiche"].tolist()[:1] == ["1.1"] and len(back) == len(t)
    xlsx = paths["xlsx"].read_bytes()
    with zipfile.ZipFile(paths["xlsx"]) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert b"2019-01-01T00:00:00Z" in z.read("docProps/core.xml")
    # a later write (other clock) gives the same bytes; no temporary file is left behind
    import time as _time
    monkeypatch.setattr(_time, "time", lambda: 2_000_000_000.0)
    export.write_indicator_table(t, tmp_path / "2021")
    assert paths["csv"].read_bytes() == raw and paths["xlsx"].read_bytes() == xlsx
    assert sorted(p.name for p in (tmp_path / "2021").iterdir()) == ["indicateurs.csv",
                                                                     "indicateurs.xlsx"]
    with pytest.raises(ValueError, match="secret statistique"):
        export.write_indicator_table(Engine(REF, BASE_OBS).computed_table(2021), tmp_path)



@pytest.mark.parametrize("odd", [None, "=SOMME(A1)", "#N/A", "bip\x07", True, float("inf")])
def test_xlsx_rows_written_directly_are_the_bytes_openpyxl_writes(odd):
    """The data rows are written in one pass beside openpyxl: same bytes as openpyxl writing each
    cell (texts to escape, spaces kept, numbers, empty and missing cells); a value openpyxl treats
    its own way (formula, error code, control character, boolean, infinity) leaves it every cell."""
    table = pd.DataFrame({
        "texte": ["", " avant", "après ", "  ", "a & b < c > d", 'il dit "oui"', "ligne\nsuite",
                  "mise en œuvre", "=", None],
        "nombre": [1, 2.5, float("nan"), 1e20, -0.0, 1 / 3, 123456789012, 0, None, 7],
        "vide": [pd.NA] * 10,
    }).astype(object)

    def written(t, fast):
        try:
            return export._xlsx_bytes(t, fast=fast)
        except Exception as exc:  # noqa: BLE001 (openpyxl refuses a control character)
            return repr(exc)

    assert export._sheet_rows_xml(table) is not None
    assert written(table, True) == written(table, False)
    if odd is not None:
        table.loc[3, "texte"] = odd
        assert export._sheet_rows_xml(table) is None
        assert written(table, True) == written(table, False)
    empty = table.iloc[0:0]
    assert export._xlsx_bytes(empty) == export._xlsx_bytes(empty, fast=False)

def test_the_table_says_whether_the_plan_adopted_the_indicator(tmp_path):
    """``origine_indicateur`` = the referential's origin of the indicator (plan, ajout, deduit);
    ``origine`` keeps its meaning (how the value was obtained), and the CSV carries both."""
    import dataclasses

    from plancadre_eval.indicators import ORIGIN_SUM

    f11 = REF.fiche("1.1")
    added = dataclasses.replace(f11, indicateurs=tuple(
        dataclasses.replace(i, origine="ajout") if i.id == "1.1.4" else i for i in f11.indicateurs))
    ref = dataclasses.replace(REF, fiches=(added,) + REF.fiches[1:])
    t = Engine(ref, BASE_OBS, population=population, public={}, expected=EXPECTED).table(2021)
    dep = t[t["territoire"] == "62"].set_index("indicateur")
    assert dep.loc["1.1.4", "origine_indicateur"] == "ajout"
    assert dep.loc["1.1.1", "origine_indicateur"] == "plan"
    assert dep.loc["1.1.4", "origine"] == ORIGIN_SUM
    header = (export.write_indicator_table(t, tmp_path)["csv"].read_text(encoding="utf-8-sig")
              .splitlines()[0].split(";"))
    assert header[-1] == "origine_indicateur" and "origine" in header


def test_the_csv_says_the_coverage_of_a_partial_aggregate(tmp_path):
    """Issue 10: places (2.6.5) declared for 2 of the 7 arrondissements, 16 + 14 = 30: the CSV
    says "2/7" on the département rows of 2.6.5 and of the rate 2.6.1 built on it."""
    from plancadre_eval import territories
    from plancadre_eval.evaluation.context import expected_territories
    from plancadre_eval.referential import load_referential

    ref, terr = load_referential(), territories.load_territories()
    o = pd.DataFrame({"fiche": "2.6", "indicateur": "2.6.5", "composante": "valeur", "annee": 2021,
                      "territoire": ["621", "622"], "valeur": [16.0, 14.0], "texte": "",
                      "source": "essai", "commentaire": "", "fichier": "f.csv", "ligne": [2, 3]})
    t = Engine(ref, o, terr, {}, expected_territories(terr, ref)).table(2021, ["2.6"])
    csv = export.write_indicator_table(t, tmp_path)["csv"]
    back = pd.read_csv(csv, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert "couverture" in back.columns
    dep = back[back["territoire"] == "62"].set_index("indicateur")
    assert dep.loc["2.6.5", "valeur"] == "30,0" and dep.loc["2.6.5", "couverture"] == "2/7"
    assert dep.loc["2.6.1", "couverture"] == "2/7" and dep.loc["2.6.5", "statut"] == "non évaluable"
    assert dep.loc["2.6.5", "evolution"] == ""
    assert back[back["territoire"] == "621"].set_index("indicateur").loc["2.6.5", "couverture"] == ""


def test_analyst_table_names_territories_pilots_statuses_and_rounds_as_the_pages(tmp_path):
    """1.1.3 duration (34 days, 1 decimal on the pages); 1.1.5 rate: (50 + 30) places / 200 000
    inhabitants × 10 000 = 4 (2 decimals); 1.1.2: 4 / 20 = 20 %."""
    t = Engine(REF, BASE_OBS, population=population, public={}, expected=EXPECTED).table(2021)
    t.loc[(t["indicateur"] == "1.1.3") & (t["territoire"] == "62"), "valeur"] = 34.04999
    names = {"62": "Pas-de-Calais", "621": "Arras"}
    table = export.analyst_table(t, REF, lambda c: names.get(c, c), {"1.1": "en cours"})
    r = table[(table["indicateur"] == "1.1.3") & (table["territoire"] == "62")].iloc[0]
    assert r["valeur"] == 34.0 and r["valeur_precise"] == 34.04999
    assert r["pilote"] == "DDCS" and r["statut_fiche"] == "en cours" and r["nom_territoire"] == "Pas-de-Calais"
    assert table[table["fiche"] == "1.2"]["statut_fiche"].eq("").all()
    assert table[(table["territoire"] == "621")]["nom_territoire"].eq("Arras").all()
    paths = export.write_indicator_table(table, tmp_path)
    header = paths["csv"].read_text(encoding="utf-8-sig").splitlines()[0].split(";")
    assert header[:3] == ["fiche", "pilote", "statut_fiche"]
    assert header[header.index("territoire") + 1] == "nom_territoire"
    assert header[-1] == "valeur_precise"
    from openpyxl import load_workbook

    ws = load_workbook(paths["xlsx"]).active
    assert "valeur_precise" not in [c.value for c in ws[1]]  # full precision in the CSV only
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    back = export.read_indicator_csv(paths["csv"])
    assert back["fiche"].tolist()[0] == "1.1" and back["annee"].dtype.kind == "i"


@pytest.mark.parametrize("value, decimals, rounded", [(2.675, 2, 2.68), (0.125, 2, 0.13), (34.05, 1, 34.1),
                                                      (-1.5, 0, -2.0)])
def test_rounding_is_half_up_as_on_the_pages(value, decimals, rounded):
    from plancadre_eval import formatting

    assert export._round(value, decimals) == rounded
    assert formatting.format_number(value, decimals).replace(",", ".").replace("−", "-") == \
        formatting.format_number(rounded, decimals).replace(",", ".").replace("−", "-")

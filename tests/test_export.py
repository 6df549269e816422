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

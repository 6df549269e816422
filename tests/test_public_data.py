"""Public statistics: État 4001 and SSMSI tables, the public series of the referential, the
diagnostic table and the provenance records.

Expected values are recomputed in the tests from the project copies with the ``csv`` module (no
pandas), or are literals quoted from the SOURCE.md files / computed by hand.
"""

from __future__ import annotations

import csv
import filecmp
import hashlib
import re
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plancadre_eval import public_data as pdata
from plancadre_eval.referential import Plan, Referential, Structure
from plancadre_eval.territories import load_territories

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ROOT / "data" / "public"
LONG_CSV = PUBLIC / "etat4001-services-2012-2020" / "etat4001_services_dep62_long.csv"
SSMSI_2024 = (PUBLIC / "ssmsi-base-dep-2024"
              / "donnee-dep-data.gouv-2024-geographie2025-produit-le2025-06-04_dep62.csv")
SHARED = Path("/work/shared/data/public")
COMPANIES = {"CGD ARRAS": "CGD-ARRAS", "CGD BETHUNE": "CGD-BETHUNE", "CGD CALAIS": "CGD-CALAIS",
             "CGD ECUIRES": "CGD-ECUIRES", "CGD ST OMER": "CGD-SAINT-OMER",
             "CGD ST POL SUR TERNOISE": "CGD-SAINT-POL"}
COMPANY_SERIES = {"etat4001_cbv": (7,), "etat4001_violences_mineurs": (52,),
                  "etat4001_menaces": (11, 12)}
DIAG_E4001 = {"diag_violences_sexuelles": (46, 47, 48, 49), "diag_menaces": (11, 12),
              "diag_violences_enfants": (52,)}


@pytest.fixture(scope="module")
def long_rows():
    """The long CSV read with the csv module, grouped by (index, year) for fast sums."""
    grouped = defaultdict(list)
    with open(LONG_CSV, encoding="utf-8") as fh:
        for r in csv.DictReader(fh, delimiter=";"):
            grouped[(int(r["code_index"]), int(r["annee"]))].append(r)
    return grouped


def _sum(rows, indexes, year, **where):
    """Independent sum of ``faits`` over the long CSV (csv module, empty cells skipped)."""
    return sum(int(r["faits"]) for i in indexes for r in rows[(i, year)]
               if r["faits"] != "" and all(r[k] == v for k, v in where.items()))


def _referential(structures):
    return Referential(
        plan=Plan(id="p", titre="Plan test", departement="62", annee_debut=2019, annee_fin=2022,
                  annee_reference=2018),
        axes=(), structures=tuple(structures), fiches=())


# --- État 4001 --------------------------------------------------------------------------------

def test_load_etat4001_is_tidy(long_rows):
    e4 = pdata.load_etat4001()
    assert list(e4.columns) == pdata.ETAT4001_COLUMNS
    assert len(e4) == sum(map(len, long_rows.values())) == 22_256  # SOURCE.md: 22,256 rows
    assert e4["annee"].dtype == "int64" and e4["code_index"].dtype == "int64"
    assert e4["faits"].dtype == "float64"
    assert set(e4["force"]) == {"PN", "GN"}
    assert sorted(e4["annee"].unique()) == list(range(2012, 2021))
    assert set(e4.loc[e4["force"] == "GN", "perimetre"]) == {""}
    # Empty cells are the unused index of the GN sheets (SOURCE.md: 96, 97, 99, 100).
    assert set(e4.loc[e4["faits"].isna(), "code_index"]) == {96, 97, 99, 100}
    labels = e4.drop_duplicates("code_index").set_index("code_index")["libelle_index"]
    assert labels[52] == "Violences, mauvais traitements et abandons d'enfants"
    assert labels[13] == "Atteintes à la dignité et à la personnalité"  # double space removed


def test_load_etat4001_returns_a_copy():
    e4 = pdata.load_etat4001()
    e4.loc[0, "faits"] = -1.0
    assert pdata.load_etat4001().loc[0, "faits"] != -1.0


@pytest.mark.parametrize("code, indexes", list(DIAG_E4001.items()) + list(COMPANY_SERIES.items()))
@pytest.mark.parametrize("year", [2012, 2016, 2019, 2020])
def test_departement_totals_against_the_long_csv(long_rows, code, indexes, year):
    s = pdata.series(code)
    got = s[(s["territoire"] == "62") & (s["annee"] == year)]["valeur"]
    assert got.tolist() == [float(_sum(long_rows, indexes, year))]


def test_hand_checked_literals():
    # Sums computed once by hand from the long CSV (awk / python csv), written as literals.
    def value(code, year, terr="62"):
        s = pdata.series(code)
        return s[(s["annee"] == year) & (s["territoire"] == terr)]["valeur"].item()
    assert value("diag_violences_sexuelles", 2019) == 1520
    assert value("diag_menaces", 2012) == 2340
    assert value("diag_violences_enfants", 2014) == 1591
    assert value("etat4001_cbv", 2020) == 7166
    assert value("etat4001_cbv", 2020, "CGD-ARRAS") == 365


@pytest.mark.parametrize("code", list(COMPANY_SERIES))
def test_company_rows_plus_police_equal_the_departement_total(long_rows, code):
    s = pdata.series(code)  # default referential: structures of the shipped plan.yaml
    assert set(s["territoire"]) == {"62"} | set(COMPANIES.values())
    indexes = COMPANY_SERIES[code]
    for year in range(2012, 2021):
        year_rows = s[s["annee"] == year].set_index("territoire")["valeur"]
        companies = year_rows.drop("62").sum()
        police = _sum(long_rows, indexes, year, force="PN")
        assert companies + police == year_rows["62"], (code, year)
        assert companies == _sum(long_rows, indexes, year, force="GN")
        for service, terr in COMPANIES.items():
            assert year_rows[terr] == _sum(long_rows, indexes, year, service=service)


def test_series_shape_and_attributes():
    s = pdata.series("etat4001_cbv")
    assert list(s.columns) == ["annee", "territoire", "valeur"]
    assert s["annee"].dtype == "int64" and s["valeur"].dtype == "float64"
    assert all(isinstance(t, str) for t in s["territoire"])
    assert sorted(s["annee"].unique()) == list(range(2012, 2021))
    assert "index 7 (« Autres coups et blessures volontaires criminels ou correctionnels »)" \
        in s.attrs["source"]
    assert "ne s'additionnent pas au total départemental" in s.attrs["source"]
    assert "tous les coups et blessures volontaires" in s.attrs["approximation"]
    assert "sphère familiale" in s.attrs["approximation"]
    assert s.attrs["unite"] == "faits constatés"
    m = pdata.series("etat4001_menaces")
    assert "index 11 (« Menaces ou chantages pour extorsion de fonds ») et 12" in m.attrs["source"]
    v = pdata.series("etat4001_violences_mineurs")
    assert "index 52" in v.attrs["source"] and "âge" in v.attrs["approximation"]
    d = pdata.series("diag_violences_sexuelles")
    assert set(d["territoire"]) == {"62"}
    assert "46 (« Viols sur des majeur(e)s »), 47" in d.attrs["source"]


def test_every_series_of_the_registry_has_french_texts():
    for code in pdata.SERIES:
        s = pdata.series(code)
        assert not s.empty
        assert s.attrs["serie"] == code
        for key in ("source", "approximation", "libelle"):
            assert isinstance(s.attrs[key], str) and len(s.attrs[key]) > 20, (code, key)
        assert s.attrs["unite"] in ("faits constatés", "victimes")
        assert s.attrs["source"].endswith(".") and s.attrs["approximation"].endswith(".")


def test_series_mutation_does_not_leak():
    s = pdata.series("diag_menaces")
    s.loc[0, "valeur"] = -1.0
    s.attrs["source"] = "x"
    again = pdata.series("diag_menaces")
    assert again.loc[0, "valeur"] != -1.0 and again.attrs["source"] != "x"


def test_company_mapping_comes_from_the_given_referential():
    ref = _referential([
        Structure(code="GEND-A", libelle="Compagnie A", type="compagnie_gendarmerie",
                  libelle_etat4001="CGD ARRAS"),
        Structure(code="TJ-A", libelle="Tribunal A", type="tribunal_judiciaire"),
    ])
    s = pdata.series("etat4001_menaces", ref)
    assert set(s["territoire"]) == {"62", "GEND-A"}
    assert s[(s["territoire"] == "GEND-A") & (s["annee"] == 2019)]["valeur"].item() == \
        pdata.series("etat4001_menaces")[lambda d: (d["territoire"] == "CGD-ARRAS")
                                         & (d["annee"] == 2019)]["valeur"].item()


def test_unknown_company_label_is_a_french_error():
    ref = _referential([Structure(code="CGD-X", libelle="X", type="compagnie_gendarmerie",
                                  libelle_etat4001="CGD NULLE PART")])
    with pytest.raises(ValueError, match="'CGD NULLE PART' absent\\(s\\) de l'État 4001.*CGD ARRAS"):
        pdata.series("etat4001_cbv", ref)


def test_unknown_series_code_lists_the_known_codes():
    with pytest.raises(KeyError, match="Série publique inconnue : 'etat4001_viols'.*"
                                       "etat4001_cbv.*diag_violences_intrafamiliales"):
        pdata.series("etat4001_viols")


# --- SSMSI ------------------------------------------------------------------------------------

def test_pinned_edition_and_label():
    assert pdata.SSMSI_EDITION == "ssmsi-base-dep-2024"
    assert pdata.SSMSI_EDITION_LABEL == (
        "SSMSI, base statistique départementale de la délinquance enregistrée, "
        "édition du 4 juin 2025 (données 2016-2024)")


def _french(x: str) -> float:
    return float(x.replace(",", "."))


def test_load_ssmsi_pinned_edition_against_the_csv_module():
    df = pdata.load_ssmsi()
    assert list(df.columns) == pdata.SSMSI_COLUMNS
    with open(SSMSI_2024, encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert len(df) == len(rows) == 162  # SOURCE.md: 18 indicators × 9 years
    for r in rows:
        got = df[(df["annee"] == int(r["annee"])) & (df["indicateur"] == r["indicateur"])]
        assert len(got) == 1
        g = got.iloc[0]
        assert g["nombre"] == _french(r["nombre"])
        assert g["taux_pour_mille"] == _french(r["taux_pour_mille"])
        assert g["insee_pop"] == int(r["insee_pop"])
        assert g["insee_pop_millesime"] == int(r["insee_pop_millesime"])


def test_load_ssmsi_older_layouts():
    e22 = pdata.load_ssmsi("ssmsi-base-dep-2022")
    cbv = e22[e22["indicateur"] == "Coups et blessures volontaires intrafamiliaux"]
    assert cbv["annee"].tolist() == list(range(2016, 2023))  # 2-digit years "16".."22"
    first = cbv.iloc[0]
    assert (first["nombre"], first["insee_pop"]) == (2867, 1_470_725)
    assert first["taux_pour_mille"] == pytest.approx(1.949378708)
    assert cbv[cbv["annee"] == 2022]["insee_pop_millesime"].item() == 2020  # millPOP "20"
    e23 = pdata.load_ssmsi("ssmsi-base-dep-2023")
    cbv = e23[e23["indicateur"] == "Coups et blessures volontaires intrafamiliaux"]
    # ssmsi-base-dep-2023/SOURCE.md "Values to know": 2016 2,896 … 2023 6,910.
    assert cbv["nombre"].tolist() == [2896, 2900, 3194, 3672, 3945, 5004, 6460, 6910]
    assert cbv.iloc[0]["taux_pour_mille"] == pytest.approx(1.96909687399072)  # "1,969…e+00"
    assert set(e23["unite_de_compte"]) >= {"Victime", "Infraction"}


@pytest.mark.parametrize("edition", list(pdata.SSMSI_EDITIONS))
def test_rates_are_counts_per_thousand_inhabitants(edition):
    df = pdata.load_ssmsi(edition)
    df = df[~df["indicateur"].str.startswith("Cambriolages")]  # per 1 000 dwellings
    rate = df["nombre"] / df["insee_pop"] * 1000
    assert ((rate - df["taux_pour_mille"]).abs() <= 1e-6 * rate.clip(lower=1)).all()
    first, last = pdata.SSMSI_EDITIONS[edition].years
    assert df["annee"].min() == first and df["annee"].max() == last


def test_unknown_edition():
    with pytest.raises(KeyError, match="Édition SSMSI inconnue : '2025'.*ssmsi-base-dep-2024"):
        pdata.load_ssmsi("2025")


def test_intrafamilial_series_uses_the_pinned_edition():
    s = pdata.series("diag_violences_intrafamiliales")
    # ssmsi-base-dep-2024/SOURCE.md: 2016 3,610 … 2019 4,693 … 2022 7,500.
    values = s.set_index("annee")["valeur"]
    assert (values[2016], values[2019], values[2022]) == (3610, 4693, 7500)
    assert sorted(s["annee"]) == list(range(2016, 2025))
    assert pdata.SSMSI_EDITION_LABEL in s.attrs["source"]
    assert "Violences physiques intrafamiliales" in s.attrs["source"]
    assert s.attrs["unite"] == "victimes"
    assert "ne se comparent pas" in s.attrs["approximation"]


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_french_decimal_parsing_round_trips(x):
    text = repr(x).replace(".", ",")
    assert pdata._french_float(pd.Series([text], dtype="str")).item() == x


# --- diagnostic table -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def diag():
    return pdata.diagnostic_table(load_territories())


def test_diagnostic_table_columns_and_series(diag):
    assert list(diag.columns) == pdata.DIAGNOSTIC_COLUMNS
    assert list(diag["serie"].unique()) == list(pdata.DIAGNOSTIC_SERIES)
    years = diag.groupby("serie")["annee"].apply(list).to_dict()
    assert years["diag_violences_sexuelles"] == list(range(2012, 2021))
    assert years["diag_violences_intrafamiliales"] == list(range(2016, 2025))
    assert (diag["taux_pour_mille"] == diag["valeur"] / diag["population"] * 1000).all()


def test_diagnostic_populations(diag, long_rows):
    def row(serie, year):
        return diag[(diag["serie"] == serie) & (diag["annee"] == year)].iloc[0]
    # 2016-2020: SSMSI population of the same year (ssmsi-base-dep-2024 insee_pop column).
    r = row("diag_violences_sexuelles", 2016)
    assert (r["population"], r["millesime_population"]) == (1_470_725, 2016)
    r = row("diag_violences_sexuelles", 2019)
    assert r["valeur"] == _sum(long_rows, (46, 47, 48, 49), 2019)
    assert r["taux_pour_mille"] == pytest.approx(1520 / 1_465_278 * 1000)
    # 2012-2015: not in the SSMSI edition -> populations légales 2019 (oldest shipped vintage).
    r = row("diag_violences_enfants", 2013)
    assert (r["population"], r["millesime_population"]) == (1_465_278, 2019)
    # SSMSI series: same rate as the SSMSI file itself.
    r = row("diag_violences_intrafamiliales", 2024)
    assert (r["valeur"], r["population"], r["millesime_population"]) == (8502, 1_460_184, 2022)
    assert r["taux_pour_mille"] == pytest.approx(5.8225539, abs=1e-7)


# --- provenance -------------------------------------------------------------------------------

def test_editions_describe_the_project_copies():
    eds = pdata.editions()
    files = [e["fichier"] for e in eds]
    assert files[:2] == [
        "data/public/etat4001-services-2012-2020/etat4001_services_dep62_long.csv",
        "data/public/ssmsi-base-dep-2024/"
        "donnee-dep-data.gouv-2024-geographie2025-produit-le2025-06-04_dep62.csv"]
    assert "data/territoires/insee-pop-legales-2021/donnees_communes_dep62.csv" in files
    for e in eds:
        assert set(e) == {"libelle", "edition", "licence", "origine", "fichier", "sha256"}
        path = ROOT / e["fichier"]
        assert not Path(e["fichier"]).is_absolute() and path.exists()
        assert e["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert "Licence Ouverte" in e["licence"]
    assert "4 juin 2025" in eds[1]["edition"]
    assert len(pdata.editions(include_territories=False)) == 2
    national = pdata.editions(include_territories=False, include_france=True)[2]
    assert national["fichier"] == f"data/public/{pdata.FRANCE_FOLDER}/{pdata.FRANCE_FILE}"
    assert national["sha256"] == hashlib.sha256((ROOT / national["fichier"]).read_bytes()).hexdigest()


@pytest.mark.skipif(not SHARED.is_dir(), reason="dossier source /work/shared absent")
def test_project_copies_are_byte_identical_to_the_sources():
    for sub in PUBLIC.iterdir():
        if sub.is_dir():
            for f in sub.iterdir():
                assert filecmp.cmp(f, SHARED / sub.name / f.name, shallow=False), f


def test_every_public_series_named_in_the_shipped_referential_exists():
    import yaml

    named = set()
    for path in sorted((ROOT / "data" / "referentiel" / "plan-cadre-2019-2022").glob("fiches-*.yaml")):
        for fiche in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            named |= {i["serie"] for i in fiche.get("indicateurs") or [] if i.get("serie")}
    assert named, "aucune série publique dans le référentiel livré"
    assert named <= set(pdata.SERIES), named - set(pdata.SERIES)


# --- the Pas-de-Calais among the other départements ----------------------------------------------

FRANCE_HEADER = ('"Code_departement";"Code_region";"annee";"indicateur";"unite_de_compte";"nombre";'
                 '"taux_pour_mille";"insee_pop";"insee_pop_millesime";"insee_log";"insee_log_millesime"')
VPI, VS = "Violences physiques intrafamiliales", "Violences sexuelles"


def _france_row(dep, region, year, ind, nombre, pop):
    return (f'"{dep}";"{region}";"{year}";"{ind}";"Victime";"{nombre}";"0,1";"{pop}";"{year}";'
            f'"1";"{year}"')


@pytest.fixture()
def france_dir(tmp_path):
    """Five départements, hand-made (same layout as the national file):
    62 and 59 (region 32), 75 (region 11), 2A (region 94, metropolitan), 971 (overseas)."""
    rows = [
        # 2022, VPI: 62 100 / 10 000 = 10 ‰; 59 50 / 40 000 = 1,25 ‰; 75 30 / 20 000 = 1,5 ‰;
        # 2A 9 / 500 = 18 ‰; 971 40 / 2 000 = 20 ‰
        _france_row("62", "32", 2022, VPI, 100, 10000), _france_row("59", "32", 2022, VPI, 50, 40000),
        _france_row("75", "11", 2022, VPI, 30, 20000), _france_row("2A", "94", 2022, VPI, 9, 500),
        _france_row("971", "01", 2022, VPI, 40, 2000),
        # 2022, VS: 75 has no count (empty cell); 62 20 / 10 000 = 2 ‰; 59 120 / 40 000 = 3 ‰;
        # 2A 1 / 500 = 2 ‰ (tie with 62); 971 0 / 2 000 = 0 ‰
        _france_row("62", "32", 2022, VS, 20, 10000), _france_row("59", "32", 2022, VS, 120, 40000),
        _france_row("75", "11", 2022, VS, "", 20000), _france_row("2A", "94", 2022, VS, 1, 500),
        _france_row("971", "01", 2022, VS, 0, 2000),
    ]
    folder = tmp_path / "france"
    folder.mkdir()
    (folder / pdata.FRANCE_FILE).write_text("\ufeff" + FRANCE_HEADER + "\n" + "\n".join(rows) + "\n",
                                            encoding="utf-8")
    return folder


def test_load_ssmsi_departements_keeps_codes_as_strings(france_dir):
    base = pdata.load_ssmsi_departements(france_dir)
    assert list(base.columns) == pdata.DEPARTEMENTS_COLUMNS
    assert set(base["departement"]) == {"62", "59", "75", "2A", "971"}
    assert base["nombre"].isna().sum() == 1
    assert [pdata.is_metropolitan(c) for c in ("02", "2A", "62", "971", "976")] == [
        True, True, True, False, False]


def test_aggregates_are_sums_of_counts_over_sums_of_populations(france_dir):
    base = pdata.load_ssmsi_departements(france_dir)
    t = pdata.comparison_table(base, "62").set_index(["indicateur", "perimetre"])
    vpi = t.loc[VPI]
    assert vpi.loc["departement", "taux_pour_mille"] == pytest.approx(10.0)
    # region 32: (100 + 50) / (10 000 + 40 000) = 3 ‰ (a mean of rates would give 5,625 ‰)
    assert vpi.loc["region", "taux_pour_mille"] == pytest.approx(3.0)
    assert vpi.loc["region", ["nombre", "population", "departements"]].tolist() == [150, 50000, 2]
    # metropolitan France: (100 + 50 + 30 + 9) / (10 000 + 40 000 + 20 000 + 500) = 189 / 70 500
    assert vpi.loc["france_metropolitaine", "taux_pour_mille"] == pytest.approx(189 / 70500 * 1000)
    # France: + 971: 229 / 72 500
    assert vpi.loc["france", "taux_pour_mille"] == pytest.approx(229 / 72500 * 1000)
    assert vpi.loc["france", "departements"] == 5
    # VS: 75 has no count: the sums leave it out of the counts and say so
    vs = t.loc[VS]
    assert vs.loc["france_metropolitaine", "manquants"] == 1
    assert vs.loc["region", "taux_pour_mille"] == pytest.approx(140 / 50000 * 1000)


def test_rank_among_metropolitan_departements(france_dir):
    base = pdata.load_ssmsi_departements(france_dir)
    r = pdata.departement_ranks(base, "62").set_index("indicateur")
    # VPI metropolitan rates: 2A 18, 62 10, 75 1,5, 59 1,25 (971 excluded though higher): 2nd of 4
    assert (r.loc[VPI, "rang"], r.loc[VPI, "sur"]) == (2, 4)
    assert r.loc[VPI, "taux_pour_mille"] == pytest.approx(10.0)
    # VS: 59 3, then 62 and 2A tied at 2 (shared rank 2), 75 without count not ranked: 2nd of 3
    assert (r.loc[VS, "rang"], r.loc[VS, "sur"]) == (2, 3)
    assert list(r.index) == [VPI, VS]


def test_region_departements_side_by_side(france_dir):
    base = pdata.load_ssmsi_departements(france_dir)
    reg = pdata.region_departements(base)
    part = reg[reg["indicateur"] == VPI].set_index("departement")
    assert list(part.index) == ["59", "62"]  # the other HdF départements are absent from the fixture
    assert part.loc["62", "nom"] == "Pas-de-Calais"
    assert part.loc["59", "taux_pour_mille"] == pytest.approx(1.25)


def test_national_file_matches_the_figures_checked_in_its_source():
    """SOURCE.md of the national file gives four rates computed from it (2024, ‰, 2 decimals)."""
    base = pdata.load_ssmsi_departements()
    assert base["departement"].nunique() == 101
    assert sum(pdata.is_metropolitan(c) for c in set(base["departement"])) == 96
    t = pdata.comparison_table(base[base["annee"] == 2024], "62").set_index(["indicateur", "perimetre"])
    source = (PUBLIC / pdata.FRANCE_FOLDER / "SOURCE.md").read_text(encoding="utf-8")
    for ind, perimetre, name in ((VPI, "france", "France"), (VPI, "departement", "Pas-de-Calais"),
                                 (VS, "france", "France"), (VS, "departement", "Pas-de-Calais")):
        rate = f"{t.loc[(ind, perimetre), 'taux_pour_mille']:.2f}"
        line = next(li for li in source.splitlines() if f"\"{ind}\", 2024" in li)
        published = re.search(rf"{name}[^;‰]*?(\d+\.\d+) ‰", line).group(1)
        assert rate == published, (ind, perimetre, rate, line)


def test_the_departement_file_is_the_62_subset_of_the_national_file():
    nat = pdata.load_ssmsi_departements()
    own = nat[nat["departement"] == "62"].set_index(["indicateur", "annee"]).sort_index()
    dep = pdata.load_ssmsi().set_index(["indicateur", "annee"]).sort_index()
    assert own["nombre"].equals(dep["nombre"]) and own["insee_pop"].equals(dep["insee_pop"])

"""Territories: the 890 communes, 7 arrondissements and 20 EPCI of the Pas-de-Calais, legal
populations by vintage, code resolution and boundaries.

Expected populations are literals computed outside the library (awk on the project copies, e.g.
``awk -F';' 'NR>1{s[$4]+=$9} END{...}' insee-pop-legales-2021/donnees_communes_dep62.csv``) or
quoted from the SOURCE.md files; a small hand-written territory folder checks the mismatch handling.
"""

from __future__ import annotations

import csv
import filecmp
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plancadre_eval import territories
from plancadre_eval.referential import Plan, Referential, Structure
from plancadre_eval.territories import UnknownTerritoryError, load_territories

ROOT = Path(__file__).resolve().parents[1]
TERR_DIR = ROOT / "data" / "territoires"
SHARED = Path("/work/shared/data/public")

ARRONDISSEMENTS = {"621": "Arras", "622": "Béthune", "623": "Boulogne-sur-Mer",
                   "624": "Montreuil", "625": "Saint-Omer", "626": "Calais", "627": "Lens"}
LENS_LIEVIN = "246200364"


@pytest.fixture(scope="module")
def terr():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the shipped files must agree: no warning
        return load_territories()


@pytest.fixture(scope="module")
def ref():
    """A small referential built in code: one gendarmerie company, one court, one structure
    without arrondissement."""
    return Referential(
        plan=Plan(id="p", titre="Plan test", departement="62", annee_debut=2019, annee_fin=2022,
                  annee_reference=2018),
        axes=(),
        structures=(
            Structure(code="CGD-ARRAS", libelle="Compagnie de gendarmerie d'Arras",
                      type="compagnie_gendarmerie", arrondissement="621",
                      libelle_etat4001="CGD ARRAS"),
            Structure(code="TJ-BETHUNE", libelle="Tribunal judiciaire de Béthune",
                      type="tribunal_judiciaire", arrondissement="622"),
            Structure(code="ASSO-X", libelle="Association X", type="autre"),
        ),
        fiches=(),
    )


# --- tables -----------------------------------------------------------------------------------

def test_890_communes_with_string_codes_and_all_columns(terr):
    c = terr.communes
    assert list(c.columns) == ["commune", "nom", "arrondissement", "epci", "nom_epci",
                               "population_2019", "population_2021"]
    assert len(c) == 890 and c["commune"].is_unique
    assert all(isinstance(x, str) and len(x) == 5 and x.startswith("62") for x in c["commune"])
    assert set(c["arrondissement"]) == set(ARRONDISSEMENTS)
    assert all(len(e) == 9 and e.isdigit() for e in c["epci"])
    assert not c[["population_2019", "population_2021"]].isna().any().any()
    assert terr.anomalies == ()


def test_communes_per_arrondissement_as_in_cog_source(terr):
    # insee-cog-2024/SOURCE.md: 621: 357, 622: 104, 623: 74, 624: 164, 625: 89, 626: 52, 627: 50.
    counts = terr.communes["arrondissement"].value_counts().to_dict()
    assert counts == {"621": 357, "622": 104, "623": 74, "624": 164, "625": 89, "626": 52,
                      "627": 50}


def test_seven_arrondissements_with_cog_names(terr):
    a = terr.arrondissements
    assert list(a.columns) == ["arrondissement", "nom"]
    assert dict(zip(a["arrondissement"], a["nom"])) == ARRONDISSEMENTS


def test_twenty_epcis(terr):
    e = terr.epcis
    assert list(e.columns) == ["epci", "nom"] and len(e) == 20 and e["epci"].is_unique
    assert e.set_index("epci").loc[LENS_LIEVIN, "nom"] == "CA de Lens - Liévin"


def test_tables_are_copies(terr):
    c = terr.communes
    c.loc[0, "nom"] = "modifié"
    a = terr.arrondissements
    a.loc[0, "nom"] = "modifié"
    assert terr.communes.loc[0, "nom"] != "modifié"
    assert terr.arrondissements.loc[0, "nom"] == "Arras"


def test_loader_is_cached_per_folder(terr):
    assert load_territories() is terr
    assert load_territories(TERR_DIR) is terr
    assert load_territories("data/territoires") is terr  # relative to the project root


# --- populations ------------------------------------------------------------------------------

def test_population_of_the_departement_per_vintage(terr):
    # insee-pop-legales-2021/SOURCE.md: 1,461,441 ; insee-pop-legales-2019/SOURCE.md: 1,465,278.
    assert terr.population("62", 2021) == 1_461_441
    assert terr.population("62", 2019) == 1_465_278


def test_population_of_arrondissements_computed_with_awk(terr):
    assert terr.population("627", 2021) == 369_427
    assert terr.population("624", 2021) == 110_907
    assert terr.population("622", 2019) == 292_553
    assert terr.population("621", 2020) == 249_279  # 2020 -> vintage 2019


def test_population_of_an_epci_and_communes(terr):
    # awk join of EPCI_2020 (EPCI = 246200364, 36 communes) with the 2021 PMUN column.
    assert terr.population(LENS_LIEVIN, 2021) == 242_587
    assert terr.population("62498", 2021) == 32_618   # Lens
    assert terr.population("62041", 2022) == 42_600   # Arras, vintage 2021
    assert terr.population("62001", 2019) == 1_877    # Ablain-Saint-Nazaire


def test_vintage_for(terr):
    assert terr.vintages == [2019, 2021]
    assert [terr.vintage_for(y) for y in (2012, 2018, 2019, 2020, 2021, 2022, 2030)] == \
        [2019, 2019, 2019, 2019, 2021, 2021, 2021]
    with pytest.raises(TypeError, match="Année invalide"):
        terr.vintage_for(2021.5)


def test_populations_tables(terr):
    arr = terr.populations("arrondissement", 2021)
    assert list(arr.columns) == ["territoire", "nom", "population"]
    assert list(arr["territoire"]) == sorted(ARRONDISSEMENTS)
    assert arr.set_index("territoire").loc["627", "nom"] == "Lens"
    dep = terr.populations("departement", 2019)
    assert dep.to_dict("records") == [{"territoire": "62", "nom": "Pas-de-Calais",
                                       "population": 1_465_278}]
    assert len(terr.populations("commune", 2021)) == 890
    assert len(terr.populations("epci", 2021)) == 20
    with pytest.raises(ValueError, match="sans population légale"):
        terr.populations("structure", 2021)


@settings(max_examples=25, deadline=None)
@given(year=st.integers(1990, 2100), level=st.sampled_from(["arrondissement", "epci", "commune"]))
def test_levels_add_up_to_the_departement(terr, year, level):
    v = terr.vintage_for(year)
    assert v in terr.vintages
    assert v <= year or v == min(terr.vintages)
    assert not [w for w in terr.vintages if v < w <= year]  # no more recent usable vintage
    assert terr.populations(level, year)["population"].sum() == terr.population("62", year)


@settings(max_examples=25, deadline=None)
@given(i=st.integers(0, 889), year=st.integers(2015, 2025))
def test_commune_population_matches_the_communes_table(terr, i, year):
    row = terr.communes.iloc[i]
    assert terr.population(row["commune"], year) == row[f"population_{terr.vintage_for(year)}"]


def test_population_errors(terr):
    with pytest.raises(UnknownTerritoryError, match="Territoire inconnu : '99'") as exc:
        terr.population("99", 2021)
    assert isinstance(exc.value, KeyError)
    assert str(exc.value).startswith("Territoire inconnu")  # no KeyError quotes
    with pytest.raises(TypeError, match="chaîne de caractères"):
        terr.population(62, 2021)
    with pytest.raises(TypeError, match="chaîne de caractères"):
        terr.population(627.0, 2021)


# --- code resolution --------------------------------------------------------------------------

@pytest.mark.parametrize("code, level, name, arrondissement", [
    ("62", "departement", "Pas-de-Calais", None),
    ("621", "arrondissement", "Arrondissement d'Arras", "621"),
    ("627", "arrondissement", "Arrondissement de Lens", "627"),
    ("623", "arrondissement", "Arrondissement de Boulogne-sur-Mer", "623"),
    (LENS_LIEVIN, "epci", "CA de Lens - Liévin", "627"),
    ("62498", "commune", "Lens", "627"),
    ("62826", "commune", "Le Touquet-Paris-Plage", "624"),
    ("CGD-ARRAS", "compagnie_gendarmerie", "Compagnie de gendarmerie d'Arras", "621"),
    ("TJ-BETHUNE", "structure", "Tribunal judiciaire de Béthune", "622"),
    ("ASSO-X", "structure", "Association X", None),
])
def test_level_name_and_arrondissement_of_each_level(terr, ref, code, level, name, arrondissement):
    assert terr.level_of(code, ref) == level
    assert terr.name_of(code, ref) == name
    assert terr.arrondissement_of(code, ref) == arrondissement


def test_unknown_codes(terr, ref):
    assert terr.level_of("628", ref) is None
    assert terr.level_of("CGD-ARRAS") is None  # no referential: structures are unknown
    with pytest.raises(UnknownTerritoryError, match="Territoire inconnu : 'CGD-LILLE'.*CGD-ARRAS"):
        terr.name_of("CGD-LILLE", ref)
    with pytest.raises(UnknownTerritoryError, match="aucun référentiel fourni"):
        terr.name_of("CGD-ARRAS")
    with pytest.raises(UnknownTerritoryError):
        terr.arrondissement_of("59350", ref)
    with pytest.raises(TypeError):
        terr.level_of(621, ref)


def test_valid_codes(terr, ref):
    codes = terr.valid_codes(ref)
    assert len(codes) == 1 + 7 + 20 + 890 + 3
    assert {"62", "627", LENS_LIEVIN, "62498", "CGD-ARRAS", "ASSO-X"} <= codes
    assert all(isinstance(c, str) for c in codes)
    assert terr.valid_codes() == codes - {"CGD-ARRAS", "TJ-BETHUNE", "ASSO-X"}


def test_level_of_uses_the_shipped_files(ref):
    assert territories.level_of("627", ref) == "arrondissement"
    assert territories.level_of("CGD-ARRAS", ref) == "compagnie_gendarmerie"



# --- levels and expected codes ----------------------------------------------------------------

def test_levels_are_the_french_strings_of_the_referential():
    assert territories.Level.COMPAGNIE_GENDARMERIE == "compagnie_gendarmerie"
    assert f"{territories.Level.EPCI}" == "epci"
    assert territories.LEVEL_ORDER[-1] == "autre" and territories.LEVEL_ORDER[0] == "departement"


def test_expected_codes_per_level(terr, ref):
    # 3 structures: CGD-ARRAS (gendarmerie company), TJ-BETHUNE (tribunal), ASSO-X (other)
    assert territories.expected_codes("departement", ref) == ["62"]
    assert territories.expected_codes("structure", ref) == ["TJ-BETHUNE", "ASSO-X"]
    assert territories.expected_codes("compagnie_gendarmerie", ref) == ["CGD-ARRAS"]
    assert territories.expected_codes("arrondissement", ref, terr) == sorted(ARRONDISSEMENTS)
    epcis = territories.expected_codes("epci", ref, terr)
    assert len(epcis) == 20 and LENS_LIEVIN in epcis
    assert len(territories.expected_codes("commune", ref, terr)) == 890


def test_expected_codes_refuses_an_unknown_level_or_missing_territories(ref):
    with pytest.raises(ValueError, match="Niveau territorial inconnu : 'region'"):
        territories.expected_codes("region", ref)
    with pytest.raises(ValueError, match="passez territories=load_territories"):
        territories.expected_codes("commune", ref)


def test_indicator_codes_prefers_the_indicator_list(terr, ref):
    from plancadre_eval.referential import Indicator
    listed = Indicator(id="9.1.1", fiche="9.1", libelle="x", type="comptage", unite="u",
                       niveau="epci", territoires=(LENS_LIEVIN,))
    assert territories.indicator_codes(listed, ref, terr) == [LENS_LIEVIN]
    company = Indicator(id="9.1.2", fiche="9.1", libelle="x", type="comptage", unite="u",
                        niveau="compagnie_gendarmerie")
    assert territories.indicator_codes(company, ref) == ["CGD-ARRAS"]

# --- boundaries -------------------------------------------------------------------------------

def test_arrondissement_boundaries(terr):
    b = terr.boundaries("arrondissement")
    assert set(b) == set(ARRONDISSEMENTS)  # "62001" -> "621" … "62007" -> "627"
    for code, rings in b.items():
        assert rings, code
        for ring in rings:
            assert len(ring) >= 4 and ring[0] == ring[-1]
            assert all(1.5 < lon < 3.3 and 50.0 < lat < 51.1 for lon, lat in ring), code
    # Lens (627) lies east of Boulogne-sur-Mer (623).
    mean_lon = {c: sum(p[0] for p in r[0]) / len(r[0]) for c, r in b.items()}
    assert mean_lon["627"] > mean_lon["623"]


def test_departement_boundary_contains_the_arrondissements(terr):
    dep = terr.boundaries("departement")
    assert list(dep) == ["62"]
    lons = [p[0] for r in dep["62"] for p in r]
    lats = [p[1] for r in dep["62"] for p in r]
    box = (min(lons) - 1e-6, max(lons) + 1e-6, min(lats) - 1e-6, max(lats) + 1e-6)
    for rings in terr.boundaries().values():
        for lon, lat in (p for r in rings for p in r):
            assert box[0] <= lon <= box[1] and box[2] <= lat <= box[3]


def test_boundaries_are_fresh_lists_and_other_levels_refused(terr):
    b = terr.boundaries()
    b["621"].clear()
    assert terr.boundaries()["621"]
    with pytest.raises(ValueError, match="Pas de contours pour le niveau 'commune'"):
        terr.boundaries("commune")


# --- a hand-written territory folder with disagreeing files ------------------------------------

def _write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))


@pytest.fixture()
def small_folder(tmp_path):
    """3 communes in the COG (62001 and 62002 in 621, 62003 in 627); the EPCI file forgets 62003
    and puts 62001 and 62002 in one EPCI; the 2016 vintage has an unknown commune 62999 (in
    arrondissement 627) and no 62002; the 2021 vintage is complete."""
    d = tmp_path / "territoires"
    _write(d / "insee-cog-2024" / "v_commune_2024_dep62.csv",
           '"TYPECOM","COM","REG","DEP","CTCD","ARR","TNCC","NCC","NCCENR","LIBELLE","CAN","COMPARENT"\n'
           '"COM","62001","32","62","62D","621","1","A","A","Aville","6201",""\n'
           '"COM","62002","32","62","62D","621","0","B","B","Bville","6201",""\n'
           '"COM","62003","32","62","62D","627","0","C","C","Cville","6202",""\n')
    _write(d / "insee-cog-2024" / "v_arrondissement_2024_dep62.csv",
           '"ARR","DEP","REG","CHEFLIEU","TNCC","NCC","NCCENR","LIBELLE"\n'
           '"621","62","32","62001","1","ARRAS","Arras","Arras"\n'
           '"627","62","32","62003","0","LENS","Lens","Lens"\n')
    _write(d / "insee-epci-2020" / "EPCI_2020_dep62.csv",
           "CODGEO;LIBGEO;EPCI;LIBEPCI;DEP;REG\r\n"
           "62001;Aville;200000001;CC Test;62;32\r\n"
           "62002;Bville;200000001;CC Test;62;32\r\n", encoding="utf-8-sig")
    _write(d / "insee-pop-legales-2016" / "donnees_communes_dep62.csv",
           "CODREG;REG;CODDEP;CODARR;CODCAN;CODCOM;COM;PMUN;PCAP;PTOT\n"
           "32;HdF;62;1;01;001;Aville;100;1;101\n"
           "32;HdF;62;7;02;003;Cville;300;3;303\n"
           "32;HdF;62;7;02;999;Zville;5;0;5\n")
    _write(d / "insee-pop-legales-2021" / "donnees_communes_dep62.csv",
           "REG;Région;DEP;CODARR;CODCAN;CODCOM;COM;Commune;PMUN;PCAP;PTOT\r\n"
           "32;HdF;62;1;01;001;62001;Aville;110;1;111\r\n"
           "32;HdF;62;1;01;002;62002;Bville;20;0;20\r\n"
           "32;HdF;62;7;02;003;62003;Cville;330;3;333\r\n")
    return d


def test_mismatches_are_reported_and_handled(small_folder):
    with pytest.warns(UserWarning, match="Territoires :"):
        t = load_territories(small_folder)
    text = " ".join(t.anomalies)
    assert "composition des EPCI 2020 : 1 commune(s) du COG 2024 absente(s) (62003)" in text
    assert "populations légales 2016 : 1 commune(s) du COG 2024 absente(s) (62002)" in text
    assert "populations légales 2016 : 1 commune(s) inconnue(s) du COG 2024 (62999)" in text
    assert "populations légales 2021" not in text
    c = t.communes.set_index("commune")
    assert c.loc["62003", "epci"] == ""
    assert c["population_2016"].isna().tolist() == [False, True, False]
    # Hand sums: 2016 -> 100 + 300 + 5 ; 2021 -> 110 + 20 + 330.
    assert t.population("62", 2016) == 405
    assert t.population("627", 2017) == 305          # 300 + 5 (62999 counted in its arrondissement)
    assert t.population("62", 2021) == 460
    assert t.population("200000001", 2021) == 130    # 62003 has no EPCI
    assert t.arrondissement_of("200000001") == "621"
    assert t.name_of("621") == "Arrondissement d'Arras"
    assert t.level_of("62999") is None               # not in the COG


def test_vintage_rule_with_other_vintages(small_folder):
    with pytest.warns(UserWarning):
        t = load_territories(small_folder)
    assert t.vintages == [2016, 2021]
    assert [t.vintage_for(y) for y in (2010, 2016, 2019, 2020, 2021, 2025)] == \
        [2016, 2016, 2016, 2016, 2021, 2021]


def test_epci_spanning_two_arrondissements_has_no_arrondissement(small_folder):
    epci = small_folder / "insee-epci-2020" / "EPCI_2020_dep62.csv"
    epci.write_text(epci.read_text(encoding="utf-8-sig") + "62003;Cville;200000001;CC Test;62;32\n",
                    encoding="utf-8-sig")
    with pytest.warns(UserWarning):
        t = load_territories(small_folder)
    assert t.arrondissement_of("200000001") is None
    assert t.population("200000001", 2021) == 460


def test_missing_folder_is_a_french_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="Dossier des territoires introuvable"):
        load_territories(tmp_path / "absent")


# --- the project copy against the original (skipped without /work/shared) --------------------

@pytest.mark.skipif(not SHARED.is_dir(), reason="dossier source /work/shared absent")
def test_project_copies_are_byte_identical_to_the_sources():
    for sub in TERR_DIR.iterdir():
        for f in sub.iterdir():
            assert filecmp.cmp(f, SHARED / sub.name / f.name, shallow=False), f


def test_cog_rows_counted_with_the_csv_module():
    with open(TERR_DIR / "insee-cog-2024" / "v_commune_2024_dep62.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 890
    assert load_territories().communes["commune"].tolist() == sorted(r["COM"] for r in rows)

"""Territories of the Pas-de-Calais: communes, arrondissements, EPCI, legal populations, boundaries.

Everything is read from the project copy ``data/territoires/`` (never from the original source folder):

- ``insee-cog-2024/``: INSEE Code officiel géographique at 1 January 2024 (890 communes, 7
  arrondissements, the département). It is the reference list of communes and their names.
- ``insee-epci-2020/``: commune -> EPCI (SIREN, 9 digits) composition, file "2020".
- ``insee-pop-legales-<vintage>/``: INSEE populations légales by commune (2019 and 2021 shipped).
  The population used everywhere is the *population municipale* (``PMUN``), in inhabitants.
- ``geojson-62/``: simplified boundaries (IGN Admin Express COG 2018) of the département and its
  arrondissements, WGS84 longitude/latitude.

Codes are always strings: ``"62"`` (département), ``"621"``…``"627"`` (arrondissements),
``"246200364"`` (EPCI SIREN), ``"62498"`` (commune). Named structures (gendarmerie companies,
courts…) come from the referential (``plan.yaml``), not from INSEE.

Population vintage for a data year (:meth:`Territories.vintage_for`): the most recent shipped
vintage that is not later than the year, else the oldest shipped vintage. With 2019 and 2021
shipped: 2018 and earlier -> 2019 (oldest), 2019 and 2020 -> 2019, 2021 and later -> 2021.

Aggregates (département, arrondissement, EPCI) are sums of the population municipale of the
communes of the Pas-de-Calais in the vintage file, each commune in the arrondissement written in
that vintage file and in the EPCI of ``insee-epci-2020``. An EPCI that extends beyond the
département (CC Flandre Lys) therefore only counts its Pas-de-Calais communes.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import paths
from .provenance import source_entry
from .years import coerce_year

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .referential import Indicator, Referential, Structure

DEPARTEMENT = "62"
DEPARTEMENT_NAME = "Pas-de-Calais"


class Level(StrEnum):
    """Territorial level of a code, as written in the referential (``niveau:``) and in
    ``indicateurs.csv`` (``niveau``). Members compare equal to the French strings.

    ``STRUCTURE`` is a named structure of ``plan.yaml`` that is *not* a gendarmerie company
    (tribunals, police stations…); gendarmerie companies are their own level
    ``COMPAGNIE_GENDARMERIE``: the referential gives them their own ``niveau`` (2.2.x, 3.2.1), its
    ``structure`` indicators name tribunals only (3.1.x), and the État 4001 series are per company.
    """

    DEPARTEMENT = "departement"
    ARRONDISSEMENT = "arrondissement"
    EPCI = "epci"
    COMMUNE = "commune"
    STRUCTURE = "structure"
    COMPAGNIE_GENDARMERIE = "compagnie_gendarmerie"


#: Order of levels in tables, then "autre" for a code no level recognises.
LEVEL_ORDER: tuple[str, ...] = (*Level, "autre")
#: Territorial levels backed by INSEE files (the referential adds "structure" and
#: "compagnie_gendarmerie").
INSEE_LEVELS = (Level.DEPARTEMENT, Level.ARRONDISSEMENT, Level.EPCI, Level.COMMUNE)
#: Levels for which boundaries are shipped (``geojson-62``).
BOUNDARY_LEVELS = ("departement", "arrondissement")

COG_FOLDER = "insee-cog-2024"
EPCI_FOLDER = "insee-epci-2020"
POP_PREFIX = "insee-pop-legales-"
GEOJSON_FOLDER = "geojson-62"
COG_COMMUNES = "v_commune_2024_dep62.csv"
COG_ARRONDISSEMENTS = "v_arrondissement_2024_dep62.csv"
COG_DEPARTEMENT = "v_departement_2024_dep62.csv"
EPCI_FILE = "EPCI_2020_dep62.csv"
POP_FILE = "donnees_communes_dep62.csv"
GEOJSON_FILES = {
    "departement": "departement-62-pas-de-calais.geojson",
    "arrondissement": "arrondissements-62-pas-de-calais.geojson",
}

_POP_ORIGINS = {
    "2019": "insee.fr, via le dépôt GitHub vincent71219291/candidate_cities_gym",
    "2021": "insee.fr, via le dépôt GitHub sebastien-prudhomme/abbeville",
}

# INSEE "TNCC" (type de nom en clair) -> linking word used after "Arrondissement".
_CHARNIERE = {"0": "de ", "1": "d'", "2": "du ", "3": "de la ", "4": "des ", "5": "de l'",
              "6": "des ", "7": "de las ", "8": "de los "}


class UnknownTerritoryError(KeyError):
    """A territory code that is neither the département, an arrondissement, an EPCI, a commune
    nor a structure of the referential. The message is a plain French sentence."""

    def __str__(self) -> str:  # KeyError would show the message between quotes
        return str(self.args[0]) if self.args else ""


def _check_code(code: Any) -> str:
    if not isinstance(code, str):
        raise TypeError(
            f"Un code de territoire s'écrit comme une chaîne de caractères (par exemple \"627\"), "
            f"pas comme un nombre : reçu {code!r} ({type(code).__name__})."
        )
    return code.strip()


def _check_year(year: Any) -> int:
    """``year`` read by :func:`years.coerce_year` (the one year check); TypeError otherwise."""
    try:
        return coerce_year(year)
    except ValueError:
        raise TypeError(f"Année invalide : {year!r} (attendu un entier, par exemple 2021).") from None


def _read_csv(path: Path, sep: str) -> pd.DataFrame:
    import pandas as pd  # imported when needed: a run with nothing to redo never loads it
    if not path.exists():
        raise FileNotFoundError(f"Fichier des territoires introuvable : {path}.")
    # utf-8-sig drops the byte-order mark of the EPCI file; codes stay strings.
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _require(df: pd.DataFrame, columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path.name} : colonnes manquantes {', '.join(missing)} "
                         f"(colonnes lues : {', '.join(df.columns)}).")


def _read_population(path: Path) -> pd.DataFrame:
    """One vintage file -> [commune, arrondissement, population] (population municipale)."""
    import pandas as pd  # imported when needed: a run with nothing to redo never loads it
    raw = _read_csv(path, ";")
    dep_col = "CODDEP" if "CODDEP" in raw.columns else "DEP"
    _require(raw, [dep_col, "CODARR", "CODCOM", "PMUN"], path)
    dep = raw[dep_col].str.strip()
    out = pd.DataFrame({
        # Both vintages carry CODCOM (3 digits); COM is the name in 2019 but the code in 2021.
        "commune": dep + raw["CODCOM"].str.strip().str.zfill(3),
        "arrondissement": dep + raw["CODARR"].str.strip(),
        "population": pd.to_numeric(raw["PMUN"].str.strip(), errors="raise").astype("int64"),
    })
    dupes = out["commune"][out["commune"].duplicated()]
    if len(dupes):
        raise ValueError(f"{path.name} : communes en double : {', '.join(sorted(set(dupes)))}.")
    return out


def _ring(coords: list) -> list[tuple[float, float]]:
    return [(float(p[0]), float(p[1])) for p in coords]


def _geojson_code(level: str, code: str) -> str:
    """geojson-62 codes -> INSEE COG codes: arrondissement "62001" -> "621"."""
    if level == "arrondissement":
        if not re.fullmatch(r"\d{2}00\d", code):
            raise ValueError(f"Code d'arrondissement inattendu dans le GeoJSON : {code!r}.")
        return code[:2] + code[-1]
    return code


@dataclass(frozen=True, eq=False)
class Territories:
    """Territorial reference of the département, loaded by :func:`load_territories`.

    Table attributes are returned as copies (callers may modify them freely).
    ``anomalies`` lists, in French, every disagreement found between the INSEE files
    (empty for the shipped files).
    """

    folder: Path
    _communes: pd.DataFrame = field(repr=False)
    _arrondissements: pd.DataFrame = field(repr=False)
    _epcis: pd.DataFrame = field(repr=False)
    _pop: dict[int, pd.DataFrame] = field(repr=False)
    departement: str = DEPARTEMENT
    departement_name: str = DEPARTEMENT_NAME
    anomalies: tuple[str, ...] = ()
    _cache: dict = field(default_factory=dict, repr=False)

    # --- tables ---------------------------------------------------------------------------
    @property
    def communes(self) -> pd.DataFrame:
        """[commune, nom, arrondissement, epci, nom_epci, population_<vintage>...], one row per
        commune of the COG 2024, sorted by code. Populations are population municipale
        (inhabitants, nullable integers: missing when the commune is absent from a vintage)."""
        return self._communes.copy()

    @property
    def arrondissements(self) -> pd.DataFrame:
        """[arrondissement, nom] (621 Arras … 627 Lens), from the COG 2024."""
        return self._arrondissements[["arrondissement", "nom"]].copy()

    @property
    def epcis(self) -> pd.DataFrame:
        """[epci, nom]: the EPCI (SIREN) having at least one commune in the département."""
        return self._epcis.copy()

    @property
    def vintages(self) -> list[int]:
        """Shipped populations légales vintages, ascending (e.g. [2019, 2021])."""
        return sorted(self._pop)

    # --- populations ----------------------------------------------------------------------
    def vintage_for(self, year: int) -> int:
        """Populations légales vintage used for data of ``year``: the most recent shipped
        vintage <= year, else the oldest shipped vintage (2018 -> 2019, 2020 -> 2019,
        2021 and later -> 2021 with the shipped files)."""
        y = _check_year(year)
        earlier = [v for v in self.vintages if v <= y]
        return max(earlier) if earlier else min(self.vintages)

    def level(self, code: str) -> str | None:
        """INSEE level of a code ("departement", "arrondissement", "epci", "commune") or None."""
        code = _check_code(code)
        if code == self.departement:
            return "departement"
        if code in self._arr_codes:
            return "arrondissement"
        if code in self._epci_codes:
            return "epci"
        if code in self._commune_codes:
            return "commune"
        return None

    def populations(self, level: str, year: int) -> pd.DataFrame:
        """[territoire, nom, population] for every territory of an INSEE ``level`` and the
        vintage of ``year`` (population municipale, inhabitants), sorted by code."""
        if level not in INSEE_LEVELS:
            raise ValueError(f"Niveau {level!r} sans population légale ; niveaux possibles : "
                             f"{', '.join(INSEE_LEVELS)}.")
        return self._populations(level, self.vintage_for(year)).copy()

    def _populations(self, level: str, vintage: int) -> pd.DataFrame:
        key = (level, vintage)
        if key not in self._cache:
            self._cache[key] = self._aggregate(level, vintage)
        return self._cache[key]

    def _aggregate(self, level: str, vintage: int) -> pd.DataFrame:
        import pandas as pd  # imported when needed: a run with nothing to redo never loads it
        pop = self._pop[vintage]
        if level == "departement":
            out = pd.DataFrame({"territoire": [self.departement], "nom": [self.departement_name],
                                "population": [int(pop["population"].sum())]})
        elif level == "commune":
            names = self._communes.set_index("commune")["nom"]
            out = pop[["commune", "population"]].rename(columns={"commune": "territoire"})
            out.insert(1, "nom", out["territoire"].map(names).fillna(""))
        else:
            key = "arrondissement" if level == "arrondissement" else "epci"
            if level == "epci":
                epci_of = self._communes.set_index("commune")["epci"]
                pop = pop.assign(epci=pop["commune"].map(epci_of))
                pop = pop[pop["epci"].notna() & (pop["epci"] != "")]
            out = (pop.groupby(key, as_index=False)["population"].sum()
                   .rename(columns={key: "territoire"}))
            table = self._arrondissements if level == "arrondissement" else self._epcis
            names = table.set_index(key)["nom"]
            out.insert(1, "nom", out["territoire"].map(names).fillna(""))
        out["population"] = out["population"].astype("int64")
        return out.sort_values("territoire").reset_index(drop=True)

    def population(self, code: str, year: int) -> int:
        """Population municipale (inhabitants) of the département, an arrondissement, an EPCI
        (its Pas-de-Calais communes) or a commune, for the vintage of ``year``."""
        code = _check_code(code)
        level = self.level(code)
        if level is None:
            raise UnknownTerritoryError(
                f"Territoire inconnu : {code!r}. Une population légale existe pour le département "
                f"({self.departement}), les arrondissements ({', '.join(sorted(self._arr_codes))}), "
                f"les EPCI (SIREN à 9 chiffres) et les communes (code INSEE à 5 chiffres)."
            )
        table = self._populations(level, self.vintage_for(year))
        hit = table.loc[table["territoire"] == code, "population"]
        if hit.empty:
            raise UnknownTerritoryError(
                f"Le territoire {code!r} n'a pas de population dans les populations légales "
                f"{self.vintage_for(year)}."
            )
        return int(hit.iloc[0])

    # --- code resolution ------------------------------------------------------------------
    def level_of(self, code: str, referential: Referential | None = None) -> str | None:
        """Referential level of a code ("departement", "arrondissement", "epci", "commune",
        "structure", "compagnie_gendarmerie"), None when unknown. Structures come from
        ``referential.structures``: type compagnie_gendarmerie -> "compagnie_gendarmerie",
        any other type -> "structure"."""
        code = _check_code(code)
        level = self.level(code)
        if level is not None:
            return level
        structure = _structure(code, referential)
        return None if structure is None else structure_level(structure)

    def name_of(self, code: str, referential: Referential | None = None) -> str:
        """French label: "Pas-de-Calais", "Arrondissement de Lens", "CA de Lens - Liévin",
        "Lens", "Compagnie de gendarmerie d'Arras". Unknown code -> UnknownTerritoryError."""
        code = _check_code(code)
        level = self.level(code)
        if level == "departement":
            return self.departement_name
        if level in ("arrondissement", "epci", "commune"):
            return self._names[level][code]
        structure = _structure(code, referential)
        if structure is not None:
            return structure.libelle
        raise self._unknown(code, referential)

    def valid_codes(self, referential: Referential | None = None) -> set[str]:
        """Every known territory code: "62", arrondissements, EPCI, communes, structures."""
        codes = {self.departement} | self._arr_codes | self._epci_codes | self._commune_codes
        if referential is not None:
            codes |= {s.code for s in referential.structures}
        return codes

    def arrondissement_of(self, code: str, referential: Referential | None = None) -> str | None:
        """Arrondissement holding a territory: itself for an arrondissement, the commune's
        arrondissement (COG 2024), the single arrondissement of an EPCI whose communes all lie in
        one arrondissement (None when it spans several), the ``arrondissement`` field of a
        structure (None if absent); None for the département. Unknown code ->
        UnknownTerritoryError."""
        code = _check_code(code)
        level = self.level(code)
        if level == "departement":
            return None
        if level == "arrondissement":
            return code
        if level == "commune":
            return str(self._communes.set_index("commune").loc[code, "arrondissement"])
        if level == "epci":
            arrs = set(self._communes.loc[self._communes["epci"] == code, "arrondissement"])
            return arrs.pop() if len(arrs) == 1 else None
        structure = _structure(code, referential)
        if structure is not None:
            return structure.arrondissement
        raise self._unknown(code, referential)

    def _unknown(self, code: str, referential: Referential | None) -> UnknownTerritoryError:
        structures = [s.code for s in referential.structures] if referential is not None else []
        hint = (f" ; structures du référentiel : {', '.join(structures)}" if structures
                else " (aucun référentiel fourni : les structures nommées ne sont pas connues)")
        return UnknownTerritoryError(
            f"Territoire inconnu : {code!r}. Codes admis : {self.departement} (département), "
            f"{', '.join(sorted(self._arr_codes))} (arrondissements), SIREN d'un EPCI (9 chiffres), "
            f"code INSEE d'une commune (5 chiffres){hint}."
        )

    # --- boundaries -----------------------------------------------------------------------
    def boundaries(self, level: str = "arrondissement") -> dict[str, list[list[tuple[float, float]]]]:
        """Polygons for maps: {INSEE code: [exterior ring, ...]}, each ring a list of
        (longitude, latitude) in degrees (WGS84). Holes are dropped. Levels: "arrondissement"
        (codes 621…627) and "departement" ("62"). Geometry of 2018 (IGN Admin Express COG),
        simplified."""
        if level not in BOUNDARY_LEVELS:
            raise ValueError(f"Pas de contours pour le niveau {level!r} ; niveaux disponibles : "
                             f"{', '.join(BOUNDARY_LEVELS)}.")
        cached = _boundaries(str(self.folder), level)
        return {code: [list(ring) for ring in rings] for code, rings in cached.items()}

    # --- private look-ups -----------------------------------------------------------------
    @functools.cached_property
    def _arr_codes(self) -> set[str]:
        return set(self._arrondissements["arrondissement"])

    @functools.cached_property
    def _epci_codes(self) -> set[str]:
        return set(self._epcis["epci"])

    @functools.cached_property
    def _commune_codes(self) -> set[str]:
        return set(self._communes["commune"])

    @functools.cached_property
    def _names(self) -> dict[str, dict[str, str]]:
        """Label of every arrondissement, EPCI and commune code, by level (:meth:`name_of`),
        built once: the collection template names hundreds of territories."""
        arr, epcis, communes = self._arrondissements, self._epcis, self._communes
        return {
            "arrondissement": {
                str(c): f"Arrondissement {_CHARNIERE.get(t, 'de ')}{n}"
                for c, t, n in zip(arr["arrondissement"], arr["tncc"], arr["nom_sans_article"])},
            "epci": {str(c): str(n) for c, n in zip(epcis["epci"], epcis["nom"])},
            "commune": {str(c): str(n) for c, n in zip(communes["commune"], communes["nom"])},
        }


def _structure(code: str, referential: Referential | None):
    if referential is None:
        return None
    for s in referential.structures:
        if s.code == code:
            return s
    return None


@functools.lru_cache(maxsize=8)
def _boundaries(folder: str, level: str) -> dict[str, tuple[tuple[tuple[float, float], ...], ...]]:
    path = Path(folder) / GEOJSON_FOLDER / GEOJSON_FILES[level]
    if not path.exists():
        raise FileNotFoundError(f"Fichier de contours introuvable : {path}.")
    doc = json.loads(path.read_text(encoding="utf-8"))
    features = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
    out: dict[str, tuple] = {}
    for feat in features:
        code = _geojson_code(level, str(feat["properties"]["code"]))
        geom = feat["geometry"]
        if geom["type"] == "Polygon":
            polygons = [geom["coordinates"]]
        elif geom["type"] == "MultiPolygon":
            polygons = geom["coordinates"]
        else:
            raise ValueError(f"{path.name} : géométrie {geom['type']!r} non prise en charge.")
        out[code] = tuple(tuple(_ring(poly[0])) for poly in polygons)
    return out


# --- loading --------------------------------------------------------------------------------

def load_territories(folder: str | Path | None = None) -> Territories:
    """Load ``data/territoires/`` (or ``folder``): cached per folder, the same object is returned
    to every caller (its tables are handed out as copies). Warns (``UserWarning``, French) when
    the INSEE files disagree; the disagreements are in ``Territories.anomalies``."""
    folder = paths.resolve(folder, paths.territories_dir())
    return _load(str(folder.resolve()))


@functools.lru_cache(maxsize=8)
def _load(folder_str: str) -> Territories:
    import pandas as pd  # imported when needed: a run with nothing to redo never loads it
    folder = Path(folder_str)
    if not folder.is_dir():
        raise FileNotFoundError(f"Dossier des territoires introuvable : {folder}.")
    anomalies: list[str] = []

    # COG 2024: reference list of communes and arrondissements.
    path = folder / COG_FOLDER / COG_COMMUNES
    cog = _read_csv(path, ",")
    _require(cog, ["TYPECOM", "COM", "DEP", "ARR", "LIBELLE"], path)
    cog = cog[(cog["TYPECOM"] == "COM") & (cog["DEP"] == DEPARTEMENT)]
    communes = pd.DataFrame({"commune": cog["COM"], "nom": cog["LIBELLE"],
                             "arrondissement": cog["ARR"]})
    path = folder / COG_FOLDER / COG_ARRONDISSEMENTS
    arr = _read_csv(path, ",")
    _require(arr, ["ARR", "DEP", "TNCC", "NCCENR", "LIBELLE"], path)
    arr = arr[arr["DEP"] == DEPARTEMENT]
    arrondissements = pd.DataFrame({"arrondissement": arr["ARR"], "nom": arr["LIBELLE"],
                                    "tncc": arr["TNCC"], "nom_sans_article": arr["NCCENR"]})
    arrondissements = arrondissements.sort_values("arrondissement").reset_index(drop=True)
    departement_name = DEPARTEMENT_NAME
    path = folder / COG_FOLDER / COG_DEPARTEMENT
    if path.exists():
        dep = _read_csv(path, ",")
        hit = dep.loc[dep["DEP"] == DEPARTEMENT, "LIBELLE"]
        if len(hit):
            departement_name = str(hit.iloc[0])
    unknown_arr = sorted(set(communes["arrondissement"]) - set(arrondissements["arrondissement"]))
    if unknown_arr:
        anomalies.append(f"COG 2024 : arrondissement(s) {', '.join(unknown_arr)} des communes "
                         f"absent(s) de la liste des arrondissements.")
    cog_codes = set(communes["commune"])

    # EPCI composition.
    path = folder / EPCI_FOLDER / EPCI_FILE
    epci = _read_csv(path, ";")
    _require(epci, ["CODGEO", "EPCI", "LIBEPCI", "DEP"], path)
    epci = epci[epci["DEP"] == DEPARTEMENT]
    epci_map = pd.DataFrame({"commune": epci["CODGEO"], "epci": epci["EPCI"],
                             "nom_epci": epci["LIBEPCI"]})
    anomalies += _compare("composition des EPCI 2020", cog_codes, set(epci_map["commune"]))
    communes = communes.merge(epci_map, on="commune", how="left")
    communes[["epci", "nom_epci"]] = communes[["epci", "nom_epci"]].fillna("")
    epcis = (epci_map[["epci", "nom_epci"]].drop_duplicates("epci")
             .rename(columns={"nom_epci": "nom"}).sort_values("epci").reset_index(drop=True))

    # Populations légales, one folder per vintage.
    pops: dict[int, pd.DataFrame] = {}
    for sub in sorted(folder.glob(POP_PREFIX + "*")):
        m = re.fullmatch(re.escape(POP_PREFIX) + r"(\d{4})", sub.name)
        if not m or not (sub / POP_FILE).exists():
            continue
        vintage = int(m.group(1))
        pop = _read_population(sub / POP_FILE)
        pops[vintage] = pop
        label = f"populations légales {vintage}"
        anomalies += _compare(label, cog_codes, set(pop["commune"]))
        both = communes[["commune", "arrondissement"]].merge(pop, on="commune",
                                                             suffixes=("", "_pop"))
        moved = both[both["arrondissement"] != both["arrondissement_pop"]]
        if len(moved):
            anomalies.append(
                f"{label} : {len(moved)} commune(s) dans un autre arrondissement que dans le COG "
                f"2024 ({', '.join(moved['commune'].head(10))}) ; les totaux par arrondissement "
                f"suivent le fichier de population."
            )
        communes[f"population_{vintage}"] = (
            communes["commune"].map(pop.set_index("commune")["population"]).astype("Int64"))
    if not pops:
        raise FileNotFoundError(f"Aucune population légale dans {folder} "
                                f"(dossiers {POP_PREFIX}AAAA/{POP_FILE}).")

    communes = communes.sort_values("commune").reset_index(drop=True)
    if anomalies:
        warnings.warn("Territoires : " + " ".join(anomalies), UserWarning, stacklevel=3)
    return Territories(
        folder=folder,
        _communes=communes,
        _arrondissements=arrondissements,
        _epcis=epcis,
        _pop=pops,
        departement_name=departement_name,
        anomalies=tuple(anomalies),
    )


def _compare(label: str, reference: set[str], other: set[str]) -> list[str]:
    """French sentences for communes present in one list and not the other."""
    out = []
    missing = sorted(reference - other)
    extra = sorted(other - reference)
    if missing:
        out.append(f"{label} : {len(missing)} commune(s) du COG 2024 absente(s) "
                   f"({', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}).")
    if extra:
        out.append(f"{label} : {len(extra)} commune(s) inconnue(s) du COG 2024 "
                   f"({', '.join(extra[:10])}{' …' if len(extra) > 10 else ''}) ; elles comptent "
                   f"dans les totaux de population mais n'ont ni nom ni EPCI.")
    return out


# --- territorial levels: which level a code is, which codes a level expects -----------------

def level_of(code: str, referential: Referential | None = None) -> str | None:
    """Level of a code (:class:`Level`, None when unknown) on the shipped territories:
    :meth:`Territories.level_of`, structures placed by :func:`structure_level`."""
    return load_territories().level_of(code, referential)


def structure_level(structure: Structure) -> Level:
    """Level of a named structure of the referential: ``COMPAGNIE_GENDARMERIE`` for a structure of
    type "compagnie_gendarmerie", ``STRUCTURE`` for any other type (see :class:`Level`)."""
    if structure.type == Level.COMPAGNIE_GENDARMERIE:
        return Level.COMPAGNIE_GENDARMERIE
    return Level.STRUCTURE


def expected_codes(level: str, referential: Referential, territories: Any = None) -> list[str]:
    """Territory codes a pilot reports at ``level`` when the indicator names none.

    ``departement``: the plan's département; ``structure``: the structures of the referential that
    are not gendarmerie companies; ``compagnie_gendarmerie``: the gendarmerie companies (both in
    ``plan.yaml`` order); ``arrondissement``, ``epci``, ``commune``: every code of that level known
    to ``territories`` (an object with ``valid_codes(referential)`` and ``level_of(code,
    referential)``, e.g. :class:`Territories`), sorted. An unknown level or a missing
    ``territories`` is a ValueError with a French message.
    """
    if level not in tuple(Level):
        raise ValueError(f"Niveau territorial inconnu : {level!r} ; niveaux possibles : "
                         f"{', '.join(Level)}.")
    if level == Level.DEPARTEMENT:
        return [referential.plan.departement]
    if level in (Level.STRUCTURE, Level.COMPAGNIE_GENDARMERIE):
        return [s.code for s in referential.structures if structure_level(s) == level]
    if territories is None:
        raise ValueError(f"Les codes du niveau « {level} » viennent du référentiel des "
                         "territoires : passez territories=load_territories().")
    return sorted(str(c) for c in territories.valid_codes(referential)
                  if territories.level_of(str(c), referential) == level)


def indicator_codes(indicator: Indicator, referential: Referential,
                    territories: Any = None) -> list[str]:
    """Territory codes a pilot reports for ``indicator``: its own ``territoires`` list when the
    referential gives one, else :func:`expected_codes` of its ``niveau``."""
    if indicator.territoires:
        return list(indicator.territoires)
    return expected_codes(indicator.niveau, referential, territories)


def sources(folder: str | Path | None = None) -> list[dict[str, str]]:
    """Provenance of the shipped territorial files, same keys as
    :func:`plancadre_eval.public_data.editions`: libelle, edition, licence, origine, fichier,
    sha256 (of the project copy)."""
    folder = paths.resolve(folder, paths.territories_dir())
    lic = "Licence Ouverte / Open Licence 2.0 (Etalab)"
    out = [
        source_entry("INSEE, Code officiel géographique (communes, arrondissements, département)",
                    "au 1er janvier 2024", lic, "insee.fr, via le dépôt GitHub sebastien-prudhomme/abbeville",
                    folder / COG_FOLDER / COG_COMMUNES),
        source_entry("INSEE, composition communale des EPCI à fiscalité propre",
                    "fichier « 2020 » (date de référence non vérifiée)", lic,
                    "insee.fr, via le dépôt GitHub aubryprieur/streamlit_data_territoire",
                    folder / EPCI_FOLDER / EPCI_FILE),
    ]
    for sub in sorted(folder.glob(POP_PREFIX + "*")):
        if (sub / POP_FILE).exists():
            vintage = sub.name[len(POP_PREFIX):]
            origin = _POP_ORIGINS.get(vintage, "insee.fr (voir SOURCE.md)")
            out.append(source_entry(f"INSEE, populations légales {vintage} (population municipale)",
                                   f"millésime {vintage}", lic, origin, sub / POP_FILE))
    for level in BOUNDARY_LEVELS:
        out.append(source_entry(
            f"Contours simplifiés ({'département' if level == 'departement' else 'arrondissements'})",
            "géométrie 2018 (IGN Admin Express COG)",
            "Licence Ouverte (données IGN et INSEE), mise en forme gregoiredavid/france-geojson",
            "dépôt GitHub gregoiredavid/france-geojson", folder / GEOJSON_FOLDER / GEOJSON_FILES[level]))
    return out

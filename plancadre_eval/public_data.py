"""Public crime statistics: État 4001 and SSMSI tidy tables, and the public series of the plan.

Everything is read from the project copy ``data/public/`` (never from the original source folder):

- ``etat4001-services-2012-2020/``: État 4001 (ministère de l'Intérieur), annual counts of recorded
  offences ("faits constatés") of the 107 index, per police service (PN) and gendarmerie company
  (GN), Pas-de-Calais, 2012-2020. No victim sex, no intrafamilial flag; the file stops in 2020.
- ``ssmsi-base-dep-<year>/``: SSMSI departmental base of recorded crime, three editions. One edition
  is pinned (:data:`SSMSI_EDITION`): series from different editions must never be mixed because
  each edition revises past years (and the June 2025 edition re-defines the indicators).

:func:`series` returns the public series named by the referential (``serie:`` of an indicator with
``source: public``) as ``[annee, territoire, valeur]`` plus ``attrs["source"]`` and
``attrs["approximation"]`` (French sentences shown in reports). See ``data/README.md``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import paths
from .provenance import source_entry

if TYPE_CHECKING:  # pragma: no cover
    from .referential import Referential
    from .territories import Territories

LICENCE = "Licence Ouverte / Open Licence 2.0 (Etalab)"

# --- État 4001 ----------------------------------------------------------------------------------
ETAT4001_FOLDER = "etat4001-services-2012-2020"
ETAT4001_FILE = "etat4001_services_dep62_long.csv"
ETAT4001_YEARS = tuple(range(2012, 2021))
ETAT4001_LABEL = ("État 4001 (ministère de l'Intérieur), crimes et délits enregistrés par les "
                  "services de police et de gendarmerie depuis 2012, fichier data.gouv.fr couvrant "
                  "2012-2020")
ETAT4001_COLUMNS = ["annee", "force", "perimetre", "service", "code_index", "libelle_index", "faits"]

# --- SSMSI -------------------------------------------------------------------------------------
SSMSI_COLUMNS = ["annee", "indicateur", "unite_de_compte", "nombre", "taux_pour_mille",
                 "insee_pop", "insee_pop_millesime"]


@dataclass(frozen=True)
class SsmsiEdition:
    folder: str
    file: str
    edition: str
    years: tuple[int, int]
    origine: str

    @property
    def label(self) -> str:
        return (f"SSMSI, base statistique départementale de la délinquance enregistrée, "
                f"{self.edition} (données {self.years[0]}-{self.years[1]})")


SSMSI_EDITIONS: dict[str, SsmsiEdition] = {
    e.folder: e for e in (
        SsmsiEdition(
            "ssmsi-base-dep-2022",
            "donnee-dep-data.gouv-2022-geographie2023-produit-le2023-07-17_dep62.csv",
            "édition du 17 juillet 2023", (2016, 2022),
            "data.gouv.fr, via le dépôt GitHub loanerabillard/Data-Viz (voir SOURCE.md)"),
        SsmsiEdition(
            "ssmsi-base-dep-2023", "donnee-dep-2023_dep62.csv",
            "édition de mars 2024", (2016, 2023),
            "data.gouv.fr, via le dépôt GitHub aubryprieur/streamlit_data_territoire "
            "(fichier renommé, voir SOURCE.md)"),
        SsmsiEdition(
            "ssmsi-base-dep-2024",
            "donnee-dep-data.gouv-2024-geographie2025-produit-le2025-06-04_dep62.csv",
            "édition du 4 juin 2025", (2016, 2024),
            "data.gouv.fr, via le dépôt GitHub lucas45000/etat-4001-analyse (voir SOURCE.md)"),
    )
}
#: The one SSMSI edition used by the project: the most recent one, the only one carrying
#: intrafamilial physical violence up to 2024 (caveat: it re-defines the indicators; see
#: data/README.md). Changing it changes published figures for every year.
SSMSI_EDITION = "ssmsi-base-dep-2024"
SSMSI_EDITION_LABEL = SSMSI_EDITIONS[SSMSI_EDITION].label


# --- the public series of the referential -------------------------------------------------------

@dataclass(frozen=True)
class SeriesSpec:
    code: str
    libelle: str
    dataset: str                    # "etat4001" | "ssmsi"
    unite: str
    approximation: str
    indexes: tuple[int, ...] = ()   # État 4001 index summed
    by_company: bool = False        # one row per gendarmerie company + the "62" total
    indicateur: str | None = None   # SSMSI indicator
    #: What the series actually counts, in a few words, shown in the indicator table of a fiche
    #: ("mesuré par : …") so that no reader takes it for the plan's wording.
    mesure: str = ""


_BREAK_2012_2015 = ("le ministère signale une rupture statistique pour les années 2012 à 2015 "
                    "(police et gendarmerie)")
_STOPS_2020 = "la série publiée s'arrête en 2020 (pas de valeur pour 2021 et 2022)"

SERIES: dict[str, SeriesSpec] = {
    s.code: s for s in (
        SeriesSpec(
            "etat4001_cbv",
            "Coups et blessures volontaires criminels ou correctionnels (État 4001, index 7)",
            "etat4001", "faits constatés",
            "Le plan compte les coups et blessures volontaires commis dans la sphère familiale, "
            "mais l'État 4001 n'a pas d'indicateur « intrafamilial » : la série retenue, l'index 7 "
            "(« Autres coups et blessures volontaires criminels ou correctionnels »), compte tous "
            "les coups et blessures volontaires enregistrés, dans la famille ou en dehors, quel que "
            "soit le sexe de la victime. Elle surestime donc le phénomène visé et n'en suit que "
            "l'ordre de grandeur et l'évolution ; le ministère signale une rupture pour les données "
            f"de la police avant mars 2015 ; {_STOPS_2020}.",
            indexes=(7,), by_company=True,
            mesure="coups et blessures volontaires, tous contextes — État 4001, index 7"),
        SeriesSpec(
            "etat4001_violences_mineurs",
            "Violences, mauvais traitements et abandons d'enfants (État 4001, index 52)",
            "etat4001", "faits constatés",
            "Le plan compte les coups et blessures volontaires sur mineurs de moins de 15 ans, les "
            "mauvais traitements et abandons d'enfants ; la série retenue est l'index 52 de l'État "
            "4001 (« Violences, mauvais traitements et abandons d'enfants »), dont le libellé ne "
            "précise pas l'âge des victimes et qui ne distingue pas les violences commises dans la "
            f"famille ; {_BREAK_2012_2015} (le total départemental double entre 2013 et 2014) ; "
            f"{_STOPS_2020}.",
            indexes=(52,), by_company=True,
            mesure=("violences, mauvais traitements et abandons d'enfants, tous âges et tous contextes "
                    "— État 4001, index 52")),
        SeriesSpec(
            "etat4001_menaces",
            "Menaces ou chantages (État 4001, index 11 et 12)",
            "etat4001", "faits constatés",
            "Le plan compte les menaces ou chantages ; la série additionne les index 11 (« Menaces "
            "ou chantages pour extorsion de fonds ») et 12 (« Menaces ou chantages dans un autre "
            "but ») de l'État 4001, tous contextes et toutes victimes confondus : l'État 4001 ne "
            f"distingue ni le cadre familial ni le sexe des victimes ; {_STOPS_2020}.",
            indexes=(11, 12), by_company=True,
            mesure="menaces ou chantages, tous contextes — État 4001, index 11 et 12"),
        SeriesSpec(
            "diag_violences_sexuelles",
            "Violences sexuelles enregistrées (État 4001, index 46 à 49)",
            "etat4001", "faits constatés",
            "Violences sexuelles enregistrées par la police et la gendarmerie : index 46 à 49 de "
            "l'État 4001 (viols, harcèlements sexuels et autres agressions sexuelles, sur majeurs "
            "et sur mineurs), sans les atteintes sexuelles (index 50) ; le sexe des victimes et le "
            f"cadre familial ne sont pas connus ; {_BREAK_2012_2015} ; {_STOPS_2020}.",
            indexes=(46, 47, 48, 49),
            mesure="violences sexuelles, tous contextes — État 4001, index 46 à 49"),
        SeriesSpec(
            "diag_menaces",
            "Menaces ou chantages enregistrés (État 4001, index 11 et 12)",
            "etat4001", "faits constatés",
            "Menaces ou chantages enregistrés par la police et la gendarmerie : index 11 et 12 de "
            "l'État 4001, tous contextes et toutes victimes confondus (pas de distinction du cadre "
            f"familial ni du sexe des victimes) ; {_STOPS_2020}.",
            indexes=(11, 12),
            mesure="menaces ou chantages, tous contextes — État 4001, index 11 et 12"),
        SeriesSpec(
            "diag_violences_enfants",
            "Violences, mauvais traitements et abandons d'enfants enregistrés (État 4001, index 52)",
            "etat4001", "faits constatés",
            "Violences, mauvais traitements et abandons d'enfants enregistrés par la police et la "
            "gendarmerie : index 52 de l'État 4001, sans distinction du cadre familial ; "
            f"{_BREAK_2012_2015} (le total double entre 2013 et 2014) ; {_STOPS_2020}.",
            indexes=(52,),
            mesure=("violences, mauvais traitements et abandons d'enfants, tous contextes — État 4001, "
                    "index 52")),
        SeriesSpec(
            "diag_violences_intrafamiliales",
            "Victimes de violences physiques intrafamiliales enregistrées (SSMSI)",
            "ssmsi", "victimes",
            "Violences intrafamiliales enregistrées : indicateur « Violences physiques "
            "intrafamiliales » de la base départementale du SSMSI, en nombre de victimes "
            "enregistrées par la police et la gendarmerie, femmes et hommes, majeurs et mineurs "
            "(les violences sexuelles font l'objet d'un indicateur distinct). L'édition du "
            "4 juin 2025 redéfinit cet indicateur, plus large que les « coups et blessures "
            "volontaires intrafamiliaux » des éditions précédentes : ses chiffres ne se comparent "
            "pas à ceux d'autres éditions.",
            indicateur="Violences physiques intrafamiliales",
            mesure=("victimes de violences physiques intrafamiliales, femmes et hommes — SSMSI, base "
                    "départementale, édition du 4 juin 2025")),
    )
}


# --- loading ------------------------------------------------------------------------------------

def load_etat4001(folder: str | Path | None = None) -> pd.DataFrame:
    """État 4001, one row per year, force, service and index (Pas-de-Calais, 2012-2020):
    ``annee`` (int), ``force`` ("PN" police / "GN" gendarmerie), ``perimetre`` (PN direction,
    "" for GN), ``service`` (as in the file, e.g. "CGD ARRAS"), ``code_index`` (int, 1-107),
    ``libelle_index``, ``faits`` (float: number of recorded offences; NaN where the file is empty,
    i.e. the unused index 96, 97, 99, 100 of the GN sheets). ``folder`` is the État 4001 folder
    (default ``data/public/etat4001-services-2012-2020``). Cached; returns a copy."""
    folder = paths.resolve(folder, paths.public_dir() / ETAT4001_FOLDER)
    return _etat4001(str(folder.resolve())).copy()


@functools.lru_cache(maxsize=4)
def _etat4001(folder: str) -> pd.DataFrame:
    path = Path(folder) / ETAT4001_FILE
    if not path.exists():
        raise FileNotFoundError(f"Fichier État 4001 introuvable : {path}.")
    raw = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in ETAT4001_COLUMNS + ["departement"] if c not in raw.columns]
    if missing:
        raise ValueError(f"{path.name} : colonnes manquantes {', '.join(missing)}.")
    other = sorted(set(raw["departement"]) - {"62"})
    if other:
        raise ValueError(f"{path.name} : lignes d'autres départements ({', '.join(other)}) ; "
                         f"le projet ne porte que sur le Pas-de-Calais (62).")
    forces = sorted(set(raw["force"]) - {"PN", "GN"})
    if forces:
        raise ValueError(f"{path.name} : force inconnue {', '.join(forces)} (attendu PN ou GN).")
    faits = raw["faits"].str.strip()
    df = pd.DataFrame({
        "annee": raw["annee"].astype("int64"),
        "force": raw["force"],
        "perimetre": raw["perimetre"],
        "service": raw["service"].str.strip(),
        "code_index": raw["code_index"].astype("int64"),
        "libelle_index": (raw["libelle_index"].str.split().str.join(" ").str.rstrip(".")
                          .astype("str")),
        "faits": pd.to_numeric(faits.where(faits != ""), errors="raise").astype("float64"),
    })
    return df


def load_ssmsi(edition: str = SSMSI_EDITION, folder: str | Path | None = None) -> pd.DataFrame:
    """SSMSI departmental base for the Pas-de-Calais, one row per year and indicator:
    ``annee`` (int, 4 digits), ``indicateur`` (as in the edition), ``unite_de_compte``
    ("Victime", "Infraction"…), ``nombre`` (float, count in that unit), ``taux_pour_mille``
    (float, per 1 000 inhabitants; per 1 000 dwellings for burglaries), ``insee_pop`` (int,
    inhabitants used by the SSMSI), ``insee_pop_millesime`` (int, vintage of that population).
    French decimal commas are parsed. ``edition`` is a key of :data:`SSMSI_EDITIONS`; ``folder``
    is the folder holding the edition folders (default ``data/public``). Cached; returns a copy."""
    if edition not in SSMSI_EDITIONS:
        raise KeyError(f"Édition SSMSI inconnue : {edition!r}. Éditions disponibles : "
                       f"{', '.join(SSMSI_EDITIONS)} (édition retenue : {SSMSI_EDITION}).")
    folder = paths.resolve(folder, paths.public_dir())
    return _ssmsi(str(folder.resolve()), edition).copy()


def _french_float(s: pd.Series) -> pd.Series:
    s = s.str.strip().str.replace(",", ".", regex=False)
    return pd.to_numeric(s.where(s != ""), errors="raise").astype("float64")


def _year4(s: pd.Series) -> pd.Series:
    y = s.str.strip().astype("int64")
    return y.where(y >= 100, y + 2000)


@functools.lru_cache(maxsize=8)
def _ssmsi(folder: str, edition: str) -> pd.DataFrame:
    spec = SSMSI_EDITIONS[edition]
    path = Path(folder) / spec.folder / spec.file
    if not path.exists():
        raise FileNotFoundError(f"Fichier SSMSI introuvable : {path}.")
    raw = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if "indicateur" in raw.columns:  # June 2025 layout
        names = {"dep": "Code_departement", "indicateur": "indicateur", "annee": "annee",
                 "unite": "unite_de_compte", "nombre": "nombre", "taux": "taux_pour_mille",
                 "pop": "insee_pop", "mill": "insee_pop_millesime"}
    else:  # 2023 and 2024 layout
        names = {"dep": "Code.département", "indicateur": "classe", "annee": "annee",
                 "unite": "unité.de.compte", "nombre": "faits", "taux": "tauxpourmille",
                 "pop": "POP", "mill": "millPOP"}
    missing = [c for c in names.values() if c not in raw.columns]
    if missing:
        raise ValueError(f"{path.name} : colonnes manquantes {', '.join(missing)}.")
    raw = raw[raw[names["dep"]].str.strip() == "62"]
    unit = raw[names["unite"]].str.strip()
    df = pd.DataFrame({
        "annee": _year4(raw[names["annee"]]),
        "indicateur": raw[names["indicateur"]].str.strip(),
        "unite_de_compte": unit.str[:1].str.upper() + unit.str[1:],
        "nombre": _french_float(raw[names["nombre"]]),
        "taux_pour_mille": _french_float(raw[names["taux"]]),
        "insee_pop": _french_float(raw[names["pop"]]).round().astype("int64"),
        "insee_pop_millesime": _year4(raw[names["mill"]]),
    })
    dupes = df.duplicated(["annee", "indicateur"])
    if dupes.any():
        raise ValueError(f"{path.name} : lignes en double pour "
                         f"{df.loc[dupes, ['indicateur', 'annee']].drop_duplicates().values.tolist()}.")
    return df.sort_values(["indicateur", "annee"]).reset_index(drop=True)


# --- series -------------------------------------------------------------------------------------

def series(code: str, referential: Referential | None = None) -> pd.DataFrame:
    """A public series of the referential: ``annee`` (int), ``territoire`` (str), ``valeur``
    (float: recorded offences "faits constatés", or victims for the SSMSI series; see
    ``attrs["unite"]``), sorted by territory then year.

    État 4001 series (2012-2020): one "62" row per year = sum over ALL police (PN) and
    gendarmerie (GN) services of the département. ``etat4001_*`` series add one row per
    gendarmerie company: territoire = code of the referential structure whose
    ``libelle_etat4001`` is the État 4001 service name (e.g. "CGD ARRAS" -> "CGD-ARRAS"). The
    companies cover the gendarmerie zone only: their sum is NOT the "62" row (police services are
    in the "62" row only). ``referential`` defaults to the structures of the shipped ``plan.yaml``.
    SSMSI series: the pinned edition :data:`SSMSI_EDITION`, "62" only.

    ``attrs``: ``source`` (dataset, edition, index numbers), ``approximation`` (how the public
    series approximates the plan's wording), ``mesure`` (what it counts, in a few words),
    ``unite``, ``libelle``, ``serie``.
    """
    spec = SERIES.get(code) if isinstance(code, str) else None
    if spec is None:
        raise KeyError(f"Série publique inconnue : {code!r}. Séries connues : "
                       f"{', '.join(SERIES)}.")
    if spec.dataset == "ssmsi":
        df, source = _ssmsi_series(_public(), spec.code)
    else:
        mapping = _company_mapping(referential) if spec.by_company else ()
        df, source = _etat4001_series(_public(), spec.code, mapping)
    out = df.copy()
    out.attrs = {"serie": spec.code, "libelle": spec.libelle, "unite": spec.unite,
                 "source": source, "approximation": spec.approximation, "mesure": spec.mesure}
    return out


def _company_mapping(referential: Referential | None) -> tuple[tuple[str, str], ...]:
    """((État 4001 service name, structure code), ...) for gendarmerie companies."""
    if referential is None:
        from .referential import load_referential
        # plan.yaml alone: structures without depending on the fiches files.
        referential = load_referential(paths.default_referential() / "plan.yaml")
    return tuple(sorted(
        (s.libelle_etat4001.strip(), s.code) for s in referential.structures
        if s.type == "compagnie_gendarmerie" and s.libelle_etat4001
    ))


def _index_text(e4: pd.DataFrame, indexes: tuple[int, ...]) -> str:
    labels = (e4[e4["code_index"].isin(indexes)].drop_duplicates("code_index")
              .set_index("code_index")["libelle_index"])
    parts = [f"{i} (« {labels.get(i, '?')} »)" for i in indexes]
    return "index " + (", ".join(parts[:-1]) + " et " + parts[-1] if len(parts) > 1 else parts[0])


def _public() -> str:
    return str(paths.public_dir().resolve())


@functools.lru_cache(maxsize=32)
def _etat4001_series(public: str, code: str,
                     mapping: tuple[tuple[str, str], ...]) -> tuple[pd.DataFrame, str]:
    spec = SERIES[code]
    e4 = _etat4001(str(Path(public) / ETAT4001_FOLDER))
    sel = e4[e4["code_index"].isin(spec.indexes) & e4["annee"].isin(ETAT4001_YEARS)]
    total = (sel.groupby("annee", as_index=False)["faits"].sum(min_count=1)
             .assign(territoire="62"))
    frames = [total]
    if mapping:
        gn_services = set(e4.loc[e4["force"] == "GN", "service"])
        unknown = [name for name, _ in mapping if name not in gn_services]
        if unknown:
            raise ValueError(
                f"Référentiel : libellé(s) libelle_etat4001 {', '.join(repr(u) for u in unknown)} "
                f"absent(s) de l'État 4001 ; compagnies de gendarmerie du fichier : "
                f"{', '.join(sorted(gn_services))}."
            )
        codes = dict(mapping)
        gn = sel[(sel["force"] == "GN") & sel["service"].isin(codes)]
        per = (gn.groupby(["service", "annee"], as_index=False)["faits"].sum(min_count=1)
               .assign(territoire=lambda d: d["service"].map(codes)))
        frames.append(per)
    df = pd.concat(frames, ignore_index=True)
    df = (df.rename(columns={"faits": "valeur"})[["annee", "territoire", "valeur"]]
          .astype({"annee": "int64", "territoire": "str", "valeur": "float64"})
          .sort_values(["territoire", "annee"]).reset_index(drop=True))
    source = (f"{ETAT4001_LABEL} : {_index_text(e4, spec.indexes)}, faits constatés, "
              f"{min(ETAT4001_YEARS)}-{max(ETAT4001_YEARS)}. La ligne « 62 » est le total "
              f"départemental, somme de tous les services de police et de gendarmerie")
    if mapping:
        source += (" ; les lignes par compagnie de gendarmerie ne couvrent que la zone "
                   "gendarmerie et ne s'additionnent pas au total départemental")
    return df, source + "."


@functools.lru_cache(maxsize=8)
def _ssmsi_series(public: str, code: str) -> tuple[pd.DataFrame, str]:
    spec = SERIES[code]
    tab = _ssmsi(public, SSMSI_EDITION)
    sel = tab[tab["indicateur"] == spec.indicateur]
    if sel.empty:
        raise ValueError(f"Indicateur SSMSI {spec.indicateur!r} absent de l'édition "
                         f"{SSMSI_EDITION} ; indicateurs : {', '.join(sorted(set(tab['indicateur'])))}.")
    units = sorted(set(sel["unite_de_compte"]))
    df = pd.DataFrame({"annee": sel["annee"].astype("int64"), "territoire": "62",
                       "valeur": sel["nombre"].astype("float64")})
    df = df.astype({"territoire": "str"}).sort_values("annee").reset_index(drop=True)
    source = (f"{SSMSI_EDITION_LABEL} : indicateur « {spec.indicateur} » (unité de compte : "
              f"{', '.join(u.lower() for u in units)}), Pas-de-Calais, "
              f"{int(df['annee'].min())}-{int(df['annee'].max())}.")
    return df, source


DIAGNOSTIC_SERIES = ("diag_violences_sexuelles", "diag_violences_intrafamiliales", "diag_menaces",
                     "diag_violences_enfants")
DIAGNOSTIC_COLUMNS = ["annee", "serie", "libelle", "valeur", "population", "millesime_population",
                      "taux_pour_mille", "source"]


def diagnostic_table(territories: Territories | None = None) -> pd.DataFrame:
    """Yearly départemental totals of the four ``diag_*`` series with rates per 1 000 inhabitants:
    ``annee, serie, libelle, valeur, population, millesime_population, taux_pour_mille, source``.

    Population (inhabitants, population municipale): the population the pinned SSMSI edition
    uses for that year (``insee_pop``: the INSEE populations légales of the same year for
    2016-2021) whenever the edition has the year; otherwise (État 4001 years 2012-2015) the
    populations légales of ``territories`` for :meth:`Territories.vintage_for` of the year
    (2019 vintage). ``millesime_population`` says which vintage was used.
    ``taux_pour_mille`` = valeur / population × 1 000.
    """
    if territories is None:
        from .territories import load_territories
        territories = load_territories()
    pops = (_ssmsi(_public(), SSMSI_EDITION)
            .drop_duplicates("annee").set_index("annee"))
    frames = []
    for code in DIAGNOSTIC_SERIES:
        s = series(code)
        s = s[s["territoire"] == "62"]
        rows = []
        for year, value in zip(s["annee"], s["valeur"]):
            year = int(year)
            if year in pops.index:
                pop, vintage = int(pops.at[year, "insee_pop"]), int(pops.at[year, "insee_pop_millesime"])
            else:
                vintage = territories.vintage_for(year)
                pop = territories.population("62", year)
            rows.append({"annee": year, "serie": code, "libelle": s.attrs["libelle"],
                         "valeur": float(value), "population": pop,
                         "millesime_population": vintage,
                         "taux_pour_mille": float(value) / pop * 1000, "source": s.attrs["source"]})
        frames.append(pd.DataFrame(rows, columns=DIAGNOSTIC_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    return out.astype({"annee": "int64", "population": "int64", "millesime_population": "int64",
                       "valeur": "float64", "taux_pour_mille": "float64"})


# --- the Pas-de-Calais among the other départements (SSMSI, all départements) -------------------

#: The same SSMSI edition as :data:`SSMSI_EDITION`, unfiltered: all 101 départements.
FRANCE_FOLDER = "ssmsi-base-dep-2024-france"
FRANCE_FILE = "donnee-dep-data.gouv-2024-geographie2025-produit-le2025-06-04.csv"
FRANCE_LABEL = (f"{SSMSI_EDITIONS[SSMSI_EDITION].label}, fichier national (101 départements : 96 de "
                "France métropolitaine et 5 d'outre-mer)")
#: Region of the Pas-de-Calais (INSEE code) and its départements, in code order.
HDF_REGION = "32"
HDF_DEPARTEMENTS = {"02": "Aisne", "59": "Nord", "60": "Oise", "62": "Pas-de-Calais", "80": "Somme"}
#: SSMSI indicators compared across départements in the diagnostic.
COMPARISON_INDICATORS = ("Violences physiques intrafamiliales", "Violences sexuelles")
#: Perimeters of :func:`comparison_table`, in display order (the département first).
PERIMETERS = ("departement", "region", "france_metropolitaine", "france")
DEPARTEMENTS_COLUMNS = ["departement", "region", "annee", "indicateur", "unite_de_compte",
                        "nombre", "insee_pop", "insee_pop_millesime"]


def is_metropolitan(code: str) -> bool:
    """True for a département of metropolitan France ("01" … "95", "2A", "2B"), False for the
    overseas départements ("971" … "976")."""
    return not str(code).startswith("97")


def load_ssmsi_departements(folder: str | Path | None = None) -> pd.DataFrame:
    """SSMSI departmental base for every département (edition :data:`SSMSI_EDITION`), one row per
    département, year and indicator: ``departement`` (str code, "02", "2A", "971"), ``region``
    (str INSEE code), ``annee`` (int), ``indicateur``, ``unite_de_compte``, ``nombre`` (float,
    count; NaN when empty), ``insee_pop`` (int inhabitants), ``insee_pop_millesime`` (int).
    ``folder`` holds :data:`FRANCE_FILE` (default ``data/public/ssmsi-base-dep-2024-france``).
    Cached; returns a copy."""
    folder = paths.resolve(folder, paths.public_dir() / FRANCE_FOLDER)
    return _ssmsi_departements(str(Path(folder).resolve())).copy()


@functools.lru_cache(maxsize=4)
def _ssmsi_departements(folder: str) -> pd.DataFrame:
    path = Path(folder) / FRANCE_FILE
    if not path.exists():
        raise FileNotFoundError(f"Fichier SSMSI national introuvable : {path}.")
    raw = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    needed = ["Code_departement", "Code_region", "annee", "indicateur", "unite_de_compte", "nombre",
              "insee_pop", "insee_pop_millesime"]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise ValueError(f"{path.name} : colonnes manquantes {', '.join(missing)}.")
    unit = raw["unite_de_compte"].str.strip()
    df = pd.DataFrame({
        "departement": raw["Code_departement"].str.strip(),
        "region": raw["Code_region"].str.strip(),
        "annee": _year4(raw["annee"]),
        "indicateur": raw["indicateur"].str.strip(),
        "unite_de_compte": unit.str[:1].str.upper() + unit.str[1:],
        "nombre": _french_float(raw["nombre"]),
        "insee_pop": _french_float(raw["insee_pop"]).round().astype("int64"),
        "insee_pop_millesime": _year4(raw["insee_pop_millesime"]),
    })
    dupes = df.duplicated(["departement", "annee", "indicateur"])
    if dupes.any():
        first = df.loc[dupes].iloc[0]
        raise ValueError(f"{path.name} : ligne en double (département {first['departement']}, "
                         f"{first['indicateur']}, {first['annee']}).")
    return df.sort_values(["indicateur", "annee", "departement"]).reset_index(drop=True)


def comparison_table(base: pd.DataFrame, departement: str = "62",
                     indicateurs: tuple[str, ...] = COMPARISON_INDICATORS) -> pd.DataFrame:
    """Rates per 1 000 inhabitants of ``departement``, its region, metropolitan France and France,
    per SSMSI indicator and year. ``base``: :func:`load_ssmsi_departements`.

    One row per ``indicateur``, ``annee`` and ``perimetre`` (:data:`PERIMETERS`): ``nombre`` (sum
    of the départements' counts), ``population`` (sum of their ``insee_pop``),
    ``taux_pour_mille`` = nombre / population × 1 000 (a ratio of sums, never a mean of the
    départements' rates), ``departements`` (how many départements were summed),
    ``manquants`` (how many of them have no count: a positive number means the sum is incomplete).
    """
    rows = []
    for ind in indicateurs:
        sel = base[base["indicateur"] == ind]
        if sel.empty:
            raise ValueError(f"Indicateur SSMSI {ind!r} absent de la base nationale.")
        for year, part in sel.groupby("annee", sort=True):
            own = part[part["departement"] == departement]
            if own.empty:
                continue
            region = own["region"].iloc[0]
            masks = {
                "departement": part["departement"] == departement,
                "region": part["region"] == region,
                "france_metropolitaine": part["departement"].map(is_metropolitan),
                "france": pd.Series(True, index=part.index),
            }
            for perimetre in PERIMETERS:
                sub = part[masks[perimetre]]
                nombre = float(sub["nombre"].sum(min_count=1))
                population = int(sub["insee_pop"].sum())
                rows.append({"indicateur": ind, "annee": int(year), "perimetre": perimetre,
                             "nombre": nombre, "population": population,
                             "taux_pour_mille": nombre / population * 1000 if population else float("nan"),
                             "departements": int(len(sub)),
                             "manquants": int(sub["nombre"].isna().sum())})
    return pd.DataFrame(rows, columns=["indicateur", "annee", "perimetre", "nombre", "population",
                                       "taux_pour_mille", "departements", "manquants"])


def departement_ranks(base: pd.DataFrame, departement: str = "62",
                      indicateurs: tuple[str, ...] = COMPARISON_INDICATORS) -> pd.DataFrame:
    """Rank of ``departement`` among the metropolitan départements by rate per 1 000 inhabitants,
    per indicator and year: ``indicateur, annee, taux_pour_mille, rang, sur``. Rank 1 is the
    highest rate; ties share the best rank (``min``); départements without a count are left out
    of ``sur`` (the number ranked). Rates are recomputed as nombre / insee_pop × 1 000."""
    rows = []
    metro = base[base["departement"].map(is_metropolitan) & base["indicateur"].isin(indicateurs)]
    metro = metro.assign(taux=metro["nombre"] / metro["insee_pop"] * 1000).dropna(subset=["taux"])
    for (ind, year), part in metro.groupby(["indicateur", "annee"], sort=True):
        ranks = part["taux"].rank(ascending=False, method="min")
        own = part["departement"] == departement
        if not own.any():
            continue
        rows.append({"indicateur": ind, "annee": int(year),
                     "taux_pour_mille": float(part.loc[own, "taux"].iloc[0]),
                     "rang": int(ranks[own].iloc[0]), "sur": int(len(part))})
    out = pd.DataFrame(rows, columns=["indicateur", "annee", "taux_pour_mille", "rang", "sur"])
    order = {name: i for i, name in enumerate(indicateurs)}
    return out.sort_values(["indicateur", "annee"], key=lambda c: c.map(order) if c.name == "indicateur"
                           else c).reset_index(drop=True)


def region_departements(base: pd.DataFrame, departements: dict[str, str] = HDF_DEPARTEMENTS,
                        indicateurs: tuple[str, ...] = COMPARISON_INDICATORS) -> pd.DataFrame:
    """The départements of ``departements`` (code -> name; default the five of Hauts-de-France)
    side by side: ``indicateur, annee, departement, nom, nombre, population, taux_pour_mille``
    (nombre / insee_pop × 1 000)."""
    sel = base[base["departement"].isin(departements) & base["indicateur"].isin(indicateurs)]
    out = pd.DataFrame({
        "indicateur": sel["indicateur"], "annee": sel["annee"].astype("int64"),
        "departement": sel["departement"], "nom": sel["departement"].map(departements),
        "nombre": sel["nombre"], "population": sel["insee_pop"].astype("int64"),
        "taux_pour_mille": sel["nombre"] / sel["insee_pop"] * 1000,
    })
    return out.sort_values(["indicateur", "annee", "departement"]).reset_index(drop=True)


# --- provenance ---------------------------------------------------------------------------------

def editions(include_territories: bool = True, include_france: bool = False) -> list[dict[str, str]]:
    """Every public dataset the computations use, for the provenance section of reports: dicts
    with ``libelle``, ``edition``, ``licence``, ``origine`` (where it was taken from), ``fichier``
    (path of the project copy, relative to the project root) and ``sha256`` of that copy.
    Public statistics first (État 4001, the pinned SSMSI edition; with ``include_france``, the
    same edition for all départements, read by the diagnostic's comparison), then, with
    ``include_territories``, the INSEE and boundary files of :mod:`plancadre_eval.territories`."""
    pub = paths.public_dir()
    ssmsi = SSMSI_EDITIONS[SSMSI_EDITION]
    out = [
        source_entry(ETAT4001_LABEL, "version du fichier couvrant 2012-2020 (index 1 à 107, "
                    "par service)", LICENCE,
                    "data.gouv.fr, via le dépôt GitHub felix-geffrault/BI (voir SOURCE.md)",
                    pub / ETAT4001_FOLDER / ETAT4001_FILE),
        source_entry("SSMSI, base statistique départementale de la délinquance enregistrée",
                    f"{ssmsi.edition} (données {ssmsi.years[0]}-{ssmsi.years[1]})", LICENCE,
                    ssmsi.origine, pub / ssmsi.folder / ssmsi.file),
    ]
    if include_france:
        out.append(source_entry(
            "SSMSI, base statistique départementale de la délinquance enregistrée, tous les "
            "départements", f"{ssmsi.edition} (données {ssmsi.years[0]}-{ssmsi.years[1]}), fichier "
            "national non filtré", LICENCE, ssmsi.origine, pub / FRANCE_FOLDER / FRANCE_FILE))
    if include_territories:
        from .territories import sources
        out += sources()
    return out

"""Values of every indicator per year and territory: the computation behind the engine.

:class:`IndicatorCells` turns the observations into values (aggregation to the département, rates,
public series, references, progress to a target, milestone reports); the public object pages use is
:class:`plancadre_eval.engine.Engine`, which takes the inputs once. Tables in, tables out; nothing here
reads or writes files.
Inputs (contracts in ``ARCHITECTURE.md``):

- ``referential``: :class:`~plancadre_eval.referential.Referential`;
- ``observations``: one row per collected cell (``fiche, indicateur, composante, annee, territoire,
  valeur, texte, source, commentaire, fichier, ligne``), from ``collection.read_collection``;
- ``population``: anything with ``population(code: str, year: int) -> int`` (e.g.
  ``territories.Territories``), or such a function; only needed for rates (type ``taux``);
- ``public``: ``{serie code: DataFrame[annee, territoire, valeur]}`` with ``attrs["source"]`` and
  ``attrs["approximation"]`` (``public_data.series`` output), for indicators with ``source: public``;
- ``expected_territories``: ``{niveau: [codes]}``, the territories a pilot is expected to report at
  each level (``"departement"`` defaults to the plan's département; ``"structure"`` to the
  structures of ``plan.yaml`` that are not gendarmerie companies — tribunals, police stations…;
  ``"compagnie_gendarmerie"`` to the gendarmerie companies). An
  indicator's own ``territoires`` list, when given, replaces the level's list.

How values are computed, per territory and year (units are the indicator's ``unite``):

- ``comptage``: the reported number. Département: the reported ``"62"`` row if any, else the **sum**
  of the parts (one territorial level, see :data:`LEVEL_ORDER`).
- ``pourcentage``: ``numerateur / denominateur × 100`` (in %, denominator = the ``.denominateur``
  row); a territory that reported only the percentage keeps it. Département: the ``"62"`` row, else
  ``Σ numérateurs / Σ dénominateurs × 100`` of the parts — **never a mean of percentages**; if one part
  reported only its percentage, the département value is *non évaluable*.
- ``duree``: the reported average; département: the ``"62"`` row, else the mean of the parts
  **weighted by their persons** (``.personnes`` rows): ``Σ durée_i × personnes_i / Σ personnes_i``.
- ``taux``: ``numerator count / population(territory, year) × base`` (e.g. places per 10 000
  inhabitants); the département rate divides the département count by the département population.
- ``source: public``: the series' rows as published (``"62"`` and structures). They are never summed
  nor compared: a series' structures may cover part of the département only (the gendarmerie
  companies of État 4001 cover the gendarmerie zone, not the police zone).

Coverage: a département value computed from its parts carries ``couverture`` "2/7" (2 of the 7 codes
expected at the parts' level: ``expected``, the indicator's ``territoires``, the referential's
structures; "n/?" when unknown) and ``partiel`` when parts are missing. A partial value is the
aggregate of the declared parts, but it is never compared: no evolution, no progression, status
"non évaluable" (:class:`~plancadre_eval.engine.Engine`), and a rate built on it inherits its
coverage. An indicator whose ``niveau`` is the département is declared for the département only:
rows of other territories are kept but never summed into it (2.6.6 counts arrondissements).
Territorial levels come from :mod:`plancadre_eval.territories` (``level_of``, ``structure_level``,
``expected_codes``).

When a département total and its parts are both reported and the parts are complete (or their
expected number unknown) and disagree, the total is kept and the
disagreement is listed by :meth:`plancadre_eval.engine.Engine.discrepancies`. Each computed row carries ``effectif``, the number of
units its value rests on (the count itself, the denominator, the persons of a duration, the
numerator of a rate), used by :mod:`plancadre_eval.secrecy`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol

import pandas as pd

from . import secrecy, territories as territories_module
from .territories import LEVEL_ORDER, Level, structure_level
from .referential import (
    coerce_year,
    Fiche, Indicator, Milestone, Referential, Target,
)
from .statuses import (
    TargetStatus, assess_milestone, assess_target, evaluation_date, is_missing, parse_milestone_answer,
    to_float,
)

NAN = float("nan")

#: Columns of the observations table (collection output).
OBSERVATION_COLUMNS = ("fiche", "indicateur", "composante", "annee", "territoire", "valeur", "texte",
                       "source", "commentaire", "fichier", "ligne")
#: Columns of the indicator table, in order (``indicateurs.csv``).
TABLE_COLUMNS = (
    "fiche", "indicateur", "libelle", "type", "annee", "territoire", "niveau", "valeur", "unite",
    "couverture", "valeur_n_1", "evolution", "evolution_pct", "reference", "annee_reference",
    "evolution_reference_pct", "cible", "echeance_cible", "progression_pct", "statut", "diffusion",
    "motif_secret", "source", "commentaire", "numerateur", "denominateur", "effectif", "origine",
    "origine_reference", "texte", "niveau_couverture", "origine_indicateur",
)
#: Helper columns used by secrecy for values of other years (not written to files).
HELPER_COLUMNS = ("effectif_n_1", "effectif_reference")
# LEVEL_ORDER (imported from territories, used here and by callers of this module): order of
# territorial levels in tables; also the preference order of the parts aggregated to the
# département when an indicator was reported at several levels (its declared level first).
#: French plural of each level's parts, for "partiel (2/7 arrondissements)".
PARTS_NAMES = {Level.ARRONDISSEMENT: "arrondissements", Level.EPCI: "EPCI", Level.COMMUNE: "communes",
               Level.STRUCTURE: "structures",
               Level.COMPAGNIE_GENDARMERIE: "compagnies de gendarmerie", "autre": "territoires"}

ORIGIN_REPORTED = "déclaré"
ORIGIN_SUM = "somme des territoires"
ORIGIN_RATIO = "Σ numérateurs / Σ dénominateurs des territoires"
ORIGIN_WEIGHTED = "moyenne des territoires pondérée par les effectifs"
ORIGIN_RATE = "calculé : numérateur / population légale × base"
ORIGIN_PUBLIC = "statistique publique"
ORIGIN_NOT_EVALUABLE = "non évaluable"
ORIGIN_MISSING = "non déclaré"
REFERENCE_PLAN = secrecy.PLAN_BASELINE_ORIGIN
REFERENCE_REPORTED = "valeur déclarée pour l'année de référence"


class PopulationSource(Protocol):
    """Anything giving the legal population of a territory code for a year (``territories``)."""

    def population(self, code: str, year: int) -> int: ...


PopulationLike = PopulationSource | Callable[[str, int], int] | None


def join_texts(texts: Iterable[str]) -> str:
    """The non-empty texts, stripped, without repeats, in order, joined by " ; "."""
    seen: list[str] = []
    for t in texts:
        t = str(t).strip()
        if t and t not in seen:
            seen.append(t)
    return " ; ".join(seen)


def check_year(year, referential: Referential) -> int:
    """``year`` as an int if data may exist for it (reference year to last plan year)."""
    years = referential.plan.data_years
    valid = f"{years[0]} à {years[-1]}"
    try:
        value = coerce_year(year)
    except ValueError:
        raise ValueError(f"L'année {year!r} n'est pas une année (années possibles : {valid}).") from None
    if value not in years:
        raise ValueError(f"L'année {value} est hors du plan : années possibles {valid}.")
    return value


def prepare_observations(observations: pd.DataFrame | None) -> pd.DataFrame:
    """The observations with checked columns and types (codes as strings, years as ints).

    Missing optional text columns are added empty; a missing key column or a numeric territory code
    raises a French ValueError. Rows keep their order of ``fichier`` then ``ligne``.
    """
    if observations is None:
        observations = pd.DataFrame(columns=list(OBSERVATION_COLUMNS))
    key = ("indicateur", "annee", "territoire")
    missing = [c for c in key if c not in observations.columns]
    if missing:
        raise ValueError(f"Observations : colonnes manquantes : {', '.join(missing)} "
                         f"(attendu : {', '.join(OBSERVATION_COLUMNS)}).")
    obs = observations.copy()
    if len(obs) and pd.api.types.is_float_dtype(obs["territoire"]):
        raise ValueError("Observations : les codes de territoire doivent être des chaînes "
                         "(\"62\", \"621\"), pas des nombres.")
    for col in ("fiche", "composante", "texte", "source", "commentaire", "fichier"):
        if col not in obs:
            obs[col] = ""
        obs[col] = obs[col].astype(object).where(obs[col].notna(), "").astype(str).str.strip()
    for col in ("indicateur", "territoire"):
        obs[col] = obs[col].astype(object).where(obs[col].notna(), "").astype(str).str.strip()
    if "valeur" not in obs:
        obs["valeur"] = NAN
    obs["valeur"] = pd.to_numeric(obs["valeur"], errors="coerce").astype(float)
    if "ligne" not in obs:
        obs["ligne"] = 0
    obs["ligne"] = pd.to_numeric(obs["ligne"], errors="coerce").fillna(0).astype(int)
    years = pd.to_numeric(obs["annee"], errors="coerce")
    if years.isna().any():
        bad = obs.loc[years.isna(), "annee"].iloc[0]
        raise ValueError(f"Observations : année illisible {bad!r}.")
    obs["annee"] = years.astype(int)
    obs.loc[obs["composante"] == "", "composante"] = "valeur"
    # a row id "2.9.3.numerateur" not yet split by the reader
    for comp in ("numerateur", "denominateur", "personnes"):
        suffix = "." + comp
        sel = obs["indicateur"].str.endswith(suffix) & (obs["composante"] == "valeur")
        if sel.any():
            obs.loc[sel, "indicateur"] = obs.loc[sel, "indicateur"].str.removesuffix(suffix)
            obs.loc[sel, "composante"] = comp
    obs = obs.sort_values(["fichier", "ligne"], kind="mergesort").reset_index(drop=True)
    return obs


def _population_function(population: PopulationLike) -> Callable[[str, int], float] | None:
    if population is None:
        return None
    if hasattr(population, "population") and callable(population.population):
        return population.population
    if callable(population):
        return population
    raise ValueError("population doit être une fonction population(code, année) ou un objet ayant "
                     "une méthode population(code, année).")


# --- the engine -----------------------------------------------------------------------------------

@dataclass
class _Report:
    values: dict[str, float] = field(default_factory=dict)
    texte: str = ""
    commentaires: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


@dataclass
class _Cell:
    annee: int
    territoire: str
    niveau: str
    valeur: float = NAN
    numerateur: float = NAN
    denominateur: float = NAN
    effectif: float = NAN
    origine: str = ""
    source: str = ""
    commentaire: str = ""
    texte: str = ""
    couverture: str = ""
    niveau_couverture: str = ""
    partiel: bool = False

    def copy_coverage(self, other: "_Cell") -> None:
        """Take the coverage of the cell this one is computed from (a rate from its numerator)."""
        self.couverture, self.niveau_couverture, self.partiel = (
            other.couverture, other.niveau_couverture, other.partiel)


CELL_COLUMNS = ("annee", "territoire", "niveau", "valeur", "numerateur", "denominateur", "effectif",
                "origine", "source", "commentaire", "texte", "couverture", "niveau_couverture",
                "partiel")


def coverage_text(couverture: str, niveau_couverture: str) -> str:
    """"partiel (2/7 arrondissements)" for an incomplete aggregate, "" otherwise."""
    if not couverture:
        return ""
    done, _, expected = couverture.partition("/")
    if not expected or expected == "?" or done == expected:
        return ""
    return f"partiel ({couverture} {PARTS_NAMES.get(niveau_couverture, 'territoires')})"


@dataclass
class _Aggregate:
    valeur: float = NAN
    numerateur: float = NAN
    denominateur: float = NAN
    effectif: float = NAN
    origine: str = ""
    note: str = ""
    level: str = ""
    parts: int = 0
    expected: int | None = None
    missing: list[str] = field(default_factory=list)


class IndicatorCells:
    """Values of every indicator for every year and territory, computed once and cached."""

    def __init__(self, referential: Referential, observations: pd.DataFrame | None,
                 population: PopulationLike = None, public: Mapping[str, pd.DataFrame] | None = None,
                 expected: Mapping[str, Iterable[str]] | None = None):
        self.ref = referential
        self.expected = dict(expected or {})
        self.plan = referential.plan
        self.dept = referential.plan.departement
        self.obs = prepare_observations(observations)
        self.population = _population_function(population)
        #: where codes get their level: ``population`` when it is a :class:`territories.Territories`
        #: (or alike), else the shipped territories
        self._territories = population if hasattr(population, "level_of") else None
        self.public = dict(public or {})
        self.structures = {s.code: s for s in referential.structures}
        self.indicators = {i.id: i for i in referential.indicators()}
        self.fiches = {f.id: f for f in referential.fiches}
        self.duplicates: list[dict[str, Any]] = []
        self.disagreements: list[dict[str, Any]] = []
        self.reports = self._collect_reports()
        self._cells: dict[str, list[_Cell]] = {}
        self._index: dict[str, dict[tuple[int, str], _Cell]] = {}
        self._by_indicator: dict[str, list[tuple]] | None = None
        self._milestones: dict[tuple[str, str, int], dict[str, Any]] = {}

    # observations -> reports ----------------------------------------------------------------
    def _collect_reports(self) -> dict[str, dict[tuple[int, str], _Report]]:
        reports: dict[str, dict[tuple[int, str], _Report]] = {}
        cols = ["indicateur", "composante", "annee", "territoire", "valeur", "texte", "commentaire",
                "source", "fichier", "ligne"]
        for ind, comp, year, terr, val, texte, comment, src, fichier, ligne in \
                zip(*(self.obs[c].tolist() for c in cols)):
            rep = reports.setdefault(ind, {}).setdefault((int(year), terr), _Report())
            if not math.isnan(val):
                old = rep.values.get(comp)
                if old is not None and old != val:
                    self.duplicates.append({
                        "indicateur": ind, "annee": int(year), "territoire": terr, "composante": comp,
                        "nature": "valeur déclarée deux fois", "valeur_declaree": val,
                        "valeur_attendue": old, "ecart": val - old, "territoires": 1,
                        "message": f"{ind} ({year}), territoire {terr}, {comp} : déclaré deux fois "
                                   f"({old:g} puis {val:g}) ; la dernière valeur ({fichier}, ligne "
                                   f"{int(ligne)}) est retenue."})
                rep.values[comp] = val
            if texte:
                rep.texte = texte
            if comment:
                rep.commentaires.append(comment)
            if src:
                rep.sources.append(src)
        return reports

    def level(self, code: str, declared: str | None = None) -> str:
        """Territorial level of a code (:class:`territories.Level`, "autre" when unknown): the
        département, a structure of the referential (:func:`territories.structure_level`), a code
        listed for a level in ``expected``, else the level the territories give (``population``
        when it has ``level_of``, e.g. :class:`territories.Territories`)."""
        if code == self.dept:
            return Level.DEPARTEMENT
        structure = self.structures.get(code)
        if structure is not None:
            return structure_level(structure)
        for level, codes in self.expected.items():
            if level in tuple(Level) and code in codes:
                return Level(level)
        level_of = (self._territories.level_of if self._territories is not None
                    else territories_module.level_of)
        try:
            found = level_of(code, self.ref)
        except (KeyError, TypeError, ValueError):
            found = None
        return Level(found) if found is not None else "autre"

    # cells --------------------------------------------------------------------------------
    def cells(self, ind: Indicator) -> list[_Cell]:
        """Every (year, territory) cell of an indicator, département rows included."""
        if ind.id not in self._cells:
            self._cells[ind.id] = []  # guards against a rate whose numerator is itself
            if ind.source == "public":
                cells = self._public_cells(ind)
            elif ind.type == "taux":
                cells = self._rate_cells(ind)
            elif ind.type in ("comptage", "pourcentage", "duree"):
                cells = self._reported_cells(ind)
            else:
                cells = self._text_cells(ind)
            self._cells[ind.id] = sorted(cells, key=lambda c: (c.annee, level_rank(c.niveau),
                                                               c.territoire))
        return self._cells[ind.id]

    def cell(self, ind: Indicator, year: int, territory: str) -> _Cell | None:
        if ind.id not in self._index:
            self._index[ind.id] = {(c.annee, c.territoire): c for c in self.cells(ind)}
        return self._index[ind.id].get((year, territory))

    def _territory_cell(self, ind: Indicator, year: int, terr: str, rep: _Report) -> _Cell:
        v = rep.values
        cell = _Cell(year, terr, self.level(terr, ind.niveau),
                     commentaire=join_texts(rep.commentaires), source=join_texts(rep.sources))
        if ind.type == "comptage":
            cell.valeur = v.get("valeur", NAN)
            cell.effectif = cell.valeur
        elif ind.type == "pourcentage":
            num, den = v.get("numerateur", NAN), v.get("denominateur", NAN)
            cell.numerateur, cell.denominateur = num, den
            if not math.isnan(num) and not math.isnan(den):
                cell.valeur = num / den * 100 if den > 0 else NAN
                cell.effectif = den
                if num > den:
                    self._disagree(ind, year, terr, "numerateur", "numérateur supérieur au dénominateur",
                                   num, den, 1, f"{ind.id} ({year}), territoire {terr} : numérateur "
                                   f"({num:g}) supérieur au dénominateur ({den:g}).")
            else:
                cell.valeur = v.get("valeur", NAN)
        elif ind.type == "duree":
            cell.valeur = v.get("valeur", NAN)
            cell.effectif = v.get("personnes", NAN)
        has_value = not math.isnan(cell.valeur) or any(not math.isnan(x) for x in v.values())
        cell.origine = ORIGIN_REPORTED if has_value else ""
        return cell

    def _reported_cells(self, ind: Indicator) -> list[_Cell]:
        by_year: dict[int, dict[str, _Report]] = {}
        for (year, terr), rep in self.reports.get(ind.id, {}).items():
            by_year.setdefault(year, {})[terr] = rep
        cells: list[_Cell] = []
        for year in sorted(by_year):
            year_cells = {t: self._territory_cell(ind, year, t, r) for t, r in by_year[year].items()}
            self._complete_department(ind, year, year_cells)
            cells.extend(year_cells.values())
        return cells

    def _complete_department(self, ind: Indicator, year: int, year_cells: dict[str, _Cell]) -> None:
        """Fill the département cell from its parts when it was not reported, with its coverage;
        note a reported total that differs from the complete aggregate of its parts.

        An indicator whose level is the département (2.6.6, a number of arrondissements) is
        declared for the département only: rows for other territories are kept but never summed.
        """
        if ind.niveau == Level.DEPARTEMENT:
            return
        parts = [c for t, c in year_cells.items() if t != self.dept]
        agg = self._aggregate(ind, parts)
        dept = year_cells.get(self.dept)
        if dept is not None and not math.isnan(dept.valeur):
            if agg.parts and (agg.expected is None or agg.parts >= agg.expected):
                self._compare(ind, year, dept, agg, parts)
            if ind.type == "duree" and math.isnan(dept.effectif) and not math.isnan(agg.effectif):
                dept.effectif = agg.effectif
            return
        if not agg.parts and not agg.note:
            return
        if dept is None:
            dept = _Cell(year, self.dept, Level.DEPARTEMENT)
            year_cells[self.dept] = dept
        dept.valeur, dept.numerateur, dept.denominateur, dept.effectif = (
            agg.valeur, agg.numerateur, agg.denominateur, agg.effectif)
        dept.origine = agg.origine
        dept.couverture = f"{agg.parts}/{'?' if agg.expected is None else agg.expected}"
        dept.niveau_couverture = agg.level
        dept.partiel = agg.expected is not None and agg.parts < agg.expected
        notes = [dept.commentaire, agg.note]
        if dept.partiel:
            notes.append(f"Valeur partielle : {coverage_text(dept.couverture, agg.level)} ; "
                         f"manquent {', '.join(agg.missing)} : ni évolution ni progression.")
        dept.commentaire = join_texts(notes)
        if not dept.source:
            dept.source = join_texts(c.source for c in parts)

    def _expected_parts(self, ind: Indicator, level: str) -> list[str] | None:
        """The codes expected at ``level`` for the parts of ``ind`` (None when unknown)."""
        if level == ind.niveau:
            codes = self.expected_codes(ind, None, strict=False)
        elif level in self.expected:
            codes = [str(c) for c in self.expected[level]]
        elif level in (Level.STRUCTURE, Level.COMPAGNIE_GENDARMERIE):
            codes = territories_module.expected_codes(level, self.ref)
        else:
            codes = []
        return codes or None

    def _choose_parts(self, ind: Indicator, parts: list[_Cell]) -> list[_Cell]:
        levels = {c.niveau for c in parts}
        if not levels:
            return []
        order = [ind.niveau] + [lvl for lvl in LEVEL_ORDER if lvl != ind.niveau]
        chosen = next(lvl for lvl in order if lvl in levels)
        return [c for c in parts if c.niveau == chosen]

    def _aggregate(self, ind: Indicator, parts: list[_Cell]) -> _Aggregate:
        usable = self._choose_parts(ind, [c for c in parts if not math.isnan(c.valeur)])
        agg = _Aggregate(parts=len(usable), level=usable[0].niveau if usable else "")
        if not usable:
            return agg
        expected = self._expected_parts(ind, agg.level)
        if expected is not None:
            declared = {c.territoire for c in usable}
            agg.parts = len(declared & set(expected))
            agg.expected = len(expected)
            agg.missing = [c for c in expected if c not in declared]
        if ind.type == "pourcentage":
            if all(not math.isnan(c.numerateur) and not math.isnan(c.denominateur) for c in usable):
                agg.numerateur = sum(c.numerateur for c in usable)
                agg.denominateur = sum(c.denominateur for c in usable)
                agg.effectif = agg.denominateur
                agg.valeur = agg.numerateur / agg.denominateur * 100 if agg.denominateur > 0 else NAN
                agg.origine = ORIGIN_RATIO
            else:
                direct = sorted(c.territoire for c in usable if math.isnan(c.denominateur))
                agg.origine = ORIGIN_NOT_EVALUABLE
                agg.note = ("Pourcentage départemental non évaluable : " + ", ".join(direct)
                            + " n'ont déclaré que le pourcentage, sans numérateur ni dénominateur "
                            "(une moyenne de pourcentages serait fausse).")
        elif ind.type == "duree":
            if all(not math.isnan(c.effectif) for c in usable) and sum(c.effectif for c in usable) > 0:
                agg.effectif = sum(c.effectif for c in usable)
                agg.valeur = sum(c.valeur * c.effectif for c in usable) / agg.effectif
                agg.origine = ORIGIN_WEIGHTED
            else:
                agg.origine = ORIGIN_NOT_EVALUABLE
                agg.note = ("Durée départementale non évaluable : il manque l'effectif (ligne "
                            f"{ind.id}.personnes) d'au moins un territoire.")
        else:
            agg.valeur = sum(c.valeur for c in usable)
            agg.effectif = agg.valeur
            agg.origine = ORIGIN_SUM
        return agg

    def _disagree(self, ind: Indicator, year: int, territory: str, comp: str, nature: str,
                  reported: float, expected: float, n_parts: int, message: str) -> None:
        self.disagreements.append({
            "fiche": ind.fiche, "indicateur": ind.id, "annee": year, "territoire": territory,
            "composante": comp, "nature": nature, "valeur_declaree": reported,
            "valeur_attendue": expected, "ecart": reported - expected, "territoires": n_parts,
            "message": message,
        })

    def _compare(self, ind: Indicator, year: int, dept: _Cell, agg: _Aggregate,
                 parts: list[_Cell]) -> None:
        nature = "total départemental différent de l'agrégat des territoires"
        level = agg.level

        def check(comp: str, total: float, value: float, tol: float, what: str) -> None:
            if math.isnan(total) or math.isnan(value):
                return
            if abs(total - value) > tol:
                self._disagree(ind, year, self.dept, comp, nature, total, value, agg.parts,
                               f"{ind.id} ({year}) : {what} déclaré pour le département "
                               f"({total:g}) diffère de celui des {agg.parts} territoires "
                               f"({level}) déclarés ({value:g}) ; la valeur départementale "
                               f"déclarée est retenue.")

        if ind.type == "comptage":
            check("valeur", dept.valeur, agg.valeur, 1e-9 * max(1.0, abs(dept.valeur)), "le total")
        elif ind.type == "pourcentage":
            if not math.isnan(dept.numerateur) and not math.isnan(agg.numerateur):
                check("numerateur", dept.numerateur, agg.numerateur, 1e-9, "le numérateur")
                check("denominateur", dept.denominateur, agg.denominateur, 1e-9, "le dénominateur")
            else:
                check("valeur", dept.valeur, agg.valeur, 0.5, "le pourcentage")
        elif ind.type == "duree":
            check("personnes", dept.effectif, agg.effectif, 1e-9, "l'effectif")
            check("valeur", dept.valeur, agg.valeur, max(0.05, 0.01 * abs(dept.valeur)),
                  "la durée moyenne")

    def _rate_cells(self, ind: Indicator) -> list[_Cell]:
        num_ind = self.indicators.get(ind.numerateur or "")
        if num_ind is None:
            raise ValueError(f"Indicateur {ind.id} : le taux renvoie au numérateur "
                             f"{ind.numerateur!r}, indicateur inconnu.")
        base = to_float(ind.base)
        cells = []
        for c in self.cells(num_ind):
            if math.isnan(c.valeur):
                continue
            rate = _Cell(c.annee, c.territoire, c.niveau, numerateur=c.valeur, effectif=c.valeur,
                         origine=ORIGIN_RATE, source=join_texts([f"{num_ind.id} / population légale × "
                                                            f"{ind.base}", c.source]),
                         commentaire=c.commentaire if c.partiel else "")
            rate.copy_coverage(c)
            pop = self._population(c.territoire, c.annee)
            rate.denominateur = pop
            if math.isnan(pop) or pop <= 0:
                rate.commentaire = join_texts([rate.commentaire, f"Population légale de {c.territoire} en {c.annee} inconnue : "
                                    "taux non calculé."])
            else:
                rate.valeur = c.valeur / pop * base
            cells.append(rate)
        return cells

    def _population(self, code: str, year: int) -> float:
        if self.population is None:
            return NAN
        try:
            return to_float(self.population(code, year))
        except (KeyError, LookupError, ValueError):
            return NAN

    def _public_cells(self, ind: Indicator) -> list[_Cell]:
        df = self.public.get(ind.serie or "")
        if df is None:
            return []
        missing = {"annee", "territoire", "valeur"} - set(df.columns)
        if missing:
            raise ValueError(f"Série publique {ind.serie!r} : colonnes manquantes "
                             f"{', '.join(sorted(missing))} (attendu annee, territoire, valeur).")
        source = str(df.attrs.get("source", "") or "")
        approx = str(df.attrs.get("approximation", "") or "")
        by_year: dict[int, dict[str, _Cell]] = {}
        for year, terr, val in df[["annee", "territoire", "valeur"]].itertuples(index=False, name=None):
            year, terr, val = int(year), str(terr), to_float(val)
            cell = _Cell(year, terr, self.level(terr, ind.niveau), valeur=val,
                         effectif=val if ind.type == "comptage" else NAN, origine=ORIGIN_PUBLIC,
                         source=source, commentaire=approx)
            by_year.setdefault(year, {})[terr] = cell
        # Values as published: the département is the series' own row. Structures of a public series
        # may cover part of the département only (gendarmerie zone): they are never summed.
        return [c for year in sorted(by_year) for c in by_year[year].values()]

    def _text_cells(self, ind: Indicator) -> list[_Cell]:
        cells = []
        for (year, terr), rep in self.reports.get(ind.id, {}).items():
            has = bool(rep.texte or rep.commentaires or rep.values)
            cells.append(_Cell(year, terr, self.level(terr, ind.niveau), texte=rep.texte,
                               commentaire=join_texts(rep.commentaires), source=join_texts(rep.sources),
                               origine=ORIGIN_REPORTED if has else ""))
        return cells

    # references and targets -------------------------------------------------------------------
    def reference(self, ind: Indicator, territory: str, year: int) -> tuple[float, dt.date | None, str, float]:
        """(value, date, origin, effectif) of the reference of an indicator for a territory.

        The earliest "État des lieux" entry linked to the indicator and territory dated no later
        than the evaluated year, else the value reported for the plan's reference year.
        """
        baselines = sorted(
            (b for f in self.ref.fiches for b in f.etat_des_lieux
             if b.indicateur == ind.id and b.territoire == territory
             and b.date is not None and b.date <= evaluation_date(year) and not is_missing(b.valeur)),
            key=lambda b: b.date)
        if baselines:
            return float(baselines[0].valeur), baselines[0].date, REFERENCE_PLAN, NAN
        ref_year = self.plan.annee_reference
        if ref_year > year:
            return NAN, None, "", NAN
        cell = self.cell(ind, ref_year, territory)
        if cell is None or math.isnan(cell.valeur) or cell.partiel:
            return NAN, None, "", NAN
        return cell.valeur, evaluation_date(ref_year), REFERENCE_REPORTED, cell.effectif

    def targets_of(self, ind: Indicator) -> list[Target]:
        return [t for f in self.ref.fiches for t in f.cibles if t.indicateur == ind.id]

    def target_row(self, target: Target, year: int) -> dict[str, Any]:
        """Progress to one target at the end of ``year`` (see :func:`assess_target`)."""
        ind = self.indicators.get(target.indicateur or "")
        row: dict[str, Any] = {
            "indicateur": target.indicateur or "", "cible": target.libelle,
            "territoire": target.territoire, "valeur_cible": float(target.valeur),
            "unite": target.unite, "echeance": target.echeance, "annee": year,
            "reference": NAN, "date_reference": None, "valeur": NAN, "progression_pct": NAN,
            "progression_attendue_pct": NAN, "statut": TargetStatus.NOT_ASSESSABLE, "motif": "",
        }
        if ind is None:
            row["motif"] = "Cible non reliée à un indicateur : progression non mesurable."
            return row
        if not ind.quantitative:
            row["motif"] = f"L'indicateur {ind.id} n'est pas chiffré : progression non mesurable."
            return row
        cell = self.cell(ind, year, target.territoire)
        value = cell.valeur if cell is not None else NAN
        ref_value, ref_date, _, _ = self.reference(ind, target.territoire, year)
        status, progress, expected, reason = assess_target(
            value, float(target.valeur), ref_value, ref_date, target.echeance, year, ind.sens)
        if cell is not None and cell.partiel:
            status, progress = TargetStatus.NOT_ASSESSABLE, NAN
            reason = (f"Valeur {coverage_text(cell.couverture, cell.niveau_couverture)} : "
                      "progression non mesurable.")
        row.update(reference=ref_value, date_reference=ref_date, valeur=value,
                   progression_pct=progress, progression_attendue_pct=expected, statut=status,
                   motif=reason)
        return row

    # milestones ------------------------------------------------------------------------------
    def milestone_row(self, fiche: Fiche, milestone: Milestone, year: int) -> dict[str, Any]:
        """Status of one milestone at the end of ``year`` (cached; callers must not modify it)."""
        key = (fiche.id, milestone.id, year)
        if key not in self._milestones:
            self._milestones[key] = self._milestone_row(fiche, milestone, year)
        return self._milestones[key]

    def _milestone_row(self, fiche: Fiche, milestone: Milestone, year: int) -> dict[str, Any]:
        ids = {milestone.id} | {i.id for i in self.indicators.values()
                                if i.type == "jalon" and i.jalon == milestone.id}
        if self._by_indicator is None:
            cols = ["indicateur", "annee", "texte", "valeur", "commentaire"]
            self._by_indicator = {}
            for ind_id, *rest in zip(*(self.obs[c].tolist() for c in cols)):
                self._by_indicator.setdefault(ind_id, []).append(tuple(rest))
        reports = sorted((r for i in ids for r in self._by_indicator.get(i, [])),
                         key=lambda r: r[0])
        done: list[dt.date] = []
        answered_this_year = False
        comments = []
        for annee, texte, valeur, comment in reports:
            if int(annee) > year:
                continue
            answer, when = parse_milestone_answer(texte, valeur, int(annee))
            if answer is not None and int(annee) == year:
                answered_this_year = True
            if answer and when is not None and when <= evaluation_date(min(int(annee), year)):
                done.append(when)
            if comment:
                comments.append(comment)
        realised = min(done) if done else None
        status = assess_milestone(milestone.echeance, realised, year)
        return {"fiche": fiche.id, "jalon": milestone.id, "libelle": milestone.libelle,
                "echeance": milestone.echeance, "realisation": realised, "statut": status,
                "commentaire": join_texts(comments), "declare_annee": answered_this_year}

    def expected_codes(self, ind: Indicator, expected: Mapping[str, Iterable[str]] | None,
                       strict: bool) -> list[str]:
        """Territories a pilot is expected to report for ``ind``: its own ``territoires`` list, else
        ``expected[niveau]``, else :func:`territories.expected_codes` for the levels the referential
        defines (département, structures, gendarmerie companies). Arrondissements, EPCI and
        communes have no default here: without a list, ``strict`` raises a French ValueError,
        otherwise the answer is empty."""
        if ind.territoires:
            return list(ind.territoires)
        mapping = self.expected if expected is None else expected
        if ind.niveau in mapping:
            return [str(c) for c in mapping[ind.niveau]]
        if ind.niveau in (Level.DEPARTEMENT, Level.STRUCTURE, Level.COMPAGNIE_GENDARMERIE):
            return territories_module.expected_codes(ind.niveau, self.ref)
        if strict:
            raise ValueError(f"Territoires attendus du niveau « {ind.niveau} » non fournis (indicateur "
                             f"{ind.id}) : passez expected_territories={{'{ind.niveau}': [codes…]}}.")
        return []


def level_rank(level: str) -> int:
    """Rank of a territorial level in :data:`LEVEL_ORDER` (unknown levels last)."""
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)

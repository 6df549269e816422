"""The indicator engine: values, aggregation, evolution, progress to target, statuses, completeness.

Tables in, tables out; nothing here reads or writes files except :func:`write_indicator_table`.
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

When a département total and its parts are both reported and disagree, the total is kept and the
disagreement is listed by :func:`discrepancies`. Each computed row carries ``effectif``, the number of
units its value rests on (the count itself, the denominator, the persons of a duration, the
numerator of a rate), used by :mod:`plancadre_eval.secrecy`.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

import numpy as np
import pandas as pd

from . import formatting, secrecy
from .referential import (
    coerce_year,
    COMPONENTS, Fiche, Indicator, Milestone, Referential, Target, fiche_sort_key,
)

NAN = float("nan")

TARGET_STATUSES = ("atteint", "en bonne voie", "en retard", "non évaluable", "sans cible")
MILESTONE_STATUSES = ("réalisé", "réalisé en retard", "en retard", "à venir")
FICHE_STATUSES = ("mise en œuvre", "en cours", "en retard", "non démarrée", "données insuffisantes")
#: Statuses counted as "engagées" by the steering committee.
ENGAGED_STATUSES = ("mise en œuvre", "en cours", "en retard")
DONE_MILESTONE = ("réalisé", "réalisé en retard")

FICHE_STATUS_RULE = (
    "Statut d'une fiche pour l'année évaluée (règles appliquées dans cet ordre ; la première qui "
    "s'applique l'emporte) :\n"
    "1. « données insuffisantes » : la fiche attend des valeurs pour l'année et moins de la moitié "
    "ont été déclarées ;\n"
    "2. « en retard » : au moins un jalon est en retard ou au moins une cible chiffrée est en retard ;\n"
    "3. fiche sans indicateur chiffré déclaré par les pilotes, sans jalon ni cible (indicateurs "
    "qualitatifs, à déterminer ou issus de la statistique publique) : « en cours » si un commentaire "
    "a été déclaré pour l'année, sinon « données insuffisantes » ;\n"
    "4. « non démarrée » : aucun jalon réalisé, aucune valeur chiffrée déclarée pour l'année "
    "différente de zéro, et aucun texte déclaré pour ses indicateurs qualitatifs ou de date ;\n"
    "5. « mise en œuvre » : la fiche a au moins une cible ou un jalon échu, tous ses jalons échus sont "
    "réalisés et toutes ses cibles sont atteintes ; ou, pour une fiche sans cible ni jalon, toutes les "
    "valeurs attendues de l'année ont été déclarées ;\n"
    "6. « en cours » dans tous les autres cas.\n"
    "Une cible est « en retard » si, à l'échéance passée, elle n'est pas atteinte, ou si sa "
    "progression depuis la référence est inférieure à celle d'une progression linéaire de la date de "
    "référence à l'échéance, au 31 décembre de l'année évaluée. Un jalon est « en retard » si son "
    "échéance est passée au 31 décembre de l'année évaluée sans réalisation déclarée."
)

#: Columns of the observations table (collection output).
OBSERVATION_COLUMNS = ("fiche", "indicateur", "composante", "annee", "territoire", "valeur", "texte",
                       "source", "commentaire", "fichier", "ligne")
#: Columns of the indicator table, in order (``indicateurs.csv``).
TABLE_COLUMNS = (
    "fiche", "indicateur", "libelle", "type", "annee", "territoire", "niveau", "valeur", "unite",
    "valeur_n_1", "evolution", "evolution_pct", "reference", "annee_reference",
    "evolution_reference_pct", "cible", "echeance_cible", "progression_pct", "statut", "diffusion",
    "motif_secret", "source", "commentaire", "numerateur", "denominateur", "effectif", "origine",
    "origine_reference", "texte", "origine_indicateur",
)
#: Helper columns used by secrecy for values of other years (not written to files).
HELPER_COLUMNS = ("effectif_n_1", "effectif_reference")
#: Order of territorial levels in tables; also the preference order of the parts aggregated to the
#: département when an indicator was reported at several levels (its declared level first).
LEVEL_ORDER = ("departement", "arrondissement", "epci", "commune", "structure",
               "compagnie_gendarmerie", "autre")

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

YES = {"oui", "o", "yes", "x", "1", "vrai", "fait", "réalisé", "realise", "réalisée", "realisee"}
NO = {"non", "n", "no", "0", "faux", "non réalisé", "non realise"}
FIXED_TIMESTAMP = dt.datetime(2019, 1, 1, 0, 0, 0)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class PopulationSource(Protocol):
    """Anything giving the legal population of a territory code for a year (``territories``)."""

    def population(self, code: str, year: int) -> int: ...


PopulationLike = PopulationSource | Callable[[str, int], int] | None


def evaluation_date(year: int) -> dt.date:
    """The date at which a year is evaluated: 31 December of that year."""
    return dt.date(int(year), 12, 31)


def _isnan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _f(x: Any) -> float:
    """A float, NaN for missing/unreadable values."""
    if x is None or isinstance(x, bool):
        return NAN
    try:
        v = float(x)
    except (TypeError, ValueError):
        return NAN
    return v


def _join(texts: Iterable[str]) -> str:
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


CELL_COLUMNS = ("annee", "territoire", "niveau", "valeur", "numerateur", "denominateur", "effectif",
                "origine", "source", "commentaire", "texte")


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


class _Engine:
    """Values of every indicator for every year and territory, computed once and cached."""

    def __init__(self, referential: Referential, observations: pd.DataFrame | None,
                 population: PopulationLike = None, public: Mapping[str, pd.DataFrame] | None = None):
        self.ref = referential
        self.plan = referential.plan
        self.dept = referential.plan.departement
        self.obs = prepare_observations(observations)
        self.population = _population_function(population)
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
        """Territorial level of a code (``"62"`` département, ``"621"`` arrondissement, …)."""
        if code == self.dept:
            return "departement"
        structure = self.structures.get(code)
        if structure is not None:
            if declared in ("structure", "compagnie_gendarmerie"):
                return declared
            return "compagnie_gendarmerie" if structure.type == "compagnie_gendarmerie" else "structure"
        if code.isdigit():
            if len(code) == len(self.dept) + 1 and code.startswith(self.dept):
                return "arrondissement"
            if len(code) == 5:
                return "commune"
            if len(code) == 9:
                return "epci"
        return "autre"

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
            self._cells[ind.id] = sorted(cells, key=lambda c: (c.annee, _level_rank(c.niveau),
                                                               c.territoire))
        return self._cells[ind.id]

    def cell(self, ind: Indicator, year: int, territory: str) -> _Cell | None:
        if ind.id not in self._index:
            self._index[ind.id] = {(c.annee, c.territoire): c for c in self.cells(ind)}
        return self._index[ind.id].get((year, territory))

    def _territory_cell(self, ind: Indicator, year: int, terr: str, rep: _Report) -> _Cell:
        v = rep.values
        cell = _Cell(year, terr, self.level(terr, ind.niveau),
                     commentaire=_join(rep.commentaires), source=_join(rep.sources))
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

    def _complete_department(self, ind: Indicator, year: int, year_cells: dict[str, _Cell],
                             origin_prefix: str = "") -> None:
        """Fill the département cell from its parts when it was not reported; note disagreements."""
        parts = [c for t, c in year_cells.items() if t != self.dept]
        agg = self._aggregate(ind, parts)
        dept = year_cells.get(self.dept)
        if dept is not None and not math.isnan(dept.valeur):
            if agg.parts:
                self._compare(ind, year, dept, agg, parts)
            if ind.type == "duree" and math.isnan(dept.effectif) and not math.isnan(agg.effectif):
                dept.effectif = agg.effectif
            return
        if not agg.parts and not agg.note:
            return
        if dept is None:
            dept = _Cell(year, self.dept, "departement")
            year_cells[self.dept] = dept
        dept.valeur, dept.numerateur, dept.denominateur, dept.effectif = (
            agg.valeur, agg.numerateur, agg.denominateur, agg.effectif)
        dept.origine = origin_prefix + agg.origine
        dept.commentaire = _join([dept.commentaire, agg.note])
        if not dept.source:
            dept.source = _join(c.source for c in parts)

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
        base = _f(ind.base)
        cells = []
        for c in self.cells(num_ind):
            if math.isnan(c.valeur):
                continue
            rate = _Cell(c.annee, c.territoire, c.niveau, numerateur=c.valeur, effectif=c.valeur,
                         origine=ORIGIN_RATE, source=_join([f"{num_ind.id} / population légale × "
                                                            f"{ind.base}", c.source]))
            pop = self._population(c.territoire, c.annee)
            rate.denominateur = pop
            if math.isnan(pop) or pop <= 0:
                rate.commentaire = (f"Population légale de {c.territoire} en {c.annee} inconnue : "
                                    "taux non calculé.")
            else:
                rate.valeur = c.valeur / pop * base
            cells.append(rate)
        return cells

    def _population(self, code: str, year: int) -> float:
        if self.population is None:
            return NAN
        try:
            return _f(self.population(code, year))
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
            year, terr, val = int(year), str(terr), _f(val)
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
                               commentaire=_join(rep.commentaires), source=_join(rep.sources),
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
             and b.date is not None and b.date <= evaluation_date(year) and not _isnan(b.valeur)),
            key=lambda b: b.date)
        if baselines:
            return float(baselines[0].valeur), baselines[0].date, REFERENCE_PLAN, NAN
        ref_year = self.plan.annee_reference
        if ref_year > year:
            return NAN, None, "", NAN
        cell = self.cell(ind, ref_year, territory)
        if cell is None or math.isnan(cell.valeur):
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
            "progression_attendue_pct": NAN, "statut": "non évaluable", "motif": "",
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
        row.update(reference=ref_value, date_reference=ref_date, valeur=value,
                   progression_pct=progress, progression_attendue_pct=expected, statut=status,
                   motif=reason)
        return row

    # milestones ------------------------------------------------------------------------------
    def milestone_row(self, fiche: Fiche, milestone: Milestone, year: int) -> dict[str, Any]:
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
                "commentaire": _join(comments), "declare_annee": answered_this_year}


def _level_rank(level: str) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)


# --- pure rules -------------------------------------------------------------------------------------

def assess_target(value: float, target: float, baseline: float, baseline_date: dt.date | None,
                  deadline: dt.date | None, year: int, sens: str = "hausse"
                  ) -> tuple[str, float, float, str]:
    """Status of a quantified target at the end of ``year``: (statut, progression %, attendue %, motif).

    - ``progression_pct = (value - baseline) / (target - baseline) × 100``: share of the way from
      the reference to the target, in % (NaN without reference, or when target = reference);
    - ``attendue`` (expected progress, %): share of the time elapsed from the reference date to the
      deadline at 31 December of ``year`` (clipped to 0-100), i.e. a straight line;
    - statut: "non évaluable" without value; "atteint" when the value reached the target in the
      desired direction (``sens``: "hausse" = at least the target, "baisse" = at most; "neutre" takes
      the direction from the reference to the target, "hausse" without reference); once the deadline
      has passed (31 December of ``year`` ≥ deadline), a target not reached is "en retard"; before, "non
      évaluable" without reference, else "en bonne voie" when the progression is at least the
      expected progress, otherwise "en retard". A target equal to its reference and not reached is
      "en retard" (the level was to be kept).
    """
    value, target, baseline = _f(value), _f(target), _f(baseline)
    if math.isnan(target):
        return "non évaluable", NAN, NAN, "Cible sans valeur chiffrée."
    if sens not in ("hausse", "baisse"):
        sens = "baisse" if not math.isnan(baseline) and target < baseline else "hausse"
    progress = NAN
    if not math.isnan(baseline) and not math.isnan(value) and target != baseline:
        progress = (value - baseline) / (target - baseline) * 100
    expected = NAN
    eval_date = evaluation_date(year)
    if deadline is not None and baseline_date is not None and not math.isnan(baseline):
        span = (deadline - baseline_date).days
        expected = 100.0 if span <= 0 else min(1.0, max(0.0, (eval_date - baseline_date).days / span)) * 100
    elif deadline is not None and eval_date >= deadline:
        expected = 100.0
    if math.isnan(value):
        return "non évaluable", progress, expected, f"Aucune valeur pour {year}."
    eps = 1e-9 * max(1.0, abs(target))
    reached = value >= target - eps if sens == "hausse" else value <= target + eps
    if reached:
        return "atteint", progress, expected, "Cible atteinte."
    if deadline is not None and eval_date >= deadline:
        return "en retard", progress, expected, "Échéance passée sans que la cible soit atteinte."
    if math.isnan(baseline):
        return "non évaluable", progress, expected, "Pas de valeur de référence : progression non mesurable."
    if target == baseline:
        return "en retard", progress, expected, "Le niveau de référence (égal à la cible) n'est pas maintenu."
    if math.isnan(expected):
        return "non évaluable", progress, expected, "Échéance ou date de référence inconnue."
    if progress >= expected - 1e-9:
        return "en bonne voie", progress, expected, "Progression au moins égale à la trajectoire linéaire."
    return "en retard", progress, expected, "Progression inférieure à la trajectoire linéaire."


def parse_milestone_answer(texte: Any, valeur: Any, year: int) -> tuple[bool | None, dt.date | None]:
    """Read a milestone report: (done?, date of realisation).

    ``"oui"`` -> done by 31 December of the reported ``year``; ``"non"`` -> not done; a date
    (``AAAA-MM-JJ`` or ``JJ/MM/AAAA``) -> done on that date; an empty text with ``valeur`` 1 / 0 ->
    oui / non. Anything else -> (None, None), ignored (``collection`` reports it).
    """
    text = "" if texte is None or (isinstance(texte, float) and math.isnan(texte)) else str(texte)
    text = text.strip().lower()
    if not text:
        v = _f(valeur)
        if v == 1:
            return True, evaluation_date(year)
        if v == 0:
            return False, None
        return None, None
    if text in YES:
        return True, evaluation_date(year)
    if text in NO:
        return False, None
    try:
        if "/" in text:
            day, month, yr = (int(p) for p in text.split("/"))
            return True, dt.date(yr, month, day)
        return True, dt.date.fromisoformat(text[:10])
    except ValueError:
        return None, None


def assess_milestone(deadline: dt.date, realised: dt.date | None, year: int) -> str:
    """Status of a milestone at 31 December of ``year`` given its realisation date (None if not done).

    "réalisé" (done on or before the deadline), "réalisé en retard" (done after it), "en retard"
    (not done and the deadline is on or before 31 December of ``year``), "à venir" (not done, not due).
    """
    if realised is not None:
        return "réalisé" if realised <= deadline else "réalisé en retard"
    return "en retard" if deadline <= evaluation_date(year) else "à venir"


@dataclass(frozen=True)
class FicheFacts:
    """What the fiche status rule looks at, for one fiche and year."""

    expected: int = 0
    reported: int = 0
    milestones: tuple[tuple[str, str, dt.date], ...] = ()   # (jalon, statut, échéance)
    targets: tuple[tuple[str, str], ...] = ()               # (libellé, statut)
    values: tuple[float, ...] = ()        # collected quantitative values reported for the year
    quantitative: bool = False            # the fiche has quantitative indicators pilots report
    texts: int = 0                        # texts reported for qualitative/date indicators
    comments: int = 0                     # any text or comment reported for the fiche in the year


def decide_fiche_status(facts: FicheFacts, year: int) -> tuple[str, list[str]]:
    """The fiche status for ``year`` by :data:`FICHE_STATUS_RULE`, with its reasons in French."""
    reasons: list[str] = []
    eval_date = evaluation_date(year)
    if facts.expected:
        share = facts.reported / facts.expected * 100
        reasons.append(f"{facts.reported} valeur(s) déclarée(s) sur {facts.expected} attendue(s) "
                       f"pour {year} ({formatting.format_percent(share, 0)}).")
    late_ms = [m for m in facts.milestones if m[1] == "en retard"]
    done_ms = [m for m in facts.milestones if m[1] in DONE_MILESTONE]
    due_ms = [m for m in facts.milestones if m[2] <= eval_date]
    late_targets = [t for t in facts.targets if t[1] == "en retard"]
    for m in late_ms:
        reasons.append(f"Jalon {m[0]} en retard (échéance : {formatting.format_date(m[2])}).")
    for t in late_targets:
        reasons.append(f"Cible « {t[0]} » en retard.")
    if facts.milestones:
        reasons.append(f"{len(done_ms)} jalon(s) réalisé(s) sur {len(facts.milestones)} "
                       f"({len(due_ms)} échu(s)).")
    if facts.targets:
        reached = sum(1 for t in facts.targets if t[1] == "atteint")
        reasons.append(f"{reached} cible(s) atteinte(s) sur {len(facts.targets)}.")

    if facts.expected and facts.reported * 2 < facts.expected:
        return "données insuffisantes", ["Moins de la moitié des valeurs attendues ont été "
                                         "déclarées."] + reasons
    if late_ms or late_targets:
        return "en retard", reasons
    if not facts.quantitative and not facts.milestones and not facts.targets:
        if facts.comments:
            return "en cours", reasons + ["Fiche sans indicateur chiffré déclaré par les pilotes : "
                                          "un commentaire a été déclaré pour l'année."]
        return "données insuffisantes", reasons + ["Fiche sans indicateur chiffré déclaré par les "
                                                   "pilotes et aucun commentaire déclaré pour "
                                                   "l'année."]
    nothing_done = (not done_ms and all(_isnan(v) or v == 0 for v in facts.values)
                    and not facts.texts)
    if nothing_done:
        return "non démarrée", reasons + ["Aucun jalon réalisé et aucune valeur non nulle "
                                          "déclarée pour l'année."]
    if facts.targets or due_ms:
        if all(m[1] in DONE_MILESTONE for m in due_ms) and all(t[1] == "atteint" for t in facts.targets):
            return "mise en œuvre", reasons + ["Tous les jalons échus sont réalisés et toutes les "
                                               "cibles sont atteintes."]
    elif not facts.milestones and facts.expected and facts.reported >= facts.expected:
        return "mise en œuvre", reasons + ["Fiche sans cible ni jalon : toutes les valeurs "
                                           "attendues ont été déclarées."]
    return "en cours", reasons


# --- public building blocks ------------------------------------------------------------------------

def _fiches(referential: Referential, fiches: Iterable[str] | str | None) -> list[Fiche]:
    if fiches is None:
        return list(referential.fiches)
    if isinstance(fiches, str):
        fiches = [fiches]
    out = []
    for fid in fiches:
        if not isinstance(fid, str):
            raise ValueError(f"Identifiant de fiche {fid!r} : attendu une chaîne (\"2.10\"), pas un "
                             "nombre.")
        try:
            out.append(referential.fiche(fid))
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
    return out


def _expected_codes(engine: _Engine, ind: Indicator, expected: Mapping[str, Iterable[str]] | None,
                    strict: bool) -> list[str]:
    """Territories a pilot is expected to report for ``ind`` (see the module docstring)."""
    if ind.territoires:
        return list(ind.territoires)
    mapping = expected or {}
    if ind.niveau in mapping:
        return [str(c) for c in mapping[ind.niveau]]
    if ind.niveau == "departement":
        return [engine.dept]
    if ind.niveau == "structure":
        return [s.code for s in engine.ref.structures if s.type != "compagnie_gendarmerie"]
    if ind.niveau == "compagnie_gendarmerie":
        return [s.code for s in engine.ref.structures if s.type == "compagnie_gendarmerie"]
    if strict:
        raise ValueError(f"Territoires attendus du niveau « {ind.niveau} » non fournis (indicateur "
                         f"{ind.id}) : passez expected_territories={{'{ind.niveau}': [codes…]}}.")
    return []


def _pct_change(value: float, base: float) -> float:
    """Relative change in % from ``base``; NaN from a zero or missing base."""
    if math.isnan(value) or math.isnan(base) or base == 0:
        return NAN
    return (value - base) / abs(base) * 100


def _choose_target(targets: list[Target], year: int) -> Target | None:
    """The target read for ``year``: the nearest deadline not yet passed, else the latest one."""
    if not targets:
        return None
    eval_date = evaluation_date(year)
    coming = sorted((t for t in targets if t.echeance and t.echeance >= eval_date),
                    key=lambda t: t.echeance)
    if coming:
        return coming[0]
    return max(targets, key=lambda t: t.echeance or dt.date.min)


def _indicator_rows(engine: _Engine, fiche: Fiche, ind: Indicator, year: int,
                    expected: Mapping[str, Iterable[str]] | None) -> list[dict[str, Any]]:
    cur = {c.territoire: c for c in engine.cells(ind) if c.annee == year}
    prev = {c.territoire: c for c in engine.cells(ind) if c.annee == year - 1}
    territories = set(cur)
    if ind.quantitative:
        territories.add(engine.dept)
    if ind.collected or ind.type == "taux" or not ind.quantitative:
        territories |= set(_expected_codes(engine, ind, expected, strict=False))
    targets = engine.targets_of(ind)
    milestone = None
    if ind.type == "jalon" and ind.jalon:
        for m in fiche.jalons:
            if m.id == ind.jalon:
                milestone = engine.milestone_row(fiche, m, year)
        if milestone is None:
            for f in engine.ref.fiches:
                for m in f.jalons:
                    if m.id == ind.jalon:
                        milestone = engine.milestone_row(f, m, year)
    rows = []
    for terr in territories:
        c, p = cur.get(terr), prev.get(terr)
        value = c.valeur if c else NAN
        row: dict[str, Any] = {
            "fiche": fiche.id, "indicateur": ind.id, "libelle": ind.libelle, "type": ind.type,
            "annee": year, "territoire": terr, "niveau": c.niveau if c else engine.level(terr, ind.niveau),
            "valeur": value, "unite": ind.unite, "valeur_n_1": NAN, "evolution": NAN,
            "evolution_pct": NAN, "reference": NAN, "annee_reference": pd.NA,
            "evolution_reference_pct": NAN, "cible": NAN, "echeance_cible": "",
            "progression_pct": NAN, "statut": "sans cible",
            "source": c.source if c else "", "commentaire": c.commentaire if c else "",
            "numerateur": c.numerateur if c else NAN, "denominateur": c.denominateur if c else NAN,
            "effectif": c.effectif if c else NAN,
            "origine": (c.origine if c and c.origine else ORIGIN_MISSING),
            "origine_reference": "", "texte": c.texte if c else "",
            "origine_indicateur": str(ind.origine),
            "effectif_n_1": NAN, "effectif_reference": NAN,
        }
        if ind.source == "public" and ind.serie not in engine.public and terr == engine.dept:
            row["commentaire"] = _join([row["commentaire"],
                                        f"Série publique « {ind.serie} » non fournie."])
        if ind.quantitative:
            if p is not None:
                row["valeur_n_1"], row["effectif_n_1"] = p.valeur, p.effectif
                row["evolution"] = value - p.valeur
                row["evolution_pct"] = _pct_change(value, p.valeur)
            ref_value, ref_date, ref_origin, ref_eff = engine.reference(ind, terr, year)
            if not math.isnan(ref_value):
                row.update(reference=ref_value, annee_reference=ref_date.year,
                           origine_reference=ref_origin, effectif_reference=ref_eff,
                           evolution_reference_pct=_pct_change(value, ref_value))
            target = _choose_target([t for t in targets if t.territoire == terr], year)
            if target is not None:
                t_row = engine.target_row(target, year)
                row.update(cible=float(target.valeur), echeance_cible=target.echeance.isoformat(),
                           progression_pct=t_row["progression_pct"], statut=t_row["statut"])
        if milestone is not None and terr == engine.dept:
            row["statut"] = milestone["statut"]
            if milestone["realisation"] is not None:
                row["texte"] = milestone["realisation"].isoformat()
        rows.append(row)
    return rows


def _sorted_table(rows: list[dict[str, Any]], columns: Iterable[str]) -> pd.DataFrame:
    """Rows as a DataFrame sorted by fiche and indicator (natural order: "2.9" < "2.10"), year,
    level (département first) and territory code."""
    df = pd.DataFrame(rows, columns=list(columns))
    if df.empty:
        return df
    n = len(df)
    keys = list(zip(
        df["fiche"].map(fiche_sort_key), df["indicateur"].map(fiche_sort_key),
        df["annee"] if "annee" in df else [0] * n,
        df["niveau"].map(_level_rank) if "niveau" in df else [0] * n,
        df["territoire"] if "territoire" in df else [""] * n,
    ))
    order = sorted(range(n), key=keys.__getitem__)
    return df.iloc[order].reset_index(drop=True)


def compute_indicators(referential: Referential, observations: pd.DataFrame | None, year: int,
                       population: PopulationLike = None,
                       public: Mapping[str, pd.DataFrame] | None = None,
                       expected_territories: Mapping[str, Iterable[str]] | None = None,
                       fiches: Iterable[str] | str | None = None,
                       _engine: _Engine | None = None) -> pd.DataFrame:
    """The indicator table for ``year`` **before statistical secrecy** (use :func:`indicator_table`).

    One row per fiche, indicator and territory (the département for every quantitative indicator,
    every territory reported for the year, every expected territory), columns :data:`TABLE_COLUMNS`
    except ``diffusion``/``motif_secret``, plus :data:`HELPER_COLUMNS`. Units: ``valeur``,
    ``valeur_n_1``, ``reference``, ``cible`` and ``evolution`` in the indicator's ``unite`` (points for
    percentages); ``*_pct`` in % of the base (NaN from a zero base); ``progression_pct`` in % of the
    way from the reference to the target.
    """
    year = check_year(year, referential)
    engine = _engine or _Engine(referential, observations, population, public)
    rows: list[dict[str, Any]] = []
    for fiche in _fiches(referential, fiches):
        for ind in fiche.indicateurs:
            rows.extend(_indicator_rows(engine, fiche, ind, year, expected_territories))
    columns = [c for c in TABLE_COLUMNS if c not in ("diffusion", "motif_secret")] + list(HELPER_COLUMNS)
    table = _sorted_table(rows, columns)
    table["annee"] = table["annee"].astype(int)
    table["annee_reference"] = table["annee_reference"].astype("Int64")
    return table


def indicator_table(referential: Referential, observations: pd.DataFrame | None, year: int,
                    population: PopulationLike = None,
                    public: Mapping[str, pd.DataFrame] | None = None,
                    expected_territories: Mapping[str, Iterable[str]] | None = None,
                    fiches: Iterable[str] | str | None = None,
                    secret_threshold: int = 5) -> pd.DataFrame:
    """The indicator table of ``year`` for all fiches (or ``fiches``), statistical secrecy applied.

    See :func:`compute_indicators` for rows and units and :mod:`plancadre_eval.secrecy` for masking
    (``diffusion`` "public"/"secret", ``motif_secret``). ``statut`` is the target status on the row of
    the target's territory (the département by default) of indicators with a target, the milestone
    status on jalon-type indicators, "sans cible" otherwise. Sorted by fiche, indicator, level
    (département first) and territory code.
    """
    table = compute_indicators(referential, observations, year, population, public,
                               expected_territories, fiches)
    masked = secrecy.apply_secrecy(table, referential, secret_threshold)
    return masked[[c for c in TABLE_COLUMNS if c in masked] + list(HELPER_COLUMNS)]


def indicator_values(referential: Referential, observations: pd.DataFrame | None, fiche_id: str,
                     year: int, population: PopulationLike = None,
                     public: Mapping[str, pd.DataFrame] | None = None,
                     secret_threshold: int = 5) -> pd.DataFrame:
    """Every value of one fiche's quantitative indicators from the reference year to ``year``.

    One row per indicator, year and territory (département rows included, computed as in the module
    docstring), for charts: ``fiche, indicateur, libelle, type, unite, annee, territoire, niveau,
    valeur, numerateur, denominateur, effectif, origine, source, commentaire, diffusion,
    motif_secret``. Statistical secrecy is applied (masked ``valeur`` empty).
    """
    year = check_year(year, referential)
    fiche = _fiches(referential, [fiche_id])[0]
    engine = _Engine(referential, observations, population, public)
    rows = []
    for ind in fiche.indicateurs:
        if not ind.quantitative:
            continue
        for c in engine.cells(ind):
            if referential.plan.annee_reference <= c.annee <= year:
                rows.append({"fiche": fiche.id, "indicateur": ind.id, "libelle": ind.libelle,
                             "type": ind.type, "unite": ind.unite,
                             **{k: getattr(c, k) for k in CELL_COLUMNS if k != "texte"}})
    columns = ["fiche", "indicateur", "libelle", "type", "unite"] + [c for c in CELL_COLUMNS if c != "texte"]
    table = _sorted_table(rows, columns)
    if not table.empty:
        table["annee"] = table["annee"].astype(int)
    return secrecy.apply_secrecy(table, referential, secret_threshold)


TARGET_COLUMNS = ("fiche", "indicateur", "cible", "territoire", "valeur_cible", "unite", "echeance",
                  "reference", "date_reference", "annee", "valeur", "progression_pct",
                  "progression_attendue_pct", "statut", "motif")


def target_progress(referential: Referential, observations: pd.DataFrame | None, year: int,
                    population: PopulationLike = None,
                    public: Mapping[str, pd.DataFrame] | None = None,
                    fiche_id: str | None = None, secret_threshold: int = 5,
                    _engine: _Engine | None = None) -> pd.DataFrame:
    """Progress to every quantified target (``cibles``) at 31 December of ``year``.

    Columns :data:`TARGET_COLUMNS`: ``valeur_cible``, ``reference``, ``valeur`` in the target's unit;
    ``progression_pct`` = (valeur - reference) / (cible - reference) × 100;
    ``progression_attendue_pct`` = share of the time from the reference date to the deadline elapsed
    at the end of ``year`` (straight line); ``statut`` and ``motif`` from :func:`assess_target`.
    A target on an infra-départemental territory whose value is secret shows no value.
    """
    year = check_year(year, referential)
    engine = _engine or _Engine(referential, observations, population, public)
    rows = []
    for fiche in _fiches(referential, fiche_id):
        for target in fiche.cibles:
            row = {"fiche": fiche.id, **engine.target_row(target, year)}
            ind = engine.indicators.get(target.indicateur or "")
            if (ind is not None and target.territoire != engine.dept
                    and secrecy.counts_persons(ind, referential)):
                cells = [c for c in engine.cells(ind) if c.annee == year]
                frame = pd.DataFrame({"indicateur": ind.id, "annee": year,
                                      "territoire": [c.territoire for c in cells],
                                      "niveau": [c.niveau for c in cells],
                                      "valeur": [c.valeur for c in cells],
                                      "effectif": [c.effectif for c in cells]})
                reasons = secrecy.secrecy_reasons(frame, referential, secret_threshold)
                if any(r and c.territoire == target.territoire for r, c in zip(reasons, cells)):
                    row.update(valeur=NAN, progression_pct=NAN)
            rows.append(row)
    return pd.DataFrame(rows, columns=list(TARGET_COLUMNS))


MILESTONE_COLUMNS = ("fiche", "jalon", "libelle", "echeance", "realisation", "statut", "commentaire")


def milestone_status(referential: Referential, observations: pd.DataFrame | None, year: int,
                     fiche_id: str | None = None, _engine: _Engine | None = None) -> pd.DataFrame:
    """Status of every milestone (``jalons``) at 31 December of ``year``.

    Reports are rows whose ``indicateur`` is the milestone id, or the id of a jalon-type indicator
    pointing to it, for years up to ``year``: ``texte`` "oui" (done by 31 December of the reported
    year), "non", or the date of realisation. ``realisation`` is the earliest date of realisation
    (``datetime.date``, None if not done); ``statut`` from :func:`assess_milestone`.
    """
    year = check_year(year, referential)
    engine = _engine or _Engine(referential, observations)
    rows = [engine.milestone_row(f, m, year) for f in _fiches(referential, fiche_id) for m in f.jalons]
    return pd.DataFrame(rows, columns=list(MILESTONE_COLUMNS) + ["declare_annee"])[list(MILESTONE_COLUMNS)]


COMPLETENESS_COLUMNS = ("fiche", "pilote", "indicateur", "libelle", "composante", "territoire",
                        "annee", "declare")


def _completeness_rows(engine: _Engine, fiche: Fiche, year: int,
                       expected: Mapping[str, Iterable[str]] | None) -> list[dict[str, Any]]:
    rows = []
    for ind in fiche.indicateurs:
        if not ind.collected or ind.type == "jalon":
            continue
        comps = {"comptage": ("valeur",), "pourcentage": COMPONENTS["pourcentage"],
                 "duree": ("valeur",) + COMPONENTS["duree"]}.get(ind.type, ("valeur",))
        reports = engine.reports.get(ind.id, {})
        for terr in _expected_codes(engine, ind, expected, strict=True):
            rep = reports.get((year, terr))
            for comp in comps:
                if ind.quantitative:
                    done = rep is not None and not math.isnan(rep.values.get(comp, NAN))
                else:
                    done = rep is not None and bool(rep.texte or rep.commentaires or rep.values)
                rows.append({"fiche": fiche.id, "pilote": fiche.pilote_court, "indicateur": ind.id,
                             "libelle": ind.libelle, "composante": comp, "territoire": terr,
                             "annee": year, "declare": bool(done)})
    for m in fiche.jalons:
        if m.echeance <= evaluation_date(year):
            ms = engine.milestone_row(fiche, m, year)
            rows.append({"fiche": fiche.id, "pilote": fiche.pilote_court, "indicateur": m.id,
                         "libelle": m.libelle, "composante": "jalon", "territoire": engine.dept,
                         "annee": year,
                         "declare": bool(ms["declare_annee"] or ms["realisation"] is not None)})
    return rows


def completeness(referential: Referential, observations: pd.DataFrame | None, year: int,
                 expected_territories: Mapping[str, Iterable[str]] | None = None,
                 fiche_id: str | None = None, _engine: _Engine | None = None) -> pd.DataFrame:
    """Every value expected for ``year`` and whether it was reported (``declare``), by pilot.

    Expected: for each collected indicator (not rates, public series, "à déterminer" or jalon-type
    indicators), each expected territory of its level and each component row (``valeur``; percentages
    ``numerateur`` and ``denominateur`` — a bare percentage does not replace them; durations ``valeur``
    and ``personnes``); qualitative and date indicators count as reported with a text or comment.
    Milestones are expected once due (deadline ≤ 31 December of ``year``): reported if answered for
    the year or already done. ``pilote`` is the fiche's short pilot name.
    """
    year = check_year(year, referential)
    engine = _engine or _Engine(referential, observations)
    rows = [r for f in _fiches(referential, fiche_id)
            for r in _completeness_rows(engine, f, year, expected_territories)]
    return pd.DataFrame(rows, columns=list(COMPLETENESS_COLUMNS))


def completeness_summary(table: pd.DataFrame, by: Iterable[str] = ("fiche", "pilote")) -> pd.DataFrame:
    """Counts of a :func:`completeness` table: ``attendues``, ``declarees``, ``manquantes`` and
    ``taux_pct`` (declared / expected × 100) per group (default: fiche and pilot)."""
    by = list(by)
    if table.empty:
        return pd.DataFrame(columns=by + ["attendues", "declarees", "manquantes", "taux_pct"])
    g = table.groupby(by, sort=False)["declare"]
    out = pd.DataFrame({"attendues": g.size(), "declarees": g.sum().astype(int)}).reset_index()
    out["manquantes"] = out["attendues"] - out["declarees"]
    out["taux_pct"] = out["declarees"] / out["attendues"] * 100
    return out


def fiche_facts(referential: Referential, observations: pd.DataFrame | None, year: int,
                fiche_id: str, expected_territories: Mapping[str, Iterable[str]] | None = None,
                population: PopulationLike = None,
                public: Mapping[str, pd.DataFrame] | None = None,
                _engine: _Engine | None = None) -> FicheFacts:
    """The facts the status rule needs for one fiche and year (see :class:`FicheFacts`)."""
    year = check_year(year, referential)
    fiche = _fiches(referential, [fiche_id])[0]
    engine = _engine or _Engine(referential, observations, population, public)
    comp = _completeness_rows(engine, fiche, year, expected_territories)
    milestones = [engine.milestone_row(fiche, m, year) for m in fiche.jalons]
    targets = [engine.target_row(t, year) for t in fiche.cibles]
    values: list[float] = []
    texts = 0
    for ind in fiche.indicateurs:
        if not ind.collected:
            continue
        if ind.quantitative:
            values += [c.valeur for c in engine.cells(ind)
                       if c.annee == year and c.origine == ORIGIN_REPORTED]
        elif ind.type in ("qualitatif", "date"):
            texts += sum(1 for (y, _), r in engine.reports.get(ind.id, {}).items()
                         if y == year and (r.texte or r.commentaires))
    ids = {i.id for i in fiche.indicateurs} | {m.id for m in fiche.jalons}
    obs = engine.obs
    sel = (obs["annee"] == year) & (obs["indicateur"].isin(ids) | (obs["fiche"] == fiche.id))
    comments = int(((obs["texte"] != "") | (obs["commentaire"] != ""))[sel].sum())
    return FicheFacts(
        expected=len(comp), reported=sum(1 for r in comp if r["declare"]),
        milestones=tuple((m["jalon"], m["statut"], m["echeance"]) for m in milestones),
        targets=tuple((t["cible"], t["statut"]) for t in targets),
        values=tuple(values),
        quantitative=any(i.quantitative and i.collected for i in fiche.indicateurs),
        texts=texts, comments=comments,
    )


def fiche_status(referential: Referential, observations: pd.DataFrame | None, year: int,
                 fiche_id: str, expected_territories: Mapping[str, Iterable[str]] | None = None,
                 population: PopulationLike = None,
                 public: Mapping[str, pd.DataFrame] | None = None,
                 _engine: _Engine | None = None) -> tuple[str, list[str]]:
    """(status, reasons) of a fiche for ``year`` by the single rule :data:`FICHE_STATUS_RULE`."""
    facts = fiche_facts(referential, observations, year, fiche_id, expected_territories,
                        population, public, _engine)
    return decide_fiche_status(facts, check_year(year, referential))


def fiche_statuses(referential: Referential, observations: pd.DataFrame | None, year: int,
                   expected_territories: Mapping[str, Iterable[str]] | None = None,
                   population: PopulationLike = None,
                   public: Mapping[str, pd.DataFrame] | None = None,
                   fiches: Iterable[str] | str | None = None) -> pd.DataFrame:
    """Status of every fiche (or ``fiches``, e.g. ``schedule.due_fiches(ref, year)``) for ``year``:
    ``fiche, axe, titre, annee, statut, motifs`` (reasons joined by " ; ")."""
    year = check_year(year, referential)
    engine = _Engine(referential, observations, population, public)
    rows = []
    for fiche in _fiches(referential, fiches):
        status, reasons = fiche_status(referential, None, year, fiche.id, expected_territories,
                                       _engine=engine)
        rows.append({"fiche": fiche.id, "axe": fiche.axe, "titre": fiche.titre, "annee": year,
                     "statut": status, "motifs": " ; ".join(reasons)})
    return pd.DataFrame(rows, columns=["fiche", "axe", "titre", "annee", "statut", "motifs"])


def plan_summary(statuses: pd.DataFrame, referential: Referential) -> pd.DataFrame:
    """Fiches per status by axe and for the whole plan (last row, ``axe = "Ensemble"``).

    ``statuses`` has columns ``fiche`` and ``statut`` (e.g. :func:`fiche_statuses`). Columns:
    ``axe, titre, fiches`` (fiches evaluated), ``non évaluées`` (fiches of the axe absent from
    ``statuses``), one count per status, ``part <statut> (%)`` (share of the fiches evaluated),
    ``mises en œuvre`` (status "mise en œuvre") and ``engagées`` (mise en œuvre + en cours + en
    retard) with their shares in %.
    """
    missing = {"fiche", "statut"} - set(statuses.columns)
    if missing:
        raise ValueError(f"Synthèse du plan : colonnes manquantes : {', '.join(sorted(missing))}.")
    unknown = sorted(set(statuses["statut"]) - set(FICHE_STATUSES))
    if unknown:
        raise ValueError(f"Synthèse du plan : statut(s) inconnu(s) {', '.join(unknown)} ; statuts "
                         f"admis : {', '.join(FICHE_STATUSES)}.")
    axis_of = {f.id: f.axe for f in referential.fiches}
    strange = sorted(set(statuses["fiche"]) - set(axis_of), key=fiche_sort_key)
    if strange:
        raise ValueError(f"Synthèse du plan : fiche(s) inconnue(s) {', '.join(strange)}.")
    if statuses["fiche"].duplicated().any():
        dup = sorted(set(statuses.loc[statuses["fiche"].duplicated(), "fiche"]), key=fiche_sort_key)
        raise ValueError(f"Synthèse du plan : fiche(s) en double {', '.join(dup)} (une ligne par fiche).")
    status_of = dict(zip(statuses["fiche"], statuses["statut"]))

    def line(axe: str, titre: str, fiche_ids: list[str]) -> dict[str, Any]:
        evaluated = [status_of[f] for f in fiche_ids if f in status_of]
        n = len(evaluated)
        row: dict[str, Any] = {"axe": axe, "titre": titre, "fiches": n,
                               "non évaluées": len(fiche_ids) - n}
        for s in FICHE_STATUSES:
            row[s] = sum(1 for e in evaluated if e == s)
        for s in FICHE_STATUSES:
            row[f"part {s} (%)"] = row[s] / n * 100 if n else NAN
        row["mises en œuvre"] = row["mise en œuvre"]
        row["part mises en œuvre (%)"] = row["mises en œuvre"] / n * 100 if n else NAN
        row["engagées"] = sum(row[s] for s in ENGAGED_STATUSES)
        row["part engagées (%)"] = row["engagées"] / n * 100 if n else NAN
        return row

    rows = [line(a.id, a.titre, [f.id for f in referential.fiches if f.axe == a.id])
            for a in referential.axes]
    rows.append(line("Ensemble", "Ensemble du plan", [f.id for f in referential.fiches]))
    return pd.DataFrame(rows)


DISCREPANCY_COLUMNS = ("fiche", "indicateur", "annee", "territoire", "composante", "nature",
                       "valeur_declaree", "valeur_attendue", "ecart", "territoires", "message")


def discrepancies(referential: Referential, observations: pd.DataFrame | None,
                  year: int | None = None, population: PopulationLike = None,
                  public: Mapping[str, pd.DataFrame] | None = None,
                  fiche_id: str | None = None, secret_threshold: int = 5) -> pd.DataFrame:
    """Inconsistencies found while computing values (all years, or ``year`` only).

    ``nature``: a reported département total that differs from the aggregate of its reported parts
    (``valeur_declaree`` = the total, kept as the value; ``valeur_attendue`` = the aggregate: sum of
    counts, Σ numerators and Σ denominators, weighted mean of durations; tolerance: exact for counts,
    0,5 point for a percentage compared without its components, 1 % for average durations); a
    numerator above its denominator; a value reported twice (the last one, in file and row order, is
    kept). ``message`` is a French sentence. On an infra-départemental territory of an indicator
    counting persons, numbers between 1 and ``secret_threshold - 1`` are not shown (statistical
    secrecy): the row stays, its numbers are emptied and the message names the problem only.
    """
    if year is not None:
        year = check_year(year, referential)
    engine = _Engine(referential, observations, population, public)
    selected = _fiches(referential, fiche_id)
    for fiche in selected:
        for ind in fiche.indicateurs:
            engine.cells(ind)
    fiche_of = {i.id: i.fiche for i in referential.indicators()}
    fiche_of.update({m.id: f.id for f in referential.fiches for m in f.jalons})
    ids = {f.id for f in selected}
    rows = [dict(r) for r in engine.disagreements]
    for d in engine.duplicates:
        rows.append({"fiche": fiche_of.get(d["indicateur"], ""), **d})
    rows = [r for r in rows if r["fiche"] in ids and (year is None or r["annee"] == year)]
    threshold = secrecy.check_threshold(secret_threshold)
    for r in rows:
        ind = engine.indicators.get(r["indicateur"])
        numbers = [r["valeur_declaree"], r["valeur_attendue"]]
        if (ind is not None and r["territoire"] != engine.dept
                and secrecy.counts_persons(ind, referential)
                and any(0 < x < threshold for x in numbers if not _isnan(x))):
            r.update(valeur_declaree=NAN, valeur_attendue=NAN, ecart=NAN,
                     message=f"{r['indicateur']} ({r['annee']}), territoire {r['territoire']} : "
                             f"{r['nature']} (valeurs couvertes par le secret statistique).")
    return _sorted_table(rows, DISCREPANCY_COLUMNS).drop_duplicates().reset_index(drop=True)


# --- files ------------------------------------------------------------------------------------------

def _atomic_write(path: Path, data: bytes) -> None:
    """Atomic write shared with the HTML pages (temporary file + ``os.replace``)."""
    from .rendering import write_atomic

    write_atomic(path, data)


def _csv_bytes(table: pd.DataFrame) -> bytes:
    text = table.to_csv(sep=";", decimal=",", index=False, lineterminator="\n")
    return "\ufeff".encode("utf-8") + text.encode("utf-8")


def _cell_value(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
        if isinstance(v, float) and math.isnan(v):
            return None
    return v


def _xlsx_bytes(table: pd.DataFrame, sheet: str = "Indicateurs") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(table.columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in table.itertuples(index=False, name=None):
        ws.append([_cell_value(v) for v in row])
    ws.freeze_panes = "A2"
    if len(table.columns):
        ws.auto_filter.ref = ws.dimensions
    props = wb.properties
    props.creator = "plancadre-eval"
    props.lastModifiedBy = "plancadre-eval"
    props.title = "Indicateurs du plan cadre"
    props.created = FIXED_TIMESTAMP
    props.modified = FIXED_TIMESTAMP
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    # rewrite the archive with fixed entry dates (zipfile stamps entries with the current time)
    fixed = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, src.read(info.filename))
    return fixed.getvalue()


def write_indicator_table(table: pd.DataFrame, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``indicateurs.csv`` and ``indicateurs.xlsx`` in ``out_dir`` (created if needed).

    CSV for French Excel: UTF-8 with BOM, ``;`` separator, decimal comma, empty cells for missing
    values, ``\\n`` line ends. XLSX: one sheet "Indicateurs", header in bold, fixed document dates.
    Columns: :data:`TABLE_COLUMNS` present in ``table`` (helper columns are not written). Each file is
    written to a temporary file in the same folder then renamed (``os.replace``), so readers never
    see a half-written file; identical input gives byte-identical files. Returns ``{"csv": path,
    "xlsx": path}``.
    """
    if "diffusion" not in table.columns:
        raise ValueError("Table d'indicateurs sans colonne « diffusion » : appliquez le secret "
                         "statistique (indicator_table) avant d'écrire les fichiers.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cols = [c for c in TABLE_COLUMNS if c in table.columns]
    data = table[cols].reset_index(drop=True)
    paths = {"csv": out / "indicateurs.csv", "xlsx": out / "indicateurs.xlsx"}
    _atomic_write(paths["csv"], _csv_bytes(data))
    _atomic_write(paths["xlsx"], _xlsx_bytes(data))
    return paths

"""The plan's objects: the vocabularies and frozen dataclasses a referential is made of.

Loading and validating the YAML folder is :mod:`plancadre_eval.referential`, which re-exports
every name here (so ``from plancadre_eval.referential import Fiche`` keeps working). Field names
mirror the French YAML keys on purpose (see ARCHITECTURE.md); ids are always strings.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from .territories import Level

class IndicatorType(StrEnum):
    """Type of an indicator (``type:`` in the YAML, ``type`` in ``indicateurs.csv``). Members
    compare equal to the French strings."""

    COMPTAGE = "comptage"            # a count (people, measures…)
    POURCENTAGE = "pourcentage"      # numerator / denominator, in %
    TAUX = "taux"                    # a count per ``base`` inhabitants, computed
    DUREE = "duree"                  # an average duration, weighted by ``personnes``
    JALON = "jalon"                  # follows a milestone: oui / non / date
    DATE = "date"                    # a date
    QUALITATIF = "qualitatif"        # free text
    A_DETERMINER = "a_determiner"    # the plan leaves the definition for later


INDICATOR_TYPES = tuple(IndicatorType)
#: Types whose values are numbers that can be charted and compared to a target.
QUANTITATIVE_TYPES = (IndicatorType.COMPTAGE, IndicatorType.POURCENTAGE, IndicatorType.TAUX,
                      IndicatorType.DUREE)
FREQUENCY_CODES = (
    "annuelle", "triennale", "intermediaire_et_finale", "annuelle_apres_2e_annee", "continue",
    "semestrielle", "point_etape_annuel", "non_precisee",
)
#: Territorial levels (``niveau:``), see :class:`territories.Level`.
LEVELS = tuple(Level)
DIRECTIONS = ("hausse", "baisse", "neutre")
NATURES = ("a_poursuivre", "nouvelle")
SOURCES = ("collecte", "public")
STRUCTURE_TYPES = ("compagnie_gendarmerie", "csp", "tribunal_judiciaire", "autre")
#: Suffixes of collected components: ``2.9.3.numerateur`` etc.
COMPONENTS = {
    "pourcentage": ("numerateur", "denominateur"),
    "duree": ("personnes",),
}


class Origin(StrEnum):
    """Where an indicator, a target or a milestone comes from (field ``origine`` of the YAML)."""

    PLAN = "plan"       # adopted by the plan, in its words
    AJOUT = "ajout"     # added by the evaluators to follow something the plan says
    DEDUIT = "deduit"   # inferred from the plan's text (a date, a number the plan implies)


class Reading(StrEnum):
    """How a number of the plan was read (field ``lecture`` of a baseline, a target, a figure)."""

    EXACTE = "exacte"            # the plan gives this very number
    FOURCHETTE = "fourchette"    # a range ("2 ou 3 postes") collapsed to one value
    PLANCHER = "plancher"        # a floor ("plus de 450", "au moins") read as the value
    APPROCHEE = "approchee"      # an approximation ("près de", "une quinzaine") read as the value


#: What the pages say next to an item that does not come from the plan as written (French).
ORIGIN_LABELS = {
    "indicateur": {Origin.AJOUT: "indicateur ajouté pour l'évaluation",
                   Origin.DEDUIT: "indicateur déduit du plan"},
    "cible": {Origin.AJOUT: "cible ajoutée pour l'évaluation", Origin.DEDUIT: "cible déduite du plan"},
    "jalon": {Origin.AJOUT: "jalon ajouté pour l'évaluation", Origin.DEDUIT: "jalon déduit du plan"},
}
READING_LABELS = {
    Reading.FOURCHETTE: "fourchette du plan ramenée à une valeur",
    Reading.PLANCHER: "plancher du plan (« plus de », « au moins ») lu comme valeur exacte",
    Reading.APPROCHEE: "ordre de grandeur du plan (« près de », « une quinzaine ») lu comme valeur exacte",
}
#: Shown instead of a day when the plan does not date a baseline (``date_precisee: false``).
UNDATED_TEXT = "date non précisée dans le plan"


def origin_label(kind: str, origin: str) -> str:
    """French label of a non-plan origin for ``kind`` ("indicateur", "cible", "jalon"); "" for the plan."""
    return ORIGIN_LABELS[kind].get(Origin(origin), "") if origin in tuple(Origin) else ""


class ReferentialError(ValueError):
    """The referential is broken. ``problems`` lists every message (French, one per problem)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("Référentiel invalide :\n" + "\n".join(f"- {p}" for p in self.problems))


@dataclass(frozen=True)
class Frequency:
    """How often a fiche is evaluated (``frequence:``): a code of :data:`FREQUENCY_CODES`, its
    French wording, and optional first/last years or explicit ``annees``."""

    code: str
    libelle: str
    debut: int | None = None
    fin: int | None = None
    annees: tuple[int, ...] = ()


@dataclass(frozen=True)
class Baseline:
    """A quantified fact of the plan's "État des lieux"."""

    libelle: str
    valeur: float
    unite: str
    date: dt.date
    indicateur: str | None = None
    territoire: str = "62"
    date_precisee: bool = True      # False: the plan gives no date (``date`` = its year, by convention)
    lecture: str = Reading.EXACTE


@dataclass(frozen=True)
class Target:
    """A quantified target of the plan's "Perspectives", with its deadline."""

    libelle: str
    valeur: float
    unite: str
    echeance: dt.date
    indicateur: str | None = None
    territoire: str = "62"
    origine: str = Origin.PLAN
    lecture: str = Reading.EXACTE


@dataclass(frozen=True)
class Milestone:
    """A dated step of the plan's "Délais de mise en œuvre"."""

    id: str
    libelle: str
    echeance: dt.date
    origine: str = Origin.PLAN


@dataclass(frozen=True)
class Indicator:
    """One indicator of a fiche (``indicateurs:``): ``type`` is an :class:`IndicatorType`,
    ``niveau`` a :class:`territories.Level`, ``source`` "collecte" (reported by pilots) or
    "public" (``serie`` of :mod:`public_data`); a ``taux`` is ``numerateur`` per ``base``
    inhabitants; ``territoires`` lists the expected codes when the level alone does not say."""

    id: str
    fiche: str
    libelle: str
    type: str
    unite: str
    sens: str = "hausse"
    niveau: str = "departement"
    source: str = "collecte"
    personnes: bool = False
    serie: str | None = None
    numerateur: str | None = None
    base: int | None = None
    jalon: str | None = None
    libelle_numerateur: str | None = None
    libelle_denominateur: str | None = None
    territoires: tuple[str, ...] = ()
    remarques: str | None = None
    origine: str = Origin.PLAN

    @property
    def quantitative(self) -> bool:
        return self.type in QUANTITATIVE_TYPES

    @property
    def collected(self) -> bool:
        """True when pilots report values for it (not computed, not "à déterminer")."""
        return self.source == "collecte" and self.type not in ("taux", "a_determiner")

    def collected_ids(self) -> list[str]:
        """Ids a collection file may use for this indicator: the id and its component rows."""
        if not self.collected:
            return []
        return [self.id] + [f"{self.id}.{c}" for c in COMPONENTS.get(self.type, ())]


@dataclass(frozen=True)
class Fiche:
    """One fiche of the plan (a ``fiches-*.yaml`` entry): identity, pilots, frequency, and its
    baselines (``etat_des_lieux``), targets (``cibles``), milestones (``jalons``) and indicators.
    ``fichier`` is the YAML file it comes from (for messages)."""

    id: str
    axe: str
    titre: str
    objectif: str
    nature: str
    pilotes: tuple[str, ...]
    pilote_court: str
    partenaires: tuple[str, ...]
    territoire: str
    frequence: Frequency
    delais: str = ""
    moyens: str = ""
    etat_des_lieux: tuple[Baseline, ...] = ()
    cibles: tuple[Target, ...] = ()
    jalons: tuple[Milestone, ...] = ()
    indicateurs: tuple[Indicator, ...] = ()
    liens: tuple[str, ...] = ()
    remarques: str | None = None
    fichier: str = ""

    @property
    def sort_key(self) -> tuple[int, ...]:
        return fiche_sort_key(self.id)


@dataclass(frozen=True)
class Axis:
    """One of the plan's axes (``axes:`` of ``plan.yaml``)."""

    id: str
    titre: str


@dataclass(frozen=True)
class Structure:
    """A named structure of ``plan.yaml`` (``structures:``) used as a territory code: a
    gendarmerie company, a police station (csp), a tribunal… ``libelle_etat4001`` is the service
    name in État 4001 (gendarmerie companies only)."""

    code: str
    libelle: str
    type: str
    arrondissement: str | None = None
    libelle_etat4001: str | None = None


@dataclass(frozen=True)
class PlanFigure:
    """A figure the plan itself quotes (its preface), e.g. 8 400 offences recorded in 2018;
    ``source`` names where the plan says it comes from; ``lecture`` as for baselines."""

    libelle: str
    valeur: float
    unite: str
    annee: int
    source: str = "plan cadre"
    lecture: str = Reading.EXACTE


@dataclass(frozen=True)
class Plan:
    """The plan itself (``plan:`` of ``plan.yaml``): its département, implementation years
    ``annee_debut``..``annee_fin`` and baseline year ``annee_reference``; ``facteur_plausibilite``
    the year-on-year change (×f or ÷f) beyond which ``check`` warns; ``alias_pilotes`` the current
    names of renamed pilot services as ``(alias, pilote_court)`` pairs (DDCS became DDETS in 2021)."""

    id: str
    titre: str
    departement: str
    annee_debut: int
    annee_fin: int
    annee_reference: int
    source: str = ""
    facteur_plausibilite: float = 3.0
    alias_pilotes: tuple[tuple[str, str], ...] = ()

    @property
    def years(self) -> list[int]:
        """Implementation years of the plan, e.g. [2019, 2020, 2021, 2022]."""
        return list(range(self.annee_debut, self.annee_fin + 1))

    @property
    def data_years(self) -> list[int]:
        """Years data may be reported for: baseline year to last plan year."""
        return list(range(self.annee_reference, self.annee_fin + 1))


@dataclass(frozen=True)
class Referential:
    """The whole plan as loaded and validated by :func:`load_referential`; ``folder`` and
    ``files`` say where it was read from."""

    plan: Plan
    axes: tuple[Axis, ...]
    structures: tuple[Structure, ...]
    fiches: tuple[Fiche, ...]
    folder: str = ""
    files: tuple[str, ...] = ()
    chiffres: tuple[PlanFigure, ...] = ()   # ``chiffres_plan`` of plan.yaml (the preface's figures)

    # --- look-ups -------------------------------------------------------------------------
    def fiche(self, fiche_id: str) -> Fiche:
        """The fiche with this id; a plain French error listing valid ids otherwise."""
        for f in self.fiches:
            if f.id == fiche_id:
                return f
        raise KeyError(
            f"Fiche inconnue : {fiche_id!r}. Fiches du plan : {', '.join(self.fiche_ids)}."
        )

    @property
    def fiche_ids(self) -> list[str]:
        return [f.id for f in self.fiches]

    def indicators(self) -> list[Indicator]:
        return [i for f in self.fiches for i in f.indicateurs]

    def indicator(self, indicator_id: str) -> Indicator:
        for i in self.indicators():
            if i.id == indicator_id:
                return i
        raise KeyError(f"Indicateur inconnu : {indicator_id!r}.")

    def milestones(self) -> list[Milestone]:
        return [m for f in self.fiches for m in f.jalons]

    def axis(self, axis_id: str) -> Axis:
        for a in self.axes:
            if a.id == axis_id:
                return a
        raise KeyError(f"Axe inconnu : {axis_id!r}.")

    def pilots(self) -> list[str]:
        """Short names of the pilot services, sorted."""
        return sorted({f.pilote_court for f in self.fiches})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; numbers stay numbers, dates become ISO strings."""
        return _jsonable(
            {
                "plan": asdict(self.plan),
                "axes": [asdict(a) for a in self.axes],
                "structures": [asdict(s) for s in self.structures],
                "fiches": [asdict(f) for f in self.fiches],
                "chiffres_plan": [asdict(c) for c in self.chiffres],
            }
        )

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)


def fiche_sort_key(fiche_id: str) -> tuple[int, ...]:
    """Natural order of ids: "2.9" < "2.10"."""
    return tuple(int(p) if p.isdigit() else 0 for p in str(fiche_id).split("."))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    return obj

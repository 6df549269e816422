"""The status rules the steering committee asks about, and their fixed French vocabularies.

- a quantified target (:func:`assess_target`): :class:`TargetStatus`;
- a milestone (:func:`assess_milestone`, reports read by :func:`parse_milestone_answer`):
  :class:`MilestoneStatus`;
- a fiche (:func:`decide_fiche_status` from :class:`FicheFacts`, rule :data:`FICHE_STATUS_RULE`):
  :class:`FicheStatus`; :func:`plan_summary` counts fiches per status by axe.

Pure functions: values in, statuses and French reasons out. Everything is evaluated at 31 December
of the evaluated year (:func:`evaluation_date`). The vocabularies are ``StrEnum``: their values are
the French words written in ``indicateurs.csv`` and shown on the pages.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pandas as pd

from . import formatting
from .referential import Referential, fiche_sort_key

NAN = float("nan")


class TargetStatus(StrEnum):
    """Status of a quantified target (``statut`` of the indicator table and of the targets)."""

    REACHED = "atteint"
    ON_TRACK = "en bonne voie"
    LATE = "en retard"
    NOT_ASSESSABLE = "non évaluable"
    NO_TARGET = "sans cible"


class MilestoneStatus(StrEnum):
    """Status of a milestone (``jalon``) at 31 December of the evaluated year."""

    DONE = "réalisé"
    DONE_LATE = "réalisé en retard"
    LATE = "en retard"
    UPCOMING = "à venir"


class FicheStatus(StrEnum):
    """Status of a fiche for the evaluated year (:data:`FICHE_STATUS_RULE`)."""

    IMPLEMENTED = "mise en œuvre"
    IN_PROGRESS = "en cours"
    LATE = "en retard"
    NOT_STARTED = "non démarrée"
    INSUFFICIENT_DATA = "données insuffisantes"


#: Statuses counted as "engagées" by the steering committee.
ENGAGED_STATUSES = (FicheStatus.IMPLEMENTED, FicheStatus.IN_PROGRESS, FicheStatus.LATE)
DONE_MILESTONE = (MilestoneStatus.DONE, MilestoneStatus.DONE_LATE)

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

YES = {"oui", "o", "yes", "x", "1", "vrai", "fait", "réalisé", "realise", "réalisée", "realisee"}
NO = {"non", "n", "no", "0", "faux", "non réalisé", "non realise"}


def evaluation_date(year: int) -> dt.date:
    """The date at which a year is evaluated: 31 December of that year."""
    return dt.date(int(year), 12, 31)


def is_missing(x: Any) -> bool:
    """True for None and NaN (a value not reported or not computable)."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def to_float(x: Any) -> float:
    """A float, NaN for missing/unreadable values (booleans are unreadable)."""
    if x is None or isinstance(x, bool):
        return NAN
    try:
        v = float(x)
    except (TypeError, ValueError):
        return NAN
    return v


# --- rules --------------------------------------------------------------------------------------------

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
      "en retard" (the level was to be kept). A target on the wrong side of its reference for the
      indicator's ``sens`` (a "hausse" target below the reference) is "non évaluable" without
      progression: "atteint" at a 72 % progression would contradict itself.
    Status and progression therefore agree: with a reference, "atteint" ⇔ progression ≥ 100 %.
    """
    value, target, baseline = to_float(value), to_float(target), to_float(baseline)
    if math.isnan(target):
        return TargetStatus.NOT_ASSESSABLE, NAN, NAN, "Cible sans valeur chiffrée."
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
        return TargetStatus.NOT_ASSESSABLE, progress, expected, f"Aucune valeur pour {year}."
    if not math.isnan(baseline) and (target < baseline if sens == "hausse" else target > baseline):
        way = "augmenter" if sens == "hausse" else "baisser"
        side = "en dessous de" if sens == "hausse" else "au-dessus de"
        return (TargetStatus.NOT_ASSESSABLE, NAN, expected,
                f"La cible ({formatting.format_number(target)}) est {side} la référence "
                f"({formatting.format_number(baseline)}) alors que l'indicateur doit {way} : "
                "cible, référence ou sens à vérifier (statut et progression ne peuvent s'accorder).")
    eps = 1e-9 * max(1.0, abs(target))
    reached = value >= target - eps if sens == "hausse" else value <= target + eps
    if reached:
        return TargetStatus.REACHED, progress, expected, "Cible atteinte."
    if deadline is not None and eval_date >= deadline:
        return TargetStatus.LATE, progress, expected, "Échéance passée sans que la cible soit atteinte."
    if math.isnan(baseline):
        return TargetStatus.NOT_ASSESSABLE, progress, expected, "Pas de valeur de référence : progression non mesurable."
    if target == baseline:
        return TargetStatus.LATE, progress, expected, "Le niveau de référence (égal à la cible) n'est pas maintenu."
    if math.isnan(expected):
        return TargetStatus.NOT_ASSESSABLE, progress, expected, "Échéance ou date de référence inconnue."
    if progress >= expected - 1e-9:
        return TargetStatus.ON_TRACK, progress, expected, "Progression au moins égale à la trajectoire linéaire."
    return TargetStatus.LATE, progress, expected, "Progression inférieure à la trajectoire linéaire."


def parse_milestone_answer(texte: Any, valeur: Any, year: int) -> tuple[bool | None, dt.date | None]:
    """Read a milestone report: (done?, date of realisation).

    ``"oui"`` -> done by 31 December of the reported ``year``; ``"non"`` -> not done; a date
    (``AAAA-MM-JJ`` or ``JJ/MM/AAAA``) -> done on that date; an empty text with ``valeur`` 1 / 0 ->
    oui / non. Anything else -> (None, None), ignored (``collection`` reports it).
    """
    text = "" if texte is None or (isinstance(texte, float) and math.isnan(texte)) else str(texte)
    text = text.strip().lower()
    if not text:
        v = to_float(valeur)
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
        return MilestoneStatus.DONE if realised <= deadline else MilestoneStatus.DONE_LATE
    return MilestoneStatus.LATE if deadline <= evaluation_date(year) else MilestoneStatus.UPCOMING


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
    late_ms = [m for m in facts.milestones if m[1] == MilestoneStatus.LATE]
    done_ms = [m for m in facts.milestones if m[1] in DONE_MILESTONE]
    due_ms = [m for m in facts.milestones if m[2] <= eval_date]
    late_targets = [t for t in facts.targets if t[1] == TargetStatus.LATE]
    for m in late_ms:
        reasons.append(f"Jalon {m[0]} en retard (échéance : {formatting.format_date(m[2])}).")
    for t in late_targets:
        reasons.append(f"Cible « {t[0]} » en retard.")
    if facts.milestones:
        reasons.append(f"{len(done_ms)} jalon(s) réalisé(s) sur {len(facts.milestones)} "
                       f"({len(due_ms)} échu(s)).")
    if facts.targets:
        reached = sum(1 for t in facts.targets if t[1] == TargetStatus.REACHED)
        reasons.append(f"{reached} cible(s) atteinte(s) sur {len(facts.targets)}.")

    if facts.expected and facts.reported * 2 < facts.expected:
        return FicheStatus.INSUFFICIENT_DATA, ["Moins de la moitié des valeurs attendues ont été "
                                         "déclarées."] + reasons
    if late_ms or late_targets:
        return FicheStatus.LATE, reasons
    if not facts.quantitative and not facts.milestones and not facts.targets:
        if facts.comments:
            return FicheStatus.IN_PROGRESS, reasons + ["Fiche sans indicateur chiffré déclaré par les pilotes : "
                                          "un commentaire a été déclaré pour l'année."]
        return FicheStatus.INSUFFICIENT_DATA, reasons + ["Fiche sans indicateur chiffré déclaré par les "
                                                   "pilotes et aucun commentaire déclaré pour "
                                                   "l'année."]
    nothing_done = (not done_ms and all(is_missing(v) or v == 0 for v in facts.values)
                    and not facts.texts)
    if nothing_done:
        return FicheStatus.NOT_STARTED, reasons + ["Aucun jalon réalisé et aucune valeur non nulle "
                                          "déclarée pour l'année."]
    if facts.targets or due_ms:
        if all(m[1] in DONE_MILESTONE for m in due_ms) and all(t[1] == TargetStatus.REACHED for t in facts.targets):
            return FicheStatus.IMPLEMENTED, reasons + ["Tous les jalons échus sont réalisés et toutes les "
                                               "cibles sont atteintes."]
    elif not facts.milestones and facts.expected and facts.reported >= facts.expected:
        return FicheStatus.IMPLEMENTED, reasons + ["Fiche sans cible ni jalon : toutes les valeurs "
                                           "attendues ont été déclarées."]
    return FicheStatus.IN_PROGRESS, reasons


def plan_summary(statuses: pd.DataFrame, referential: Referential) -> pd.DataFrame:
    """Fiches per status by axe and for the whole plan (last row, ``axe = "Ensemble"``).

    ``statuses`` has columns ``fiche`` and ``statut`` (e.g. :meth:`plancadre_eval.engine.Engine.statuses`). Columns:
    ``axe, titre, fiches`` (fiches evaluated), ``non évaluées`` (fiches of the axe absent from
    ``statuses``), one count per status, ``part <statut> (%)`` (share of the fiches evaluated),
    ``mises en œuvre`` (status "mise en œuvre") and ``engagées`` (mise en œuvre + en cours + en
    retard) with their shares in %.
    """
    missing = {"fiche", "statut"} - set(statuses.columns)
    if missing:
        raise ValueError(f"Synthèse du plan : colonnes manquantes : {', '.join(sorted(missing))}.")
    unknown = sorted(set(statuses["statut"]) - set(FicheStatus))
    if unknown:
        raise ValueError(f"Synthèse du plan : statut(s) inconnu(s) {', '.join(unknown)} ; statuts "
                         f"admis : {', '.join(FicheStatus)}.")
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
        for s in FicheStatus:
            row[s.value] = sum(1 for e in evaluated if e == s)
        for s in FicheStatus:
            row[f"part {s.value} (%)"] = row[s.value] / n * 100 if n else NAN
        row["mises en œuvre"] = row[FicheStatus.IMPLEMENTED.value]
        row["part mises en œuvre (%)"] = row["mises en œuvre"] / n * 100 if n else NAN
        row["engagées"] = sum(row[s.value] for s in ENGAGED_STATUSES)
        row["part engagées (%)"] = row["engagées"] / n * 100 if n else NAN
        return row

    rows = [line(a.id, a.titre, [f.id for f in referential.fiches if f.axe == a.id])
            for a in referential.axes]
    rows.append(line("Ensemble", "Ensemble du plan", [f.id for f in referential.fiches]))
    return pd.DataFrame(rows)

"""What changed from one evaluated year to the next, and what needs the committee's attention.

Pure functions, tables in, tables out (the tables of :class:`plancadre_eval.engine.Engine`):

- :func:`months_late`: how many whole months a milestone is late at 31 December of a year;
- :func:`status_changes`: each fiche's status of the previous year beside this year's;
- :func:`milestone_changes`: milestones newly done or newly late since the previous year;
- :func:`target_changes`: targets newly reached since the previous year;
- :func:`largest_changes`: the largest one-year changes of the département's indicators;
- :func:`targets_due_behind`: targets due within a year whose progression is behind;
- :func:`partial_data`: the fiches whose data are missing or partial, by pilot.

Every statement of the fiche pages' "Depuis l'année précédente" and of the synthesis' "Faits
marquants" and "Points d'attention" comes from these functions; none is written by hand.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .referential import QUANTITATIVE_TYPES, fiche_sort_key
from .statuses import (
    DONE_MILESTONE, MilestoneStatus, TargetStatus, evaluation_date, is_missing,
)

STATUS_CHANGE_COLUMNS = ("fiche", "statut_avant", "statut", "change")
MILESTONE_CHANGE_COLUMNS = ("fiche", "jalon", "libelle", "echeance", "statut_avant", "statut",
                            "nature", "mois_retard")
TARGET_CHANGE_COLUMNS = ("fiche", "cible", "indicateur", "territoire", "valeur_cible", "valeur",
                         "statut_avant", "statut")
INDICATOR_CHANGE_COLUMNS = ("fiche", "indicateur", "libelle", "type", "unite", "valeur_n_1",
                            "valeur", "evolution", "evolution_pct")
DUE_TARGET_COLUMNS = ("fiche", "cible", "indicateur", "territoire", "echeance", "valeur",
                      "valeur_cible", "progression_pct", "progression_attendue_pct")
PARTIAL_COLUMNS = ("pilote", "fiche", "attendues", "declarees", "manquantes", "taux_pct")

#: ``nature`` of a milestone change.
NEWLY_DONE = "nouvellement réalisé"
NEWLY_LATE = "nouvellement en retard"


def months_late(deadline: dt.date, year: int) -> int:
    """Whole months from ``deadline`` to 31 December of ``year`` (0 if not passed).

    A milestone due on 31 October 2021 and still not done at 31 December 2022 is 14 months late.
    """
    end = evaluation_date(year)
    if deadline >= end:
        return 0
    months = (end.year - deadline.year) * 12 + (end.month - deadline.month)
    if end.day < deadline.day:
        months -= 1
    return max(months, 0)


def status_changes(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Each fiche of ``current`` with its status in ``previous`` (both: columns ``fiche``,
    ``statut``, e.g. :meth:`Engine.statuses` of two years). ``statut_avant`` is "" when the fiche
    is absent from ``previous``; ``change`` is True when both statuses are known and differ."""
    before = dict(zip(previous["fiche"], previous["statut"]))
    rows = []
    for fid, status in zip(current["fiche"], current["statut"]):
        prev = str(before.get(fid, ""))
        rows.append({"fiche": fid, "statut_avant": prev, "statut": str(status),
                     "change": bool(prev) and prev != str(status)})
    return pd.DataFrame(rows, columns=list(STATUS_CHANGE_COLUMNS))


def milestone_changes(previous: pd.DataFrame, current: pd.DataFrame, year: int) -> pd.DataFrame:
    """Milestones newly done or newly late at 31 December of ``year`` compared with the year before.

    ``previous`` and ``current`` are :meth:`Engine.milestones` tables of ``year - 1`` and ``year``.
    ``nature``: :data:`NEWLY_DONE` (done now, not done a year earlier) or :data:`NEWLY_LATE` ("en
    retard" now, not a year earlier); ``mois_retard``: whole months late (:func:`months_late`) for
    a late milestone, 0 otherwise.
    """
    before = {r["jalon"]: str(r["statut"]) for _, r in previous.iterrows()}
    rows = []
    for _, r in current.iterrows():
        prev, now = before.get(r["jalon"], ""), str(r["statut"])
        nature = ""
        if now in DONE_MILESTONE and prev not in DONE_MILESTONE:
            nature = NEWLY_DONE
        elif now == MilestoneStatus.LATE and prev != MilestoneStatus.LATE:
            nature = NEWLY_LATE
        if nature:
            late = months_late(r["echeance"], year) if now == MilestoneStatus.LATE else 0
            rows.append({"fiche": r["fiche"], "jalon": r["jalon"], "libelle": r["libelle"],
                         "echeance": r["echeance"], "statut_avant": prev, "statut": now,
                         "nature": nature, "mois_retard": late})
    return pd.DataFrame(rows, columns=list(MILESTONE_CHANGE_COLUMNS))


def target_changes(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Targets "atteint" in ``current`` and not in ``previous`` (:meth:`Engine.targets` tables of
    two years, matched on fiche, target label and territory)."""
    key = ("fiche", "cible", "territoire")
    before = {tuple(r[k] for k in key): str(r["statut"]) for _, r in previous.iterrows()}
    rows = []
    for _, r in current.iterrows():
        prev = before.get(tuple(r[k] for k in key), "")
        if str(r["statut"]) == TargetStatus.REACHED and prev != TargetStatus.REACHED:
            rows.append({"fiche": r["fiche"], "cible": r["cible"], "indicateur": r["indicateur"],
                         "territoire": r["territoire"], "valeur_cible": r["valeur_cible"],
                         "valeur": r["valeur"], "statut_avant": prev, "statut": str(r["statut"])})
    return pd.DataFrame(rows, columns=list(TARGET_CHANGE_COLUMNS))


def largest_changes(table: pd.DataFrame, departement: str, n: int = 5) -> pd.DataFrame:
    """The ``n`` largest one-year changes of the département's quantitative indicators.

    ``table`` is :meth:`Engine.table` of a year (secrecy applied: secret rows are left out). Ranked
    by the absolute relative change ``|evolution_pct|`` (%, from a non-zero previous value), ties by
    fiche and indicator; percentages (changes in points) are ranked by ``|evolution|`` points read
    as percent. Rows without a previous value are left out.
    """
    t = table[(table["territoire"] == departement) & (table["diffusion"] != "secret")]
    t = t[t["type"].isin(list(QUANTITATIVE_TYPES))]
    t = t[t["valeur_n_1"].notna() & t["valeur"].notna() & t["evolution"].notna()]
    if t.empty:
        return pd.DataFrame(columns=list(INDICATOR_CHANGE_COLUMNS))
    size = [abs(e) if ty == "pourcentage" else (abs(p) if not is_missing(p) else -1.0)
            for e, p, ty in zip(t["evolution"], t["evolution_pct"], t["type"])]
    t = t.assign(_size=size)
    t = t[(t["_size"] > 0)]
    t = t.assign(_k=[fiche_sort_key(i) for i in t["indicateur"]])
    t = t.sort_values(["_size", "_k"], ascending=[False, True], kind="mergesort").head(n)
    return t[list(INDICATOR_CHANGE_COLUMNS)].reset_index(drop=True)


def targets_due_behind(targets: pd.DataFrame, year: int) -> pd.DataFrame:
    """Targets whose deadline falls within the year after ``year`` (after 31 December of ``year``,
    at the latest 31 December of ``year + 1``) and whose status is "en retard" (progression below
    the straight line from the reference to the target). ``targets``: :meth:`Engine.targets`."""
    start, end = evaluation_date(year), evaluation_date(year + 1)
    keep = [(d is not None and start < d <= end and str(s) == TargetStatus.LATE)
            for d, s in zip(targets["echeance"], targets["statut"])]
    out = targets[keep]
    return out[list(DUE_TARGET_COLUMNS)].reset_index(drop=True)


def partial_data(completeness: pd.DataFrame) -> pd.DataFrame:
    """Fiches with at least one expected value missing, by pilot (:meth:`Engine.completeness`).

    ``taux_pct`` = declared / expected × 100. Sorted by pilot, then by the least complete fiche.
    """
    if completeness.empty:
        return pd.DataFrame(columns=list(PARTIAL_COLUMNS))
    g = completeness.groupby(["pilote", "fiche"], sort=False)["declare"]
    out = pd.DataFrame({"attendues": g.size(), "declarees": g.sum().astype(int)}).reset_index()
    out["manquantes"] = out["attendues"] - out["declarees"]
    out["taux_pct"] = out["declarees"] / out["attendues"] * 100
    out = out[out["manquantes"] > 0]
    out = out.assign(_k=[fiche_sort_key(f) for f in out["fiche"]])
    out = out.sort_values(["pilote", "taux_pct", "_k"], kind="mergesort")
    return out[list(PARTIAL_COLUMNS)].reset_index(drop=True)


"""The bilan of the plan over several years (``notebooks/bilan_plan.ipynb``): pure computations.

- :func:`check_period`: the first and last year of the bilan, within the plan; :func:`parse_years`;
- :func:`status_grid`: statuses fiche × year;
- :func:`targets_at_deadline`: every target read at its deadline (or at the last year of the bilan
  when the deadline is later): reference, final value, target, reached or not;
- :func:`milestone_outcomes`: milestones done on time, done late, not done, not yet due;
- :func:`axis_facts`: what the paragraph of an axe says (counts only).

The share of fiches implemented at the end is :func:`plancadre_eval.statuses.plan_summary` of the
last year's statuses: the same counts as that year's synthesis.
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping

import pandas as pd

from .referential import Referential, coerce_year, fiche_sort_key
from .statuses import ENGAGED_STATUSES, FicheStatus, MilestoneStatus, TargetStatus

TARGET_COLUMNS = ("fiche", "cible", "indicateur", "territoire", "echeance", "annee_lue",
                  "reference", "valeur", "valeur_cible", "resultat")
#: ``resultat`` of a target read at its deadline.
REACHED = "atteinte"
NOT_REACHED = "non atteinte"
NOT_ASSESSABLE = "non évaluable"
NOT_DUE = "échéance postérieure"

#: Milestone outcomes at the end of the bilan, from the milestone status.
MILESTONE_OUTCOMES = {
    MilestoneStatus.DONE: "réalisés à l'échéance",
    MilestoneStatus.DONE_LATE: "réalisés en retard",
    MilestoneStatus.LATE: "non réalisés à l'échéance",
    MilestoneStatus.UPCOMING: "échéance postérieure",
}


def check_period(first_year, last_year, referential: Referential) -> tuple[int, int]:
    """``(first, last)`` as ints, both plan years and ``first <= last``; French ValueError else."""
    years = list(referential.plan.years)
    valid = ", ".join(map(str, years))
    out = []
    for name, value in (("first_year", first_year), ("last_year", last_year)):
        try:
            y = coerce_year(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} {value!r} n'est pas une année. Années du plan : {valid}.") from None
        if y not in years:
            raise ValueError(f"{name} {y} est hors du plan. Années du plan : {valid}.")
        out.append(y)
    if out[0] > out[1]:
        raise ValueError(f"Période du bilan {out[0]}-{out[1]} : la première année doit précéder "
                         "la dernière.")
    return out[0], out[1]


def parse_years(text, referential: Referential) -> list[int]:
    """Years written "2019,2020" (spaces allowed, "" for none), each a plan year; ValueError else."""
    out = []
    for part in str(text or "").split(","):
        if part.strip():
            y, _ = check_period(part.strip(), part.strip(), referential)
            out.append(y)
    return sorted(set(out))


def status_grid(statuses: pd.DataFrame, referential: Referential) -> pd.DataFrame:
    """Statuses fiche × year: ``statuses`` has ``fiche``, ``annee``, ``statut`` (one row per fiche
    and year); the result has ``fiche``, ``axe``, ``titre``, ``pilote`` then one column per year
    (str of the year) holding the status ("" when the fiche has no status that year), fiches in the
    referential's order."""
    years = sorted({int(y) for y in statuses["annee"]})
    by = {(f, int(y)): str(s) for f, y, s in zip(statuses["fiche"], statuses["annee"], statuses["statut"])}
    rows = []
    for f in referential.fiches:
        row = {"fiche": f.id, "axe": f.axe, "titre": f.titre, "pilote": f.pilote_court}
        for y in years:
            row[str(y)] = by.get((f.id, y), "")
        rows.append(row)
    return pd.DataFrame(rows, columns=["fiche", "axe", "titre", "pilote"] + [str(y) for y in years])


def targets_at_deadline(targets_by_year: Mapping[int, pd.DataFrame], first: int, last: int
                        ) -> pd.DataFrame:
    """Every target read at its deadline: the :meth:`Engine.targets` table of the deadline's year
    (``annee_lue``), or of ``last`` when the deadline is later (``resultat`` :data:`NOT_DUE`), or of
    ``first`` when it is earlier. ``resultat``: :data:`REACHED` when the status is "atteint",
    :data:`NOT_ASSESSABLE` without a value, else :data:`NOT_REACHED`. Values in the target's unit."""
    last_table = targets_by_year[last]
    rows = []
    for _, t in last_table.iterrows():
        deadline = t["echeance"]
        year = last if deadline is None else min(max(deadline.year, first), last)
        table = targets_by_year[year]
        match = table[(table["fiche"] == t["fiche"]) & (table["cible"] == t["cible"])
                      & (table["territoire"] == t["territoire"])]
        r = match.iloc[0] if not match.empty else t
        status = str(r["statut"])
        if deadline is not None and deadline > dt.date(last, 12, 31):
            result = NOT_DUE
        elif status == TargetStatus.REACHED:
            result = REACHED
        elif status == TargetStatus.NOT_ASSESSABLE or pd.isna(r["valeur"]):
            result = NOT_ASSESSABLE
        else:
            result = NOT_REACHED
        rows.append({"fiche": t["fiche"], "cible": t["cible"], "indicateur": t["indicateur"],
                     "territoire": t["territoire"], "echeance": deadline, "annee_lue": year,
                     "reference": r["reference"], "valeur": r["valeur"],
                     "valeur_cible": r["valeur_cible"], "resultat": result})
    out = pd.DataFrame(rows, columns=list(TARGET_COLUMNS))
    if not out.empty:
        out = out.assign(_k=[fiche_sort_key(f) for f in out["fiche"]])
        out = out.sort_values("_k", kind="mergesort").drop(columns="_k").reset_index(drop=True)
    return out


def milestone_outcomes(milestones: pd.DataFrame) -> pd.DataFrame:
    """Counts of milestones by outcome at the end of the bilan (:meth:`Engine.milestones` of the
    last year): ``resultat`` (:data:`MILESTONE_OUTCOMES`), ``jalons``, ``part_pct`` (share of all
    milestones, %)."""
    n = len(milestones)
    counts = milestones["statut"].astype(str).value_counts() if n else pd.Series(dtype=int)
    rows = [{"resultat": label, "jalons": int(counts.get(str(s), 0)),
             "part_pct": (int(counts.get(str(s), 0)) / n * 100) if n else float("nan")}
            for s, label in MILESTONE_OUTCOMES.items()]
    return pd.DataFrame(rows, columns=["resultat", "jalons", "part_pct"])


def axis_facts(summary: pd.DataFrame, grid: pd.DataFrame, targets: pd.DataFrame, axe: str,
               first: int, last: int) -> dict[str, int]:
    """What the paragraph of one axe states, as counts: ``fiches``, ``mises_en_oeuvre`` and
    ``engagees`` in ``last`` (from :func:`plan_summary` rows), ``progressions`` (fiches whose status
    went from "non démarrée" or "données insuffisantes" in ``first`` to an engaged status in
    ``last``), ``retard`` (fiches "en retard" in ``last``), ``cibles`` and ``cibles_atteintes``
    (targets of the axe due within the bilan, and reached)."""
    row = summary[summary["axe"] == axe].iloc[0]
    g = grid[grid["axe"] == axe]
    engaged = {str(s) for s in ENGAGED_STATUSES}
    start = {str(FicheStatus.NOT_STARTED), str(FicheStatus.INSUFFICIENT_DATA)}
    progress = sum(1 for a, b in zip(g.get(str(first), []), g.get(str(last), []))
                   if a in start and b in engaged) if first != last else 0
    fiches = set(g["fiche"])
    t = targets[targets["fiche"].isin(fiches) & (targets["resultat"] != NOT_DUE)]
    return {"fiches": int(row["fiches"]), "mises_en_oeuvre": int(row["mises en œuvre"]),
            "engagees": int(row["engagées"]), "progressions": int(progress),
            "retard": int(row[str(FicheStatus.LATE)]), "cibles": int(len(t)),
            "cibles_atteintes": int((t["resultat"] == REACHED).sum())}

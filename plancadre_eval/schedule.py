"""Which fiches are due for evaluation in a year, from their frequency (``frequence`` in the YAML).

Rules for a plan running from ``annee_debut`` to ``annee_fin`` (2019-2022 for the shipped plan).
``debut``/``fin`` of the frequency narrow the window ``[debut, fin]`` (default: the plan's years);
``annees`` (explicit list) overrides everything. Only years of the plan are ever returned.

==========================  ==========================================================  ==============
code                        years                                                       2019-2022
==========================  ==========================================================  ==============
annuelle                    every year of the window                                    2019-2022
continue                    every year of the window (annual review of ongoing follow-up)  2019-2022
point_etape_annuel          every year of the window (annual check until implemented)   2019-2022
non_precisee                every year of the window (the plan sets no frequency)       2019-2022
semestrielle                every year of the window (= of the experimentation)         2019-2022
triennale                   ``debut``, ``debut + 3``, … up to ``fin``                    2019, 2022
intermediaire_et_finale     mid-term ``debut + (fin - debut) // 2`` and ``fin``          2020, 2022
annuelle_apres_2e_annee     every year from the end of the 2nd year: ``debut + 1`` … ``fin``  2020-2022
==========================  ==========================================================  ==============
"""

from __future__ import annotations

from .referential import FREQUENCY_CODES, Fiche, Plan, Referential, coerce_year

EVERY_YEAR = ("annuelle", "continue", "point_etape_annuel", "non_precisee", "semestrielle")


def check_plan_year(year, plan: Plan) -> int:
    """``year`` as an int if it is a year of the plan; a French ValueError otherwise."""
    valid = ", ".join(str(y) for y in plan.years)
    try:
        value = coerce_year(year)
    except ValueError:
        raise ValueError(f"L'année {year!r} n'est pas une année. Années du plan : {valid}.") from None
    if value not in plan.years:
        raise ValueError(f"L'année {value} est hors du plan ({plan.annee_debut}-{plan.annee_fin}). "
                         f"Années du plan : {valid}.")
    return value


def due_years(fiche: Fiche, plan: Plan) -> list[int]:
    """Years of the plan in which ``fiche`` is evaluated, sorted (see the module table)."""
    freq = fiche.frequence
    years = plan.years
    if freq.annees:
        return sorted({int(y) for y in freq.annees} & set(years))
    start = int(freq.debut) if freq.debut is not None else plan.annee_debut
    end = int(freq.fin) if freq.fin is not None else plan.annee_fin
    if start > end:
        raise ValueError(f"Fiche {fiche.id} : la fréquence commence en {start} après sa fin ({end}).")
    if freq.code in EVERY_YEAR:
        wanted = range(start, end + 1)
    elif freq.code == "triennale":
        wanted = range(start, end + 1, 3)
    elif freq.code == "intermediaire_et_finale":
        wanted = (start + (end - start) // 2, end)
    elif freq.code == "annuelle_apres_2e_annee":
        wanted = range(start + 1, end + 1)
    else:
        raise ValueError(f"Fiche {fiche.id} : code de fréquence {freq.code!r} inconnu ; codes admis : "
                         f"{', '.join(FREQUENCY_CODES)}.")
    return sorted(set(wanted) & set(years))


def is_due(fiche: Fiche, year: int, plan: Plan) -> bool:
    """True when ``fiche`` is evaluated in ``year``; a year outside the plan raises a ValueError."""
    return check_plan_year(year, plan) in due_years(fiche, plan)


def due_fiches(referential: Referential, year: int) -> list[str]:
    """Ids of the fiches evaluated in ``year``, in the plan's order ("2.9" before "2.10")."""
    year = check_plan_year(year, referential.plan)
    return [f.id for f in referential.fiches if year in due_years(f, referential.plan)]

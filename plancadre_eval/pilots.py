"""Pilot services: the names users type (``--pilote DDETS``) resolved to the plan's short names,
and the fiches each pilot owes in a year.

The plan names each fiche's pilot (``pilote_court``); services renamed since keep their plan name
in the referential and their new names in ``plan.alias_pilotes`` (the DDCS became the DDETS in
2021). Pure functions of the referential.
"""

from __future__ import annotations

from .referential import Fiche, Referential, suggest
from .schedule import is_due
from .spreadsheets import _fold


def pilot_named(referential: Referential, name: str) -> str | None:
    """The plan's ``pilote_court`` a user means by ``name`` (case and accents ignored, aliases of
    ``plan.alias_pilotes`` followed: "ddets" -> "DDCS"), or None."""
    wanted = _fold(name)
    for alias, pilot in referential.plan.alias_pilotes:
        if _fold(alias) == wanted:
            wanted = _fold(pilot)
    return next((p for p in referential.pilots() if _fold(p) == wanted), None)


def pilot_label(referential: Referential, pilot: str) -> str:
    """A pilot's short name with its current names: "DDCS (aujourd'hui DDETS)"."""
    now = [alias for alias, p in referential.plan.alias_pilotes if p == pilot]
    return f"{pilot} (aujourd'hui {' / '.join(now)})" if now else pilot


def unknown_pilot_message(referential: Referential, name: str) -> str:
    """The French error for a pilot name that is neither a plan name nor an alias."""
    known = referential.pilots() + [alias for alias, _ in referential.plan.alias_pilotes]
    near = suggest(name, known)
    hint = f" Vouliez-vous dire '{near}' ?" if near else ""
    aliases = "".join(f", {a} (= {p})" for a, p in referential.plan.alias_pilotes)
    return (f"Service pilote '{name}' inconnu ; services pilotes du référentiel : "
            f"{', '.join(referential.pilots())}{aliases}.{hint}")


def fiches_due(referential: Referential, year: int, pilot: str | None = None) -> list[Fiche]:
    """Fiches due in ``year`` (:func:`schedule.is_due`), of ``pilot`` (a ``pilote_court``) only
    when given, in the plan's order."""
    return [f for f in referential.fiches if is_due(f, year, referential.plan)
            and (pilot is None or f.pilote_court == pilot)]

"""Seeded generator of the demonstration collection files (``data/demo/``).

Partner data does not exist publicly, so the project ships *clearly labelled* demonstration data:
one collection file per fiche (``fiche-<id>.csv``, French-Excel style: ``;`` separator, decimal
comma, UTF-8), covering 2018-2022 for every collected indicator of the referential at the
territorial level it is collected at. Values are plausible for Pas-de-Calais and anchored on the
plan's baselines and targets; a few fiches are deliberately late, incomplete or not started so that
the reports show every status. Every row's ``source`` says "données de démonstration" and the folder
holds a ``DEMONSTRATION`` marker file that every report turns into a visible notice.

Regenerate with ``plancadre-eval demo`` (same seed, same bytes).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from . import paths
from .referential import Fiche, Indicator, Referential, load_referential
from .territories import Level, indicator_codes

MARKER = paths.DEMO_MARKER
DEMO_SOURCE = "données de démonstration (fictives)"
ARRONDISSEMENTS = ("621", "622", "623", "624", "625", "626", "627")
#: Weights for splitting a département figure over arrondissements (≈ legal population shares).
ARRONDISSEMENT_WEIGHTS = {
    "621": 0.17, "622": 0.20, "623": 0.11, "624": 0.08, "625": 0.09, "626": 0.11, "627": 0.24,
}
YEARS = (2018, 2019, 2020, 2021, 2022)

#: Scenario per fiche, so that the reports show every status. Others follow "nominal".
#: - "retard": targets lag behind a straight line, milestones done late or not done;
#: - "lacunaire": most values of the last two years missing (données insuffisantes);
#: - "non_demarree": nothing happens before 2022 (zeros, milestones not done);
#: - "avance": targets reached early.
SCENARIOS = {
    "1.3": "retard",
    "2.10": "retard",
    "2.13": "non_demarree",
    "2.17": "retard",
    "3.3": "lacunaire",
    "4.7": "non_demarree",
    "2.16": "non_demarree",
    "4.9": "lacunaire",
    "2.5": "avance",
    "3.1": "avance",
}

#: Anchors (département values by year) for a few indicators the plan quantifies precisely.
#: Keyed by indicator label fragments so that they survive id renumbering.
ANCHORS = {
    "accueils de jour": {2018: 5, 2019: 5, 2020: 6, 2021: 6, 2022: 7},
    "terminaux déployés": {2018: 10, 2019: 12, 2020: 14, 2021: 16, 2022: 18},
    "terminaux attribués": {2018: 5, 2019: 7, 2020: 10, 2021: 12, 2022: 15},
}


#: Per-arrondissement anchors: the plan says 5 accueils de jour in 2019 (Calais, Boulogne-sur-Mer,
#: Montreuil, Lens, Béthune), one created in Arras at the end of 2019, Saint-Omer a priority.
TERRITORIAL_ANCHORS = {
    "accueils de jour": {
        2018: ("622", "623", "624", "626", "627"),
        2019: ("621", "622", "623", "624", "626", "627"),
        2020: ("621", "622", "623", "624", "626", "627"),
        2021: ARRONDISSEMENTS,
        2022: ARRONDISSEMENTS,
    },
}


is_demo_data = paths.is_demo_data  # True when a folder holds demonstration data


def _fmt(value: float) -> str:
    """French-Excel number: decimal comma, no thousands separator in files."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")


def _territories(ind: Indicator, ref: Referential) -> list[str]:
    """Codes the demo reports for ``ind``: :func:`territories.indicator_codes`, except that the
    demo writes EPCI and commune indicators naming no territory at the département level."""
    if ind.territoires or ind.niveau in (Level.DEPARTEMENT, Level.STRUCTURE,
                                         Level.COMPAGNIE_GENDARMERIE):
        return indicator_codes(ind, ref)
    if ind.niveau == Level.ARRONDISSEMENT:
        return list(ARRONDISSEMENTS)
    return [ref.plan.departement]


def _baseline(ind: Indicator, fiche: Fiche) -> float | None:
    for b in fiche.etat_des_lieux:
        if b.indicateur == ind.id and b.territoire == "62" and not math.isnan(b.valeur):
            return float(b.valeur)
    return None


def _target(ind: Indicator, fiche: Fiche):
    for t in fiche.cibles:
        if t.indicateur == ind.id and t.territoire == "62" and not math.isnan(t.valeur):
            return t
    return None


def _anchor(ind: Indicator) -> dict[int, float] | None:
    label = ind.libelle.lower()
    for fragment, values in ANCHORS.items():
        if fragment in label:
            return values
    return None


def _trajectory(ind: Indicator, fiche: Fiche, scenario: str, rng: np.random.Generator) -> dict[int, float]:
    """Département values 2018-2022 for a quantitative indicator."""
    anchor = _anchor(ind)
    if anchor and scenario != "non_demarree":
        return dict(anchor)
    base = _baseline(ind, fiche)
    target = _target(ind, fiche)
    if ind.type == "pourcentage":
        start = base if base is not None else float(rng.integers(20, 60))
        goal = target.valeur if target else min(95.0, start + 15)
    elif ind.type == "duree":
        start = base if base is not None else float(rng.integers(20, 120))
        goal = target.valeur if target else start * 0.9
    else:
        magnitude = 10 ** rng.uniform(1.3, 2.8) if not ind.personnes else 10 ** rng.uniform(1.6, 3.0)
        start = base if base is not None else float(round(magnitude))
        goal = target.valeur if target else start * rng.uniform(1.05, 1.4)
    if target and base is None:
        # No baseline: start on the far side of the target in the indicator's direction, so that
        # the target is reached only when the value gets there (never "reached" by falling to it).
        if ind.sens == "baisse":
            start = goal * rng.uniform(1.25, 1.8)
            if round(start) <= goal:  # small targets: rounding must not reach them
                start = math.floor(goal) + 1.0
        else:
            start = goal * rng.uniform(0.4, 0.8)
            if round(start) >= goal:
                start = max(0.0, math.ceil(goal) - 1.0)
    bound = _bound(ind)
    years = {}
    for k, year in enumerate(YEARS):
        frac = k / (len(YEARS) - 1)
        if scenario == "retard":
            frac *= 0.45
        elif scenario == "avance":
            frac = min(1.0, frac * 1.6)
        value = start + (goal - start) * frac
        if ind.type not in ("pourcentage",) and k > 0:
            value *= rng.normal(1.0, 0.04)
        if scenario == "non_demarree" and year < 2022:
            value = 0.0
        years[year] = min(max(value, 0.0), bound)
    return years


def _bound(ind: Indicator) -> float:
    """Natural upper bound of an indicator's département value: 100 for a percentage, the number
    of arrondissements for a count of arrondissements, none otherwise."""
    if ind.type == "pourcentage":
        return 100.0
    if (ind.unite or "").lower().startswith("arrondissement"):
        return float(len(ARRONDISSEMENTS))
    return math.inf


def _round(ind: Indicator, value: float) -> float:
    if ind.unite and "etp" in ind.unite.lower():
        return round(value * 4) / 4  # quarter posts
    if ind.type in ("duree", "pourcentage"):
        return round(value, 1)
    return float(max(0, round(value)))


def _split(total: float, codes: list[str], rng: np.random.Generator) -> dict[str, float]:
    """Split an integer total over territories (≈ population weights, with noise)."""
    weights = np.array([ARRONDISSEMENT_WEIGHTS.get(c, 1.0) for c in codes], dtype=float)
    weights = weights * rng.uniform(0.6, 1.4, size=len(codes))
    weights /= weights.sum()
    raw = weights * total
    parts = np.floor(raw)
    remainder = int(round(total - parts.sum()))
    for i in np.argsort(-(raw - parts))[:max(0, remainder)]:
        parts[i] += 1
    return {c: float(p) for c, p in zip(codes, parts)}


def _rows_for_fiche(fiche: Fiche, ref: Referential, rng: np.random.Generator) -> list[list[str]]:
    scenario = SCENARIOS.get(fiche.id, "nominal")
    rows: list[list[str]] = []

    def add(ind_id: str, year: int, terr: str, value: str, comment: str = "") -> None:
        rows.append([fiche.id, ind_id, str(year), terr, value, DEMO_SOURCE, comment])

    for ind in fiche.indicateurs:
        if not ind.collected or ind.type in ("jalon",):
            continue
        if ind.type in ("qualitatif", "date"):
            for year in YEARS[1:]:
                if scenario == "lacunaire" and year >= 2021:
                    continue
                text = "oui" if ind.type == "qualitatif" else f"{year}-06-30"
                comment = (f"Bilan qualitatif {year} transmis par le service pilote (démonstration)."
                           if ind.type == "qualitatif" else "")
                add(ind.id, year, ref.plan.departement, text if ind.type == "date" else "", comment)
                if ind.type == "qualitatif":
                    rows[-1][4] = "voir commentaire"
            continue
        territories = _territories(ind, ref)
        traj = _trajectory(ind, fiche, scenario, rng)
        # Sizes that stay of the same order from year to year (check warns beyond ×3 or ÷3).
        den_base = [float(rng.integers(40, 400))]
        persons_base = {terr: float(rng.integers(15, 80)) for terr in territories}
        for year in YEARS:
            if scenario == "lacunaire" and year >= 2021 and rng.random() < 0.8:
                continue
            if scenario == "nominal" and year == 2020 and rng.random() < 0.06:
                continue  # a random gap: a pilot forgot one indicator
            total = _round(ind, traj[year])
            if ind.type == "pourcentage":
                den = float(round(den_base[0] * rng.normal(1.0, 0.08)))
                parts_den = _split(den, territories, rng) if len(territories) > 1 else {territories[0]: den}
                for terr, d in parts_den.items():
                    pct = min(100.0, max(0.0, rng.normal(total, 4.0)))
                    n = float(round(d * pct / 100))
                    add(f"{ind.id}.numerateur", year, terr, _fmt(n))
                    add(f"{ind.id}.denominateur", year, terr, _fmt(d))
                continue
            if ind.type == "duree":
                for terr in territories:
                    persons = float(max(1, round(persons_base[terr] * rng.normal(1.0, 0.12))))
                    add(ind.id, year, terr, _fmt(round(rng.normal(total, total * 0.1), 1)))
                    add(f"{ind.id}.personnes", year, terr, _fmt(persons))
                continue
            if len(territories) == 1:
                add(ind.id, year, territories[0], _fmt(total))
                continue
            fixed = next((v for k, v in TERRITORIAL_ANCHORS.items() if k in ind.libelle.lower()), None)
            if fixed and scenario != "non_demarree":
                for terr in territories:
                    add(ind.id, year, terr, "1" if terr in fixed[year] else "0")
                continue
            if "etp" in (ind.unite or "").lower():
                parts = {t: round(total / len(territories) * 4) / 4 for t in territories}
            else:
                parts = _split(total, territories, rng)
            for terr, value in parts.items():
                comment = ""
                if year == 2021 and terr == territories[-1] and rng.random() < 0.3:
                    comment = "Chiffre provisoire, à confirmer au prochain comité (démonstration)."
                add(ind.id, year, terr, _fmt(value), comment)

    # Milestones: done on time, late, or not at all according to the scenario.
    for ms in fiche.jalons:
        due = ms.echeance
        if scenario in ("retard",):
            done = due + dt.timedelta(days=200) if rng.random() < 0.5 else None
        elif scenario == "non_demarree":
            done = None
        elif scenario == "avance":
            done = due - dt.timedelta(days=60)
        else:
            done = due - dt.timedelta(days=int(rng.integers(0, 90))) if rng.random() < 0.85 else due + dt.timedelta(days=120)
        for year in YEARS[1:]:
            if done is not None and done.year <= year:
                add(ms.id, year, ref.plan.departement, done.isoformat(),
                    "Réalisé (démonstration)." if done <= due else "Réalisé avec retard (démonstration).")
                break
            if dt.date(year, 12, 31) >= due:
                add(ms.id, year, ref.plan.departement, "non", "Non réalisé à la fin de l'année (démonstration).")
    return rows


def generate(out_dir: str | os.PathLike | None = None, seed: int = 62,
             referential: Referential | None = None) -> list[Path]:
    """Write the demonstration files (one per fiche) and the marker; returns the files written.

    Files are written to a temporary folder first and moved into place, so a failure never leaves
    a half-written demo set. Deterministic for a given seed and referential.
    """
    ref = referential or load_referential()
    out = paths.resolve(out_dir, paths.demo_dir())
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        tmp_path = Path(tmp)
        for index, fiche in enumerate(ref.fiches):
            rng = np.random.default_rng([seed, index])
            rows = _rows_for_fiche(fiche, ref, rng)
            if not rows:
                continue
            buf = io.StringIO()
            writer = csv.writer(buf, delimiter=";", lineterminator="\n")
            writer.writerow(["fiche", "indicateur", "annee", "territoire", "valeur", "source", "commentaire"])
            writer.writerows(rows)
            name = f"fiche-{fiche.id}.csv"
            (tmp_path / name).write_text(buf.getvalue(), encoding="utf-8")
            written.append(name)
        for old in out.glob("fiche-*.csv"):
            if old.name not in written:
                old.unlink()
        for name in written:
            os.replace(tmp_path / name, out / name)
    (out / MARKER).write_text(
        "Données de démonstration : valeurs fictives générées par `plancadre-eval demo` "
        f"(graine {seed}). Ne pas utiliser pour une décision.\n", encoding="utf-8")
    return [out / n for n in written]


def command_demo(args) -> int:
    ref = load_referential(args.referentiel) if args.referentiel else None
    files = generate(args.out, seed=args.seed, referential=ref)
    print(f"{len(files)} fichiers de démonstration écrits dans {paths.resolve(args.out, paths.demo_dir())}.")
    return 0

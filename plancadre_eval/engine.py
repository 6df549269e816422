"""The indicator engine, public: one object takes the inputs once and answers every table a page needs.

``Engine(referential, observations, population, public, expected, secret_threshold)``:

- ``referential``: :class:`~plancadre_eval.referential.Referential`;
- ``observations``: one row per collected cell (contract in ``ARCHITECTURE.md``), from
  ``collection.read_collection`` / ``load_collection``; None for none;
- ``population``: anything with ``population(code: str, year: int) -> int`` (e.g.
  ``territories.Territories``), or such a function; only needed for rates (type ``taux``);
- ``public``: ``{serie code: DataFrame[annee, territoire, valeur]}`` (``public_data.series``
  output), for indicators with ``source: public``;
- ``expected``: ``{niveau: [codes]}``, the territories a pilot is expected to report at each level
  (see :mod:`plancadre_eval.indicators`);
- ``secret_threshold``: statistical secrecy threshold in persons (:mod:`plancadre_eval.secrecy`).

Then, for a year (and optionally some fiches): :meth:`Engine.table` (``indicateurs.csv``),
:meth:`Engine.values` (every year of one fiche, for charts), :meth:`Engine.targets`,
:meth:`Engine.milestones`, :meth:`Engine.completeness`, :meth:`Engine.status` /
:meth:`Engine.statuses` (rule in :mod:`plancadre_eval.statuses`), :meth:`Engine.discrepancies`.
Values are computed once per indicator and cached in the instance (all years at once), as are the
per-fiche results of a year (table rows, targets, completeness, status facts) and the tables
asked for (returned as copies): the pages of a year rendered by one process share one engine
(``evaluation.context``) and compute each of them once.
How values are computed is described in :mod:`plancadre_eval.indicators`.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Iterable, Mapping

import pandas as pd

from . import secrecy
from .indicators import (
    CELL_COLUMNS, HELPER_COLUMNS, ORIGIN_MISSING, ORIGIN_REPORTED, TABLE_COLUMNS, IndicatorCells,
    PopulationLike, check_year, join_texts, level_rank,
)
from .referential import COMPONENTS, Fiche, Indicator, Referential, Target, fiche_sort_key
from .statuses import (
    FicheFacts, FicheStatus, TargetStatus, decide_fiche_status, evaluation_date, is_missing,
)

NAN = float("nan")

TARGET_COLUMNS = ("fiche", "indicateur", "cible", "territoire", "valeur_cible", "unite", "echeance",
                  "reference", "date_reference", "annee", "valeur", "progression_pct",
                  "progression_attendue_pct", "statut", "motif")
MILESTONE_COLUMNS = ("fiche", "jalon", "libelle", "echeance", "realisation", "statut", "commentaire")
COMPLETENESS_COLUMNS = ("fiche", "pilote", "indicateur", "libelle", "composante", "territoire",
                        "annee", "declare")
DISCREPANCY_COLUMNS = ("fiche", "indicateur", "annee", "territoire", "composante", "nature",
                       "valeur_declaree", "valeur_attendue", "ecart", "territoires", "message")
STATUS_COLUMNS = ("fiche", "axe", "titre", "annee", "statut", "motifs")


class Engine:
    """Every table of the indicators, from inputs given once (see the module docstring).

    Every method taking a ``year`` checks it (reference year to last plan year, French ValueError);
    ``fiches`` is a fiche id, a list of ids (e.g. ``schedule.due_fiches(ref, year)``) or None for all
    fiches. Tables are new DataFrames at each call; values are computed once per instance.
    """

    def __init__(self, referential: Referential, observations: pd.DataFrame | None,
                 population: PopulationLike = None, public: Mapping[str, pd.DataFrame] | None = None,
                 expected: Mapping[str, Iterable[str]] | None = None, secret_threshold: int = 5):
        self.referential = referential
        self.expected = expected
        self.secret_threshold = secrecy.check_threshold(secret_threshold)
        #: ``cells``: the values of every indicator (:class:`IndicatorCells`); ``_memo``: results
        #: already computed, ``{(kind, year, fiche id or ids): value}`` (per-fiche rows are never
        #: handed out: tables are built from them, and whole tables are copied). Both are shared
        #: with the engines built earlier in this thread from the same inputs (:func:`_shared_state`).
        self.cells, self._memo = _shared_state(referential, observations, population, public,
                                               expected, self.secret_threshold)

    def _memoized(self, key: tuple, compute):
        """``self._memo[key]``, computed by ``compute()`` the first time."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = compute()
            return value

    def _table_copy(self, key: tuple, compute) -> pd.DataFrame:
        """A copy of the table kept under ``key`` (computed once): callers may modify it."""
        return self._memoized(key, compute).copy()

    @property
    def observations(self) -> pd.DataFrame:
        """The observations as the engine reads them (:func:`indicators.prepare_observations`)."""
        return self.cells.obs

    def _year(self, year) -> int:
        return check_year(year, self.referential)

    def _fiches(self, fiches: Iterable[str] | str | None) -> list[Fiche]:
        if fiches is None:
            return list(self.referential.fiches)
        if isinstance(fiches, str):
            fiches = [fiches]
        out = []
        for fid in fiches:
            if not isinstance(fid, str):
                raise ValueError(f"Identifiant de fiche {fid!r} : attendu une chaîne (\"2.10\"), pas un "
                                 "nombre.")
            try:
                out.append(self.referential.fiche(fid))
            except KeyError as exc:
                raise ValueError(exc.args[0]) from None
        return out

    # the indicator table ----------------------------------------------------------------------------
    def computed_table(self, year: int, fiches: Iterable[str] | str | None = None) -> pd.DataFrame:
        """The indicator table of ``year`` **before statistical secrecy** (pages use :meth:`table`).

        One row per fiche, indicator and territory (the département for every quantitative
        indicator, every territory reported for the year, every expected territory), columns
        :data:`~plancadre_eval.indicators.TABLE_COLUMNS` except ``diffusion``/``motif_secret``, plus
        :data:`~plancadre_eval.indicators.HELPER_COLUMNS`. Units: ``valeur``, ``valeur_n_1``,
        ``reference``, ``cible`` and ``evolution`` in the indicator's ``unite`` (points for
        percentages); ``*_pct`` in % of the base (NaN from a zero base); ``progression_pct`` in % of
        the way from the reference to the target.
        """
        year = self._year(year)
        selected = self._fiches(fiches)
        return self._table_copy(("computed_table", year, tuple(f.id for f in selected)),
                                lambda: self._computed_table(year, selected))

    def _computed_table(self, year: int, selected: list[Fiche]) -> pd.DataFrame:
        rows: list[dict[str, Any]] = []
        for fiche in selected:
            rows.extend(self._memoized(("table_rows", year, fiche.id),
                                       lambda: [r for ind in fiche.indicateurs
                                                for r in self._indicator_rows(fiche, ind, year)]))
        columns = [c for c in TABLE_COLUMNS if c not in ("diffusion", "motif_secret")] + list(HELPER_COLUMNS)
        table = _sorted_table(rows, columns)
        table["annee"] = table["annee"].astype(int)
        table["annee_reference"] = table["annee_reference"].astype("Int64")
        return table

    def table(self, year: int, fiches: Iterable[str] | str | None = None) -> pd.DataFrame:
        """The indicator table of ``year`` (``indicateurs.csv``), statistical secrecy applied.

        See :meth:`computed_table` for rows and units and :mod:`plancadre_eval.secrecy` for masking
        (``diffusion`` "public"/"secret", ``motif_secret``). ``statut`` is the target status on the
        row of the target's territory (the département by default) of indicators with a target, the
        milestone status on jalon-type indicators, "sans cible" otherwise. Sorted by fiche,
        indicator, level (département first) and territory code.
        """
        year = self._year(year)
        selected = self._fiches(fiches)
        ids = tuple(f.id for f in selected)
        whole = self._memo.get(("table", year, tuple(f.id for f in self.referential.fiches)))

        def compute() -> pd.DataFrame:
            if whole is not None:
                # the year's table is already masked: a row's secrecy depends on the rows of its
                # own indicator only (groups indicator × year × level), so its rows are the same
                part = whole[whole["fiche"].isin(ids)].reset_index(drop=True)
                if not part.empty:
                    return part
            # the cached table itself (apply_secrecy copies it), not the public method's copy
            table = self._memoized(("computed_table", year, ids),
                                   lambda: self._computed_table(year, selected))
            masked = secrecy.apply_secrecy(table, self.referential, self.secret_threshold)
            return masked[[c for c in TABLE_COLUMNS if c in masked] + list(HELPER_COLUMNS)]

        return self._table_copy(("table", year, ids), compute)

    def _indicator_rows(self, fiche: Fiche, ind: Indicator, year: int) -> list[dict[str, Any]]:
        cells = self.cells
        cur = {c.territoire: c for c in cells.cells(ind) if c.annee == year}
        prev = {c.territoire: c for c in cells.cells(ind) if c.annee == year - 1}
        territories = set(cur)
        if ind.quantitative:
            territories.add(cells.dept)
        if ind.collected or ind.type == "taux" or not ind.quantitative:
            territories |= set(cells.expected_codes(ind, self.expected, strict=False))
        targets = cells.targets_of(ind)
        milestone = None
        if ind.type == "jalon" and ind.jalon:
            for m in fiche.jalons:
                if m.id == ind.jalon:
                    milestone = cells.milestone_row(fiche, m, year)
            if milestone is None:
                for f in self.referential.fiches:
                    for m in f.jalons:
                        if m.id == ind.jalon:
                            milestone = cells.milestone_row(f, m, year)
        rows = []
        for terr in territories:
            c, p = cur.get(terr), prev.get(terr)
            value = c.valeur if c else NAN
            row: dict[str, Any] = {
                "fiche": fiche.id, "indicateur": ind.id, "libelle": ind.libelle, "type": ind.type,
                "annee": year, "territoire": terr,
                "niveau": c.niveau if c else cells.level(terr, ind.niveau),
                "valeur": value, "unite": ind.unite, "couverture": c.couverture if c else "",
                "niveau_couverture": c.niveau_couverture if c else "", "valeur_n_1": NAN, "evolution": NAN,
                "evolution_pct": NAN, "reference": NAN, "annee_reference": pd.NA,
                "evolution_reference_pct": NAN, "cible": NAN, "echeance_cible": "",
                "progression_pct": NAN, "statut": TargetStatus.NO_TARGET,
                "source": c.source if c else "", "commentaire": c.commentaire if c else "",
                "numerateur": c.numerateur if c else NAN, "denominateur": c.denominateur if c else NAN,
                "effectif": c.effectif if c else NAN,
                "origine": (c.origine if c and c.origine else ORIGIN_MISSING),
                "origine_reference": "", "texte": c.texte if c else "",
                "origine_indicateur": str(ind.origine),
                "effectif_n_1": NAN, "effectif_reference": NAN,
            }
            if ind.source == "public" and ind.serie not in cells.public and terr == cells.dept:
                row["commentaire"] = join_texts([row["commentaire"],
                                                 f"Série publique « {ind.serie} » non fournie."])
            if ind.quantitative:
                partial = c is not None and c.partiel
                if p is not None:
                    row["valeur_n_1"], row["effectif_n_1"] = p.valeur, p.effectif
                    if not partial and not p.partiel:
                        row["evolution"] = value - p.valeur
                        row["evolution_pct"] = _pct_change(value, p.valeur)
                ref_value, ref_date, ref_origin, ref_eff = cells.reference(ind, terr, year)
                if not math.isnan(ref_value):
                    row.update(reference=ref_value, annee_reference=ref_date.year,
                               origine_reference=ref_origin, effectif_reference=ref_eff,
                               evolution_reference_pct=NAN if partial else _pct_change(value, ref_value))
                target = _choose_target([t for t in targets if t.territoire == terr], year)
                if target is not None:
                    t_row = cells.target_row(target, year)
                    row.update(cible=float(target.valeur), echeance_cible=target.echeance.isoformat(),
                               progression_pct=t_row["progression_pct"], statut=t_row["statut"])
                if partial:
                    row.update(progression_pct=NAN, statut=TargetStatus.NOT_ASSESSABLE)
            if milestone is not None and terr == cells.dept:
                row["statut"] = milestone["statut"]
                if milestone["realisation"] is not None:
                    row["texte"] = milestone["realisation"].isoformat()
            rows.append(row)
        return rows

    # one fiche over the years -------------------------------------------------------------------
    def values(self, year: int, fiche_id: str) -> pd.DataFrame:
        """Every value of one fiche's quantitative indicators from the reference year to ``year``.

        One row per indicator, year and territory (département rows included, computed as in
        :mod:`plancadre_eval.indicators`), for charts: ``fiche, indicateur, libelle, type, unite,
        annee, territoire, niveau, valeur, numerateur, denominateur, effectif, origine, source,
        commentaire, diffusion, motif_secret``. Statistical secrecy is applied (masked ``valeur``
        empty).
        """
        year = self._year(year)
        fiche = self._fiches([fiche_id])[0]
        return self._table_copy(("values", year, fiche.id), lambda: self._values(year, fiche))

    def _values(self, year: int, fiche: Fiche) -> pd.DataFrame:
        first = self.referential.plan.annee_reference
        rows = []
        for ind in fiche.indicateurs:
            if not ind.quantitative:
                continue
            for c in self.cells.cells(ind):
                if first <= c.annee <= year:
                    rows.append({"fiche": fiche.id, "indicateur": ind.id, "libelle": ind.libelle,
                                 "type": ind.type, "unite": ind.unite,
                                 **{k: getattr(c, k) for k in CELL_COLUMNS if k != "texte"}})
        columns = (["fiche", "indicateur", "libelle", "type", "unite"]
                   + [c for c in CELL_COLUMNS if c != "texte"])
        table = _sorted_table(rows, columns)
        if not table.empty:
            table["annee"] = table["annee"].astype(int)
        return secrecy.apply_secrecy(table, self.referential, self.secret_threshold)

    # targets and milestones ---------------------------------------------------------------------
    def targets(self, year: int, fiches: Iterable[str] | str | None = None) -> pd.DataFrame:
        """Progress to every quantified target (``cibles``) at 31 December of ``year``.

        Columns :data:`TARGET_COLUMNS`: ``valeur_cible``, ``reference``, ``valeur`` in the target's
        unit; ``progression_pct`` = (valeur - reference) / (cible - reference) × 100;
        ``progression_attendue_pct`` = share of the time from the reference date to the deadline
        elapsed at the end of ``year`` (straight line); ``statut`` and ``motif`` from
        :func:`plancadre_eval.statuses.assess_target`. A target on an infra-départemental territory
        whose value is secret shows no value.
        """
        year = self._year(year)
        rows = [r for f in self._fiches(fiches) for r in self._target_rows(f, year)]
        return pd.DataFrame(rows, columns=list(TARGET_COLUMNS))

    def _target_rows(self, fiche: Fiche, year: int) -> list[dict[str, Any]]:
        """The rows of :meth:`targets` for one fiche (computed once per year; not to modify)."""
        return self._memoized(("targets", year, fiche.id), lambda: self._fiche_targets(fiche, year))

    def _fiche_targets(self, fiche: Fiche, year: int) -> list[dict[str, Any]]:
        cells, ref = self.cells, self.referential
        rows = []
        for target in fiche.cibles:
            row = {"fiche": fiche.id, **cells.target_row(target, year)}
            ind = cells.indicators.get(target.indicateur or "")
            if (ind is not None and target.territoire != cells.dept
                    and secrecy.counts_persons(ind, ref)):
                year_cells = [c for c in cells.cells(ind) if c.annee == year]
                frame = pd.DataFrame({"indicateur": ind.id, "annee": year,
                                      "territoire": [c.territoire for c in year_cells],
                                      "niveau": [c.niveau for c in year_cells],
                                      "valeur": [c.valeur for c in year_cells],
                                      "effectif": [c.effectif for c in year_cells]})
                reasons = secrecy.secrecy_reasons(frame, ref, self.secret_threshold)
                if any(r and c.territoire == target.territoire for r, c in zip(reasons, year_cells)):
                    row.update(valeur=NAN, progression_pct=NAN)
            rows.append(row)
        return rows

    def milestones(self, year: int, fiches: Iterable[str] | str | None = None) -> pd.DataFrame:
        """Status of every milestone (``jalons``) at 31 December of ``year``.

        Reports are rows whose ``indicateur`` is the milestone id, or the id of a jalon-type
        indicator pointing to it, for years up to ``year``: ``texte`` "oui" (done by 31 December of
        the reported year), "non", or the date of realisation. ``realisation`` is the earliest date
        of realisation (``datetime.date``, None if not done); ``statut`` from
        :func:`plancadre_eval.statuses.assess_milestone`. Columns :data:`MILESTONE_COLUMNS`.
        """
        year = self._year(year)
        rows = [self.cells.milestone_row(f, m, year) for f in self._fiches(fiches) for m in f.jalons]
        return (pd.DataFrame(rows, columns=list(MILESTONE_COLUMNS) + ["declare_annee"])
                [list(MILESTONE_COLUMNS)])

    # completeness and statuses ------------------------------------------------------------------
    def _completeness_rows(self, fiche: Fiche, year: int) -> list[dict[str, Any]]:
        """The rows of :meth:`completeness` for one fiche (computed once per year; not to modify)."""
        return self._memoized(("completeness", year, fiche.id),
                              lambda: self._fiche_completeness(fiche, year))

    def _fiche_completeness(self, fiche: Fiche, year: int) -> list[dict[str, Any]]:
        cells = self.cells
        rows = []
        for ind in fiche.indicateurs:
            if not ind.collected or ind.type == "jalon":
                continue
            comps = {"comptage": ("valeur",), "pourcentage": COMPONENTS["pourcentage"],
                     "duree": ("valeur",) + COMPONENTS["duree"]}.get(ind.type, ("valeur",))
            reports = cells.reports.get(ind.id, {})
            for terr in cells.expected_codes(ind, self.expected, strict=True):
                rep = reports.get((year, terr))
                for comp in comps:
                    if ind.quantitative:
                        done = rep is not None and not math.isnan(rep.values.get(comp, NAN))
                    else:
                        done = rep is not None and bool(rep.texte or rep.commentaires or rep.values)
                    rows.append({"fiche": fiche.id, "pilote": fiche.pilote_court,
                                 "indicateur": ind.id, "libelle": ind.libelle, "composante": comp,
                                 "territoire": terr, "annee": year, "declare": bool(done)})
        for m in fiche.jalons:
            if m.echeance <= evaluation_date(year):
                ms = cells.milestone_row(fiche, m, year)
                rows.append({"fiche": fiche.id, "pilote": fiche.pilote_court, "indicateur": m.id,
                             "libelle": m.libelle, "composante": "jalon", "territoire": cells.dept,
                             "annee": year,
                             "declare": bool(ms["declare_annee"] or ms["realisation"] is not None)})
        return rows

    def completeness(self, year: int, fiches: Iterable[str] | str | None = None) -> pd.DataFrame:
        """Every value expected for ``year`` and whether it was reported (``declare``), by pilot.

        Expected: for each collected indicator (not rates, public series, "à déterminer" or
        jalon-type indicators), each expected territory of its level and each component row
        (``valeur``; percentages ``numerateur`` and ``denominateur`` — a bare percentage does not
        replace them; durations ``valeur`` and ``personnes``); qualitative and date indicators count
        as reported with a text or comment. Milestones are expected once due (deadline ≤ 31 December
        of ``year``): reported if answered for the year or already done. ``pilote`` is the fiche's
        short pilot name. Columns :data:`COMPLETENESS_COLUMNS`.
        """
        year = self._year(year)
        rows = [r for f in self._fiches(fiches) for r in self._completeness_rows(f, year)]
        return pd.DataFrame(rows, columns=list(COMPLETENESS_COLUMNS))

    def facts(self, year: int, fiche_id: str) -> FicheFacts:
        """The facts the status rule needs for one fiche and year (see :class:`FicheFacts`)."""
        year = self._year(year)
        fiche = self._fiches([fiche_id])[0]
        return self._memoized(("facts", year, fiche.id), lambda: self._facts(year, fiche))

    def _facts(self, year: int, fiche: Fiche) -> FicheFacts:
        cells = self.cells
        comp = self._completeness_rows(fiche, year)
        milestones = [cells.milestone_row(fiche, m, year) for m in fiche.jalons]
        # statuses of the targets (secrecy empties a value, never a status)
        targets = self._target_rows(fiche, year)
        values: list[float] = []
        texts = 0
        for ind in fiche.indicateurs:
            if not ind.collected:
                continue
            if ind.quantitative:
                values += [c.valeur for c in cells.cells(ind)
                           if c.annee == year and c.origine == ORIGIN_REPORTED]
            elif ind.type in ("qualitatif", "date"):
                texts += sum(1 for (y, _), r in cells.reports.get(ind.id, {}).items()
                             if y == year and (r.texte or r.commentaires))
        ids = {i.id for i in fiche.indicateurs} | {m.id for m in fiche.jalons}
        comments = sum(1 for ind, f in self._commented_rows(year) if ind in ids or f == fiche.id)
        return FicheFacts(
            expected=len(comp), reported=sum(1 for r in comp if r["declare"]),
            milestones=tuple((m["jalon"], m["statut"], m["echeance"]) for m in milestones),
            targets=tuple((t["cible"], t["statut"]) for t in targets),
            values=tuple(values),
            quantitative=any(i.quantitative and i.collected for i in fiche.indicateurs),
            texts=texts, comments=comments,
        )

    def _commented_rows(self, year: int) -> list[tuple[str, str]]:
        """``(indicateur, fiche)`` of the observations of ``year`` with a text or a comment (once
        per year: every fiche's :meth:`facts` counts its own among them)."""
        def compute() -> list[tuple[str, str]]:
            obs = self.cells.obs
            sel = (obs["annee"] == year) & ((obs["texte"] != "") | (obs["commentaire"] != ""))
            return list(zip(obs.loc[sel, "indicateur"], obs.loc[sel, "fiche"]))

        return self._memoized(("commented", year), compute)

    def status(self, year: int, fiche_id: str) -> tuple[FicheStatus, list[str]]:
        """(status, reasons in French) of a fiche for ``year`` by
        :data:`plancadre_eval.statuses.FICHE_STATUS_RULE`."""
        year = self._year(year)
        return decide_fiche_status(self.facts(year, fiche_id), year)

    def statuses(self, year: int, fiches: Iterable[str] | str | None = None) -> pd.DataFrame:
        """Status of every fiche (or ``fiches``) for ``year``: columns :data:`STATUS_COLUMNS`
        (``motifs``: the reasons joined by " ; ")."""
        year = self._year(year)
        rows = []
        for fiche in self._fiches(fiches):
            status, reasons = self.status(year, fiche.id)
            rows.append({"fiche": fiche.id, "axe": fiche.axe, "titre": fiche.titre, "annee": year,
                         "statut": status, "motifs": " ; ".join(reasons)})
        return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))

    # inconsistencies ------------------------------------------------------------------------------
    def discrepancies(self, year: int | None = None,
                      fiches: Iterable[str] | str | None = None) -> pd.DataFrame:
        """Inconsistencies found while computing values (all years, or ``year`` only).

        ``nature``: a reported département total that differs from the aggregate of its reported
        parts (``valeur_declaree`` = the total, kept as the value; ``valeur_attendue`` = the
        aggregate: sum of counts, Σ numerators and Σ denominators, weighted mean of durations;
        tolerance: exact for counts, 0,5 point for a percentage compared without its components, 1 %
        for average durations); a numerator above its denominator; a value reported twice (the last
        one, in file and row order, is kept). ``message`` is a French sentence. On an
        infra-départemental territory of an indicator counting persons, numbers between 1 and
        ``secret_threshold - 1`` are not shown (statistical secrecy): the row stays, its numbers are
        emptied and the message names the problem only. Columns :data:`DISCREPANCY_COLUMNS`.
        """
        if year is not None:
            year = self._year(year)
        cells, ref = self.cells, self.referential
        selected = self._fiches(fiches)
        for fiche in selected:
            for ind in fiche.indicateurs:
                cells.cells(ind)
        fiche_of = {i.id: i.fiche for i in ref.indicators()}
        fiche_of.update({m.id: f.id for f in ref.fiches for m in f.jalons})
        ids = {f.id for f in selected}
        rows = [dict(r) for r in cells.disagreements]
        for d in cells.duplicates:
            rows.append({"fiche": fiche_of.get(d["indicateur"], ""), **d})
        rows = [r for r in rows if r["fiche"] in ids and (year is None or r["annee"] == year)]
        for r in rows:
            ind = cells.indicators.get(r["indicateur"])
            numbers = [r["valeur_declaree"], r["valeur_attendue"]]
            if (ind is not None and r["territoire"] != cells.dept
                    and secrecy.counts_persons(ind, ref)
                    and any(0 < x < self.secret_threshold for x in numbers if not is_missing(x))):
                r.update(valeur_declaree=NAN, valeur_attendue=NAN, ecart=NAN,
                         message=f"{r['indicateur']} ({r['annee']}), territoire {r['territoire']} : "
                                 f"{r['nature']} (valeurs couvertes par le secret statistique).")
        return _sorted_table(rows, DISCREPANCY_COLUMNS).drop_duplicates().reset_index(drop=True)


#: Computed state of the engines built in this process: ``{key: (objects the key names by id,
#: cells, results)}`` (see :func:`_shared_state`); the objects are kept so that their ids stay unique.
_SHARED: dict[tuple, tuple[tuple, IndicatorCells, dict]] = {}


def _shared_state(referential: Referential, observations, population, public, expected,
                  threshold: int) -> tuple[IndicatorCells, dict[tuple, Any]]:
    """The cells and computed results of an engine, shared by the engines built in the same thread
    from the same inputs: the same referential and population objects (both immutable), and
    observations, public series and expected territories of the same content (a digest of their
    values). The pages of every year rendered by one kernel (each year has its own page context)
    and the indicator tables of every year written by the runner thus compute each fiche's values
    once. A copy with other inputs gets its own state; so does another thread (no state is shared
    between threads)."""
    import threading

    try:
        key = (threading.get_ident(), id(referential), id(population), int(threshold),
               _content_digest(observations), _content_digest(dict(public or {})),
               tuple(sorted((str(k), tuple(str(c) for c in v)) for k, v in (expected or {}).items())))
    except TypeError:  # a value without a digest (unhashable): nothing is shared
        return IndicatorCells(referential, observations, population, public, expected), {}
    kept = _SHARED.get(key)
    if kept is not None:  # the entry keeps referential and population alive: their ids are theirs
        return kept[1], kept[2]
    if len(_SHARED) >= 8:
        _SHARED.clear()
    state = IndicatorCells(referential, observations, population, public, expected), {}
    _SHARED[key] = ((referential, population), *state)
    return state


def _content_digest(value) -> str:
    """SHA-256 of a table's columns, types, index, values and ``attrs`` (or of a mapping of
    tables, or None); TypeError when a value cannot be hashed."""
    import hashlib

    h = hashlib.sha256()
    if value is None:
        h.update(b"none")
    elif isinstance(value, Mapping):
        for k in sorted(value, key=str):
            h.update(repr(str(k)).encode() + _content_digest(value[k]).encode())
    elif isinstance(value, pd.DataFrame):
        h.update(repr((list(map(str, value.columns)), list(map(str, value.dtypes)),
                       sorted((str(k), repr(v)) for k, v in value.attrs.items()))).encode())
        h.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    else:
        raise TypeError(f"pas d'empreinte pour {type(value).__name__}")
    return h.hexdigest()


def completeness_summary(table: pd.DataFrame, by: Iterable[str] = ("fiche", "pilote")) -> pd.DataFrame:
    """Counts of a :meth:`Engine.completeness` table: ``attendues``, ``declarees``, ``manquantes``
    and ``taux_pct`` (declared / expected × 100) per group (default: fiche and pilot)."""
    by = list(by)
    if table.empty:
        return pd.DataFrame(columns=by + ["attendues", "declarees", "manquantes", "taux_pct"])
    g = table.groupby(by, sort=False)["declare"]
    out = pd.DataFrame({"attendues": g.size(), "declarees": g.sum().astype(int)}).reset_index()
    out["manquantes"] = out["attendues"] - out["declarees"]
    out["taux_pct"] = out["declarees"] / out["attendues"] * 100
    return out


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
        df["niveau"].map(level_rank) if "niveau" in df else [0] * n,
        df["territoire"] if "territoire" in df else [""] * n,
    ))
    order = sorted(range(n), key=keys.__getitem__)
    return df.iloc[order].reset_index(drop=True)

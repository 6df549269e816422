"""Loading the inputs of a page once: :class:`Context` and :func:`load_context`.

The collection read is cached by file contents (``_COLLECTIONS``), so a warm kernel reused by the
runner reads a folder again only when a file changed. The context holds the one
:class:`~plancadre_eval.engine.Engine` every table of the page comes from (:attr:`Context.engine`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .. import demo, indicators, review
from ..engine import Engine
from ..referential import Referential

#: Reason given for the status of a fiche stopped by bad files (:attr:`Context.excluded`).
EXCLUDED_REASON = "fichier de données en erreur : fiche exclue des calculs"

# --- loading -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """Everything a page needs, loaded once: validated parameters and input tables.

    ``observations``: validated collection rows (``collection.load_collection``); ``files``:
    ``(path, sha256)`` of the collection files read; ``public``: ``{serie: table}`` for the public
    indicators of the referential; ``expected``: expected territories per level for completeness.
    ``reviews``: the committee's records (:class:`~plancadre_eval.review.Review`) of the years up
    to ``year``, by year (empty without a record). A copy with other inputs
    (``dataclasses.replace(ctx, observations=...)``) builds its own engine.
    ``excluded``: fiche id -> problem lines of the fiches whose files have errors
    (:mod:`plancadre_eval.exclusions`); their rows are not in ``observations``.
    """

    referential: Referential
    year: int
    data_dir: Path
    secret_threshold: int
    territories: Any
    observations: pd.DataFrame
    files: tuple[tuple[str, str], ...]
    public: Mapping[str, pd.DataFrame]
    expected: Mapping[str, tuple[str, ...]]
    demo: bool
    excluded: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    reviews: Mapping[int, Any] = field(default_factory=dict)

    @property
    def review(self):
        """The committee's record of ``year`` (None when the year is not reviewed yet)."""
        return self.reviews.get(self.year)

    @cached_property
    def file_names(self) -> tuple[tuple[str, str, str, str], ...]:
        """``(path, sha256, path inside data_dir in POSIX form, file name)`` of each collection
        file (``files``); the file name stands for a file outside ``data_dir``. Resolved once."""
        base = self.data_dir.resolve()
        out = []
        for path, digest in self.files:
            try:
                rel_name = Path(path).resolve().relative_to(base).as_posix()
            except ValueError:
                rel_name = Path(path).name
            out.append((path, digest, rel_name, Path(path).name))
        return tuple(out)

    def fiche_observations(self, fiche) -> pd.DataFrame:
        """Rows of ``observations`` that belong to ``fiche`` (a :class:`Fiche`): declared for it,
        or for one of its indicators or milestones. Selected once per fiche (pages read them for
        their comments and their files); not to be modified."""
        cache = self._fiche_rows
        if fiche.id not in cache:
            obs = self.observations
            ids = {i.id for i in fiche.indicateurs} | {m.id for m in fiche.jalons}
            cache[fiche.id] = obs[(obs["fiche"] == fiche.id) | obs["indicateur"].isin(ids)]
        return cache[fiche.id]

    @cached_property
    def _fiche_rows(self) -> dict[str, pd.DataFrame]:
        return {}

    @cached_property
    def engine(self) -> Engine:
        """The one indicator engine of the page, built on first use from this context's inputs
        (every table of the page comes from it; its values are computed once)."""
        return Engine(self.referential, self.observations, self.territories, self.public,
                      self.expected, self.secret_threshold)

    def fiche_statuses(self, year: int, fiches=None) -> pd.DataFrame:
        """The status each fiche is counted with for ``year`` (columns of
        :meth:`Engine.statuses <plancadre_eval.engine.Engine.statuses>`): the one place the
        synthesis, the bilan and the year-over-year facts read fiche statuses from. ``statut`` is the
        status retained by the committee when the record of ``year`` examined the fiche
        (:func:`~plancadre_eval.review.retained_statuses`: also ``statut_calcule``, ``examinee``,
        ``modifie``). A fiche stopped by bad files (:attr:`excluded`) is computed as "données
        insuffisantes" (:data:`EXCLUDED_REASON`): nothing is computed from its missing rows."""
        fiches = None if fiches is None else [fiches] if isinstance(fiches, str) else list(fiches)
        key = (int(year), None if fiches is None else tuple(fiches))
        cache = self._statuses
        if key not in cache:  # the same for every page of the context: computed once
            cache[key] = self._retained_statuses(year, fiches)
        return cache[key].copy()

    @cached_property
    def _statuses(self) -> dict[tuple, pd.DataFrame]:
        return {}

    def _retained_statuses(self, year: int, fiches) -> pd.DataFrame:
        statuses = self.engine.statuses(year, fiches)
        if self.excluded:
            from ..statuses import FicheStatus

            sel = statuses["fiche"].isin(list(self.excluded))
            statuses.loc[sel, "statut"] = FicheStatus.INSUFFICIENT_DATA
            statuses.loc[sel, "motifs"] = EXCLUDED_REASON
        return review.retained_statuses(statuses, self.reviews.get(int(year)))

    @property
    def departement(self) -> str:
        return self.referential.plan.departement

    def name_of(self, code: str) -> str:
        """French name of a territory code ("Arrondissement de Lens"), the code if unknown."""
        try:
            return self.territories.name_of(str(code), self.referential)
        except (KeyError, ValueError):
            return str(code)

    def short_name_of(self, code: str) -> str:
        """Short name for charts: "Lens" for arrondissement 627, else :meth:`name_of`."""
        return self._short_names.get(str(code)) or self.name_of(code)

    @cached_property
    def _short_names(self) -> dict[str, str]:
        """Arrondissement code -> short name, read once per context (charts name every bar)."""
        return arrondissement_names(self.territories)


_COLLECTIONS: dict[tuple, Any] = {}


def _signature(folder: Path) -> tuple:
    """(relative path, size, mtime) of every file under ``folder``: changes when a file does."""
    out = []
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            st = f.stat()
            out.append((f.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns))
    return tuple(out)


def read_folder(data_dir: Path, referential: Referential, territories):
    """``(collection, problems, exclusions)`` of the collection folder ``data_dir``: the valid
    rows, every problem found and the fiches they stop
    (:func:`plancadre_eval.exclusions.exclusions_of_folder`), cached while its files and the
    referential's files are unchanged: a warm kernel reuses it from one page to the next, and the
    runner's validation and its year table read the folder once. Never raises for bad data."""
    from .. import collection, exclusions

    ref_sig = tuple((f, os.stat(f).st_mtime_ns, os.stat(f).st_size) for f in referential.files)
    key = (str(data_dir.resolve()), _signature(data_dir), ref_sig)
    if key not in _COLLECTIONS:
        if len(_COLLECTIONS) > 4:
            _COLLECTIONS.clear()
        col, problems = collection.read_collection([data_dir], referential, territories)
        found = exclusions.exclusions_of_folder(col, problems, referential, data_dir)
        _COLLECTIONS[key] = (col, problems, found)
    return _COLLECTIONS[key]


def _load_collection(data_dir: Path, referential: Referential, territories):
    """``(collection, exclusions)`` of ``data_dir`` (:func:`read_folder`); problems no fiche can
    be named for raise :class:`collection.CollectionError` (every problem)."""
    from .. import collection

    col, problems, found = read_folder(data_dir, referential, territories)
    if found.general:
        raise collection.CollectionError(problems)
    return col, found


def public_tables(referential: Referential) -> dict[str, pd.DataFrame]:
    """``{serie: public_data.series(serie)}`` for every public indicator of the referential."""
    from .. import public_data

    out: dict[str, pd.DataFrame] = {}
    for ind in referential.indicators():
        if ind.source == "public" and ind.serie and ind.serie not in out:
            out[ind.serie] = public_data.series(ind.serie, referential)
    return out


def expected_territories(territories, referential: Referential) -> dict[str, tuple[str, ...]]:
    """Territories expected at each level where the engine has no default: the arrondissements
    (:func:`territories.expected_codes`, the 7 of the Pas-de-Calais).

    Other levels: the département, structures and gendarmerie companies come from the referential
    (the engine's defaults); EPCI and communes are expected only where an indicator lists its own
    ``territoires`` (the whole département's 890 communes are never expected).
    """
    from ..territories import Level, expected_codes

    codes = expected_codes(Level.ARRONDISSEMENT, referential, territories)
    return {Level.ARRONDISSEMENT.value: tuple(codes)}


_REVIEWS: dict[tuple, dict] = {}


def _load_reviews(folder, referential: Referential, year: int) -> dict:
    """:func:`plancadre_eval.review.load_reviews`, cached while the record files are unchanged
    (a warm kernel reads them once for all the pages of a year)."""
    files = review.review_files(folder, [y for y in referential.plan.years if y <= year])
    key = (id(referential), year, tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns)
                                        for _, p in sorted(files.items())))
    if key not in _REVIEWS:
        if len(_REVIEWS) > 8:
            _REVIEWS.clear()
        _REVIEWS[key] = review.load_reviews(folder, referential, year)
    return _REVIEWS[key]


def load_context(settings, *, with_collection: bool = True) -> Context:
    """Load the inputs of a page from validated parameters (:class:`parameters.Settings`).

    The collection is validated (a :class:`collection.CollectionError` lists every problem, as
    ``plancadre-eval check`` does); ``with_collection=False`` skips it (the diagnostic page uses
    public statistics only). The committee's records of ``settings.review_dir`` are read and
    validated (:class:`~plancadre_eval.review.ReviewError`). A bad file stops only its fiches: the
    rows of the fiches it holds are left out (``Context.excluded`` lists them with their problems)
    and loading the page of such a fiche (``settings.fiche``) raises
    :class:`collection.CollectionError` with that fiche's problems; a problem no fiche can be named
    for raises it with every problem.
    """
    from .. import territories as territories_module

    terr = territories_module.load_territories()
    ref = settings.referential
    excluded: dict[str, tuple[str, ...]] = {}
    if with_collection:
        col, found = _load_collection(Path(settings.data_dir), ref, terr)
        observations, files = col.observations, tuple(col.files)
        excluded = found.as_lines()
        fiche = getattr(settings, "fiche", None)
        if fiche is not None and fiche.id in excluded:
            from ..collection import CollectionError

            raise CollectionError(list(found.problems[fiche.id]))
        if excluded:
            observations = observations[~observations["fiche"].isin(list(excluded))]
            observations = observations.reset_index(drop=True)
    else:
        col = None
        observations, files = indicators.prepare_observations(None), ()
    is_demo = with_collection and demo.is_demo_data(settings.data_dir)
    reviews = _load_reviews(getattr(settings, "review_dir", None), ref, int(settings.year))
    # One context (and so one engine, whose values are computed once) per kernel, year and inputs:
    # the pages of a year rendered by a warm kernel share it. The key holds the very objects the
    # context is made of (referential, territories and collection are cached by file contents and
    # are new objects when a file changes), so a cached context is the one a fresh kernel builds.
    key = (id(ref), id(terr), id(col), str(Path(settings.data_dir).resolve()), int(settings.year),
           int(settings.secret_threshold), with_collection, is_demo,
           tuple((y, r.sha256) for y, r in sorted(reviews.items())))
    cached = _CONTEXTS.get(key)
    if cached is not None and cached[0] is ref and cached[1] is terr and cached[2] is col:
        return cached[3]
    ctx = Context(
        referential=ref, year=int(settings.year), data_dir=Path(settings.data_dir),
        secret_threshold=int(settings.secret_threshold), territories=terr,
        observations=observations, files=files, public=public_tables(ref),
        expected=expected_territories(terr, ref), demo=is_demo, reviews=reviews,
        excluded=excluded,
    )
    if len(_CONTEXTS) > 8:
        _CONTEXTS.clear()
    _CONTEXTS[key] = (ref, terr, col, ctx)
    return ctx


#: Contexts already built in this process (see :func:`load_context`): ``{key: (referential,
#: territories, collection, context)}``; the objects are kept so that their ids stay unique.
_CONTEXTS: dict[tuple, tuple] = {}


def arrondissement_names(territories) -> dict[str, str]:
    arr = territories.arrondissements
    return {str(c): str(n) for c, n in zip(arr["arrondissement"], arr["nom"])}

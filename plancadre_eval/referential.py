"""The plan as data: load, validate and serialise the referential (YAML folder edited by analysts).

A referential is a folder holding ``plan.yaml`` (plan, axes, named structures) and ``fiches-*.yaml``
(lists of fiches). See ``data/referentiel/README.md`` for every field. Loading validates everything
and raises :class:`ReferentialError` listing *all* problems, each naming the file, the fiche and the
field. Objects are frozen dataclasses; ids are always strings ("2.10", never 2.1).
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Iterable

import yaml

from . import paths
from .plan_model import (  # noqa: F401 - the plan's objects, re-exported
    IndicatorType,
    INDICATOR_TYPES,
    QUANTITATIVE_TYPES,
    FREQUENCY_CODES,
    LEVELS,
    DIRECTIONS,
    NATURES,
    SOURCES,
    STRUCTURE_TYPES,
    COMPONENTS,
    Origin,
    Reading,
    ORIGIN_LABELS,
    READING_LABELS,
    UNDATED_TEXT,
    origin_label,
    ReferentialError,
    Frequency,
    Baseline,
    Target,
    Milestone,
    Indicator,
    Fiche,
    Axis,
    Structure,
    PlanFigure,
    Plan,
    Referential,
    fiche_sort_key,
    _jsonable,
)
from .years import coerce_year



# --- loading --------------------------------------------------------------------------------

#: Referentials already read in this process, keyed by their files' contents (see
#: :func:`load_referential`): a warm kernel rendering a year's pages reads the YAML once.
_LOADED: dict[tuple, Referential] = {}
#: libyaml's parser when PyYAML was built with it (ten times faster, same documents), else Python's.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _content_key(folder: Path) -> tuple | None:
    """``(folder, ((file, bytes), ...))`` of a referential's files, None if one cannot be read."""
    files = [folder] if folder.is_file() else \
        [folder / "plan.yaml"] + sorted(folder.glob("fiches-*.yaml")) if folder.is_dir() else []
    try:
        return (str(folder.resolve()), tuple((str(f), f.read_bytes()) for f in files))
    except OSError:
        return None


def load_referential(folder: str | Path | None = None) -> Referential:
    """Load and validate a referential folder (default: the shipped plan 2019-2022).

    A single YAML file holding ``plan``, ``axes``, ``structures`` and ``fiches`` is accepted too.
    Raises :class:`ReferentialError` with every problem found. The result is kept for the
    process and returned again while the folder's files hold the same bytes (a
    :class:`Referential` is frozen: sharing it is safe).
    """
    folder = Path(folder) if folder else paths.default_referential()
    key = _content_key(folder)
    if key is not None and key in _LOADED:
        return _LOADED[key]
    referential = _load_referential(folder)
    if key is not None:
        if len(_LOADED) > 4:
            _LOADED.clear()
        _LOADED[key] = referential
    return referential


def _load_referential(folder: Path) -> Referential:
    """:func:`load_referential` without the cache."""
    problems: list[str] = []
    if folder.is_file():
        files = [folder]
    elif folder.is_dir():
        files = [folder / "plan.yaml"] + sorted(folder.glob("fiches-*.yaml"))
    else:
        raise ReferentialError([f"{folder} : dossier ou fichier du référentiel introuvable."])

    docs: list[tuple[Path, Any]] = []
    for path in files:
        if not path.exists():
            problems.append(f"{path} : fichier manquant (un référentiel contient plan.yaml).")
            continue
        try:
            docs.append((path, yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{path} : YAML illisible ({_short(exc)}).")
    if problems:
        raise ReferentialError(problems)

    plan_doc: dict[str, Any] | None = None
    axes_raw: list[tuple[Path, Any]] = []
    structures_raw: list[tuple[Path, Any]] = []
    figures_raw: list[tuple[Path, Any]] = []
    fiches_raw: list[tuple[Path, Any]] = []
    for path, doc in docs:
        if isinstance(doc, list):
            fiches_raw += [(path, f) for f in doc]
        elif isinstance(doc, dict):
            if "plan" in doc:
                plan_doc = doc["plan"]
                plan_file = path
            axes_raw += [(path, a) for a in doc.get("axes") or []]
            structures_raw += [(path, s) for s in doc.get("structures") or []]
            figures_raw += [(path, c) for c in doc.get("chiffres_plan") or []]
            fiches_raw += [(path, f) for f in doc.get("fiches") or []]
        elif doc is not None:
            problems.append(f"{path} : attendu une liste de fiches ou un dictionnaire.")
    if plan_doc is None:
        raise ReferentialError(problems + [f"{files[0]} : clé 'plan' manquante."])

    v = _Validator(problems)
    plan = v.plan(plan_file, plan_doc)
    axes = tuple(v.axis(p, a) for p, a in axes_raw)
    structures = tuple(v.structure(p, s) for p, s in structures_raw)
    figures = tuple(v.plan_figure(p, c) for p, c in figures_raw)
    fiches = tuple(v.fiche(p, f, plan) for p, f in fiches_raw)
    fiches = tuple(f for f in fiches if f is not None)
    axes = tuple(a for a in axes if a is not None)
    structures = tuple(s for s in structures if s is not None)
    v.cross_checks(plan, axes, structures, fiches, fiches_raw)
    if problems:
        raise ReferentialError(problems)
    return Referential(
        plan=plan,
        axes=axes,
        structures=structures,
        fiches=tuple(sorted(fiches, key=lambda f: f.sort_key)),
        folder=str(folder),
        files=tuple(str(p) for p in files),
        chiffres=tuple(c for c in figures if c is not None),
    )


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


class _Validator:
    """Collects problems while converting raw YAML to dataclasses."""

    def __init__(self, problems: list[str]):
        self.problems = problems

    def err(self, path: Path, where: str, field_name: str, msg: str) -> None:
        self.problems.append(f"{path.name} : {where} : champ '{field_name}' : {msg}")

    def section(self, path: Path, where: str, d: dict) -> _Section:
        """A reader of one YAML mapping ``d`` of ``path``, named ``where`` in messages."""
        return _Section(self, path, where, d)

    # sections
    def plan(self, path, d) -> Plan:
        s = self.section(path, "plan", d)
        return Plan(
            id=s.text("id"),
            titre=s.text("titre"),
            departement=s.text("departement", default="62"),
            annee_debut=s.year("annee_debut"),
            annee_fin=s.year("annee_fin"),
            annee_reference=s.year("annee_reference"),
            source=s.text("source", required=False),
            facteur_plausibilite=s.factor("facteur_plausibilite", default=3.0),
            alias_pilotes=s.aliases("alias_pilotes"),
        )

    def axis(self, path, d):
        if not isinstance(d, dict):
            self.problems.append(f"{path.name} : axes : chaque axe est un dictionnaire (id, titre).")
            return None
        s = self.section(path, f"axe {d.get('id')!r}", d)
        return Axis(id=s.text("id"), titre=s.text("titre"))

    def structure(self, path, d):
        if not isinstance(d, dict):
            self.problems.append(f"{path.name} : structures : chaque structure est un dictionnaire.")
            return None
        s = self.section(path, f"structure {d.get('code')!r}", d)
        return Structure(
            code=s.text("code"),
            libelle=s.text("libelle"),
            type=s.choice("type", STRUCTURE_TYPES),
            arrondissement=(str(d["arrondissement"]) if d.get("arrondissement") else None),
            libelle_etat4001=d.get("libelle_etat4001"),
        )

    def plan_figure(self, path, d):
        if not isinstance(d, dict):
            self.problems.append(f"{path.name} : chiffres_plan : chaque chiffre est un dictionnaire "
                                 "(libelle, valeur, unite, annee).")
            return None
        s = self.section(path, f"chiffre du plan {d.get('libelle', '?')!r}", d)
        return PlanFigure(
            libelle=s.text("libelle"),
            valeur=s.number("valeur"),
            unite=s.text("unite"),
            annee=s.year("annee"),
            source=s.text("source", required=False, default="plan cadre"),
            lecture=s.choice("lecture", tuple(Reading), Reading.EXACTE),
        )

    def fiche(self, path, d, plan: Plan):
        if not isinstance(d, dict):
            self.problems.append(f"{path.name} : chaque fiche est un dictionnaire, trouvé {d!r}.")
            return None
        fid = self.section(path, "fiche ?", d).text("id")
        w = f"fiche {fid}"
        s = self.section(path, w, d)
        freq_raw = d.get("frequence") or {}
        if not isinstance(freq_raw, dict):
            s.err("frequence", "attendu {code, libelle}.")
            freq_raw = {}
        freq = Frequency(
            code=self.section(path, w, freq_raw).choice("code", FREQUENCY_CODES),
            libelle=str(freq_raw.get("libelle") or ""),
            debut=freq_raw.get("debut"),
            fin=freq_raw.get("fin"),
            annees=tuple(int(a) for a in freq_raw.get("annees") or ()),
        )
        indicators = []
        for i, raw in enumerate(d.get("indicateurs") or []):
            ind = self.indicator(path, w, fid, raw, i)
            if ind:
                indicators.append(ind)
        baselines = []
        for raw in d.get("etat_des_lieux") or []:
            sb = self.section(path, f"{w}, état des lieux {raw.get('libelle', '?')!r}", raw)
            baselines.append(Baseline(
                libelle=sb.text("libelle"),
                valeur=sb.number("valeur"),
                unite=sb.text("unite"),
                date=sb.date("date"),
                indicateur=_opt_str(raw.get("indicateur")),
                territoire=str(raw.get("territoire") or plan.departement),
                date_precisee=sb.flag("date_precisee", True),
                lecture=sb.choice("lecture", tuple(Reading), Reading.EXACTE),
            ))
        targets = []
        for raw in d.get("cibles") or []:
            st = self.section(path, f"{w}, cible {raw.get('libelle', '?')!r}", raw)
            if raw.get("echeance") is None:
                st.err("echeance", "une cible doit avoir une échéance (AAAA-MM-JJ).")
            targets.append(Target(
                libelle=st.text("libelle"),
                valeur=st.number("valeur"),
                unite=st.text("unite"),
                echeance=st.date("echeance", required=False),
                indicateur=_opt_str(raw.get("indicateur")),
                territoire=str(raw.get("territoire") or plan.departement),
                origine=st.choice("origine", tuple(Origin), Origin.PLAN),
                lecture=st.choice("lecture", tuple(Reading), Reading.EXACTE),
            ))
        milestones = []
        for raw in d.get("jalons") or []:
            sm = self.section(path, f"{w}, jalon {raw.get('id', '?')!r}", raw)
            milestones.append(Milestone(
                id=sm.text("id"),
                libelle=sm.text("libelle"),
                echeance=sm.date("echeance"),
                origine=sm.choice("origine", tuple(Origin), Origin.PLAN),
            ))
        return Fiche(
            id=fid,
            axe=s.text("axe"),
            titre=s.text("titre"),
            objectif=s.text("objectif"),
            nature=s.choice("nature", NATURES),
            pilotes=s.texts("pilotes"),
            pilote_court=s.text("pilote_court"),
            partenaires=s.texts("partenaires"),
            territoire=s.text("territoire"),
            frequence=freq,
            delais=s.text("delais", required=False),
            moyens=s.text("moyens", required=False),
            etat_des_lieux=tuple(baselines),
            cibles=tuple(targets),
            jalons=tuple(milestones),
            indicateurs=tuple(indicators),
            liens=tuple(str(x) for x in d.get("liens") or ()),
            remarques=d.get("remarques"),
            fichier=path.name,
        )

    def indicator(self, path, w, fid, d, index):
        if not isinstance(d, dict):
            self.problems.append(f"{path.name} : {w} : indicateur n°{index + 1} : attendu un dictionnaire.")
            return None
        iid = self.section(path, w, d).text("id")
        s = self.section(path, f"{w}, indicateur {iid}", d)
        itype = s.choice("type", INDICATOR_TYPES)
        ind = Indicator(
            id=iid,
            fiche=fid,
            libelle=s.text("libelle"),
            type=itype,
            unite=s.text("unite", required=itype in QUANTITATIVE_TYPES),
            sens=s.choice("sens", DIRECTIONS, default="hausse"),
            niveau=s.choice("niveau", LEVELS, default="departement"),
            source=s.choice("source", SOURCES, default="collecte"),
            personnes=bool(d.get("personnes", False)),
            serie=_opt_str(d.get("serie")),
            numerateur=_opt_str(d.get("numerateur")),
            base=d.get("base"),
            jalon=_opt_str(d.get("jalon")),
            libelle_numerateur=d.get("libelle_numerateur"),
            libelle_denominateur=d.get("libelle_denominateur"),
            territoires=tuple(str(t) for t in d.get("territoires") or ()),
            remarques=d.get("remarques"),
            origine=s.choice("origine", tuple(Origin), Origin.PLAN),
        )
        if not iid.startswith(fid + "."):
            s.err("id", f"l'id d'un indicateur commence par l'id de sa fiche ({fid}.N).")
        if itype == "taux" and (not ind.numerateur or not ind.base):
            s.err("numerateur", "un taux indique 'numerateur' (id d'un indicateur de "
                  "comptage) et 'base' (ex. 10000).")
        if itype == "jalon" and not ind.jalon:
            s.err("jalon", "un indicateur de type jalon indique l'id du jalon suivi.")
        if ind.source == "public" and not ind.serie:
            s.err("serie", "un indicateur de source publique indique sa série.")
        return ind

    def cross_checks(self, plan, axes, structures, fiches, fiches_raw):
        by_file = {f.id: f.fichier for f in fiches}
        pilots = sorted({f.pilote_court for f in fiches})
        for alias, pilot in plan.alias_pilotes if pilots else ():
            if pilot not in pilots:
                self.problems.append(f"plan.yaml : plan : champ 'alias_pilotes' : '{alias}' renvoie "
                                     f"à '{pilot}', qui n'est le pilote_court d'aucune fiche ; "
                                     f"pilotes du plan : {', '.join(pilots)}.")
        seen: dict[str, str] = {}
        for f in fiches:
            if f.id in seen:
                self.problems.append(f"{f.fichier} : fiche {f.id} : champ 'id' : identifiant en "
                                     f"double (déjà dans {seen[f.id]}).")
            seen[f.id] = f.fichier
        axis_ids = {a.id for a in axes}
        ind_ids: dict[str, str] = {}
        ms_ids: dict[str, str] = {}
        for f in fiches:
            for i in f.indicateurs:
                if i.id in ind_ids:
                    self.problems.append(f"{f.fichier} : fiche {f.id} : champ 'indicateurs' : "
                                         f"indicateur {i.id} en double.")
                ind_ids[i.id] = f.id
            for m in f.jalons:
                if m.id in ms_ids:
                    self.problems.append(f"{f.fichier} : fiche {f.id} : champ 'jalons' : "
                                         f"jalon {m.id} en double.")
                ms_ids[m.id] = f.id
        indicators = {i.id: i for f in fiches for i in f.indicateurs}
        for f in fiches:
            p = Path(f.fichier)
            w = f"fiche {f.id}"
            if f.axe not in axis_ids:
                self.err(p, w, "axe", f"axe {f.axe!r} absent de plan.yaml ({', '.join(sorted(axis_ids))}).")
            for target in f.liens:
                if target not in by_file:
                    self.err(p, w, "liens", f"renvoi à la fiche {target!r} qui n'existe pas.")
            for b in f.etat_des_lieux:
                if b.indicateur and b.indicateur not in indicators:
                    self.err(p, w, "etat_des_lieux", f"renvoi à l'indicateur {b.indicateur!r} inconnu.")
            for t in f.cibles:
                if t.indicateur and t.indicateur not in indicators:
                    self.err(p, w, "cibles", f"renvoi à l'indicateur {t.indicateur!r} inconnu.")
            for i in f.indicateurs:
                if i.numerateur and i.numerateur not in indicators:
                    self.err(p, f"{w}, indicateur {i.id}", "numerateur",
                             f"indicateur {i.numerateur!r} inconnu.")
                for code in i.territoires:
                    if not code.isdigit() and code not in {s.code for s in structures}:
                        self.err(p, f"{w}, indicateur {i.id}", "territoires",
                                 f"structure {code!r} absente de plan.yaml.")
                if i.jalon and i.jalon not in ms_ids:
                    self.err(p, f"{w}, indicateur {i.id}", "jalon", f"jalon {i.jalon!r} inconnu.")
            for m in f.jalons:
                if not m.id.startswith(f.id + "."):
                    self.err(p, f"{w}, jalon {m.id}", "id", f"l'id d'un jalon commence par {f.id}.")


@dataclass(frozen=True)
class _Section:
    """One YAML mapping being read: its file, its place in French ("fiche 2.10, cible …") and its
    keys. Each reader takes a key, records a French problem naming file, place and key when the
    value is wrong, and returns a usable default so that every problem is found in one pass."""

    validator: _Validator
    path: Path
    where: str
    data: dict

    def err(self, key: str, msg: str) -> None:
        self.validator.err(self.path, self.where, key, msg)

    def text(self, key, required=True, default=""):
        val = self.data.get(key)
        if val is None or (isinstance(val, str) and not val.strip()):
            if required:
                self.err(key, "obligatoire et absent.")
            return default
        if isinstance(val, (int, float)) and not isinstance(val, bool) and key in ("id", "axe"):
            self.err(key, f"l'identifiant {val!r} doit être écrit entre guillemets "
                          f"(\"{val}\") : sans guillemets, YAML le lit comme un nombre.")
            return str(val)
        if not isinstance(val, str):
            return str(val)
        return val.strip()

    def texts(self, key):
        val = self.data.get(key) or []
        if isinstance(val, str):
            return (val.strip(),)
        if not isinstance(val, list):
            self.err(key, "attendu une liste.")
            return ()
        return tuple(str(x).strip() for x in val)

    def number(self, key):
        val = self.data.get(key)
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            self.err(key, f"attendu un nombre (ex. 2.25), trouvé {val!r}.")
            return float("nan")
        return val

    def date(self, key, required=True):
        val = self.data.get(key)
        if val is None:
            if required:
                self.err(key, "date obligatoire (AAAA-MM-JJ).")
            return None
        if isinstance(val, dt.datetime):
            return val.date()
        if isinstance(val, dt.date):
            return val
        if isinstance(val, int) and 1900 < val < 2100:
            return dt.date(val, 12, 31)
        try:
            return dt.date.fromisoformat(str(val))
        except ValueError:
            self.err(key, f"date illisible {val!r} : attendu AAAA-MM-JJ.")
            return None

    def flag(self, key, default: bool) -> bool:
        """A boolean (``true``/``false`` in YAML); ``default`` after recording a problem."""
        val = self.data.get(key, default)
        if not isinstance(val, bool):
            self.err(key, f"attendu true ou false, trouvé {val!r}.")
            return default
        return val

    def choice(self, key, choices, default=None):
        val = self.data.get(key, default)
        if isinstance(val, StrEnum):  # a default given as a member: the plain French string
            val = val.value
        if val not in choices:
            near = difflib.get_close_matches(str(val), [str(c) for c in choices], n=1)
            hint = f" Vouliez-vous dire {near[0]!r} ?" if near else ""
            self.err(key, f"valeur {val!r} inconnue ; valeurs admises : "
                          f"{', '.join(choices)}.{hint}")
        return val

    def factor(self, key, default: float) -> float:
        """A factor above 1 (``default`` when absent)."""
        val = self.data.get(key, default)
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not val > 1:
            self.err(key, f"attendu un nombre supérieur à 1 (ex. 3 : une valeur triplée ou "
                          f"divisée par trois d'une année sur l'autre), trouvé {val!r}.")
            return default
        return float(val)

    def aliases(self, key) -> tuple[tuple[str, str], ...]:
        """``{alias: pilote_court}`` -> sorted ``(alias, pilote_court)`` pairs."""
        val = self.data.get(key) or {}
        if not isinstance(val, dict):
            self.err(key, "attendu un dictionnaire « nouveau nom: nom court du plan » (ex. "
                          "DDETS: DDCS).")
            return ()
        return tuple(sorted((str(k).strip(), str(v).strip()) for k, v in val.items()))

    def year(self, key):
        """A year such as 2019 (``referential.coerce_year``); 0 after recording the problem."""
        val = self.data.get(key)
        if val is None:
            self.err(key, "année obligatoire et absente (ex. 2019).")
            return 0
        try:
            return coerce_year(val)
        except ValueError:
            self.err(key, f"attendu une année (ex. 2019), trouvé {val!r}.")
            return 0


def _opt_str(val: Any) -> str | None:
    return None if val is None else str(val)


def suggest(value: str, choices: Iterable[str]) -> str | None:
    """The closest valid id to ``value`` (for "did you mean" hints), or None."""
    near = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.5)
    return near[0] if near else None


def load_for_command(args: Any) -> Referential | None:
    """The referential a command names (``--referentiel``, else the shipped one), or ``None`` after
    printing its French problem list on stderr (the command then exits 1)."""
    import sys

    try:
        return load_referential(getattr(args, "referentiel", None))
    except ReferentialError as exc:
        print(str(exc), file=sys.stderr)
        return None

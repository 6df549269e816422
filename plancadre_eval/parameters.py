"""Validation of notebook parameters, run in the first cell after the parameters cell.

Papermill's ``-p fiche_id 2.10`` turns the id into the float 2.1, which would silently evaluate
fiche 2.1 instead of 2.10. Ids must be passed with ``-r`` (raw string). Every error here is a plain
French sentence listing the valid values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import paths
from .provenance import display_path
from .referential import Fiche, Referential, coerce_year, load_referential


class UsageError(Exception):
    """Bad command line (unknown fiche, year outside the plan, unknown parameter...): exit 2."""


class InputError(Exception):
    """Invalid parameters, referential or data: exit 1. ``problems`` lists every message."""

    def __init__(self, problems: list[str] | str, title: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        text = "\n".join(self.problems)
        super().__init__(f"{title}\n{text}" if title else text)


class ParameterError(ValueError):
    """A notebook parameter is invalid; the message says what is valid and how to pass it."""


@dataclass(frozen=True)
class Settings:
    """Validated parameters of an evaluation notebook."""

    referential: Referential
    year: int
    data_dir: Path
    secret_threshold: int
    fiche: Fiche | None = None
    review_dir: Path | None = None


def check_fiche_id(fiche_id, referential: Referential) -> str:
    """The fiche id as a string, or a :class:`ParameterError` listing valid ids."""
    valid = ", ".join(referential.fiche_ids)
    if isinstance(fiche_id, bool) or isinstance(fiche_id, (int, float)):
        raise ParameterError(
            f"fiche_id doit être une chaîne de caractères, pas le nombre {fiche_id!r} : papermill "
            f"convertit « -p fiche_id 2.10 » en 2.1 (une autre fiche !). Passez l'identifiant avec "
            f"-r : papermill … -r fiche_id 2.10. Fiches valides : {valid}."
        )
    fiche_id = str(fiche_id).strip()
    if fiche_id not in referential.fiche_ids:
        raise ParameterError(
            f"fiche_id {fiche_id!r} inconnu. Fiches valides : {valid}. "
            f"(Passez l'identifiant avec -r : papermill … -r fiche_id 2.10.)"
        )
    return fiche_id


def check_year(year, referential: Referential) -> int:
    """The evaluated year as an int within the plan's years, or a :class:`ParameterError`."""
    years = referential.plan.years
    valid = ", ".join(str(y) for y in years)
    try:
        value = coerce_year(year)
    except ValueError:
        raise ParameterError(f"year {year!r} n'est pas une année. Années valides : {valid}.") from None
    if value not in years:
        raise ParameterError(f"year {value} est hors du plan. Années valides : {valid}.")
    return value


def check_threshold(secret_threshold) -> int:
    """:func:`secrecy.check_threshold` with a minimum of 1 (a page always masks small counts),
    as a :class:`ParameterError` naming the parameter."""
    try:
        from . import secrecy  # here, not at import: pandas stays out of a warm `run`

        return secrecy.check_threshold(secret_threshold, minimum=1)
    except ValueError as exc:
        raise ParameterError(f"secret_threshold : {exc}") from None


def validate(*, year, referentiel: str | None = None, data_dir: str | None = None,
             secret_threshold=5, fiche_id=None, revue: str | None = None) -> Settings:
    """Validate every parameter of a notebook at once and return typed :class:`Settings`.

    Relative paths are resolved against the project root, so the notebook runs from any folder.
    ``revue`` is the folder of the committee's records (``<année>.xlsx`` or ``.csv``); a folder
    that does not exist simply holds no record (pages say "non encore examinée par le comité").
    """
    ref_path = paths.resolve(referentiel, paths.default_referential())
    referential = load_referential(ref_path)
    data = paths.resolve(data_dir, paths.demo_dir())
    if not data.exists():
        raise ParameterError(f"data_dir {str(data_dir)!r} introuvable (dossier des fichiers de collecte).")
    settings = Settings(
        referential=referential,
        year=check_year(year, referential),
        data_dir=data,
        secret_threshold=check_threshold(secret_threshold),
        fiche=referential.fiche(check_fiche_id(fiche_id, referential)) if fiche_id is not None else None,
        review_dir=paths.resolve(revue) if revue else None,
    )
    return settings


# --- params files of the runner (params/<year>.yaml) ------------------------------------------

def load_params_file(path: Path) -> dict[str, Any]:
    """Read a ``params/<year>.yaml`` file: a mapping of parameter names to values."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError:
        raise UsageError(f"Fichier de paramètres introuvable : {path}. Donnez-en un avec "
                         f"--params FICHIER (modèle : params/2021.yaml).") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path} : YAML illisible ({' '.join(str(exc).split())[:200]}).") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path} : attendu des paires « nom: valeur » (un dictionnaire YAML).")
    return {str(k): v for k, v in data.items()}


def resolve_params(raw: dict[str, Any], *, year: int, declared: set[str], source: str,
                   data: str | None = None, referentiel: str | None = None,
                   root: Path, revue: str | None = None) -> dict[str, Any]:
    """Final parameters of a year: the file's values checked against the parameters the notebooks
    declare, ``--data`` / ``--referentiel`` overrides (paths given on the command line are relative
    to the current folder), paths normalised relative to the project root; ``--revue`` likewise."""
    params = dict(raw)
    unknown = sorted(k for k in params if k not in declared)
    if unknown:
        raise UsageError(f"{source} : paramètre(s) inconnu(s) {', '.join(map(repr, unknown))} ; "
                         f"paramètres déclarés par les notebooks : {', '.join(sorted(declared))}.")
    if "fiche_id" in params:
        raise UsageError(f"{source} : fiche_id est fixé par le runner pour chaque fiche ; "
                         f"choisissez des fiches avec --fiche.")
    if "year" in params and str(params["year"]).strip() != str(year):
        raise UsageError(f"{source} indique year: {params['year']}, différent de --year {year}.")
    params["year"] = year
    # paths handed to notebooks: relative to the project root when inside it, else absolute
    if data is not None:
        params["data_dir"] = display_path(Path(data).expanduser().resolve(), root, absolute=True)
    elif "data_dir" in params:
        params["data_dir"] = display_path(paths.resolve(str(params["data_dir"]), root, root=root), root,
                                          absolute=True)
    if revue is not None:
        params["revue"] = display_path(Path(revue).expanduser().resolve(), root, absolute=True)
    elif params.get("revue"):
        params["revue"] = display_path(paths.resolve(str(params["revue"]), root, root=root), root,
                                       absolute=True)
    if referentiel is not None:
        params["referentiel"] = display_path(Path(referentiel).expanduser().resolve(), root,
                                             absolute=True)
    elif "referentiel" in params:
        params["referentiel"] = display_path(paths.resolve(str(params["referentiel"]), root, root=root),
                                             root, absolute=True)
    if "secret_threshold" in params:
        try:
            params["secret_threshold"] = check_threshold(params["secret_threshold"])
        except ParameterError as exc:
            raise InputError(f"{source} : {exc}") from None
    return params


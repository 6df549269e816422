"""``plancadre-eval lab``: tweak one fiche's analysis in JupyterLab.

:func:`prepare_lab` writes into ``notebooks/exploration/`` (ignored by git, never rendered by
``run``) a copy of the fiche notebook with the year's parameters injected (papermill's
``injected-parameters`` cell, the same values ``run`` would use: ``params/<année>.yaml``, the fiche,
the year), and a copy of the fiche's complement when it has one; :func:`command_lab` then starts
JupyterLab on them, or prints the command with ``--no-launch``. A copy already there is kept as it
is (it may hold an analyst's work): delete it to start again from the project's notebooks.

What is worth keeping goes back into ``notebooks/complements/fiche-<id>.ipynb`` (shown in the fiche
page under "Analyses complémentaires") or into the library.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from . import paths
from .parameters import InputError, UsageError, load_params_file, resolve_params
from .runner.kernels import kernel_environment

#: Folder of the analysts' working copies, inside the notebooks folder (ignored by git).
EXPLORATION_DIR = "exploration"


def exploration_dir(root: Path | None = None) -> Path:
    """``notebooks/exploration/`` of the project (``root``: another project root)."""
    return (Path(root) / "notebooks" if root else paths.notebooks_dir()) / EXPLORATION_DIR


def lab_parameters(fiche_id: str, year: int, *, root: Path | None = None,
                   params_file: str | None = None) -> dict:
    """The parameters ``run`` gives the fiche's page for ``year``: ``params/<year>.yaml`` (or
    ``params_file``) checked like ``run`` does, plus ``fiche_id`` and ``year``."""
    from .referential import ReferentialError, load_referential
    from .runner.constants import NOTEBOOK_FILES
    from .runner.planning import notebook_parameters

    root = Path(root).resolve() if root else paths.project_root()
    pfile = Path(params_file).expanduser().resolve() if params_file else root / "params" / f"{year}.yaml"
    raw = load_params_file(pfile)
    declared = set(notebook_parameters(root / "notebooks" / NOTEBOOK_FILES["fiche"]))
    params = resolve_params({k: v for k, v in raw.items() if k in declared or k == "year"}, year=year,
                            declared=declared | {"year"}, source=str(pfile), root=root)
    try:
        referential = load_referential(paths.resolve(params["referentiel"], root=root)
                                       if params.get("referentiel") else None)
    except ReferentialError as exc:
        raise InputError(str(exc)) from None
    if str(fiche_id) not in referential.fiche_ids:
        raise UsageError(f"Fiche inconnue : {fiche_id}. Fiches du plan : "
                         f"{', '.join(referential.fiche_ids)}.")
    if year not in referential.plan.years:
        raise UsageError(f"L'année {year} est hors du plan ({referential.plan.annee_debut}-"
                         f"{referential.plan.annee_fin}).")
    return {**{k: v for k, v in params.items() if k in declared}, "fiche_id": str(fiche_id),
            "year": year}


def prepare_lab(fiche_id: str, year: int, *, root: Path | None = None,
                params_file: str | None = None) -> list[tuple[Path, bool]]:
    """Write the parameterized copies for ``fiche_id`` and ``year`` into
    ``notebooks/exploration/``: ``fiche-<id>-<année>.ipynb`` and, when the fiche has a complement,
    ``complement-fiche-<id>-<année>.ipynb``. Returns ``[(path, written)]`` (``written`` False:
    the copy was already there and is kept)."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from .runner.complements import complement_path
    from .runner.constants import NOTEBOOK_FILES

    root = Path(root).resolve() if root else paths.project_root()
    params = lab_parameters(fiche_id, year, root=root, params_file=params_file)
    fiche_nb = root / "notebooks" / NOTEBOOK_FILES["fiche"]
    sources = [(fiche_nb, f"fiche-{fiche_id}-{year}.ipynb")]
    complement = complement_path(fiche_nb, str(fiche_id))
    if complement is not None:
        sources.append((complement, f"complement-fiche-{fiche_id}-{year}.ipynb"))
    folder = exploration_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    done = []
    for source, name in sources:
        target = folder / name
        if target.exists():
            done.append((target, False))
            continue
        nb = load_notebook_node(str(source))  # papermill's reading (tags and metadata it expects)
        nb = parameterize_notebook(nb, dict(params))
        for cell in nb.cells:
            if not cell.metadata.get("tags"):
                cell.metadata.pop("tags", None)
            elif "injected-parameters" in cell.metadata["tags"]:
                cell["id"] = "parametres-injectes"  # papermill's id is random: a stable one
        nb.metadata.pop("papermill", None)
        nbformat.write(nb, target)
        done.append((target, True))
    return done


def lab_command(notebooks: list[Path], root: Path | None = None) -> list[str]:
    """The command that opens ``notebooks`` in JupyterLab (this environment's ``jupyter``)."""
    root = Path(root).resolve() if root else paths.project_root()
    rel = [str(p.resolve().relative_to(root)) if p.resolve().is_relative_to(root) else str(p)
           for p in notebooks]
    return [sys.executable, "-m", "jupyter", "lab", *rel]


def command_lab(args: argparse.Namespace) -> int:
    """``plancadre-eval lab --fiche ID --year Y [--no-launch]``: 0 ok, 1 bad input, 2 usage."""
    from .years import coerce_year

    try:
        year = coerce_year(args.year)
    except (TypeError, ValueError):
        print(f"plancadre-eval lab : erreur : --year {args.year!r} : attendu une année du plan "
              f"(par exemple 2021).", file=sys.stderr)
        return 2
    try:
        done = prepare_lab(str(args.fiche).strip(), year, params_file=args.params)
    except UsageError as exc:
        print(f"plancadre-eval lab : erreur : {exc}", file=sys.stderr)
        return 2
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    root = paths.project_root()
    for path, written in done:
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        print(f"{shown} : {'copie paramétrée écrite' if written else 'déjà présente, gardée telle quelle'}")
    command = lab_command([p for p, _ in done], root)
    if args.no_launch:
        print("Pour ouvrir JupyterLab :")
        print(f"  cd {shlex.quote(str(root))} && {shlex.join(command)}")
        return 0
    print(f"Lancement de JupyterLab ({shlex.join(command[2:])}) ; Ctrl-C pour l'arrêter.")
    try:
        # JupyterLab's kernels draw inline, whatever MPLBACKEND this shell sets (as `run` does).
        return subprocess.call(command, cwd=root, env=kernel_environment())
    except KeyboardInterrupt:
        return 0

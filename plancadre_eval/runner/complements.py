"""Per-fiche complements: ``notebooks/complements/fiche-<id>.ipynb``, an analysis kept for one
fiche, run after the fiche's own notebook and shown in its page under "Analyses complémentaires".

A complement has the fiche notebook's parameters cell (so that it runs alone, in JupyterLab or
under nbval, with the same defaults). For a page, :func:`combine` appends its cells to the fiche
notebook after a heading, without its parameters cell: papermill injects the page's parameters
once, at the top, and the complement runs in the same kernel right after the fiche's cells (its
variables, e.g. ``data``, are there). The page shows outputs only (tables, charts, markdown), never
code (:mod:`plancadre_eval.rendering`). A complement's SHA-256 is one of its fiche page's inputs
(``complement`` in ``manifest.json``): adding, editing or removing it re-renders that page only.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Folder of the complements, inside the notebooks folder.
COMPLEMENTS_DIR = "complements"
#: Heading put before a complement's outputs in the page.
COMPLEMENTS_HEADING = "## Analyses complémentaires"
COMPLEMENTS_INTRO = ("Analyses propres à cette fiche, ajoutées par les analystes "
                     "(`notebooks/complements/{name}`) ; leurs limites sont indiquées avec elles.")
#: Tag of the cells added by :func:`combine` (the heading), to find them in the executed notebook.
COMPLEMENT_TAG = "plancadre-complement"


def complement_name(fiche_id: str) -> str:
    """File name of a fiche's complement: ``fiche-2.6.ipynb``."""
    return f"fiche-{fiche_id}.ipynb"


def complement_path(fiche_notebook: str | os.PathLike, fiche_id: str) -> Path | None:
    """The complement of a fiche (``complements/fiche-<id>.ipynb`` beside the fiche notebook), or
    None when the fiche has none."""
    path = Path(fiche_notebook).parent / COMPLEMENTS_DIR / complement_name(fiche_id)
    return path if path.is_file() else None


def combine(fiche_nb, complement_nb, name: str):
    """The notebook a fiche page executes: the fiche notebook's cells, a heading
    (:data:`COMPLEMENTS_HEADING`), then the complement's cells except its parameters cell. Returns
    a new notebook (the inputs are left untouched)."""
    import copy

    import nbformat

    nb = copy.deepcopy(fiche_nb)
    heading = nbformat.v4.new_markdown_cell(
        COMPLEMENTS_HEADING + "\n\n" + COMPLEMENTS_INTRO.format(name=name),
        metadata={"tags": [COMPLEMENT_TAG]})
    heading.pop("id", None)
    nb.cells.append(heading)
    for cell in complement_nb.cells:
        if "parameters" in (cell.get("metadata", {}).get("tags") or []):
            continue
        nb.cells.append(copy.deepcopy(cell))
    for index, cell in enumerate(nb.cells):  # unique ids across both notebooks
        if "id" in cell or nb.nbformat_minor >= 5:
            cell["id"] = f"cellule-{index}"
    return nb

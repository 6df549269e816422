"""plancadre_eval.runner.complements: a fiche's complement notebook, run after the fiche's own
notebook, shown under "Analyses complémentaires", with its own cache key.

The runner tests reuse the small project of ``test_runner.py`` (fake pages, milliseconds); the
``slow`` tests execute the fixture notebooks with a real complement (plt.show, seaborn, a failure).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from html_support import Html
from plancadre_eval import paths
from plancadre_eval.runner.complements import (
    COMPLEMENTS_HEADING, combine, complement_name, complement_path,
)
from plancadre_eval.runner.page import execute_page
from plancadre_eval.runner.planning import notebook_parameters
from test_runner import NOTEBOOKS, Project, by_name, make_project, rendered

PARAMS_SOURCE = ('fiche_id: str = "1.1"  # fiche\nyear: int = 2021  # année\n'
                 'data_dir: str = "data/demo"  # données\nreferentiel: str = "ref"  # référentiel\n'
                 'secret_threshold: int = 5  # seuil\n')


def complement_nb(*sources: str) -> nbformat.NotebookNode:
    cells = [new_code_cell(PARAMS_SOURCE, metadata={"tags": ["parameters"]})]
    cells += [new_markdown_cell(s[3:]) if s.startswith("md:") else new_code_cell(s) for s in sources]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                            "display_name": "Python 3"}})
    for i, c in enumerate(nb.cells):
        c["id"] = f"c{i}"
    return nb


@pytest.fixture
def project(tmp_path) -> Project:
    """The small project, with its fiche notebook copied into ``notebooks/`` so that complements
    can sit beside it in ``notebooks/complements/``."""
    proj = Project(make_project(tmp_path / "projet"))
    nb_dir = proj.root / "notebooks"
    (nb_dir / "complements").mkdir(parents=True)
    proj.notebooks = {k: Path(shutil.copy(v, nb_dir / v.name)) for k, v in NOTEBOOKS.items()}
    return proj


def write_complement(proj: Project, fiche: str, nb) -> Path:
    path = proj.root / "notebooks" / "complements" / complement_name(fiche)
    nbformat.write(nb, path)
    return path


# --- combining ---------------------------------------------------------------------------------

def test_combine_appends_the_complement_after_a_heading_without_its_parameters_cell():
    fiche = nbformat.read(NOTEBOOKS["fiche"], as_version=4)
    comp = complement_nb("x = 1", "md:Texte")
    nb = combine(fiche, comp, "fiche-1.1.ipynb")
    n = len(fiche.cells)
    assert [c.source for c in nb.cells[:n]] == [c.source for c in fiche.cells]
    assert nb.cells[n].cell_type == "markdown" and nb.cells[n].source.startswith(COMPLEMENTS_HEADING)
    assert "fiche-1.1.ipynb" in nb.cells[n].source
    assert [c.source for c in nb.cells[n + 1:]] == ["x = 1", "Texte"]
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1
    assert len({c.id for c in nb.cells}) == len(nb.cells)
    nbformat.validate(nb)
    assert len(fiche.cells) == n and len(comp.cells) == 3  # inputs untouched


def test_complement_path_is_beside_the_fiche_notebook(tmp_path):
    nb = tmp_path / "evaluation_fiche.ipynb"
    assert complement_path(nb, "2.6") is None
    (tmp_path / "complements").mkdir()
    (tmp_path / "complements" / "fiche-2.6.ipynb").write_text("{}", encoding="utf-8")
    assert complement_path(nb, "2.6") == tmp_path / "complements" / "fiche-2.6.ipynb"
    assert complement_path(nb, "2.60") is None


def test_shipped_complements_declare_the_fiche_notebook_parameters():
    folder = paths.notebooks_dir() / "complements"
    shipped = sorted(folder.glob("fiche-*.ipynb"))
    assert shipped, "au moins un complément livré"
    fiche = notebook_parameters(paths.notebooks_dir() / "evaluation_fiche.ipynb")
    for path in shipped:
        declared = notebook_parameters(path)
        assert set(declared) == set(fiche), path.name
        assert declared["fiche_id"] == path.stem.removeprefix("fiche-"), path.name


# --- cache: a complement is an input of its fiche page only ------------------------------------

def test_adding_editing_removing_a_complement_re_renders_that_fiche_only(project):
    run = lambda: project.run(notebooks=project.notebooks)  # noqa: E731
    first = run()
    assert first.exit_code == 0
    path = write_complement(project, "2.10", complement_nb("print('complément')"))
    added = run()
    assert rendered(added) == ["fiche-2.10"]
    assert by_name(added)["fiche-2.10"].reason == "complément modifié"
    assert by_name(added)["synthese"].reason == "entrées inchangées"
    entry = project.manifest()["pages"]["fiche-2.10"]["entrees"]
    assert len(entry["complement"]) == 64
    assert "complement" not in project.manifest()["pages"]["fiche-1.1"]["entrees"]
    assert rendered(run()) == []
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_markdown_cell("Une remarque de plus."))
    nbformat.write(nb, path)
    assert rendered(run()) == ["fiche-2.10"]
    path.unlink()
    removed = run()
    assert rendered(removed) == ["fiche-2.10"]
    assert by_name(removed)["fiche-2.10"].reason == "complément modifié"


def test_the_page_task_names_the_complement(project):
    write_complement(project, "1.1", complement_nb("y = 2"))
    tasks = []

    def spy(task):
        tasks.append(task)
        from test_runner import fake_page
        return fake_page(task)

    project.run(notebooks=project.notebooks, page_function=spy)
    by_page = {t.name: t for t in tasks}
    assert by_page["fiche-1.1"].complement.endswith("complements/fiche-1.1.ipynb")
    assert by_page["fiche-2.10"].complement is None and by_page["synthese"].complement is None


# --- real kernels ------------------------------------------------------------------------------

PLOTS = (
    "import matplotlib.pyplot as plt\nimport seaborn as sns\n"
    "from plancadre_eval.evaluation import alt_text",
    "md:### Mon analyse",
    "plt.plot([2019, 2020, 2021], [3, 5, 4])\nplt.title('Courbe tracée par pyplot')\n"
    "plt.ylabel('une étiquette assez longue pour dépasser le cadre')\nplt.show()",
    "ax = sns.barplot(x=['Arras', 'Lens'], y=[3, 5], color='#0072B2')\n"
    "ax.set_title('Barres seaborn')",
    "fig, ax = plt.subplots()\nax.bar(['a'], [1])\n"
    "alt_text(fig, 'Texte donné par alt_text')",
)


@pytest.mark.slow
def test_real_complement_charts_appear_in_the_fiche_page_with_alt_text(project):
    write_complement(project, "2.10", complement_nb(*PLOTS))  # 1.1 switches to Agg itself
    result = project.run(notebooks=project.notebooks, page_function=execute_page, fiches=["2.10"])
    assert result.exit_code == 0, [r.error for r in result.failed]
    page = project.html("fiche-2.10").decode("utf-8")
    parsed = Html(page)
    head = page.index("Analyses complémentaires")
    assert head < page.index("Mon analyse")
    alts = [i["alt"] for i in parsed.imgs]
    for alt in ("Courbe tracée par pyplot", "Barres seaborn", "Texte donné par alt_text"):
        assert alts.count(alt) == 1, alts  # shown once (no duplicate from the inline backend)
    assert "&lt;Axes" not in page and "<Figure size" not in page and "plt.show" not in page
    executed = json.loads((project.year_dir / "fiche-2.10.ipynb").read_text(encoding="utf-8"))
    assert any("Mon analyse" in "".join(c["source"]) for c in executed["cells"])


@pytest.mark.slow
def test_real_failing_complement_fails_its_fiche_only(project):
    write_complement(project, "2.10", complement_nb("raise ValueError('complément cassé')"))
    result = project.run(notebooks=project.notebooks, page_function=execute_page,
                         fiches=["1.1", "2.10"])
    status = {r.name: r.status for r in result.records}
    assert status["fiche-2.10"] == "échec" and status["fiche-1.1"] == "ok"
    assert "complément cassé" in by_name(result)["fiche-2.10"].error["evalue"]
    assert not (project.year_dir / "fiche-2.10.html").exists()

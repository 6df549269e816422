"""The real notebooks, executed: every fiche page of one year rendered by the runner, and the
papermill float trap.

Slow (kernels): ``pytest -m slow tests/test_notebooks.py``. The year is rendered once per session,
with ``plancadre-eval run --year 2021 --jobs 2`` into a temporary outputs folder; set
``PLANCADRE_OUTPUTS`` to an outputs folder already rendered for 2021 to skip the rendering.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pytest
from html_support import Html

from plancadre_eval import schedule
from plancadre_eval.statuses import FicheStatus
from plancadre_eval.referential import load_referential

ROOT = Path(__file__).resolve().parents[1]
YEAR = 2021
FICHE_NOTEBOOK = ROOT / "notebooks" / "evaluation_fiche.ipynb"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def referential():
    return load_referential()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    """outputs/ with year 2021 rendered from the demo data (``PLANCADRE_OUTPUTS`` to reuse one)."""
    given = os.environ.get("PLANCADRE_OUTPUTS")
    if given:
        return Path(given)
    from plancadre_eval import cli

    out = tmp_path_factory.mktemp("sorties")
    code = cli.main(["run", "--year", str(YEAR), "--out", str(out), "--jobs", "2", "--quiet"])
    assert code == 0, f"plancadre-eval run a échoué (code {code}) ; voir {out}/{YEAR}/manifest.json"
    return out


def _page(outputs: Path, name: str) -> str:
    path = outputs / str(YEAR) / name
    assert path.exists(), f"{name} absent de {path.parent}"
    return path.read_text(encoding="utf-8")


def test_one_page_per_fiche_due_and_none_for_the_others(outputs, referential):
    due = schedule.due_fiches(referential, YEAR)
    pages = {p.name for p in (outputs / str(YEAR)).glob("fiche-*.html")}
    assert pages == {f"fiche-{f}.html" for f in due}
    # 1.3: « évaluations intermédiaires » (2020, 2021) and final (2022); 4.5: every three years
    assert "fiche-1.3.html" in pages and "fiche-4.5.html" not in pages


def test_every_fiche_page_shows_its_title_indicators_and_status(outputs, referential):
    problems = []
    for fiche_id in schedule.due_fiches(referential, YEAR):
        fiche = referential.fiche(fiche_id)
        raw = _page(outputs, f"fiche-{fiche_id}.html")
        page = Html(raw)
        name = f"fiche-{fiche_id}.html"
        if '<html lang="fr">' not in raw:
            problems.append(f"{name} : lang=\"fr\" absent")
        if f"<h1>Fiche {fiche_id} — {html.escape(fiche.titre, quote=False)}</h1>" not in raw:
            problems.append(f"{name} : titre h1 de la fiche absent")
        for ind in fiche.indicateurs:
            if html.escape(ind.libelle, quote=False) not in raw or ind.libelle not in page.text:
                problems.append(f"{name} : libellé de l'indicateur {ind.id} absent")
        if "&amp;amp;" in raw or "&amp;#x27;" in raw or "&amp;lt;" in raw:
            problems.append(f"{name} : texte échappé deux fois")
        if len(page.badges) != 1 or page.badges[0] not in tuple(FicheStatus):
            problems.append(f"{name} : statut de la fiche absent ({page.badges})")
        if "Données de démonstration" not in page.text:
            problems.append(f"{name} : avertissement « Données de démonstration » absent")
        if page.external:
            problems.append(f"{name} : ressources externes {page.external}")
        if page.headings[:1] != [1] or page.headings.count(1) != 1:
            problems.append(f"{name} : un seul h1, en premier ({page.headings[:3]})")
        if any(b > a + 1 for a, b in zip(page.headings, page.headings[1:])):
            problems.append(f"{name} : niveau de titre sauté {page.headings}")
        if any(not (i.get("alt") or "").strip() for i in page.imgs):
            problems.append(f"{name} : image sans texte de remplacement")
        if any(i.quantitative for i in fiche.indicateurs) and not page.imgs:
            problems.append(f"{name} : aucun graphique")
        if re.search(r"<pre|In \[|def |import ", page.text):
            problems.append(f"{name} : du code apparaît dans la page")
    assert problems == [], "\n".join(problems)


def test_the_synthesis_links_every_fiche_page_of_the_year(outputs, referential):
    raw = _page(outputs, "synthese.html")
    page = Html(raw)
    due = schedule.due_fiches(referential, YEAR)
    assert {f"fiche-{f}.html" for f in due} <= set(page.links)
    assert not {f"fiche-{f.id}.html" for f in referential.fiches if f.id not in due} & set(page.links)
    assert '<html lang="fr">' in raw and page.external == []
    assert page.headings[0] == 1 and page.headings.count(1) == 1
    assert page.imgs and all(i.get("alt", "").strip() for i in page.imgs)
    for status in tuple(FicheStatus):
        assert status.capitalize() in page.text  # the plan summary table counts every status


@pytest.mark.parametrize("parameters, message", [
    ({"fiche_id": 2.1}, "-r fiche_id 2.10"),          # papermill -p fiche_id 2.10 gives the float 2.1
    ({"fiche_id": "2.5", "year": 2030}, "Années valides : 2019, 2020, 2021, 2022"),
], ids=["identifiant-flottant", "annee-hors-plan"])
def test_invalid_parameters_stop_the_notebook_with_a_french_message(parameters, message, tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(str(FICHE_NOTEBOOK), str(tmp_path / "sortie.ipynb"),
                                   parameters=parameters, kernel_name="python3", progress_bar=False,
                                   cwd=str(ROOT), start_timeout=120)
    err = info.value
    assert err.ename == "ParameterError"
    assert message in err.evalue
    assert err.cell_index <= 2  # the validation cell, before any computation
    if parameters["fiche_id"] == 2.1:
        assert "2.10" in err.evalue and "pas le nombre 2.1" in err.evalue


def test_tracked_notebooks_have_no_outputs():
    """Notebooks are committed without outputs nor execution counts (``make setup`` declares the
    nbstripout git filter; this test catches a notebook committed without it)."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        listed = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("pas un dépôt git (archive) : rien à vérifier")
    tracked = listed
    assert any(p.startswith("notebooks/complements/") for p in tracked)
    dirty = []
    for rel in tracked:
        nb = json.loads((root / rel).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(rel)
                break
    assert dirty == []

"""params/<année>.yaml and the notebooks' parameters cells agree, and the notebooks stay thin.

papermill.inspect_notebook reads the cell tagged ``parameters``; every key of every params file must
be a parameter declared by the notebooks that receive it (the runner gives each notebook the keys it
declares: the fiche and synthesis notebooks receive them all, the diagnostic ``year`` and
``referentiel``). No kernel is started here.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import papermill
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PARAMS = sorted((ROOT / "params").glob("*.yaml"))
FICHE = "evaluation_fiche.ipynb"
SYNTHESIS = "synthese_annuelle.ipynb"
DIAGNOSTIC = "diagnostic_departemental.ipynb"
BILAN = "bilan_plan.ipynb"
#: Keys of a params file each notebook receives (the runner passes the keys a notebook declares).
RECEIVED = {FICHE: "all", SYNTHESIS: "all", DIAGNOSTIC: {"year", "referentiel"}}
#: Every notebook (the bilan receives its parameters from the runner, see test below).
ALL_NOTEBOOKS = list(RECEIVED) + [BILAN]
#: "name: type = default  # help", one parameter per line.
LINE = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*): (?P<type>str|int|float|bool) = (?P<default>\S.*?)  # "
                  r"(?P<help>\S.*)$")


def _nb(name: str) -> dict:
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _parameters_cell(name: str) -> dict:
    cells = [c for c in _nb(name)["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{name} : une seule cellule étiquetée « parameters » attendue"
    return cells[0]


def test_there_is_one_params_file_per_plan_year():
    assert [p.stem for p in PARAMS] == ["2019", "2020", "2021", "2022"]


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: p.name)
def test_every_key_of_a_params_file_is_declared_by_the_notebooks_that_receive_it(params):
    data = yaml.safe_load(params.read_text(encoding="utf-8"))
    assert set(data) == {"year", "data_dir", "referentiel", "secret_threshold", "revue"}
    assert data["year"] == int(params.stem)
    for name, received in RECEIVED.items():
        declared = papermill.inspect_notebook(str(NOTEBOOKS / name))
        keys = set(data) if received == "all" else set(received)
        assert keys <= set(declared), f"{params.name} -> {name} : non déclarés {keys - set(declared)}"
        for key in keys:
            value, expected = data[key], declared[key]["inferred_type_name"]
            assert type(value).__name__ == expected, (
                f"{params.name} : {key}={value!r} n'est pas du type {expected} déclaré par {name}")


def test_the_bilan_declares_its_period_and_the_keys_of_the_params_files_it_receives():
    from plancadre_eval.runner.bilan import SHARED_PARAMETERS

    declared = papermill.inspect_notebook(str(NOTEBOOKS / BILAN))
    assert set(declared) == {"first_year", "last_year", "linked_years", *SHARED_PARAMETERS}
    for params in PARAMS:
        data = yaml.safe_load(params.read_text(encoding="utf-8"))
        for key in SHARED_PARAMETERS:
            assert type(data[key]).__name__ == declared[key]["inferred_type_name"], (params.name, key)


def test_the_diagnostic_declares_only_what_it_uses():
    assert set(papermill.inspect_notebook(str(NOTEBOOKS / DIAGNOSTIC))) == {"year", "referentiel"}


def test_the_fiche_parameters_cell_is_exactly_the_documented_one():
    assert _source(_parameters_cell(FICHE)).splitlines() == [
        'fiche_id: str = "2.5"  # fiche à évaluer (passer avec -r : papermill … -r fiche_id 2.10)',
        "year: int = 2021  # année évaluée",
        'data_dir: str = "data/demo"  # dossier des fichiers de collecte',
        'referentiel: str = "data/referentiel/plan-cadre-2019-2022"  # référentiel du plan',
        "secret_threshold: int = 5  # effectifs de personnes masqués en dessous de ce seuil",
        'revue: str = "data/revue"  # dossier des revues du comité de pilotage (<année>.xlsx ou .csv)',
    ]
    synth = _source(_parameters_cell(SYNTHESIS)).splitlines()
    assert synth == _source(_parameters_cell(FICHE)).splitlines()[1:]


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_parameters_cells_have_one_typed_commented_line_per_parameter(name):
    cell = _parameters_cell(name)
    lines = [ln for ln in _source(cell).splitlines() if ln.strip()]
    declared = papermill.inspect_notebook(str(NOTEBOOKS / name))
    assert len(lines) == len(declared)
    for line in lines:
        m = LINE.match(line)
        assert m, f"{name} : ligne de paramètre mal formée : {line!r}"
        p = declared[m["name"]]
        assert p["inferred_type_name"] == m["type"] and p["help"] == m["help"]
        default = ast.literal_eval(m["default"])
        assert type(default).__name__ == m["type"], f"{name} : valeur par défaut de {m['name']}"


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_the_first_cell_after_the_parameters_validates_every_parameter(name):
    cells = _nb(name)["cells"]
    index = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    assert index == 0
    nxt = _source(cells[index + 1])
    tree = ast.parse(nxt)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and n.func.attr == "validate"]
    assert len(calls) == 1, f"{name} : la cellule qui suit les paramètres appelle parameters.validate"
    passed = {kw.arg for kw in calls[0].keywords}
    assert passed == set(papermill.inspect_notebook(str(NOTEBOOKS / name)))


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_notebooks_are_thin_stored_clean_nbformat_4_5(name):
    nb = _nb(name)
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    ids = [c["id"] for c in nb["cells"]]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        assert cell["outputs"] == [] and cell["execution_count"] is None
        tree = ast.parse(_source(cell))
        heavy = [type(n).__name__ for n in ast.walk(tree)
                 if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda, ast.For, ast.While,
                                   ast.ListComp, ast.DictComp, ast.GeneratorExp))]
        assert heavy == [], f"{name}, cellule {cell['id']} : calcul à déplacer dans la bibliothèque"
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        for imp in imports:
            module = imp.module if isinstance(imp, ast.ImportFrom) else imp.names[0].name
            assert module.startswith("plancadre_eval"), f"{name} : import de {module} dans un notebook"


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_markdown_headings_are_sections_below_the_library_h1(name):
    cells = _nb(name)["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            levels = [len(m) for m in re.findall(r"^(#+) ", _source(cell), flags=re.M)]
            assert all(level == 2 for level in levels), f"{name}, cellule {cell['id']} : titres ## seulement"
    first_md = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown")
    header = next(i for i, c in enumerate(cells) if c["cell_type"] == "code" and "_header(" in _source(c))
    assert header < first_md  # the h1 comes before any section heading

"""plancadre_eval.lab: parameterized working copies in notebooks/exploration/, the command."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from plancadre_eval import lab, paths
from plancadre_eval.parameters import UsageError

REAL_ROOT = paths.project_root()


@pytest.fixture
def root(tmp_path) -> Path:
    """A project root with the real notebooks (and complements) and params; data and the
    referential are the project's (paths in params are relative to the project root)."""
    r = tmp_path / "racine"
    shutil.copytree(REAL_ROOT / "notebooks", r / "notebooks",
                    ignore=shutil.ignore_patterns("exploration", ".ipynb_checkpoints"))
    shutil.copytree(REAL_ROOT / "params", r / "params")
    (r / "data").symlink_to(REAL_ROOT / "data")
    return r


def injected(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    return cells[0].source


def test_prepare_writes_parameterized_copies_of_the_fiche_and_its_complement(root):
    done = lab.prepare_lab("2.6", 2021, root=root)
    folder = root / "notebooks" / "exploration"
    assert done == [(folder / "fiche-2.6-2021.ipynb", True),
                    (folder / "complement-fiche-2.6-2021.ipynb", True)]
    for path, _ in done:
        source = injected(path)
        assert 'fiche_id = "2.6"' in source and "year = 2021" in source
        assert 'data/demo"' in source and "secret_threshold = 5" in source
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        nbformat.validate(nb)


def test_prepare_keeps_an_existing_copy_and_skips_missing_complements(root):
    first = lab.prepare_lab("2.5", 2021, root=root)
    assert [p.name for p, _ in first] == ["fiche-2.5-2021.ipynb"]  # 2.5 has no complement
    path = first[0][0]
    path.write_text(path.read_text(encoding="utf-8").replace("Statut de la fiche", "Mon travail"),
                    encoding="utf-8")
    again = lab.prepare_lab("2.5", 2021, root=root)
    assert again == [(path, False)]
    assert "Mon travail" in path.read_text(encoding="utf-8")


def test_prepare_refuses_unknown_fiche_and_year_outside_the_plan(root):
    with pytest.raises(UsageError, match="Fiche inconnue : 9.9"):
        lab.prepare_lab("9.9", 2021, root=root)
    with pytest.raises(UsageError, match="params/2031.yaml"):
        lab.prepare_lab("2.6", 2031, root=root)
    assert not (root / "notebooks" / "exploration").exists()


def test_command_without_launch_prints_the_jupyterlab_command(root, monkeypatch, capsys):
    monkeypatch.setenv("PLANCADRE_ROOT", str(root))
    args = argparse.Namespace(fiche="2.6", year="2021", params=None, no_launch=True)
    assert lab.command_lab(args) == 0
    out = capsys.readouterr().out
    assert "notebooks/exploration/fiche-2.6-2021.ipynb : copie paramétrée écrite" in out
    assert "-m jupyter lab notebooks/exploration/fiche-2.6-2021.ipynb " \
           "notebooks/exploration/complement-fiche-2.6-2021.ipynb" in out
    assert lab.command_lab(argparse.Namespace(fiche="2.6", year="vingt", params=None,
                                              no_launch=True)) == 2


def test_exploration_folder_is_ignored_by_git_and_nbval():
    assert "notebooks/exploration/" in (REAL_ROOT / ".gitignore").read_text(encoding="utf-8")
    conftest = (REAL_ROOT / "notebooks" / "conftest.py").read_text(encoding="utf-8")
    assert 'collect_ignore_glob = ["exploration/*"]' in conftest


@pytest.mark.slow
@pytest.mark.parametrize("fiche", ["2.6"])
def test_the_prepared_notebooks_run_as_they_are(root, fiche, tmp_path, monkeypatch):
    """As JupyterLab would: no parameters given, the working folder is notebooks/exploration/, and
    the kernel's environment is the one `lab` gives JupyterLab (no MPLBACKEND forced by CI)."""
    import papermill

    from plancadre_eval.runner.kernels import kernel_environment

    for name in set(os.environ) - set(kernel_environment()):
        monkeypatch.delenv(name)

    for path, _ in lab.prepare_lab(fiche, 2021, root=root):
        out = tmp_path / path.name
        papermill.execute_notebook(str(path), str(out), kernel_name="python3", progress_bar=False,
                                   cwd=str(path.parent))
        nb = nbformat.read(out, as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors
        images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        if path.name.startswith("complement"):
            assert images and all(o["metadata"]["image/png"]["alt"] != "Graphique" for o in images)

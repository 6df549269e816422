"""The helpers of ``make bench`` (the bench itself takes minutes and is not a test)."""

from __future__ import annotations

import os
import subprocess
import sys

from plancadre_eval import bench


def test_change_one_value_adds_one_to_the_first_integer_and_keeps_the_rest(tmp_path):
    f = tmp_path / "fiche-1.1.csv"
    raw = "\ufefffiche;indicateur;annee;territoire;valeur\r\n1.1;1.1.1;2022;62;\"1 030\"\r\n1.1;1.1.2;2022;62;41\r\n"
    f.write_bytes(raw.encode("utf-8"))
    said = bench.change_one_value(f)
    assert said == "fiche-1.1.csv, ligne 3 : valeur 41 -> 42"
    assert f.read_bytes() == raw.replace(";41\r\n", ";42\r\n").encode("utf-8")


def test_tree_rss_counts_a_process_with_its_children():
    import time

    alone = bench._tree_rss([os.getpid()])[os.getpid()]
    child = subprocess.Popen([sys.executable, "-c",
                              "import time; x = bytearray(b'1' * 50_000_000); time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with_child = bench._tree_rss([os.getpid()])[os.getpid()]
            if with_child >= alone + 40_000_000:
                break
            time.sleep(0.2)
        assert with_child >= alone + 40_000_000  # the child's 50 MB are counted
    finally:
        child.kill()
        child.wait()
    assert bench._tree_rss([2**22 + 12345]) == {}  # a process that does not exist: nothing


def test_code_cells_counts_the_code_cells_parameters_included(tmp_path):
    import json

    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "a = 1"},
                    {"cell_type": "markdown", "metadata": {}, "source": "## Titre"},
                    {"cell_type": "code", "metadata": {}, "source": "a"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert bench.code_cells(path) == 2


def test_machinery_floor_executes_and_renders_pages_that_compute_nothing(tmp_path):
    import json

    from plancadre_eval import paths

    res = bench.machinery_floor(2, 3, jobs=1, root=paths.project_root(), folder=tmp_path)
    assert res["echecs"] == 0
    assert res["secondes"] > 0 and res["cpu_processus"] > 0
    nb = json.loads((tmp_path / "plancher.ipynb").read_text(encoding="utf-8"))
    assert [c["cell_type"] for c in nb["cells"]] == ["code"] * 3
    assert nb["cells"][0]["metadata"]["tags"] == ["parameters"]
    assert ["".join(c["source"]) for c in nb["cells"][1:]] == ["x0 = 0", "x1 = 1"]


def test_floor_option_refuses_a_malformed_size(capsys):
    assert bench.main(["--plancher", "37y19"]) == 2
    assert "PAGESxCELLULES" in capsys.readouterr().err
    assert bench.main(["--plancher", "4x0"]) == 2  # a notebook needs its parameters cell
    assert "d'au moins 1" in capsys.readouterr().err


def test_spread_takes_evenly_spaced_items_from_first_to_last():
    items = [f"f{i}" for i in range(35)]
    assert bench.spread(items, 6) == ["f0", "f7", "f14", "f20", "f27", "f34"]
    assert bench.spread(items, 1) == ["f0"]
    assert bench.spread(items, 40) == items
    assert bench.spread(["a", "b"], 2) == ["a", "b"]
    import pytest

    with pytest.raises(ValueError):
        bench.spread(items, 0)

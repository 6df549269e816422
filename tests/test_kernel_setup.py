"""runner/kernel_setup.py on its own: after ``setup()``, ``restore()`` puts back what a notebook
changes (working folder, environment, sys.path, warning filters, matplotlib rcParams, pandas
options) and forgets the modules imported from the project folder, not the library.

Run in a child Python (``restore()`` changes the process it runs in), started in a temporary
project folder holding a module ``effet_local.py``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from plancadre_eval.runner import kernel_setup
from plancadre_eval.runner.kernels import setup_code

CHILD = textwrap.dedent('''
    import gc, json, os, sys, warnings
    import matplotlib
    import pandas
    sys.path.insert(0, os.getcwd())
    from plancadre_eval.runner.kernel_setup import setup
    setup()
    pool = sys.modules["_plancadre_pool"]
    before = (os.getcwd(), dict(os.environ), list(sys.path), len(warnings.filters),
              matplotlib.rcParams["lines.linewidth"], pandas.get_option("display.max_rows"),
              gc.get_threshold())
    frozen = gc.get_freeze_count()

    # what a notebook may do
    import effet_local
    os.makedirs("sous-dossier", exist_ok=True)
    os.chdir("sous-dossier")
    os.environ["PLANCADRE_TEST_VARIABLE"] = "1"
    sys.path.append("/ailleurs")
    warnings.simplefilter("ignore")
    matplotlib.rcParams["lines.linewidth"] = 7.5
    pandas.set_option("display.max_rows", 3)
    gc.set_threshold(1, 1, 1)
    changed = (os.getcwd(), "PLANCADRE_TEST_VARIABLE" in os.environ, "/ailleurs" in sys.path,
               matplotlib.rcParams["lines.linewidth"], pandas.get_option("display.max_rows"))

    pool.restore()
    after = (os.getcwd(), dict(os.environ), list(sys.path), len(warnings.filters),
             matplotlib.rcParams["lines.linewidth"], pandas.get_option("display.max_rows"),
             gc.get_threshold())
    print(json.dumps({
        "same": before == after,
        "changed": [changed[0] != before[0], changed[1], changed[2], changed[3], changed[4]],
        "project_module_forgotten": "effet_local" not in sys.modules,
        "library_kept": "plancadre_eval.runner.kernel_setup" in sys.modules,
        "pandas_kept": "pandas" in sys.modules,
        "linewidth": after[4], "max_rows": after[5],
        "thresholds": list(after[6]), "frozen": frozen,
    }))
''')


def test_restore_puts_back_what_a_notebook_changed(tmp_path):
    (tmp_path / "effet_local.py").write_text("VALEUR = 1\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", CHILD], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["changed"] == [True, True, True, 7.5, 3]
    assert report["same"] is True
    assert report["project_module_forgotten"] is True
    assert report["library_kept"] is True and report["pandas_kept"] is True
    assert report["max_rows"] != 3 and report["linewidth"] != 7.5
    # the warm-up's objects are out of the collector's way, collections rarer, kept so
    assert report["frozen"] > 10_000 and report["thresholds"] == [50_000, 20, 100]


def test_the_kernel_receives_the_module_source_then_setup():
    code = setup_code()
    source = Path(kernel_setup.__file__).read_text(encoding="utf-8")
    assert code.startswith(source)
    assert code.endswith("\nsetup()\ndel setup\n")
    tree = ast.parse(code)  # one cell of valid Python: no __future__ import (only legal first)
    assert not any(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in ast.walk(tree))

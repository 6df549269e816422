"""What the evaluation pages show, assembled for the notebooks (which stay thin): one module per page.

- :mod:`.fiche` — ``notebooks/evaluation_fiche.ipynb`` (one fiche and one year);
- :mod:`.synthesis` — ``notebooks/synthese_annuelle.ipynb`` (the year's review for the steering
  committee);
- :mod:`.diagnostic` — ``notebooks/diagnostic_departemental.ipynb`` (public statistics of fiche 4.5);
- :mod:`.bilan` — ``notebooks/bilan_plan.ipynb`` (the plan over several years);
- :mod:`.yearly` — the year-over-year sections of the fiche page and of the synthesis;

and what they share: :mod:`.context` (inputs loaded once per notebook and reused by a warm kernel:
:func:`load_context`, :class:`Context` with its one :class:`~plancadre_eval.engine.Engine`) and
:mod:`.html` (HTML fragments, value texts, provenance). A notebook imports its page module, e.g.
``from plancadre_eval.evaluation import fiche as evaluation``; every page module also exposes
``load_context``.

Every number shown comes from the engine, **after statistical secrecy**: masked values arrive empty
with ``diffusion == "secret"`` and are written "secret". Numbers and dates are written by
:mod:`plancadre_eval.formatting`; figures come from :mod:`plancadre_eval.charts` and are embedded
with a French text alternative. In a notebook, the figures an analyst draws (``plt.show()``, a
figure as a cell's last value, seaborn) are shown with their alt text too
(:mod:`plancadre_eval.notebook_figures`, :func:`alt_text`).
"""

import sys

from ..notebook_figures import alt_text
from .context import Context, load_context

__all__ = ["Context", "alt_text", "load_context"]

if "IPython" in sys.modules:  # in a notebook: plt.show() and figures shown with their alt text
    from ..notebook_figures import install

    install()

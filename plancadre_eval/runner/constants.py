"""Fixed values of the runner: notebook files, kernel settings, manifest format, the statuses and
cache decisions (French: shown in the summary and the manifest)."""

from __future__ import annotations

KERNEL_NAME = "python3"
#: Notebook file of each kind of page, in ``notebooks/``.
NOTEBOOK_FILES = {
    "fiche": "evaluation_fiche.ipynb",
    "synthese": "synthese_annuelle.ipynb",
    "diagnostic": "diagnostic_departemental.ipynb",
    "bilan": "bilan_plan.ipynb",
}
#: The diagnostic is rendered when this fiche is due (it is the fiche's departmental diagnostic).
DIAGNOSTIC_FICHE = "4.5"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
#: Modules imported once in every pooled kernel, before its first notebook (missing ones are
#: skipped): the heavy third-party libraries and the library modules the notebooks use. Not
#: openpyxl (0.25 s): only a collection or review in .xlsx needs it, and it is then imported once.
DEFAULT_WARM_MODULES = (
    "numpy", "pandas", "matplotlib", "matplotlib.pyplot", "yaml", "IPython.display",
    "plancadre_eval.parameters", "plancadre_eval.evaluation", "plancadre_eval.charts",
    "plancadre_eval.collection", "plancadre_eval.territories", "plancadre_eval.public_data",
    "plancadre_eval.indicators", "plancadre_eval.secrecy", "plancadre_eval.formatting",
)
DEFAULT_START_TIMEOUT = 180  # s; generous: on 2 cores several kernels start at once
DEFAULT_CELL_TIMEOUT = 1800  # s per cell; a hung cell fails its page, not the run

# Cache decisions and reasons, as shown in the summary and the manifest.
CACHE_REUSED = "réutilisé"
CACHE_RENDERED = "re-rendu"
STATUS_OK = "ok"
STATUS_FAILED = "échec"
REASON_MISSING = "page absente"
REASON_FORCE = "--force"
REASON_FAILED_BEFORE = "échec précédent"
REASON_NOTEBOOK = "notebook modifié"
REASON_PARAMS = "paramètres modifiés"
REASON_REFERENTIAL = "référentiel modifié"
REASON_LIBRARY = "bibliothèque modifiée"
REASON_DATA = "données modifiées"
REASON_COMPLEMENT = "complément modifié"
REASON_UNCHANGED = "entrées inchangées"
REASON_INVALID_DATA = "données de la fiche invalides, page non produite"
#: ``ename`` of a page failed by its collection files' problems (never rendered).
ERROR_INVALID_DATA = "Données invalides"

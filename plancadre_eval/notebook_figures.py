"""How the figures an analyst draws in a notebook appear in the page: ``plt.show()``, a
:class:`~matplotlib.figure.Figure` as a cell's last value and seaborn plots are shown as PNG images,
never cropped (``bbox_inches="tight"``), with a French text alternative.

:func:`install` registers, in the running IPython (a notebook kernel, JupyterLab, nbval), one display
function for :class:`~matplotlib.figure.Figure`: IPython consults it before any other formatter, so
the inline backend's ``plt.show()`` and end-of-cell display, and the display of a cell's last
value, all go through it. The image output carries its alt text in its metadata
(``{"image/png": {"alt": …}}``), which the page template writes in ``<img alt="…">``
(:mod:`plancadre_eval.rendering`). The alt text is the one given by :func:`alt_text`, else the
figure's title (``suptitle``, else the titles of its axes), else "Graphique".

The library's own charts (:mod:`plancadre_eval.charts`) do not go through this: they are embedded
as HTML with their own alt text and caption. Importing :mod:`plancadre_eval.evaluation` calls
:func:`install` when it runs inside IPython; outside IPython nothing happens.
"""

from __future__ import annotations

import base64
import io
from typing import Any

#: Attribute of a figure holding the alt text given by :func:`alt_text`.
ALT_ATTRIBUTE = "_plancadre_alt"
#: Alt text of a figure with no title and none given.
DEFAULT_ALT = "Graphique"
#: Resolution of the images drawn in notebooks (the inline backend's default is 72).
DPI = 100


def alt_text(fig: Any, text: str) -> Any:
    """Give a figure (or a seaborn grid, or an axes) its French text alternative; returns the
    figure, so that ``alt_text(fig, "…")`` can be a cell's last value."""
    fig = _figure_of(fig)
    if not str(text or "").strip():
        raise ValueError("Texte de remplacement vide : décrivez le graphique en une phrase.")
    setattr(fig, ALT_ATTRIBUTE, " ".join(str(text).split()))
    return fig


def _figure_of(obj: Any):
    from matplotlib.figure import Figure, SubFigure

    if isinstance(obj, (Figure, SubFigure)):
        return obj
    for attr in ("figure", "fig"):  # Axes, seaborn FacetGrid / JointGrid / PairGrid
        fig = getattr(obj, attr, None)
        if fig is not None:
            return fig
    raise TypeError(f"alt_text attend une figure matplotlib (reçu {type(obj).__name__}).")


def figure_alt(fig: Any) -> str:
    """The alt text of a figure: given by :func:`alt_text`, else its ``suptitle``, else the titles
    of its axes joined by " ; ", else :data:`DEFAULT_ALT`."""
    given = getattr(fig, ALT_ATTRIBUTE, None)
    if given:
        return str(given)
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text().strip():
        return " ".join(sup.get_text().split())
    titles = []
    for ax in fig.get_axes():
        for loc in ("center", "left", "right"):
            text = ax.get_title(loc=loc).strip()
            if text:
                titles.append(" ".join(text.split()))
    return " ; ".join(titles) if titles else DEFAULT_ALT


def figure_png(fig: Any, dpi: int = DPI) -> bytes:
    """The whole figure as PNG bytes: the bounding box is fitted to what is drawn (labels and
    legends are never cut), no software tag or date (same figure, same bytes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fig.canvas is None or not hasattr(fig.canvas, "print_png"):
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def display_figure(fig: Any) -> bool:
    """Publish a figure as an image output with its alt text (IPython's display function for
    :class:`~matplotlib.figure.Figure`); returns True (displayed).

    A figure made with pyplot is then closed (as the inline backend does at the end of a cell), so
    that a figure shown as a cell's last value is not shown a second time by the inline backend."""
    import sys

    from IPython.display import publish_display_data

    data = base64.b64encode(figure_png(fig)).decode("ascii")
    w, h = fig.get_size_inches()
    publish_display_data(
        data={"image/png": data, "text/plain": f"<Figure {int(w * DPI)}x{int(h * DPI)}>"},
        metadata={"image/png": {"alt": figure_alt(fig)}},
    )
    pyplot = sys.modules.get("matplotlib.pyplot")
    number = getattr(fig, "number", None)
    if pyplot is not None and number is not None and pyplot.fignum_exists(number) \
            and pyplot.figure(number) is fig:
        pyplot.close(fig)
    return True


def install(ip: Any = None) -> bool:
    """Register :func:`display_figure` for matplotlib figures in IPython (``ip``, default the
    running one). Returns False outside IPython."""
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with ipykernel
            return False
        ip = get_ipython()
    if ip is None or not hasattr(ip, "display_formatter"):
        return False
    from matplotlib.figure import Figure

    ip.display_formatter.ipython_display_formatter.for_type(Figure, display_figure)
    return True

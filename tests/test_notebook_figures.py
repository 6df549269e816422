"""plancadre_eval.notebook_figures: alt text of the figures drawn in notebooks, PNG never cropped,
IPython display registration."""

from __future__ import annotations

import io

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from plancadre_eval import notebook_figures as nf


def new_fig() -> Figure:
    fig = Figure(figsize=(3, 2), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def test_alt_is_given_text_then_suptitle_then_axes_titles_then_default():
    fig = new_fig()
    assert nf.figure_alt(fig) == nf.DEFAULT_ALT == "Graphique"
    a, b = fig.subplots(1, 2)
    a.set_title("Places")
    b.set_title("Femmes\naccueillies", loc="left")
    assert nf.figure_alt(fig) == "Places ; Femmes accueillies"
    fig.suptitle("Hébergement  en 2021")
    assert nf.figure_alt(fig) == "Hébergement en 2021"
    assert nf.alt_text(fig, "Deux graphiques  côte à côte") is fig
    assert nf.figure_alt(fig) == "Deux graphiques côte à côte"


def test_alt_text_accepts_axes_and_grids_and_refuses_empty_text():
    fig = new_fig()
    ax = fig.subplots()

    class Grid:  # a seaborn FacetGrid has .figure
        figure = fig

    nf.alt_text(ax, "par les axes")
    assert nf.figure_alt(fig) == "par les axes"
    nf.alt_text(Grid(), "par la grille")
    assert nf.figure_alt(fig) == "par la grille"
    with pytest.raises(ValueError, match="Texte de remplacement vide"):
        nf.alt_text(fig, "  ")
    with pytest.raises(TypeError, match="figure matplotlib"):
        nf.alt_text("pas une figure", "x")


def test_png_is_never_cropped_and_is_stable():
    from matplotlib.image import imread

    fig = new_fig()
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_ylabel("une étiquette très longue placée hors du cadre de la figure", labelpad=40)
    png = nf.figure_png(fig)
    assert png == nf.figure_png(fig)
    assert b"Software" not in png
    width = imread(io.BytesIO(png)).shape[1]
    assert width > 300  # the bounding box grew to hold the label (the figure is 300 px wide)


class _Formatter:
    def __init__(self):
        self.printers = {}

    def for_type(self, typ, func):
        self.printers[typ] = func


class _Shell:
    def __init__(self):
        self.display_formatter = type("F", (), {"ipython_display_formatter": _Formatter()})()


def test_install_registers_the_display_for_figures_only_in_ipython(monkeypatch):
    shell = _Shell()
    assert nf.install(shell) is True
    assert shell.display_formatter.ipython_display_formatter.printers[Figure] is nf.display_figure
    monkeypatch.setattr("IPython.get_ipython", lambda: None)
    assert nf.install() is False


def test_display_publishes_png_with_alt_metadata(monkeypatch):
    published = []
    monkeypatch.setattr("IPython.display.publish_display_data",
                        lambda data, metadata: published.append((data, metadata)))
    fig = new_fig()
    fig.subplots().set_title("Titre du graphique")
    assert nf.display_figure(fig) is True
    data, metadata = published[0]
    assert set(data) == {"image/png", "text/plain"}
    assert metadata == {"image/png": {"alt": "Titre du graphique"}}

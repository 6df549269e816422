"""Figures: what is drawn (target line, secret cells, milestone markers…), French labels, and the
deterministic HTML <figure> with its text alternative."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import struct

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from html_support import Html
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from plancadre_eval import charts
from plancadre_eval.formatting import NBSP


def _lines(fig: Figure):
    return [ln for ax in fig.axes for ln in ax.get_lines()]


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def _png_chunks(png: bytes) -> list[bytes]:
    pos, kinds = 8, []
    while pos < len(png):
        length = struct.unpack(">I", png[pos:pos + 4])[0]
        kinds.append(png[pos + 4:pos + 8])
        pos += 12 + length
    return kinds


SERIES = pd.DataFrame({"annee": [2018, 2019, 2020, 2021], "valeur": [850.0, float("nan"), 990.0, 1030.0]})


# --- year positions ----------------------------------------------------------------------------

def test_year_position_puts_31_december_on_the_year_and_mid_year_half_way():
    assert charts.year_position(dt.date(2022, 12, 31)) == 2022.0
    assert charts.year_position(dt.date(2020, 6, 30)) == pytest.approx(2019 + 182 / 366)  # leap year
    assert charts.year_position(dt.date(2019, 1, 1)) == pytest.approx(2018 + 1 / 365)


# --- indicator over time ------------------------------------------------------------------------

def test_indicator_chart_draws_values_with_a_gap_and_the_target_dashed_to_its_deadline():
    fig = charts.indicator_chart(SERIES, title="", unit="femmes", decimals=0, years=(2018, 2021),
                                 target=1200, target_date=dt.date(2022, 12, 31))
    assert isinstance(fig, Figure)
    lines = _lines(fig)
    values = lines[0]
    assert list(values.get_xdata()) == [2018, 2019, 2020, 2021]
    assert math.isnan(values.get_ydata()[1])  # missing year: a gap, not a zero
    dashed = [ln for ln in lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1
    assert list(dashed[0].get_ydata()) == [1200, 1200]
    assert dashed[0].get_xdata()[-1] == 2022.0  # up to the deadline
    ax = fig.axes[0]
    assert ax.get_xlim()[1] > 2022  # the axis is extended to show the deadline
    assert ax.get_xlabel() == "Année" and ax.get_ylabel() == "femmes"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Pas-de-Calais", f"cible : 1{NBSP}200 (31 décembre 2022)"]
    # values written on the points in French
    assert _texts(fig) == ["850", "990", f"1{NBSP}030"]


def test_indicator_chart_tick_labels_are_french_numbers():
    series = pd.DataFrame({"annee": [2020, 2021], "valeur": [2.25, 12500.0]})
    fig = charts.indicator_chart(series, title="", unit="jours", decimals=2)
    ax = fig.axes[0]
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all("." not in lab and "," not in lab for lab in labels)  # integer ticks
    assert any(NBSP in lab for lab in labels)  # thousands separator


def test_indicator_chart_marks_the_plan_baseline_with_a_hollow_marker():
    fig = charts.indicator_chart(SERIES, title="", unit="femmes", years=(2018, 2021),
                                 baseline=800, baseline_date=dt.date(2019, 1, 1))
    hollow = [ln for ln in _lines(fig) if ln.get_markerfacecolor() == "white"]
    assert len(hollow) == 1 and list(hollow[0].get_ydata()) == [800]


# --- territories ------------------------------------------------------------------------------

def test_territory_bars_never_draw_a_secret_or_missing_value():
    table = pd.DataFrame({"territoire": ["621", "622", "623"], "nom": ["Arras", "Béthune", "Lens"],
                          "valeur": [float("nan"), 12.0, float("nan")],
                          "diffusion": ["secret", "public", "public"]})
    fig = charts.territory_bars(table, title="", unit="femmes", decimals=0, target={"622": 20})
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert widths == [0, 12, 0]
    assert _texts(fig) == ["secret", "12", "non déclaré"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Arras", "Béthune", "Lens"]
    # first territory on top
    assert [p.get_y() + p.get_height() / 2 for p in ax.patches] == [2, 1, 0]
    diamonds = [ln for ln in _lines(fig) if ln.get_marker() == "D"]
    assert list(diamonds[0].get_xdata()) == [20.0] and list(diamonds[0].get_ydata()) == [1]


def _square(x0: float, y0: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x0 + 1, y0), (x0 + 1, y0 + 1), (x0, y0 + 1)]


BOUNDS = {"621": [_square(0, 50)], "622": [_square(1, 50), _square(3, 50)], "627": [_square(2, 50)]}
NAMES = {"621": "Arras", "622": "Béthune", "627": "Lens"}


def test_arrondissement_map_draws_every_ring_and_writes_each_value():
    fig = charts.arrondissement_map({"621": 2.5, "622": 4, "627": None}, BOUNDS, NAMES,
                                    title="Accueils", unit="accueils", secret={"622"})
    polygons = [p for p in fig.axes[0].patches if isinstance(p, Polygon)]
    assert len(polygons) == 4
    hatched = [p for p in polygons if p.get_hatch()]
    assert len(hatched) == 3  # Béthune (secret, 2 rings) and Lens (no value)
    assert sorted(_texts(fig)) == ["Arras\n2,5", "Béthune\nsecret", "Lens\nnon déclaré"]
    # the map spans its outlines (limits from the vertices, each x scaled by cos(latitude))
    k = math.cos(math.radians(50.5))
    (x0, y0), (x1, y1) = fig.axes[0].dataLim.get_points()
    assert (x0, y0, y1) == (0.0, 50.0, 51.0) and x1 == pytest.approx(4 * k)


def test_maps_panel_has_one_map_per_dispositif():
    fig = charts.maps_panel([("Accueils", {"621": 1}, "accueils"), ("Places", {"627": 3}, "places"),
                             ("Postes", {}, "postes")], BOUNDS, NAMES, decimals=0)
    assert len(fig.axes) == 3
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["Accueils (accueils)", "Places (places)",
                                                              "Postes (postes)"]


# --- milestones -------------------------------------------------------------------------------

MILESTONES = pd.DataFrame({
    "jalon": ["1.J1", "1.J2", "1.J3", "1.J4"],
    "echeance": [dt.date(2019, 12, 31), dt.date(2020, 6, 30), dt.date(2020, 12, 31), dt.date(2022, 6, 30)],
    "realisation": [dt.date(2019, 10, 1), dt.date(2021, 3, 1), None, None],
    "statut": ["réalisé", "réalisé en retard", "en retard", "à venir"],
})


def test_milestone_timeline_tells_each_status_by_shape_and_colour():
    fig = charts.milestone_timeline(MILESTONES, 2021)
    ax = fig.axes[0]
    markers = {}
    for ln in ax.get_lines():
        if ln.get_marker() in ("o", "s", "X", ">"):
            markers[ln.get_marker()] = (ln.get_color(), ln.get_xdata()[0], ln.get_ydata()[0])
    for status, (colour, marker) in charts.MILESTONE_STYLE.items():
        assert markers[marker][0] == colour, status
    assert len({m for _, m in charts.MILESTONE_STYLE.values()}) == 4
    assert len({c for c, _ in charts.MILESTONE_STYLE.values()}) == 4
    # realised: at the realisation date; late and not done: at the evaluation date; to come: due date
    assert markers["o"][1] == pytest.approx(charts.year_position(dt.date(2019, 10, 1)))
    assert markers["X"][1] == 2021.0
    assert markers[">"][1] == pytest.approx(charts.year_position(dt.date(2022, 6, 30)))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["échéance", "réalisé", "réalisé en retard", "en retard", "à venir"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1.J1", "1.J2", "1.J3", "1.J4"]


# --- plan summary and diagnostic ---------------------------------------------------------------

def test_status_bars_stack_the_counts_of_each_axe():
    counts = pd.DataFrame({"libelle": ["Axe 1", "Axe 2"], "mise en œuvre": [3, 13], "en cours": [0, 2],
                           "en retard": [1, 1], "non démarrée": [0, 1], "données insuffisantes": [0, 0]})
    fig = charts.status_bars(counts)
    ax = fig.axes[0]
    by_row = {}
    for p in ax.patches:
        by_row.setdefault(round(p.get_y() + p.get_height() / 2), 0)
        by_row[round(p.get_y() + p.get_height() / 2)] += p.get_width()
    assert by_row == {1: 4, 0: 17}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(charts.FICHE_STATUS_STYLE)
    assert sorted(_texts(fig)) == sorted(["3", "1", "13", "2", "1", "1"])


def test_diagnostic_chart_draws_one_styled_line_per_series():
    table = pd.DataFrame({"annee": [2019, 2020, 2019, 2020], "libelle": ["A", "A", "B", "B"],
                          "taux_pour_mille": [1.0, 1.1, 2.0, 2.5]})
    fig = charts.diagnostic_chart(table)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    assert lines[0].get_marker() != lines[1].get_marker()
    assert lines[0].get_linestyle() != lines[1].get_linestyle()
    assert list(lines[1].get_ydata()) == [2.0, 2.5]


# --- output -----------------------------------------------------------------------------------

def test_departements_bars_one_panel_per_indicator_with_the_departement_highlighted():
    from matplotlib.colors import to_hex

    rows = [("VPI", "02", "Aisne", 3.5), ("VPI", "62", "Pas-de-Calais", 5.1), ("VPI", "59", "Nord", 4.3),
            ("VS", "02", "Aisne", 1.8), ("VS", "62", "Pas-de-Calais", 1.9), ("VS", "59", "Nord", 1.7)]
    table = pd.DataFrame(rows, columns=["indicateur", "departement", "nom", "taux_pour_mille"])
    refs = {"VPI": [("Hauts-de-France", 4.3), ("France métropolitaine", 3.1)],
            "VS": [("Hauts-de-France", 1.8), ("France métropolitaine", 1.6)]}
    fig = charts.departements_bars(table, references=refs, title="Essai")
    axes = [ax for ax in fig.axes]
    assert [ax.get_title(loc="left") for ax in axes] == ["VPI", "VS"]
    for ax in axes:
        ind = ax.get_title(loc="left")
        assert sorted(t.get_text() for t in ax.get_yticklabels()) == ["Aisne", "Nord", "Pas-de-Calais"]
        own = next(v for t, code, _, v in rows if t == ind and code == "62")
        colours = {round(p.get_width(), 2): to_hex(p.get_facecolor()) for p in ax.patches}
        assert sorted(colours) == sorted(round(v, 2) for t, _, _, v in rows if t == ind)
        others = {c for w, c in colours.items() if w != round(own, 2)}
        assert len(others) == 1 and colours[round(own, 2)] not in others  # highlighted
        assert len(ax.get_lines()) == 2  # one vertical line per reference
    assert "5,10" in _texts(fig) or "5,1" in _texts(fig)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["autre département", "Pas-de-Calais", "Hauts-de-France", "France métropolitaine"]


def test_figure_html_embeds_a_deterministic_png_with_its_alt_text():
    def make():
        return charts.indicator_chart(SERIES, title="", unit="femmes", years=(2018, 2021))

    first = charts.figure_html(make(), "Femmes accueillies de 2018 à 2021 : de 850 à 1 030.",
                               "Valeurs « départementales » & cible")
    second = charts.figure_html(make(), "Femmes accueillies de 2018 à 2021 : de 850 à 1 030.",
                                "Valeurs « départementales » & cible")
    assert first == second
    assert first.startswith('<figure class="graphique"><img src="data:image/png;base64,')
    parsed = Html(first)
    assert parsed.imgs[0]["alt"] == "Femmes accueillies de 2018 à 2021 : de 850 à 1 030."
    assert "".join(parsed.captions) == "Valeurs « départementales » & cible"
    png = base64.b64decode(parsed.imgs[0]["src"].split(",", 1)[1])
    assert _png_size(png) == (640, 320)  # 6.4 × 3.2 in at 100 dpi
    assert b"tEXt" not in _png_chunks(png) and b"Software" not in png  # no software tag, no date


def test_figure_html_requires_a_text_alternative():
    with pytest.raises(ValueError, match="texte de remplacement"):
        charts.figure_html(charts.new_figure(), "  ")


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
       .filter(lambda s: s.strip()))
def test_alt_text_survives_any_characters(alt):
    fig = charts.new_figure((1, 1))
    out = charts.figure_html(fig, alt)
    parsed = Html(out)
    assert len(parsed.imgs) == 1
    assert parsed.imgs[0]["alt"] == " ".join(alt.split())


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=-1e7, max_value=1e7, allow_nan=False), st.integers(0, 3))
def test_axis_numbers_are_written_the_french_way(value, decimals):
    text = charts.french_formatter(decimals)(value, 0)
    assert "." not in text
    assert re.fullmatch(r"−?\d{1,3}(\u00a0\d{3})*(,\d+)?", text), text


def _pixels(png: bytes):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_png_bytes_has_the_pixels_of_savefig_and_reuses_one_renderer_per_size():
    import io

    def make():
        return charts.indicator_chart(SERIES, title="Femmes accueillies", unit="femmes",
                                      years=(2018, 2021), target=1100.0)

    reference = io.BytesIO()
    make().savefig(reference, format="png", dpi=charts.DPI)
    first = charts.png_bytes(make())
    renderer = charts._RENDERERS[(640, 320, float(charts.DPI))]
    second = charts.png_bytes(make())
    assert first == second
    assert charts._RENDERERS[(640, 320, float(charts.DPI))] is renderer  # drawn on the same one
    assert (_pixels(first) == _pixels(reference.getvalue())).all()
    # a figure of another size, between two, does not leave a stale picture behind
    charts.png_bytes(charts.new_figure((2, 2)))
    assert charts.png_bytes(make()) == first
    assert _png_size(charts.png_bytes(make(), dpi=50)) == (320, 160)


def test_figure_html_empties_the_figure():
    fig = charts.indicator_chart(SERIES, title="", unit="femmes", years=(2018, 2021))
    charts.figure_html(fig, "Femmes accueillies.")
    assert fig.axes == [] and fig.texts == [] and fig.legends == []


def test_the_glyph_layout_of_a_text_is_computed_once():
    if charts._RENDERER_CLASS is not charts._LayoutCachingRenderer:
        pytest.skip("matplotlib sans FT2Font._layout : rendu Agg ordinaire")

    def make():
        return charts.indicator_chart(SERIES, title="", unit="femmes", years=(2018, 2021))

    charts._LAYOUTS.clear()
    first = charts.png_bytes(make())
    laid_out = dict(charts._LAYOUTS)
    assert any(key[3] == "Année" for key in laid_out)  # the axis label, among others
    assert charts.png_bytes(make()) == first
    assert charts._LAYOUTS == laid_out  # every text of the second figure found in the cache


# --- glyph bitmaps kept by sub-pixel position ----------------------------------------------------

_needs_glyph_cache = pytest.mark.skipif(
    charts._RENDERER_CLASS is not charts._LayoutCachingRenderer,
    reason="matplotlib sans les méthodes privées de FT2Font : rendu Agg ordinaire")


def _savefig_pixels(fig: Figure):
    import io

    reference = io.BytesIO()
    fig.savefig(reference, format="png", dpi=charts.DPI)
    return _pixels(reference.getvalue())


def _texts_figure(*texts: tuple[float, float, dict]) -> Figure:
    """A 200 × 100 pixel figure with "Année 2021" written at each (x, y) in pixels, with the given
    Text properties."""
    from matplotlib.transforms import IdentityTransform

    fig = charts.new_figure((2, 1))
    for x, y, props in texts:
        fig.text(x, y, "Année 2021", transform=IdentityTransform(), **{"fontsize": 9, **props})
    return fig


@_needs_glyph_cache
@pytest.mark.parametrize("weight", ["normal", "bold"])
@pytest.mark.parametrize("angle", [0, 90, 30])
def test_a_whole_pixel_translation_moves_a_glyph_bitmap_unchanged(angle, weight):
    # What the glyph cache rests on: FreeType renders a glyph translated by whole pixels (26.6
    # units, multiples of 64) as the same bitmap, moved by as many pixels.
    import numpy as np
    from matplotlib.backends.backend_agg import get_hinting_flag
    from matplotlib.font_manager import FontProperties, fontManager, get_font
    from matplotlib.ft2font import RenderMode

    font = get_font(fontManager._find_fonts_by_props(
        FontProperties(family="DejaVu Sans", weight=weight)))
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int)
    moved = 0
    for char in "Aégw2%":
        for mode in (RenderMode.NORMAL, RenderMode.MONO):
            for fx, fy in [(0, 0), (17, 45), (63, 1), (32, 32)]:
                seen = set()
                for ix, iy in [(0, 0), (1, 0), (0, 1), (57, 211), (-4, -9), (639, 319)]:
                    font.set_size(8.5, charts.DPI)
                    font._set_transform(matrix, [fx + 64 * ix, fy + 64 * iy])
                    bitmap = font._render_glyph(font.get_char_index(ord(char)), get_hinting_flag(),
                                                mode)
                    assert bitmap.buffer.size
                    seen.add((bitmap.buffer.tobytes(), bitmap.buffer.shape,
                              bitmap.left - ix, bitmap.top - iy))
                    moved += 1
                assert len(seen) == 1, (char, mode, fx, fy)
    # a space has an empty bitmap, standing at the same place whatever the translation
    places = set()
    for ix, iy in [(0, 0), (3, 0), (0, 7)]:
        font._set_transform(matrix, [5 + 64 * ix, 9 + 64 * iy])
        bitmap = font._render_glyph(font.get_char_index(ord(" ")), get_hinting_flag(),
                                    RenderMode.NORMAL)
        assert bitmap.buffer.size == 0
        places.add((bitmap.left, bitmap.top))
    assert len(places) == 1
    assert moved == 6 * 2 * 4 * 6


@_needs_glyph_cache
def test_a_text_drawn_again_whole_pixels_away_is_blended_from_the_cache_with_savefig_pixels():
    charts._GLYPHS.clear()
    charts.png_bytes(_texts_figure((20.3, 40.6, {})))
    kept = dict(charts._GLYPHS)
    assert kept
    fig = _texts_figure((20.3, 40.6, {}), (71.3, 10.6, {}), (3.3, 77.6, {}))
    png = charts.png_bytes(fig)
    assert charts._GLYPHS == kept  # no glyph rendered again: all three texts from the cache
    assert (_pixels(png) == _savefig_pixels(fig)).all()


@_needs_glyph_cache
def test_rotated_texts_have_the_pixels_of_savefig():
    charts._GLYPHS.clear()
    fig = _texts_figure((20.0, 5.0, {"rotation": 90}), (60.0, 5.0, {"rotation": 90}),
                        (100.25, 10.5, {"rotation": 30}), (120.0, 60.0, {"rotation": 270}))
    png = charts.png_bytes(fig)
    assert (_pixels(png) == _savefig_pixels(fig)).all()
    matrices = {key[5] for key in charts._GLYPHS}
    assert (0, -0x10000, 0x10000, 0) in matrices  # 90°: rotated glyphs went through the cache
    # the same figure again, every glyph from the cache
    assert (_pixels(charts.png_bytes(fig)) == _savefig_pixels(fig)).all()


@_needs_glyph_cache
@pytest.mark.parametrize("variant", [
    {"dx": 0.5}, {"dy": 0.25}, {"dx": 1 / 64}, {"fontsize": 10}, {"fontweight": "bold"},
    {"rotation": 90}, {"antialiased": False},
], ids=["x-sous-pixel", "y-sous-pixel", "x-1/64", "taille", "gras", "rotation", "sans-lissage"])
def test_a_glyph_differing_in_any_part_of_the_cache_key_is_rendered_anew(variant):
    # The text is drawn first as it is, then differing in one thing the bitmap depends on: taking
    # the first bitmap from the cache for the second text would change its pixels.
    props = {k: v for k, v in variant.items() if k not in ("dx", "dy")}
    x, y = 30.0 + variant.get("dx", 0), 60.0 + variant.get("dy", 0)
    charts._GLYPHS.clear()
    fig = _texts_figure((30.0, 60.0, {}), (x + 50, y - 40, props))
    png = charts.png_bytes(fig)
    assert (_pixels(png) == _savefig_pixels(fig)).all()


@_needs_glyph_cache
def test_the_glyph_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(charts, "_GLYPHS_KEPT", 3)
    charts._GLYPHS.clear()
    fig = _texts_figure((20.3, 40.6, {}), (71.7, 10.2, {}))
    png = charts.png_bytes(fig)
    assert len(charts._GLYPHS) == 3
    assert (_pixels(png) == _savefig_pixels(fig)).all()


def test_plain_agg_is_used_when_matplotlib_lacks_the_private_glyph_methods(monkeypatch):
    from matplotlib.backends.backend_agg import RendererAgg

    if hasattr(RendererAgg, "_draw_text_glyphs_and_boxes"):
        monkeypatch.delattr(RendererAgg, "_draw_text_glyphs_and_boxes")
    assert not charts._draws_text_as_matplotlib_3_11()


@_needs_glyph_cache
def test_a_glyph_drawn_at_another_resolution_is_rendered_anew():
    import io

    charts._GLYPHS.clear()
    fig = _texts_figure((30.0, 60.0, {}))
    charts.png_bytes(fig)  # at charts.DPI: the cache holds these glyphs at 100 dpi
    png = charts.png_bytes(fig, dpi=72)
    reference = io.BytesIO()
    fig.savefig(reference, format="png", dpi=72)
    assert (_pixels(png) == _pixels(reference.getvalue())).all()


@_needs_glyph_cache
def test_mathtext_glyphs_and_rules_have_the_pixels_of_savefig():
    from matplotlib.transforms import IdentityTransform

    charts._GLYPHS.clear()
    fig = charts.new_figure((2, 1))
    for x, y in [(10.4, 50.2), (110.4, 20.2)]:  # the second one whole pixels away: from the cache
        fig.text(x, y, r"$\frac{1}{2}\,x^2 = 10\%$", transform=IdentityTransform(), fontsize=9)
    png = charts.png_bytes(fig)
    assert charts._GLYPHS
    assert (_pixels(png) == _savefig_pixels(fig)).all()

"""Figures of the evaluations: indicator series with their target, territorial breakdowns, maps of
the arrondissements, milestone timelines, fiche statuses and the départemental diagnostic.

Every function takes small tidy tables (already masked by :mod:`plancadre_eval.secrecy`: a secret
value arrives empty with ``diffusion == "secret"``) and returns a :class:`matplotlib.figure.Figure`
built without ``pyplot`` (no global state, nothing shown, nothing to close in a kernel). Labels are
French, numbers are written by :mod:`plancadre_eval.formatting` (``1 030``, ``2,5``), colours come
from the Okabe-Ito palette (readable by colour-blind readers) and every status is told by a marker
shape or a written label as well as by its colour.

:func:`figure_html` turns a figure into the HTML a page shows: ``<figure><img src="data:image/png;
base64,…" alt="…"><figcaption>…</figcaption></figure>``, a PNG at a fixed size and resolution with
no timestamp or software tag in it, so the same figure always gives the same bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from typing import Iterable, Mapping, Sequence

import matplotlib
import numpy as np

# No matplotlib.use(): these figures are drawn on their own Agg canvas without pyplot, so the
# backend of the process (the inline backend of a notebook kernel) is left as it is.
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import offset_copy

from . import formatting

#: Okabe-Ito palette (Okabe & Ito 2008), safe for the common colour-vision deficiencies.
OKABE_ITO = {
    "noir": "#000000",
    "orange": "#E69F00",
    "bleu_ciel": "#56B4E9",
    "vert": "#009E73",
    "jaune": "#F0E442",
    "bleu": "#0072B2",
    "vermillon": "#D55E00",
    "violet": "#CC79A7",
}
#: Order in which series are coloured.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
#: Marker shapes paired with :data:`PALETTE` so that series differ by more than their colour.
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", "-.", ":", "-", "--", "-.")
GREY = "#7A7A7A"
LIGHT_GREY = "#D9D9D9"

#: Size (inches) and resolution of every figure: 640 × 320 pixels by default.
FIGSIZE = (6.4, 3.2)
DPI = 100

#: Milestone statuses: (colour, marker) — shape and colour both tell the status.
MILESTONE_STYLE = {
    "réalisé": (OKABE_ITO["vert"], "o"),
    "réalisé en retard": (OKABE_ITO["bleu_ciel"], "s"),
    "en retard": (OKABE_ITO["vermillon"], "X"),
    "à venir": (OKABE_ITO["bleu"], ">"),
}
#: Fiche statuses: colour and hatch (the bars also carry their count as text).
FICHE_STATUS_STYLE = {
    "mise en œuvre": (OKABE_ITO["vert"], ""),
    "en cours": (OKABE_ITO["bleu"], "//"),
    "en retard": (OKABE_ITO["vermillon"], "xx"),
    "non démarrée": (OKABE_ITO["orange"], ".."),
    "données insuffisantes": (LIGHT_GREY, "\\\\"),
}

_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "plancadre",
}


# --- helpers ---------------------------------------------------------------------------------

def new_figure(figsize: tuple[float, float] = FIGSIZE) -> Figure:
    """An empty figure with the house style (no pyplot: it is never registered nor shown)."""
    fig = Figure(figsize=figsize, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def set_margins(fig: Figure, left: float = 0.8, right: float = 0.2, top: float = 0.3,
                bottom: float = 0.5, **kwargs) -> None:
    """Place the axes with margins given in inches (a fixed layout: faster than an automatic one
    and identical from one run to the next)."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=min(left / w, 0.6), right=1 - right / w, top=1 - top / h,
                        bottom=min(bottom / h, 0.6), **kwargs)


def _style():
    return matplotlib.rc_context(_RC)


def french_formatter(decimals: int = 2) -> FuncFormatter:
    """Axis tick labels in French (``1 030``, ``2,5``)."""
    return FuncFormatter(lambda v, _pos: formatting.format_number(v, decimals))


def year_position(day: dt.date) -> float:
    """Position of a date on an axis of years where the value of year Y sits at Y (31 December):
    31 December 2022 -> 2022.0, 30 June 2020 -> about 2019.5."""
    days = 366 if (day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)) else 365
    return day.year - 1 + day.timetuple().tm_yday / days


def _point_label(ax, text: str, xy: tuple[float, float], offset: tuple[float, float], **kwargs):
    """A text ``offset`` points (dx, dy) away from the data point ``xy``: drawn where
    ``ax.annotate(text, xy, textcoords="offset points", xytext=offset)`` draws it, as a plain text
    (an annotation costs more to draw). Used for the values written on points and bars, which lie
    within the axes' limits."""
    return ax.text(xy[0], xy[1], text, transform=offset_copy(
        ax.transData, fig=ax.get_figure(), x=offset[0], y=offset[1], units="points"), **kwargs)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _wrap(text: str, width: int = 38) -> str:
    """Break a long label on spaces (for axis labels and titles)."""
    words, lines, line = str(text).split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    if line:
        lines.append(line)
    return "\n".join(lines)


# --- indicator over time ------------------------------------------------------------------------

def indicator_chart(
    series,
    *,
    title: str,
    unit: str = "",
    decimals: int = 2,
    years: tuple[int, int] | None = None,
    target: float | None = None,
    target_date: dt.date | None = None,
    baseline: float | None = None,
    baseline_date: dt.date | None = None,
    label: str = "Pas-de-Calais",
    partial_years: Sequence[int] = (),
) -> Figure:
    """One indicator over the years, with its target drawn as a dashed line up to its deadline.

    ``series``: table with ``annee`` (int) and ``valeur`` (float, NaN when missing or secret) for one
    territory; ``years`` (first, last) sets the horizontal axis (extended to the deadline);
    ``baseline``/``baseline_date``: the plan's "état des lieux", drawn as a hollow marker. Values in
    ``unit``. Missing years leave a gap in the line. ``partial_years``: years whose value is an
    aggregate of only some of its expected parts, drawn as a hollow square (legend "valeur
    partielle") and not joined to the line, so they never read as a complete figure.
    """
    with _style():
        fig = new_figure()
        ax = fig.add_subplot()
        xs = [int(y) for y in series["annee"]]
        ys = [float(v) if not _missing(v) else math.nan for v in series["valeur"]]
        first = years[0] if years else (min(xs) if xs else dt.date.today().year)
        last = years[1] if years else (max(xs) if xs else first)
        handles = []
        partial = {int(y) for y in partial_years}
        line = [math.nan if x in partial else y for x, y in zip(xs, ys)]
        ax.plot(xs, line, color=PALETTE[0], marker="o", linewidth=2, markersize=6, zorder=3)
        handles.append(Line2D([], [], color=PALETTE[0], marker="o", linewidth=2, label=label))
        hollow = [(x, y) for x, y in zip(xs, ys) if x in partial and not math.isnan(y)]
        if hollow:
            ax.plot([x for x, _ in hollow], [y for _, y in hollow], marker="s", markersize=8,
                    markerfacecolor="white", markeredgecolor=OKABE_ITO["vermillon"],
                    markeredgewidth=2, linestyle="none", zorder=4)
            handles.append(Line2D([], [], marker="s", markerfacecolor="white",
                                  markeredgecolor=OKABE_ITO["vermillon"], markeredgewidth=2,
                                  linestyle="none", label="valeur partielle (territoires manquants)"))
        for x, y in zip(xs, ys):
            if not math.isnan(y):
                _point_label(ax, formatting.format_number(y, decimals), (x, y), (0, 7),
                             ha="center", fontsize=8, color="#1A1A1A")
        x_max = last
        if baseline is not None and not _missing(baseline) and baseline_date is not None:
            bx = year_position(baseline_date)
            ax.plot([bx], [baseline], marker="o", markersize=8, markerfacecolor="white",
                    markeredgecolor=OKABE_ITO["noir"], linestyle="none", zorder=4)
            handles.append(Line2D([], [], marker="o", markerfacecolor="white",
                                  markeredgecolor=OKABE_ITO["noir"], linestyle="none",
                                  label="état des lieux du plan"))
            first = min(first, math.floor(bx))
        if target is not None and not _missing(target):
            tx = year_position(target_date) if target_date else float(last)
            x_max = max(x_max, math.ceil(tx))
            ax.plot([first - 0.3, tx], [target, target], color=OKABE_ITO["vermillon"],
                    linestyle="--", linewidth=1.6, zorder=2)
            ax.plot([tx], [target], marker="D", color=OKABE_ITO["vermillon"], markersize=6, zorder=3)
            when = f" ({formatting.format_date(target_date)})" if target_date else ""
            handles.append(Line2D([], [], color=OKABE_ITO["vermillon"], linestyle="--", marker="D",
                                  label=f"cible : {formatting.format_number(target, decimals)}{when}"))
        ax.set_xlim(first - 0.4, x_max + 0.4)
        ax.set_xticks(list(range(first, x_max + 1)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: str(int(round(v)))))
        values = [v for v in ys if not math.isnan(v)]
        values += [t for t in (target, baseline) if t is not None and not _missing(t)]
        top = max(values) if values else 1.0
        bottom = min(0.0, min(values)) if values else 0.0
        ax.set_ylim(bottom, top * 1.18 if top > 0 else 1.0)
        integer = all(float(v).is_integer() for v in values)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=integer))
        ax.yaxis.set_major_formatter(french_formatter(decimals))
        ax.set_xlabel("Année")
        ax.set_ylabel(_wrap(unit, 28) if unit else "Valeur")
        ax.grid(axis="y", color=LIGHT_GREY, linewidth=0.6)
        top_margin = 0.45
        if title:
            ax.set_title(_wrap(title, 80), loc="left", pad=24)
            top_margin = 0.75
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.01), frameon=False,
                  ncols=len(handles), borderaxespad=0.2, handlelength=2.2, columnspacing=1.2)
        set_margins(fig, left=0.85, top=top_margin)
    return fig


# --- territories ------------------------------------------------------------------------------

def territory_bars(
    table,
    *,
    title: str,
    unit: str = "",
    decimals: int = 2,
    target: Mapping[str, float] | None = None,
) -> Figure:
    """Horizontal bars of one indicator and year by territory.

    ``table``: ``territoire`` (code), ``nom`` (label shown), ``valeur`` (float, NaN when missing or
    masked) and ``diffusion`` ("public"/"secret"). A secret cell has no bar and reads "secret", a
    missing one "non déclaré"; each bar carries its value. ``target`` ({code: value}) adds a
    diamond per territory with a target.
    """
    with _style():
        n = len(table)
        fig = new_figure((FIGSIZE[0], max(1.6, 0.42 * n + 0.9)))
        ax = fig.add_subplot()
        names = [str(x) for x in table["nom"]]
        values = [float(v) if not _missing(v) else math.nan for v in table["valeur"]]
        secret = [str(d) == "secret" for d in (table["diffusion"] if "diffusion" in table
                                                 else ["public"] * n)]
        positions = list(range(n))[::-1]
        finite = [v for v in values if not math.isnan(v)]
        top = max(finite + [0.0]) or 1.0
        ax.barh(positions, [0 if math.isnan(v) else v for v in values], color=PALETTE[0],
                height=0.62, zorder=2)
        for pos, v, s in zip(positions, values, secret):
            if s:
                text, x, colour = "secret", 0, GREY
            elif math.isnan(v):
                text, x, colour = "non déclaré", 0, GREY
            else:
                text, x, colour = formatting.format_number(v, decimals), v, "#1A1A1A"
            _point_label(ax, text, (x, pos), (4, 0), va="center", fontsize=8, color=colour,
                         style="italic" if colour == GREY else "normal")
        handles = [Patch(color=PALETTE[0], label=f"valeur ({unit})" if unit else "valeur")]
        if target:
            tx = [(pos, float(target[code])) for pos, code in zip(positions, table["territoire"])
                  if code in target and not _missing(target[code])]
            if tx:
                ax.plot([t for _, t in tx], [p for p, _ in tx], linestyle="none", marker="D",
                        color=OKABE_ITO["vermillon"], zorder=3)
                handles.append(Line2D([], [], linestyle="none", marker="D",
                                      color=OKABE_ITO["vermillon"], label="cible"))
                top = max([top] + [t for _, t in tx])
        labels = [_wrap(nm, 28) for nm in names]
        ax.set_yticks(positions)
        ax.set_yticklabels(labels)
        ax.set_ylim(-0.6, n - 0.4)
        ax.set_xlim(0, top * 1.22)
        integer = all(float(v).is_integer() for v in finite)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=integer))
        ax.xaxis.set_major_formatter(french_formatter(decimals))
        ax.set_xlabel(_wrap(unit, 60) if unit else "Valeur")
        ax.grid(axis="x", color=LIGHT_GREY, linewidth=0.6, zorder=0)
        top_margin = 0.15
        if title:
            ax.set_title(_wrap(title, 80), loc="left", pad=22 if target else 6)
            top_margin = 0.45 + (0.2 if target else 0)
        elif target:
            top_margin = 0.4
        if target:
            ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False,
                      ncols=len(handles), borderaxespad=0.2)
        longest = max((len(line) for lab in labels for line in lab.split("\n")), default=4)
        set_margins(fig, left=0.25 + 0.068 * longest, right=0.3, top=top_margin, bottom=0.5)
    return fig


def _project(ring: Sequence[tuple[float, float]], lat0: float) -> list[tuple[float, float]]:
    k = math.cos(math.radians(lat0))
    return [(lon * k, lat) for lon, lat in ring]


def _centroid(ring: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Area centroid of a polygon ring (shoelace formula)."""
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, list(ring[1:]) + [ring[0]]):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(a) < 1e-12:
        xs, ys = zip(*ring)
        return sum(xs) / len(xs), sum(ys) / len(ys)
    return cx / (3 * a), cy / (3 * a)


def draw_arrondissement_map(
    ax,
    values: Mapping[str, float | None],
    boundaries: Mapping[str, Sequence[Sequence[tuple[float, float]]]],
    names: Mapping[str, str],
    *,
    secret: Iterable[str] = (),
    decimals: int = 2,
    vmax: float | None = None,
    cmap: str = "Blues",
):
    """Draw a choropleth of ``values`` ({arrondissement code: value}) on ``ax``.

    Polygons come from :meth:`territories.Territories.boundaries` (lon/lat rings, drawn with a
    cos(latitude) correction). Each arrondissement carries its name and its value written out
    ("secret" or "non déclaré" on a hatched grey background when there is no value), so the map
    reads without colours. The single-hue light-to-dark scale ("Blues", from 0) stays readable by
    colour-blind readers and in grey. Returns the colour mapping (``ScalarMappable``) for a colour bar.
    """
    import matplotlib.cm as cm
    import matplotlib.colors as mcolors
    from matplotlib import patheffects

    secret = set(secret)
    lat0 = sum(lat for rings in boundaries.values() for r in rings for _, lat in r) / max(
        1, sum(len(r) for rings in boundaries.values() for r in rings))
    finite = [float(v) for v in values.values() if not _missing(v)]
    top = vmax if vmax is not None else (max(finite) if finite else 1.0)
    norm = mcolors.Normalize(vmin=0, vmax=top if top > 0 else 1.0)
    # the lightest fifth of the scale is left out so that a zero still shows a tint
    base = matplotlib.colormaps[cmap]
    cmap_obj = mcolors.LinearSegmentedColormap.from_list(
        f"{cmap}_tronque", base(np.linspace(0.15, 1.0, 256)))
    mapper = cm.ScalarMappable(norm=norm, cmap=cmap_obj)
    for code in sorted(boundaries):
        rings = boundaries[code]
        value = values.get(code)
        has = not _missing(value) and code not in secret
        for ring in rings:
            pts = _project(ring, lat0)
            # the data limits of a polygon are those of its vertices: added as an artist with the
            # limits updated from the vertices at once, rather than by ax.add_patch, which looks
            # for the extrema of every segment as if it were a Bézier curve (the same limits,
            # 30 times slower on these outlines)
            ax.update_datalim(pts)
            if has:
                patch = Polygon(pts, closed=True, facecolor=mapper.to_rgba(float(value)),
                                edgecolor="white", linewidth=1.0)
            else:
                patch = Polygon(pts, closed=True, facecolor="#F2F2F2", edgecolor="white",
                                hatch="///", linewidth=1.0)
            ax.add_artist(patch)
        main = max(rings, key=len)
        cx, cy = _centroid(_project(main, lat0))
        if code in secret:
            text = "secret"
        elif _missing(value):
            text = "non déclaré"
        else:
            text = formatting.format_number(float(value), decimals)
        ax.text(cx, cy, f"{names.get(code, code)}\n{text}", ha="center", va="center", fontsize=7,
                color="#1A1A1A", fontweight="bold", clip_on=False, linespacing=1.1,
                path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])
    ax.autoscale_view()
    ax.margins(x=0.22, y=0.04)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return mapper


def arrondissement_map(
    values: Mapping[str, float | None],
    boundaries: Mapping[str, Sequence[Sequence[tuple[float, float]]]],
    names: Mapping[str, str],
    *,
    title: str,
    unit: str = "",
    secret: Iterable[str] = (),
    decimals: int = 2,
) -> Figure:
    """A choropleth of the arrondissements with a colour bar (see :func:`draw_arrondissement_map`)."""
    with _style():
        fig = new_figure((FIGSIZE[0], 4.2))
        ax = fig.add_axes((0.02, 0.02, 0.78, 0.86))
        mapper = draw_arrondissement_map(ax, values, boundaries, names, secret=secret,
                                         decimals=decimals)
        cax = fig.add_axes((0.84, 0.15, 0.03, 0.6))
        bar = fig.colorbar(mapper, cax=cax, format=french_formatter(decimals))
        bar.set_label(unit or "valeur")
        fig.text(0.02, 0.97, _wrap(title, 90), ha="left", va="top", fontsize=10)
    return fig


def maps_panel(
    panels: Sequence[tuple[str, Mapping[str, float | None], str]],
    boundaries: Mapping[str, Sequence[Sequence[tuple[float, float]]]],
    names: Mapping[str, str],
    *,
    decimals: int = 2,
    columns: int = 2,
) -> Figure:
    """Small multiples: one arrondissement map per ``(title, values, unit)`` panel, each with its
    own colour scale and every value written on its arrondissement."""
    with _style():
        n = max(1, len(panels))
        rows = math.ceil(n / columns)
        fig = new_figure((FIGSIZE[0] * 1.4, 3.6 * rows))
        for i, (title, values, unit) in enumerate(panels):
            ax = fig.add_subplot(rows, columns, i + 1)
            draw_arrondissement_map(ax, values, boundaries, names, decimals=decimals)
            ax.set_title(_wrap(f"{title} ({unit})" if unit else title, 44), loc="left", fontsize=9)
        fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.4 / (3.6 * rows), bottom=0.01,
                            wspace=0.04, hspace=0.18)
    return fig


# --- milestones -------------------------------------------------------------------------------

def milestone_timeline(milestones, year: int) -> Figure:
    """Dated timeline of milestones: deadline (black tick) versus realisation (marker).

    ``milestones``: ``jalon`` (id), ``echeance`` (date), ``realisation`` (date or None) and
    ``statut`` ("réalisé", "réalisé en retard", "en retard", "à venir"). The status is told by the
    marker's shape and colour (legend); an undone late milestone is drawn at the evaluation date
    (31 December of ``year``) with a dotted line back to its deadline; a vertical line marks that
    date.
    """
    with _style():
        n = len(milestones)
        fig = new_figure((FIGSIZE[0], max(1.8, 0.45 * n + 1.2)))
        ax = fig.add_subplot()
        eval_day = dt.date(int(year), 12, 31)
        positions = list(range(n))[::-1]
        xs_all = [year_position(eval_day)]
        used = []
        for pos, (_, row) in zip(positions, milestones.iterrows()):
            due = formatting.to_date(row["echeance"])
            done = formatting.to_date(row["realisation"]) if not formatting.is_missing(
                row["realisation"]) else None
            status = str(row["statut"])
            colour, marker = MILESTONE_STYLE.get(status, (GREY, "o"))
            dx = year_position(due)
            xs_all.append(dx)
            ax.plot([dx], [pos], marker="|", markersize=16, markeredgewidth=2.2, color="#1A1A1A",
                    zorder=3)
            if done is not None:
                mx = year_position(done)
            elif status == "en retard":
                mx = year_position(eval_day)
            else:
                mx = dx
            xs_all.append(mx)
            if mx != dx:
                ax.plot([dx, mx], [pos, pos], color=colour, linestyle=":" if done is None else "-",
                        linewidth=1.5, zorder=2)
            ax.plot([mx], [pos], marker=marker, markersize=9, color=colour, linestyle="none",
                    markeredgecolor="#1A1A1A", markeredgewidth=0.6, zorder=4)
            if status not in used:
                used.append(status)
        ax.axvline(year_position(eval_day), color=GREY, linestyle="--", linewidth=1, zorder=1)
        ax.set_yticks(positions)
        ax.set_yticklabels([str(j) for j in milestones["jalon"]])
        lo, hi = math.floor(min(xs_all)), math.ceil(max(xs_all))
        ax.set_xlim(lo - 0.2, hi + 0.2)
        ax.set_xticks(list(range(lo, hi + 1)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"fin {int(round(v))}"))
        ax.set_ylim(-0.8, n - 0.2)
        ax.set_xlabel(f"Date (ligne pointillée : 31 décembre {year}, date de l'évaluation)")
        ax.set_title("Jalons : échéance (trait noir) et réalisation", loc="left")
        ax.grid(axis="x", color=LIGHT_GREY, linewidth=0.6)
        handles = [Line2D([], [], marker="|", markersize=12, markeredgewidth=2, color="#1A1A1A",
                          linestyle="none", label="échéance")]
        for status in MILESTONE_STYLE:
            if status in used:
                colour, marker = MILESTONE_STYLE[status]
                handles.append(Line2D([], [], marker=marker, color=colour, markeredgecolor="#1A1A1A",
                                      markeredgewidth=0.6, linestyle="none", markersize=8,
                                      label=status))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        longest = max((len(str(j)) for j in milestones["jalon"]), default=4)
        set_margins(fig, left=0.25 + 0.07 * longest, right=1.45, top=0.35, bottom=0.5)
    return fig


# --- plan summary -----------------------------------------------------------------------------

def status_bars(counts, statuses: Sequence[str] = tuple(FICHE_STATUS_STYLE)) -> Figure:
    """Stacked horizontal bars: number of fiches per status for each row of ``counts``.

    ``counts``: a table with a ``libelle`` column (row label, e.g. "Axe 2") and one column per
    status in ``statuses`` (numbers of fiches). Each segment carries its count; statuses differ by
    colour and hatch.
    """
    with _style():
        n = len(counts)
        fig = new_figure((FIGSIZE[0], max(1.8, 0.5 * n + 1.3)))
        ax = fig.add_subplot()
        positions = list(range(n))[::-1]
        left = [0.0] * n
        for status in statuses:
            colour, hatch = FICHE_STATUS_STYLE.get(status, (GREY, ""))
            widths = [float(v) for v in counts[status]]
            ax.barh(positions, widths, left=left, color=colour, hatch=hatch, edgecolor="white",
                    height=0.6, label=status, zorder=2)
            for pos, l, w in zip(positions, left, widths):
                if w > 0:
                    dark = colour in (OKABE_ITO["bleu"], OKABE_ITO["vermillon"], OKABE_ITO["vert"])
                    ax.text(l + w / 2, pos, formatting.format_number(w, 0), ha="center", va="center",
                            fontsize=8, fontweight="bold", color="white" if dark else "#1A1A1A",
                            bbox=dict(boxstyle="round,pad=0.15", facecolor=colour, edgecolor="none"))
            left = [l + w for l, w in zip(left, widths)]
        ax.set_yticks(positions)
        ax.set_yticklabels([str(x) for x in counts["libelle"]])
        ax.set_xlim(0, max(left + [1.0]) * 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Nombre de fiches")
        ax.set_title("Statut des fiches par axe", loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        set_margins(fig, left=0.7, right=1.75, top=0.35, bottom=0.5)
    return fig


# --- diagnostic -------------------------------------------------------------------------------

def diagnostic_chart(table, *, value: str = "taux_pour_mille",
                     ylabel: str = "pour 1 000 habitants", title: str = "") -> Figure:
    """Lines of several public series over the years (one line style, marker and colour each).

    ``table``: ``annee``, ``libelle`` (series label, legend) and the ``value`` column.
    """
    with _style():
        labels = list(dict.fromkeys(table["libelle"]))
        fig = new_figure((FIGSIZE[0] * 1.25, 3.0 + 0.17 * len(labels)))
        ax = fig.add_subplot()
        for i, label in enumerate(labels):
            part = table[table["libelle"] == label].sort_values("annee")
            ax.plot(part["annee"].astype(int), part[value].astype(float), color=PALETTE[i % 7],
                    marker=MARKERS[i % 7], linestyle=LINESTYLES[i % 7], linewidth=1.8,
                    label=label)
        years = sorted({int(y) for y in table["annee"]})
        if years:
            ax.set_xticks(years)
            ax.set_xticklabels([str(y) for y in years], rotation=45 if len(years) > 13 else 0)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(french_formatter(2))
        ax.set_xlabel("Année")
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(_wrap(title, 80), loc="left")
        ax.grid(axis="y", color=LIGHT_GREY, linewidth=0.6)
        ax.legend(loc="upper left", bbox_to_anchor=(-0.1, -0.16), frameon=False, ncols=1)
        set_margins(fig, left=0.75, right=0.2, top=0.35 if title else 0.15,
                    bottom=0.6 + 0.17 * len(labels))
    return fig


def departements_bars(table, *, highlight: str = "62", highlight_label: str = "Pas-de-Calais",
                      references: Mapping[str, Sequence[tuple[str, float]]] | None = None,
                      title: str = "") -> Figure:
    """Départements side by side: one panel per indicator, one horizontal bar per département.

    ``table``: ``indicateur`` (panel title), ``departement`` (code), ``nom`` (label) and
    ``taux_pour_mille`` (float) for a single year. The ``highlight`` département is drawn in
    another colour (and its label in bold), named ``highlight_label`` in the legend; each bar carries its value (2 decimals).
    ``references`` ({indicateur: [(label, rate), ...]}) adds one vertical line per reference
    (e.g. France métropolitaine), each with its own line style, named in the legend.
    """
    with _style():
        inds = list(dict.fromkeys(table["indicateur"]))
        n = max((len(table[table["indicateur"] == i]) for i in inds), default=1)
        fig = new_figure((FIGSIZE[0] * 1.25, (0.34 * n + 1.0) * len(inds) + 0.9))
        axes = fig.subplots(len(inds), 1, squeeze=False)[:, 0]
        handles = [Patch(color=PALETTE[4], label="autre département"),
                   Patch(color=PALETTE[5], label=highlight_label)]
        ref_styles = ("--", ":", "-.")
        for ax, ind in zip(axes, inds):
            part = table[table["indicateur"] == ind].sort_values("departement")
            positions = list(range(len(part)))[::-1]
            values = [float(v) for v in part["taux_pour_mille"]]
            colours = [PALETTE[5] if code == highlight else PALETTE[4] for code in part["departement"]]
            ax.barh(positions, values, color=colours, height=0.62, zorder=2)
            for pos, v in zip(positions, values):
                _point_label(ax, formatting.format_number(v, 2), (v, pos), (4, 0), va="center",
                             fontsize=8, color="#1A1A1A")
            top = max(values + [0.0]) or 1.0
            for k, (label, rate) in enumerate((references or {}).get(ind, ())):
                ax.axvline(float(rate), color="#1A1A1A", linestyle=ref_styles[k % 3], linewidth=1.2,
                           zorder=3)
                top = max(top, float(rate))
            ax.set_yticks(positions)
            ax.set_yticklabels(list(part["nom"]))
            for tick, code in zip(ax.get_yticklabels(), part["departement"]):
                if code == highlight:
                    tick.set_fontweight("bold")
            ax.set_xlim(0, top * 1.2)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
            ax.xaxis.set_major_formatter(french_formatter(1))
            ax.set_title(ind, loc="left", fontsize=10)
            ax.grid(axis="x", color=LIGHT_GREY, linewidth=0.6, zorder=0)
        axes[-1].set_xlabel("pour 1 000 habitants")
        first_refs = next(iter((references or {}).values()), ())
        handles += [Line2D([], [], color="#1A1A1A", linestyle=ref_styles[k % 3], label=label)
                    for k, (label, _) in enumerate(first_refs)]
        fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.02, 0.0), frameon=False,
                   ncols=2)
        if title:
            fig.suptitle(_wrap(title, 90), x=0.02, ha="left", fontsize=10)
        set_margins(fig, left=1.3, right=0.3, top=0.75 if title else 0.35, bottom=1.15, hspace=0.6)
    return fig


# --- output ---------------------------------------------------------------------------------

#: zlib level of the PNG images (PIL's default is 6): 3 compresses these flat charts about as
#: well (a few per cent bigger at most) in half the time.
PNG_COMPRESS_LEVEL = 3
#: Agg renderers reused from one figure to the next, by (width, height, dpi) in pixels: matplotlib
#: caches the measure of a text per renderer, so the labels repeated across figures ("Année",
#: "2021", "0"…) are measured once, and no buffer is allocated per figure.
_RENDERERS: dict[tuple[int, int, float], RendererAgg] = {}
_RENDERERS_KEPT = 6
#: Glyph layouts of the texts drawn (see :class:`_LayoutCachingRenderer`), shared by the renderers.
_LAYOUTS: dict[tuple, tuple] = {}
_LAYOUTS_KEPT = 4096
#: Rendered glyph bitmaps (see :meth:`_LayoutCachingRenderer._draw_text_glyphs_and_boxes`), shared
#: by the renderers: (font, size in points, dpi, glyph index, load flags, render mode, 16.16
#: matrix, x mod 64, y mod 64 of the 26.6 translation) -> (bitmap, left, bottom, moves). The oldest
#: entry goes first once :data:`_GLYPHS_KEPT` are kept (a bitmap of a label is about 100 bytes).
_GLYPHS: dict[tuple, tuple] = {}
_GLYPHS_KEPT = 20000


def _hashable(value):
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


class _LayoutCachingRenderer(RendererAgg):
    """The Agg renderer, remembering where the glyphs of a text go.

    Matplotlib (3.11) shapes every text again each time it is drawn (``FT2Font._layout``, about
    50 µs a character), though the glyphs and their offsets from the text's origin depend only on
    the string, the font, its size, the resolution and the hinting: the same labels ("Année",
    "2021", "0"…) are drawn on every chart. This renderer draws each text exactly as
    ``RendererAgg.draw_text`` does, with the layout taken from :data:`_LAYOUTS` when that text
    has been drawn before (same pixels), and each glyph blended from the bitmap kept in
    :data:`_GLYPHS` when it has been rendered before at the same sub-pixel position."""

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath:
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        from matplotlib.backends.backend_agg import get_hinting_flag

        font = self._prepare_font(prop)
        size = prop.get_size_in_points()
        flags = get_hinting_flag()
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        key = (font, size, self.dpi, s, flags, _hashable(features), _hashable(language))
        glyphs = _LAYOUTS.get(key)
        if glyphs is None:
            glyphs = tuple((item.ft_object, item.glyph_index, item.x, item.y)
                           for item in font._layout(s, flags=flags, features=features,
                                                    language=language))
            if len(_LAYOUTS) >= _LAYOUTS_KEPT:
                _LAYOUTS.clear()
            _LAYOUTS[key] = glyphs
        # x and y as Python floats rather than numpy ones (the glyph offsets are Python floats):
        # the same IEEE double sums and products, rounded alike (half to even), done faster.
        self._draw_text_glyphs_and_boxes(
            gc, float(x), float(y), angle,
            ((ft_object, size, glyph_index, 0, 1, dx, dy)
             for ft_object, glyph_index, dx, dy in glyphs),
            [])

    def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
        """Draw glyphs as ``RendererAgg._draw_text_glyphs_and_boxes`` (matplotlib 3.11) does, the
        same integers given to FreeType and to ``draw_text_image``, with the work that is the same
        for every glyph of the text (rotation matrix, hinting flag, render mode) done once, and a
        glyph's bitmap rendered only the first time it is met at a sub-pixel position.

        FreeType places a glyph by a 16.16 matrix and a 26.6 translation (1/64 pixel) applied to
        the hinted outline; its bitmap spans the whole pixels that the outline covers, so a
        translation by whole pixels (multiples of 64) gives the same bitmap moved by as many
        pixels (checked glyph by glyph in ``tests/test_charts.py``). The bitmap is therefore kept
        by the fractional part of the translation (x mod 64, y mod 64), its position relative to
        the whole part. An empty bitmap (a space) stands at the same place whatever the
        translation, and is kept as it is. The boxes (mathtext rules) are drawn by matplotlib."""
        from matplotlib.backends.backend_agg import get_hinting_flag
        from matplotlib.ft2font import RenderMode

        # y is downwards; dy (below) is upwards, as FreeType's y.
        cos = math.cos(math.radians(angle))
        sin = math.sin(math.radians(angle))
        load_flags = get_hinting_flag()
        antialiased = gc.get_antialiased()
        mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
        how = (load_flags.value, mode.value)  # in the key: ints hash faster than enum members
        dpi = self.dpi
        up = self.height - y  # FreeType's y of the text's origin
        height = int(self.height)
        draw_text_image = self._renderer.draw_text_image
        matrices = {}
        for font, size, glyph_index, slant, extend, dx, dy in glyphs:
            matrix = matrices.get((slant, extend))
            if matrix is None:
                array = (0x10000 * np.array([[cos, -sin], [sin, cos]])
                         @ [[extend, extend * slant], [0, 1]]).round().astype(int)
                matrix = matrices[slant, extend] = (array, tuple(array.ravel().tolist()))
            tx = round(0x40 * (x + dx * cos - dy * sin))
            ty = round(0x40 * (up + dx * sin + dy * cos))
            key = (font, size, dpi, glyph_index, how, matrix[1], tx & 63, ty & 63)
            kept = _GLYPHS.get(key)
            if kept is None:
                font.set_size(size, dpi)
                font._set_transform(matrix[0], [tx, ty])
                bitmap = font._render_glyph(glyph_index, load_flags, mode)
                buffer = bitmap.buffer
                if not antialiased:
                    buffer *= 0xff
                # draw_text_image's y is downwards & the bitmap's bottom side.
                if buffer.size:
                    kept = (buffer, bitmap.left - (tx >> 6),
                            buffer.shape[0] - bitmap.top + (ty >> 6), True)
                else:
                    kept = (buffer, bitmap.left, buffer.shape[0] - bitmap.top, False)
                if len(_GLYPHS) >= _GLYPHS_KEPT:
                    del _GLYPHS[next(iter(_GLYPHS))]
                _GLYPHS[key] = kept
            buffer, left, bottom, moves = kept
            if moves:
                draw_text_image(buffer, left + (tx >> 6), height + bottom - (ty >> 6), 0, gc)
            else:
                draw_text_image(buffer, left, height + bottom, 0, gc)
        if not isinstance(boxes, list) or boxes:
            super()._draw_text_glyphs_and_boxes(gc, x, y, angle, (), boxes)


def _draws_text_as_matplotlib_3_11() -> bool:
    """Whether this matplotlib has the private pieces :class:`_LayoutCachingRenderer` draws with
    (else figures are drawn by the plain ``RendererAgg``)."""
    from matplotlib.ft2font import FT2Font

    return (hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")
            and all(hasattr(FT2Font, name) for name in ("_layout", "_set_transform",
                                                        "_render_glyph")))


#: The renderer class: the caching one when this matplotlib draws text as 3.11 does.
_RENDERER_CLASS = _LayoutCachingRenderer if _draws_text_as_matplotlib_3_11() else RendererAgg


def _renderer(width: int, height: int, dpi: float) -> RendererAgg:
    key = (width, height, float(dpi))
    renderer = _RENDERERS.pop(key, None)
    if renderer is None:
        renderer = _RENDERER_CLASS(width, height, dpi)
    _RENDERERS[key] = renderer  # most recently used last
    while len(_RENDERERS) > _RENDERERS_KEPT:
        del _RENDERERS[next(iter(_RENDERERS))]
    renderer.clear()
    return renderer


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes: fixed resolution, no metadata (no software tag, no date), so
    the same figure gives the same bytes.

    Drawn like ``savefig(format="png")`` (same pixels) on a renderer shared by the figures of the
    same size, and written by Pillow as RGB when every pixel is opaque (no alpha channel to
    compress) at :data:`PNG_COMPRESS_LEVEL`."""
    from PIL import Image

    FigureCanvasAgg(fig)
    old_dpi = fig.dpi
    if dpi != old_dpi:
        fig.dpi = dpi  # as savefig does, for this drawing only
    try:
        width, height = (int(v) for v in fig.canvas.get_width_height(physical=True))
        renderer = _renderer(width, height, fig.dpi)
        fig.draw(renderer)
    finally:
        if dpi != old_dpi:
            fig.dpi = old_dpi
    pixels = np.asarray(renderer.buffer_rgba())
    image = Image.fromarray(pixels, "RGBA")
    if pixels[:, :, 3].min() == 255:
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=PNG_COMPRESS_LEVEL, dpi=(dpi, dpi))
    return buf.getvalue()


def figure_html(fig: Figure, alt: str, caption: str | None = None) -> str:
    """``<figure><img src="data:image/png;base64,…" alt="…"><figcaption>…</figcaption></figure>``.

    ``alt`` is the French text alternative summarising the chart (required: a chart is never
    decorative); ``caption`` is shown under it (escaped). The figure is emptied afterwards (its
    axes removed, without resetting each one first: nothing is drawn from them any more).
    """
    if not str(alt or "").strip():
        raise ValueError("Chaque graphique a besoin d'un texte de remplacement (alt) en français "
                         "qui le résume.")
    data = base64.b64encode(png_bytes(fig)).decode("ascii")
    for ax in list(fig.axes):
        fig.delaxes(ax)
    fig.clear()
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure class="graphique"><img src="data:image/png;base64,{data}" '
            f'alt="{html.escape(" ".join(str(alt).split()), quote=True)}">{cap}</figure>')


def show(fig: Figure, alt: str, caption: str | None = None):
    """Display a figure in a notebook as :func:`figure_html` (an HTML output with its alt text)."""
    from IPython.display import HTML, display

    display(HTML(figure_html(fig, alt, caption)))

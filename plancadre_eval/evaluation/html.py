"""HTML fragments shared by the pages: :class:`Html` strings, escaping, status badges, tables,
figures, value texts and the provenance block.

Headings: the page's single ``h1`` comes from the header functions; the notebooks' markdown cells
hold the ``h2`` section headings; fragments only use ``h3`` inside a section. Tables are real
``<table>`` elements with a ``<caption>``, ``<th scope="col">`` column headers and ``<th
scope="row">`` row headers. A status is always a visible badge with its text
(``<span class="statut statut-en-retard">en retard</span>``), never a colour alone.
"""

from __future__ import annotations

import html as _html
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from .. import demo, formatting, provenance
from ..indicators import coverage_text
from ..referential import Fiche, Indicator, Referential
from ..rendering import status_class

if TYPE_CHECKING:
    from .context import Context

MISSING = formatting.MISSING
SECRET = formatting.SECRET

#: Styles of the fragments of this module (the page stylesheet is in templates/plancadre/).
STYLE = """<style>
.avertissement{border:2px solid #E69F00;border-left-width:.5em;background:#fff6e0;padding:.5em .9em;margin:1em 0}
.avertissement p{margin:.2em 0}
dl.identite{display:grid;grid-template-columns:minmax(9em,max-content) 1fr;gap:.25em 1em;margin:1em 0}
dl.identite dt{font-weight:bold}
dl.identite dd{margin:0}
.surtitre{color:#4a4a4a;margin-bottom:0}
.sous-titre{font-size:1.15rem;margin-top:0}
.statut-grand{font-size:1.2em;padding:.15em .7em;font-weight:bold}
details{margin:.6em 0 1em}
summary{cursor:pointer;color:#005a8c}
.note-source{border-left:4px solid #0072B2;background:#eef4fa;padding:.4em .9em;margin:.6em 0}
.note-source p{margin:.25em 0}
.chiffres{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
figure.graphique{margin:1em 0 1.5em}
figure.graphique img{display:block}
.origine-plan{display:block;font-size:.88em;font-style:italic;color:#6b3e00}
</style>"""


# --- small HTML helpers ------------------------------------------------------------------------

class Html(str):
    """An HTML fragment: a string that a notebook displays as HTML (``_repr_html_``)."""

    def _repr_html_(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"<fragment HTML de {len(self)} caractères>"

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's text/plain
        p.text(repr(self))


@dataclass(frozen=True)
class Span:
    """A table cell spanning ``columns`` columns (the next ``columns - 1`` cells of the row are
    skipped by :func:`html_table`; put ``None`` there)."""

    content: Any
    columns: int

    def __str__(self) -> str:
        return str(self.content)


def esc(text: Any) -> str:
    """Text escaped for HTML (``&``, ``<``, ``>``, and quotes only inside attributes)."""
    return _html.escape("" if text is None else str(text), quote=False)


def _attr(text: Any) -> str:
    return _html.escape("" if text is None else str(text), quote=True)


def badge(statut: str, large: bool = False) -> Html:
    """A status written in a coloured badge: ``<span class="statut statut-en-retard">en retard</span>``."""
    extra = " statut-grand" if large else ""
    return Html(f'<span class="statut {status_class(statut)}{extra}">{esc(statut)}</span>')


def link(href: str, text: str) -> Html:
    return Html(f'<a href="{_attr(href)}">{esc(text)}</a>')


def _cell_html(value: Any) -> str:
    if isinstance(value, Span):
        return _cell_html(value.content)
    if isinstance(value, Html):
        return str(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return esc(value)


def html_table(table: pd.DataFrame, caption: str, *, numeric: Iterable[str] = (),
               row_header: str | None = None, css_class: str = "") -> Html:
    """A DataFrame of display values as an accessible HTML table.

    ``caption`` names the table; column names become ``<th scope="col">``; the ``row_header``
    column's cells become ``<th scope="row">``; ``numeric`` columns are right-aligned. Cells are
    escaped unless they are :class:`Html`; a :class:`Span` cell spans several columns.
    """
    numeric = set(numeric)
    cols = list(table.columns)
    num_attr = ' class="nombre"'
    head = "".join(
        f'<th scope="col"{num_attr if c in numeric else ""}>{esc(c)}</th>' for c in cols)
    body = []
    for row in table.itertuples(index=False, name=None):
        cells, skip = [], 0
        for col, value in zip(cols, row):
            if skip:
                skip -= 1
                continue
            attrs = ""
            if isinstance(value, Span):
                attrs += f' colspan="{int(value.columns)}"'
                skip = int(value.columns) - 1
            elif col in numeric:
                attrs += ' class="nombre"'
            tag = "th" if col == row_header else "td"
            if tag == "th":
                attrs = ' scope="row"' + attrs
            cells.append(f"<{tag}{attrs}>{_cell_html(value)}</{tag}>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cls = f' class="{_attr(css_class)}"' if css_class else ""
    return Html(f'<div class="tableau"><table{cls}><caption>{esc(caption)}</caption>'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def paragraph(text: str) -> str:
    return f"<p>{esc(text)}</p>"


def bullet_list(items: Iterable[Any]) -> str:
    items = [i for i in items]
    if not items:
        return ""
    return "<ul>" + "".join(f"<li>{_cell_html(i)}</li>" for i in items) + "</ul>"


def plural(n: int, singular: str, plural: str | None = None) -> str:
    word = singular if n <= 1 else (plural or singular + "s")
    return f"{formatting.format_number(n, 0)} {word}"


def rule_html(rule: str) -> Html:
    """A rule text (paragraphs and "1. …" lines) as paragraphs and an ordered list."""
    out, items = [], []
    for line in str(rule).splitlines():
        line = line.strip()
        if not line:
            continue
        head, dot, rest = line.partition(". ")
        if dot and head.isdigit():
            items.append(f"<li>{esc(rest)}</li>")
            continue
        if items:
            out.append("<ol>" + "".join(items) + "</ol>")
            items = []
        out.append(paragraph(line))
    if items:
        out.append("<ol>" + "".join(items) + "</ol>")
    return Html("".join(out))


def demo_notice(data_dir: str | os.PathLike) -> Html:
    """The visible "Données de démonstration" notice when ``data_dir`` holds demonstration data
    (:func:`plancadre_eval.demo.is_demo_data`), else an empty fragment."""
    if not demo.is_demo_data(data_dir):
        return Html("")
    return Html(
        '<div class="avertissement" role="note"><p><strong>Données de démonstration</strong> : '
        "les chiffres des services pilotes présentés ici sont fictifs, produits pour montrer la "
        "méthode d'évaluation (dossier " + esc(provenance.display_path(data_dir)) + "). Ils ne "
        "décrivent pas la situation du Pas-de-Calais et ne doivent pas être cités.</p></div>")


def figure(fig, alt: str, caption: str | None = None) -> Html:
    """A chart as ``<figure>`` with its PNG inline and its French text alternative."""
    from ..charts import figure_html

    return Html(figure_html(fig, alt, caption))


# --- value formatting --------------------------------------------------------------------------

#: Decimals shown per indicator type (rates per 10 000 inhabitants are small numbers: 2 decimals).
DECIMALS = {**formatting.TYPE_DECIMALS, "taux": 2}


def decimals_of(indicator: Indicator) -> int:
    """Maximum number of decimals shown for an indicator's values."""
    return DECIMALS.get(indicator.type, 2)


def indicator_or_placeholder(referential: Referential, indicator_id: str) -> Indicator:
    """The referential's indicator ``indicator_id``, or a stand-in counted indicator of that id
    (a row of a table whose indicator is no longer in the referential still shows its values)."""
    try:
        return referential.indicator(str(indicator_id))
    except KeyError:
        return Indicator(id=str(indicator_id), fiche="", libelle=str(indicator_id), type="comptage",
                         unite="")


def value_text(value: Any, indicator: Indicator, diffusion: str = "public",
               with_unit: bool = False) -> str:
    """A value as shown in tables: "secret" when masked, "—" when missing, "81 %" for percentages,
    else the French number (with its unit if ``with_unit``)."""
    if diffusion == "secret":
        return SECRET
    if indicator.type == "pourcentage":
        return formatting.format_percent(value, decimals_of(indicator))
    return formatting.format_number(value, decimals_of(indicator),
                                    indicator.unite if with_unit and indicator.unite else None)


def partial_value_text(value: Any, indicator: Indicator, diffusion: str = "public",
                       couverture: Any = "", niveau_couverture: Any = "", with_unit: bool = False) -> str:
    """:func:`value_text`, followed by ", partiel (2/7 arrondissements)" when the value is an
    aggregate of only some of its expected parts (never shown as a complete figure)."""
    text = value_text(value, indicator, diffusion, with_unit)
    partial = coverage_text(_text(couverture), _text(niveau_couverture))
    if partial and text not in (MISSING, SECRET):
        return f"{text}, {partial}"
    return text


def _text(value: Any) -> str:
    return "" if formatting.is_missing(value) else str(value)


def change_text(evolution: Any, evolution_pct: Any, indicator: Indicator,
                diffusion: str = "public") -> str:
    """Change in value and in percent: "+2 (+40 %)", "+2,5 points" for a percentage."""
    if diffusion == "secret":
        return SECRET
    if formatting.is_missing(evolution):
        return MISSING
    dec = decimals_of(indicator)
    if indicator.type == "pourcentage":
        return formatting.format_change(evolution, decimals=dec, unit="points")
    text = formatting.format_change(evolution, decimals=dec)
    if not formatting.is_missing(evolution_pct):
        text += f" ({formatting.format_change(evolution_pct, percent=True)})"
    return text


def date_text(value: Any) -> str:
    try:
        return formatting.format_date(value)
    except ValueError:
        return str(value)


# --- provenance -------------------------------------------------------------------------------

def file_rows(entries: Iterable[tuple[str, str]]) -> pd.DataFrame:
    rows = [[provenance.display_path(p), Html(f'<span class="empreinte">{esc(h)}</span>')]
            for p, h in entries]
    return pd.DataFrame(rows, columns=["Fichier", "Empreinte SHA-256"], dtype=object)


def referential_rows(ref: Referential, fiche: Fiche | None = None) -> list[tuple[str, str]]:
    files = [f for f in ref.files if fiche is None or Path(f).name in ("plan.yaml", fiche.fichier)]
    return [(f, provenance.sha256(f)) for f in files]


def editions_table(entries: list[dict[str, str]]) -> Html:
    rows = [[e["libelle"], e["edition"], e["licence"], e["fichier"],
             Html(f'<span class="empreinte">{esc(e["sha256"])}</span>')] for e in entries]
    table = pd.DataFrame(rows, columns=["Jeu de données", "Édition", "Licence", "Fichier",
                                        "Empreinte SHA-256"], dtype=object)
    return html_table(table, "Données publiques utilisées", row_header="Jeu de données")


def provenance_html(ctx: Context, data_files: list[tuple[str, str]], ref_files: list[tuple[str, str]],
                editions: list[dict[str, str]], what: str) -> Html:
    out = [paragraph(f"Produit par {provenance.library_version()} ; référentiel : "
              f"{provenance.display_path(ctx.referential.folder)} ; données de collecte : "
              f"{provenance.display_path(ctx.data_dir)}"
              + (" (données de démonstration)" if ctx.demo else "")
              + f" ; seuil du secret statistique : {ctx.secret_threshold} personnes.")]
    if data_files:
        out.append(html_table(file_rows(data_files), f"Fichiers de collecte lus {what}",
                              row_header="Fichier"))
    else:
        out.append(paragraph(f"Aucun fichier de collecte ne contient de ligne {what}."))
    out.append(html_table(file_rows(ref_files), "Fichiers du référentiel", row_header="Fichier"))
    if editions:
        out.append(editions_table(editions))
    return Html("".join(out))

"""What an evaluation page shows, assembled for the notebooks (which stay thin).

Three pages use this module:

- ``notebooks/evaluation_fiche.ipynb`` — one fiche and one year: :func:`fiche_data` computes every
  table once (indicators, values over the years, targets, milestones, completeness, status,
  discrepancies), then one function per section returns the HTML fragment of that section
  (:func:`fiche_header`, :func:`status_section`, :func:`indicators_section`, …);
- ``notebooks/synthese_annuelle.ipynb`` — the year's review for the steering committee:
  :func:`synthesis_data`, then :func:`synthesis_header`, :func:`plan_overview_section`, …;
- ``notebooks/diagnostic_departemental.ipynb`` — the public statistics of fiche 4.5:
  :func:`diagnostic_data`, then :func:`diagnostic_header`, …

Inputs are loaded once per notebook (and reused by a warm kernel) by :func:`load_context`, from the
validated parameters (:func:`plancadre_eval.parameters.validate`). Every number shown comes from
the engine (:mod:`plancadre_eval.indicators`), **after statistical secrecy**: masked values arrive
empty with ``diffusion == "secret"`` and are written "secret". Numbers and dates are written by
:mod:`plancadre_eval.formatting`; figures come from :mod:`plancadre_eval.charts` and are embedded
with a French text alternative.

HTML fragments are :class:`Html` strings (a notebook cell ending with one displays it as HTML).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from . import demo, formatting, indicators, provenance, schedule
from .referential import (
    READING_LABELS, UNDATED_TEXT, Fiche, Indicator, Referential, fiche_sort_key, origin_label,
)
from .rendering import status_class

# --- constants ---------------------------------------------------------------------------------

QUALITATIVE_TEXT = "indicateur qualitatif : voir commentaires"
TO_BE_DEFINED_TEXT = "indicateur à déterminer par le comité"
DATE_TEXT = "indicateur de date"
MISSING = formatting.MISSING
SECRET = formatting.SECRET

NATURE_LABELS = {"a_poursuivre": "action à poursuivre", "nouvelle": "nouvelle action"}
TYPE_LABELS = {
    "comptage": "comptage", "pourcentage": "pourcentage", "taux": "taux", "duree": "durée moyenne",
    "jalon": "jalon", "date": "date", "qualitatif": "qualitatif", "a_determiner": "à déterminer",
}
COMPONENT_LABELS = {
    "valeur": "valeur", "numerateur": "numérateur", "denominateur": "dénominateur",
    "personnes": "effectif de personnes", "jalon": "réponse au jalon (oui, non ou date)",
}
ORIGIN_NOTES = {
    indicators.ORIGIN_SUM: "valeur départementale = somme des valeurs des territoires",
    indicators.ORIGIN_RATIO: "pourcentage départemental = somme des numérateurs / somme des "
                             "dénominateurs des territoires × 100 (jamais une moyenne de pourcentages)",
    indicators.ORIGIN_WEIGHTED: "durée départementale = moyenne des territoires pondérée par leurs "
                                "effectifs de personnes",
    indicators.ORIGIN_RATE: "taux calculé : numérateur / population légale × base",
    indicators.ORIGIN_PUBLIC: "valeur de la statistique publique (voir la section correspondante)",
    indicators.ORIGIN_NOT_EVALUABLE: "valeur départementale non évaluable (parties incomplètes ou "
                                     "pourcentages déclarés sans numérateur ni dénominateur)",
    indicators.ORIGIN_MISSING: "aucune valeur déclarée",
}

#: Headline indicators of the synthesis ("chiffres clés"): ids of the shipped referential; ids
#: absent from another referential are skipped.
KEY_INDICATORS = ("2.5.1", "2.5.2", "2.6.5", "2.6.3", "2.1.1", "2.2.4", "3.1.1", "3.1.2")
#: Dispositifs mapped by arrondissement in the synthesis: (indicator id, short title).
MAP_INDICATORS = (
    ("2.5.1", "Accueils de jour"),
    ("2.6.5", "Places d'hébergement dédiées"),
    ("2.1.1", "Intervenants sociaux en commissariat"),
    ("2.2.4", "Intervenants sociaux en gendarmerie"),
)
#: Cautions of the départemental diagnostic (see data/README.md, "Réserves").
DIAGNOSTIC_CAVEATS = (
    "Ces chiffres comptent les faits ou les victimes enregistrés par la police et la gendarmerie "
    "(plaintes et constatations), pas l'ensemble des violences subies : une hausse peut traduire "
    "une meilleure révélation des violences autant qu'une aggravation.",
    "Ni l'État 4001 ni la base départementale du SSMSI ne donnent le sexe des victimes : les séries "
    "portent sur les femmes et les hommes, majeurs et mineurs.",
    "L'État 4001 s'arrête en 2020 : les années suivantes n'ont pas de valeur pour ses séries. Le "
    "ministère y signale des ruptures statistiques pour les violences sexuelles et les violences, "
    "mauvais traitements et abandons d'enfants de 2012 à 2015.",
    "Une seule édition du SSMSI est utilisée (voir les sources) : chaque édition révise les années "
    "passées et celle de juin 2025 redéfinit ses indicateurs ; ses chiffres ne se comparent pas à ceux "
    "d'autres éditions.",
)

#: Styles of the fragments of this module (the page stylesheet is in templates/plancadre/).
_STYLE = """<style>
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


def _p(text: str) -> str:
    return f"<p>{esc(text)}</p>"


def _ul(items: Iterable[Any]) -> str:
    items = [i for i in items]
    if not items:
        return ""
    return "<ul>" + "".join(f"<li>{_cell_html(i)}</li>" for i in items) + "</ul>"


def _plural(n: int, singular: str, plural: str | None = None) -> str:
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
        out.append(_p(line))
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
    from .charts import figure_html

    return Html(figure_html(fig, alt, caption))


# --- loading -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """Everything a page needs, loaded once: validated parameters and input tables.

    ``observations``: validated collection rows (``collection.load_collection``); ``files``:
    ``(path, sha256)`` of the collection files read; ``public``: ``{serie: table}`` for the public
    indicators of the referential; ``expected``: expected territories per level for completeness.
    """

    referential: Referential
    year: int
    data_dir: Path
    secret_threshold: int
    territories: Any
    observations: pd.DataFrame
    files: tuple[tuple[str, str], ...]
    public: Mapping[str, pd.DataFrame]
    expected: Mapping[str, tuple[str, ...]]
    demo: bool

    @property
    def departement(self) -> str:
        return self.referential.plan.departement

    def name_of(self, code: str) -> str:
        """French name of a territory code ("Arrondissement de Lens"), the code if unknown."""
        try:
            return self.territories.name_of(str(code), self.referential)
        except (KeyError, ValueError):
            return str(code)

    def short_name_of(self, code: str) -> str:
        """Short name for charts: "Lens" for arrondissement 627, else :meth:`name_of`."""
        names = _arrondissement_names(self.territories)
        return names.get(str(code)) or self.name_of(code)


_COLLECTIONS: dict[tuple, Any] = {}


def _signature(folder: Path) -> tuple:
    """(relative path, size, mtime) of every file under ``folder``: changes when a file does."""
    out = []
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            st = f.stat()
            out.append((f.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _load_collection(data_dir: Path, referential: Referential, territories):
    """The validated collection of ``data_dir``, cached while its files and the referential's
    files are unchanged (a warm kernel reuses it from one page to the next)."""
    from . import collection

    ref_sig = tuple((f, os.stat(f).st_mtime_ns, os.stat(f).st_size) for f in referential.files)
    key = (str(data_dir.resolve()), _signature(data_dir), ref_sig)
    if key not in _COLLECTIONS:
        if len(_COLLECTIONS) > 4:
            _COLLECTIONS.clear()
        _COLLECTIONS[key] = collection.load_collection([data_dir], referential, territories)
    return _COLLECTIONS[key]


def public_tables(referential: Referential) -> dict[str, pd.DataFrame]:
    """``{serie: public_data.series(serie)}`` for every public indicator of the referential."""
    from . import public_data

    out: dict[str, pd.DataFrame] = {}
    for ind in referential.indicators():
        if ind.source == "public" and ind.serie and ind.serie not in out:
            out[ind.serie] = public_data.series(ind.serie, referential)
    return out


def expected_territories(territories) -> dict[str, tuple[str, ...]]:
    """Territories expected at each level where the engine has no default: the 7 arrondissements.

    Other levels: the département; structures and gendarmerie companies from the referential;
    indicators listing their own ``territoires`` (EPCI, communes, TJ) use that list.
    """
    arr = territories.arrondissements
    return {"arrondissement": tuple(str(c) for c in arr["arrondissement"])}


def load_context(settings, *, with_collection: bool = True) -> Context:
    """Load the inputs of a page from validated parameters (:class:`parameters.Settings`).

    The collection is validated (a :class:`collection.CollectionError` lists every problem, as
    ``plancadre-eval check`` does); ``with_collection=False`` skips it (the diagnostic page uses
    public statistics only).
    """
    from . import territories as territories_module

    terr = territories_module.load_territories()
    ref = settings.referential
    if with_collection:
        col = _load_collection(Path(settings.data_dir), ref, terr)
        observations, files = col.observations, tuple(col.files)
    else:
        observations, files = indicators.prepare_observations(None), ()
    return Context(
        referential=ref, year=int(settings.year), data_dir=Path(settings.data_dir),
        secret_threshold=int(settings.secret_threshold), territories=terr,
        observations=observations, files=files, public=public_tables(ref),
        expected=expected_territories(terr),
        demo=with_collection and demo.is_demo_data(settings.data_dir),
    )


def _arrondissement_names(territories) -> dict[str, str]:
    arr = territories.arrondissements
    return {str(c): str(n) for c, n in zip(arr["arrondissement"], arr["nom"])}


# --- value formatting --------------------------------------------------------------------------

#: Decimals shown per indicator type (rates per 10 000 inhabitants are small numbers: 2 decimals).
DECIMALS = {**formatting.TYPE_DECIMALS, "taux": 2}


def decimals_of(indicator: Indicator) -> int:
    """Maximum number of decimals shown for an indicator's values."""
    return DECIMALS.get(indicator.type, 2)


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


def _date_text(value: Any) -> str:
    try:
        return formatting.format_date(value)
    except ValueError:
        return str(value)


# --- one fiche: data ------------------------------------------------------------------------------

@dataclass
class FicheData:
    """Every table of one fiche's evaluation, computed once (statistical secrecy applied).

    ``table``: :func:`indicators.indicator_table` of the year for the fiche; ``values``:
    :func:`indicators.indicator_values` (reference year to year, all territories); ``targets``,
    ``milestones``, ``completeness``, ``discrepancies``: the engine's tables for the fiche;
    ``status``/``reasons``: :func:`indicators.fiche_status`; ``due``: whether the frequency of the
    fiche plans an evaluation this year.
    """

    context: Context
    fiche: Fiche
    table: pd.DataFrame
    values: pd.DataFrame
    targets: pd.DataFrame
    milestones: pd.DataFrame
    completeness: pd.DataFrame
    discrepancies: pd.DataFrame
    status: str
    reasons: list[str]
    due: bool
    due_years: list[int] = field(default_factory=list)

    @property
    def year(self) -> int:
        return self.context.year

    def row(self, indicator_id: str, territory: str | None = None) -> pd.Series | None:
        """The indicator table row of an indicator for a territory (default: the département, else
        the first row of the indicator)."""
        rows = self.table[self.table["indicateur"] == indicator_id]
        if rows.empty:
            return None
        code = territory or self.context.departement
        exact = rows[rows["territoire"] == code]
        if not exact.empty:
            return exact.iloc[0]
        return None if territory else rows.iloc[0]


def fiche_data(ctx: Context, fiche_id: str) -> FicheData:
    """Compute the tables of one fiche's evaluation for ``ctx.year`` (see :class:`FicheData`)."""
    ref, year, obs = ctx.referential, ctx.year, ctx.observations
    try:
        fiche = ref.fiche(str(fiche_id))
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    thr = ctx.secret_threshold
    table = indicators.indicator_table(ref, obs, year, ctx.territories, ctx.public, ctx.expected,
                                       fiches=[fiche.id], secret_threshold=thr)
    values = indicators.indicator_values(ref, obs, fiche.id, year, ctx.territories, ctx.public,
                                         secret_threshold=thr)
    targets = indicators.target_progress(ref, obs, year, ctx.territories, ctx.public, fiche.id,
                                         secret_threshold=thr)
    milestones = indicators.milestone_status(ref, obs, year, fiche.id)
    comp = indicators.completeness(ref, obs, year, ctx.expected, fiche.id)
    disc = indicators.discrepancies(ref, obs, year, ctx.territories, ctx.public, fiche.id,
                                    secret_threshold=thr)
    status, reasons = indicators.fiche_status(ref, obs, year, fiche.id, ctx.expected,
                                              ctx.territories, ctx.public)
    years = schedule.due_years(fiche, ref.plan)
    return FicheData(context=ctx, fiche=fiche, table=table, values=values, targets=targets,
                     milestones=milestones, completeness=comp, discrepancies=disc, status=status,
                     reasons=list(reasons), due=year in years, due_years=list(years))


# --- one fiche: sections ---------------------------------------------------------------------------

def _years_text(years: Sequence[int]) -> str:
    years = [str(y) for y in years]
    if not years:
        return "aucune année du plan"
    return years[0] if len(years) == 1 else ", ".join(years[:-1]) + " et " + years[-1]


# --- what the plan says and what the evaluators added (issue 15) ------------------------------

#: Said next to the evaluation frequency when the plan asks for half-yearly values.
HALF_YEARLY_NOTE = (
    "le plan demande aussi un point tous les six mois pendant l'expérimentation ; le format de "
    "collecte étant annuel (une valeur par indicateur, territoire et année), les valeurs "
    "semestrielles ne sont pas collectées ni évaluées ici : les pilotes peuvent les donner en "
    "commentaire")


def _notes_html(label: str, notes: Sequence[str]) -> Html:
    """``label`` followed by each note on its own line (class ``origine-plan``)."""
    return Html(esc(label) + "".join(f'<span class="origine-plan">{esc(n)}</span>' for n in notes
                                     if n))


def indicator_notes(ind: Indicator, public: dict[str, pd.DataFrame] | None = None) -> list[str]:
    """What a reader must know about an indicator's wording, shown under its label: its origin
    when the plan did not adopt it as such ("indicateur ajouté pour l'évaluation") and, for a public
    series, what the series measures ("mesuré par : …")."""
    notes = [origin_label("indicateur", ind.origine)]
    serie = (public or {}).get(ind.serie or "") if ind.source == "public" else None
    if serie is not None and serie.attrs.get("mesure"):
        notes.append(f"mesuré par : {serie.attrs['mesure']}")
    return [n for n in notes if n]


def target_notes(fiche: Fiche, label: str) -> list[str]:
    """Origin and reading of the fiche's target named ``label`` ("cible déduite du plan",
    "fourchette du plan ramenée à une valeur")."""
    for t in fiche.cibles:
        if t.libelle == label:
            return [n for n in (origin_label("cible", t.origine), READING_LABELS.get(t.lecture, ""))
                    if n]
    return []


def milestone_notes(fiche: Fiche, milestone_id: str) -> list[str]:
    for m in fiche.jalons:
        if m.id == milestone_id:
            return [n for n in (origin_label("jalon", m.origine),) if n]
    return []


def baseline_notes(fiche: Fiche, indicator_id: str, territory: str, year: Any) -> list[str]:
    """Date and reading notes of the baseline used as reference for ``indicator_id`` in
    ``territory`` (its ``year``): "date non précisée dans le plan", "plancher du plan … lu comme
    valeur exacte"; nothing when the reference is not a baseline of the plan."""
    for b in fiche.etat_des_lieux:
        if (b.indicateur == indicator_id and b.territoire == territory
                and not formatting.is_missing(year) and b.date.year == int(year)):
            return [n for n in (UNDATED_TEXT if not b.date_precisee else "",
                                READING_LABELS.get(b.lecture, "")) if n]
    return []


def fiche_header(data: FicheData) -> Html:
    """The page's ``h1`` (fiche and year), the demonstration notice and the fiche's identity: axe,
    objective, pilot, partners, territory, evaluation frequency, deadlines, means, related fiches."""
    f, ctx = data.fiche, data.context
    ref = ctx.referential
    try:
        axis = ref.axis(f.axe)
        axis_text = f"Axe {axis.id} : {axis.titre}"
    except KeyError:
        axis_text = f"Axe {f.axe}"
    due_note = ("" if data.due else
                f" — pas d'évaluation prévue en {data.year} par cette fréquence ; page produite à la demande")
    items = [
        ("Axe", esc(axis_text)),
        ("Objectif", esc(f.objectif)),
        ("Nature", esc(NATURE_LABELS.get(f.nature, f.nature))),
        ("Pilote" + ("s" if len(f.pilotes) > 1 else ""),
         esc(" ; ".join(f.pilotes)) + f" (<abbr>{esc(f.pilote_court)}</abbr>)"),
        ("Partenaires", esc(" ; ".join(f.partenaires)) if f.partenaires else MISSING),
        ("Territoire", esc(f.territoire)),
        ("Fréquence d'évaluation",
         esc(f"{f.frequence.libelle} (évaluée en {_years_text(data.due_years)}){due_note}"
             + (f" — {HALF_YEARLY_NOTE}" if f.frequence.code == "semestrielle" else ""))),
    ]
    if f.delais:
        items.append(("Délais de mise en œuvre", esc(f.delais)))
    if f.moyens:
        items.append(("Moyens", esc(f.moyens)))
    if f.liens:
        due = set(schedule.due_fiches(ref, data.year))
        links = [link(f"fiche-{x}.html", f"fiche {x}") if x in due else esc(f"fiche {x}")
                 for x in f.liens]
        items.append(("Fiches liées", ", ".join(links)))
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items)
    return Html(
        _STYLE
        + f'<p class="surtitre">{esc(ref.plan.titre)}</p>'
        + f"<h1>Fiche {esc(f.id)} — {esc(f.titre)}</h1>"
        + f'<p class="sous-titre">Évaluation {data.year}</p>'
        + demo_notice(ctx.data_dir)
        + f'<dl class="identite">{dl}</dl>'
    )


def status_section(data: FicheData) -> Html:
    """The fiche's status for the year as a large badge, the reasons, and the decision rule
    (:data:`indicators.FICHE_STATUS_RULE`) in a ``<details>``."""
    return Html(
        f'<p>Statut de la fiche {esc(data.fiche.id)} en {data.year} : '
        f"{badge(data.status, large=True)}</p>"
        + "<p>Ce qui fonde ce statut :</p>" + _ul(data.reasons)
        + "<details><summary>Règle de décision du statut d'une fiche</summary>"
        + rule_html(indicators.FICHE_STATUS_RULE) + "</details>"
    )


def _not_quantified_text(ind: Indicator) -> str | None:
    if ind.type == "qualitatif":
        return QUALITATIVE_TEXT
    if ind.type == "a_determiner":
        return TO_BE_DEFINED_TEXT
    return None


def _milestone_of(data: FicheData, ind: Indicator) -> pd.Series | None:
    if not ind.jalon:
        return None
    ms = data.milestones[data.milestones["jalon"] == ind.jalon]
    if not ms.empty:
        return ms.iloc[0]
    others = indicators.milestone_status(data.context.referential, data.context.observations,
                                         data.year)
    ms = others[others["jalon"] == ind.jalon]
    return None if ms.empty else ms.iloc[0]


def indicator_overview(data: FicheData) -> pd.DataFrame:
    """One row per indicator of the fiche, as shown in the page's indicator table (strings).

    Columns: ``N°``, ``Indicateur``, ``Unité``, ``Référence``, the previous year, the year,
    ``Évolution sur un an``, ``Cible``, ``Progression vers la cible``, ``Statut``. Values are the
    département's (the indicator's first territory when it has no département row). Qualitative and
    "à déterminer" indicators read :data:`QUALITATIVE_TEXT` / :data:`TO_BE_DEFINED_TEXT` across the
    value columns (a :class:`Span`), never a zero; jalon-type indicators give the milestone's
    realisation and status.
    """
    y = data.year
    cols = ["N°", "Indicateur", "Unité", "Référence", str(y - 1), str(y), "Évolution sur un an",
            "Cible", "Progression vers la cible", "Statut"]
    rows = []
    for ind in data.fiche.indicateurs:
        r = data.row(ind.id)
        notes = indicator_notes(ind, data.context.public)
        base = [ind.id, _notes_html(ind.libelle, notes) if notes else ind.libelle]
        text = _not_quantified_text(ind)
        if text is not None:
            rows.append(base + [Span(text, 7)] + [None] * 6 + [MISSING])
            continue
        if ind.type == "jalon":
            ms = _milestone_of(data, ind)
            if ms is None:
                rows.append(base + [Span("jalon non trouvé dans le référentiel", 7)] + [None] * 6
                            + [MISSING])
                continue
            done = ms["realisation"]
            done_text = (f"réalisé le {_date_text(done)}" if not formatting.is_missing(done)
                         else "non réalisé")
            rows.append(base + ["jalon", MISSING, MISSING, done_text, MISSING,
                                f"échéance : {_date_text(ms['echeance'])}", MISSING,
                                badge(str(ms["statut"]))])
            continue
        if ind.type == "date":
            texte = "" if r is None else str(r.get("texte", "") or "")
            shown = _date_text(texte) if texte else MISSING
            rows.append(base + ["date", MISSING, MISSING, shown, MISSING, MISSING, MISSING, MISSING])
            continue
        if r is None:
            rows.append(base + [ind.unite or MISSING] + [MISSING] * 6 + [badge("non évaluable")])
            continue
        diff = str(r["diffusion"])
        ref_text = value_text(r["reference"], ind, diff)
        if ref_text not in (MISSING, SECRET) and not formatting.is_missing(r["annee_reference"]):
            ref_notes = baseline_notes(data.fiche, ind.id, str(r["territoire"]), r["annee_reference"])
            ref_text += f" ({', '.join([str(int(r['annee_reference']))] + ref_notes)})"
        cible = MISSING
        if not formatting.is_missing(r["cible"]):
            cible = Html(esc(value_text(r["cible"], ind)) + "<br>échéance : "
                         + esc(_date_text(r["echeance_cible"])))
        progress = (SECRET if diff == "secret" else formatting.format_percent(r["progression_pct"], 0))
        unit = "%" if ind.type == "pourcentage" else (ind.unite or MISSING)
        rows.append(base + [unit, ref_text, value_text(r["valeur_n_1"], ind, diff),
                            value_text(r["valeur"], ind, diff),
                            change_text(r["evolution"], r["evolution_pct"], ind, diff),
                            cible, progress, badge(str(r["statut"]))])
    return pd.DataFrame(rows, columns=cols, dtype=object)


def indicators_section(data: FicheData) -> Html:
    """The table of the fiche's indicators for the year (département values, reference, previous
    year, change, target, progress, status), with how each value was obtained in a ``<details>``."""
    y, ctx = data.year, data.context
    table = indicator_overview(data)
    out = [html_table(table, f"Indicateurs de la fiche {data.fiche.id} en {y}, "
                             f"{ctx.name_of(ctx.departement)}",
                      numeric=("Référence", str(y - 1), str(y), "Évolution sur un an",
                               "Progression vers la cible"),
                      row_header="N°")]
    notes = []
    for ind in data.fiche.indicateurs:
        r = data.row(ind.id)
        if r is None or not ind.quantitative:
            continue
        origin = str(r.get("origine", "") or "")
        note = ORIGIN_NOTES.get(origin)
        if note and origin != indicators.ORIGIN_REPORTED:
            notes.append(f"{ind.id} ({y}) : {note}.")
        if str(r.get("origine_reference", "") or ""):
            notes.append(f"{ind.id} : référence = {r['origine_reference']}.")
    out.append(_p("Référence : valeur de l'état des lieux du plan (ou, à défaut, valeur déclarée pour "
                  f"{ctx.referential.plan.annee_reference}) ; progression : part du chemin parcouru "
                  "de la référence à la cible ; « — » : valeur absente ; « secret » : valeur masquée "
                  "(secret statistique)."))
    if notes:
        out.append("<details><summary>Mode de calcul des valeurs</summary>" + _ul(notes)
                   + "</details>")
    return Html("".join(out))


def _series_alt(label: str, unit: str, territory: str, points: Sequence[tuple[int, Any, str]],
                decimals: int, target: float | None = None, target_date: Any = None,
                pct: bool = False) -> str:
    def fmt(v):
        return formatting.format_percent(v, decimals) if pct else formatting.format_number(v, decimals)

    parts = []
    for year, value, diff in points:
        if diff == "secret":
            parts.append(f"secret en {year}")
        elif formatting.is_missing(value):
            parts.append(f"pas de valeur en {year}")
        else:
            parts.append(f"{fmt(value)} en {year}")
    years = [p[0] for p in points]
    span = f"de {min(years)} à {max(years)}" if years else ""
    unit_text = f" ({unit})" if unit and not pct else ""
    text = f"{label}{unit_text}, {territory}, {span} : " + ", ".join(parts)
    if target is not None and not formatting.is_missing(target):
        text += f" ; cible {fmt(target)}"
        if target_date is not None and not formatting.is_missing(target_date):
            text += f" au {_date_text(target_date)}"
    return text + "."


def _baseline(fiche: Fiche, ind: Indicator, territory: str):
    for b in fiche.etat_des_lieux:
        if b.indicateur == ind.id and b.territoire == territory:
            return b
    return None


def indicator_figure(data: FicheData, ind: Indicator) -> Html | None:
    """Chart of one quantitative indicator for the département from the reference year to the
    year, with its target (dashed) and the plan's baseline; None when there is no value at all."""
    from . import charts

    ctx, y = data.context, data.year
    dept = ctx.departement
    first = ctx.referential.plan.annee_reference
    vals = data.values[(data.values["indicateur"] == ind.id) & (data.values["territoire"] == dept)]
    by_year = {int(a): (v, str(d)) for a, v, d in zip(vals["annee"], vals["valeur"], vals["diffusion"])}
    if not any(not formatting.is_missing(v) for v, _ in by_year.values()):
        return None
    years = list(range(first, y + 1))
    series = pd.DataFrame({"annee": years,
                           "valeur": [by_year.get(a, (math.nan, ""))[0] for a in years]})
    r = data.row(ind.id)
    target = target_date = None
    if r is not None and not formatting.is_missing(r["cible"]):
        target = float(r["cible"])
        target_date = formatting.to_date(r["echeance_cible"]) if r["echeance_cible"] else None
    b = _baseline(data.fiche, ind, dept)
    pct = ind.type == "pourcentage"
    unit = "%" if pct else ind.unite
    fig = charts.indicator_chart(
        series, title="", unit=unit, decimals=decimals_of(ind),
        years=(first, y), target=target, target_date=target_date,
        baseline=float(b.valeur) if b is not None else None,
        baseline_date=b.date if b is not None else None, label=ctx.name_of(dept))
    points = [(a, by_year.get(a, (math.nan, ""))[0], by_year.get(a, (math.nan, ""))[1]) for a in years]
    alt = _series_alt(ind.libelle, unit, ctx.name_of(dept), points, decimals_of(ind), target,
                      target_date, pct)
    caption = f"{ind.id} : valeurs départementales {first}-{y}"
    if target is not None:
        caption += " ; cible en pointillés jusqu'à son échéance"
    if b is not None:
        caption += " ; cercle vide : état des lieux du plan"
    gaps = [a for a, v, d in points if formatting.is_missing(v) and d != "secret"]
    if gaps:
        caption += f" ; pas de valeur pour {_years_text(gaps)}"
    return figure(fig, alt, caption + ".")


def charts_section(data: FicheData) -> Html:
    """One chart per quantitative indicator (``h3`` each), or a sentence saying why there is none."""
    quantitative = [i for i in data.fiche.indicateurs if i.quantitative]
    if not quantitative:
        return Html(_p("Cette fiche n'a pas d'indicateur chiffré : pas de graphique d'évolution "
                       "(voir le tableau des indicateurs et les commentaires)."))
    out = []
    for ind in quantitative:
        out.append(f"<h3>{esc(ind.id)} — {esc(ind.libelle)}</h3>")
        fig = indicator_figure(data, ind)
        if fig is None:
            out.append(_p(f"Aucune valeur départementale de {data.context.referential.plan.annee_reference} "
                          f"à {data.year} : pas de graphique."))
        else:
            out.append(fig)
    return Html("".join(out))


def territory_breakdown(data: FicheData, ind: Indicator) -> tuple[pd.DataFrame, int]:
    """The infra-départemental values of an indicator: ``territoire, nom, valeur, diffusion`` and
    the year they are for (the evaluated year; for a public series without value that year, its
    latest year with values). Empty when the indicator has no territorial breakdown."""
    ctx = data.context
    dept = ctx.departement
    rows = data.table[(data.table["indicateur"] == ind.id) & (data.table["territoire"] != dept)]
    year = data.year
    if ind.source == "public" and rows["valeur"].isna().all():
        vals = data.values[(data.values["indicateur"] == ind.id) & (data.values["territoire"] != dept)
                           & data.values["valeur"].notna()]
        if not vals.empty:
            year = int(vals["annee"].max())
            rows = vals[vals["annee"] == year]
    out = pd.DataFrame({"territoire": [str(t) for t in rows["territoire"]],
                        "nom": [ctx.short_name_of(t) for t in rows["territoire"]],
                        "valeur": [float(v) if not formatting.is_missing(v) else math.nan
                                   for v in rows["valeur"]],
                        "diffusion": [str(d) for d in rows["diffusion"]]})
    return out, year


def territories_section(data: FicheData) -> Html:
    """Horizontal bars of the year's values by territory (arrondissement, gendarmerie company,
    structure…) for each quantitative indicator collected below the département."""
    from . import charts

    ctx = data.context
    out = []
    for ind in data.fiche.indicateurs:
        if not ind.quantitative:
            continue
        parts, year = territory_breakdown(data, ind)
        if parts.empty:
            continue
        if parts["valeur"].isna().all():
            out.append(f"<h3>{esc(ind.id)} — {esc(ind.libelle)}</h3>")
            if (parts["diffusion"] == "secret").all():
                out.append(_p(f"Valeurs {year} par territoire couvertes par le secret statistique "
                              f"(effectifs de personnes inférieurs à {ctx.secret_threshold}) : "
                              "seule la valeur départementale est publiée."))
            else:
                out.append(_p(f"Aucune valeur par territoire pour {year}" + (
                    " (valeurs secrètes pour " + ", ".join(
                        n for n, d in zip(parts["nom"], parts["diffusion"]) if d == "secret") + ")"
                    if (parts["diffusion"] == "secret").any() else "") + "."))
            continue
        pct = ind.type == "pourcentage"
        unit = "%" if pct else ind.unite
        targets = data.targets[(data.targets["indicateur"] == ind.id)
                               & (data.targets["territoire"] != ctx.departement)]
        target_map = {str(t): float(v) for t, v in zip(targets["territoire"], targets["valeur_cible"])}
        fig = charts.territory_bars(parts, title="", unit=unit, decimals=decimals_of(ind),
                                    target=target_map or None)
        missing_word = "non publié" if ind.source == "public" else "non déclaré"
        items = []
        for nom, v, d in zip(parts["nom"], parts["valeur"], parts["diffusion"]):
            if d == "secret":
                items.append(f"{nom} : secret")
            elif math.isnan(v):
                items.append(f"{nom} : {missing_word}")
            else:
                items.append(f"{nom} : {value_text(v, ind)}")
        alt = f"{ind.libelle} ({unit}) par territoire en {year} : " + " ; ".join(items) + "."
        if target_map:
            alt += " Cibles : " + " ; ".join(
                f"{ctx.short_name_of(t)} : {value_text(v, ind)}" for t, v in target_map.items()) + "."
        note = ""
        if year != data.year:
            note = (f" Pas de valeur publiée pour {data.year} : dernière année disponible, {year}.")
        out.append(f"<h3>{esc(ind.id)} — {esc(ind.libelle)}</h3>")
        caption = f"{ind.id} : valeurs par territoire en {year}."
        if (parts["diffusion"] == "secret").any():
            caption += " « secret » : valeur masquée (secret statistique)."
        out.append(figure(fig, alt, caption + note))
    if not out:
        return Html(_p("Les indicateurs de cette fiche sont suivis au niveau départemental seulement : "
                       "pas de répartition territoriale."))
    return Html("".join(out))


def target_overview(data: FicheData) -> pd.DataFrame:
    """One row per quantified target of the fiche (strings): ``Cible``, ``Indicateur``,
    ``Territoire``, ``Référence``, the year's value, ``Cible et échéance``, ``Progression``,
    ``Progression attendue``, ``Statut``."""
    y, ctx = data.year, data.context
    inds = {i.id: i for i in ctx.referential.indicators()}
    rows = []
    for _, t in data.targets.iterrows():
        ind = inds.get(str(t["indicateur"]))
        dummy = ind or Indicator(id="", fiche="", libelle="", type="comptage", unite=str(t["unite"]))
        ref_text = value_text(t["reference"], dummy)
        if ref_text != MISSING and not formatting.is_missing(t["date_reference"]):
            ref_notes = baseline_notes(data.fiche, str(t["indicateur"]), str(t["territoire"]),
                                       pd.Timestamp(t["date_reference"]).year)
            ref_text += (f" ({pd.Timestamp(t['date_reference']).year}, {', '.join(ref_notes)})"
                         if UNDATED_TEXT in ref_notes else
                         f" ({', '.join([_date_text(t['date_reference'])] + ref_notes)})")
        notes = target_notes(data.fiche, str(t["cible"]))
        rows.append([
            _notes_html(str(t["cible"]), notes) if notes else str(t["cible"]),
            str(t["indicateur"] or MISSING), ctx.name_of(str(t["territoire"])),
            ref_text, value_text(t["valeur"], dummy),
            Html(esc(value_text(t["valeur_cible"], dummy, with_unit=dummy.type != "pourcentage"))
                 + "<br>échéance : " + esc(_date_text(t["echeance"]))),
            formatting.format_percent(t["progression_pct"], 0),
            formatting.format_percent(t["progression_attendue_pct"], 0),
            badge(str(t["statut"])),
        ])
    return pd.DataFrame(rows, columns=["Cible", "Indicateur", "Territoire", "Référence", f"Valeur {y}",
                                       "Cible et échéance", "Progression", "Progression attendue",
                                       "Statut"], dtype=object)


def targets_section(data: FicheData) -> Html:
    """The fiche's quantified targets: progress from the reference and the status, with why."""
    if data.targets.empty:
        return Html(_p("Le plan ne fixe pas de cible chiffrée à cette fiche."))
    table = target_overview(data)
    reasons = [f"« {c} » : {m}" for c, m in zip(data.targets["cible"], data.targets["motif"]) if m]
    return Html(
        html_table(table, f"Cibles de la fiche {data.fiche.id} au 31 décembre {data.year}",
                   numeric=("Référence", f"Valeur {data.year}", "Progression",
                            "Progression attendue"), row_header="Cible")
        + _p("Progression : part du chemin parcouru de la référence à la cible ; progression "
             "attendue : part du temps écoulé entre la date de référence et l'échéance au 31 "
             f"décembre {data.year} (trajectoire linéaire).")
        + ("<p>Motifs :</p>" + _ul(reasons) if reasons else ""))


def milestones_section(data: FicheData) -> Html:
    """The fiche's milestones: table (deadline, realisation, status) and a dated timeline."""
    from . import charts

    ms = data.milestones
    if ms.empty:
        return Html(_p("Cette fiche n'a pas de jalon daté."))
    table = pd.DataFrame({
        "Jalon": list(ms["jalon"]),
        "Étape": [_notes_html(str(lab), milestone_notes(data.fiche, str(j)))
                  if milestone_notes(data.fiche, str(j)) else lab
                  for j, lab in zip(ms["jalon"], ms["libelle"])],
        "Échéance": [_date_text(d) for d in ms["echeance"]],
        "Réalisation": [_date_text(d) if not formatting.is_missing(d) else "non déclarée"
                        for d in ms["realisation"]],
        "Statut": [badge(str(s)) for s in ms["statut"]],
    }, dtype=object)
    fig = charts.milestone_timeline(ms, data.year)
    parts = []
    for _, m in ms.iterrows():
        done = (f"réalisé le {_date_text(m['realisation'])}"
                if not formatting.is_missing(m["realisation"]) else "non réalisé")
        parts.append(f"{m['jalon']} : échéance {_date_text(m['echeance'])}, {done} ({m['statut']})")
    alt = (f"Frise des {len(ms)} jalons de la fiche {data.fiche.id} au 31 décembre {data.year} : "
           + " ; ".join(parts) + ".")
    return Html(
        html_table(table, f"Jalons de la fiche {data.fiche.id} au 31 décembre {data.year}",
                   row_header="Jalon")
        + figure(fig, alt, "Trait noir : échéance ; symbole : réalisation (forme et couleur selon le "
                           "statut) ; un jalon en retard non réalisé est placé à la date de "
                           "l'évaluation.")
    )


def public_section(data: FicheData) -> Html:
    """For indicators taken from public statistics: the source sentence (dataset, edition, index
    numbers), the approximation warning and the published values by territory and year."""
    ctx, y = data.context, data.year
    inds = [i for i in data.fiche.indicateurs if i.source == "public"]
    if not inds:
        return Html(_p("Cette fiche n'utilise pas de statistique publique : ses indicateurs chiffrés "
                       "sont déclarés par les services pilotes."))
    first = ctx.referential.plan.annee_reference
    out = []
    for ind in inds:
        out.append(f"<h3>{esc(ind.id)} — {esc(ind.libelle)}</h3>")
        serie = ctx.public.get(ind.serie or "")
        if serie is None:
            out.append(_p(f"Série publique « {ind.serie} » non disponible."))
            continue
        attrs = serie.attrs
        out.append('<div class="note-source" role="note">'
                   f"<p><strong>Source</strong> : {esc(attrs.get('source', ''))}</p>"
                   f"<p><strong>Approximation</strong> : {esc(attrs.get('approximation', ''))}</p></div>")
        sel = serie[(serie["annee"] >= first) & (serie["annee"] <= y)]
        if sel.empty:
            out.append(_p(f"Aucune valeur publiée de {first} à {y}."))
            continue
        years = sorted({int(a) for a in sel["annee"]})
        codes = sorted(set(sel["territoire"]), key=lambda c: (c != ctx.departement, c))
        rows = []
        for code in codes:
            part = sel[sel["territoire"] == code]
            by = dict(zip(part["annee"].astype(int), part["valeur"]))
            rows.append([ctx.name_of(code)] + [formatting.format_number(by.get(a), 0) for a in years])
        table = pd.DataFrame(rows, columns=["Territoire"] + [str(a) for a in years], dtype=object)
        unit = attrs.get("unite") or ind.unite
        out.append(html_table(table, f"{ind.id} : {unit} publiés, {years[0]}-{years[-1]}",
                              numeric=[str(a) for a in years], row_header="Territoire"))
        if max(years) < y:
            out.append(_p(f"La série publiée s'arrête en {max(years)} : pas de valeur pour "
                          f"{_years_text(list(range(max(years) + 1, y + 1)))}."))
    return Html("".join(out))


def missing_values(data: FicheData) -> pd.DataFrame:
    """Expected values of the year that were not reported (strings): ``Indicateur``, ``Libellé``,
    ``Élément manquant``, ``Territoire``, ``Service pilote``."""
    comp = data.completeness
    miss = comp[~comp["declare"].astype(bool)]
    ctx = data.context
    return pd.DataFrame({
        "Indicateur": list(miss["indicateur"]), "Libellé": list(miss["libelle"]),
        "Élément manquant": [COMPONENT_LABELS.get(c, c) for c in miss["composante"]],
        "Territoire": [ctx.name_of(t) for t in miss["territoire"]],
        "Service pilote": list(miss["pilote"]),
    }, dtype=object)


def completeness_section(data: FicheData) -> Html:
    """What data was expected for the year, what is missing and from whom; discrepancies found."""
    comp, f, y = data.completeness, data.fiche, data.year
    out = []
    if comp.empty:
        out.append(_p(f"Aucune valeur n'est attendue des services pilotes pour {y} (indicateurs "
                      "issus de la statistique publique, à déterminer, ou jalons non échus)."))
    else:
        summary = indicators.completeness_summary(comp, by=("pilote",))
        expected, declared = int(summary["attendues"].sum()), int(summary["declarees"].sum())
        out.append(_p(f"{_plural(declared, 'valeur déclarée', 'valeurs déclarées')} sur "
                      f"{formatting.format_number(expected, 0)} attendues pour {y} "
                      f"({formatting.format_percent(declared / expected * 100, 0)}), "
                      f"à fournir par : {' ; '.join(f.pilotes)} ({f.pilote_court})."))
        table = pd.DataFrame({
            "Service pilote": list(summary["pilote"]),
            "Attendues": [formatting.format_number(v, 0) for v in summary["attendues"]],
            "Déclarées": [formatting.format_number(v, 0) for v in summary["declarees"]],
            "Manquantes": [formatting.format_number(v, 0) for v in summary["manquantes"]],
            "Taux de réponse": [formatting.format_percent(v, 0) for v in summary["taux_pct"]],
        }, dtype=object)
        out.append(html_table(table, f"Complétude des données de la fiche {f.id} en {y}",
                              numeric=("Attendues", "Déclarées", "Manquantes", "Taux de réponse"),
                              row_header="Service pilote"))
        missing = missing_values(data)
        if missing.empty:
            out.append(_p("Toutes les valeurs attendues ont été déclarées."))
        else:
            tab = html_table(missing, f"Valeurs attendues et non déclarées pour {y}",
                             row_header="Indicateur")
            if len(missing) > 12:
                out.append(f"<details><summary>Voir les {len(missing)} valeurs manquantes</summary>"
                           f"{tab}</details>")
            else:
                out.append(tab)
    not_collected = [i for i in f.indicateurs if not i.collected]
    if not_collected:
        out.append(_p("Ne sont pas demandés aux pilotes : " + " ; ".join(
            f"{i.id} ({'statistique publique' if i.source == 'public' else 'calculé' if i.type == 'taux' else 'à déterminer'})"
            for i in not_collected) + "."))
    if not data.discrepancies.empty:
        out.append("<h3>Incohérences relevées dans les données</h3>")
        out.append(_p("Quand un total départemental déclaré diffère de la somme de ses parties, le "
                      "total déclaré est retenu ; l'écart est signalé ici pour vérification."))
        out.append(_ul(list(data.discrepancies["message"])))
    return Html("".join(out))


def fiche_comments(data: FicheData, year: int | None = None) -> pd.DataFrame:
    """Comments reported for the fiche (``commentaire`` column of the collection files, and the text
    of qualitative indicators), for ``year`` (default: the evaluated year) or, with ``year=0``, for
    every year up to the evaluated one: ``Année``, ``Indicateur``, ``Territoire``, ``Commentaire``."""
    ctx, f = data.context, data.fiche
    obs = ctx.observations
    ids = {i.id for i in f.indicateurs} | {m.id for m in f.jalons}
    sel = obs[(obs["fiche"] == f.id) | obs["indicateur"].isin(ids)]
    sel = sel[sel["annee"] <= data.year] if year == 0 else sel[sel["annee"] == (year or data.year)]
    types = {i.id: i.type for i in f.indicateurs}
    rows = []
    for _, r in sel.iterrows():
        texts = []
        texte, comment = str(r["texte"] or "").strip(), str(r["commentaire"] or "").strip()
        if types.get(str(r["indicateur"])) in ("qualitatif", "a_determiner") and texte \
                and texte.lower() not in ("voir commentaire", "voir commentaires") and texte != comment:
            texts.append(texte)
        if comment:
            texts.append(comment)
        if texts:
            rows.append([int(r["annee"]), str(r["indicateur"]), ctx.name_of(str(r["territoire"])),
                         " — ".join(texts)])
    out = pd.DataFrame(rows, columns=["Année", "Indicateur", "Territoire", "Commentaire"])
    if out.empty:
        return out
    out["_k"] = [fiche_sort_key(i) for i in out["Indicateur"]]
    out = out.sort_values(["Année", "_k", "Territoire"], ascending=[False, True, True], kind="mergesort")
    return out.drop(columns="_k").drop_duplicates().reset_index(drop=True)


def comments_section(data: FicheData) -> Html:
    """The analysts' and pilots' comments of the year, earlier years in a ``<details>``."""
    y = data.year
    now = fiche_comments(data)
    all_years = fiche_comments(data, 0)
    before = all_years[all_years["Année"] < y]
    out = []
    if now.empty:
        out.append(_p(f"Aucun commentaire déclaré pour {y}."))
    else:
        table = now.drop(columns="Année")
        out.append(html_table(table.astype(object), f"Commentaires déclarés pour {y}",
                              row_header="Indicateur"))
    if not before.empty:
        shown = before.astype(object).assign(Année=[str(a) for a in before["Année"]])
        out.append("<details><summary>Commentaires des années précédentes "
                   f"({len(before)})</summary>"
                   + html_table(shown, "Commentaires des années précédentes", row_header="Année")
                   + "</details>")
    return Html("".join(out))


def _file_rows(entries: Iterable[tuple[str, str]]) -> pd.DataFrame:
    rows = [[provenance.display_path(p), Html(f'<span class="empreinte">{esc(h)}</span>')]
            for p, h in entries]
    return pd.DataFrame(rows, columns=["Fichier", "Empreinte SHA-256"], dtype=object)


def fiche_files(data: FicheData) -> list[tuple[str, str]]:
    """``(path, sha256)`` of the collection files holding rows of the fiche (only those)."""
    obs = data.context.observations
    f = data.fiche
    ids = {i.id for i in f.indicateurs} | {m.id for m in f.jalons}
    names = set(obs.loc[(obs["fiche"] == f.id) | obs["indicateur"].isin(ids), "fichier"])
    out = []
    for path, digest in data.context.files:
        rel = Path(path)
        try:
            rel_name = Path(path).resolve().relative_to(data.context.data_dir.resolve()).as_posix()
        except ValueError:
            rel_name = rel.name
        if rel_name in names or rel.name in names:
            out.append((path, digest))
    return out


def _referential_rows(ref: Referential, fiche: Fiche | None = None) -> list[tuple[str, str]]:
    files = [f for f in ref.files if fiche is None or Path(f).name in ("plan.yaml", fiche.fichier)]
    return [(f, provenance.sha256(f)) for f in files]


def _editions_table(entries: list[dict[str, str]]) -> Html:
    rows = [[e["libelle"], e["edition"], e["licence"], e["fichier"],
             Html(f'<span class="empreinte">{esc(e["sha256"])}</span>')] for e in entries]
    table = pd.DataFrame(rows, columns=["Jeu de données", "Édition", "Licence", "Fichier",
                                        "Empreinte SHA-256"], dtype=object)
    return html_table(table, "Données publiques utilisées", row_header="Jeu de données")


def _provenance(ctx: Context, data_files: list[tuple[str, str]], ref_files: list[tuple[str, str]],
                editions: list[dict[str, str]], what: str) -> Html:
    out = [_p(f"Produit par {provenance.library_version()} ; référentiel : "
              f"{provenance.display_path(ctx.referential.folder)} ; données de collecte : "
              f"{provenance.display_path(ctx.data_dir)}"
              + (" (données de démonstration)" if ctx.demo else "")
              + f" ; seuil du secret statistique : {ctx.secret_threshold} personnes.")]
    if data_files:
        out.append(html_table(_file_rows(data_files), f"Fichiers de collecte lus {what}",
                              row_header="Fichier"))
    else:
        out.append(_p(f"Aucun fichier de collecte ne contient de ligne {what}."))
    out.append(html_table(_file_rows(ref_files), "Fichiers du référentiel", row_header="Fichier"))
    if editions:
        out.append(_editions_table(editions))
    return Html("".join(out))


def provenance_section(data: FicheData) -> Html:
    """Sources of the page: the collection files of the fiche with their SHA-256, the library
    version, the referential files, the public data editions (fiches with public indicators; the
    INSEE files when a rate uses legal populations)."""
    from . import public_data

    f, ctx = data.fiche, data.context
    uses_public = any(i.source == "public" for i in f.indicateurs)
    uses_population = any(i.type == "taux" for i in f.indicateurs)
    editions = []
    if uses_public or uses_population:
        all_ed = public_data.editions(include_territories=uses_population)
        editions = [e for e in all_ed if uses_public or not e["fichier"].startswith("data/public/")]
    return _provenance(ctx, fiche_files(data), _referential_rows(ctx.referential, f), editions,
                       f"pour la fiche {f.id}")


# --- synthesis ---------------------------------------------------------------------------------

@dataclass
class SynthesisData:
    """Tables of the annual synthesis, computed once: ``statuses`` of every fiche (with ``due``),
    ``summary`` (:func:`indicators.plan_summary`), ``targets`` and ``milestones`` of every fiche,
    ``completeness`` of the fiches due, ``table`` (:func:`indicators.indicator_table`, all fiches)."""

    context: Context
    statuses: pd.DataFrame
    summary: pd.DataFrame
    targets: pd.DataFrame
    milestones: pd.DataFrame
    completeness: pd.DataFrame
    table: pd.DataFrame
    due: list[str]

    @property
    def year(self) -> int:
        return self.context.year


def synthesis_data(ctx: Context) -> SynthesisData:
    """Compute the synthesis tables for ``ctx.year``."""
    ref, y, obs = ctx.referential, ctx.year, ctx.observations
    statuses = indicators.fiche_statuses(ref, obs, y, ctx.expected, ctx.territories, ctx.public)
    due = list(schedule.due_fiches(ref, y))
    statuses["due"] = statuses["fiche"].isin(due)
    summary = indicators.plan_summary(statuses, ref)
    targets = indicators.target_progress(ref, obs, y, ctx.territories, ctx.public,
                                         secret_threshold=ctx.secret_threshold)
    milestones = indicators.milestone_status(ref, obs, y)
    comp = indicators.completeness(ref, obs, y, ctx.expected)
    comp = comp[comp["fiche"].isin(due)]
    table = indicators.indicator_table(ref, obs, y, ctx.territories, ctx.public, ctx.expected,
                                       secret_threshold=ctx.secret_threshold)
    return SynthesisData(context=ctx, statuses=statuses, summary=summary, targets=targets,
                         milestones=milestones, completeness=comp, table=table, due=due)


def synthesis_header(sd: SynthesisData) -> Html:
    """``h1`` of the synthesis, demonstration notice and a one-paragraph reading guide."""
    ctx = sd.context
    ref = ctx.referential
    n, n_due = len(ref.fiches), len(sd.due)
    return Html(
        _STYLE + f'<p class="surtitre">{esc(ref.plan.titre)}</p>'
        + f"<h1>Synthèse {sd.year} du plan cadre</h1>"
        + f'<p class="sous-titre">Bilan annuel pour le comité de pilotage</p>'
        + demo_notice(ctx.data_dir)
        + _p(f"Le plan compte {n} fiches action réparties en {len(ref.axes)} axes. Le statut de "
             f"chaque fiche est calculé pour {sd.year} à partir des données déclarées ; "
             f"{n_due} fiches font l'objet d'une évaluation détaillée cette année selon la "
             "fréquence fixée par le plan (liens dans le tableau des fiches).")
    )


def plan_overview(sd: SynthesisData) -> pd.DataFrame:
    """:func:`indicators.plan_summary` as shown (strings): ``Axe``, ``Fiches`` and one column per
    fiche status, ``Mises en œuvre``, ``Engagées`` (count and share)."""
    rows = []
    for _, r in sd.summary.iterrows():
        label = "Ensemble du plan" if r["axe"] == "Ensemble" else f"Axe {r['axe']} : {r['titre']}"
        row = [label, formatting.format_number(r["fiches"], 0)]
        row += [formatting.format_number(r[s], 0) for s in indicators.FICHE_STATUSES]
        for key in ("mises en œuvre", "engagées"):
            row.append(f"{formatting.format_number(r[key], 0)} "
                       f"({formatting.format_percent(r[f'part {key} (%)'], 0)})")
        rows.append(row)
    cols = (["Axe", "Fiches"] + [s.capitalize() for s in indicators.FICHE_STATUSES]
            + ["Mises en œuvre (part)", "Engagées (part)"])
    return pd.DataFrame(rows, columns=cols, dtype=object)


def plan_overview_section(sd: SynthesisData) -> Html:
    """The plan-level figures: share of fiches implemented and engaged, by axe, with a bar chart."""
    from . import charts

    total = sd.summary[sd.summary["axe"] == "Ensemble"].iloc[0]
    y = sd.year
    sentence = (f"En {y}, {formatting.format_number(total['mises en œuvre'], 0)} fiches sur "
                f"{formatting.format_number(total['fiches'], 0)} sont mises en œuvre "
                f"({formatting.format_percent(total['part mises en œuvre (%)'], 0)}) et "
                f"{formatting.format_number(total['engagées'], 0)} sont engagées "
                f"({formatting.format_percent(total['part engagées (%)'], 0)} : mises en œuvre, en "
                "cours ou en retard).")
    table = plan_overview(sd)
    counts = sd.summary[sd.summary["axe"] != "Ensemble"].copy()
    counts["libelle"] = [f"Axe {a}" for a in counts["axe"]]
    fig = charts.status_bars(counts)
    alt_parts = []
    for _, r in counts.iterrows():
        bits = [f"{int(r[s])} {s}" for s in indicators.FICHE_STATUSES if int(r[s])]
        alt_parts.append(f"{r['libelle']} : " + ", ".join(bits))
    alt = f"Statut des fiches par axe en {y} : " + " ; ".join(alt_parts) + "."
    return Html(
        f"<p><strong>{esc(sentence)}</strong></p>"
        + html_table(table, f"Fiches par statut et par axe en {y}",
                     numeric=[c for c in table.columns if c != "Axe"], row_header="Axe")
        + figure(fig, alt, f"Nombre de fiches par statut et par axe en {y}.")
    )


def fiche_grid(sd: SynthesisData, axe: str) -> pd.DataFrame:
    """The fiches of one axe (strings): ``Fiche`` (a link to its page when due this year),
    ``Titre``, ``Pilote``, ``Statut`` (badge), ``Évaluation {year}``."""
    ref = sd.context.referential
    status = dict(zip(sd.statuses["fiche"], sd.statuses["statut"]))
    rows = []
    for f in ref.fiches:
        if f.axe != axe:
            continue
        due = f.id in sd.due
        rows.append([
            link(f"fiche-{f.id}.html", f.id) if due else f.id, f.titre, f.pilote_court,
            badge(status.get(f.id, "données insuffisantes")),
            link(f"fiche-{f.id}.html", f"Évaluation de la fiche {f.id}") if due else
            f"pas d'évaluation prévue en {sd.year} ({f.frequence.libelle.lower()})",
        ])
    return pd.DataFrame(rows, columns=["Fiche", "Titre", "Pilote", "Statut", f"Évaluation {sd.year}"],
                        dtype=object)


def fiche_grid_section(sd: SynthesisData) -> Html:
    """Status of every fiche, one table per axe (``h3``), with links to the fiches' pages."""
    out = []
    for a in sd.context.referential.axes:
        out.append(f"<h3>Axe {esc(a.id)} : {esc(a.titre)}</h3>")
        out.append(html_table(fiche_grid(sd, a.id), f"Statut {sd.year} des fiches de l'axe {a.id}",
                              row_header="Fiche"))
    out.append("<details><summary>Règle de décision du statut d'une fiche</summary>"
               + rule_html(indicators.FICHE_STATUS_RULE) + "</details>")
    return Html("".join(out))


def _count_table(values: pd.Series, order: Sequence[str], label: str, caption: str) -> Html:
    counts = values.value_counts()
    rows = [[badge(s), formatting.format_number(int(counts.get(s, 0)), 0)] for s in order]
    rows.append(["Total", formatting.format_number(int(counts.sum()), 0)])
    return html_table(pd.DataFrame(rows, columns=["Statut", label], dtype=object), caption,
                      numeric=(label,), row_header="Statut")


def targets_overview_section(sd: SynthesisData) -> Html:
    """Targets of the plan by status, and the targets behind schedule."""
    t = sd.targets
    if t.empty:
        return Html(_p("Le référentiel ne contient aucune cible chiffrée."))
    y = sd.year
    ctx = sd.context
    order = [s for s in indicators.TARGET_STATUSES if s != "sans cible"]
    out = [_count_table(t["statut"], order, "Cibles", f"Cibles chiffrées par statut au 31 décembre {y}")]
    late = t[t["statut"] == "en retard"]
    if late.empty:
        out.append(_p("Aucune cible n'est en retard."))
    else:
        inds = {i.id: i for i in ctx.referential.indicators()}
        rows = []
        for _, r in late.iterrows():
            ind = inds.get(str(r["indicateur"]))
            dummy = ind or Indicator(id="", fiche="", libelle="", type="comptage", unite="")
            rows.append([link(f"fiche-{r['fiche']}.html", r["fiche"]) if r["fiche"] in sd.due else r["fiche"],
                         str(r["cible"]), ctx.name_of(str(r["territoire"])),
                         value_text(r["valeur"], dummy), value_text(r["valeur_cible"], dummy),
                         _date_text(r["echeance"]), formatting.format_percent(r["progression_pct"], 0)])
        table = pd.DataFrame(rows, columns=["Fiche", "Cible", "Territoire", f"Valeur {y}", "Cible visée",
                                            "Échéance", "Progression"], dtype=object)
        out.append(html_table(table, f"Cibles en retard au 31 décembre {y}",
                              numeric=(f"Valeur {y}", "Cible visée", "Progression"), row_header="Fiche"))
    return Html("".join(out))


def milestones_overview_section(sd: SynthesisData) -> Html:
    """Milestones of the plan by status, and the late ones listed."""
    ms = sd.milestones
    if ms.empty:
        return Html(_p("Le référentiel ne contient aucun jalon."))
    y = sd.year
    out = [_count_table(ms["statut"], indicators.MILESTONE_STATUSES, "Jalons",
                        f"Jalons par statut au 31 décembre {y}")]
    late = ms[ms["statut"] == "en retard"]
    if late.empty:
        out.append(_p("Aucun jalon n'est en retard."))
    else:
        rows = [[r["jalon"], link(f"fiche-{r['fiche']}.html", r["fiche"]) if r["fiche"] in sd.due
                 else r["fiche"], r["libelle"], _date_text(r["echeance"])] for _, r in late.iterrows()]
        table = pd.DataFrame(rows, columns=["Jalon", "Fiche", "Étape", "Échéance"], dtype=object)
        out.append(html_table(table, f"Jalons en retard au 31 décembre {y}", row_header="Jalon"))
    return Html("".join(out))


def key_figures(sd: SynthesisData) -> pd.DataFrame:
    """Headline indicators (:data:`KEY_INDICATORS` present in the referential), département values
    (strings): ``Indicateur``, ``Fiche``, previous year, year, ``Évolution sur un an``, ``Cible``."""
    ctx, y = sd.context, sd.year
    inds = {i.id: i for i in ctx.referential.indicators()}
    t = sd.table
    rows = []
    for iid in KEY_INDICATORS:
        ind = inds.get(iid)
        if ind is None:
            continue
        r = t[(t["indicateur"] == iid) & (t["territoire"] == ctx.departement)]
        if r.empty:
            continue
        r = r.iloc[0]
        diff = str(r["diffusion"])
        unit = "" if ind.type == "pourcentage" else f" {ind.unite}"
        cible = MISSING
        if not formatting.is_missing(r["cible"]):
            cible = f"{value_text(r['cible'], ind)} ({_date_text(r['echeance_cible'])})"
        rows.append([f"{ind.libelle}", link(f"fiche-{ind.fiche}.html", ind.fiche)
                     if ind.fiche in sd.due else ind.fiche,
                     value_text(r["valeur_n_1"], ind, diff) + (unit if not formatting.is_missing(r["valeur_n_1"]) else ""),
                     value_text(r["valeur"], ind, diff) + (unit if not formatting.is_missing(r["valeur"]) else ""),
                     change_text(r["evolution"], r["evolution_pct"], ind, diff), cible])
    return pd.DataFrame(rows, columns=["Indicateur", "Fiche", str(y - 1), str(y),
                                       "Évolution sur un an", "Cible"], dtype=object)


def key_figures_section(sd: SynthesisData) -> Html:
    """The year's key figures (accueils de jour, hébergement, intervenants sociaux, TGD…)."""
    table = key_figures(sd)
    if table.empty:
        return Html(_p("Aucun des indicateurs phares n'est présent dans ce référentiel."))
    y = sd.year
    return Html(html_table(table, f"Chiffres clés {y}, Pas-de-Calais",
                           numeric=(str(y - 1), str(y), "Évolution sur un an"),
                           row_header="Indicateur"))


def map_section(sd: SynthesisData) -> Html:
    """Map of the dispositifs by arrondissement (:data:`MAP_INDICATORS`): small multiples."""
    from . import charts

    ctx, y = sd.context, sd.year
    inds = {i.id: i for i in ctx.referential.indicators()}
    names = _arrondissement_names(ctx.territories)
    t = sd.table
    panels, alt_parts, rows = [], [], []
    for iid, title in MAP_INDICATORS:
        ind = inds.get(iid)
        if ind is None or ind.niveau != "arrondissement":
            continue
        part = t[(t["indicateur"] == iid) & (t["territoire"].isin(list(names)))]
        values = {str(c): (float(v) if not formatting.is_missing(v) else None)
                  for c, v in zip(part["territoire"], part["valeur"])}
        panels.append((title, values, ind.unite))
        alt_parts.append(f"{title} ({ind.unite}) : " + ", ".join(
            f"{names[c]} {formatting.format_number(values.get(c), 2) if values.get(c) is not None else 'non déclaré'}"
            for c in sorted(names)))
        rows.append([title] + [formatting.format_number(values.get(c), 2) for c in sorted(names)])
    if not panels:
        return Html(_p("Aucun dispositif suivi par arrondissement dans ce référentiel."))
    fig = charts.maps_panel(panels, ctx.territories.boundaries("arrondissement"), names)
    table = pd.DataFrame(rows, columns=["Dispositif"] + [names[c] for c in sorted(names)], dtype=object)
    alt = f"Cartes des arrondissements du Pas-de-Calais en {y} : " + " ; ".join(alt_parts) + "."
    return Html(
        figure(fig, alt, f"Dispositifs par arrondissement en {y} (teinte plus foncée : valeur plus "
                         "élevée, chaque carte ayant sa propre échelle ; hachures : pas de valeur).")
        + html_table(table, f"Dispositifs par arrondissement en {y}",
                     numeric=[names[c] for c in sorted(names)], row_header="Dispositif"))


def completeness_overview(sd: SynthesisData) -> pd.DataFrame:
    """Completeness by pilot for the fiches due (strings), least complete first."""
    comp = sd.completeness
    if comp.empty:
        return pd.DataFrame(columns=["Service pilote", "Fiches", "Attendues", "Déclarées",
                                     "Manquantes", "Taux de réponse"])
    summary = indicators.completeness_summary(comp, by=("pilote",))
    fiches = comp.groupby("pilote")["fiche"].agg(lambda s: sorted(set(s), key=fiche_sort_key))
    summary = summary.sort_values(["taux_pct", "pilote"], kind="mergesort")
    return pd.DataFrame({
        "Service pilote": list(summary["pilote"]),
        "Fiches": [", ".join(fiches[p]) for p in summary["pilote"]],
        "Attendues": [formatting.format_number(v, 0) for v in summary["attendues"]],
        "Déclarées": [formatting.format_number(v, 0) for v in summary["declarees"]],
        "Manquantes": [formatting.format_number(v, 0) for v in summary["manquantes"]],
        "Taux de réponse": [formatting.format_percent(v, 0) for v in summary["taux_pct"]],
    }, dtype=object)


def completeness_overview_section(sd: SynthesisData) -> Html:
    table = completeness_overview(sd)
    if table.empty:
        return Html(_p(f"Aucune valeur n'est attendue des services pilotes en {sd.year}."))
    comp = sd.completeness
    n, k = len(comp), int(comp["declare"].sum())
    return Html(
        _p(f"{formatting.format_number(k, 0)} valeurs déclarées sur {formatting.format_number(n, 0)} "
           f"attendues ({formatting.format_percent(k / n * 100, 0)}) pour les fiches évaluées en "
           f"{sd.year}. Le détail des valeurs manquantes figure dans la page de chaque fiche.")
        + html_table(table, f"Complétude des données par service pilote en {sd.year}",
                     numeric=("Attendues", "Déclarées", "Manquantes", "Taux de réponse"),
                     row_header="Service pilote"))


def synthesis_provenance_section(sd: SynthesisData) -> Html:
    from . import public_data

    ctx = sd.context
    return _provenance(ctx, list(ctx.files), _referential_rows(ctx.referential),
                       public_data.editions(include_territories=True), "pour l'année")


# --- diagnostic ----------------------------------------------------------------------------------

@dataclass
class DiagnosticData:
    """The public series of the départemental diagnostic up to the evaluated year
    (:func:`public_data.diagnostic_table`) and their approximation sentences."""

    context: Context
    table: pd.DataFrame
    approximations: dict[str, str]
    #: The Pas-de-Calais among the other départements up to the year (SSMSI, all départements):
    #: :func:`public_data.comparison_table`, :func:`public_data.departement_ranks`,
    #: :func:`public_data.region_departements`.
    comparison: pd.DataFrame = field(default_factory=pd.DataFrame)
    ranks: pd.DataFrame = field(default_factory=pd.DataFrame)
    region: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def year(self) -> int:
        return self.context.year


def diagnostic_data(ctx: Context) -> DiagnosticData:
    """Départemental totals, populations and rates per 1 000 inhabitants up to ``ctx.year``, and
    the comparison with the region, metropolitan France and France (same SSMSI edition)."""
    from . import public_data

    table = public_data.diagnostic_table(ctx.territories)
    table = table[table["annee"] <= ctx.year].reset_index(drop=True)
    approximations = {code: public_data.series(code).attrs.get("approximation", "")
                      for code in dict.fromkeys(table["serie"])}
    base = public_data.load_ssmsi_departements()
    base = base[base["annee"] <= ctx.year]
    dep = ctx.departement
    return DiagnosticData(context=ctx, table=table, approximations=approximations,
                          comparison=public_data.comparison_table(base, dep),
                          ranks=public_data.departement_ranks(base, dep),
                          region=public_data.region_departements(base))


def diagnostic_header(dd: DiagnosticData) -> Html:
    ref = dd.context.referential
    y = dd.year
    years = sorted(set(dd.table["annee"]))
    span = f"{years[0]} à {years[-1]}" if years else "—"
    return Html(
        _STYLE + f'<p class="surtitre">{esc(ref.plan.titre)} — fiche 4.5</p>'
        + f"<h1>Diagnostic départemental {y} : les violences enregistrées dans le Pas-de-Calais</h1>"
        + _p(f"Statistiques publiques de la police et de la gendarmerie, de {span}, rapportées à la "
             "population (taux pour 1 000 habitants). Cette page n'utilise aucune donnée des "
             "services pilotes.")
    )


def diagnostic_series(dd: DiagnosticData, serie: str) -> pd.DataFrame:
    """One series of the diagnostic (strings): ``Année``, ``Nombre``, ``Population``,
    ``Millésime de population``, ``Taux pour 1 000 habitants``."""
    part = dd.table[dd.table["serie"] == serie].sort_values("annee")
    return pd.DataFrame({
        "Année": [str(a) for a in part["annee"]],
        "Nombre": [formatting.format_number(v, 0) for v in part["valeur"]],
        "Population": [formatting.format_number(v, 0) for v in part["population"]],
        "Millésime de population": [str(v) for v in part["millesime_population"]],
        "Taux pour 1 000 habitants": [formatting.format_number(v, 2) for v in part["taux_pour_mille"]],
    }, dtype=object)


def diagnostic_charts_section(dd: DiagnosticData) -> Html:
    from . import charts

    t = dd.table
    if t.empty:
        return Html(_p(f"Aucune statistique publique jusqu'en {dd.year}."))
    fig = charts.diagnostic_chart(t, title=f"Taux pour 1 000 habitants, Pas-de-Calais, "
                                           f"{int(t['annee'].min())}-{int(t['annee'].max())}")
    parts = []
    for label in dict.fromkeys(t["libelle"]):
        p = t[t["libelle"] == label].sort_values("annee")
        parts.append(f"{label} : de {formatting.format_number(p['taux_pour_mille'].iloc[0], 2)} en "
                     f"{int(p['annee'].iloc[0])} à {formatting.format_number(p['taux_pour_mille'].iloc[-1], 2)} "
                     f"en {int(p['annee'].iloc[-1])}")
    alt = "Taux pour 1 000 habitants dans le Pas-de-Calais : " + " ; ".join(parts) + "."
    return Html(figure(fig, alt, "Faits ou victimes enregistrés pour 1 000 habitants, par série "
                                 "(voir les précautions de lecture)."))


def diagnostic_series_section(dd: DiagnosticData) -> Html:
    out = []
    t = dd.table
    for code in dict.fromkeys(t["serie"]):
        part = t[t["serie"] == code]
        label = str(part["libelle"].iloc[0])
        out.append(f"<h3>{esc(label)}</h3>")
        out.append(html_table(diagnostic_series(dd, code), f"{label} : nombre et taux pour 1 000 habitants",
                              numeric=("Nombre", "Population", "Taux pour 1 000 habitants"),
                              row_header="Année"))
        out.append(f'<div class="note-source" role="note"><p><strong>Source</strong> : '
                   f"{esc(part['source'].iloc[0])}</p><p><strong>Approximation</strong> : "
                   f"{esc(dd.approximations.get(code, ''))}</p></div>")
    if not out:
        return Html(_p(f"Aucune statistique publique jusqu'en {dd.year}."))
    return Html("".join(out))


def diagnostic_caveats_section(dd: DiagnosticData) -> Html:
    return Html(_ul(DIAGNOSTIC_CAVEATS)
                + _p("Population : celle qu'utilise l'édition SSMSI retenue pour l'année, sinon les "
                     "populations légales INSEE du millésime indiqué dans chaque tableau.")
                + population_vintage_note(dd))


# --- the plan's own figures and the comparison with other départements (issue 15) -------------

PERIMETER_LABELS = {"departement": "Pas-de-Calais", "region": "Hauts-de-France",
                    "france_metropolitaine": "France métropolitaine", "france": "France"}
#: Why the preface's figures are shown as the plan's and not recomputed.
PLAN_FIGURES_NOTE = (
    "Ces chiffres sont ceux que cite l'avant-propos du plan (source : plan cadre). Aucun jeu de "
    "données public ne les reproduit : l'État 4001 et la base départementale du SSMSI ne donnent ni "
    "le sexe des victimes ni les violences conjugales, et leurs indicateurs ne correspondent pas aux "
    "catégories du plan (« violences envers les femmes », « violences intrafamiliales »). Ils ne se "
    "comparent donc pas aux séries publiques ci-dessous.")


def plan_figures(ref: Referential) -> pd.DataFrame:
    """The figures quoted by the plan itself (``chiffres_plan`` of ``plan.yaml``), as strings:
    ``Chiffre du plan``, ``Année``, ``Valeur``, ``Lecture``, ``Source``."""
    rows = []
    for c in ref.chiffres:
        value = formatting.format_number(c.valeur, 0 if float(c.valeur).is_integer() else 2)
        shown = f"{value} %" if c.unite == "%" else f"{value} {c.unite}"
        if c.lecture == "plancher":
            shown = f"plus de {shown}"
        rows.append([c.libelle, str(c.annee), shown, READING_LABELS.get(c.lecture, "valeur du plan"),
                     c.source])
    return pd.DataFrame(rows, columns=["Chiffre du plan", "Année", "Valeur", "Lecture", "Source"],
                        dtype=object)


def diagnostic_plan_figures_section(dd: DiagnosticData) -> Html:
    """The preface's figures, labelled as the plan's, with why no public dataset reproduces them."""
    table = plan_figures(dd.context.referential)
    if table.empty:
        return Html(_p("Le référentiel ne reprend aucun chiffre cité par le plan lui-même."))
    return Html(html_table(table, "Chiffres cités par le plan (avant-propos), source : plan cadre",
                           numeric=("Valeur",), row_header="Chiffre du plan")
                + _p(PLAN_FIGURES_NOTE))


def comparison_overview(dd: DiagnosticData, indicateur: str) -> pd.DataFrame:
    """One SSMSI indicator year by year (strings): ``Année``, the rate per 1 000 inhabitants of
    the Pas-de-Calais, Hauts-de-France, France métropolitaine and France, and ``Rang du
    Pas-de-Calais`` among the metropolitan départements (1 = highest rate)."""
    comp = dd.comparison[dd.comparison["indicateur"] == indicateur]
    ranks = dd.ranks[dd.ranks["indicateur"] == indicateur].set_index("annee")
    rows = []
    for year in sorted(set(comp["annee"])):
        part = comp[comp["annee"] == year].set_index("perimetre")
        rank = (f"{int(ranks.at[year, 'rang'])}e sur {int(ranks.at[year, 'sur'])}"
                if year in ranks.index else MISSING)
        rows.append([str(year)] + [formatting.format_number(part.at[p, "taux_pour_mille"], 2)
                                   if p in part.index else MISSING
                                   for p in PERIMETER_LABELS] + [rank])
    return pd.DataFrame(rows, columns=["Année"] + list(PERIMETER_LABELS.values())
                        + ["Rang du Pas-de-Calais"], dtype=object)


def region_overview(dd: DiagnosticData, indicateur: str) -> pd.DataFrame:
    """The five Hauts-de-France départements year by year (strings): ``Année`` then one rate per
    1 000 inhabitants column per département."""
    part = dd.region[dd.region["indicateur"] == indicateur]
    names = list(dict.fromkeys(part.sort_values("departement")["nom"]))
    rows = []
    for year in sorted(set(part["annee"])):
        by = part[part["annee"] == year].set_index("nom")["taux_pour_mille"]
        rows.append([str(year)] + [formatting.format_number(by.get(n), 2) for n in names])
    return pd.DataFrame(rows, columns=["Année"] + names, dtype=object)


def diagnostic_comparison_section(dd: DiagnosticData) -> Html:
    """Pas-de-Calais beside Hauts-de-France, France métropolitaine and France (rates = sum of
    counts / sum of populations), its rank among the metropolitan départements, and the five
    départements of the region side by side (chart of the evaluated year and table of every year)."""
    from . import charts, public_data

    comp = dd.comparison
    if comp.empty:
        return Html(_p(f"Aucune donnée nationale du SSMSI jusqu'en {dd.year}."))
    out = []
    for ind in dict.fromkeys(comp["indicateur"]):
        years = sorted(set(comp.loc[comp["indicateur"] == ind, "annee"]))
        out.append(f"<h3>{esc(ind)}</h3>")
        out.append(html_table(comparison_overview(dd, ind),
                              f"{ind} : victimes enregistrées pour 1 000 habitants, "
                              f"{years[0]}-{years[-1]}",
                              numeric=list(PERIMETER_LABELS.values()), row_header="Année"))
    out.append(_p("Taux d'un ensemble de départements = somme des victimes enregistrées / somme des "
                  "populations × 1 000 (jamais une moyenne des taux départementaux). Rang : place "
                  "du Pas-de-Calais parmi les 96 départements de France métropolitaine, du taux le "
                  "plus élevé (1er) au plus faible. France = 96 départements métropolitains et 5 "
                  "d'outre-mer."))
    last = max(comp["annee"])
    reg = dd.region[dd.region["annee"] == last]
    if not reg.empty:
        refs = {}
        for ind in dict.fromkeys(reg["indicateur"]):
            part = comp[(comp["indicateur"] == ind) & (comp["annee"] == last)].set_index("perimetre")
            refs[ind] = [(PERIMETER_LABELS[p], float(part.at[p, "taux_pour_mille"]))
                         for p in ("region", "france_metropolitaine") if p in part.index]
        fig = charts.departements_bars(
            reg, references=refs,
            title=f"Victimes enregistrées pour 1 000 habitants en {last}, départements des "
                  "Hauts-de-France")
        parts = []
        for ind in dict.fromkeys(reg["indicateur"]):
            p = reg[reg["indicateur"] == ind].sort_values("departement")
            vals = ", ".join(f"{n} {formatting.format_number(v, 2)}"
                             for n, v in zip(p["nom"], p["taux_pour_mille"]))
            ref_text = ", ".join(f"{lab} {formatting.format_number(v, 2)}" for lab, v in refs[ind])
            parts.append(f"{ind} : {vals} (repères : {ref_text})")
        alt = (f"Barres horizontales, taux pour 1 000 habitants en {last} des cinq départements des "
               "Hauts-de-France : " + " ; ".join(parts) + ".")
        out.append("<h3>Les cinq départements des Hauts-de-France</h3>")
        out.append(figure(fig, alt, "Pas-de-Calais en orange ; traits verticaux : taux des "
                                    "Hauts-de-France (tirets) et de la France métropolitaine "
                                    "(pointillés)."))
        for ind in dict.fromkeys(dd.region["indicateur"]):
            yrs = sorted(set(dd.region.loc[dd.region["indicateur"] == ind, "annee"]))
            out.append(html_table(region_overview(dd, ind),
                                  f"{ind} : victimes enregistrées pour 1 000 habitants par "
                                  f"département des Hauts-de-France, {yrs[0]}-{yrs[-1]}",
                                  numeric=[c for c in region_overview(dd, ind).columns
                                           if c != "Année"], row_header="Année"))
    out.append(f'<div class="note-source" role="note"><p><strong>Source</strong> : '
               f"{esc(public_data.FRANCE_LABEL)}, indicateurs « "
               f"{' » et « '.join(public_data.COMPARISON_INDICATORS)} » (unité de compte : "
               "victime) ; même édition que les séries du Pas-de-Calais ci-dessus.</p></div>")
    return Html("".join(out))


def population_vintage_note(dd: DiagnosticData) -> str:
    """A sentence naming the years whose rates use a population of another year (the État 4001
    years before the SSMSI edition: the project has no populations légales for them)."""
    t = dd.table
    other = t[t["millesime_population"] != t["annee"]]
    if other.empty:
        return ""
    years = sorted({int(a) for a in other["annee"]})
    vintages = sorted({int(v) for v in other["millesime_population"]})
    pops = sorted({int(v) for v in other["population"]})
    return _p(f"Pour {_years_text(years)}, le projet ne dispose pas des populations légales de ces "
              f"années : les taux utilisent la population du millésime "
              f"{_years_text(vintages)} ({', '.join(formatting.format_number(p, 0) for p in pops)} "
              "habitants). Ces taux sont donc approchés ; leur évolution reflète celle des faits, "
              "pas celle de la population.")


def diagnostic_provenance_section(dd: DiagnosticData) -> Html:
    from . import public_data

    ctx = dd.context
    return Html(_p(f"Produit par {provenance.library_version()} ; référentiel : "
                   f"{provenance.display_path(ctx.referential.folder)}.")
                + _editions_table(public_data.editions(include_territories=True,
                                                       include_france=True)))

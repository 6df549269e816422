"""HTML export of executed notebooks: no code, ``lang="fr"``, self-contained, deterministic.

:func:`render_html` turns an executed notebook (papermill) into one French HTML page with the
nbconvert template ``templates/plancadre/`` (built on nbconvert's ``base/display_priority.j2``):

- no code: inputs and prompts are never written; cells tagged ``parameters``,
  ``injected-parameters`` or ``remove-cell`` are removed entirely, outputs of cells tagged
  ``remove-output`` are removed, a last value shown only as an object's default text
  (``<Axes: …>``) is dropped, stderr streams (warnings) and error tracebacks never appear;
- self-contained: the CSS (``templates/plancadre/static/style.css``) is inlined, figures are
  embedded as base64 PNG, there is no ``<script>``, no MathJax, no require.js and no stylesheet,
  font or image fetched from another host;
- accessible: ``<html lang="fr">``, UTF-8, a ``<title>``, every ``<img>`` has an ``alt`` text
  (``Graphique`` when the notebook gave none);
- deterministic: no cell ids, execution counts, timestamps, random ids (pandas ``Styler`` ids are
  renumbered) or absolute paths, so the same notebook outputs give byte-identical pages.

:func:`render_page` renders the runner's own pages (year index, top index) from
``templates/pages/*.html.j2`` with the same inline CSS. :func:`write_atomic` writes any output file
through a temporary file moved into place with :func:`os.replace`, so a reader (or an interrupted
run) only ever sees the previous complete file or the new complete file.

nbconvert is imported lazily: importing this module is cheap (the runner's warm path uses it).
"""

from __future__ import annotations

import copy
import functools
import os
import re
import tempfile
import threading
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:  # pragma: no cover
    from nbformat import NotebookNode

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
NOTEBOOK_TEMPLATE = "plancadre"
CSS_PATH = TEMPLATES_DIR / NOTEBOOK_TEMPLATE / "static" / "style.css"
PAGES_DIR = TEMPLATES_DIR / "pages"

#: Cells carrying one of these tags are removed from the page (with their outputs).
REMOVED_CELL_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell",
                               "papermill-error-cell-tag"})
#: Cells carrying one of these tags keep nothing in the page (no input is ever shown anyway).
REMOVED_OUTPUT_TAGS = frozenset({"remove-output"})
#: Alt text given to an image output that has none.
DEFAULT_ALT = "Graphique"

_local = threading.local()


# --- small helpers -------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def stylesheet() -> str:
    """The inline CSS shared by every page (evaluations and indexes)."""
    return CSS_PATH.read_text(encoding="utf-8")


def status_class(statut: str) -> str:
    """CSS class of a French status label: ``"en retard"`` -> ``"statut-en-retard"``,
    ``"mise en œuvre"`` -> ``"statut-mise-en-oeuvre"``, ``"échec"`` -> ``"statut-echec"``.

    The stylesheet colours these classes with a colour-blind-safe palette (Okabe-Ito); the label
    itself must always be written next to the colour.
    """
    text = str(statut).lower().replace("œ", "oe").replace("æ", "ae")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return f"statut-{slug}" if slug else "statut"


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically.

    The content goes to a temporary file in the same folder, which is then moved over ``path``
    with :func:`os.replace`: ``path`` is either its previous complete content or the new one, never
    a partial file. Missing parent folders are created. Returns ``path`` as a :class:`Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


# --- notebook -> page ----------------------------------------------------------------------

def _tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []) or [])


#: A cell's last value shown only as an object's default text (``<Axes: …>``, ``<seaborn.axisgrid.
#: FacetGrid at 0x7f…>``): noise for a reader, and not the same from one run to the next.
_OBJECT_REPR = re.compile(r"^<[^\n]*>$")


def _keep_output(output: Any) -> bool:
    kind = output.get("output_type")
    if kind == "error":
        return False
    if kind == "execute_result" and set(output.get("data", {})) == {"text/plain"}:
        text = output["data"]["text/plain"]
        text = "".join(text) if isinstance(text, list) else str(text)
        if _OBJECT_REPR.match(text.strip()):
            return False
    if kind == "stream":
        return output.get("name") == "stdout"
    if kind in ("display_data", "execute_result"):
        shown = set(output.get("data", {})) - {
            "application/javascript", "application/vnd.jupyter.widget-view+json",
            "application/vnd.jupyter.widget-state+json"}
        return bool(shown)
    return False


def prepare_notebook(nb: "NotebookNode") -> "NotebookNode":
    """A copy of ``nb`` holding only what the page shows (the input is left untouched).

    Removes cells tagged :data:`REMOVED_CELL_TAGS`, outputs of cells tagged
    :data:`REMOVED_OUTPUT_TAGS`, stderr streams (warnings), error outputs and script/widget-only
    outputs; replaces cell ids by stable ones, drops execution counts, cell metadata other than ``alt`` and notebook
    metadata (papermill timings, paths), so that nothing run-specific reaches the page.
    """
    out = copy.deepcopy(nb)
    cells = []
    for cell in out.cells:
        tags = _tags(cell)
        if tags & REMOVED_CELL_TAGS:
            continue
        alt = cell.get("metadata", {}).get("alt")
        cell["metadata"] = {"alt": alt} if alt else {}
        cell["id"] = f"cellule-{len(cells)}"  # stable ids (nbformat requires one; never shown)
        if cell.get("cell_type") == "code":
            cell["execution_count"] = None
            if tags & REMOVED_OUTPUT_TAGS:
                cell["outputs"] = []
            else:
                kept = []
                for output in cell.get("outputs", []):
                    if _keep_output(output):
                        if output.get("output_type") == "execute_result":
                            output["execution_count"] = None
                        kept.append(output)
                cell["outputs"] = kept
        cells.append(cell)
    out.cells = cells
    out.metadata = {k: v for k, v in out.metadata.items() if k in ("kernelspec", "language_info")}
    return out


_OUTPUT_DIV = re.compile(r'(<div\b[^>]*\bclass="[^"]*\bjp-OutputArea-output\b[^"]*"[^>]*?)(/?>)')


def _plain_exporter_class():
    """nbconvert's HTMLExporter without its final pass: a BeautifulSoup parse and re-serialisation
    of the whole page, base64 images included (40 % of the rendering time), which only adds an
    English alt text to images without one (:func:`postprocess_html` gives them a French one) and
    ``tabindex="0"`` on outputs (added here on the text, so that keyboard users can scroll them)."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class PlainHTMLExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight_code = self.filters.get("highlight_code",
                                              Highlight2HTML(pygments_lexer=lexer, parent=self))
            resources = self._init_resources(resources)
            filter_data_type = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata,
                                                     parent=self, resources=resources)
            self.register_filter("highlight_code", highlight_code)
            self.register_filter("filter_data_type", filter_data_type)
            html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return _OUTPUT_DIV.sub(r'\1 tabindex="0"\2', html), resources

    return PlainHTMLExporter


def _exporter():
    """One configured HTMLExporter per thread (the exporter keeps state while converting)."""
    exporter = getattr(_local, "exporter", None)
    if exporter is None:
        exporter = _plain_exporter_class()(
            template_name=NOTEBOOK_TEMPLATE,
            extra_template_basedirs=[str(TEMPLATES_DIR)],
        )
        exporter.exclude_input = True
        exporter.exclude_input_prompt = True
        exporter.exclude_output_prompt = True
        exporter.exclude_anchor_links = True
        exporter.embed_images = True
        # one validation of the notebook after all preprocessors, not one after each (eleven)
        exporter.optimistic_validation = True
        _local.exporter = exporter
    return exporter


_IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt\s*=)", re.IGNORECASE)
_STYLER_UUID = re.compile(r"\bT_([0-9a-f]{5})(?=[_\"' {.#:,\[])")
_EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc\s*=[^>]*>\s*</script>", re.IGNORECASE)
_EXTERNAL_STYLESHEET = re.compile(r"<link\b[^>]*>", re.IGNORECASE)


def postprocess_html(html: str) -> str:
    """Last safety net on a rendered page (pure function on the HTML text).

    Adds ``alt="Graphique"`` to any ``<img>`` without alt (e.g. an image inside an HTML output),
    renumbers pandas ``Styler`` random ids (``T_1a2b3`` -> ``T_0``) in order of appearance, and
    drops ``<script src=…>`` and ``<link …>`` tags, which would fetch resources from elsewhere.
    """
    html = _IMG_WITHOUT_ALT.sub(f'<img alt="{DEFAULT_ALT}"', html)
    mapping: dict[str, str] = {}

    def _renumber(match: re.Match) -> str:
        uid = match.group(1)
        if uid not in mapping:
            mapping[uid] = str(len(mapping))
        return f"T_{mapping[uid]}"

    html = _STYLER_UUID.sub(_renumber, html)
    html = _EXTERNAL_SCRIPT.sub("", html)
    html = _EXTERNAL_STYLESHEET.sub("", html)
    return html


def render_html(executed_nb: "NotebookNode", title: str, *, back_link: str | None = "index.html",
                footer: str | None = None, back_text: str | None = None) -> str:
    """The French HTML page of an executed notebook (see the module docstring).

    ``title`` becomes the page ``<title>``; ``back_link`` (relative URL, ``None`` for none) the
    link back to the year's index (``back_text``: its words, default "Retour au sommaire de
    l'année"); ``footer`` the small text at the bottom (default: the library
    version). The notebook itself is not modified.
    """
    if not str(title).strip():
        raise ValueError("Le titre de la page est vide : chaque page doit avoir un titre.")
    nb = prepare_notebook(executed_nb)
    resources = {
        "plancadre": {
            "title": str(title).strip(),
            "css": stylesheet(),
            "back_link": back_link,
            "back_text": back_text,
            "footer": footer if footer is not None else f"Produit par plancadre-eval {__version__}.",
            "generator": f"plancadre-eval {__version__}",
        },
        "metadata": {"name": str(title).strip(), "path": ""},
    }
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    return postprocess_html(body)


# --- the runner's own pages ----------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _pages_environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PAGES_DIR)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["statut_classe"] = status_class
    return env


def render_page(template: str, **context: Any) -> str:
    """Render ``templates/pages/<template>`` (Jinja2, autoescaped) with the inline stylesheet.

    The context gets ``css`` and ``version``; the result is passed through
    :func:`postprocess_html` like the evaluation pages.
    """
    context.setdefault("css", stylesheet())
    context.setdefault("version", __version__)
    return postprocess_html(_pages_environment().get_template(template).render(**context))

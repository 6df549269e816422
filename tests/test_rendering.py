"""rendering.py: French, code-free, self-contained and deterministic HTML from executed notebooks.

Notebooks are built in code with hand-written outputs (no kernel); the pages rendered from really
executed notebooks are checked in tests/test_runner.py.
"""

from __future__ import annotations

import base64
import copy
import os
import re
import struct
import zlib
from pathlib import Path

import pytest
from html_support import Html
from hypothesis import given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from plancadre_eval import rendering
from plancadre_eval.rendering import (
    DEFAULT_ALT, postprocess_html, prepare_notebook, render_html, render_page, status_class,
    write_atomic,
)


def tiny_png(width: int = 2, height: int = 1) -> str:
    """Base64 of a valid RGB PNG (as nbformat stores image/png outputs, with a trailing newline)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return base64.b64encode(png).decode() + "\n"


PNG = tiny_png()


def evaluation_notebook(**cell_ids) -> "new_notebook":
    """A notebook as papermill leaves it: parameters, injected parameters, markdown, outputs."""
    nb = new_notebook(cells=[
        new_code_cell('fiche_id = "1.1"', metadata={"tags": ["parameters"]}, execution_count=1),
        new_code_cell('fiche_id = "2.10"  # INJECTED', metadata={"tags": ["injected-parameters"]},
                      execution_count=2),
        new_markdown_cell("# Évaluation de la fiche 2.10\n\nUn texte *en italique* et un "
                          "[lien vers Légifrance](https://www.legifrance.gouv.fr/)."),
        new_code_cell("SOURCE_DU_CODE = 1\nprint('Bonjour')", execution_count=3, outputs=[
            new_output("stream", name="stdout", text="Bonjour tout le monde\n"),
            new_output("stream", name="stderr", text="UserWarning: AVERTISSEMENT\n"),
        ]),
        new_code_cell("fig", execution_count=4, outputs=[
            new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure size 640x480>"}),
        ]),
        new_code_cell("fig2", execution_count=5, outputs=[
            new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"},
                       metadata={"image/png": {"alt": "Évolution du nombre de places"}}),
        ]),
        new_code_cell("print('CELLULE_RETIREE')", metadata={"tags": ["remove-cell"]}, execution_count=6,
                      outputs=[new_output("stream", name="stdout", text="CELLULE_RETIREE\n")]),
        new_code_cell("print('SORTIE_RETIREE')", metadata={"tags": ["remove-output"]}, execution_count=7,
                      outputs=[new_output("stream", name="stdout", text="SORTIE_RETIREE\n")]),
        new_code_cell("helper()", execution_count=8, outputs=[
            new_output("display_data", data={"text/html": (
                f'<figure><img src="data:image/png;base64,{PNG.strip()}" alt="Carte des arrondissements">'
                "<figcaption>Source : INSEE.</figcaption></figure>"), "text/plain": "<HTML>"}),
            new_output("display_data", data={"text/html": f'<p><img src="data:image/png;base64,{PNG.strip()}"></p>'}),
        ]),
        new_code_cell("1/0", execution_count=9, metadata={"tags": ["raises-exception"]}, outputs=[
            new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                       traceback=["Traceback TRACE_DE_PILE"]),
        ]),
        new_code_cell("js", execution_count=10, outputs=[
            new_output("display_data", data={"application/javascript": "alert('JS_EXECUTE')"}),
        ]),
    ])
    for i, cell in enumerate(nb.cells):
        cell["id"] = cell_ids.get(str(i), f"id-{i}")
    nb.metadata["papermill"] = {"start_time": "2024-01-01T10:00:00", "input_path": "/abs/chemin/nb.ipynb"}
    return nb


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(evaluation_notebook(), "Fiche 2.10 — Violences — évaluation 2021")


def test_page_is_french_utf8_and_titled(page):
    assert page.startswith("<!DOCTYPE html>")
    tags = Html(page).tags
    html_tag = [attrs for tag, attrs in tags if tag == "html"]
    assert html_tag == [{"lang": "fr"}]
    assert any(tag == "meta" and attrs.get("charset") == "utf-8" for tag, attrs in tags)
    assert "<title>Fiche 2.10 — Violences — évaluation 2021</title>" in page


def test_page_shows_no_code_nor_removed_cells(page):
    for hidden in ("SOURCE_DU_CODE", "print(", "INJECTED", 'fiche_id = "1.1"', "CELLULE_RETIREE",
                   "SORTIE_RETIREE", "AVERTISSEMENT", "TRACE_DE_PILE", "ZeroDivisionError",
                   "JS_EXECUTE", "In&nbsp;[", "Out[", "input_area"):
        assert hidden not in page, hidden
    assert "Bonjour tout le monde" in page
    assert "<h1>Évaluation de la fiche 2.10</h1>" in page


def test_every_image_has_a_french_alt_text(page):
    imgs = [attrs for tag, attrs in Html(page).tags if tag == "img"]
    assert len(imgs) == 4
    alts = [a.get("alt") for a in imgs]
    assert alts == [DEFAULT_ALT, "Évolution du nombre de places", "Carte des arrondissements", DEFAULT_ALT]
    assert all(a["src"].startswith("data:image/png;base64,") for a in imgs)
    assert "No description has been provided" not in page
    assert all("\n" not in a["src"] for a in imgs)


def test_page_is_self_contained(page):
    tags = Html(page).tags
    assert not [t for t, _ in tags if t in ("script", "link", "iframe")]
    for tag, attrs in tags:
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if re.match(r"(?i)\s*(https?:)?//", value):
                assert tag == "a" and key == "href", f"ressource externe : <{tag} {key}={value}>"
    assert "mathjax" not in page.lower() and "require.js" not in page.lower()
    assert "@import" not in page and "url(" not in page
    # the only outside link is the markdown one, a plain <a href>
    assert [a["href"] for t, a in tags if t == "a" and a["href"].startswith("http")] == \
        ["https://www.legifrance.gouv.fr/"]


def test_page_has_print_friendly_inline_css(page):
    assert "<style>" in page
    css = page[page.index("<style>"):page.index("</style>")]
    assert "@media print" in css
    assert re.search(r"@media print[\s\S]*max-width: 100%", css)
    assert "page-break-inside: avoid" in css
    for status in ("ok", "echec", "en-retard", "atteint", "mise-en-oeuvre", "non-demarree"):
        assert f".statut-{status}" in css


def test_page_is_deterministic_whatever_ids_counts_and_timings():
    a = evaluation_notebook()
    b = evaluation_notebook(**{str(i): f"autre-{i}" for i in range(11)})
    for i, cell in enumerate(b.cells):
        if cell.cell_type == "code":
            cell.execution_count = 100 + i
            cell.metadata["execution"] = {"iopub.status.busy": "2024-05-05T10:00:00"}
    b.metadata["papermill"] = {"start_time": "2030-12-31T23:59:59", "input_path": "/ailleurs/nb.ipynb"}
    title = "Fiche 2.10 — évaluation 2021"
    html_a, html_b = render_html(a, title), render_html(b, title)
    assert html_a == html_b
    assert render_html(a, title) == html_a
    for run_specific in ("id-3", "autre-3", "2030-12-31", "/ailleurs", "/abs/chemin", "cell-id"):
        assert run_specific not in html_a


def test_render_leaves_the_notebook_untouched():
    nb = evaluation_notebook()
    snapshot = copy.deepcopy(nb)
    render_html(nb, "Titre")
    assert nb == snapshot


def test_empty_title_is_refused():
    with pytest.raises(ValueError, match="titre"):
        render_html(evaluation_notebook(), "  ")


def test_prepare_notebook_keeps_only_what_the_page_shows():
    nb = prepare_notebook(evaluation_notebook())
    sources = [c.source for c in nb.cells]
    assert not any("INJECTED" in s or "CELLULE_RETIREE" in s for s in sources)
    removed_output = [c for c in nb.cells if "SORTIE_RETIREE" in c.source][0]
    assert removed_output.outputs == []
    streams = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"]
    assert [o.name for o in streams] == ["stdout"]
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert all(c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert [c.id for c in nb.cells] == [f"cellule-{i}" for i in range(len(nb.cells))]
    assert "papermill" not in nb.metadata


def test_pandas_styler_random_ids_are_renumbered():
    def styled(uid: str) -> str:
        return (f'<style type="text/css">\n#T_{uid}_row0_col0 {{ color: red; }}\n</style>\n'
                f'<table id="T_{uid}"><thead><tr><th id="T_{uid}_level0_col0">Valeur</th></tr></thead>'
                f'<tbody><tr><td id="T_{uid}_row0_col0">1</td></tr></tbody></table>')

    pages = []
    for uid in ("1a2b3", "9f8e7"):
        nb = new_notebook(cells=[new_code_cell("s", outputs=[
            new_output("execute_result", data={"text/html": styled(uid), "text/plain": "<Styler>"},
                       execution_count=1)])])
        pages.append(render_html(nb, "Tableau"))
    assert pages[0] == pages[1]
    assert 'id="T_0"' in pages[0] and "T_1a2b3" not in pages[0]


def test_postprocess_drops_external_scripts_and_stylesheets_and_adds_alt():
    html = ('<head><link rel="stylesheet" href="https://cdn.example.org/x.css">'
            '<script src="https://cdn.example.org/x.js"></script></head>'
            '<img src="data:image/png;base64,AAAA"><img alt="Déjà" src="data:,">')
    out = postprocess_html(html)
    assert "cdn.example.org" not in out
    assert out.count(f'alt="{DEFAULT_ALT}"') == 1 and 'alt="Déjà"' in out


@given(st.text(alphabet=st.sampled_from(list("<img alt=src\"'>T_0123456789abcdef #{}")), max_size=80))
@settings(max_examples=200, deadline=None)
def test_postprocess_is_idempotent_and_never_leaves_an_img_without_alt(text):
    once = postprocess_html(text)
    assert postprocess_html(once) == once
    for tag in re.findall(r"<img\b[^>]*", once, flags=re.I):
        assert re.search(r"\balt\s*=", tag, flags=re.I)


@pytest.mark.parametrize("label, expected", [
    ("ok", "statut-ok"), ("échec", "statut-echec"), ("en retard", "statut-en-retard"),
    ("mise en œuvre", "statut-mise-en-oeuvre"), ("non démarrée", "statut-non-demarree"),
    ("réalisé en retard", "statut-realise-en-retard"), ("à venir", "statut-a-venir"),
    ("données insuffisantes", "statut-donnees-insuffisantes"), ("non évaluable", "statut-non-evaluable"),
])
def test_status_class(label, expected):
    assert status_class(label) == expected


@given(st.text(max_size=40))
def test_status_class_is_always_a_css_identifier(label):
    assert re.fullmatch(r"statut(-[a-z0-9]+)*", status_class(label))


def test_render_page_year_index_template_is_french_and_autoescaped():
    html = render_page("accueil.html.j2", annees=[{"annee": "2021", "pages": 3, "echecs": 1}],
                       titre="Plan <test> & co")
    tags = Html(html).tags
    assert [a for t, a in tags if t == "html"] == [{"lang": "fr"}]
    assert "Plan &lt;test&gt; &amp; co" in html
    assert rendering.stylesheet() in html  # the CSS itself is not escaped
    assert [a["href"] for t, a in tags if t == "a"] == ["2021/index.html"]
    assert not [t for t, _ in tags if t in ("script", "link")]


# --- atomic writes -----------------------------------------------------------------------------

def test_write_atomic_writes_text_and_bytes(tmp_path):
    target = tmp_path / "sous" / "page.html"
    write_atomic(target, "é")
    assert target.read_bytes() == "é".encode("utf-8")
    write_atomic(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in target.parent.iterdir()] == ["page.html"]


def test_write_atomic_failure_leaves_previous_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "page.html"
    target.write_text("ancienne version complète", encoding="utf-8")

    def broken_replace(src, dst):
        raise OSError("disque plein")

    monkeypatch.setattr(rendering.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disque plein"):
        write_atomic(target, "nouvelle version")
    assert target.read_text(encoding="utf-8") == "ancienne version complète"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]  # no temporary file left


def test_write_atomic_never_exposes_a_partial_file(tmp_path, monkeypatch):
    """While the new content is being written, the target still holds the old complete content."""
    target = tmp_path / "page.html"
    target.write_text("ancienne", encoding="utf-8")
    seen = []
    real_replace = os.replace

    def spying_replace(src, dst):
        seen.append((Path(src).read_text(encoding="utf-8"), Path(dst).read_text(encoding="utf-8")))
        real_replace(src, dst)

    monkeypatch.setattr(rendering.os, "replace", spying_replace)
    write_atomic(target, "nouvelle")
    assert seen == [("nouvelle", "ancienne")]
    assert target.read_text(encoding="utf-8") == "nouvelle"

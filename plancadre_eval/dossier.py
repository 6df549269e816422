"""The committee's dossier: one self-contained document per year (``outputs/<année>/dossier.html``,
optionally ``dossier.pdf``), ``plancadre-eval dossier --year Y [--out DIR] [--pdf]``.

It is assembled from the pages already rendered in ``outputs/<année>/`` (so it says exactly what
the pages say, comment gate included): a cover (plan, year, data, demonstration notice), a table of
contents, the synthesis, every fiche page of the year in the plan's order, then the sources (data
files with their SHA-256, referential, library, public editions, from ``manifest.json``). Links
between pages become links inside the document; no code, no external request. A print stylesheet
puts each part on a new page, with running headers and page numbers where the browser supports
CSS page margin boxes; the PDF (Chromium through Playwright, :func:`write_pdf`) is A4 with the
page number in its footer.

``plancadre-eval run`` rebuilds ``dossier.html`` at the end of a year whenever its synthesis is
present (cheap: no kernel); the PDF is only printed on request (``dossier --pdf``), as it needs
Chromium. The document is deterministic: it carries no date other than the evaluated year.
"""

from __future__ import annotations

import html as _html
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from . import paths
from .referential import Referential, fiche_sort_key
from .rendering import stylesheet, write_atomic

DOSSIER_NAME = "dossier.html"
PDF_NAME = "dossier.pdf"
CHROMIUM_ENV = "PLANCADRE_CHROMIUM"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_HINT = ("Chromium introuvable : installez-le avec « sudo apt-get install chromium » (ou "
                 "« make browser-deps » en root), ou indiquez son chemin dans la variable "
                 "PLANCADRE_CHROMIUM.")

#: Page margins of the printed dossier (top, right, bottom, left), in mm: the stylesheet's
#: ``@page`` and the PDF use the same.
PAGE_MARGINS_MM = (16, 12, 18, 12)
#: Print layout of the dossier (on top of the pages' stylesheet).
DOSSIER_CSS = """
.couverture{min-height:80vh;display:flex;flex-direction:column;justify-content:center}
.couverture h1{font-size:2rem}
.sommaire ol{line-height:1.6}
.partie{border-top:3px solid #0072B2;margin-top:3em;padding-top:1em}
.en-tete-partie{color:#4a4a4a;font-size:.9em;margin:0}
@page{size:A4;margin:%s;
  @top-center{content:string(partie);font-size:8pt;color:#4a4a4a}
  @bottom-right{content:"page " counter(page) " / " counter(pages);font-size:8pt}}
@page:first{@top-center{content:none}@bottom-right{content:none}}
@media print{
  .partie{break-before:page;page-break-before:always;border-top:none;margin-top:0;padding-top:0}
  .sommaire{break-before:page;page-break-before:always}
  .en-tete-partie{string-set:partie content()}
  .couverture{min-height:auto;padding-top:30%}
  h1,h2,h3{break-after:avoid;page-break-after:avoid}
  .empreinte{word-break:break-all}
  .statut{white-space:normal}
  table{table-layout:auto;font-size:8.5pt}
}
""".replace("%s", " ".join(f"{m}mm" for m in PAGE_MARGINS_MM))


def _esc(text: Any) -> str:
    return _html.escape("" if text is None else str(text), quote=False)


def _main_of(page_html: str) -> str:
    """The content of a rendered page between ``<main>`` and ``</main>``."""
    start, end = page_html.find("<main>"), page_html.rfind("</main>")
    if start < 0 or end < 0:
        raise ValueError("page sans élément <main>")
    return page_html[start + len("<main>"):end]


def _anchor(name: str) -> str:
    return name.replace(".", "-")


def _relink(body: str, included: set[str]) -> str:
    """Links to pages of the dossier become anchors; links to other pages become plain text;
    ``<details>`` are opened (a printed dossier shows everything)."""
    def repl(m: re.Match) -> str:
        href, text = m.group(1), m.group(2)
        name = href[:-len(".html")] if href.endswith(".html") and "/" not in href else None
        if name in included:
            return f'<a href="#{_anchor(name)}">{text}</a>'
        if href.startswith("#"):
            return m.group(0)
        return text

    body = re.sub(r'<a href="([^"#][^"]*|#[^"]*)">(.*?)</a>', repl, body, flags=re.S)
    return body.replace("<details>", "<details open>")


def dossier_parts(year_dir: Path, referential: Referential) -> list[tuple[str, str, str]]:
    """``(page name, title, html file)`` of the parts, in order: the synthesis, then the fiche pages
    present in ``year_dir`` in the plan's order (the diagnostic, when present, after its fiche)."""
    parts = []
    if (year_dir / "synthese.html").exists():
        parts.append(("synthese", "Synthèse de l'année", "synthese.html"))
    titles = {f.id: f.titre for f in referential.fiches}
    fiches = sorted((p.stem[len("fiche-"):] for p in year_dir.glob("fiche-*.html")),
                    key=fiche_sort_key)
    for fid in fiches:
        if fid in titles:
            parts.append((f"fiche-{fid}", f"Fiche {fid} — {titles[fid]}", f"fiche-{fid}.html"))
            if fid == "4.5" and (year_dir / "diagnostic.html").exists():
                parts.append(("diagnostic", "Diagnostic départemental", "diagnostic.html"))
    return parts


def _sources_html(manifest: dict[str, Any]) -> str:
    data = manifest.get("donnees") or {}
    ref = manifest.get("referentiel") or {}
    lib = manifest.get("bibliotheque") or {}
    rows = "".join(f'<tr><th scope="row">{_esc(name)}</th><td><span class="empreinte">{_esc(sha)}'
                   "</span></td></tr>" for name, sha in sorted((data.get("fichiers") or {}).items()))
    sources = (manifest.get("validation") or {}).get("sources") or []
    editions = "".join(f'<tr><th scope="row">{_esc(e.get("libelle"))}</th><td>{_esc(e.get("edition"))}'
                       f'</td><td>{_esc(e.get("fichier"))}</td></tr>' for e in sources)
    out = [f"<p>Données de collecte : dossier {_esc(data.get('dossier', ''))} ; référentiel : "
           f"{_esc(ref.get('dossier', ''))} (empreinte {_esc(str(ref.get('empreinte', ''))[:16])}) ; "
           f"bibliothèque plancadre-eval {_esc(lib.get('version', ''))} (empreinte "
           f"{_esc(str(lib.get('empreinte', ''))[:16])}).</p>"]
    if rows:
        out.append('<table><caption>Fichiers de collecte et leur empreinte SHA-256</caption><thead>'
                   '<tr><th scope="col">Fichier</th><th scope="col">Empreinte SHA-256</th></tr>'
                   f"</thead><tbody>{rows}</tbody></table>")
    if editions:
        out.append('<table><caption>Statistiques publiques et fichiers territoriaux</caption><thead>'
                   '<tr><th scope="col">Source</th><th scope="col">Édition</th><th scope="col">'
                   f"Fichier</th></tr></thead><tbody>{editions}</tbody></table>")
    out.append("<p>Chaque page de fiche détaille en outre ses propres sources (section « Sources et "
               "provenance »).</p>")
    return "".join(out)


def build_dossier(year_dir: str | os.PathLike, referential: Referential) -> str:
    """The dossier's HTML from the rendered pages of ``year_dir`` (``ValueError`` in French when
    the synthesis is missing)."""
    year_dir = Path(year_dir)
    year = year_dir.name
    parts = dossier_parts(year_dir, referential)
    if not parts or parts[0][0] != "synthese":
        raise ValueError(f"Pas de synthèse dans {year_dir} : produisez d'abord l'année avec "
                         f"plancadre-eval run --year {year}.")
    try:
        manifest = json.loads((year_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    donnees = manifest.get("donnees") or {}
    demo = bool(manifest) and paths.is_demo_data(donnees.get("dossier") or "data/demo")
    included = {name for name, _, _ in parts}
    plan = referential.plan
    n_fiches = sum(1 for n, _, _ in parts if n.startswith("fiche-"))
    toc = "".join(f'<li><a href="#{_anchor(name)}">{_esc(title)}</a></li>' for name, title, _ in parts)
    toc += '<li><a href="#sources">Sources</a></li>'
    demo_html = ('<div class="avertissement" role="note"><p><strong>Données de démonstration</strong> : '
                 "les chiffres des services pilotes de ce dossier sont fictifs ; ils ne décrivent pas "
                 "la situation du département et ne doivent pas être cités.</p></div>") if demo else ""
    data_folder = donnees.get("dossier", "")
    n_files = len(donnees.get("fichiers") or {})
    body = [
        '<section class="couverture" aria-labelledby="titre-dossier">',
        f'<p class="surtitre">{_esc(plan.titre)}</p>',
        f'<h1 id="titre-dossier">Dossier du comité de pilotage — évaluation {_esc(year)}</h1>',
        f'<p class="sous-titre">Synthèse et {n_fiches} fiches évaluées en {_esc(year)}</p>',
        f"<p>Données : situation au 31 décembre {_esc(year)}, collecte du dossier "
        f"{_esc(data_folder)} ({n_files} fichier(s)) et statistiques publiques (éditions listées "
        "dans les sources).</p>",
        demo_html, "</section>",
        '<nav class="sommaire" aria-labelledby="titre-sommaire"><h2 id="titre-sommaire">Sommaire</h2>'
        f"<ol>{toc}</ol></nav>",
    ]
    for name, title, file in parts:
        page = (year_dir / file).read_text(encoding="utf-8")
        body.append(f'<section class="partie" id="{_anchor(name)}">'
                    f'<p class="en-tete-partie">{_esc(title)}</p>'
                    + _relink(_main_of(page), included) + "</section>")
    body.append('<section class="partie" id="sources"><p class="en-tete-partie">Sources</p>'
                f"<h1>Sources</h1>{_sources_html(manifest)}</section>")
    return ("<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>Dossier du comité de pilotage — évaluation {_esc(year)} — {_esc(plan.titre)}</title>\n"
            f"<style>\n{stylesheet()}\n{DOSSIER_CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(b for b in body if b) + "\n</main>\n</body>\n</html>\n")


def write_dossier(year_dir: str | os.PathLike, referential: Referential) -> tuple[Path, bool]:
    """Write ``dossier.html`` in ``year_dir`` (only when its content changed): ``(path, changed)``."""
    html = build_dossier(year_dir, referential)
    path = Path(year_dir) / DOSSIER_NAME
    if path.exists() and path.read_bytes() == html.encode("utf-8"):
        return path, False
    write_atomic(path, html)
    return path, True


def find_chromium() -> Path | None:
    """Chromium's executable: ``$PLANCADRE_CHROMIUM``, Debian's ``/usr/bin/chromium``, else the
    ``chromium`` on the PATH; None when none exists."""
    env = os.environ.get(CHROMIUM_ENV)
    candidates = [env] if env else []
    candidates += list(CHROMIUM_CANDIDATES) + [shutil.which("chromium") or ""]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return Path(c)
    return None


#: Running header of each PDF page (Chromium's header template: the document's title); the page
#: numbers come from the stylesheet's ``@page`` margin boxes.
PDF_HEADER = ('<div style="font-size:7px;color:#4a4a4a;width:100%;text-align:center">'
              '<span class="title"></span></div>')


def write_pdf(html_path: str | os.PathLike, pdf_path: str | os.PathLike,
              chromium: Path | None = None) -> Path:
    """Print ``html_path`` to an A4 PDF (text selectable) with Chromium, offline: every request
    other than ``file:`` and ``data:`` is blocked. ``RuntimeError`` (French) without Chromium."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError(CHROMIUM_HINT)
    from playwright.sync_api import sync_playwright

    pdf_path = Path(pdf_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_()
                       if route.request.url.startswith(("file:", "data:")) else route.abort())
            page.goto(Path(html_path).resolve().as_uri(), wait_until="load")
            page.emulate_media(media="print")
            data = page.pdf(format="A4", print_background=True, prefer_css_page_size=True,
                            display_header_footer=True, header_template=PDF_HEADER,
                            footer_template="<span></span>",
                            margin={side: f"{m}mm" for side, m in
                                    zip(("top", "right", "bottom", "left"), PAGE_MARGINS_MM)})
        finally:
            browser.close()
    write_atomic(pdf_path, data)
    return pdf_path


def command_dossier(args) -> int:
    """``plancadre-eval dossier --year Y [--out DIR] [--pdf]``: 0 ok, 1 when the year is not
    rendered or Chromium is missing."""
    from .referential import load_for_command

    ref = load_for_command(args)
    if ref is None:
        return 1
    out = Path(args.out).resolve() if args.out else paths.outputs_dir()
    year_dir = out / str(args.year)
    try:
        path, _ = write_dossier(year_dir, ref)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"Dossier écrit : {path}")
    if args.pdf:
        try:
            pdf = write_pdf(path, year_dir / PDF_NAME)
        except RuntimeError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        print(f"PDF écrit : {pdf}")
    return 0

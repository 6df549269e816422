"""Browser test harness: Debian's chromium driven by Playwright, offline, with axe-core.

Used by ``tests/test_browser.py`` (imported there, fixtures included). Nothing here reads
``/work/shared``; the pages under test are the runner's outputs, rendered into a temporary folder
(or taken from ``$PLANCADRE_OUTPUTS``).

What a page report holds is measured *in the page* by chromium, as a reader's browser sees it:
resolved links, console errors, failed requests, requests to any host (recorded and blocked: only
``file:`` and ``data:`` URLs are allowed), images and their natural width, headings, tables and the
``<html lang>``. The check functions below turn reports into lists of French problem sentences,
empty when all is well, so a failing test names the page and the element.

Units: widths and positions are CSS pixels (96 px per inch, 1 mm = 96 / 25.4 px).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit
from urllib.request import url2pathname

import pytest

# --------------------------------------------------------------------------------------------------
# Chromium
# --------------------------------------------------------------------------------------------------

#: Debian's chromium (Playwright's own browser download is not available here).
CHROMIUM_PATH = Path(os.environ.get("PLANCADRE_CHROMIUM", "/usr/bin/chromium"))
#: Without the background-networking flags chromium tries to reach Google hosts by itself.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = (
    "Installez chromium : `sudo apt-get install chromium` (Debian/Ubuntu), ou `make browser-deps` "
    "en root ; ou indiquez un autre exécutable dans la variable PLANCADRE_CHROMIUM. Les paquets "
    "Python playwright et axe-playwright-python s'installent avec `make setup`."
)
#: Screenshots for a human reviewer (git-ignored).
SCREENSHOTS_DIR = Path(__file__).resolve().parent / "screenshots"

# --------------------------------------------------------------------------------------------------
# Print geometry
# --------------------------------------------------------------------------------------------------

CSS_PX_PER_MM = 96 / 25.4
A4_WIDTH_MM = 210.0
A4_HEIGHT_MM = 297.0
#: Margin used for ``page.pdf()`` on each side, in mm.
PRINT_MARGIN_MM = 10.0


def printable_width_px(page_width_mm: float = A4_WIDTH_MM, margin_mm: float = PRINT_MARGIN_MM) -> float:
    """Printable width of a sheet in CSS px: (page width - 2 margins) mm x 96/25.4 px per mm.

    A4 with 10 mm margins: 190 mm = 718.1 px.
    """
    width = page_width_mm - 2 * margin_mm
    if width <= 0:
        raise ValueError(f"Marges de {margin_mm} mm trop larges pour une page de {page_width_mm} mm.")
    return width * CSS_PX_PER_MM


PDF_OPTIONS = {
    "format": "A4",
    "print_background": True,
    "margin": {side: f"{PRINT_MARGIN_MM:g}mm" for side in ("top", "right", "bottom", "left")},
}

# --------------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------------

LOCAL_SCHEMES = ("file", "data")
#: Link schemes that are neither pages nor requests (a click opens another application).
IGNORED_LINK_SCHEMES = ("mailto", "tel", "javascript")


def is_local_url(url: str) -> bool:
    """True for the only URLs a report may load: ``file:`` (the outputs folder) and ``data:``."""
    return urlsplit(url).scheme.lower() in LOCAL_SCHEMES


def file_url_to_path(url: str) -> Path:
    """``file:///a/b%20c.html#x`` -> ``Path('/a/b c.html')``."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        raise ValueError(f"URL non locale : {url}")
    return Path(url2pathname(unquote(parts.path)))


def relative_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form, for messages (``2021/fiche-2.5.html``)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------------
# What one page shows
# --------------------------------------------------------------------------------------------------

#: Runs in the page: everything the checks need, measured as rendered.
_PAGE_PROBE = r"""
async () => {
  const imgs = [...document.images];
  for (const img of imgs) { img.loading = "eager"; }
  await Promise.all(imgs.map(img => img.decode().catch(() => null)));
  const text = el => (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim();
  const describe = el => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (el.className && typeof el.className === "string" && el.className.trim())
      s += "." + el.className.trim().split(/\s+/).join(".");
    return s;
  };
  return {
    title: document.title,
    lang: document.documentElement.getAttribute("lang"),
    ids: [...document.querySelectorAll("[id]")].map(e => e.id)
          .concat([...document.querySelectorAll("a[name]")].map(e => e.getAttribute("name"))),
    links: [...document.querySelectorAll("a[href]")].map(a => ({
      href: a.href, raw: a.getAttribute("href"), text: text(a).slice(0, 80)})),
    images: imgs.map((img, i) => ({
      index: i,
      src: img.currentSrc || img.src,
      alt: img.getAttribute("alt"),
      role: img.getAttribute("role"),
      aria_hidden: img.getAttribute("aria-hidden"),
      complete: img.complete,
      natural_width: img.naturalWidth,
      natural_height: img.naturalHeight})),
    headings: [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")].map(h => ({
      level: Number(h.tagName[1]), text: text(h).replace(/¶$/, "").trim().slice(0, 120)})),
    tables: [...document.querySelectorAll("table")].map((t, i) => ({
      index: i,
      element: describe(t),
      n_th: t.querySelectorAll("th").length,
      n_th_text: [...t.querySelectorAll("th")].filter(th => text(th) !== "").length,
      n_rows: t.rows.length,
      caption: t.caption ? text(t.caption) : null,
      headers: [...t.querySelectorAll("th")].map(text).filter(s => s).slice(0, 40),
      rows: [...t.rows].slice(0, 300).map(r => [...r.cells].map(c => text(c).slice(0, 300))),
      text: text(t)})),
    body_text: document.body ? document.body.innerText : "",
  };
}
"""


@dataclass
class PageReport:
    """What chromium saw on one page (``name`` is relative to the outputs root)."""

    name: str
    url: str
    title: str = ""
    lang: str | None = None
    ids: set[str] = field(default_factory=set)
    links: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    headings: list[dict] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)
    body_text: str = ""
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    non_local_requests: list[str] = field(default_factory=list)
    load_error: str | None = None
    load_seconds: float = 0.0


@dataclass
class Crawl:
    """Result of :func:`crawl`: one report per HTML page reached, plus link problems."""

    root: Path
    pages: dict[str, PageReport] = field(default_factory=dict)
    broken_links: list[str] = field(default_factory=list)
    external_links: list[str] = field(default_factory=list)
    files_linked: set[str] = field(default_factory=set)
    blocked_requests: list[str] = field(default_factory=list)
    seconds: float = 0.0


class OfflineGuard:
    """Blocks and records every request of a browser context that is not ``file:`` or ``data:``.

    ``blocked`` holds ``"<page url> -> <request url>"`` strings; it must stay empty for a
    self-contained report.
    """

    def __init__(self, context):
        self.blocked: list[str] = []
        context.route("**/*", self._handle)

    def _handle(self, route) -> None:
        request = route.request
        if is_local_url(request.url):
            route.continue_()
            return
        try:
            origin = request.frame.url
        except Exception:  # service worker or detached frame
            origin = "?"
        self.blocked.append(f"{origin} -> {request.url}")
        route.abort("blockedbyclient")


def new_offline_context(browser, **kwargs):
    """A browser context whose non-local requests are blocked; returns ``(context, guard)``."""
    context = browser.new_context(service_workers="block", **kwargs)
    return context, OfflineGuard(context)


def load_page(context, url: str, name: str, *, keep_open: bool = False):
    """Open ``url`` in a new tab of ``context`` and measure it. Returns ``(report, page)``;
    the page is closed unless ``keep_open``."""
    report = PageReport(name=name, url=url)
    page = context.new_page()
    page.on("console", lambda msg: report.console_errors.append(f"console.{msg.type} : {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: report.console_errors.append(f"exception JavaScript : {exc}"))
    # Non-local requests are blocked on purpose and recorded apart (``non_local_requests``).
    page.on("requestfailed", lambda req: report.failed_requests.append(
        f"{req.url[:160]} ({req.failure})") if is_local_url(req.url) else None)
    page.on("request", lambda req: None if is_local_url(req.url)
            else report.non_local_requests.append(req.url))
    page.on("response", lambda resp: report.failed_requests.append(f"{resp.url[:160]} (HTTP {resp.status})")
            if resp.status >= 400 else None)
    start = time.perf_counter()
    try:
        page.goto(url, wait_until="load", timeout=30_000)
        probe = page.evaluate(_PAGE_PROBE)
    except Exception as exc:  # a page that does not load is a finding, reported by the checks
        report.load_error = str(exc).splitlines()[0]
        probe = None
    report.load_seconds = time.perf_counter() - start
    if probe is not None:
        report.title = probe["title"]
        report.lang = probe["lang"]
        report.ids = set(probe["ids"])
        report.links = probe["links"]
        report.images = probe["images"]
        report.headings = probe["headings"]
        report.tables = probe["tables"]
        report.body_text = probe["body_text"]
    if not keep_open:
        page.close()
        return report, None
    return report, page


def crawl(browser, start: Path, root: Path | None = None) -> Crawl:
    """Follow every link from ``start`` (an HTML file) to every HTML page under ``root``.

    A link to a local file must point inside ``root`` and exist; a link with a fragment must find
    the element (``id`` or ``<a name>``) in its target page. HTML pages are opened and measured;
    other local files (CSV, XLSX, notebooks) are only checked to exist. ``http(s)`` links are
    listed in ``external_links`` (a link is not a request) and not followed.
    """
    root = (root or start.parent).resolve()
    result = Crawl(root=root)
    t0 = time.perf_counter()
    context, guard = new_offline_context(browser)
    try:
        start_url = start.resolve().as_uri()
        queue: deque[str] = deque([start_url])
        seen: set[str] = {start_url}
        wanted_fragments: list[tuple[str, str, str]] = []  # (source page, target url, fragment)
        while queue:
            url = queue.popleft()
            name = relative_name(file_url_to_path(url), root)
            report, _ = load_page(context, url, name)
            result.pages[name] = report
            for link in report.links:
                href = link["href"]
                scheme = urlsplit(href).scheme.lower()
                label = f"{name} : lien « {link['text'] or link['raw']} » ({link['raw']})"
                if scheme in IGNORED_LINK_SCHEMES:
                    continue
                if scheme in ("http", "https"):
                    result.external_links.append(f"{label} -> {href}")
                    continue
                if scheme != "file":
                    result.broken_links.append(f"{label} : schéma d'URL inattendu")
                    continue
                target_url, fragment = urldefrag(href)
                target = file_url_to_path(target_url)
                if not target.resolve().is_relative_to(root):
                    result.broken_links.append(f"{label} : cible hors du dossier des sorties ({target})")
                    continue
                if not target.exists():
                    result.broken_links.append(f"{label} : fichier introuvable "
                                               f"({relative_name(target, root)})")
                    continue
                if target.is_dir():
                    index = target / "index.html"
                    if not index.exists():
                        result.broken_links.append(f"{label} : dossier sans index.html")
                        continue
                    target, target_url = index, index.resolve().as_uri()
                if fragment:
                    wanted_fragments.append((label, target_url, unquote(fragment)))
                if target.suffix.lower() in (".html", ".htm"):
                    target_url = target.resolve().as_uri()
                    if target_url not in seen:
                        seen.add(target_url)
                        queue.append(target_url)
                else:
                    result.files_linked.add(relative_name(target, root))
        by_url = {report.url: report for report in result.pages.values()}
        for label, target_url, fragment in wanted_fragments:
            target_report = by_url.get(Path(file_url_to_path(target_url)).resolve().as_uri())
            if target_report is not None and fragment not in target_report.ids:
                result.broken_links.append(f"{label} : ancre #{fragment} absente de la page cible")
    finally:
        context.close()
    result.blocked_requests = list(guard.blocked)
    result.seconds = time.perf_counter() - t0
    return result


# --------------------------------------------------------------------------------------------------
# Checks: each returns a list of French problem sentences (empty = fine)
# --------------------------------------------------------------------------------------------------

#: nbconvert's default alternative text for an output image: English and says nothing.
NBCONVERT_PLACEHOLDER_ALT = "No description has been provided for this image"


def load_problems(report: PageReport) -> list[str]:
    """The page loaded, with no console error and no failed request."""
    problems = []
    if report.load_error:
        problems.append(f"{report.name} : la page ne se charge pas ({report.load_error})")
    problems += [f"{report.name} : {e}" for e in report.console_errors]
    problems += [f"{report.name} : requête en échec {r}" for r in report.failed_requests]
    return problems


def image_problems(report: PageReport) -> list[str]:
    """Every ``<img>`` is displayed (naturalWidth > 0) and has a French text alternative."""
    problems = []
    for img in report.images:
        where = f"{report.name} : image n°{img['index'] + 1} ({img['src'][:60]}…)"
        if not img["complete"] or img["natural_width"] <= 0:
            problems.append(f"{where} non affichée (naturalWidth = {img['natural_width']})")
        alt = img["alt"]
        decorative = img["role"] in ("presentation", "none") or img["aria_hidden"] == "true"
        if alt is None:
            problems.append(f"{where} sans attribut alt")
        elif not alt.strip() and not decorative:
            problems.append(f"{where} avec un alt vide (un graphique n'est pas décoratif)")
        elif alt.strip() == NBCONVERT_PLACEHOLDER_ALT:
            problems.append(f"{where} : alt par défaut de nbconvert, en anglais et sans contenu "
                            f"(« {NBCONVERT_PLACEHOLDER_ALT} »)")
    return problems


def heading_problems(levels: list[int]) -> list[str]:
    """Headings in order: the first is ``h1`` and no heading goes deeper by more than one level.

    ``levels`` are the heading levels (1-6) in document order. Going back up any number of levels
    is allowed (a new section); going down from h2 to h4 skips h3.
    """
    problems = []
    if not levels:
        return ["aucun titre (h1…h6)"]
    if levels[0] != 1:
        problems.append(f"le premier titre est un h{levels[0]}, pas un h1")
    for i in range(1, len(levels)):
        if levels[i] > levels[i - 1] + 1:
            problems.append(f"titre n°{i + 1} : h{levels[i - 1]} suivi de h{levels[i]} "
                            f"(h{levels[i - 1] + 1} sauté)")
    return problems


def page_heading_problems(report: PageReport) -> list[str]:
    levels = [h["level"] for h in report.headings]
    problems = heading_problems(levels)
    out = []
    for p in problems:
        m = re.match(r"titre n°(\d+)", p)
        if m:
            h = report.headings[int(m.group(1)) - 1]
            p += f" — « {h['text']} »"
        out.append(f"{report.name} : {p}")
    return out


def table_problems(report: PageReport) -> list[str]:
    """Every ``<table>`` has at least one header cell ``<th>`` with text."""
    return [f"{report.name} : tableau n°{t['index'] + 1} ({t['element']}, « {t['text'][:60]}… ») "
            f"sans cellule d'en-tête <th> renseignée"
            for t in report.tables if t["n_th_text"] == 0]


def language_problems(report: PageReport) -> list[str]:
    """``<html lang="fr">`` (or a French variant such as ``fr-FR``) and a non-empty ``<title>``."""
    problems = []
    lang = (report.lang or "").strip()
    if report.lang is None:
        problems.append(f"{report.name} : <html> sans attribut lang (attendu : lang=\"fr\")")
    elif lang.split("-")[0].lower() != "fr":
        problems.append(f"{report.name} : <html lang=\"{lang}\"> au lieu de lang=\"fr\"")
    if not report.title.strip():
        problems.append(f"{report.name} : <title> vide")
    return problems


def accessibility_problems(report: PageReport) -> list[str]:
    """Headings, tables, images' text alternatives and page language (complements axe-core)."""
    return (language_problems(report) + page_heading_problems(report) + table_problems(report)
            + image_problems(report))


#: axe-core impacts that fail the tests.
BLOCKING_IMPACTS = ("serious", "critical")


def axe_violations(page, name: str) -> list[str]:
    """Serious or critical axe-core violations of ``page``: one sentence per rule, with elements."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    problems = []
    for v in results.response["violations"]:
        if v.get("impact") not in BLOCKING_IMPACTS:
            continue
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"]]
        shown = " ; ".join(targets[:5]) + (f" ; … (+{len(targets) - 5})" if len(targets) > 5 else "")
        snippet = v["nodes"][0].get("html", "")[:120].replace("\n", " ") if v["nodes"] else ""
        problems.append(f"{name} : axe {v['id']} ({v['impact']}) — {v['help']} — "
                        f"{len(targets)} élément(s) : {shown} — ex. {snippet}")
    return problems


#: Runs in the page: right edge of every table and image, and the document width, in CSS px.
_PRINT_PROBE = r"""
() => {
  const describe = (el, i) => el.tagName.toLowerCase() + " n°" + (i + 1) +
      (el.tagName === "IMG" ? " (" + (el.getAttribute("alt") || "").slice(0, 50) + ")" :
       " (" + (el.innerText || "").replace(/\s+/g, " ").trim().slice(0, 50) + ")");
  const boxes = [];
  for (const sel of ["table", "img"]) {
    [...document.querySelectorAll(sel)].forEach((el, i) => {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return;
      boxes.push({element: describe(el, i), left: r.left + window.scrollX, right: r.right + window.scrollX});
    });
  }
  return {boxes, scroll_width: document.documentElement.scrollWidth};
}
"""


def print_layout(context, url: str):
    """Measure ``url`` laid out for print on A4: viewport = printable width, print media.

    Returns ``(boxes, pdf_bytes)``: boxes of tables and images (CSS px) and the PDF from
    ``page.pdf()`` with :data:`PDF_OPTIONS`.
    """
    width = printable_width_px()
    page = context.new_page()
    try:
        page.set_viewport_size({"width": int(width),
                                "height": int((A4_HEIGHT_MM - 2 * PRINT_MARGIN_MM) * CSS_PX_PER_MM)})
        page.emulate_media(media="print")
        page.goto(url, wait_until="load")
        page.evaluate("() => Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
        probe = page.evaluate(_PRINT_PROBE)
        pdf = page.pdf(**PDF_OPTIONS)
    finally:
        page.close()
    return probe["boxes"], pdf


def print_width_problems(name: str, boxes: list[dict], width: float | None = None) -> list[str]:
    """Tables and images that stick out of the printable width (right edge > width, or left < 0)."""
    width = printable_width_px() if width is None else width
    tolerance = 0.5  # sub-pixel rounding
    return [f"{name} : à l'impression, {b['element']} dépasse la largeur imprimable A4 "
            f"(bord droit {b['right']:.0f} px > {width:.0f} px)" if b["right"] > width + tolerance else
            f"{name} : à l'impression, {b['element']} commence hors de la page (bord gauche {b['left']:.0f} px)"
            for b in boxes if b["right"] > width + tolerance or b["left"] < -tolerance]


def table_records(table: dict) -> list[dict[str, str]]:
    """Rows of a measured table as ``{header: cell}`` dicts (header = first row's cell texts)."""
    rows = table.get("rows") or []
    if not rows:
        return []
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[1:] if len(row) == len(header)]


def status_column(tables: list[dict], fiche_id: str, code_column: str, status_column_: str) -> list[str]:
    """Statuses given to ``fiche_id`` in the tables of a page: the cell of column ``status_column_``
    in every row whose ``code_column`` cell mentions the code (normalised text)."""
    found = []
    for table in tables:
        for record in table_records(table):
            if (code_column in record and status_column_ in record
                    and mentions_code(record[code_column], fiche_id)):
                found.append(normalize_text(record[status_column_]))
    return found


def first_status_after(text: str, marker: str, statuses: tuple[str, ...]) -> str | None:
    """The first of ``statuses`` written after ``marker`` in ``text`` (both normalised), or None."""
    text = normalize_text(text)
    start = text.find(normalize_text(marker))
    if start < 0:
        return None
    positions = [(text.find(s, start), s) for s in statuses if text.find(s, start) >= 0]
    return min(positions)[1] if positions else None


# --------------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------------


def normalize_text(text: str) -> str:
    """Lower case, NFC, typographic apostrophes and spaces folded, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\u2019", "'").replace("\u00a0", " ").replace("\u202f", " ")
    return re.sub(r"\s+", " ", text).strip().lower()


def mentions_code(text: str, code: str) -> bool:
    """True if ``text`` mentions the code ``code`` as a whole ("2.1" is not in "2.10" nor "12.1")."""
    return re.search(rf"(?<![\d.]){re.escape(code)}(?![\d]|\.\d)", text) is not None


# --------------------------------------------------------------------------------------------------
# Pytest fixtures (imported by tests/test_browser.py)
# --------------------------------------------------------------------------------------------------

RENDER_YEAR = "2021"


@pytest.fixture(scope="session")
def browser():
    """One chromium for the whole session. Fails (never skips) with install instructions."""
    if not CHROMIUM_PATH.exists():
        pytest.fail(f"chromium introuvable ({CHROMIUM_PATH}) : les tests navigateur ne peuvent pas "
                    f"tourner. {INSTALL_HINT}", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
        import axe_playwright_python  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"Paquet Python manquant pour les tests navigateur ({exc.name}). {INSTALL_HINT}",
                    pytrace=False)
    manager = sync_playwright().start()
    try:
        try:
            chromium = manager.chromium.launch(executable_path=str(CHROMIUM_PATH), args=LAUNCH_ARGS,
                                               headless=True)
        except Exception as exc:
            pytest.fail(f"chromium ({CHROMIUM_PATH}) ne démarre pas : {str(exc).splitlines()[0]}. "
                        f"{INSTALL_HINT}", pytrace=False)
        yield chromium
        chromium.close()
    finally:
        manager.stop()


def render_year(out: Path, year: str = RENDER_YEAR, jobs: int = 2, timeout: float = 300,
                extra: tuple[str, ...] = ()) -> float:
    """Render ``year`` from the demo data into ``out`` by calling ``plancadre_eval.cli.main`` in a
    child Python (isolated from Playwright's event loop); ``extra`` arguments are appended (e.g.
    ``("--fiche", "4.5")``). Returns the duration in seconds.

    The child's output goes to a file, not a pipe (a kernel outliving the runner would otherwise
    hold the pipe open and hang the tests), and it runs in its own process group, which is ended
    when it exits or after ``timeout`` seconds (a French failure then says so).
    """
    argv = ["run", "--year", year, "--out", str(out), "--jobs", str(jobs), "--quiet", *extra]
    code = ("import sys; from plancadre_eval.cli import main; "
            f"sys.exit(main({argv!r}))")
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("PLANCADRE_NOTEBOOKS", None)  # the project's notebooks, not a benchmark's
    log_path = out.parent / f"{out.name}-run.log"
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            try:  # leftovers of the run only (its own process group): kernels, workers
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    seconds = time.perf_counter() - t0
    tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-25:])
    if returncode is None:
        pytest.fail(f"`plancadre-eval {' '.join(argv)}` n'a pas fini en {timeout:.0f} s (arrêté). "
                    f"Journal : {log_path}\n{tail}", pytrace=False)
    if returncode != 0:
        pytest.fail(f"`plancadre-eval {' '.join(argv)}` a échoué (code {returncode}). "
                    f"Journal : {log_path}\n{tail}", pytrace=False)
    return seconds


def _say(config, message: str) -> None:
    """Print ``message`` on the terminal even though pytest captures the output."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(message)
        return
    with capture.global_and_fixture_disabled():
        print(message)


@pytest.fixture(scope="session")
def rendered_outputs(tmp_path_factory, pytestconfig) -> Path:
    """An outputs folder holding year 2021 rendered from the demo data, and the bilan of the plan.

    ``$PLANCADRE_OUTPUTS`` (an already rendered outputs folder) saves the rendering time.
    """
    env = os.environ.get("PLANCADRE_OUTPUTS")
    if env:
        out = Path(env).expanduser().resolve()
        if not (out / "index.html").exists() or not (out / RENDER_YEAR / "index.html").exists():
            pytest.fail(f"PLANCADRE_OUTPUTS={env} ne contient pas index.html et {RENDER_YEAR}/index.html : "
                        f"produisez-le avec `plancadre-eval run --year {RENDER_YEAR} --out {env}`.",
                        pytrace=False)
        return out
    out = tmp_path_factory.mktemp("outputs")
    seconds = render_year(out, extra=("--bilan",))  # and the bilan of the plan, linked from index.html
    _say(pytestconfig, f"\n[browser] année {RENDER_YEAR} rendue dans {out} en {seconds:.0f} s")
    for required in ("index.html", f"{RENDER_YEAR}/index.html"):
        if not (out / required).exists():
            pytest.fail(f"Le runner n'a pas écrit {required} dans {out}.", pytrace=False)
    return out


@pytest.fixture(scope="session")
def site(browser, rendered_outputs) -> Crawl:
    """Every page reachable from ``outputs/index.html``, measured once, offline."""
    return crawl(browser, rendered_outputs / "index.html", rendered_outputs)


@pytest.fixture(scope="session")
def offline_context(browser):
    """A shared offline browser context (non-local requests blocked and recorded in ``.guard``)."""
    context, guard = new_offline_context(browser)
    context.guard = guard
    yield context
    context.close()

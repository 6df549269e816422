"""The reports as a reader sees them: Debian's chromium (Playwright), offline, with axe-core.

Two parts:

1. the harness itself, on small static sites written here (a good one and a broken one), so that
   every check is shown to fail when it should;
2. the real pages: year 2021 rendered from the demo data by the runner (session fixture
   ``rendered_outputs``; set ``PLANCADRE_OUTPUTS`` to an already rendered outputs folder to save
   the rendering time), crawled once from ``index.html`` (fixture ``site``).

Screenshots for a reviewer are written to ``tests/screenshots/`` (git-ignored).
Chromium missing -> the tests fail with the install command (never a silent skip).
"""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from browser_support import (  # noqa: F401  (fixtures are used by name)
    BLOCKING_IMPACTS,
    NBCONVERT_PLACEHOLDER_ALT,
    RENDER_YEAR,
    SCREENSHOTS_DIR,
    accessibility_problems,
    axe_violations,
    browser,
    crawl,
    first_status_after,
    heading_problems,
    image_problems,
    language_problems,
    load_page,
    load_problems,
    mentions_code,
    normalize_text,
    offline_context,
    page_heading_problems,
    print_layout,
    print_width_problems,
    printable_width_px,
    render_year,
    rendered_outputs,
    site,
    status_column,
    table_problems,
    table_records,
)
from plancadre_eval import formatting
from plancadre_eval.referential import load_referential

# ==================================================================================================
# Part 1 — the harness, on static sites
# ==================================================================================================


def tiny_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` pixels (all blue)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\x00\x00\xff" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def data_png(width: int = 3, height: int = 2) -> str:
    return "data:image/png;base64," + base64.b64encode(tiny_png(width, height)).decode()


def html(body: str, *, lang: str | None = "fr", title: str = "Page", head: str = "") -> str:
    lang_attr = f' lang="{lang}"' if lang is not None else ""
    return (f'<!DOCTYPE html>\n<html{lang_attr}><head><meta charset="utf-8"><title>{title}</title>{head}'
            f"</head><body><main>{body}</main></body></html>\n")


GOOD_TABLE = ("<table><caption>Indicateurs</caption><thead><tr><th scope='col'>Indicateur</th>"
              "<th scope='col'>Valeur</th></tr></thead><tbody><tr><td>2.5.1</td><td>5</td></tr>"
              "</tbody></table>")


@pytest.fixture(scope="module")
def good_site(tmp_path_factory) -> Path:
    """index -> a.html (table, data: PNG chart) and sous/b.html#section; a CSV; an external link."""
    root = tmp_path_factory.mktemp("site_bon")
    (root / "sous").mkdir()
    (root / "index.html").write_text(html(
        "<h1>Évaluations</h1><h2>2021</h2><ul>"
        "<li><a href='a.html'>Fiche A</a></li>"
        "<li><a href='sous/b.html#section'>Page B, section</a></li>"
        "<li><a href='donnees.csv'>Données</a></li>"
        "<li><a href='https://www.data.gouv.fr/'>Source</a></li>"
        "<li><a href='mailto:evaluation@example.org'>Contact</a></li></ul>",
        title="Index"), encoding="utf-8")
    (root / "a.html").write_text(html(
        f"<h1>Fiche A</h1><h2>Indicateurs</h2>{GOOD_TABLE}<h3>Graphique</h3>"
        f"<img src='{data_png(3, 2)}' alt='Graphique : accueils de jour par année'>"
        "<p><a href='#retour'>Haut</a></p><h2 id='retour'>Retour</h2><a href='index.html'>Index</a>",
        title="Fiche A"), encoding="utf-8")
    (root / "sous" / "b.html").write_text(html(
        "<h1>Page B</h1><h2 id='section'>Section</h2><a href='../index.html'>Index</a>",
        title="Page B"), encoding="utf-8")
    (root / "donnees.csv").write_text("fiche;valeur\n2.5;5\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def bad_site(tmp_path_factory) -> Path:
    """Every fault the checks must catch, one of each."""
    base = tmp_path_factory.mktemp("site_casse")
    root = base / "sorties"
    root.mkdir()
    (base / "dehors.html").write_text(html("<h1>Dehors</h1>"), encoding="utf-8")
    (root / "index.html").write_text(html(
        "<h1>Évaluations</h1><a href='a.html'>A</a> <a href='absente.html'>Absente</a> "
        "<a href='a.html#nulle-part'>Ancre</a> <a href='../dehors.html'>Dehors</a>",
        lang=None, title="Index"), encoding="utf-8")
    (root / "a.html").write_text(html(
        "<h2>Commence par un h2</h2><h4>Saute le h3</h4>"
        "<table><tr><td>sans</td><td>en-tête</td></tr></table>"
        "<img src='https://example.org/graphique.png' alt='Graphique distant'>"
        f"<img src='{data_png()}'>"
        f"<img src='{data_png()}' alt='{NBCONVERT_PLACEHOLDER_ALT}'>"
        "<img src='manquante.png' alt='Image manquante'>"
        "<script>console.error('boum'); throw new Error('cassé');</script>",
        lang="en", title="A", head="<link rel='stylesheet' href='https://cdn.jsdelivr.net/x.css'>"),
        encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def good_crawl(browser, good_site):
    return crawl(browser, good_site / "index.html")


@pytest.fixture(scope="module")
def bad_crawl(browser, bad_site):
    return crawl(browser, bad_site / "index.html")


def test_printable_width_of_a4_is_190_mm_in_css_px():
    assert printable_width_px() == pytest.approx(190 * 96 / 25.4)  # 718.1 px
    assert printable_width_px(210, 0) == pytest.approx(793.7, abs=0.1)
    with pytest.raises(ValueError, match="Marges"):
        printable_width_px(210, 105)


def test_mentions_code_matches_whole_codes_only():
    assert mentions_code("Fiche 2.1 : accueil", "2.1")
    assert mentions_code("(2.1)", "2.1")
    assert mentions_code("fiche 2.1.", "2.1")  # end of sentence
    assert not mentions_code("Fiche 2.10 : logement", "2.1")
    assert not mentions_code("Fiche 12.1", "2.1")
    assert not mentions_code("indicateur 2.1.3", "2.1")
    assert mentions_code("Fiche 2.10", "2.10")


def test_normalize_text_folds_apostrophes_spaces_and_case():
    assert normalize_text("L\u2019Équipe\u00a0 Mobile\n") == "l'équipe mobile"


def test_status_helpers_read_tables_and_text_by_hand():
    table = {"rows": [["Fiche", "Titre", "Statut"], ["Fiche 2.1", "Accueil", "en retard"],
                      ["Fiche 2.10", "Logement", "Mise en œuvre"], ["total"]]}
    assert table_records(table) == [{"Fiche": "Fiche 2.1", "Titre": "Accueil", "Statut": "en retard"},
                                     {"Fiche": "Fiche 2.10", "Titre": "Logement", "Statut": "Mise en œuvre"}]
    assert status_column([table], "2.10", "Fiche", "Statut") == ["mise en œuvre"]
    assert status_column([table], "2.1", "Fiche", "Statut") == ["en retard"]
    assert status_column([table], "2.1", "Fiche", "Statut de la fiche") == []
    statuses = ("mise en œuvre", "en cours", "en retard")
    text = "Jalons en retard.\nStatut de la fiche\nStatut de la fiche 2.5 en 2021 : mise en œuvre ; en cours…"
    assert first_status_after(text, "Statut de la fiche", statuses) == "mise en œuvre"
    assert first_status_after(text, "Cibles", statuses) is None


def test_heading_problems_by_hand():
    assert heading_problems([1, 2, 3, 2, 3, 1, 2]) == []
    assert heading_problems([2, 3]) == ["le premier titre est un h2, pas un h1"]
    assert heading_problems([1, 3]) == ["titre n°2 : h1 suivi de h3 (h2 sauté)"]
    assert heading_problems([]) == ["aucun titre (h1…h6)"]


@given(st.lists(st.integers(min_value=-5, max_value=1), max_size=30))
def test_headings_built_by_valid_steps_pass_and_a_skip_is_found(steps):
    levels = [1]
    for step in steps:  # go down one level, stay, or go back up any number of levels
        levels.append(min(6, max(1, levels[-1] + step)))
    assert heading_problems(levels) == []
    if levels[-1] <= 4:
        skipped = levels + [levels[-1] + 2]
        assert heading_problems(skipped) == [
            f"titre n°{len(skipped)} : h{levels[-1]} suivi de h{levels[-1] + 2} (h{levels[-1] + 1} sauté)"]


@pytest.mark.browser
def test_harness_good_site_passes_every_check(good_crawl):
    assert sorted(good_crawl.pages) == ["a.html", "index.html", "sous/b.html"]
    assert good_crawl.broken_links == []
    assert good_crawl.blocked_requests == []
    assert good_crawl.files_linked == {"donnees.csv"}
    assert [e.split(" -> ")[1] for e in good_crawl.external_links] == ["https://www.data.gouv.fr/"]
    for report in good_crawl.pages.values():
        assert load_problems(report) == [], report.name
        assert accessibility_problems(report) == [], report.name
        assert report.non_local_requests == []
    chart = good_crawl.pages["a.html"].images[0]
    assert (chart["natural_width"], chart["natural_height"]) == (3, 2)  # the data: PNG is displayed
    assert good_crawl.pages["a.html"].tables[0]["headers"] == ["Indicateur", "Valeur"]


@pytest.mark.browser
def test_harness_finds_every_fault_of_the_broken_site(bad_crawl, bad_site):
    assert sorted(bad_crawl.pages) == ["a.html", "index.html"]
    broken = "\n".join(bad_crawl.broken_links)
    assert "fichier introuvable (absente.html)" in broken
    assert "ancre #nulle-part absente" in broken
    assert "hors du dossier des sorties" in broken
    assert len(bad_crawl.broken_links) == 3
    # Offline: both remote resources are blocked and recorded, and the remote image is not shown.
    blocked = sorted(b.split(" -> ")[1] for b in bad_crawl.blocked_requests)
    assert blocked == ["https://cdn.jsdelivr.net/x.css", "https://example.org/graphique.png"]
    a = bad_crawl.pages["a.html"]
    assert sorted(a.non_local_requests) == blocked
    loads = "\n".join(load_problems(a))
    assert "console.error : boum" in loads and "exception JavaScript" in loads and "cassé" in loads
    assert "manquante.png" in loads  # a local file that does not exist is a failed request
    images = image_problems(a)
    assert sum("non affichée" in p for p in images) == 2  # remote (blocked) and missing file
    assert sum("sans attribut alt" in p for p in images) == 1
    assert sum("alt par défaut de nbconvert" in p for p in images) == 1
    assert page_heading_problems(a) == [
        "a.html : le premier titre est un h2, pas un h1",
        "a.html : titre n°2 : h2 suivi de h4 (h3 sauté) — « Saute le h3 »"]
    assert len(table_problems(a)) == 1
    assert language_problems(a) == ['a.html : <html lang="en"> au lieu de lang="fr"']
    assert language_problems(bad_crawl.pages["index.html"]) == [
        'index.html : <html> sans attribut lang (attendu : lang="fr")']


@pytest.mark.browser
def test_harness_axe_reports_serious_violations_with_rule_and_element(offline_context, good_site, bad_site):
    report, page = load_page(offline_context, (bad_site / "a.html").as_uri(), "a.html", keep_open=True)
    try:
        problems = axe_violations(page, "a.html")
    finally:
        page.close()
    found = "\n".join(problems)
    assert "axe image-alt (critical)" in found  # the <img> without alt
    assert "axe html-lang-valid" not in found  # lang="en" is valid; our own check wants "fr"
    for name in ("index.html", "a.html", "sous/b.html"):
        _, page = load_page(offline_context, (good_site / name).as_uri(), name, keep_open=True)
        try:
            assert axe_violations(page, name) == []
        finally:
            page.close()
    _, page = load_page(offline_context, (bad_site / "index.html").as_uri(), "index.html", keep_open=True)
    try:
        assert any("axe html-has-lang (serious)" in p for p in axe_violations(page, "index.html"))
    finally:
        page.close()


@pytest.mark.browser
def test_harness_print_check_flags_a_table_wider_than_a4(offline_context, good_site, tmp_path):
    boxes, pdf = print_layout(offline_context, (good_site / "a.html").as_uri())
    assert pdf.startswith(b"%PDF")
    assert {b["element"].split(" ")[0] for b in boxes} == {"table", "img"}
    assert print_width_problems("a.html", boxes) == []
    wide = tmp_path / "large.html"
    wide.write_text(html("<h1>Large</h1><table style='width: 1200px'><tr><th>Très large</th></tr></table>"
                         f"<img src='{data_png(10, 10)}' alt='petit' style='width: 100px'>"),
                    encoding="utf-8")
    boxes, pdf = print_layout(offline_context, wide.as_uri())
    assert pdf.startswith(b"%PDF")
    problems = print_width_problems("large.html", boxes)
    assert len(problems) == 1 and "table n°1" in problems[0] and "dépasse" in problems[0]


# ==================================================================================================
# Part 2 — the real reports: year 2021 rendered from the demo data
# ==================================================================================================

YEAR = RENDER_YEAR
#: Fiches due in 2021, computed by hand from the plan's frequencies: every fiche but 4.5 ("tous les
#: trois ans": 2019, 2022); 1.3 ("évaluations intermédiaires", plural, and at the end) is due in 2020,
#: 2021 and 2022.
NOT_DUE_IN_2021 = {"4.5"}
#: One fiche page of each kind (all due in 2021).
FICHES_BY_KIND = {
    "comptages": "2.5",
    "jalons": "2.10",
    "statistique publique": "2.2",
    "à déterminer": "2.15",
}
FICHE_STATUSES = ("mise en œuvre", "en cours", "en retard", "non démarrée", "données insuffisantes")
#: The fiche page states its status right after this heading.
STATUS_MARKER = "Statut de la fiche"


@pytest.fixture(scope="module")
def referential():
    return load_referential()


def fiche_page(fiche_id: str) -> str:
    return f"{YEAR}/fiche-{fiche_id}.html"


def fiche_pages(site) -> dict[str, str]:
    """Fiche id -> page name, for every fiche page reached by the crawl."""
    prefix = f"{YEAR}/fiche-"
    return {name[len(prefix):-len(".html")]: name for name in site.pages
            if name.startswith(prefix) and name.endswith(".html")}


@pytest.mark.browser
def test_every_link_resolves_and_every_page_loads_cleanly(site):
    names = set(site.pages)
    for required in ("index.html", f"{YEAR}/index.html", f"{YEAR}/synthese.html", "bilan.html"):
        assert required in names, f"{required} n'est atteint par aucun lien depuis index.html"
    assert fiche_pages(site), "aucune page de fiche atteinte depuis index.html"
    assert site.broken_links == [], "liens cassés :\n" + "\n".join(site.broken_links)
    problems = [p for report in site.pages.values() for p in load_problems(report)]
    assert problems == [], "\n".join(problems)


@pytest.mark.browser
def test_reports_work_offline_and_show_all_their_charts(site):
    assert site.blocked_requests == [], ("requêtes vers d'autres hôtes que le fichier local :\n"
                                         + "\n".join(site.blocked_requests))
    not_shown = [p for report in site.pages.values() for p in image_problems(report)
                 if "non affichée" in p]
    assert not_shown == [], "\n".join(not_shown)
    counts = fiche_page(FICHES_BY_KIND["comptages"])
    assert counts in site.pages, f"{counts} n'est atteint par aucun lien"
    assert len(site.pages[counts].images) > 0, (
        f"la fiche {FICHES_BY_KIND['comptages']} (comptages) ne montre aucun graphique")


@pytest.mark.browser
def test_the_year_has_one_page_per_fiche_due(site, referential):
    expected = {f.id for f in referential.fiches} - NOT_DUE_IN_2021
    assert set(fiche_pages(site)) == expected
    assert set(FICHES_BY_KIND.values()) <= expected


@pytest.mark.browser
def test_each_fiche_page_shows_its_title_status_and_indicator_table(site, referential):
    problems = []
    for fiche_id, name in sorted(fiche_pages(site).items()):
        report = site.pages[name]
        fiche = referential.fiche(fiche_id)
        text = normalize_text(report.body_text)
        if normalize_text(fiche.titre) not in text:
            problems.append(f"{name} : titre de la fiche absent (« {fiche.titre} »)")
        if not mentions_code(report.title, fiche_id):
            problems.append(f"{name} : le <title> « {report.title} » ne nomme pas la fiche {fiche_id}")
        if first_status_after(report.body_text, STATUS_MARKER, FICHE_STATUSES) is None:
            problems.append(f"{name} : aucun statut de fiche ({', '.join(FICHE_STATUSES)}) "
                            f"après « {STATUS_MARKER} »")
        ids = [i.id for i in fiche.indicateurs]
        if not any(t["n_th_text"] and all(mentions_code(t["text"], i) for i in ids) for t in report.tables):
            problems.append(f"{name} : aucun tableau (avec en-têtes) ne liste les indicateurs {', '.join(ids)}")
    assert problems == [], "\n".join(problems)


@pytest.mark.browser
def test_a_fiche_has_the_same_status_on_its_page_the_year_index_and_the_synthesis(site):
    year_index = site.pages[f"{YEAR}/index.html"]
    synthesis = site.pages[f"{YEAR}/synthese.html"]
    problems = []
    for fiche_id, name in sorted(fiche_pages(site).items()):
        on_page = first_status_after(site.pages[name].body_text, STATUS_MARKER, FICHE_STATUSES)
        in_index = status_column(year_index.tables, fiche_id, "Fiche", "Statut de la fiche")
        in_synthesis = status_column(synthesis.tables, fiche_id, "Fiche", "Statut")
        if on_page is None or in_index != [on_page] or in_synthesis != [on_page]:
            problems.append(f"fiche {fiche_id} : « {on_page} » sur sa page, {in_index} dans "
                            f"{YEAR}/index.html (colonne « Statut de la fiche »), {in_synthesis} dans "
                            f"{YEAR}/synthese.html (colonne « Statut »)")
    assert problems == [], "\n".join(problems)


@pytest.mark.browser
def test_the_synthesis_shows_every_fiche_of_the_year(site, referential):
    synthesis = site.pages[f"{YEAR}/synthese.html"]
    text = " ".join(t["text"] for t in synthesis.tables) or synthesis.body_text
    expected = sorted({f.id for f in referential.fiches} - NOT_DUE_IN_2021,
                      key=lambda c: tuple(int(x) for x in c.split(".")))
    missing = [f for f in expected if not mentions_code(text, f)]
    assert missing == [], f"fiches absentes des tableaux de la synthèse : {', '.join(missing)}"
    links = {link["href"].rsplit("/", 1)[-1] for link in synthesis.links}
    unlinked = [f for f in expected if f"fiche-{f}.html" not in links]
    assert unlinked == [], f"la synthèse ne renvoie pas vers les pages des fiches {', '.join(unlinked)}"


@pytest.mark.browser
def test_pages_have_french_language_ordered_headings_table_headers_and_alt_texts(site):
    problems = [p for report in site.pages.values() for p in accessibility_problems(report)]
    assert problems == [], "\n".join(problems)


#: The diagnostic page exists only in the years fiche 4.5 is due (2019, 2022), not in 2021.
AXE_PAGES = ["index.html", f"{YEAR}/index.html", f"{YEAR}/synthese.html", "bilan.html"] + [
    fiche_page(f) for f in FICHES_BY_KIND.values()]


@pytest.mark.browser
@pytest.mark.parametrize("name", AXE_PAGES)
def test_axe_finds_no_serious_or_critical_violation(name, offline_context, rendered_outputs):
    report, page = load_page(offline_context, (rendered_outputs / name).as_uri(), name, keep_open=True)
    try:
        assert report.load_error is None, f"{name} : la page ne se charge pas ({report.load_error})"
        problems = axe_violations(page, name)
    finally:
        page.close()
    assert problems == [], f"violations axe ({'/'.join(BLOCKING_IMPACTS)}) :\n" + "\n".join(problems)


@pytest.mark.browser
@pytest.mark.parametrize("kind", list(FICHES_BY_KIND))
def test_a_printed_fiche_fits_the_a4_width(kind, offline_context, rendered_outputs):
    name = fiche_page(FICHES_BY_KIND[kind])
    boxes, pdf = print_layout(offline_context, (rendered_outputs / name).as_uri())
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    assert boxes, f"{name} : ni tableau ni image à l'impression"
    problems = print_width_problems(name, boxes)
    assert problems == [], "\n".join(problems)


@pytest.mark.browser
def test_the_printed_bilan_fits_the_a4_width(offline_context, rendered_outputs):
    boxes, pdf = print_layout(offline_context, (rendered_outputs / "bilan.html").as_uri())
    assert pdf.startswith(b"%PDF") and boxes
    problems = print_width_problems("bilan.html", boxes)
    assert problems == [], "\n".join(problems)


@pytest.mark.browser
def test_the_bilan_agrees_with_the_year_pages(site, referential):
    """The bilan's column of the rendered year is, fiche by fiche, the status of that year's
    synthesis; its statuses link to that year's fiche pages; the other years are not linked."""
    bilan = site.pages["bilan.html"]
    synthesis = site.pages[f"{YEAR}/synthese.html"]
    shown, in_synthesis = {}, {}
    for table in bilan.tables:
        if table["caption"].startswith("Statut des fiches de l'axe"):
            header = table["rows"][0]
            for row in table["rows"][1:]:
                shown[row[0]] = row[header.index(YEAR)]
    for table in synthesis.tables:
        if table["caption"].startswith(f"Statut {YEAR} des fiches de l'axe"):
            header = table["rows"][0]
            for row in table["rows"][1:]:
                in_synthesis[row[0]] = row[header.index("Statut")]
    assert set(shown) == set(referential.fiche_ids)
    assert shown == in_synthesis
    body = normalize_text(bilan.body_text)
    assert normalize_text("Bilan du plan cadre 2019-2022") in body
    assert normalize_text("Données de démonstration") in body
    assert any(link["href"].endswith(f"{YEAR}/fiche-2.5.html") for link in bilan.links)
    assert not any("/2020/fiche-" in link["href"] for link in bilan.links)


# --- the 2022 diagnostic: the Pas-de-Calais among the other départements ------------------------

DIAGNOSTIC_YEAR = "2022"
HDF = {"02": "Aisne", "59": "Nord", "60": "Oise", "62": "Pas-de-Calais", "80": "Somme"}


@pytest.fixture(scope="module")
def diagnostic_2022(tmp_path_factory, pytestconfig, offline_context):
    """The 2022 diagnostic (fiche 4.5 due), rendered by the runner, opened in chromium."""
    out = tmp_path_factory.mktemp("outputs-2022")
    render_year(out, DIAGNOSTIC_YEAR, extra=("--fiche", "4.5"))
    name = f"{DIAGNOSTIC_YEAR}/diagnostic.html"
    assert (out / name).exists(), f"le runner n'a pas écrit {name}"
    report, page = load_page(offline_context, (out / name).as_uri(), name, keep_open=True)
    yield report, page
    page.close()


def _national_rates(indicator: str, year: int) -> dict[str, float]:
    """Rates per 1 000 of the 62, Hauts-de-France, metropolitan France and France, summed here
    from the national CSV with the csv module (Σ nombre / Σ population, independent of the
    library), and the rank of the 62 among the metropolitan départements."""
    import csv

    path = (Path(__file__).resolve().parents[1] / "data" / "public" / "ssmsi-base-dep-2024-france"
            / "donnee-dep-data.gouv-2024-geographie2025-produit-le2025-06-04.csv")
    sums = {k: [0.0, 0.0] for k in ("62", "hdf", "metro", "france")}
    metro_rates = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            if row["indicateur"] != indicator or int(row["annee"]) != year:
                continue
            dep, n, pop = row["Code_departement"], float(row["nombre"]), float(row["insee_pop"])
            keys = ["france"] + (["metro"] if not dep.startswith("97") else [])
            keys += (["hdf"] if row["Code_region"] == "32" else []) + (["62"] if dep == "62" else [])
            for k in keys:
                sums[k][0] += n
                sums[k][1] += pop
            if not dep.startswith("97"):
                metro_rates[dep] = n / pop * 1000
    rates = {k: n / pop * 1000 for k, (n, pop) in sums.items()}
    rates["rang"] = 1 + sum(r > metro_rates["62"] for r in metro_rates.values())
    rates["sur"] = len(metro_rates)
    return rates


@pytest.mark.browser
@pytest.mark.parametrize("indicator", ["Violences physiques intrafamiliales", "Violences sexuelles"])
def test_the_2022_diagnostic_places_the_pas_de_calais_among_the_departements(diagnostic_2022,
                                                                               indicator):
    report, _ = diagnostic_2022
    assert report.load_error is None and report.console_errors == []
    caption = f"{indicator} : victimes enregistrées pour 1 000 habitants, 2016-2022"
    tables = [t for t in report.tables if t["caption"] == caption]
    assert len(tables) == 1, [t["caption"] for t in report.tables]
    rows = tables[0]["rows"]
    assert rows[0] == ["Année", "Pas-de-Calais", "Hauts-de-France", "France métropolitaine", "France",
                       "Rang du Pas-de-Calais"]
    assert [r[0] for r in rows[1:]] == [str(y) for y in range(2016, 2023)]  # every year of the series
    for row in rows[1:]:
        expected = _national_rates(indicator, int(row[0]))
        shown = [formatting.format_number(expected[k], 2) for k in ("62", "hdf", "metro", "france")]
        assert row[1:5] == shown, (row, expected)
        assert row[5] == f"{expected['rang']}e sur {expected['sur']}"
    # the five départements of the region, side by side, every year
    region = [t for t in report.tables if t["caption"].startswith(f"{indicator} : victimes enregistrées "
                                                                   "pour 1 000 habitants par département")]
    assert len(region) == 1 and region[0]["rows"][0] == ["Année"] + list(HDF.values())


@pytest.mark.browser
def test_the_2022_diagnostic_chart_and_the_plan_s_figures(diagnostic_2022):
    report, page = diagnostic_2022
    charts = [img for img in report.images if "cinq départements des Hauts-de-France" in img["alt"]]
    assert len(charts) == 1, [img["alt"][:80] for img in report.images]
    assert charts[0]["natural_width"] > 0, "graphique des départements non affiché"
    for name in HDF.values():
        assert name in charts[0]["alt"]
    body = normalize_text(report.body_text)
    assert normalize_text("plus de 8 400 faits") in body and normalize_text("source : plan cadre") in body
    assert normalize_text("Aucun jeu de données public ne les reproduit") in body
    assert normalize_text("les taux utilisent la population du millésime 2019") in body
    problems = axe_violations(page, report.name)
    assert problems == [], "\n".join(problems)


@pytest.mark.browser
def test_screenshots_for_the_reviewer(offline_context, rendered_outputs, capsys):
    SCREENSHOTS_DIR.mkdir(exist_ok=True)
    shots = {"index": "index.html", "synthese": f"{YEAR}/synthese.html", "bilan": "bilan.html",
             "fiche-2.5": fiche_page("2.5"), "fiche-2.10": fiche_page("2.10")}
    written = []
    for label, name in shots.items():
        page = offline_context.new_page()
        try:
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto((rendered_outputs / name).as_uri(), wait_until="load")
            target = SCREENSHOTS_DIR / f"{label}.png"
            page.screenshot(path=str(target), full_page=True)
        finally:
            page.close()
        assert target.stat().st_size > 1000
        written.append(target)
    with capsys.disabled():
        print(f"\n[browser] captures d'écran : {SCREENSHOTS_DIR} ({', '.join(p.name for p in written)})")


# --- the committee's dossier, printed to PDF (issue 13) ------------------------------------------

_DOSSIER_PROBE = r"""
() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll("table, img, figure, pre, .statut, dl, h1, h2")) {
    const r = el.getBoundingClientRect();
    if ((r.width || r.height) && (r.right > width + 0.5 || r.left < -0.5))
      out.push(el.tagName.toLowerCase() + " (" + (el.innerText || el.getAttribute("alt") || "")
               .replace(/\s+/g, " ").trim().slice(0, 60) + ") : " + Math.round(r.left) + "-" +
               Math.round(r.right) + " px pour " + width + " px");
  }
  const parts = [...document.querySelectorAll("section.partie")].map(s => [s.id, getComputedStyle(s).breakBefore]);
  return {out, parts, scroll: document.documentElement.scrollWidth, width};
}
"""


@pytest.fixture(scope="module")
def dossier_pdf(rendered_outputs):
    """``dossier.html`` and ``dossier.pdf`` of the rendered year, printed by ``plancadre-eval dossier
    --pdf`` in a child Python (Playwright's sync API cannot be nested in this session's)."""
    import os
    import subprocess
    import sys

    argv = ["dossier", "--year", YEAR, "--out", str(rendered_outputs), "--pdf"]
    proc = subprocess.run([sys.executable, "-c", "import sys; from plancadre_eval.cli import main; "
                           f"sys.exit(main({argv!r}))"], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    return rendered_outputs / YEAR / "dossier.html", rendered_outputs / YEAR / "dossier.pdf"


@pytest.mark.browser
def test_the_dossier_pdf_is_a4_with_at_least_one_page_per_fiche_and_selectable_text(dossier_pdf, referential):
    import re

    html, pdf = dossier_pdf
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    boxes = set(re.findall(rb"/MediaBox\s*\[([^\]]*)\]", data))
    sizes = {tuple(round(float(v) * 25.4 / 72) for v in b.split()[2:]) for b in boxes}
    assert sizes == {(210, 297)}, f"pages non A4 : {sizes}"
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    fiches = [f.id for f in referential.fiches if f.id not in NOT_DUE_IN_2021]
    assert pages >= len(fiches) + 3, f"{pages} pages pour {len(fiches)} fiches, synthèse, couverture"
    assert b"/Font" in data and b"/ToUnicode" in data  # text, not images of text


@pytest.mark.browser
def test_the_printed_dossier_puts_each_fiche_on_a_new_page_within_the_margins(dossier_pdf, offline_context,
                                                                              referential):
    from plancadre_eval import dossier

    html, _ = dossier_pdf
    top, right, bottom, left = dossier.PAGE_MARGINS_MM
    width = (210 - left - right) * 96 / 25.4
    before = len(offline_context.guard.blocked)  # the guard is shared by the session's tests
    page = offline_context.new_page()
    try:
        page.set_viewport_size({"width": int(width), "height": int((297 - top - bottom) * 96 / 25.4)})
        page.emulate_media(media="print")
        page.goto(html.as_uri(), wait_until="load")
        probe = page.evaluate(_DOSSIER_PROBE)
        text = page.inner_text("body")
    finally:
        page.close()
    blocked = offline_context.guard.blocked[before:]
    assert blocked == [], f"requêtes externes : {blocked}"
    fiches = [f.id for f in referential.fiches if f.id not in NOT_DUE_IN_2021]
    ids = [i for i, _ in probe["parts"]]
    assert ids == ["synthese"] + [f"fiche-{f.replace('.', '-')}" for f in fiches] + ["sources"]
    assert {b for _, b in probe["parts"]} == {"page"}, probe["parts"]
    assert probe["out"] == [], "\n".join(probe["out"])
    assert probe["scroll"] <= probe["width"] + 1
    assert text.index("Sommaire") < text.index("Faits marquants" if "Faits marquants" in text
                                                 else "Avancement du plan")
    assert "import " not in text and "fiche_id" not in text

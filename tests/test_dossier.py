"""The committee's dossier (plancadre_eval.dossier), built from hand-written pages: cover, table of
contents, synthesis first, fiches in the plan's order, sources last; links turned into anchors; no
code, no external resource; written only when changed; French messages (the PDF itself is tested
in the browser suite, tests/test_browser.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from html_support import Html
from small_plan import REF

from plancadre_eval import cli, dossier


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="fr"><head><title>{title}</title><style>p{{}}</style></head>'
            f'<body><nav class="fil"><a href="index.html">Retour</a></nav><main>{body}</main>'
            "<footer>pied</footer></body></html>")


@pytest.fixture
def year_dir(tmp_path) -> Path:
    data = tmp_path / "collecte"
    data.mkdir()
    (data / "DEMONSTRATION").write_text("", encoding="utf-8")
    year = tmp_path / "sorties" / "2021"
    year.mkdir(parents=True)
    (year / "synthese.html").write_text(page("Synthèse", (
        "<h1>Synthèse 2021</h1><h2>Faits marquants</h2>"
        '<p>Voir <a href="fiche-2.10.html">2.10</a>, <a href="fiche-2.1.html">2.1</a> et '
        '<a href="diagnostic.html">le diagnostic</a>.</p><details><summary>Règle</summary>x</details>')),
        encoding="utf-8")
    for fid in ("2.10", "1.2", "1.1"):  # written out of order
        (year / f"fiche-{fid}.html").write_text(page(f"Fiche {fid}", f"<h1>Fiche {fid} — page</h1>"),
                                                encoding="utf-8")
    (year / "manifest.json").write_text(json.dumps({
        "donnees": {"dossier": str(data), "fichiers": {"fiche-1.1.csv": "ab" * 32}},
        "referentiel": {"dossier": "data/referentiel/essai", "empreinte": "cd" * 32},
        "bibliotheque": {"version": "0.1.0", "empreinte": "ef" * 32},
        "validation": {"sources": [{"libelle": "État 4001", "edition": "2023", "fichier": "e.csv"}]},
    }), encoding="utf-8")
    return year


def test_the_dossier_has_cover_contents_synthesis_fiches_in_plan_order_then_sources(year_dir):
    html = dossier.build_dossier(year_dir, REF)
    parsed = Html(html)
    ids = [a["id"] for tag, a in parsed.tags if tag == "section" and "id" in a]
    assert ids == ["synthese", "fiche-1-1", "fiche-1-2", "fiche-2-10", "sources"]
    text = parsed.text
    assert text.index("Dossier du comité de pilotage — évaluation 2021") < text.index("Sommaire") \
        < text.index("Synthèse 2021") < text.index("Faits marquants") < text.index("Fiche 1.1 — page") \
        < text.index("Fiche 2.10 — page") < text.index("Fichiers de collecte et leur empreinte")
    assert "Synthèse et 3 fiches évaluées en 2021" in text
    assert "situation au 31 décembre 2021" in text and "Données de démonstration" in text
    toc = [a["href"] for tag, a in parsed.tags if tag == "a"][:5]
    assert toc == ["#synthese", "#fiche-1-1", "#fiche-1-2", "#fiche-2-10", "#sources"]
    assert "État 4001" in text and "ab" * 32 in text


def test_links_between_pages_become_anchors_and_others_plain_text(year_dir):
    html = dossier.build_dossier(year_dir, REF)
    parsed = Html(html)
    assert '<a href="#fiche-2-10">2.10</a>' in html
    assert 'href="fiche-' not in html and 'href="index.html"' not in html
    assert "le diagnostic" in parsed.text and 'href="diagnostic.html"' not in html
    assert "Retour" not in parsed.text  # the pages' navigation is not part of the dossier
    assert "<details open>" in html and "<details>" not in html
    assert parsed.external == [] and "<script" not in html
    assert '<html lang="fr">' in html and "@page" in html and "break-before:page" in html


def test_the_dossier_is_rewritten_only_when_a_page_changed(year_dir):
    path, changed = dossier.write_dossier(year_dir, REF)
    assert changed and path == year_dir / "dossier.html"
    assert dossier.write_dossier(year_dir, REF) == (path, False)
    (year_dir / "fiche-1.1.html").write_text(page("Fiche 1.1", "<h1>Autre</h1>"), encoding="utf-8")
    assert dossier.write_dossier(year_dir, REF)[1] is True


def test_without_synthesis_or_chromium_the_command_says_so_in_french(year_dir, capsys, monkeypatch):
    (year_dir / "synthese.html").unlink()
    assert cli.main(["dossier", "--year", "2021", "--out", str(year_dir.parent)]) == 1
    assert "Pas de synthèse dans" in capsys.readouterr().err
    (year_dir / "synthese.html").write_text(page("S", "<h1>Synthèse</h1>"), encoding="utf-8")
    monkeypatch.setattr(dossier, "find_chromium", lambda: None)
    assert cli.main(["dossier", "--year", "2021", "--out", str(year_dir.parent), "--pdf"]) == 1
    out = capsys.readouterr()
    assert "Dossier écrit" in out.out and out.err.strip() == dossier.CHROMIUM_HINT
    assert not (year_dir / "dossier.pdf").exists()


def test_chromium_is_found_from_the_environment_variable(tmp_path, monkeypatch):
    exe = tmp_path / "chromium"
    exe.write_text("#!/bin/sh\n", encoding="utf-8")
    exe.chmod(0o755)
    monkeypatch.setenv(dossier.CHROMIUM_ENV, str(exe))
    assert dossier.find_chromium() == exe

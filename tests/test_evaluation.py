"""What the evaluation pages show, on a small hand-made referential and hand-made observations.

Expected values are computed by hand in the comments; the engine (indicators, secrecy) is used as
is, so these tests check the assembly: which numbers reach the page, how they are written, that a
secret never leaks, that qualitative indicators are not zeros, headings, tables, links, provenance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import textwrap
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from html_support import Html
from hypothesis import given, settings
from hypothesis import strategies as st

from plancadre_eval import statuses
from plancadre_eval.evaluation import context as page_context
from plancadre_eval.evaluation import diagnostic as diagnostic_page
from plancadre_eval.evaluation import fiche as fiche_page
from plancadre_eval.evaluation import html as fragments
from plancadre_eval.evaluation import synthesis as synthesis_page
from plancadre_eval.formatting import MINUS, NBSP
from plancadre_eval.referential import load_referential

PLAN = """
plan:
  id: plan-essai
  titre: Plan d'essai
  departement: "62"
  annee_debut: 2019
  annee_fin: 2022
  annee_reference: 2018
axes:
  - id: "1"
    titre: Premier axe
  - id: "2"
    titre: Second axe
structures: []
"""

FICHES = """
- id: "1.1"
  axe: "1"
  titre: Accueil des victimes <essai> & suivi
  objectif: Accueillir plus de personnes
  nature: a_poursuivre
  pilotes: [Direction départementale de l'essai]
  pilote_court: DDE
  partenaires: [Association A, Association B]
  territoire: Départemental
  frequence: {code: annuelle, libelle: Annuelle}
  delais: dès 2019
  etat_des_lieux:
    - libelle: Personnes accueillies en 2018
      valeur: 40
      unite: personnes
      date: "2019-01-01"
      indicateur: "1.1.1"
  cibles:
    - libelle: Accueillir 90 personnes
      valeur: 90
      unite: personnes
      echeance: "2022-12-31"
      indicateur: "1.1.1"
  jalons:
    - id: "1.1.J1"
      libelle: Ouverture du lieu d'accueil
      echeance: "2020-06-30"
  indicateurs:
    - id: "1.1.1"
      libelle: Nombre de personnes accueillies
      type: comptage
      unite: personnes
      niveau: arrondissement
      personnes: true
    - id: "1.1.2"
      libelle: Part des personnes orientées
      type: pourcentage
      unite: "%"
      niveau: departement
    - id: "1.1.3"
      libelle: Bilan qualitatif
      type: qualitatif
      niveau: departement
    - id: "1.1.4"
      libelle: Indicateur renvoyé au comité
      type: a_determiner
      niveau: departement
    - id: "1.1.5"
      libelle: Lieu d'accueil ouvert
      type: jalon
      niveau: departement
      jalon: "1.1.J1"
    - id: "1.1.6"
      libelle: Faits enregistrés
      type: comptage
      unite: faits
      niveau: departement
      source: public
      serie: serie_essai
    - id: "1.1.7"
      libelle: Nombre de réunions
      type: comptage
      unite: réunions
      niveau: departement
- id: "2.1"
  axe: "2"
  titre: Diagnostic d'essai
  objectif: Mesurer
  nature: nouvelle
  pilotes: [Observatoire]
  pilote_court: OBS
  partenaires: []
  territoire: Départemental
  frequence: {code: triennale, libelle: Tous les trois ans}
  indicateurs:
    - id: "2.1.1"
      libelle: Nombre de partenaires
      type: comptage
      unite: partenaires
      niveau: departement
"""

ARR = ("621", "622", "623")
ARR_NAMES = {"621": "Arras", "622": "Béthune", "623": "Boulogne-sur-Mer"}


class FakeTerritories:
    """What the evaluation pages ask of territories.Territories."""

    arrondissements = pd.DataFrame({"arrondissement": list(ARR), "nom": list(ARR_NAMES.values())})

    def name_of(self, code, referential=None):
        if code == "62":
            return "Pas-de-Calais"
        if code in ARR_NAMES:
            return f"Arrondissement de {ARR_NAMES[code]}"
        raise KeyError(code)

    def population(self, code, year):
        return 1_000_000

    def boundaries(self, level="arrondissement"):
        return {c: [[(i, 50), (i + 1, 50), (i + 1, 51), (i, 51)]] for i, c in enumerate(ARR)}


def obs_row(ind, year, terr, valeur=None, texte="", comp="valeur", commentaire="", fichier="fiche-1.1.csv",
            fiche="1.1"):
    return {"fiche": fiche, "indicateur": ind, "composante": comp, "annee": year, "territoire": terr,
            "valeur": float("nan") if valeur is None else float(valeur), "texte": texte,
            "source": "essai", "commentaire": commentaire, "fichier": fichier, "ligne": 0}


def observations() -> pd.DataFrame:
    rows = []
    # 1.1.1 (persons, by arrondissement): 2020: 10 + 20 + 30 = 60; 2021: 12 + 3 + 30 = 45.
    # 2021: 3 < 5 is secret (primary) and the smallest other part, 12, secret too (secondary).
    for terr, v20, v21 in (("621", 10, 12), ("622", 20, 3), ("623", 30, 30)):
        rows += [obs_row("1.1.1", 2020, terr, v20), obs_row("1.1.1", 2021, terr, v21)]
    # 1.1.2: 20 / 100 = 20 % in 2020; 30 / 120 = 25 % in 2021 (+5 points)
    rows += [obs_row("1.1.2", 2020, "62", 20, comp="numerateur"),
             obs_row("1.1.2", 2020, "62", 100, comp="denominateur"),
             obs_row("1.1.2", 2021, "62", 30, comp="numerateur"),
             obs_row("1.1.2", 2021, "62", 120, comp="denominateur")]
    rows.append(obs_row("1.1.3", 2021, "62", texte="voir commentaire",
                        commentaire="Bilan positif <confirmé> & partagé"))
    rows.append(obs_row("1.1.3", 2020, "62", texte="voir commentaire", commentaire="Premier bilan"))
    # milestone due 30 June 2020, done 15 September 2020: "réalisé en retard"
    rows.append(obs_row("1.1.J1", 2020, "62", texte="2020-09-15"))
    # 1.1.7 reported in 2020 only: missing in 2021
    rows.append(obs_row("1.1.7", 2020, "62", 4))
    rows.append(obs_row("2.1.1", 2021, "62", 7, fichier="fiche-2.1.csv", fiche="2.1"))
    return pd.DataFrame(rows)


def public_series() -> dict[str, pd.DataFrame]:
    df = pd.DataFrame({"annee": [2018, 2019, 2020], "territoire": ["62"] * 3,
                       "valeur": [1000.0, 1100.0, 1210.0]})
    df.attrs = {"source": "Source d'essai : index 7 et 8.", "unite": "faits",
                "approximation": "La série approche le libellé du plan."}
    return {"serie_essai": df}


@pytest.fixture(scope="module")
def referential(tmp_path_factory):
    folder = tmp_path_factory.mktemp("referentiel")
    (folder / "plan.yaml").write_text(textwrap.dedent(PLAN), encoding="utf-8")
    (folder / "fiches-essai.yaml").write_text(textwrap.dedent(FICHES), encoding="utf-8")
    return load_referential(folder)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("collecte")
    (folder / "fiche-1.1.csv").write_text("contenu de la fiche 1.1\n", encoding="utf-8")
    (folder / "fiche-2.1.csv").write_text("contenu de la fiche 2.1\n", encoding="utf-8")
    return folder


def make_context(referential, data_dir, year=2021, demo=False) -> page_context.Context:
    return page_context.Context(
        referential=referential, year=year, data_dir=data_dir, secret_threshold=5,
        territories=FakeTerritories(), observations=observations(),
        files=tuple((str(data_dir / n), hashlib.sha256((data_dir / n).read_bytes()).hexdigest())
                    for n in ("fiche-1.1.csv", "fiche-2.1.csv")),
        public=public_series(), expected={"arrondissement": ARR}, demo=demo)


@pytest.fixture(scope="module")
def data(referential, data_dir):
    return fiche_page.fiche_data(make_context(referential, data_dir), "1.1")


FICHE_SECTIONS = (fiche_page.fiche_header, fiche_page.status_section, fiche_page.indicators_section,
                  fiche_page.charts_section, fiche_page.territories_section,
                  fiche_page.targets_section, fiche_page.milestones_section, fiche_page.public_section,
                  fiche_page.completeness_section, fiche_page.comments_section,
                  fiche_page.provenance_section)


@pytest.fixture(scope="module")
def page(data) -> str:
    return "".join(f"<h2>section</h2>{fn(data)}" if fn is not fiche_page.fiche_header else fn(data)
                   for fn in FICHE_SECTIONS)


# --- the fiche's tables ------------------------------------------------------------------------

def test_the_indicator_table_shows_hand_computed_values(data):
    t = fiche_page.indicator_overview(data).set_index("N°")
    assert list(t.columns) == ["Indicateur", "Unité", "Référence", "2020", "2021", "Évolution sur un an",
                               "Cible", "Progression vers la cible", "Statut"]
    r = t.loc["1.1.1"]
    assert r["Référence"] == "40 (2019)"  # état des lieux dated 1 January 2019
    assert (r["2020"], r["2021"]) == ("60", "45")
    assert r["Évolution sur un an"] == f"{MINUS}15 ({MINUS}25{NBSP}%)"
    assert str(r["Cible"]) == "90<br>échéance : 31 décembre 2022"
    # (45 - 40) / (90 - 40) = 10 %; a straight line would be at 75 % at the end of 2021: late
    assert r["Progression vers la cible"] == f"10{NBSP}%"
    assert str(r["Statut"]) == '<span class="statut statut-en-retard">en retard</span>'
    p = t.loc["1.1.2"]
    assert (p["2020"], p["2021"], p["Évolution sur un an"]) == (f"20{NBSP}%", f"25{NBSP}%", f"+5{NBSP}points")
    assert p["Unité"] == "%"


def test_qualitative_and_undecided_indicators_are_named_not_zero(data):
    t = fiche_page.indicator_overview(data).set_index("N°")
    for iid, text in (("1.1.3", fiche_page.QUALITATIVE_TEXT), ("1.1.4", fiche_page.TO_BE_DEFINED_TEXT)):
        cell = t.loc[iid, "Unité"]
        assert isinstance(cell, fragments.Span) and cell.columns == 7 and str(cell) == text
    html = fiche_page.indicators_section(data)
    row = re.search(r'<th scope="row">1\.1\.3</th>(.*?)</tr>', html).group(1)
    assert 'colspan="7">indicateur qualitatif : voir commentaires<' in row
    assert ">0<" not in row


def test_a_jalon_indicator_shows_its_milestone(data):
    r = fiche_page.indicator_overview(data).set_index("N°").loc["1.1.5"]
    assert r["2021"] == "réalisé le 15 septembre 2020"
    assert r["Cible"] == "échéance : 30 juin 2020"
    assert "réalisé en retard" in str(r["Statut"])


def test_a_public_series_without_value_for_the_year_is_a_dash_and_says_where_it_stops(data):
    r = fiche_page.indicator_overview(data).set_index("N°").loc["1.1.6"]
    assert (r["2020"], r["2021"]) == (f"1{NBSP}210", "—")
    html = fiche_page.public_section(data)
    assert "Source d&#x27;essai" not in html and "Source d'essai : index 7 et 8." in html
    assert "La série approche le libellé du plan." in html
    assert "La série publiée s'arrête en 2020 : pas de valeur pour 2021." in html
    t = Html(html).tables[0]
    assert t["caption"] == "1.1.6 : faits publiés, 2018-2020"


def test_secret_values_never_reach_the_page(data, page):
    parts, year = fiche_page.territory_breakdown(data, data.fiche.indicateurs[0])
    assert year == 2021
    assert list(parts["nom"]) == ["Arras", "Béthune", "Boulogne-sur-Mer"]
    assert list(parts["diffusion"]) == ["secret", "secret", "public"]
    assert parts["valeur"].isna().tolist() == [True, True, False]
    text = Html(page).text
    assert "Arras : secret ; Béthune : secret ; Boulogne-sur-Mer : 30" in " ".join(
        i["alt"] for i in Html(page).imgs)
    assert "Arras : 12" not in text and "Béthune : 3" not in text


def test_a_breakdown_entirely_secret_is_said_not_drawn(referential, data_dir):
    ctx = make_context(referential, data_dir)
    obs = ctx.observations
    # 2021: 4 + 3 + 2 persons: every arrondissement is below 5, the département (9) is published
    obs = obs[~((obs["indicateur"] == "1.1.1") & (obs["annee"] == 2021))]
    obs = pd.concat([obs, pd.DataFrame([obs_row("1.1.1", 2021, t, v) for t, v in
                                         (("621", 4), ("622", 3), ("623", 2))])], ignore_index=True)
    d = fiche_page.fiche_data(dataclasses.replace(ctx, observations=obs), "1.1")
    html = fiche_page.territories_section(d)
    assert "<img" not in html
    assert ("Valeurs 2021 par territoire couvertes par le secret statistique (effectifs de personnes "
            "inférieurs à 5) : seule la valeur départementale est publiée.") in html
    assert fiche_page.indicator_overview(d).set_index("N°").loc["1.1.1", "2021"] == "9"


def test_status_section_shows_the_badge_the_reasons_and_the_rule(data):
    html = fiche_page.status_section(data)
    assert data.status == "en retard"
    assert '<span class="statut statut-en-retard statut-grand">en retard</span>' in html
    assert "Cible « Accueillir 90 personnes » en retard." in html
    assert "<details><summary>Règle de décision du statut d&#x27;une fiche</summary>" not in html
    assert "<details><summary>Règle de décision du statut d'une fiche</summary>" in html
    assert html.count("<li>") >= len(data.reasons) + 6  # reasons + the six numbered rules


def test_header_has_one_h1_the_identity_and_the_demo_notice_only_for_demo_data(referential, data_dir,
                                                                              tmp_path):
    head = fiche_page.fiche_header(fiche_page.fiche_data(make_context(referential, data_dir), "1.1"))
    assert Html(head).headings == [1]
    assert "<h1>Fiche 1.1 — Accueil des victimes &lt;essai&gt; &amp; suivi</h1>" in head
    assert "Données de démonstration" not in head
    for label in ("Axe", "Objectif", "Pilote", "Partenaires", "Territoire", "Fréquence d'évaluation"):
        assert f"<dt>{label}</dt>" in head
    assert "Annuelle (évaluée en 2019, 2020, 2021 et 2022)" in head
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "DEMONSTRATION").write_text("")
    ctx = make_context(referential, data_dir)
    ctx = dataclasses.replace(ctx, data_dir=demo)
    head = fiche_page.fiche_header(fiche_page.fiche_data(ctx, "1.1"))
    assert '<div class="avertissement" role="note"><p><strong>Données de démonstration</strong>' in head


def test_the_page_has_ordered_headings_accessible_tables_and_alt_texts(page, data):
    p = Html(page)
    assert p.headings[0] == 1 and p.headings.count(1) == 1
    assert all(b <= a + 1 for a, b in zip(p.headings, p.headings[1:]))
    assert p.tables and all(t["caption"].strip() for t in p.tables)
    for t in p.tables:
        assert t["th"] and set(t["th"]) <= {"col", "row"} and "col" in t["th"]
    quantitative = [i for i in data.fiche.indicateurs if i.quantitative]
    assert len(p.imgs) >= len(quantitative)
    assert all(i["src"].startswith("data:image/png;base64,") and i["alt"].strip() for i in p.imgs)


def test_chart_alt_text_summarises_the_series_and_the_target(data):
    html = fiche_page.indicator_figure(data, data.fiche.indicateurs[0])
    alt = Html(html).imgs[0]["alt"]
    assert alt == ("Nombre de personnes accueillies (personnes), Pas-de-Calais, de 2018 à 2021 : "
                   "pas de valeur en 2018, pas de valeur en 2019, 60 en 2020, 45 en 2021 ; "
                   "cible 90 au 31 décembre 2022.")
    assert "pas de valeur pour 2018 et 2019" in html  # caption


def test_targets_and_milestones_sections(data):
    t = fiche_page.target_overview(data)
    assert t.loc[0, "Progression"] == f"10{NBSP}%"
    # 2019-01-01 -> 2021-12-31 is 1095 days of 1460: 75 %
    assert t.loc[0, "Progression attendue"] == f"75{NBSP}%"
    ms = fiche_page.milestones_section(data)
    assert "15 septembre 2020" in ms and "réalisé en retard" in ms
    assert Html(ms).imgs[0]["alt"].startswith("Frise des 1 jalons de la fiche 1.1 au 31 décembre 2021 : "
                                              "1.1.J1 : échéance 30 juin 2020, réalisé le 15 septembre 2020")


def test_missing_values_say_what_and_from_whom(data):
    missing = fiche_page.missing_values(data)
    assert missing.to_dict("records") == [{"Indicateur": "1.1.7", "Libellé": "Nombre de réunions",
                                           "Élément manquant": "valeur", "Territoire": "Pas-de-Calais",
                                           "Service pilote": "DDE"}]
    html = fiche_page.completeness_section(data)
    # expected: 3 arrondissements + numerator + denominator + qualitative + réunions + milestone = 8
    assert "7 valeurs déclarées sur 8 attendues pour 2021 (88" in html
    assert "Direction départementale de l'essai (DDE)" in html
    assert "1.1.6 (statistique publique)" in html and "1.1.4 (à déterminer)" in html


def test_comments_of_the_year_and_of_earlier_years(data):
    # without the committee's record nothing is published (tests/test_committee.py: once reviewed)
    assert fiche_page.fiche_comments(data).empty and fiche_page.fiche_comments(data, 0).empty
    html = fiche_page.comments_section(data)
    assert "Bilan positif" not in html and "Premier bilan" not in html
    assert "1 commentaire en attente de relecture" in html


def test_provenance_lists_only_the_fiche_files_with_their_hash(data, data_dir):
    files = fiche_page.fiche_files(data)
    assert [Path(p).name for p, _ in files] == ["fiche-1.1.csv"]
    html = fiche_page.provenance_section(data)
    digest = hashlib.sha256((data_dir / "fiche-1.1.csv").read_bytes()).hexdigest()
    assert digest in html
    assert hashlib.sha256((data_dir / "fiche-2.1.csv").read_bytes()).hexdigest() not in html
    assert "plancadre-eval 0.1.0" in html
    assert "fiches-essai.yaml" in html and "plan.yaml" in html
    assert "Données publiques utilisées" in html  # the fiche uses a public series


# --- synthesis ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def synthesis(referential, data_dir):
    return synthesis_page.synthesis_data(make_context(referential, data_dir))


def test_synthesis_links_only_the_fiches_due_this_year(synthesis):
    assert synthesis.due == ["1.1"]  # 2.1 is triennale: 2019 and 2022
    grid = synthesis_page.fiche_grid_section(synthesis)
    assert Html(grid).links == ["fiche-1.1.html", "fiche-1.1.html"]
    assert "pas d&#x27;évaluation" not in grid
    assert "pas d'évaluation prévue en 2021 (tous les trois ans)" in grid
    assert Html(grid).headings == [3, 3]


def test_synthesis_plan_overview_counts_statuses(synthesis):
    statuses = dict(zip(synthesis.statuses["fiche"], synthesis.statuses["statut"]))
    assert statuses["1.1"] == "en retard"
    table = synthesis_page.plan_overview(synthesis).set_index("Axe")
    total = table.loc["Ensemble du plan"]
    assert total["Fiches"] == "2" and total["En retard"] == "1"
    html = synthesis_page.plan_overview_section(synthesis)
    assert Html(html).imgs[0]["alt"].startswith("Statut des fiches par axe en 2021 : Axe 1 : 1 en retard")


def test_synthesis_lists_late_targets_and_milestone_counts(synthesis):
    targets = synthesis_page.targets_overview_section(synthesis)
    assert "Cibles en retard au 31 décembre 2021" in targets and "Accueillir 90 personnes" in targets
    ms = synthesis_page.milestones_overview_section(synthesis)
    assert "Aucun jalon n'est en retard." in ms
    counts = re.search(r"réalisé en retard</span></th><td class=\"nombre\">(\d+)<", ms).group(1)
    assert counts == "1"


def test_synthesis_completeness_is_by_pilot_for_the_fiches_due(synthesis):
    table = synthesis_page.completeness_overview(synthesis)
    assert table.to_dict("records") == [{"Service pilote": "DDE", "Fiches": "1.1", "Attendues": "8",
                                         "Déclarées": "7", "Manquantes": "1",
                                         "Taux de réponse": f"88{NBSP}%"}]


def test_synthesis_map_writes_the_values_of_each_arrondissement(referential, data_dir, monkeypatch):
    monkeypatch.setattr(synthesis_page, "MAP_INDICATORS", (("1.1.1", "Personnes accueillies"),))
    sd = synthesis_page.synthesis_data(make_context(referential, data_dir, year=2020))
    html = synthesis_page.map_section(sd)
    assert "Personnes accueillies (personnes) : Arras 10, Béthune 20, Boulogne-sur-Mer 30" in html


# --- loading ------------------------------------------------------------------------------------

def one_value_collection(tmp_path):
    """A collection folder holding one value (2.5.1, 2021, arrondissement 621 = 1) and its settings."""
    from plancadre_eval import parameters

    folder = tmp_path / "collecte"
    folder.mkdir()
    f = folder / "fiche-2.5.csv"
    f.write_text("fiche;indicateur;annee;territoire;valeur\n2.5;2.5.1;2021;621;1\n", encoding="utf-8")
    return f, parameters.Settings(referential=load_referential(), year=2021, data_dir=folder,
                                  secret_threshold=5)


def test_load_context_reuses_the_collection_until_a_file_changes(tmp_path):
    from plancadre_eval import territories

    f, settings_ = one_value_collection(tmp_path)
    first = page_context.load_context(settings_)
    again = page_context.load_context(settings_)
    assert first.observations is again.observations
    assert first.observations["valeur"].tolist() == [1.0]
    assert first.demo is False and first.expected["arrondissement"][0] == "621"
    f.write_text("fiche;indicateur;annee;territoire;valeur\n2.5;2.5.1;2021;621;2\n", encoding="utf-8")
    changed = page_context.load_context(settings_)
    assert changed.observations["valeur"].tolist() == [2.0]
    assert isinstance(first.territories, territories.Territories)


def test_load_context_shares_one_context_and_engine_per_year_until_a_file_changes(tmp_path):
    f, settings_ = one_value_collection(tmp_path)
    first = page_context.load_context(settings_)
    assert page_context.load_context(settings_) is first  # the pages of a kernel share its engine
    other_year = page_context.load_context(dataclasses.replace(settings_, year=2022))
    other_threshold = page_context.load_context(dataclasses.replace(settings_, secret_threshold=3))
    assert other_year is not first and other_year.year == 2022
    assert other_threshold is not first and other_threshold.engine.secret_threshold == 3
    f.write_text("fiche;indicateur;annee;territoire;valeur\n2.5;2.5.1;2021;621;7\n", encoding="utf-8")
    changed = page_context.load_context(settings_)
    assert changed is not first
    assert changed.engine.observations["valeur"].tolist() == [7.0]


def test_an_unknown_fiche_is_a_french_error(referential, data_dir):
    with pytest.raises(ValueError, match="Fiche inconnue : '9.9'"):
        fiche_page.fiche_data(make_context(referential, data_dir), "9.9")


# --- HTML helpers --------------------------------------------------------------------------------

def test_html_table_structure():
    df = pd.DataFrame({"N°": ["1"], "Libellé": ["a < b & c"], "Valeur": [fragments.Html("<b>5</b>")]})
    html = fragments.html_table(df, "Légende", numeric=("Valeur",), row_header="N°")
    assert html == ('<div class="tableau"><table><caption>Légende</caption><thead><tr>'
                    '<th scope="col">N°</th><th scope="col">Libellé</th>'
                    '<th scope="col" class="nombre">Valeur</th></tr></thead><tbody><tr>'
                    '<th scope="row">1</th><td>a &lt; b &amp; c</td><td class="nombre"><b>5</b></td>'
                    "</tr></tbody></table></div>")


def test_rule_html_turns_numbered_lines_into_a_list():
    html = fragments.rule_html("Règle :\n1. premier ;\n2. second.\nFin.")
    assert html == "<p>Règle :</p><ol><li>premier ;</li><li>second.</li></ol><p>Fin.</p>"
    full = fragments.rule_html(statuses.FICHE_STATUS_RULE)
    assert full.count("<li>") == 6


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
                min_size=1, max_size=4))
def test_html_table_cells_read_back_as_written(cells):
    df = pd.DataFrame([cells], columns=[f"c{i}" for i in range(len(cells))])
    html = fragments.html_table(df, "t")
    tds = re.findall(r"<td>(.*?)</td>", html, flags=re.S)
    assert [unescape(t) for t in tds] == cells
    assert all("<" not in t for t in tds)  # no markup from the data


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.none(), st.just(float("nan")), st.floats(0, 1e6, allow_nan=False)),
       st.sampled_from(["comptage", "pourcentage", "taux", "duree"]),
       st.sampled_from(["public", "secret"]))
def test_value_text_is_never_a_fake_zero(value, kind, diffusion):
    from plancadre_eval.referential import Indicator

    ind = Indicator(id="1.1.1", fiche="1.1", libelle="x", type=kind, unite="u")
    text = fragments.value_text(value, ind, diffusion)
    if diffusion == "secret":
        assert text == "secret"
    elif value is None or value != value:
        assert text == "—"
    else:
        assert text[0].isdigit()


def test_html_fragments_display_as_html_in_a_notebook():
    frag = fragments.Html("<p>x</p>")
    assert frag._repr_html_() == "<p>x</p>"
    assert repr(frag) == "<fragment HTML de 8 caractères>"


# --- what the plan adopted and what the evaluators added; the diagnostic's comparison ------------

FICHES_ORIGINE = """
- id: "3.1"
  axe: "1"
  titre: Fiche aux origines mêlées
  objectif: Distinguer le plan des ajouts
  nature: nouvelle
  pilotes: [Service d'essai]
  pilote_court: SE
  partenaires: []
  territoire: Départemental
  frequence: {code: semestrielle, libelle: Annuellement et tous les 6 mois en phase d'expérimentation., debut: 2019, fin: 2020}
  etat_des_lieux:
    - libelle: Postes existants
      valeur: 5
      unite: postes
      date: "2019-01-01"
      date_precisee: false
      indicateur: "3.1.2"
    - libelle: Personnes formées (« plus de 450 »)
      valeur: 450
      unite: personnes
      date: "2019-11-01"
      lecture: plancher
      indicateur: "3.1.1"
  cibles:
    - libelle: Création de 2 ou 3 postes (5 + 3)
      valeur: 8
      unite: postes
      echeance: "2022-12-31"
      indicateur: "3.1.2"
      origine: deduit
      lecture: fourchette
  jalons:
    - id: "3.1.J1"
      libelle: Lancement
      echeance: "2019-10-08"
    - id: "3.1.J2"
      libelle: Fin de l'expérimentation
      echeance: "2019-12-31"
      origine: deduit
  indicateurs:
    - id: "3.1.1"
      libelle: Nombre de personnes formées
      type: comptage
      unite: personnes
    - id: "3.1.2"
      libelle: Nombre de postes
      type: comptage
      unite: postes
      origine: ajout
    - id: "3.1.3"
      libelle: Faits commis dans la famille
      type: comptage
      unite: faits
      source: public
      serie: serie_essai
"""


@pytest.fixture(scope="module")
def origin_data(tmp_path_factory, data_dir):
    folder = tmp_path_factory.mktemp("referentiel-origine")
    (folder / "plan.yaml").write_text(textwrap.dedent(PLAN), encoding="utf-8")
    (folder / "fiches-essai.yaml").write_text(textwrap.dedent(FICHES_ORIGINE), encoding="utf-8")
    ref = load_referential(folder)
    obs = pd.DataFrame([obs_row("3.1.1", 2021, "62", 500, fiche="3.1", fichier="fiche-3.1.csv"),
                        obs_row("3.1.2", 2021, "62", 7, fiche="3.1", fichier="fiche-3.1.csv")])
    public = public_series()
    public["serie_essai"].attrs["mesure"] = "tous les faits, tous contextes — source d'essai, index 7"
    ctx = page_context.Context(
        referential=ref, year=2021, data_dir=data_dir, secret_threshold=5,
        territories=FakeTerritories(), observations=obs, files=(), public=public,
        expected={"arrondissement": ARR}, demo=False)
    return fiche_page.fiche_data(ctx, "3.1")


def test_the_indicator_table_says_which_indicator_was_added_and_what_a_series_measures(origin_data):
    t = fiche_page.indicator_overview(origin_data).set_index("N°")
    assert str(t.loc["3.1.1", "Indicateur"]) == "Nombre de personnes formées"  # from the plan: no note
    assert str(t.loc["3.1.2", "Indicateur"]) == (
        'Nombre de postes<span class="origine-plan">indicateur ajouté pour l\'évaluation</span>')
    assert "mesuré par : tous les faits, tous contextes — source d'essai, index 7" in str(
        t.loc["3.1.3", "Indicateur"])
    # the baseline the plan does not date, and the floor read as exact, are said with the reference
    assert t.loc["3.1.2", "Référence"] == "5 (2019, date non précisée dans le plan)"
    assert t.loc["3.1.1", "Référence"].startswith("450 (2019, plancher du plan")
    body = Html(fiche_page.indicators_section(origin_data)).text
    assert "indicateur ajouté pour l'évaluation" in body and "mesuré par :" in body


def test_targets_and_milestones_say_when_they_are_deduced(origin_data):
    t = fiche_page.target_overview(origin_data)
    cell = str(t.loc[0, "Cible"])
    assert "cible déduite du plan" in cell and "fourchette du plan ramenée à une valeur" in cell
    assert t.loc[0, "Référence"] == "5 (2019, date non précisée dans le plan)"
    body = Html(fiche_page.milestones_section(origin_data)).text
    assert body.count("jalon déduit du plan") == 1
    assert "Fin de l'expérimentation jalon déduit du plan" in body


def test_half_yearly_schedule_is_explained(origin_data):
    body = Html(fiche_page.fiche_header(origin_data)).text
    assert "valeurs semestrielles ne sont pas collectées" in body


def _diagnostic(referential_ctx) -> diagnostic_page.DiagnosticData:
    """A diagnostic built on hand-made tables: two years, a département, its region, France."""
    from plancadre_eval import public_data

    vpi = "Violences physiques intrafamiliales"
    rows = []
    # 2021: 62 10 / 1 000 = 10 ‰; region (62 + 59) 30 / 5 000 = 6 ‰; métropole 60 / 20 000 = 3 ‰;
    # France 70 / 25 000 = 2,8 ‰
    for year, values in ((2021, (10, 30, 60, 70)), (2022, (12, 33, 66, 80))):
        for perim, (n, pop) in zip(public_data.PERIMETERS,
                                   zip(values, (1000, 5000, 20000, 25000))):
            rows.append({"indicateur": vpi, "annee": year, "perimetre": perim, "nombre": float(n),
                         "population": pop, "taux_pour_mille": n / pop * 1000,
                         "departements": 1, "manquants": 0})
    comparison = pd.DataFrame(rows)
    ranks = pd.DataFrame({"indicateur": [vpi, vpi], "annee": [2021, 2022],
                          "taux_pour_mille": [10.0, 12.0], "rang": [3, 1], "sur": [96, 96]})
    region = pd.DataFrame({"indicateur": [vpi] * 2, "annee": [2022] * 2, "departement": ["59", "62"],
                           "nom": ["Nord", "Pas-de-Calais"], "nombre": [21.0, 12.0],
                           "population": [4000, 1000], "taux_pour_mille": [5.25, 12.0]})
    table = pd.DataFrame({"annee": [2014, 2016], "serie": ["s", "s"], "libelle": ["Série", "Série"],
                          "valeur": [100.0, 120.0], "population": [1_465_278, 1_470_000],
                          "millesime_population": [2019, 2016], "taux_pour_mille": [0.07, 0.08],
                          "source": ["essai", "essai"]})
    return diagnostic_page.DiagnosticData(context=referential_ctx, table=table, approximations={},
                                     comparison=comparison, ranks=ranks, region=region)


def test_diagnostic_compares_with_region_and_france_and_ranks(referential, data_dir):
    dd = _diagnostic(make_context(referential, data_dir, year=2022))
    t = diagnostic_page.comparison_overview(dd, "Violences physiques intrafamiliales").set_index("Année")
    assert list(t.columns) == ["Pas-de-Calais", "Hauts-de-France", "France métropolitaine", "France",
                               "Rang du Pas-de-Calais"]
    assert t.loc["2021"].tolist() == ["10", "6", "3", "2,8", "3e sur 96"]
    assert t.loc["2022", "France"] == "3,2"  # 80 / 25 000 × 1 000
    r = diagnostic_page.region_overview(dd, "Violences physiques intrafamiliales").set_index("Année")
    assert r.loc["2022"].tolist() == ["5,25", "12"]
    html = diagnostic_page.diagnostic_comparison_section(dd)
    page = Html(html)
    assert len(page.imgs) == 1 and "Nord 5,25, Pas-de-Calais 12" in page.imgs[0]["alt"]
    assert "Hauts-de-France 6,6" in page.imgs[0]["alt"]  # 33 / 5 000 × 1 000 in 2022
    assert "jamais une moyenne des taux" in page.text


def test_diagnostic_shows_the_plan_s_figures_and_the_population_vintage(referential, data_dir):
    ref = load_referential(Path(__file__).resolve().parents[1] / "data" / "referentiel"
                           / "plan-cadre-2019-2022")
    ctx = make_context(referential, data_dir, year=2022)
    ctx = dataclasses.replace(ctx, referential=ref)
    dd = _diagnostic(ctx)
    body = Html(diagnostic_page.diagnostic_plan_figures_section(dd)).text
    assert "plus de 8 400 faits" in body and "3 369 victimes" in body and "plan cadre" in body
    assert "Aucun jeu de données public ne les reproduit" in body
    note = unescape(diagnostic_page.population_vintage_note(dd))
    assert "Pour 2014" in note and "millésime 2019" in note and "1 465 278" in note.replace(NBSP, " ")


# --- partial coverage (issue 10) ----------------------------------------------------------------

@pytest.fixture(scope="module")
def partial_context(tmp_path_factory):
    """The shipped referential and territories; places 2.6.5 declared for 2 of the 7
    arrondissements in 2021 (621: 16, 622: 14 -> 30) and for all 7 in 2020 (10 each -> 70)."""
    from plancadre_eval import territories

    ref, terr = load_referential(), territories.load_territories()
    folder = tmp_path_factory.mktemp("collecte-partielle")
    (folder / "fiche-2.6.csv").write_text("contenu\n", encoding="utf-8")
    rows = [obs_row("2.6.5", 2020, c, 10, fichier="fiche-2.6.csv", fiche="2.6")
            for c in ("621", "622", "623", "624", "625", "626", "627")]
    rows += [obs_row("2.6.5", 2021, "621", 16, fichier="fiche-2.6.csv", fiche="2.6"),
             obs_row("2.6.5", 2021, "622", 14, fichier="fiche-2.6.csv", fiche="2.6")]
    return page_context.Context(
        referential=ref, year=2021, data_dir=folder, secret_threshold=5, territories=terr,
        observations=pd.DataFrame(rows), files=(), public={},
        expected=page_context.expected_territories(terr, ref), demo=False)


def test_a_partial_value_is_said_in_the_fiche_table_and_chart(partial_context):
    data = fiche_page.fiche_data(partial_context, "2.6")
    table = fiche_page.indicator_overview(data).set_index("N°")
    assert table.loc["2.6.5", "2021"] == "30, partiel (2/7 arrondissements)"
    assert table.loc["2.6.5", "2020"] == "70"
    assert table.loc["2.6.5", "Évolution sur un an"] == "—"
    assert "non évaluable" in str(table.loc["2.6.5", "Statut"])
    # the rate: 30 places for the département's population, partial as well
    assert table.loc["2.6.1", "2021"].endswith(", partiel (2/7 arrondissements)")
    section = fiche_page.indicators_section(data)
    assert "« partiel (déclarés/attendus) »" in unescape(str(section))
    places = next(i for i in data.fiche.indicateurs if i.id == "2.6.5")
    fig = fiche_page.indicator_figure(data, places)
    html = Html(str(fig))
    assert "30 en 2021 (partiel (2/7 arrondissements))" in html.imgs[0]["alt"]
    assert "carré vide : valeur partielle (2021)" in unescape(str(fig))


def test_a_partial_value_is_said_in_the_synthesis_key_figures(partial_context):
    sd = synthesis_page.synthesis_data(partial_context)
    figures = synthesis_page.key_figures(sd).set_index("Fiche")
    places = figures[figures["Indicateur"].str.contains("places d'hébergement", case=False)]
    assert places["2021"].tolist() == ["30 places, partiel (2/7 arrondissements)"]
    assert places["2020"].tolist() == ["70 places"]
    assert places["Évolution sur un an"].tolist() == ["—"]


def test_the_synthesis_names_the_fiches_excluded_by_bad_files(referential, data_dir):
    line = "collecte/fiche-1.1.csv:4: colonne 'valeur': 'beaucoup' n'est pas un nombre."
    ctx = dataclasses.replace(make_context(referential, data_dir), excluded={"1.1": (line,)})
    sd = synthesis_page.synthesis_data(ctx)
    header = unescape(str(synthesis_page.synthesis_header(sd)))
    assert "Fiches exclues de cette synthèse (1.1)" in header and line in header
    grid = synthesis_page.fiche_grid(sd, "1").iloc[0]
    assert grid["Évaluation 2021"] == "exclue : fichier de données en erreur"
    assert "données insuffisantes" in str(grid["Statut"])
    assert sd.targets[sd.targets["fiche"] == "1.1"].empty and sd.table[sd.table["fiche"] == "1.1"].empty
    # without exclusion, no notice
    plain = synthesis_page.synthesis_data(make_context(referential, data_dir))
    assert "exclues" not in str(synthesis_page.synthesis_header(plain))

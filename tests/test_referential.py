"""The referential: the shipped plan is complete and faithful; broken referentials are rejected
with messages naming the file, the fiche and the field."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from plancadre_eval import cli
from plancadre_eval.referential import ReferentialError, load_referential

ROOT = Path(__file__).resolve().parents[1]
REF_DIR = ROOT / "data" / "referentiel" / "plan-cadre-2019-2022"
EXPECTED_IDS = (
    [f"1.{i}" for i in range(1, 5)] + [f"2.{i}" for i in range(1, 18)]
    + [f"3.{i}" for i in range(1, 6)] + [f"4.{i}" for i in range(1, 11)]
)


@pytest.fixture(scope="module")
def ref():
    return load_referential(REF_DIR)


@pytest.fixture(scope="module")
def as_json(capsys_module=None):
    """The referential as the CLI prints it (``plancadre-eval referentiel --json``)."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["referentiel", "--json"]) == 0
    return json.loads(buf.getvalue())


# --- the shipped plan -----------------------------------------------------------------------

def test_the_plan_has_its_36_fiches_in_4_axes(ref):
    assert ref.fiche_ids == EXPECTED_IDS
    assert [a.id for a in ref.axes] == ["1", "2", "3", "4"]
    assert {f.axe for f in ref.fiches} == {"1", "2", "3", "4"}
    assert [f.id for f in ref.fiches if f.axe == "3"] == ["3.1", "3.2", "3.3", "3.4", "3.5"]


def test_json_output_has_the_documented_keys_and_numbers(as_json):
    fiches = {f["id"]: f for f in as_json["fiches"]}
    assert len(fiches) == 36
    for f in fiches.values():
        for key in ("id", "axe", "titre", "frequence", "etat_des_lieux", "cibles", "jalons",
                    "indicateurs", "liens"):
            assert key in f, (f["id"], key)
        for ind in f["indicateurs"]:
            assert {"id", "libelle", "type", "unite"} <= set(ind)
    etp = [b for b in fiches["2.1"]["etat_des_lieux"] if b["unite"] == "ETP"]
    assert etp and etp[0]["valeur"] == 2.25 and isinstance(etp[0]["valeur"], float)


def _baseline_values(fiche):
    return sorted(float(b.valeur) for b in fiche.etat_des_lieux)


def test_baselines_quoted_in_the_issue_match_the_plan(ref):
    assert 2.25 in _baseline_values(ref.fiche("2.1"))
    tgd = ref.fiche("3.1").etat_des_lieux
    assert {b.valeur for b in tgd} >= {12, 7}
    assert all(b.date.isoformat() == "2019-11-01" for b in tgd if b.valeur in (12, 7))
    assert {104, 1030} <= set(_baseline_values(ref.fiche("2.4")))
    assert 100 in _baseline_values(ref.fiche("2.6"))
    assert 5 in _baseline_values(ref.fiche("2.5"))


def test_targets_quoted_in_the_issue_match_the_plan(ref):
    t14 = {(t.valeur, t.unite) for t in ref.fiche("1.4").cibles}
    values = sorted(v for v, _ in t14)
    for expected in (50, 100, 25, 75):
        assert expected in values, (expected, t14)
    assert all(t.echeance.year == 2022 for t in ref.fiche("1.4").cibles)
    t25 = ref.fiche("2.5").cibles
    assert any(t.valeur == 7 for t in t25), "2.5 : un accueil de jour par arrondissement = 7"


def test_evaluation_frequencies_follow_the_plan(ref):
    codes = {f.id: f.frequence.code for f in ref.fiches}
    assert codes["4.5"] == "triennale"
    assert codes["1.3"] == "intermediaire_et_finale"
    assert codes["1.4"] == "annuelle_apres_2e_annee"
    assert codes["2.7"] == "continue"
    assert codes["4.7"] == "semestrielle"
    assert codes["2.1"] == "annuelle"
    assert "trois ans" in ref.fiche("4.5").frequence.libelle


def test_every_indicator_label_stands_in_the_plan_text(ref):
    """Labels are verbatim: each one's words appear in the plan text (hyphenation undone)."""
    plan = ROOT.parent / "shared" / "plan" / "plan-cadre-2019-2022.txt"
    if not plan.exists():
        pytest.skip("texte du plan absent (../shared) : vérification de fidélité impossible ici")
    text = plan.read_text(encoding="utf-8")
    text = re.sub(r"-\n", "", text)
    norm = lambda s: re.sub(r"[\s’'·.,;:()«»\-–]+", " ", s.lower()).strip()  # noqa: E731
    corpus = norm(text)
    missing = []
    for ind in ref.indicators():
        if ind.origine != "plan":
            continue  # indicators the evaluators added or inferred, marked as such
        words = norm(ind.libelle).split()[:6]
        if " ".join(words) not in corpus:
            missing.append((ind.id, ind.libelle))
    assert len(missing) <= 4, f"libellés introuvables dans le plan : {missing}"


# --- what the plan adopted and what the evaluators added (origine, lecture, dates) -------------

#: Indicators not adopted as such by the plan, per fiche (hand count from the plan text):
#: 1.4.5-1.4.8 follow targets quoted inside indicator 1.4.1 and 2.6.5 is the numerator of the
#: plan's rate 2.6.1 (deduced); the others are added for the evaluation.
NOT_IN_PLAN = {
    "1.4": {"1.4.5": "deduit", "1.4.6": "deduit", "1.4.7": "deduit", "1.4.8": "deduit"},
    "2.1": {"2.1.3": "ajout"}, "2.2": {"2.2.4": "ajout", "2.2.5": "ajout"}, "2.3": {"2.3.4": "ajout"},
    "2.6": {"2.6.5": "deduit", "2.6.6": "ajout"}, "2.17": {"2.17.4": "ajout"},
    "4.5": {"4.5.3": "ajout", "4.5.4": "ajout", "4.5.5": "ajout", "4.5.6": "ajout"},
    "4.6": {"4.6.3": "ajout"}, "4.8": {"4.8.2": "ajout"},
}


def test_origin_of_every_indicator_per_fiche(ref):
    for f in ref.fiches:
        found = {i.id: i.origine for i in f.indicateurs if i.origine != "plan"}
        assert found == NOT_IN_PLAN.get(f.id, {}), f.id
    origins = [i.origine for i in ref.indicators()]
    assert (origins.count("plan"), origins.count("ajout"), origins.count("deduit")) == (103, 12, 5)
    assert len(ref.indicators()) == 120
    # per fiche, how many come from the plan: 1.4 has 4 of its 8, 2.2 its 3 crime statistics,
    # 4.5 2 of its 6, 2.5 all 6
    plan_count = {f.id: sum(i.origine == "plan" for i in f.indicateurs) for f in ref.fiches}
    assert (plan_count["1.4"], plan_count["2.2"], plan_count["4.5"], plan_count["2.5"]) == (4, 3, 2, 6)


def test_remarks_announcing_an_addition_match_the_origin_field(ref):
    for ind in ref.indicators():
        said = ind.remarques and re.search(r"\bajout|implicite", ind.remarques, re.I)
        assert bool(said) == (ind.origine != "plan"), (ind.id, ind.origine, ind.remarques)


def test_targets_and_milestones_carry_origin_and_reading(ref):
    t22 = ref.fiche("2.2").cibles[0]
    assert (t22.valeur, t22.origine, t22.lecture) == (8, "deduit", "fourchette")  # « 2 ou 3 postes »
    caf = ref.fiche("2.3").cibles[0]
    assert (caf.origine, caf.lecture) == ("deduit", "plancher")
    assert {t.origine for t in ref.fiche("1.4").cibles} == {"plan"}
    assert [t.origine for t in ref.fiche("2.5").cibles] == ["deduit", "plan"]  # 7 = one per arrondissement
    ms = {m.id: m.origine for m in ref.milestones()}
    assert [k for k, v in ms.items() if v != "plan"] == ["4.7.J7"]
    b12 = [b for b in ref.fiche("1.2").etat_des_lieux if b.valeur == 450][0]
    assert b12.lecture == "plancher"  # « plus de 450 »


def test_baselines_without_a_date_in_the_plan_say_so(ref):
    tgd = [b for b in ref.fiche("3.1").etat_des_lieux]
    assert all(b.date_precisee for b in tgd)  # « Au 1er novembre 2019 »
    assert not any(b.date_precisee for b in ref.fiche("2.5").etat_des_lieux)  # present tense, undated
    undated = [b for f in ref.fiches for b in f.etat_des_lieux if not b.date_precisee]
    assert all(b.date.month == 1 and b.date.day == 1 for b in undated)
    assert all(b.date_precisee for f in ref.fiches for b in f.etat_des_lieux
               if (b.date.month, b.date.day) != (1, 1))


def test_schedules_as_the_plan_writes_them(ref):
    from plancadre_eval.schedule import due_years

    # « Fréquence d'évaluation : intermédiaires et à la fin du plan » : two intermediate, one final
    assert due_years(ref.fiche("1.3"), ref.plan) == [2020, 2021, 2022]
    assert ref.fiche("4.7").frequence.code == "semestrielle"


def test_the_plan_s_own_figures(ref, as_json):
    figures = {c.valeur: c for c in ref.chiffres}
    assert sorted(figures) == [20, 2728, 3369, 4260, 8400]
    assert {c.source for c in ref.chiffres} == {"plan cadre"}
    assert figures[8400].annee == 2018 and figures[8400].lecture == "plancher"
    assert figures[20].annee == 2019
    assert [c["valeur"] for c in as_json["chiffres_plan"]] == [8400, 4260, 3369, 2728, 20]
    plan = ROOT.parent / "shared" / "plan" / "plan-cadre-2019-2022.txt"
    if plan.exists():
        text = plan.read_text(encoding="utf-8").replace(" ", "")
        for value in (8400, 4260, 3369, 2728):
            assert str(value) in text


def test_json_exports_origin_reading_and_dates(as_json):
    fiches = {f["id"]: f for f in as_json["fiches"]}
    inds = {i["id"]: i for f in fiches.values() for i in f["indicateurs"]}
    assert inds["2.2.4"]["origine"] == "ajout" and inds["2.2.1"]["origine"] == "plan"
    assert fiches["2.2"]["cibles"][0]["origine"] == "deduit"
    assert fiches["2.2"]["cibles"][0]["lecture"] == "fourchette"
    assert {m["id"]: m["origine"] for m in fiches["4.7"]["jalons"]}["4.7.J7"] == "deduit"
    assert fiches["2.5"]["etat_des_lieux"][0]["date_precisee"] is False


def test_no_internal_name_says_famille_where_the_data_do_not(ref):
    from plancadre_eval import public_data

    for code, spec in public_data.SERIES.items():
        if spec.dataset == "etat4001":  # no intrafamilial flag in the État 4001
            assert "famil" not in code and "famil" not in spec.libelle.lower(), code
            assert spec.mesure and "tous contextes" in spec.mesure, code
    assert ref.indicator("2.2.1").serie == "etat4001_cbv"


def test_indicator_kinds_cover_the_plan(ref):
    types = {i.type for i in ref.indicators()}
    assert {"comptage", "jalon", "qualitatif", "a_determiner", "taux"} <= types
    assert [i.type for i in ref.fiche("2.15").indicateurs] == ["a_determiner"]
    public = [i for i in ref.fiche("2.2").indicateurs if i.source == "public"]
    # the plan's three crime indicators, plus the SSMSI series that carries the first one after 2020
    assert [i.serie for i in public] == ["etat4001_cbv", "etat4001_violences_mineurs",
                                         "etat4001_menaces", "diag_violences_intrafamiliales"]


def test_cross_references_are_explicit(ref):
    assert set(ref.fiche("4.3").liens) >= {"1.1", "2.7", "4.1", "4.2"}
    assert ref.fiche("2.6").liens
    assert ref.fiche("4.4").liens


def test_ids_are_strings_and_2_10_is_not_2_1(ref):
    assert ref.fiche("2.10").id == "2.10"
    assert ref.fiche("2.10").titre != ref.fiche("2.1").titre
    assert all(isinstance(i.id, str) for i in ref.indicators())


# --- broken referentials --------------------------------------------------------------------

def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "ref"
    shutil.copytree(REF_DIR, dst)
    return dst


def _edit(path: Path, fiche_id: str, fn) -> None:
    fiches = yaml.safe_load(path.read_text(encoding="utf-8"))
    for f in fiches:
        if f["id"] == fiche_id:
            fn(f)
    path.write_text(yaml.safe_dump(fiches, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _problems(folder: Path) -> list[str]:
    with pytest.raises(ReferentialError) as exc:
        load_referential(folder)
    return exc.value.problems


def test_a_referential_is_read_again_only_when_its_files_change(tmp_path):
    ref_dir = _copy(tmp_path)
    first = load_referential(ref_dir)
    assert load_referential(ref_dir) is first
    plan = ref_dir / "plan.yaml"
    text = plan.read_text(encoding="utf-8")
    title = first.plan.titre
    plan.write_text(text.replace(f"titre: {title}", f"titre: {title} (amendé)", 1), encoding="utf-8")
    amended = load_referential(ref_dir)
    assert amended is not first and amended.plan.titre == title + " (amendé)"
    plan.write_text(text, encoding="utf-8")  # same bytes as the first time: same plan again
    assert load_referential(ref_dir).plan.titre == title


def test_duplicate_fiche_id_is_rejected(tmp_path):
    ref_dir = _copy(tmp_path)
    _edit(ref_dir / "fiches-axe1.yaml", "1.2", lambda f: f.update(id="1.1"))
    problems = _problems(ref_dir)
    assert any("fiches-axe1.yaml : fiche 1.1 : champ 'id' : identifiant en double" in p for p in problems), problems


def test_unknown_indicator_kind_is_rejected_with_a_suggestion(tmp_path):
    ref_dir = _copy(tmp_path)
    _edit(ref_dir / "fiches-axe2.yaml", "2.5", lambda f: f["indicateurs"][0].update(type="comptag"))
    problems = _problems(ref_dir)
    assert any(p.startswith("fiches-axe2.yaml : fiche 2.5, indicateur 2.5.1 : champ 'type' : valeur 'comptag' inconnue")
               and "Vouliez-vous dire 'comptage' ?" in p for p in problems), problems


def test_target_without_deadline_is_rejected(tmp_path):
    ref_dir = _copy(tmp_path)
    _edit(ref_dir / "fiches-axe2.yaml", "2.5", lambda f: f["cibles"][0].pop("echeance"))
    problems = _problems(ref_dir)
    assert any("fiche 2.5, cible" in p and "champ 'echeance'" in p for p in problems), problems


def test_unknown_origin_or_reading_is_rejected_with_a_suggestion(tmp_path):
    ref_dir = _copy(tmp_path)

    def spoil(f):
        f["indicateurs"][0]["origine"] = "ajoute"
        f["cibles"][0]["lecture"] = "fourchete"
        f["jalons"][0]["origine"] = "inconnue"
        f["etat_des_lieux"][0]["date_precisee"] = "non"

    _edit(ref_dir / "fiches-axe2.yaml", "2.5", spoil)
    problems = _problems(ref_dir)
    assert any(p.startswith("fiches-axe2.yaml : fiche 2.5, indicateur 2.5.1 : champ 'origine' : "
                            "valeur 'ajoute' inconnue ; valeurs admises : plan, ajout, deduit.")
               and "Vouliez-vous dire 'ajout' ?" in p for p in problems), problems
    assert any("fiche 2.5, cible" in p and "champ 'lecture'" in p and "'fourchette'" in p
               for p in problems), problems
    assert any("fiche 2.5, jalon '2.5.J1' : champ 'origine'" in p for p in problems), problems
    assert any("fiche 2.5, état des lieux" in p and "champ 'date_precisee' : attendu true ou false"
               in p for p in problems), problems


def test_a_plan_figure_needs_its_fields(tmp_path):
    ref_dir = _copy(tmp_path)
    plan = yaml.safe_load((ref_dir / "plan.yaml").read_text(encoding="utf-8"))
    plan["chiffres_plan"].append({"libelle": "Chiffre sans valeur", "unite": "faits", "annee": 2018})
    (ref_dir / "plan.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    problems = _problems(ref_dir)
    assert any(p.startswith("plan.yaml : chiffre du plan 'Chiffre sans valeur' : champ 'valeur'")
               for p in problems), problems


def test_reference_to_a_missing_fiche_is_rejected(tmp_path):
    ref_dir = _copy(tmp_path)
    _edit(ref_dir / "fiches-axe4.yaml", "4.3", lambda f: f.update(liens=["1.1", "9.9"]))
    problems = _problems(ref_dir)
    assert "fiches-axe4.yaml : fiche 4.3 : champ 'liens' : renvoi à la fiche '9.9' qui n'existe pas." in problems


def test_unquoted_numeric_id_is_rejected(tmp_path):
    ref_dir = _copy(tmp_path)
    path = ref_dir / "fiches-axe2.yaml"
    text = path.read_text(encoding="utf-8").replace('- id: "2.10"\n', "- id: 2.10\n", 1)
    path.write_text(text, encoding="utf-8")
    problems = _problems(ref_dir)
    assert any("doit être écrit entre guillemets" in p for p in problems), problems


def test_all_problems_are_reported_at_once(tmp_path):
    ref_dir = _copy(tmp_path)
    _edit(ref_dir / "fiches-axe1.yaml", "1.1", lambda f: f.update(nature="peut-être"))
    _edit(ref_dir / "fiches-axe3.yaml", "3.1", lambda f: f["frequence"].update(code="mensuelle"))
    problems = _problems(ref_dir)
    assert any("fiche 1.1 : champ 'nature'" in p for p in problems)
    assert any("fiche 3.1 : champ 'code'" in p for p in problems)


def test_cli_reports_a_broken_referential_with_exit_1(tmp_path, capsys):
    ref_dir = _copy(tmp_path)
    _edit(ref_dir / "fiches-axe4.yaml", "4.3", lambda f: f.update(liens=["9.9"]))
    assert cli.main(["referentiel", "--referentiel", str(ref_dir)]) == 1
    assert "renvoi à la fiche '9.9'" in capsys.readouterr().err


def test_a_second_plan_edition_loads_from_another_folder(tmp_path):
    ref_dir = _copy(tmp_path)
    plan = yaml.safe_load((ref_dir / "plan.yaml").read_text(encoding="utf-8"))
    plan["plan"]["annee_fin"] = 2023
    (ref_dir / "plan.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    extra = [{
        "id": "4.11", "axe": "4", "titre": "Nouvelle fiche ajoutée par le comité", "objectif": "Tester",
        "nature": "nouvelle", "pilotes": ["Préfecture"], "pilote_court": "Préfecture",
        "partenaires": [], "territoire": "Départemental",
        "frequence": {"code": "annuelle", "libelle": "Annuelle"},
        "indicateurs": [{"id": "4.11.1", "libelle": "Nombre de réunions", "type": "comptage",
                         "unite": "réunions"}],
    }]
    (ref_dir / "fiches-zz-amendements.yaml").write_text(yaml.safe_dump(extra, allow_unicode=True), encoding="utf-8")
    ref2 = load_referential(ref_dir)
    assert len(ref2.fiches) == 37 and ref2.fiche_ids[-1] == "4.11"
    assert ref2.plan.years == [2019, 2020, 2021, 2022, 2023]


def _edit_plan(folder: Path, fn) -> None:
    path = folder / "plan.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(doc["plan"])
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_missing_or_unreadable_plan_years_are_listed_in_french(tmp_path):
    ref_dir = _copy(tmp_path)
    _edit_plan(ref_dir, lambda p: (p.pop("annee_debut"), p.update(annee_fin="vingt")))
    assert _problems(ref_dir) == [
        "plan.yaml : plan : champ 'annee_debut' : année obligatoire et absente (ex. 2019).",
        "plan.yaml : plan : champ 'annee_fin' : attendu une année (ex. 2019), trouvé 'vingt'.",
    ]


def test_vocabularies_compare_equal_to_the_yaml_strings(ref):
    from plancadre_eval.referential import LEVELS, IndicatorType

    assert IndicatorType.A_DETERMINER == "a_determiner" and "compagnie_gendarmerie" in LEVELS
    assert {i.type for i in ref.indicators()} <= set(IndicatorType)


def test_coerce_year_is_the_one_year_reading():
    from plancadre_eval.referential import coerce_year

    assert [coerce_year(v) for v in (2021, 2021.0, "2021", " 2021.0")] == [2021] * 4
    for bad in (True, 2021.5, "deux mille", None):
        with pytest.raises(ValueError):
            coerce_year(bad)

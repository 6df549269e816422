"""plancadre_eval.runner: schedule, validation before any kernel, cache, failure isolation, atomic writes,
determinism, manifest, indexes, Dask, command line.

A small project is built in a temporary folder: a referential of four fiches (1.1 and 2.10
annual, 1.2 triennial — due in 2019 and 2022 only —, 4.5 annual with a public indicator, so the
diagnostic is due), one collection file per fiche, one public data file, and the fixture notebooks
of ``tests/fixtures/notebooks`` (same parameters as the real ones; the fiche notebook fails when its
data file has a row commented ``ECHEC``).

Most tests replace kernel execution by :func:`fake_page` (same inputs, deterministic HTML) so that
the runner's logic is tested in milliseconds; the tests marked ``slow`` execute the fixture
notebooks for real (one or two kernels each).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import hashlib
import json
import re
import shutil
import time
from html import unescape
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from plancadre_eval import runner
from plancadre_eval.parameters import InputError, UsageError, resolve_params
from plancadre_eval.referential import load_referential
from plancadre_eval.runner import RunHooks
from plancadre_eval.runner.constants import CACHE_RENDERED, CACHE_REUSED, STATUS_FAILED, STATUS_OK
from plancadre_eval.runner.page import PageResult, PageTask, execute_page
from plancadre_eval.runner.planning import (
    cache_reasons, expects_rendering, notebook_parameters, plan_year,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "notebooks"
NOTEBOOKS = {"fiche": FIXTURES / "evaluation_fiche.ipynb",
             "synthese": FIXTURES / "synthese_annuelle.ipynb",
             "diagnostic": FIXTURES / "diagnostic_departemental.ipynb"}
HEADER = "fiche;indicateur;annee;territoire;valeur;source;commentaire\n"
VALUES = {"1.1": 3, "1.2": 4, "2.10": 5, "4.5": 6}
ALL_PAGES = ["fiche-1.1", "fiche-2.10", "fiche-4.5", "synthese", "diagnostic"]


# --- the small project ------------------------------------------------------------------------

def _fiche(fid: str, axe: str, freq: str = "annuelle", public: bool = False) -> dict:
    inds = [{"id": f"{fid}.1", "libelle": f"Indicateur {fid}.1", "type": "comptage",
             "unite": "personnes", "niveau": "departement"}]
    if public:  # a second indicator, computed from public statistics (never collected)
        inds.append({"id": f"{fid}.2", "libelle": f"Indicateur public {fid}.2", "type": "comptage",
                     "unite": "faits", "niveau": "departement", "source": "public",
                     "serie": "etat4001_cbv"})
    return {"id": fid, "axe": axe, "titre": f"Fiche de test {fid}", "objectif": "Tester le runner",
            "nature": "nouvelle", "pilotes": ["Préfecture"], "pilote_court": "PREF",
            "partenaires": ["Associations"], "territoire": "Départemental",
            "frequence": {"code": freq, "libelle": freq}, "indicateurs": inds}


def make_project(root: Path) -> Path:
    """Referential in ``ref/``, collection files in ``data/``, public file in ``public/``."""
    (root / "ref").mkdir(parents=True)
    (root / "ref" / "plan.yaml").write_text(yaml.safe_dump({
        "plan": {"id": "plan-test", "titre": "Plan de test", "departement": "62",
                 "annee_debut": 2019, "annee_fin": 2022, "annee_reference": 2018},
        "axes": [{"id": "1", "titre": "Premier axe"}, {"id": "2", "titre": "Deuxième axe"},
                 {"id": "4", "titre": "Quatrième axe"}],
        "structures": []}, allow_unicode=True), encoding="utf-8")
    (root / "ref" / "fiches-axe1.yaml").write_text(yaml.safe_dump(
        [_fiche("1.1", "1"), _fiche("1.2", "1", "triennale"), _fiche("2.10", "2"),
         _fiche("4.5", "4", public=True)], allow_unicode=True, sort_keys=False), encoding="utf-8")
    (root / "data").mkdir()
    for fid, value in VALUES.items():
        write_data(root, fid, value)
    (root / "public").mkdir()
    (root / "public" / "serie.csv").write_text("annee;valeur\n2021;10\n", encoding="utf-8")
    # imported by the fixture notebook for fiches 1.1 and 4.5: an import-time side effect
    (root / "effet_a_l_import.py").write_text('import matplotlib\nmatplotlib.use("Agg")\n',
                                              encoding="utf-8")
    return root


def write_data(root: Path, fid: str, value, comment: str = "", folder: str = "data") -> None:
    (root / folder / f"fiche-{fid}.csv").write_text(
        HEADER + f"{fid};{fid}.1;2021;62;{value};test;{comment}\n", encoding="utf-8")


def light_validator(data_dir: Path, referential) -> dict[str, list[str]]:
    """Stands for collection.load_collection: which fiches each file holds rows for."""
    out = {}
    for f in sorted(Path(data_dir).glob("*.csv")):
        rows = list(csv.DictReader(f.open(encoding="utf-8"), delimiter=";"))
        out[f.name] = sorted({r["fiche"] for r in rows})
    return out


def make_sources(root: Path):
    def sources() -> list[dict[str, str]]:
        f = root / "public" / "serie.csv"
        return [{"libelle": "Série publique de test", "edition": "édition 2024",
                 "licence": "Licence Ouverte", "origine": "test", "fichier": "public/serie.csv",
                 "nature": "public",
                 "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}]
    return sources


def fake_indicators(plan, tmp: Path):
    f = tmp / "indicateurs.csv"
    f.write_text("fiche;valeur\n" + "".join(f"{fid};1\n" for fid in plan.due), encoding="utf-8")
    return [f], {fid: "en cours" for fid in plan.due}


def fake_page(task: PageTask) -> PageResult:
    """Same contract as runner.page.execute_page, without a kernel: the page shows its parameters; a
    fiche whose data file has an ``ECHEC`` row fails like the fixture notebook."""
    data = Path(task.root) / str(task.parameters.get("data_dir", "")) / f"fiche-{task.fiche}.csv"
    if task.kind == "fiche" and data.exists() and "ECHEC" in data.read_text(encoding="utf-8"):
        return PageResult(year=task.year, name=task.name, status=STATUS_FAILED, html=None,
                          notebook_json='{"echec": true}', duration=0.01,
                          error={"ename": "ValueError", "evalue": f"Donnée invalide dans {data.name}",
                                 "cellule": 3, "execution": 2})
    content = data.read_text(encoding="utf-8") if data.exists() else ""
    html = (f'<!DOCTYPE html>\n<html lang="fr"><head><meta charset="utf-8"><title>{task.title}</title>'
            f"</head><body><main><h1>{task.name}</h1><p>{sorted(task.parameters.items())}</p>"
            f"<pre>{content}</pre></main></body></html>\n")
    return PageResult(year=task.year, name=task.name, status=STATUS_OK, html=html,
                      notebook_json='{"ok": true}', error=None, duration=0.01)


class Project:
    def __init__(self, root: Path):
        self.root = root
        self.out = root / "outputs"
        self.params = {"year": 2021, "data_dir": "data", "referentiel": "ref", "secret_threshold": 5}

    @property
    def referential(self):
        return load_referential(self.root / "ref")

    @property
    def year_dir(self) -> Path:
        return self.out / "2021"

    def manifest(self) -> dict:
        return json.loads((self.year_dir / "manifest.json").read_text(encoding="utf-8"))

    def options(self, **kw) -> dict:
        """Keyword arguments of run_years; the hooks' names (``page_function=``...) go into
        ``hooks``."""
        hooks = dict(lib_hash="bibliotheque-1", validator=light_validator,
                     indicators_writer=fake_indicators, sources=make_sources(self.root),
                     page_function=fake_page)
        hooks.update({k: kw.pop(k) for k in list(kw) if k in RunHooks.__dataclass_fields__})
        opts = dict(referential=self.referential, notebooks=NOTEBOOKS, out_dir=self.out, jobs=1,
                    quiet=True, root=self.root, warm_modules=("matplotlib.pyplot",),
                    hooks=RunHooks(**hooks))
        opts.update(kw)
        return opts

    def run(self, year: int = 2021, params: dict | None = None, **kw) -> runner.RunResult:
        p = dict(params or self.params, year=year)
        return runner.run_years([(year, p)], **self.options(**kw))

    def plan(self, year: int = 2021, params: dict | None = None, **kw) -> runner.YearPlan:
        opts = self.options(**kw)
        return plan_year(year, params=dict(params or self.params, year=year),
                                referential=opts["referential"], notebooks=opts["notebooks"],
                                out_dir=self.out, fiches=kw.get("fiches"), force=kw.get("force", False),
                                lib_hash=opts["hooks"].lib_hash, validator=light_validator,
                                root=self.root, sources=opts["hooks"].sources)

    def html(self, name: str) -> bytes:
        return (self.year_dir / f"{name}.html").read_bytes()


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(make_project(tmp_path / "projet"))


def by_name(result: runner.RunResult) -> dict[str, runner.PageRecord]:
    return {r.name: r for r in result.records}


def rendered(result: runner.RunResult) -> list[str]:
    return sorted(r.name for r in result.records if r.cache == CACHE_RENDERED
                  and r.kind not in ("index", "indicateurs"))


# --- notebooks' parameters ----------------------------------------------------------------------

def test_notebook_parameters_are_read_from_the_parameters_cell():
    assert notebook_parameters(NOTEBOOKS["fiche"]) == {
        "fiche_id": "1.1", "year": 2021, "data_dir": "data/demo",
        "referentiel": "data/referentiel/plan-cadre-2019-2022", "secret_threshold": 5}
    assert set(notebook_parameters(NOTEBOOKS["diagnostic"])) == {"year", "referentiel"}


def test_resolve_params_refuses_undeclared_keys_and_fiche_id(project):
    declared = {"fiche_id", "year", "data_dir", "referentiel", "secret_threshold"}
    with pytest.raises(UsageError, match=r"'seuil'.*paramètres déclarés par les notebooks : data_dir"):
        resolve_params({"seuil": 3}, year=2021, declared=declared, source="params/2021.yaml",
                              root=project.root)
    with pytest.raises(UsageError, match="--fiche"):
        resolve_params({"fiche_id": "2.10"}, year=2021, declared=declared, source="p.yaml",
                              root=project.root)
    with pytest.raises(UsageError, match="year: 2020, différent de --year 2021"):
        resolve_params({"year": 2020}, year=2021, declared=declared, source="p.yaml",
                              root=project.root)
    with pytest.raises(InputError, match="secret_threshold"):
        resolve_params({"secret_threshold": "cinq"}, year=2021, declared=declared,
                              source="p.yaml", root=project.root)


def test_resolve_params_makes_paths_relative_to_the_project(project, monkeypatch):
    declared = {"year", "data_dir", "referentiel", "secret_threshold"}
    monkeypatch.chdir(project.root / "data")
    params = resolve_params({"data_dir": "ailleurs", "referentiel": "ref"}, year=2021,
                                   declared=declared, source="p.yaml", data=".",
                                   root=project.root)
    assert params == {"data_dir": "data", "referentiel": "ref", "year": 2021}


# --- schedule and usage errors ------------------------------------------------------------------

def test_pages_follow_the_schedule(project):
    plan = project.plan(2021)
    assert plan.due == ["1.1", "2.10", "4.5"]  # 1.2 is triennial: 2019 and 2022
    assert [p.name for p in plan.pages] == ALL_PAGES
    plan_2019 = project.plan(2019)
    assert [p.name for p in plan_2019.pages] == ["fiche-1.1", "fiche-1.2", "fiche-2.10", "fiche-4.5",
                                                 "synthese", "diagnostic"]


def test_fiche_selection(project):
    plan = project.plan(2021, fiches=["2.10"])
    assert [p.name for p in plan.pages] == ["fiche-2.10", "synthese"]  # no 4.5, no diagnostic
    plan = project.plan(2021, fiches=["1.2", "1.1"])
    assert [p.name for p in plan.pages] == ["fiche-1.1", "fiche-1.2", "synthese"]
    assert "1.2" in plan.notes[0] and "non prévue" in plan.notes[0]


def test_page_parameters_are_only_those_each_notebook_declares(project):
    pages = {p.name: p for p in project.plan(2021).pages}
    assert pages["fiche-2.10"].parameters == {"year": 2021, "data_dir": "data", "referentiel": "ref",
                                              "secret_threshold": 5, "fiche_id": "2.10"}
    assert isinstance(pages["fiche-2.10"].parameters["fiche_id"], str)
    assert pages["diagnostic"].parameters == {"year": 2021, "referentiel": "ref"}


def test_unknown_fiche_and_year_outside_the_plan_are_usage_errors(project):
    with pytest.raises(UsageError, match=r"9\.9.*Fiches du plan : 1\.1, 1\.2, 2\.10, 4\.5"):
        project.plan(2021, fiches=["9.9"])
    with pytest.raises(UsageError, match="Années valides : 2019, 2020, 2021, 2022"):
        project.plan(2030)


def test_invalid_data_stops_the_run_before_any_kernel(project):
    def refusing_validator(data_dir, referential):
        raise InputError(["fiche-2.10.csv:2: colonne 'valeur': « beaucoup » n'est pas un nombre."],
                         title="Données de collecte invalides :")

    class NoExecutor(cf.Executor):
        def submit(self, *a, **k):  # pragma: no cover - must not be reached
            raise AssertionError("un noyau a été démarré malgré des données invalides")

    with pytest.raises(InputError, match="beaucoup"):
        project.run(validator=refusing_validator, executor=NoExecutor())
    assert not project.year_dir.exists() or not list(project.year_dir.glob("*.html"))


def test_plausibility_warnings_are_printed_before_the_run(tmp_path, capsys):
    """The real validation returns the check's warning lines; the run prints them (notes) before
    rendering, and keeps them in the manifest's validation entry."""
    from plancadre_eval.referential import load_referential
    from plancadre_eval.runner import planning

    (tmp_path / "fiche-2.6.csv").write_text(HEADER + "2.6;2.6.6;2021;62;16;DDETS;\n",
                                            encoding="utf-8")
    warnings: list[str] = []
    mapping = planning.validate_collection(tmp_path, load_referential(), warnings)
    assert mapping == planning.CollectionCheck({"fiche-2.6.csv": ["2.6"]})
    assert len(warnings) == 1 and warnings[0].startswith(
        f"{tmp_path / 'fiche-2.6.csv'}:2: avertissement : '2.6.6' vaut 16 arrondissements")
    _, _, entry = planning._validate_inputs(tmp_path, load_referential(), {"f": "x"}, "r", "l",
                                            {}, None, tmp_path, lambda: [])
    assert entry["avertissements"] == warnings


def test_missing_data_folder_is_an_input_error(project):
    with pytest.raises(InputError, match="data_dir 'absent'"):
        project.run(params=dict(project.params, data_dir="absent"))


# --- cache -------------------------------------------------------------------------------------

INPUTS = {"notebook": "n1", "parametres": {"year": 2021, "fiche_id": "2.10"}, "referentiel": "r1",
          "bibliotheque": "b1", "donnees": {"fiche-2.10.csv": "d1", "data/public/x.csv": "p1"}}
PREVIOUS = {"statut": STATUS_OK, "entrees": INPUTS}


@pytest.mark.parametrize("change, expected", [
    ({}, []),
    ({"notebook": "n2"}, ["notebook modifié"]),
    ({"parametres": {"year": 2021, "fiche_id": "2.10", "secret_threshold": 3}}, ["paramètres modifiés"]),
    ({"referentiel": "r2"}, ["référentiel modifié"]),
    ({"bibliotheque": "b2"}, ["bibliothèque modifiée"]),
    ({"donnees": {"fiche-2.10.csv": "d2", "data/public/x.csv": "p1"}}, ["données modifiées : fiche-2.10.csv"]),
    ({"donnees": {"fiche-2.10.csv": "d1"}}, ["données modifiées : x.csv"]),
    ({"notebook": "n2", "bibliotheque": "b2"}, ["notebook modifié", "bibliothèque modifiée"]),
])
def test_cache_reasons(change, expected):
    assert cache_reasons(PREVIOUS, {**INPUTS, **change}, page_exists=True) == expected


def test_cache_reasons_missing_page_failure_and_force():
    assert cache_reasons(None, INPUTS, page_exists=False) == ["page absente"]
    assert cache_reasons(PREVIOUS, INPUTS, page_exists=False) == ["page absente"]
    assert cache_reasons({**PREVIOUS, "statut": STATUS_FAILED}, INPUTS, page_exists=True) == ["échec précédent"]
    assert cache_reasons(PREVIOUS, INPUTS, page_exists=True, force=True) == ["--force"]


files = st.dictionaries(st.sampled_from([f"fiche-{i}.csv" for i in range(8)]),
                        st.sampled_from(["a", "b", "c"]), max_size=8)


@given(before=files, after=files)
@settings(max_examples=200)
def test_cache_reasons_name_exactly_the_changed_files(before, after):
    reasons = cache_reasons({"statut": STATUS_OK, "entrees": {**INPUTS, "donnees": before}},
                            {**INPUTS, "donnees": after}, page_exists=True)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    if not changed:
        assert reasons == []
    else:
        assert len(reasons) == 1 and reasons[0].startswith("données modifiées : ")
        named = reasons[0].split(" : ", 1)[1].split(" (+")[0].split(", ")
        assert named == sorted(changed)[:5]


def test_first_run_renders_everything_then_reuses_everything(project):
    first = project.run()
    assert first.exit_code == 0
    assert rendered(first) == sorted(ALL_PAGES)
    assert {r.reason for r in first.records if r.name in ALL_PAGES} == {"page absente"}
    second = project.run()
    recs = by_name(second)
    assert second.exit_code == 0 and rendered(second) == []
    assert all(recs[n].cache == CACHE_REUSED for n in ALL_PAGES + ["indicateurs", "index"])


def test_each_kind_of_change_re_renders_exactly_the_pages_that_read_it(project):
    project.run()

    def reasons(**kw) -> dict[str, list[str]]:
        return {p.name: p.reasons for p in project.plan(**kw).pages if p.reasons}

    assert reasons() == {}
    # one collection file: its fiche and the synthesis
    write_data(project.root, "2.10", 50)
    assert reasons() == {"fiche-2.10": ["données modifiées : fiche-2.10.csv"],
                         "synthese": ["données modifiées : fiche-2.10.csv"]}
    write_data(project.root, "2.10", VALUES["2.10"])
    assert reasons() == {}
    # a collection file of a fiche not due this year: the synthesis only
    write_data(project.root, "1.2", 40)
    assert reasons() == {"synthese": ["données modifiées : fiche-1.2.csv"]}
    write_data(project.root, "1.2", VALUES["1.2"])
    # public data: the fiche with a public indicator, the diagnostic, the synthesis
    (project.root / "public" / "serie.csv").write_text("annee;valeur\n2021;11\n", encoding="utf-8")
    assert reasons() == {n: ["données modifiées : serie.csv"] for n in ("fiche-4.5", "synthese", "diagnostic")}
    (project.root / "public" / "serie.csv").write_text("annee;valeur\n2021;10\n", encoding="utf-8")
    # parameters: every page that declares the changed one (not the diagnostic)
    assert reasons(params=dict(project.params, secret_threshold=3)) == {
        n: ["paramètres modifiés"] for n in ALL_PAGES if n != "diagnostic"}
    # referential, library, --force: everything
    assert reasons(lib_hash="bibliotheque-2") == {n: ["bibliothèque modifiée"] for n in ALL_PAGES}
    assert reasons(force=True) == {n: ["--force"] for n in ALL_PAGES}
    ref_file = project.root / "ref" / "fiches-axe1.yaml"
    ref_file.write_text(ref_file.read_text(encoding="utf-8") + "# commentaire\n", encoding="utf-8")
    assert reasons() == {n: ["référentiel modifié"] for n in ALL_PAGES}


def test_notebook_change_re_renders_its_pages_only(project, tmp_path):
    project.run()
    changed = tmp_path / "evaluation_fiche.ipynb"
    nb = json.loads(NOTEBOOKS["fiche"].read_text(encoding="utf-8"))
    nb["cells"].append({"cell_type": "markdown", "id": "nouvelle", "metadata": {}, "source": "Ajout."})
    changed.write_text(json.dumps(nb), encoding="utf-8")
    result = project.run(notebooks={**NOTEBOOKS, "fiche": changed})
    assert rendered(result) == ["fiche-1.1", "fiche-2.10", "fiche-4.5"]
    assert {by_name(result)[n].reason for n in rendered(result)} == {"notebook modifié"}


def test_deleted_page_is_rendered_again(project):
    project.run()
    (project.year_dir / "fiche-1.1.html").unlink()
    result = project.run()
    assert rendered(result) == ["fiche-1.1"]
    assert by_name(result)["fiche-1.1"].reason == "page absente"


def test_kernels_are_started_early_only_when_pages_will_be_rendered(project):
    def guess(**kw):
        opts = dict(force=False, lib_hash="bibliotheque-1")
        opts.update(kw)
        return expects_rendering([2021], project.out, **opts)

    assert guess() and guess(force=True)  # never rendered into this folder
    project.run()
    assert not guess()  # rendered by this library: planning decides, no kernel before it
    assert guess(force=True)
    assert guess(lib_hash="bibliotheque-2")  # another library: every page again
    assert not guess(fiches=["2.10"])
    (project.year_dir / "fiche-2.10.html").unlink()
    assert guess(fiches=["2.10"]) and not guess(fiches=["1.1"])


def test_validation_is_cached_by_file_hashes(project):
    calls = []

    def counting(data_dir, referential):
        calls.append(data_dir)
        return light_validator(data_dir, referential)

    project.run(validator=counting)
    project.run(validator=counting)
    assert len(calls) == 1
    write_data(project.root, "1.1", 30)
    project.run(validator=counting)
    assert len(calls) == 2


# --- failures, atomicity -----------------------------------------------------------------------

def test_a_failing_page_never_stops_the_others_nor_replaces_the_good_page(project):
    project.run()
    good_html = project.html("fiche-2.10")
    good_nb = (project.year_dir / "fiche-2.10.ipynb").read_bytes()
    write_data(project.root, "2.10", 5, comment="ECHEC volontaire")
    result = project.run()
    recs = by_name(result)
    assert result.exit_code == 1
    assert recs["fiche-2.10"].status == STATUS_FAILED
    assert recs["synthese"].status == STATUS_OK and recs["synthese"].cache == CACHE_RENDERED
    assert recs["fiche-1.1"].cache == CACHE_REUSED
    # the previous good page and notebook are untouched; the failed notebook is kept beside them
    assert project.html("fiche-2.10") == good_html
    assert (project.year_dir / "fiche-2.10.ipynb").read_bytes() == good_nb
    assert (project.year_dir / "fiche-2.10.echec.ipynb").exists()
    entry = project.manifest()["pages"]["fiche-2.10"]
    assert entry["statut"] == "échec"
    assert entry["erreur"] == {"ename": "ValueError", "evalue": "Donnée invalide dans fiche-2.10.csv",
                               "cellule": 3, "execution": 2}
    index = (project.year_dir / "index.html").read_text(encoding="utf-8")
    assert 'href="fiche-2.10.echec.ipynb"' in index
    assert "ValueError : Donnée invalide dans fiche-2.10.csv" in index
    # next run: the failed page is tried again even though nothing changed
    again = project.run()
    assert by_name(again)["fiche-2.10"].reason == "échec précédent"
    # fixed data: rendered, the failed notebook is removed
    write_data(project.root, "2.10", 7)
    fixed = project.run()
    assert fixed.exit_code == 0
    assert not (project.year_dir / "fiche-2.10.echec.ipynb").exists()
    assert b"2.10.1;2021;62;7" in project.html("fiche-2.10")


def test_a_crashing_worker_is_recorded_as_a_failure(project):
    def crashing(task):
        if task.name == "synthese":
            raise RuntimeError("worker perdu")
        return fake_page(task)

    result = project.run(page_function=crashing)
    recs = by_name(result)
    assert result.exit_code == 1
    assert recs["synthese"].error["ename"] == "RuntimeError"
    assert all(recs[n].status == STATUS_OK for n in ALL_PAGES if n != "synthese")


def test_an_interrupted_run_leaves_previous_pages_intact(project):
    project.run()
    before = {p.name: p.read_bytes() for p in project.year_dir.glob("*.html")}

    def interrupted(task):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        project.run(page_function=interrupted, force=True, executor=_InlineExecutor())
    after = {p.name: p.read_bytes() for p in project.year_dir.glob("*.html")}
    assert after == before
    assert not [p for p in project.year_dir.iterdir() if p.name.endswith(".tmp")]


class _InlineExecutor(cf.Executor):
    """Runs submitted calls at once in the calling thread (exceptions other than Exception
    propagate, like an interruption)."""

    def submit(self, fn, *args, **kwargs):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:
            fut.set_exception(exc)
        return fut


# --- manifest, indexes, determinism ---------------------------------------------------------------

def test_manifest_records_status_cache_reason_and_input_hashes(project):
    project.run()
    write_data(project.root, "1.1", 9)
    project.run()
    m = project.manifest()
    assert m["annee"] == 2021 and re.match(r"\d{4}-\d\d-\d\dT", m["date_execution"])
    page = m["pages"]["fiche-1.1"]
    assert page["statut"] == "ok" and page["cache"] == "re-rendu"
    assert page["raison"] == "données modifiées : fiche-1.1.csv"
    inputs = page["entrees"]
    assert inputs["donnees"] == {"fiche-1.1.csv": hashlib.sha256(
        (project.root / "data" / "fiche-1.1.csv").read_bytes()).hexdigest()}
    assert inputs["bibliotheque"] == "bibliotheque-1"
    assert inputs["parametres"]["fiche_id"] == "1.1"
    assert m["pages"]["fiche-2.10"]["cache"] == "réutilisé"
    assert set(m["pages"]["fiche-4.5"]["entrees"]["donnees"]) == {"fiche-4.5.csv", "public/serie.csv"}
    assert m["donnees"]["dossier"] == "data"


def test_year_index_groups_fiches_by_axe_and_lists_the_data(project):
    project.run()
    index = (project.year_dir / "index.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in index
    for axe in ("Axe 1 — Premier axe", "Axe 2 — Deuxième axe", "Axe 4 — Quatrième axe"):
        assert axe in index
    assert index.index("Axe 1") < index.index('href="fiche-1.1.html"') < index.index("Axe 2") \
        < index.index('href="fiche-2.10.html"')
    assert "Fiche 1.2" not in index and "fiche-1.2.html" not in index  # not due in 2021
    assert 'href="synthese.html"' in index and 'href="diagnostic.html"' in index
    assert 'href="indicateurs.csv"' in index
    assert "en cours" in index  # the fiche status from the indicators step
    sha = hashlib.sha256((project.root / "data" / "fiche-2.10.csv").read_bytes()).hexdigest()
    assert "data/fiche-2.10.csv" in index and sha in index
    assert "Série publique de test" in index and "édition 2024" in index
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", index)  # no run date
    assert str(project.root) not in index  # no absolute path
    top = (project.out / "index.html").read_text(encoding="utf-8")
    assert 'href="2021/index.html"' in top


def test_index_shows_no_absolute_path_for_data_outside_the_project(project, tmp_path):
    outside = tmp_path / "collecte-2021"
    shutil.copytree(project.root / "data", outside)
    result = project.run(params=dict(project.params, data_dir=str(outside)))
    assert result.exit_code == 0
    index = (project.year_dir / "index.html").read_text(encoding="utf-8")
    assert str(tmp_path) not in index
    assert "<code>collecte-2021/fiche-2.10.csv</code>" in index


def test_index_and_pages_are_identical_from_one_run_to_the_next(project):
    project.run()
    first = {p.name: p.read_bytes() for p in project.year_dir.glob("*.html")}
    project.run(force=True)
    second = {p.name: p.read_bytes() for p in project.year_dir.glob("*.html")}
    assert first == second and len(first) == 7  # 5 pages, the year's index and dossier.html
    assert "dossier.html" in first


def test_summary_table(project):
    result = project.run()
    text = runner.format_summary(result.records)
    lines = text.splitlines()
    assert lines[0].split() == ["page", "statut", "cache", "durée", "raison"]
    assert re.search(r"^fiche-2\.10\s+ok\s+re-rendu\s+\d+\.\d s\s+page absente$", text, re.M)
    assert lines[-1] == "6 produite(s), 0 réutilisée(s), 0 échec(s)."


# --- command line (no kernel) --------------------------------------------------------------------

@pytest.fixture
def cli_project(tmp_path, monkeypatch) -> Path:
    """A project root (PLANCADRE_ROOT) with notebooks/, params/, data/demo, the referential, and
    links to the project's public and territory data (read-only)."""
    root = tmp_path / "racine"
    make_project(root)
    # the project's layout: data/demo, data/referentiel/plan-cadre-2019-2022
    (root / "data").rename(root / "demo")
    (root / "data" / "referentiel").mkdir(parents=True)
    (root / "demo").rename(root / "data" / "demo")
    (root / "ref").rename(root / "data" / "referentiel" / "plan-cadre-2019-2022")
    (root / "notebooks").mkdir()
    real = {"fiche": "evaluation_fiche.ipynb", "synthese": "synthese_annuelle.ipynb",
            "diagnostic": "diagnostic_departemental.ipynb"}
    for kind, name in real.items():
        shutil.copy(NOTEBOOKS[kind], root / "notebooks" / name)
    (root / "params").mkdir()
    (root / "params" / "2021.yaml").write_text(
        "year: 2021\ndata_dir: data/demo\nreferentiel: data/referentiel/plan-cadre-2019-2022\n"
        "secret_threshold: 5\n", encoding="utf-8")
    project_data = Path(runner.__file__).resolve().parents[2] / "data"
    for sub in ("public", "territoires"):
        if (project_data / sub).exists():
            (root / "data" / sub).symlink_to(project_data / sub)
    monkeypatch.setenv("PLANCADRE_ROOT", str(root))
    return root


def run_args(**kw) -> argparse.Namespace:
    base = dict(year="2021", fiche=[], params=None, data=None, out=None, jobs=1, force=False,
                quiet=True, scheduler=None, referentiel=None)
    base.update(kw)
    return argparse.Namespace(**base)


def test_cli_usage_errors_exit_2(cli_project, capsys):
    assert runner.command_run(run_args(fiche=["2.1"])) == 2
    err = capsys.readouterr().err
    assert "Fiche(s) inconnue(s) : 2.1. Fiches du plan : 1.1, 1.2, 2.10, 4.5." in err
    assert runner.command_run(run_args(year="2030")) == 2
    assert "Années valides : 2019, 2020, 2021, 2022" in capsys.readouterr().err
    assert runner.command_run(run_args(year="deux-mille")) == 2
    assert runner.command_run(run_args(year="all")) == 2  # params/2019.yaml is missing
    assert "params/2019.yaml" in capsys.readouterr().err.replace(str(cli_project) + "/", "")
    (cli_project / "params" / "2021.yaml").write_text("year: 2021\nseuil: 3\n", encoding="utf-8")
    assert runner.command_run(run_args()) == 2
    assert "'seuil'" in capsys.readouterr().err
    assert not (cli_project / "outputs").exists()


def test_cli_a_problem_naming_no_fiche_stops_the_year_with_check_messages(cli_project, capsys):
    # a row whose fiche and indicator are both unknown: no one can say which page it falsifies
    (cli_project / "data" / "demo" / "inconnu.csv").write_text(
        HEADER + "9.9;9.9.1;2021;62;3;test;\n", encoding="utf-8")
    assert runner.command_run(run_args()) == 1
    err = capsys.readouterr().err
    assert "inconnu.csv:2:" in err and "Aucune page produite" in err
    assert not list((cli_project / "outputs").rglob("*.html"))   # rglob of a missing folder: []


@pytest.mark.slow
def test_cli_a_bad_cell_stops_only_its_fiche(cli_project, capsys):
    """Issue 10: one bad cell in fiche 2.10's file: 2.10 is failed with its problem (summary,
    index, manifest), its previous page stays, every other page is produced, exit code 1."""
    year_dir = cli_project / "outputs" / "2021"
    assert runner.command_run(run_args()) == 0
    before = (year_dir / "fiche-2.10.html").read_bytes()
    capsys.readouterr()
    write_data(cli_project, "2.10", "beaucoup", folder="data/demo")
    assert runner.command_run(run_args(quiet=False)) == 1
    out = capsys.readouterr().out
    assert (year_dir / "fiche-2.10.html").read_bytes() == before       # the previous page stays
    assert re.search(r"\nfiche-2\.10\s+échec .*Données invalides : \S*fiche-2\.10\.csv:2: ", out)
    manifest = json.loads((year_dir / "manifest.json").read_text(encoding="utf-8"))
    page = manifest["pages"]["fiche-2.10"]
    assert page["statut"] == "échec" and page["erreur"]["ename"] == "Données invalides"
    [line] = page["erreur"]["problemes"]
    assert "fiche-2.10.csv:2: colonne 'valeur'" in line and "beaucoup" in line
    assert line.startswith("data/demo/fiche-2.10.csv:2:")
    assert list(manifest["validation"]["fiches_exclues"]) == ["2.10"]
    for name in ("fiche-1.1", "fiche-4.5", "synthese", "diagnostic"):
        assert manifest["pages"][name]["statut"] == "ok", name
    index = (year_dir / "index.html").read_text(encoding="utf-8")
    assert "fiche-2.10.csv:2: colonne" in unescape(index)
    # (the synthesis notebook here is a fixture: what the real one says is in test_evaluation)
    # the indicators table has no row computed without 2.10's data
    table = (year_dir / "indicateurs.csv").read_text(encoding="utf-8-sig")
    assert "\n2.10;" not in table and "\n1.1;" in table


# --- real kernels ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Project:
    """The small project rendered once for real (one warm kernel, five pages)."""
    proj = Project(make_project(tmp_path_factory.mktemp("execute") / "projet"))
    result = proj.run(page_function=execute_page, jobs=1)
    proj.first_result = result
    proj.first_pages = {p.name: p.read_bytes() for p in proj.year_dir.glob("*.html")}
    return proj


def copy_project(source: Project, tmp_path: Path) -> Project:
    dest = tmp_path / "projet"
    shutil.copytree(source.root, dest, symlinks=True)
    return Project(dest)


@pytest.mark.slow
def test_real_run_renders_every_page(executed):
    result = executed.first_result
    assert result.exit_code == 0, runner.format_summary(result.records)
    assert rendered(result) == sorted(ALL_PAGES)
    for name in ALL_PAGES:
        assert (executed.year_dir / f"{name}.html").exists()
        assert (executed.year_dir / f"{name}.ipynb").exists()


@pytest.mark.slow
def test_real_pages_are_french_code_free_self_contained_with_alt_texts(executed):
    html = executed.first_pages["fiche-2.10.html"].decode("utf-8")
    assert '<html lang="fr">' in html
    assert "<title>Fiche 2.10 — Fiche de test 2.10 — évaluation 2021</title>" in html
    assert "<h2>Fiche 2.10 (2021)</h2>" in html and "total 5" in html
    for absent in ("import ", "fiche_id", "AVERTISSEMENT-DE-TEST", "CELLULE-A-RETIRER",
                   "SORTIE-A-RETIRER", "<script", "<link", "In&nbsp;[", "Warning"):
        assert absent not in html, absent
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert len(imgs) == 2
    assert all('src="data:image/png;base64,' in i for i in imgs)
    assert [re.search(r'alt="([^"]*)"', i).group(1) for i in imgs] == ["Graphique", "Total de la fiche 2.10"]
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert str(executed.root) not in html


@pytest.mark.slow
def test_reused_kernel_behaves_like_a_fresh_one(executed):
    """One kernel ran fiche-1.1, fiche-2.10, fiche-4.5 in turn. 1.1 and 4.5 import a project module
    that switches matplotlib to Agg (raw figures then show no image): 2.10 must not inherit it, and
    4.5 must get it again (the module is imported afresh, not taken from the previous notebook)."""
    def images(name):
        return len(re.findall(r"<img\b", executed.first_pages[f"{name}.html"].decode("utf-8")))

    assert [images("fiche-1.1"), images("fiche-2.10"), images("fiche-4.5")] == [1, 2, 1]


@pytest.mark.slow
def test_real_executed_notebook_is_kept_without_timestamps(executed):
    nb = json.loads((executed.year_dir / "fiche-2.10.ipynb").read_text(encoding="utf-8"))
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and 'fiche_id = "2.10"' in "".join(injected[0]["source"])
    assert injected[0]["id"] == "parametres-injectes"  # papermill's is random
    text = json.dumps(nb)
    assert "start_time" not in text and "end_time" not in text and "iopub" not in text
    assert nb["metadata"]["papermill"]["input_path"] == "notebooks/evaluation_fiche.ipynb" or \
        nb["metadata"]["papermill"]["input_path"].endswith("evaluation_fiche.ipynb")
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1))  # a reused kernel counts from 1 again


@pytest.mark.slow
def test_real_failure_is_isolated_and_recorded(executed, tmp_path):
    proj = copy_project(executed, tmp_path)
    write_data(proj.root, "2.10", 5, comment="ECHEC volontaire")
    result = proj.run(page_function=execute_page)
    recs = by_name(result)
    assert result.exit_code == 1
    assert rendered(result) == ["fiche-2.10", "synthese"]  # only what reads the changed file
    assert recs["fiche-2.10"].status == STATUS_FAILED and recs["synthese"].status == STATUS_OK
    assert proj.html("fiche-2.10") == executed.first_pages["fiche-2.10.html"]
    error = proj.manifest()["pages"]["fiche-2.10"]["erreur"]
    assert error["ename"] == "ValueError" and error["evalue"] == "Donnée invalide dans fiche-2.10.csv"
    failed_nb = json.loads((proj.year_dir / "fiche-2.10.echec.ipynb").read_text(encoding="utf-8"))
    failing_cell = failed_nb["cells"][error["cellule"]]
    assert "raise ValueError" in "".join(failing_cell["source"])
    assert failing_cell["execution_count"] == error["execution"]


@pytest.mark.slow
def test_fresh_kernels_give_the_same_bytes_as_the_warm_kernel(executed, tmp_path):
    proj = copy_project(executed, tmp_path)
    result = proj.run(page_function=execute_page, force=True, fiches=["4.5"],
                      reuse_kernels=False, jobs=2)
    assert result.exit_code == 0
    assert rendered(result) == ["diagnostic", "fiche-4.5", "synthese"]
    for name in ("fiche-4.5", "synthese", "diagnostic", "fiche-2.10", "index"):
        assert proj.html(name) == executed.first_pages[f"{name}.html"], name
    for name in ("fiche-4.5", "synthese", "diagnostic"):  # the executed notebooks' cells too
        ids = [[c["id"] for c in json.loads((p.year_dir / f"{name}.ipynb").read_text("utf-8"))["cells"]]
               for p in (proj, executed)]
        assert ids[0] == ids[1], name


@pytest.mark.slow
def test_dask_local_cluster_renders_the_same_pages(executed, tmp_path):
    distributed = pytest.importorskip("distributed")
    proj = copy_project(executed, tmp_path)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        result = proj.run(page_function=execute_page, force=True, fiches=["2.10"],
                          scheduler=cluster.scheduler_address)
    assert result.exit_code == 0, runner.format_summary(result.records)
    assert rendered(result) == ["fiche-2.10", "synthese"]
    assert proj.html("fiche-2.10") == executed.first_pages["fiche-2.10.html"]
    assert runner.shutdown_kernels() == 0  # the workers' kernels were shut down


@pytest.mark.slow
def test_warm_run_starts_no_kernel(executed, tmp_path):
    proj = copy_project(executed, tmp_path)

    class NoExecutor(cf.Executor):
        def submit(self, *a, **k):  # pragma: no cover - must not be reached
            raise AssertionError("page re-rendue alors que rien n'a changé")

    result = proj.run(page_function=execute_page, executor=NoExecutor())  # speed: `make bench`
    assert rendered(result) == []


def _kernel_processes() -> list[int]:
    """Pids of this process' children that run a Jupyter kernel."""
    import os

    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"ipykernel" in cmd:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_kernels_started_early_are_taken_by_the_pages(executed, tmp_path, monkeypatch):
    from plancadre_eval.runner import kernels

    proj = copy_project(executed, tmp_path)
    taken = []
    take = kernels._take_prestarted
    monkeypatch.setattr(kernels, "_take_prestarted", lambda task: taken.append(take(task)) or taken[-1])
    result = proj.run(page_function=execute_page, force=True)
    assert all(r.status == STATUS_OK for r in result.records)
    assert len(taken) == 1 and taken[0] is not None  # jobs=1: one kernel, started before planning
    assert {p.name: p.read_bytes() for p in proj.year_dir.glob("*.html")} == executed.first_pages
    assert runner.shutdown_kernels() == 0 and _kernel_processes() == []


@pytest.mark.slow
def test_kernels_started_early_are_stopped_when_the_data_is_refused(executed, tmp_path):
    from plancadre_eval.runner import kernels

    proj = copy_project(executed, tmp_path)

    def refusing_validator(data_dir, referential):
        raise InputError(["fiche-2.10.csv:2: colonne 'valeur': « beaucoup » n'est pas un nombre."],
                         title="Données de collecte invalides :")

    for pause in (0.0, 1.0):  # refused while the kernel starts, then while it imports
        def slow_refusal(data_dir, referential, pause=pause):
            time.sleep(pause)
            refusing_validator(data_dir, referential)

        with pytest.raises(InputError, match="beaucoup"):
            proj.run(page_function=execute_page, force=True, jobs=2, validator=slow_refusal)
        assert kernels._prestarted == [] and runner.shutdown_kernels() == 0
        assert _kernel_processes() == []


@pytest.mark.slow
def test_cli_end_to_end_with_the_real_validation_and_indicator_table(cli_project, capsys):
    """`plancadre-eval run` as a user types it: params/2021.yaml, collection validated by
    collection.load_collection, indicator table by the engine, then a warm run reusing everything."""
    from plancadre_eval.cli import main

    assert main(["run", "--year", "2021", "--fiche", "1.1", "--jobs", "1", "--quiet"]) == 0, \
        capsys.readouterr().err
    year_dir = cli_project / "outputs" / "2021"
    for name in ("fiche-1.1.html", "fiche-1.1.ipynb", "synthese.html", "index.html",
                 "indicateurs.csv", "indicateurs.xlsx", "manifest.json"):
        assert (year_dir / name).exists(), name
    assert (cli_project / "outputs" / "index.html").exists()
    manifest = json.loads((year_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["fichier_parametres"] == "params/2021.yaml"
    assert manifest["parametres"] == {"year": 2021, "data_dir": "data/demo",
                                      "referentiel": "data/referentiel/plan-cadre-2019-2022",
                                      "secret_threshold": 5}
    assert manifest["validation"]["fiches_par_fichier"]["fiche-2.10.csv"] == ["2.10"]
    assert manifest["indicateurs"]["statut"] == "ok"
    assert set(manifest["indicateurs"]["statuts_fiches"]) == {"1.1", "2.10", "4.5"}
    assert not (year_dir / "fiche-2.10.html").exists()  # not asked for
    index = (year_dir / "index.html").read_text(encoding="utf-8")
    assert "non produite" in index  # 2.10 and 4.5 are due but were not asked for
    # the follow-up of the collection, linked from the year's index
    assert 'href="collecte.html"' in index and 'href="relances.csv"' in index
    assert "Suivi de la collecte 2021" in (year_dir / "collecte.html").read_text(encoding="utf-8")
    assert (year_dir / "relances.csv").read_bytes().startswith(b"\xef\xbb\xbfpilote;service;")

    assert main(["run", "--year", "2021", "--fiche", "1.1", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^fiche-1\.1\s+ok\s+réutilisé", out, re.M)
    assert "0 produite(s), 3 réutilisée(s), 0 échec(s)." in out


# --- command-line output: total line, failures, progress -----------------------------------------

def _record(name, status=STATUS_OK, cache=CACHE_RENDERED, kind="fiche", error=None):
    return runner.PageRecord(year=2021, name=name, kind=kind, fiche=None, status=status, cache=cache,
                             reason="", duration=1.0, error=error)


def test_total_line_counts_fiches_out_of_the_plan_and_pages():
    from plancadre_eval.runner.report import format_total

    records = [_record("fiche-2.6"), _record("synthese", cache=CACHE_REUSED, kind="synthese"),
               _record("index", kind="index")]
    assert format_total(records, {2021: 1}, 36, 2.04) == \
        "2021 : 1 fiche sur 36 ; 1 produite(s), 1 réutilisée(s), 0 échec(s) ; 2,0 s."
    assert format_total(records, {2021: 34, 2022: 36}, 36, 10).startswith(
        "2021 : 34 fiches sur 36 ; 2022 : 36 fiches sur 36 ;")
    assert format_total([_record("bilan", cache=CACHE_REUSED, kind="bilan")], {}, 36, 0.9) == \
        "bilan du plan ; 0 produite(s), 1 réutilisée(s), 0 échec(s) ; 0,9 s."


def test_failure_line_is_the_french_sentence_without_traceback():
    from plancadre_eval.runner.report import format_failure

    trap = {"ename": "ParameterError", "evalue": "fiche_id doit être une chaîne de caractères, pas "
            "le nombre 2.1 : papermill convertit « -p fiche_id 2.10 » en 2.1.", "cellule": 4,
            "execution": 3}
    line = format_failure(_record("fiche-2.10", STATUS_FAILED, error=trap))
    assert line == ("échec : 2021/fiche-2.10 (cellule In [3]) : fiche_id doit être une chaîne de "
                    "caractères, pas le nombre 2.1 : papermill convertit « -p fiche_id 2.10 » en 2.1.")
    other = {"ename": "KeyError", "evalue": "'x'", "cellule": None, "execution": None}
    assert format_failure(_record("synthese", STATUS_FAILED, error=other)) == \
        "échec : 2021/synthese : KeyError : 'x'"


class _Stream:
    def __init__(self, tty):
        self.tty, self.text = tty, ""

    def isatty(self):
        return self.tty

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_is_one_line_per_page_when_not_a_terminal():
    stream = _Stream(tty=False)
    bar = runner._progress(2, quiet=False, stream=stream)
    for name in ("fiche-1.1", "synthese"):
        task = PageTask(year=2021, name=name, kind="fiche", fiche=None, notebook="", notebook_display="",
                        parameters={}, title="t", root="", run_token="")
        bar.page_done(task, PageResult(year=2021, name=name, status=STATUS_OK, html="", notebook_json=None,
                                       error=None, duration=1.25))
        bar.running([], {STATUS_OK: 1, STATUS_FAILED: 0})
    bar.close()
    assert stream.text == "[1/2] 2021/fiche-1.1 : ok (1.2 s)\n[2/2] 2021/synthese : ok (1.2 s)\n"
    assert "\r" not in stream.text and "\x1b" not in stream.text
    assert runner._progress(2, quiet=True, stream=stream) is None
    assert type(runner._progress(2, quiet=False, stream=_Stream(tty=True))).__name__ == "_BarProgress"


def test_quiet_run_prints_the_total_and_the_failures_only(cli_project, capsys):
    write_data(cli_project, "2.10", 5, comment="ECHEC", folder="data/demo")
    hooks = RunHooks(page_function=fake_page, indicators_writer=fake_indicators)
    original = runner.run_years
    try:
        runner.run_years = lambda *a, **kw: original(*a, **{**kw, "hooks": hooks})
        assert runner.command_run(run_args(fiche=["1.1", "2.10"], quiet=True)) == 1
    finally:
        runner.run_years = original
    out, err = capsys.readouterr()
    assert out == "2021 : 2 fiches sur 4 ; 4 produite(s), 0 réutilisée(s), 1 échec(s) ; " + \
        out.split(" ; ")[-1]
    assert out.count("\n") == 1
    assert err.strip() == "échec : 2021/fiche-2.10 (cellule In [2]) : ValueError : Donnée invalide " \
                          "dans fiche-2.10.csv"


def test_the_longest_pages_start_first():
    ref = load_referential()
    by_size = sorted(ref.fiche_ids, key=lambda f: -len(ref.fiche(f).indicateurs))
    small, large = by_size[-1], by_size[0]
    assert len(ref.fiche(large).indicateurs) > len(ref.fiche(small).indicateurs)

    def task(name, kind, fiche=None, year=2021):
        return PageTask(year=year, name=name, kind=kind, fiche=fiche, notebook="nb.ipynb",
                        notebook_display="nb.ipynb", parameters={}, title=name, root=".", run_token="t")

    tasks = [task(f"fiche-{small}", "fiche", small), task(f"fiche-{large}", "fiche", large),
             task("synthese", "synthese"), task(f"fiche-{large}", "fiche", large, year=2020),
             task("diagnostic", "diagnostic")]
    order = [(t.year, t.name) for t in runner.longest_first(tasks, ref)]
    assert order == [(2021, "diagnostic"), (2021, "synthese"), (2020, f"fiche-{large}"),
                     (2021, f"fiche-{large}"), (2021, f"fiche-{small}")]


# --- the bilan of the plan ----------------------------------------------------------------------

BILAN_NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "bilan_plan.ipynb"


def test_bilan_period_and_page_name(project):
    from plancadre_eval.runner.bilan import bilan_name, parse_period

    ref = project.referential
    assert parse_period(None, ref) == (2019, 2022) and parse_period("", ref) == (2019, 2022)
    assert parse_period("2019-2020", ref) == (2019, 2020)
    assert bilan_name((2019, 2022), ref) == "bilan"
    assert bilan_name((2019, 2020), ref) == "bilan-2019-2020"
    for bad in ("2019-2030", "2021-2019", "début"):
        with pytest.raises(UsageError, match="--bilan"):
            parse_period(bad, ref)


def test_bilan_rendered_reused_linked_and_kept_when_it_fails(project):
    nbs = dict(NOTEBOOKS, bilan=BILAN_NOTEBOOK)
    started = []

    def recording(task):
        started.append(task.name)
        return fake_page(task)

    result = project.run(year=2022, notebooks=nbs, bilan=(2019, 2022), page_function=recording)
    # started first, with the year's pages (not after them), and linking the year they render
    assert started[0] == "bilan" and len(started) > 1
    rec = by_name(result)["bilan"]
    assert rec.status == STATUS_OK and rec.cache == CACHE_RENDERED
    page = (project.out / "bilan.html").read_text(encoding="utf-8")
    assert "('first_year', 2019)" in page and "('last_year', 2022)" in page
    assert "('data_dir', 'data')" in page  # the last year's parameters
    assert "('linked_years', '2022')" in page  # the fiche pages present in outputs/
    index = (project.out / "index.html").read_text(encoding="utf-8")
    assert 'href="bilan.html"' in index and "Bilan du plan 2019-2022" in index
    assert "Données de démonstration" not in index  # data/ has no DEMONSTRATION marker
    again = project.run(year=2022, notebooks=nbs, bilan=(2019, 2022))
    assert by_name(again)["bilan"].cache == CACHE_REUSED
    write_data(project.root, "1.1", 9)
    assert by_name(project.run(year=2022, notebooks=nbs, bilan=(2019, 2022)))["bilan"].cache == CACHE_RENDERED

    def failing(task):
        if task.kind == "bilan":
            return PageResult(year=task.year, name=task.name, status=STATUS_FAILED, html=None,
                              notebook_json=None, duration=0.0,
                              error={"ename": "ValueError", "evalue": "x", "cellule": 1, "execution": 1})
        return fake_page(task)

    write_data(project.root, "1.1", 10)
    bad = project.run(year=2022, notebooks=nbs, bilan=(2019, 2022), page_function=failing)
    assert by_name(bad)["bilan"].status == STATUS_FAILED and bad.exit_code == 1
    assert (project.out / "bilan.html").read_text(encoding="utf-8") == page  # the last good page stays
    mid = project.run(year=2020, notebooks=nbs, bilan=(2019, 2020))
    assert by_name(mid)["bilan-2019-2020"].status == STATUS_OK
    index = (project.out / "index.html").read_text(encoding="utf-8")
    assert 'href="bilan-2019-2020.html"' in index and "Évaluation intermédiaire 2019-2020" in index
    (project.root / "data" / "DEMONSTRATION").write_text("", encoding="utf-8")
    project.run(year=2020, notebooks=nbs)
    assert "Données de démonstration" in (project.out / "index.html").read_text(encoding="utf-8")


def test_run_renders_the_bilan_when_it_covers_the_last_year_or_on_demand(cli_project, capsys):
    shutil.copy(BILAN_NOTEBOOK, cli_project / "notebooks" / "bilan_plan.ipynb")
    for year in (2020, 2022):
        (cli_project / "params" / f"{year}.yaml").write_text(
            (cli_project / "params" / "2021.yaml").read_text(encoding="utf-8").replace("2021", str(year)),
            encoding="utf-8")
    from plancadre_eval.runner import _requests_and_bilan

    assert _requests_and_bilan(run_args(year="2021"))[3] is None
    assert _requests_and_bilan(run_args(year="2022"))[3] == (2019, 2022)
    ref, requests, _, period, params = _requests_and_bilan(run_args(year=None, bilan="2019-2020"))
    assert requests == [] and period == (2019, 2020) and params["year"] == 2020
    assert _requests_and_bilan(run_args(year="2021", bilan=""))[3] == (2019, 2022)
    assert runner.command_run(run_args(year=None)) == 2
    assert "--year est requis" in capsys.readouterr().err
    assert runner.command_run(run_args(year=None, bilan="2019-2035")) == 2


def test_multi_year_table_of_the_years_present(tmp_path):
    from plancadre_eval.runner.report import write_multi_year_table

    out = tmp_path / "outputs"
    for year, value in ((2020, "1,25"), (2021, "2")):
        d = out / str(year)
        d.mkdir(parents=True)
        (d / "index.html").write_text("x", encoding="utf-8")
        (d / "indicateurs.csv").write_text(
            "\ufefffiche;pilote;statut_fiche;indicateur;annee;territoire;nom_territoire;valeur;diffusion;valeur_precise\n"
            f"2.10;DDCS;en cours;2.10.1;{year};62;Pas-de-Calais;{value};public;{value}\n", encoding="utf-8")
    (out / "indicateurs-2019-2020.csv").write_text("ancien", encoding="utf-8")
    written = write_multi_year_table(out)
    assert sorted(p.name for p in written) == ["indicateurs-2020-2021.csv", "indicateurs-2020-2021.xlsx"]
    assert not (out / "indicateurs-2019-2020.csv").exists()
    lines = (out / "indicateurs-2020-2021.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[1].startswith("2.10;DDCS;en cours;2.10.1;2020;62;Pas-de-Calais;1,25;")
    assert lines[2].split(";")[:5] == ["2.10", "DDCS", "en cours", "2.10.1", "2021"]
    from openpyxl import load_workbook

    ws = load_workbook(out / "indicateurs-2020-2021.xlsx").active
    header = [c.value for c in ws[1]]
    assert "valeur_precise" not in header and "nom_territoire" in header
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert [ws.cell(row=r, column=1).value for r in (2, 3)] == ["2.10", "2.10"]


@pytest.mark.slow
def test_kept_kernel_is_adopted_by_the_next_run_then_released(executed, tmp_path, monkeypatch):
    from plancadre_eval.runner import resident

    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    proj = copy_project(executed, tmp_path)
    root = str(proj.root.resolve())
    first = proj.run(page_function=execute_page, force=True, fiches=["2.10"], keep_kernel=True)
    assert first.exit_code == 0
    assert runner.shutdown_kernels() == 0  # the kept kernel is no longer this process' to stop
    kept = resident.read(root)
    assert kept is not None and resident._pid_alive(kept["pid"])

    again = proj.run(page_function=execute_page, force=True, fiches=["2.10"], keep_kernel=True)
    assert again.exit_code == 0
    assert proj.html("fiche-2.10") == executed.first_pages["fiche-2.10.html"]  # same bytes
    assert resident.read(root)["pid"] == kept["pid"]  # adopted, then kept again

    last = proj.run(page_function=execute_page, force=True, fiches=["2.10"])  # without keeping
    assert last.exit_code == 0 and resident.read(root) is None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and resident._pid_alive(kept["pid"]):
        time.sleep(0.1)
    assert not resident._pid_alive(kept["pid"])


_IMPORT_RACE = """
import threading
from plancadre_eval.runner import kernels, page
errors = []
def call(f):
    try:
        f()
    except BaseException as exc:  # ImportError, importlib's _DeadlockError
        errors.append(repr(exc))
threads = [threading.Thread(target=call, args=(f,)) for f in
           (page.import_stack, kernels._manager_class, kernels._client_class, kernels._manager_class)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(errors or "ok")
"""


def test_threads_importing_the_jupyter_stack_at_once_never_see_it_half_imported():
    """A run starts kernels in threads while another imports papermill: before the imports were
    serialised, one fresh process in four failed with "cannot import name 'AsyncKernelManager'
    from partially initialized module" or a _DeadlockError (reproduced with this very script)."""
    import subprocess
    import sys

    def fresh_process(_):
        proc = subprocess.run([sys.executable, "-c", _IMPORT_RACE], capture_output=True, text=True,
                              timeout=120)
        return proc.stdout.strip() or proc.stderr.strip()[-500:]

    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(fresh_process, range(10)))
    assert outcomes == ["ok"] * 10

"""provenance.py: the one file hash, canonical digest, path display rule and collection discovery."""

from __future__ import annotations

import hashlib
import os

from plancadre_eval import collection, provenance


def test_sha256_is_the_file_digest_and_follows_changes(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(b"fiche;valeur\n1.1;3\n")
    assert provenance.sha256(f) == hashlib.sha256(b"fiche;valeur\n1.1;3\n").hexdigest()
    f.write_bytes(b"fiche;valeur\n1.1;4\n")  # new content (and size): not the memoised digest
    os.utime(f, ns=(1, 1))
    assert provenance.sha256(f) == hashlib.sha256(b"fiche;valeur\n1.1;4\n").hexdigest()


def test_digest_is_canonical():
    assert provenance.digest({"b": 1, "a": "é"}) == provenance.digest({"a": "é", "b": 1})
    assert provenance.digest({"a": "é", "b": 1}) == hashlib.sha256(
        '{"a":"é","b":1}'.encode("utf-8")).hexdigest()
    assert provenance.digest({"a": 1}) != provenance.digest({"a": 2})


def test_display_path_relative_inside_root_name_or_absolute_outside(tmp_path):
    root = tmp_path / "projet"
    (root / "data" / "demo").mkdir(parents=True)
    outside = tmp_path / "ailleurs" / "collecte"
    assert provenance.display_path(root / "data" / "demo", root) == "data/demo"
    assert provenance.display_path(root / "data" / ".." / "data", root) == "data"
    assert provenance.display_path(outside, root) == "collecte"
    assert provenance.display_path(outside, root, absolute=True) == outside.as_posix()
    assert provenance.display_path(root / "data", root, absolute=True) == "data"


def test_display_path_defaults_to_the_project_root(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANCADRE_ROOT", str(tmp_path))
    assert provenance.display_path(tmp_path / "data" / "x.csv") == "data/x.csv"


def test_collection_files_natural_order_without_hidden_readme_or_lock_files(tmp_path):
    for rel in ("fiche-2.10.csv", "fiche-2.9.xlsx", "sous/fiche-1.1.CSV", "README.csv",
                "~$fiche-2.9.xlsx", ".cache/fiche-3.csv", "notes.txt", ".cache.csv"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    found = provenance.collection_files(tmp_path)
    assert [rel for _, rel in found] == ["fiche-2.9.xlsx", "fiche-2.10.csv", "sous/fiche-1.1.CSV"]
    assert all(path == tmp_path / rel for path, rel in found)


def test_collection_reads_the_files_provenance_discovers(tmp_path):
    for rel in ("b/fiche-2.10.csv", "b/fiche-2.9.csv", "README.csv", "~$x.xlsx"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    found, problems = collection.discover([tmp_path])
    assert problems == []
    assert [(p, name) for p, _, name in found] == provenance.collection_files(tmp_path)


def test_source_entry_shows_the_path_from_the_project_root(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANCADRE_ROOT", str(tmp_path))
    f = tmp_path / "data" / "public" / "serie.csv"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"annee;valeur\n")
    entry = provenance.source_entry("Série", "édition 2024", "Licence Ouverte", "test", f)
    assert entry == {"libelle": "Série", "edition": "édition 2024", "licence": "Licence Ouverte",
                     "origine": "test", "fichier": "data/public/serie.csv",
                     "sha256": hashlib.sha256(b"annee;valeur\n").hexdigest()}

"""Shared by the collection and template tests: the miniature referential and a fake territories
object, so that these tests depend neither on the shipped plan nor on the INSEE files."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
MINI = HERE / "fixtures" / "referentiel-mini"
BAD = HERE / "fixtures" / "collection"
HEADER = "fiche;indicateur;annee;territoire;valeur;source;commentaire"
ARRONDISSEMENTS = [f"62{i}" for i in range(1, 8)]


class FakeTerritories:
    """The two methods of ``territories.Territories`` that collection.py uses."""

    LEVELS = {"62": "departement", **{a: "arrondissement" for a in ARRONDISSEMENTS},
              "200033579": "epci", "62041": "commune"}

    def valid_codes(self, referential):
        return set(self.LEVELS) | {s.code for s in referential.structures}

    def level_of(self, code, referential):
        for s in referential.structures:
            if s.code == code:
                return "compagnie_gendarmerie" if s.type == "compagnie_gendarmerie" else "structure"
        return self.LEVELS.get(code)


TERR = FakeTerritories()


def write_csv(folder: Path, rows: list[str], name: str = "f.csv", header: str = HEADER) -> Path:
    path = folder / name
    path.write_text("\n".join([header] + rows) + "\n", encoding="utf-8")
    return path

"""The collection template: the workbook a pilot service fills in (``plancadre-eval template``).

- :func:`template_rows` ``(referential, territories, year, pilote) -> DataFrame`` — one row per
  collected id and expected territory (:func:`territories.indicator_codes`), then the milestones;
- :func:`write_template` — the workbook (sheets "Collecte", "Mode d'emploi", hidden "Listes");
- :func:`command_template` — ``plancadre-eval template --year Y [--pilote NOM] --out F.xlsx``.

A filled template is read back by :mod:`collection` (``plancadre-eval check``).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from .collection import (
    _DATE_HINT,
    TEMPLATE_SHEET,
    TerritoriesLike,
    _default_territories,
    _fmt_list,
    _fold,
    _Places,
    _plural,
)
from .referential import Indicator, Referential, suggest

#: Columns of the "Collecte" sheet, in order (``libelle``, ``unite``, ``nom_territoire`` are
#: reminders ignored when the file is read back).
TEMPLATE_COLUMNS = (
    "fiche", "indicateur", "libelle", "unite", "annee", "territoire", "nom_territoire", "valeur",
    "source", "commentaire",
)
HELP_SHEET = "Mode d'emploi"
LISTS_SHEET = "Listes"


def _fiches_of(ref: Referential, pilote: str | None):
    if not pilote:
        return list(ref.fiches)
    wanted = _fold(pilote)
    return [f for f in ref.fiches if _fold(f.pilote_court) == wanted]


def _date_fr(d: dt.date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else "?"


_MILESTONE_UNIT = "oui / non / date"


def _template_ids(ind: Indicator) -> list[tuple[str, str, str]]:
    """(id, label, unit) of the template rows of one collected indicator, components first."""
    if ind.type == "pourcentage":
        return [
            (f"{ind.id}.numerateur", ind.libelle_numerateur or f"Numérateur de : {ind.libelle}",
             ""),
            (f"{ind.id}.denominateur",
             ind.libelle_denominateur or f"Dénominateur de : {ind.libelle}", ""),
            (ind.id, f"{ind.libelle} (en %, seulement si le numérateur et le dénominateur sont "
             "inconnus)", ind.unite),
        ]
    if ind.type == "duree":
        return [
            (ind.id, ind.libelle, ind.unite),
            (f"{ind.id}.personnes", "Nombre de personnes sur lesquelles porte la durée moyenne : "
             f"{ind.libelle}", "personnes"),
        ]
    return [(ind.id, ind.libelle, _MILESTONE_UNIT if ind.type == "jalon" else ind.unite)]


def template_rows(
    referential: Referential,
    territories: TerritoriesLike,
    year: int,
    pilote: str | None = None,
) -> pd.DataFrame:
    """Rows of the collection template (columns :data:`TEMPLATE_COLUMNS`, ``valeur`` empty).

    One row per collected id (with its ``.numerateur`` / ``.denominateur`` / ``.personnes``
    component rows) and territory of the indicator's level, then one row per milestone of the
    fiche (département). An indicator of type ``jalon`` whose milestone already has a row is not
    repeated. ``pilote`` filters the fiches on ``pilote_court`` (case-insensitive); an unknown
    pilot raises ``ValueError`` naming the known pilots.
    """
    if pilote and not _fiches_of(referential, pilote):
        near = suggest(pilote, referential.pilots())
        hint = f" Vouliez-vous dire '{near}' ?" if near else ""
        raise ValueError(f"Service pilote '{pilote}' inconnu ; services pilotes du référentiel : "
                         f"{_fmt_list(referential.pilots())}.{hint}")
    years = referential.plan.data_years
    if year not in years:
        raise ValueError(f"Année {year} hors du plan ; attendu une année entre {years[0]} et "
                         f"{years[-1]}.")
    places = _Places(referential, territories)
    rows: list[dict[str, Any]] = []

    def add(fiche_id: str, ident: str, label: str, unit: str, codes: list[str], niveau: str,
            milestone: bool) -> None:
        for code in codes:
            rows.append({"fiche": fiche_id, "indicateur": ident, "libelle": label, "unite": unit,
                         "annee": year, "territoire": code, "nom_territoire": places.name(code),
                         "valeur": "", "source": "", "commentaire": "", "_niveau": niveau,
                         "_jalon": milestone})

    for fiche in _fiches_of(referential, pilote):
        milestone_ids = {m.id for m in fiche.jalons}
        for ind in fiche.indicateurs:
            if not ind.collected or (ind.type == "jalon" and ind.jalon in milestone_ids):
                continue
            explicit = getattr(ind, "territoires", None)
            codes = list(explicit) if explicit else places.at_level(ind.niveau)
            for ident, label, unit in _template_ids(ind):
                add(fiche.id, ident, label, unit, codes, ind.niveau, ind.type == "jalon")
        for ms in fiche.jalons:
            add(fiche.id, ms.id, f"Jalon : {ms.libelle} (échéance {_date_fr(ms.echeance)})",
                _MILESTONE_UNIT, [places.dep], "departement", True)
    frame = pd.DataFrame.from_records(
        rows, columns=list(TEMPLATE_COLUMNS) + ["_niveau", "_jalon"])
    frame.attrs["niveaux"] = {n: places.at_level(n) for n in frame["_niveau"].unique()}
    return frame


#: The "Mode d'emploi" sheet: one paragraph per cell; "# " marks a heading.
_HELP = [
    "# Gabarit de collecte du Plan cadre de lutte contre les violences faites aux femmes",
    "",
    "Une ligne par observation : une valeur d'un indicateur, pour une année et un territoire.",
    "Remplissez seulement la colonne « valeur » (et, si utile, « source » et « commentaire »). "
    "Une valeur laissée vide signifie « non renseigné » : la ligne est ignorée.",
    "Ne modifiez pas les colonnes fiche et indicateur : elles sont au format Texte (« 2.10 » "
    "n'est pas le nombre 2,1). Vous pouvez ajouter des lignes (autre territoire, autre année) en "
    "recopiant une ligne existante.",
    "",
    "# Colonnes",
    "fiche : identifiant de la fiche du plan (ex. 2.10).",
    "indicateur : identifiant de l'indicateur (ex. 2.10.1), d'une composante (2.9.3.numerateur, "
    "2.9.3.denominateur, 2.6.4.personnes) ou d'un jalon (2.10.J1).",
    "libelle, unite, nom_territoire : rappels du plan et du territoire, ignorés à la lecture.",
    "annee : année de l'observation (entre {y0} et {y1}).",
    "territoire : code du territoire, à choisir dans la liste déroulante : {dep} (département), "
    "code d'arrondissement (ex. 621), d'EPCI, de commune ou d'une structure (ex. CGD-ARRAS). {dep} "
    "est toujours accepté pour un total départemental.",
    "valeur : la donnée (voir ci-dessous).",
    "source : facultatif, d'où vient le chiffre (ex. « tableau de bord 2021 du service »).",
    "commentaire : facultatif ; pour un indicateur qualitatif, le texte du bilan peut être écrit "
    "ici.",
    "",
    "# Comment écrire la valeur",
    "Nombre (comptage, effectif, durée) : 1030 ou 1 030, décimales avec une virgule (12,5). "
    "Jamais négatif.",
    "Pourcentage : déclarez de préférence le numérateur (ligne .numerateur) et le dénominateur "
    "(ligne .denominateur), en effectifs : les totaux sont calculés à partir d'eux, jamais en "
    "faisant la moyenne de pourcentages. À défaut, le pourcentage lui-même (ex. 12 ou 12 %), "
    "entre 0 et 100.",
    "Durée moyenne : la durée sur la ligne de l'indicateur, et sur la ligne .personnes le nombre "
    "de personnes sur lesquelles porte la moyenne.",
    "Jalon : oui (réalisé), non (pas encore réalisé), ou la date de réalisation (AAAA-MM-JJ ou "
    "JJ/MM/AAAA).",
    "Indicateur qualitatif : texte libre dans valeur ou dans commentaire.",
    "",
    "# Enregistrement et vérification",
    "Gardez le format .xlsx, ou enregistrez en « CSV (séparateur : point-virgule) ». Avant "
    "l'exploitation, l'équipe d'évaluation vérifie le fichier avec : plancadre-eval check "
    "FICHIER ; chaque problème est signalé avec son numéro de ligne et sa colonne.",
]


def write_template(
    referential: Referential,
    territories: TerritoriesLike,
    year: int,
    out: str | Path,
    pilote: str | None = None,
) -> Path:
    """Write the collection workbook (sheets "Collecte", "Mode d'emploi", hidden "Listes").

    Drop-down lists: the territories of each row's level (plus the département) and oui/non on
    milestone rows (a date is still accepted: the list only warns). Returns the path written.
    """
    rows = template_rows(referential, territories, year, pilote)
    return _write_workbook(referential, rows, year, out, pilote)


def _write_workbook(referential: Referential, rows: pd.DataFrame, year: int, out: str | Path,
                    pilote: str | None) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    out = Path(out)
    wb = Workbook()
    ws = wb.active
    ws.title = TEMPLATE_SHEET
    ws.append(list(TEMPLATE_COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
    col = {name: i + 1 for i, name in enumerate(TEMPLATE_COLUMNS)}
    for rec in rows[list(TEMPLATE_COLUMNS)].itertuples(index=False):
        ws.append([None if v == "" else v for v in rec])
    n = len(rows)
    text_cols = ("fiche", "indicateur", "territoire", "valeur", "source", "commentaire")
    for name in text_cols:
        letter = get_column_letter(col[name])
        for (cell,) in ws.iter_rows(min_row=2, max_row=n + 1, min_col=col[name],
                                     max_col=col[name]):
            cell.number_format = "@"
        ws.column_dimensions[letter].width = 14
    ws.column_dimensions[get_column_letter(col["libelle"])].width = 70
    ws.column_dimensions[get_column_letter(col["commentaire"])].width = 40
    ws.column_dimensions[get_column_letter(col["source"])].width = 25
    ws.column_dimensions[get_column_letter(col["unite"])].width = 16
    ws.column_dimensions[get_column_letter(col["nom_territoire"])].width = 30
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(TEMPLATE_COLUMNS))}{max(n + 1, 1)}"

    # Lists of territory codes, one column per level, on a hidden sheet.
    lists = wb.create_sheet(LISTS_SHEET)
    levels = rows.attrs.get("niveaux", {})
    terr_letter = get_column_letter(col["territoire"])
    valeur_letter = get_column_letter(col["valeur"])
    dep = referential.plan.departement
    for j, (niveau, codes) in enumerate(sorted(levels.items()), start=1):
        options = list(dict.fromkeys([dep] + list(codes)))
        lists.cell(row=1, column=j, value=niveau)
        for k, code in enumerate(options, start=2):
            lists.cell(row=k, column=j, value=code).number_format = "@"
        letter = get_column_letter(j)
        dv = DataValidation(type="list", allow_blank=True, showErrorMessage=True,
                            formula1=f"={LISTS_SHEET}!${letter}$2:${letter}${len(options) + 1}")
        dv.error = "Choisissez un code de territoire dans la liste."
        dv.errorTitle = "Territoire"
        for start, end in _runs(rows.index[rows["_niveau"] == niveau]):
            dv.add(f"{terr_letter}{start + 2}:{terr_letter}{end + 2}")
        ws.add_data_validation(dv)
    lists.sheet_state = "hidden"
    milestones = rows.index[rows["_jalon"].astype(bool)]
    if len(milestones):
        dv = DataValidation(type="list", formula1='"oui,non"', allow_blank=True,
                            errorStyle="warning", showErrorMessage=True, showInputMessage=True)
        dv.error = f"Saisissez oui, non ou la date de réalisation ({_DATE_HINT})."
        dv.errorTitle = "Jalon"
        dv.prompt = f"oui, non ou la date de réalisation ({_DATE_HINT})"
        for start, end in _runs(milestones):
            dv.add(f"{valeur_letter}{start + 2}:{valeur_letter}{end + 2}")
        ws.add_data_validation(dv)

    help_ws = wb.create_sheet(HELP_SHEET, 1)
    y0, y1 = referential.plan.data_years[0], referential.plan.data_years[-1]
    paragraphs = [t.format(y0=y0, y1=y1, dep=referential.plan.departement) for t in _HELP]
    paragraphs += ["", f"Année préremplie : {year}." + (f" Service pilote : {pilote}." if pilote
                                                          else "")]
    if referential.structures:
        paragraphs += ["", "# Codes des structures"]
        paragraphs += [f"{s.code} : {s.libelle}" for s in referential.structures]
    for text in paragraphs:
        heading = text.startswith("# ")
        help_ws.append([text[2:] if heading else text or None])
        cell = help_ws.cell(row=help_ws.max_row, column=1)
        cell.font = Font(bold=heading)
        cell.alignment = Alignment(wrap_text=True)
    help_ws.column_dimensions["A"].width = 120
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def _runs(index: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive integers grouped as (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for i in index:
        i = int(i)
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


# --- command line ------------------------------------------------------------------------------

def command_template(args) -> int:
    """``plancadre-eval template --year Y [--pilote NOM] --out FICHIER.xlsx``.

    Exit 2 on a usage error (unknown pilot, year outside the plan, --out not .xlsx)."""
    from .referential import ReferentialError, load_referential

    if not str(args.out).lower().endswith(".xlsx"):
        print(f"Le gabarit est un classeur Excel : --out doit se terminer par .xlsx "
              f"(reçu {args.out!r}).", file=sys.stderr)
        return 2
    try:
        ref = load_referential(getattr(args, "referentiel", None))
    except ReferentialError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    try:
        rows = template_rows(ref, _default_territories(), args.year, args.pilote)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    path = _write_workbook(ref, rows, args.year, args.out, args.pilote)
    fiches = list(dict.fromkeys(rows["fiche"]))
    from .review import ReviewError, followup_for_template  # last year's decisions to follow up

    try:
        n = followup_for_template(path, ref, args.year, fiches, getattr(args, "revue", None))
    except ReviewError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"Gabarit écrit : {path} ({_plural(len(rows), 'ligne')} à renseigner, "
          f"{_plural(len(fiches), 'fiche')} : {_fmt_list(fiches)}"
          + (f" ; {_plural(n, 'décision')} de la revue {args.year - 1} à suivre" if n else "") + ").")
    return 0

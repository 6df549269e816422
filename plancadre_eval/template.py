"""The collection template: the workbook a pilot service fills in (``plancadre-eval template``).

- :func:`template_rows` ``(referential, territories, year, pilote, observations) -> DataFrame`` —
  for the fiches due that year (of one pilot, aliases such as DDETS followed), one row per
  collected id and expected territory (:func:`territories.indicator_codes`) with the previous
  year's value beside it, then the milestones not already declared done;
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
    _Places,
    _plural,
)
from .pilots import fiches_due, pilot_named, unknown_pilot_message
from .referential import Indicator, Referential
from .statuses import parse_milestone_answer

#: Columns of the "Collecte" sheet, in order (``libelle``, ``unite``, ``nom_territoire``,
#: ``valeur_annee_precedente`` are reminders ignored when the file is read back).
TEMPLATE_COLUMNS = (
    "fiche", "indicateur", "libelle", "unite", "annee", "territoire", "nom_territoire",
    "valeur_annee_precedente", "valeur", "source", "commentaire",
)
HELP_SHEET = "Mode d'emploi"
LISTS_SHEET = "Listes"


def _fiches_of(ref: Referential, pilote: str | None, year: int):
    """Fiches of the template: those due in ``year`` (every fiche for the reference year, which
    no fiche is due in), of the pilot ``pilote`` (a ``pilote_court``) when given."""
    if year in ref.plan.years:
        return fiches_due(ref, year, pilote)
    return [f for f in ref.fiches if pilote is None or f.pilote_court == pilote]


def _previous_values(observations: pd.DataFrame | None, year: int) -> dict[tuple[str, str], str]:
    """``{(collected id, territory): value as written}`` of ``year - 1``."""
    if observations is None or observations.empty:
        return {}
    prev = observations[observations["annee"] == year - 1]
    ids = [i if c == "valeur" else f"{i}.{c}" for i, c in zip(prev["indicateur"], prev["composante"])]
    return dict(zip(zip(ids, prev["territoire"]), prev["texte"]))


def _done_before(observations: pd.DataFrame | None, year: int) -> set[str]:
    """Ids of milestones declared done ("oui" or a date) in a year before ``year``: they stay
    done and are not asked again."""
    if observations is None or observations.empty:
        return set()
    earlier = observations[observations["annee"] < year]
    return {i for i, texte, valeur, annee in zip(earlier["indicateur"], earlier["texte"],
                                                 earlier["valeur"], earlier["annee"])
            if parse_milestone_answer(texte, valeur, int(annee))[0]}


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
    observations: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rows of the collection template (columns :data:`TEMPLATE_COLUMNS`, ``valeur`` empty).

    For each fiche due in ``year`` (:func:`pilots.fiches_due`), one row per collected id (with its
    ``.numerateur`` / ``.denominateur`` / ``.personnes`` component rows) and territory of the
    indicator's level, then one row per milestone of the fiche (département), except milestones
    declared done in an earlier year of ``observations`` (they stay done). An indicator of type
    ``jalon`` whose milestone already has a row is not repeated. ``valeur_annee_precedente`` is
    the value of ``year - 1`` in ``observations`` (as written), empty without it. ``pilote``
    filters the fiches on ``pilote_court`` (case and accents ignored, aliases of
    ``plan.alias_pilotes`` followed: DDETS -> DDCS); an unknown pilot raises ``ValueError``
    naming the known pilots.
    """
    if pilote:
        resolved = pilot_named(referential, pilote)
        if resolved is None:
            raise ValueError(unknown_pilot_message(referential, pilote))
        pilote = resolved
    years = referential.plan.data_years
    if year not in years:
        raise ValueError(f"Année {year} hors du plan ; attendu une année entre {years[0]} et "
                         f"{years[-1]}.")
    previous = _previous_values(observations, year)
    done = _done_before(observations, year)
    places = _Places(referential, territories)
    rows: list[dict[str, Any]] = []

    def add(fiche_id: str, ident: str, label: str, unit: str, codes: list[str], niveau: str,
            milestone: bool) -> None:
        for code in codes:
            rows.append({"fiche": fiche_id, "indicateur": ident, "libelle": label, "unite": unit,
                         "annee": year, "territoire": code, "nom_territoire": places.name(code),
                         "valeur_annee_precedente": previous.get((ident, code), ""),
                         "valeur": "", "source": "", "commentaire": "", "_niveau": niveau,
                         "_jalon": milestone})

    for fiche in _fiches_of(referential, pilote, year):
        milestone_ids = {m.id for m in fiche.jalons}
        for ind in fiche.indicateurs:
            if not ind.collected or (ind.type == "jalon" and ind.jalon in milestone_ids):
                continue
            explicit = getattr(ind, "territoires", None)
            codes = list(explicit) if explicit else places.at_level(ind.niveau)
            for ident, label, unit in _template_ids(ind):
                add(fiche.id, ident, label, unit, codes, ind.niveau, ind.type == "jalon")
        for ms in fiche.jalons:
            if ms.id in done:
                continue
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
    "valeur_annee_precedente : la valeur reçue l'an dernier pour la même ligne, pour comparaison "
    "(ignorée à la lecture) ; un écart de plus de trois fois, à la hausse ou à la baisse, sera "
    "vérifié avec vous.",
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
    "JJ/MM/AAAA). Un jalon déclaré réalisé une année le reste : il n'est plus demandé les années "
    "suivantes.",
    "Indicateur qualitatif : texte libre dans valeur ou dans commentaire.",
    "",
    "# Enregistrement et vérification",
    "Gardez le format .xlsx, ou enregistrez en « CSV (séparateur : point-virgule) ». L'équipe "
    "d'évaluation range tous les fichiers reçus, toutes années confondues, dans un seul dossier "
    "de collecte (data/collecte/, en sous-dossiers si elle le souhaite) : les années précédentes "
    "restent lues pour les évolutions et les jalons. Ne renvoyez pas une valeur déjà transmise "
    "sauf pour la corriger, en le signalant : une même observation déclarée deux fois avec deux "
    "valeurs différentes est refusée.",
    "Avant l'exploitation, l'équipe d'évaluation vérifie le fichier avec : plancadre-eval check "
    "data/collecte ; chaque problème est signalé avec son numéro de ligne et sa colonne, et "
    "chaque valeur peu plausible par un avertissement.",
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
    ws.column_dimensions[get_column_letter(col["valeur_annee_precedente"])].width = 16
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

def _collected_observations(data: str | None, referential: Referential, territories
                            ) -> pd.DataFrame | None:
    """Observations of the collection folder (``--data``; default ``data/collecte`` when it holds
    files), for the previous year's values; rows with problems are left out (``check`` reports
    them), None without a folder."""
    from . import paths
    from .collection import read_collection
    from .provenance import collection_files

    folder = paths.resolve(data) if data else paths.data_dir() / "collecte"
    if not folder.is_dir() or not collection_files(folder):
        return None
    return read_collection([folder], referential, territories)[0].observations


def command_template(args) -> int:
    """``plancadre-eval template --year Y [--pilote NOM] --out FICHIER.xlsx``.

    Exit 2 on a usage error (unknown pilot, year outside the plan, --out not .xlsx)."""
    from .referential import load_for_command

    if not str(args.out).lower().endswith(".xlsx"):
        print(f"Le gabarit est un classeur Excel : --out doit se terminer par .xlsx "
              f"(reçu {args.out!r}).", file=sys.stderr)
        return 2
    ref = load_for_command(args)
    if ref is None:
        return 1
    territories = _default_territories()
    observations = _collected_observations(getattr(args, "data", None), ref, territories)
    try:
        rows = template_rows(ref, territories, args.year, args.pilote, observations)
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

"""Command line: ``plancadre-eval <commande>``. Messages are French; exit codes 0 ok, 1 failure, 2 usage.

Each sub-command parses its arguments here and delegates to the module that owns the concern
(``referential``, ``collection``, ``demo``, ``runner``), through a ``command_*(args) -> int`` function.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__


class _FrenchFormatter(argparse.HelpFormatter):
    """argparse's help with the French word for "usage"."""

    def add_usage(self, usage, actions, groups, prefix=None):
        return super().add_usage(usage, actions, groups, "utilisation : " if prefix is None else prefix)


class _FrenchParser(argparse.ArgumentParser):
    """argparse in French: usage, group titles, the help option, usage errors (exit code 2)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _FrenchFormatter)
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "arguments positionnels"
        self._optionals.title = "options"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help="afficher cette aide et quitter")

    def error(self, message: str) -> None:  # pragma: no cover - argparse plumbing
        self.print_usage(sys.stderr)
        translations = {
            "the following arguments are required": "arguments obligatoires manquants",
            "unrecognized arguments": "arguments non reconnus",
            "invalid choice": "choix invalide",
            "expected one argument": "une valeur est attendue",
            "invalid int value": "nombre entier invalide",
            "(choose from": "(choix possibles :",
            "not allowed with argument": "incompatible avec l'argument",
        }
        for en, fr in translations.items():
            message = message.replace(en, fr)
        self.exit(2, f"{self.prog} : erreur : {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _FrenchParser(
        prog="plancadre-eval",
        description="Évaluation du Plan cadre de lutte contre les violences faites aux femmes "
        "2019-2022 (Pas-de-Calais).",
    )
    parser.add_argument("--version", action="version", version=f"plancadre-eval {__version__}",
                        help="afficher la version et quitter")
    sub = parser.add_subparsers(dest="command", metavar="commande", parser_class=_FrenchParser)

    p = sub.add_parser("referentiel", help="valider et afficher le référentiel du plan")
    p.add_argument("--referentiel", help="dossier (ou fichier) YAML du référentiel ; défaut : le plan 2019-2022")
    p.add_argument("--json", action="store_true", help="imprimer le référentiel en JSON")

    p = sub.add_parser("check", help="valider des fichiers de collecte ou une revue du comité "
                                     "(CSV ou XLSX)")
    p.add_argument("paths", nargs="+", metavar="CHEMIN", help="fichiers ou dossiers à valider")
    p.add_argument("--strict", action="store_true",
                   help="les avertissements de plausibilité font aussi échouer (code 1)")
    p.add_argument("--referentiel", help="dossier du référentiel ; défaut : le plan 2019-2022")

    p = sub.add_parser("template", help="écrire le classeur de collecte d'un service pilote")
    p.add_argument("--year", type=int, required=True, help="année de collecte")
    p.add_argument("--pilote", help="nom court du service pilote (défaut : tous)")
    p.add_argument("--out", required=True, help="fichier .xlsx à écrire")
    p.add_argument("--data", help="dossier de collecte, pour les valeurs de l'année précédente ; "
                   "défaut : data/collecte")
    p.add_argument("--referentiel", help="dossier du référentiel ; défaut : le plan 2019-2022")

    p = sub.add_parser("collecte", help="suivre la collecte d'une année, service pilote par "
                       "service pilote (valeurs attendues, reçues, manquantes)")
    p.add_argument("--year", type=int, required=True, help="année de collecte")
    p.add_argument("--data", help="dossier de collecte ; défaut : data/collecte")
    p.add_argument("--pilote", help="un seul service pilote (nom du plan ou nom actuel, ex. DDETS)")
    p.add_argument("--referentiel", help="dossier du référentiel ; défaut : le plan 2019-2022")
    p.add_argument("--revue", help="dossier des revues du comité (décisions de l'année précédente "
                                   "à suivre) ; défaut : data/revue")

    p = sub.add_parser("demo", help="régénérer les données de démonstration (graine fixe)")
    p.add_argument("--out", help="dossier de sortie ; défaut : data/demo")
    p.add_argument("--seed", type=int, default=62, help="graine du générateur")
    p.add_argument("--referentiel", help="dossier du référentiel ; défaut : le plan 2019-2022")

    p = sub.add_parser("run", help="produire les évaluations d'une année (ou de toutes)")
    p.add_argument("--year", help="année du plan, ou 'all' (facultatif avec --bilan)")
    p.add_argument("--fiche", action="append", default=[], help="fiche à produire (répétable)")
    p.add_argument("--bilan", nargs="?", const="", default=None, metavar="PÉRIODE",
                   help="produire aussi le bilan du plan (outputs/bilan.html), ou d'une période "
                        "« 2019-2020 » (outputs/bilan-2019-2020.html) ; produit d'office quand le "
                        "run couvre la dernière année du plan")
    p.add_argument("--params", help="fichier params/<année>.yaml ; défaut : celui de l'année")
    p.add_argument("--data", help="dossier des données de collecte ; défaut : selon params")
    p.add_argument("--out", help="dossier de sortie ; défaut : outputs/")
    p.add_argument("--jobs", type=int, default=None, help="exécutions en parallèle (défaut : nb de cœurs)")
    p.add_argument("--force", action="store_true", help="tout refaire, sans cache")
    p.add_argument("--quiet", action="store_true",
                   help="ni progression ni tableau : seulement le total et les échecs")
    p.add_argument("--scheduler", help="adresse d'un ordonnanceur Dask distributed (tcp://…)")
    p.add_argument("--referentiel", help="dossier du référentiel ; défaut : selon params")
    p.add_argument("--revue", help="dossier des revues du comité (<année>.xlsx ou .csv) ; "
                                   "défaut : selon params, sinon data/revue")
    p.add_argument("--garder-noyau", action="store_true",
                   help="laisser un noyau prêt après le run (arrêté après 20 min sans usage) : le "
                        "run suivant du projet, par exemple après une retouche, part plus vite")
    p.add_argument("--arreter-noyau", action="store_true",
                   help="arrêter le noyau gardé prêt par --garder-noyau (sans rien produire)")

    p = sub.add_parser("revue", help="écrire le classeur de revue du comité de pilotage d'une année")
    p.add_argument("--year", type=int, required=True, help="année évaluée")
    p.add_argument("--out", required=True, help="fichier .xlsx à écrire")
    p.add_argument("--data", help="dossier des données de collecte ; défaut : data/demo")
    p.add_argument("--referentiel", help="dossier du référentiel ; défaut : le plan 2019-2022")

    p = sub.add_parser("dossier", help="assembler le dossier du comité (HTML, et PDF avec --pdf)")
    p.add_argument("--year", type=int, required=True, help="année déjà produite par run")
    p.add_argument("--out", help="dossier des sorties ; défaut : outputs/")
    p.add_argument("--pdf", action="store_true", help="imprimer aussi dossier.pdf (Chromium)")
    p.add_argument("--referentiel", help="dossier du référentiel ; défaut : le plan 2019-2022")

    p = sub.add_parser("lab", help="ouvrir dans JupyterLab une copie paramétrée du notebook d'une fiche")
    p.add_argument("--fiche", required=True, help="fiche à explorer (ex. 2.6)")
    p.add_argument("--year", required=True, help="année évaluée")
    p.add_argument("--params", help="fichier params/<année>.yaml ; défaut : celui de l'année")
    p.add_argument("--no-launch", action="store_true",
                   help="écrire les copies et afficher la commande sans lancer JupyterLab")
    return parser


def command_referentiel(args: argparse.Namespace) -> int:
    from .referential import load_for_command

    ref = load_for_command(args)
    if ref is None:
        return 1
    if args.json:
        print(ref.to_json())
        return 0
    n_ind = len(ref.indicators())
    print(f"Référentiel valide : {ref.plan.titre}")
    print(f"  {len(ref.axes)} axes, {len(ref.fiches)} fiches, {n_ind} indicateurs, "
          f"{sum(len(f.etat_des_lieux) for f in ref.fiches)} faits d'état des lieux, "
          f"{sum(len(f.cibles) for f in ref.fiches)} cibles, {len(ref.milestones())} jalons.")
    for axis in ref.axes:
        ids = [f.id for f in ref.fiches if f.axe == axis.id]
        print(f"  Axe {axis.id} — {axis.titre} : fiches {', '.join(ids)}")
    return 0


def command_check(args: argparse.Namespace) -> int:
    """``check``: the committee's records (files whose header has ``statut_retenu``, also inside a
    folder such as ``data/revue``) are validated by :mod:`review`, the other paths as collection
    files by :mod:`collection` (same ``FICHIER:LIGNE: colonne 'NOM': …`` lines)."""
    from pathlib import Path

    from . import collection, review

    reviews, others = [], []
    for given in args.paths:
        p = Path(given)
        files = sorted(f for s in review.REVIEW_SUFFIXES for f in p.glob(f"*{s}")) if p.is_dir() else [p]
        found = [f for f in files if review.is_review_file(f)]
        reviews += found
        if not p.is_dir() and not found or p.is_dir() and len(found) < len(files):
            others.append(given)
    if not reviews:
        return collection.command_check(args)
    from .referential import load_for_command

    ref = load_for_command(args)
    if ref is None:
        return 1
    n, problems = review.check_review_files(reviews, ref)
    for p in problems:
        print(p)
    code = 0
    if others:
        code = collection.command_check(argparse.Namespace(**{**vars(args), "paths": others}))
    if problems:
        print(f"{len(problems)} problème(s) dans la revue du comité : corrigez-les puis relancez "
              "plancadre-eval check.", file=sys.stderr)
        return 1
    print(f"OK : {n} revue(s) du comité.")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "referentiel":
        return command_referentiel(args)
    if args.command == "check":
        return command_check(args)
    if args.command == "template":
        from . import template

        return template.command_template(args)
    if args.command == "collecte":
        from . import followup

        return followup.command_collecte(args)
    if args.command == "demo":
        from . import demo

        return demo.command_demo(args)
    if args.command == "revue":
        from .evaluation import committee

        return committee.command_revue(args)
    if args.command == "dossier":
        from . import dossier

        return dossier.command_dossier(args)
    if args.command == "run":
        from . import runner

        return runner.command_run(args)
    if args.command == "lab":
        from . import lab

        return lab.command_lab(args)
    parser.error(f"commande inconnue {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""plancadre_eval.cli: argparse's own words in French, the sub-commands' arguments."""

from __future__ import annotations

import pytest

from plancadre_eval.cli import build_parser, main

ENGLISH = ("usage:", "positional arguments", "optional arguments", "show this help message",
           "show program's version", "the following arguments are required")


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["check", "--help"],
                                  ["lab", "--help"]])
def test_help_is_in_french(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("utilisation : plancadre-eval")
    assert "afficher cette aide et quitter" in out and "options:" in out
    assert not [w for w in ENGLISH if w in out]


def test_positional_arguments_and_usage_errors_are_in_french(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    assert "arguments positionnels" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["lab", "--fiche", "2.6"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("utilisation : plancadre-eval lab")
    assert "arguments obligatoires manquants: --year" in err
    assert not [w for w in ENGLISH if w in err]


def test_lab_arguments():
    args = build_parser().parse_args(["lab", "--fiche", "2.10", "--year", "2021", "--no-launch"])
    assert (args.fiche, args.year, args.no_launch, args.params) == ("2.10", "2021", True, None)

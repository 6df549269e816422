"""plancadre-eval : évaluation reproductible du Plan cadre de lutte contre les violences faites
aux femmes 2019-2022 (Pas-de-Calais).

The library computes each fiche's indicators; parameterized notebooks (papermill) turn them into one
HTML evaluation per fiche and year. Code identifiers are English; everything a reader sees is French.
"""

__version__ = "0.1.0"

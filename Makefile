# plancadre-eval — tâches courantes. `make` (ou `make help`) liste les cibles.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
YEAR ?= 2021
FICHE ?= 2.5
JOBS ?=
STAMP := $(VENV)/.installed
# bytecode of the package written ahead (PYTHONDONTWRITEBYTECODE=1 would make every process and
# kernel compile it again); fast when up to date
PYC = $(BIN)/python -m compileall -q plancadre_eval >/dev/null

.PHONY: help setup run test test-fast check referentiel demo bench browser-deps clean lock lab

help: ## liste les cibles disponibles
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python -q --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python -q --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@# notebooks never committed with outputs: nbstripout as git filter (relative path: each
	@# checkout or worktree uses its own .venv; see .gitattributes)
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  git config filter.nbstripout.clean '.venv/bin/nbstripout --keep-id'; \
	  git config filter.nbstripout.smudge cat; \
	  git config diff.ipynb.textconv '.venv/bin/nbstripout --keep-id -t'; \
	fi
	@$(PYC)
	@touch $(STAMP)

setup: $(STAMP) ## crée l'environnement virtuel .venv (versions figées de requirements.lock)

run: setup ## produit les évaluations de l'année YEAR (défaut 2021) depuis les données livrées
	@$(PYC)
	$(BIN)/plancadre-eval run --year $(YEAR) $(if $(JOBS),--jobs $(JOBS))

browser-deps: setup ## installe chromium (apt, si root) pour les tests navigateur
	@bash .ci/browser-deps.sh

test: setup browser-deps ## lance toute la suite de tests (unitaires, notebooks, navigateur)
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval-lax notebooks -p no:cacheprovider

test-fast: setup ## tests unitaires seulement (sans notebooks ni navigateur)
	$(BIN)/python -m pytest tests -m "not slow and not browser"

check: setup ## valide les fichiers de collecte de démonstration
	$(BIN)/plancadre-eval check data/demo

referentiel: setup ## valide et résume le référentiel du plan
	$(BIN)/plancadre-eval referentiel

demo: setup ## régénère les données de démonstration (graine fixe)
	$(BIN)/plancadre-eval demo

lab: setup ## copie paramétrée du notebook de la fiche FICHE (défaut 2.5) pour YEAR, ouverte dans JupyterLab
	$(BIN)/plancadre-eval lab --fiche $(FICHE) --year $(YEAR)

bench: setup ## mesure le temps : boucle papermill+nbconvert naïve contre `plancadre-eval run`
	@$(PYC)
	$(BIN)/python -m plancadre_eval.bench --year $(YEAR)

lock: ## recalcule requirements.lock depuis pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 -o requirements.lock --no-header

clean: ## supprime les sorties générées (garde outputs/README.md)
	find outputs -mindepth 1 ! -name README.md -exec rm -rf {} +

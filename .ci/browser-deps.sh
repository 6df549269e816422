#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (tests/test_browser.py) when it is missing and we
# can: as root, or with password-less sudo, through apt-get (Debian; Ubuntu's "chromium" is a snap
# stub that does not run in containers). Playwright's own browser download is not used: the tests
# point Playwright at /usr/bin/chromium (or $PLANCADRE_CHROMIUM).
# Never fails the build: when chromium cannot be installed, the browser tests fail with the
# command to run, which is more useful than a skipped test.
set -uo pipefail
CHROMIUM="${PLANCADRE_CHROMIUM:-/usr/bin/chromium}"
VENV_PY="${VENV_PY:-.venv/bin/python}"

check_python_packages() {
  if [ -x "$VENV_PY" ] && ! "$VENV_PY" -c "import playwright, axe_playwright_python" 2>/dev/null; then
    echo "Paquets Python playwright / axe-playwright-python absents de .venv : lancez \`make setup\`." >&2
  fi
}

if [ -x "$CHROMIUM" ]; then
  check_python_packages
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
fi

if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = "0" ] || [ -n "$SUDO" ]; }; then
  echo "Installation de chromium (apt-get) pour les tests navigateur…"
  log="$(mktemp)"
  if $SUDO apt-get update -qq >"$log" 2>&1 \
     && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
          chromium fonts-dejavu-core fonts-liberation >>"$log" 2>&1; then
    echo "chromium installé : $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  else
    tail -n 15 "$log" >&2
    echo "Échec de l'installation de chromium par apt-get ; les tests navigateur échoueront." >&2
  fi
  rm -f "$log"
else
  echo "chromium introuvable ($CHROMIUM) et installation impossible ici (ni root ni sudo sans mot de passe," \
       "ou pas d'apt-get) : installez-le (sudo apt-get install chromium) ou indiquez son chemin dans" \
       "PLANCADRE_CHROMIUM ; sinon les tests navigateur échoueront." >&2
fi
check_python_packages
exit 0

#!/usr/bin/env bash
# Install Debian's chromium for the browser tests when it is missing and we can (root + apt).
# Playwright's own browser download is not used: tests point Playwright at /usr/bin/chromium.
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installation de chromium (apt-get)…"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || { echo "Échec de l'installation de chromium par apt-get." >&2; exit 0; }
else
  echo "chromium introuvable : installez-le (sudo apt-get install chromium) ; les tests navigateur échoueront sans lui." >&2
fi
exit 0

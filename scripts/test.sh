#!/usr/bin/env bash
# Set up (if needed), lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Test-only system packages: the kiosk and widget tests drive Debian's Chromium with a fake
# microphone; the query-log tests start a throwaway PostgreSQL cluster.
TEST_PACKAGES=(chromium fonts-dejavu-core postgresql)
missing=()
for pkg in "${TEST_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
.venv/bin/ruff check service tests bench scripts
.venv/bin/mypy service
.venv/bin/python -m pytest -q "$@"

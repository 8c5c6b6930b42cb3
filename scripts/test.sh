#!/usr/bin/env bash
# Set up (if needed), lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Test-only system packages: the kiosk and widget tests drive Debian's Chromium with a fake
# microphone through Playwright, whose bundled Node needs libatomic1 (not in a bare Debian 12);
# the query-log tests start a throwaway PostgreSQL cluster; the proxy tests run
# the province's nginx config in front of the service.
bash scripts/apt-install.sh chromium fonts-dejavu-core postgresql nginx libnginx-mod-stream libatomic1
.venv/bin/ruff check service tests bench scripts
.venv/bin/mypy service
.venv/bin/python -m pytest -q "$@"

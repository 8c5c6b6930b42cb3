#!/usr/bin/env bash
# Set up (if needed), lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check service tests bench scripts
.venv/bin/mypy service
.venv/bin/python -m pytest -q "$@"

#!/usr/bin/env bash
# Set up a fresh Debian machine with Python 3.11: system packages, virtualenv, pinned
# dependencies, and the offline models. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/apt-install.sh ffmpeg espeak-ng sox

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
# Debian's own Python makes virtual environments only with python3-venv (ensurepip) installed.
"$PYTHON" -c "import ensurepip, venv" 2>/dev/null || bash scripts/apt-install.sh python3-venv
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# torch first and pinned, from PyTorch's CPU wheel index: PyPI's Linux torch pulls gigabytes
# of CUDA libraries a desk PC cannot use. Where that index cannot be reached (a mirror only,
# or no internet at all), whatever the configured package index offers is installed instead.
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}
if .venv/bin/python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1].rstrip('/') + '/torch/', timeout=10)" \
    "$TORCH_INDEX_URL" 2>/dev/null; then
  .venv/bin/pip install -q "torch==2.13.0" --index-url "$TORCH_INDEX_URL" \
    --extra-index-url "${PIP_INDEX_URL:-https://pypi.org/simple}"
else
  echo "setup: $TORCH_INDEX_URL cannot be reached; torch comes from the configured package index" >&2
  .venv/bin/pip install -q "torch==2.13.0"
fi
.venv/bin/pip install -q -e ".[dev]"
.venv/bin/tthc-voice models prepare
# Vietnamese answers speak from day one: espeak-ng renders every answer (marked synthetic);
# unchanged answers are skipped on later runs.
.venv/bin/tthc-voice prompts synthesize

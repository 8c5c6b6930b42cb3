#!/usr/bin/env bash
# Set up a fresh Debian machine with Python 3.11: system packages, virtualenv, pinned
# dependencies, and the offline models. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/apt-install.sh ffmpeg espeak-ng sox

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# torch first and pinned: the CPU build of 2.13.0; an unpinned torch pulls GBs of CUDA wheels.
.venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q -e ".[dev]"
.venv/bin/tthc-voice models prepare
# Vietnamese answers speak from day one: espeak-ng renders every answer (marked synthetic);
# unchanged answers are skipped on later runs.
.venv/bin/tthc-voice prompts synthesize

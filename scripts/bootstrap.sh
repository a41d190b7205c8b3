#!/usr/bin/env bash
# Create .venv with Python 3.11 and install the pinned requirements into it (idempotent: pip
# does nothing when they are already there).
#   scripts/bootstrap.sh          runtime requirements
#   scripts/bootstrap.sh --dev    runtime + test requirements
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      PYTHON="$candidate"; break
    fi
  done
fi
[[ -n "$PYTHON" ]] || { echo "bootstrap: Python 3.11 not found: install it (apt-get install python3.11 python3.11-venv)" >&2; exit 1; }

if [[ ! -x .venv/bin/python ]]; then
  echo "bootstrap: creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
reqs=requirements.txt
[[ "${1:-}" == "--dev" ]] && reqs=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)-$(basename "$reqs")"
if [[ ! -f "$stamp" ]]; then
  echo "bootstrap: installing $reqs"
  .venv/bin/python -m pip install --disable-pip-version-check -q -r "$reqs"
  touch "$stamp"
fi

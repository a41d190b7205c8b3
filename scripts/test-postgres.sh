#!/usr/bin/env bash
# The tests that need neither the real Livy nor a browser (unit, django, contract, and the
# PostgreSQL race test in tests/integration), on a real PostgreSQL: starts the throwaway
# cluster of scripts/postgres.sh (installing Debian's postgresql as root if needed), runs
# pytest with DATABASE_URL pointing at it (pytest-django creates and drops test_livy there),
# and stops the cluster again if this script started it. Arguments are passed to pytest.
# Where PostgreSQL cannot be installed (not root, or no apt-get) it prints one line with
# "skipped" and exits 0.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

started=0
# shellcheck disable=SC2317  # (called by the trap)
cleanup() { if [[ $started == 1 ]]; then scripts/postgres.sh down >/dev/null || true; fi; }
trap cleanup EXIT

if scripts/postgres.sh status >/dev/null 2>&1; then
  echo "test-postgres: using the PostgreSQL already running ($(scripts/postgres.sh url))"
else
  set +e
  output="$(scripts/postgres.sh up 2>&1)"
  rc=$?
  set -e
  case $rc in
    0) started=1; echo "$output" ;;
    4) echo "test-postgres: skipped: ${output#postgres: }"; exit 0 ;;
    *) echo "$output" >&2; echo "test-postgres: PostgreSQL did not start (exit $rc)" >&2; exit $rc ;;
  esac
fi

scripts/bootstrap.sh --dev
DATABASE_URL="$(scripts/postgres.sh url)"
export DATABASE_URL
echo "test-postgres: DATABASE_URL=$DATABASE_URL"
set +e
.venv/bin/python -m pytest -m "not livy and not e2e" "$@"
status=$?
set -e
exit $status

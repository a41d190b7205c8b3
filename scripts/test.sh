#!/usr/bin/env bash
# All tests on a fresh machine: the Debian packages that are missing (as root; see below); .venv
# with the test requirements; ruff, mypy, the check that the committed front-end bundles match
# a rebuild, and the check that .env.example and the README's configuration table are generated
# from myapp/config.py (manage.py config_docs --check); the local Apache Livy for the
# integration tests; then pytest (arguments are passed on); then the suite again on PostgreSQL.
# Livy is stopped again at the end if this script started it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Install the Debian packages of what is missing. Each argument is "check:package...", where
# the check is a command name (found on PATH), a /path (exists) or a command line (succeeds).
# As root with apt-get: one quiet `apt-get update` and one install; otherwise one line says
# what to install, and the tests stop.
install_missing() {
  local entry check more packages=()
  for entry in "$@"; do
    check="${entry%%:*}"
    if [[ "$check" == /* ]]; then [[ -e "$check" ]] && continue
    elif [[ "$check" == *" "* ]]; then $check >/dev/null 2>&1 && continue  # split into words on purpose
    else command -v "$check" >/dev/null 2>&1 && continue; fi
    read -ra more <<<"${entry#*:}"
    packages+=("${more[@]}")
  done
  ((${#packages[@]})) || return 0
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing Debian's ${packages[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "test: missing prerequisites: install them (sudo apt-get install ${packages[*]}), or run this script as root" >&2
    exit 1
  fi
}

# Python 3.11 with venv (bootstrap.sh), Java 17 and curl (the local Livy; curl only downloads
# it), CA certificates (HTTPS downloads), Node and npm (build-frontend.sh --check), Chromium
# (browser tests). PostgreSQL is installed by scripts/postgres.sh.
install_missing "python3.11 -m ensurepip --version:python3.11 python3.11-venv" "java:openjdk-17-jre-headless" \
  "curl:curl" "/etc/ssl/certs/ca-certificates.crt:ca-certificates" "node:nodejs npm" \
  "/usr/bin/chromium:chromium chromium-driver"

scripts/bootstrap.sh --dev

echo "test: ruff (lint and import order)"
.venv/bin/ruff check .
echo "test: mypy"
.venv/bin/mypy
echo "test: front-end bundles"
scripts/build-frontend.sh --check
echo "test: .env.example and the README's configuration table generated from myapp/config.py"
LIVY_DOTENV=0 .venv/bin/python manage.py config_docs --check

started_livy=0
# shellcheck disable=SC2317  # (called by the trap)
cleanup() { if [[ $started_livy == 1 ]]; then scripts/livy/livy.sh down || true; fi; }
trap cleanup EXIT

livy_answers() { [[ "$(curl -s -o /dev/null -m 3 -w '%{http_code}' http://127.0.0.1:8998/sessions 2>/dev/null)" == 200 ]]; }
if scripts/livy/livy.sh status >/dev/null 2>&1 || livy_answers; then
  # This checkout's server, or one another checkout (or a system Livy) runs on the port.
  echo "test: using the Apache Livy already running on 127.0.0.1:8998"
  export LIVY_TESTS_REQUIRED=1
else
  set +e
  scripts/livy/livy.sh up
  rc=$?
  set -e
  case $rc in
    0) started_livy=1; export LIVY_TESTS_REQUIRED=1 ;;
    4) # The documented block: no Livy distribution here (livy.sh said how to get one, above).
       cache="${XDG_CACHE_HOME:-$HOME/.cache}/livy-web/"
       export LIVY_UNAVAILABLE="no Apache Livy distribution: set LIVY_DIST or LIVY_HOME, or put apache-livy-0.9.0-incubating_2.12-bin.zip in ${cache/#"$HOME"/\~} (see README)"
       echo "test: WARNING: the real-Livy tests will be reported as skipped: $LIVY_UNAVAILABLE" >&2 ;;
    *) echo "test: the local Apache Livy failed to start (exit $rc)" >&2; exit $rc ;;
  esac
fi

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e

# The same suite, less the real-Livy and browser tests, on a real PostgreSQL (a throwaway
# cluster on 127.0.0.1; prints "skipped" where PostgreSQL cannot be installed). TEST_POSTGRES=0
# leaves it out; it is left out too when pytest was given arguments (a partial run).
if [[ "${TEST_POSTGRES:-1}" == 1 && -z "${DATABASE_URL:-}" && $# -eq 0 ]]; then
  echo "test: the suite on PostgreSQL (scripts/test-postgres.sh)"
  set +e
  scripts/test-postgres.sh -q
  pg_status=$?
  set -e
  if [[ $status -eq 0 ]]; then status=$pg_status; fi
fi
exit $status

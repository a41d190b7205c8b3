#!/usr/bin/env bash
# Production serving: the app under gunicorn, configured from the environment and .env (see
# README, "Production"). Unlike `make run` it writes no .env, creates no account and starts no
# Livy. Steps:
#   1. .venv with the pinned runtime requirements
#   2. the configuration must be fit for production: DJANGO_SECRET set and DEBUG=false, and
#      `manage.py check --deploy` without errors (its warnings are printed)
#   3. collectstatic (WhiteNoise serves staticfiles/), migrate, setup_roles
#   4. exec gunicorn myapp.wsgi:application on ${HOST:-127.0.0.1}:${PORT:-8000}
#
# Variables: HOST (127.0.0.1: put a TLS proxy in front; 0.0.0.0 to listen on every interface),
# PORT (8000), WEB_CONCURRENCY (2 worker processes), GUNICORN_THREADS (4 threads per worker),
# GUNICORN_TIMEOUT (120 s: a request may wait for Livy, up to LIVY_REQUESTS_TIMEOUT per call).
# Extra arguments are passed to gunicorn. Access log on stdout, errors on stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
WEB_CONCURRENCY="${WEB_CONCURRENCY:-2}"
GUNICORN_THREADS="${GUNICORN_THREADS:-4}"
GUNICORN_TIMEOUT="${GUNICORN_TIMEOUT:-120}"

scripts/bootstrap.sh
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE=myapp.settings

# What the app will see (environment first, then .env), without printing any secret.
config="$($PY -c '
import django; django.setup()
from django.conf import settings
print(str(settings.CONFIG.DEBUG).lower(), "yes" if settings.CONFIG.DJANGO_SECRET.get_secret_value() else "no")' | tail -n1)"
read -r debug has_secret <<<"$config"
if [[ "$has_secret" != yes ]]; then
  echo "serve: DJANGO_SECRET is not set: set it (environment or .env) to a long random string, e.g. the output of" >&2
  echo "       $PY -c 'import secrets; print(secrets.token_urlsafe(50))'" >&2
  exit 1
fi
if [[ "$debug" != false ]]; then
  echo "serve: DEBUG is true: set DEBUG=false for production (make run is the development server)" >&2
  exit 1
fi

$PY manage.py check --deploy --fail-level ERROR
$PY manage.py collectstatic --no-input -v 0
$PY manage.py migrate --no-input -v 0
$PY manage.py setup_roles

echo "serve: gunicorn on http://$HOST:$PORT ($WEB_CONCURRENCY workers x $GUNICORN_THREADS threads, timeout ${GUNICORN_TIMEOUT}s)"
exec .venv/bin/gunicorn myapp.wsgi:application \
  --bind "$HOST:$PORT" \
  --workers "$WEB_CONCURRENCY" \
  --threads "$GUNICORN_THREADS" \
  --timeout "$GUNICORN_TIMEOUT" \
  --graceful-timeout 30 \
  --keep-alive 5 \
  --no-control-socket \
  --max-requests 20000 --max-requests-jitter 2000 \
  --access-logfile - \
  --error-logfile - \
  "$@"

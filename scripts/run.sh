#!/usr/bin/env bash
# The main job: set everything up on a fresh machine and serve the app on http://localhost:5000
# against a local Apache Livy.
#   1. .venv with the pinned requirements
#   2. .env from .env.example, with a new random DJANGO_SECRET (only if .env does not exist)
#   3. database migrations and the default roles (Administrators, Editors, Viewers)
#   4. a first local account when there is none: from DJANGO_SUPERUSER_USERNAME and
#      DJANGO_SUPERUSER_PASSWORD (DJANGO_SUPERUSER_EMAIL optional), else asked for on a terminal;
#      with neither, it stops (an app nobody can sign in to is of no use)
#   5. the local Apache Livy on 127.0.0.1:8998 (when LIVY_BASE_ENDPOINT points there); without a
#      Livy distribution the app is served anyway, and scripts/livy/livy.sh says how to get one
#   6. the server on 127.0.0.1:${PORT:-5000}
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT="${PORT:-5000}"

scripts/bootstrap.sh
PY=.venv/bin/python

if [[ ! -f .env ]]; then
  secret="$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')"
  sed "s|^DJANGO_SECRET=.*|DJANGO_SECRET=$secret|" .env.example > .env
  echo "run: wrote .env from .env.example with a new DJANGO_SECRET (edit it to configure the app)"
fi

$PY manage.py check --fail-level ERROR
$PY manage.py migrate --no-input -v 0
$PY manage.py setup_roles

users="$($PY manage.py shell -c 'from django.contrib.auth import get_user_model; print(get_user_model().objects.count())' | tail -n1)"
if [[ "$users" == "0" ]]; then
  if [[ -n "${DJANGO_SUPERUSER_USERNAME:-}" && -n "${DJANGO_SUPERUSER_PASSWORD:-}" ]]; then
    echo "run: no account yet: creating the administrator account '$DJANGO_SUPERUSER_USERNAME' (DJANGO_SUPERUSER_USERNAME)"
    $PY manage.py createsuperuser --no-input --email "${DJANGO_SUPERUSER_EMAIL:-admin@localhost}"
  elif [[ -t 0 ]]; then
    echo "run: no account yet: create the first (administrator) account"
    $PY manage.py createsuperuser
  else
    echo "run: no account yet and no terminal to ask for one: set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD (and optionally DJANGO_SUPERUSER_EMAIL) and run again, or run .venv/bin/python manage.py createsuperuser first" >&2
    exit 1
  fi
fi

endpoint="$($PY -c 'from django.conf import settings; import django, os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myapp.settings"); django.setup(); print(settings.CONFIG.LIVY_BASE_ENDPOINT)')"
case "$endpoint" in
  http://127.0.0.1:8998|http://localhost:8998)
    set +e
    scripts/livy/livy.sh up
    rc=$?
    set -e
    if [[ $rc -eq 4 ]]; then
      echo "run: WARNING: serving without a local Apache Livy (see the line above); pages say Livy cannot be reached until one answers at $endpoint" >&2
    elif [[ $rc -ne 0 ]]; then
      echo "run: the local Apache Livy did not start (see above; 'make livy-logs' shows its log)." >&2
      exit $rc
    fi
    ;;
  *) echo "run: using the Livy at $endpoint (LIVY_BASE_ENDPOINT); no local Livy started" ;;
esac

echo "run: serving on http://localhost:$PORT (Ctrl+C stops the app; 'make livy-down' stops Livy)"
exec $PY manage.py runserver "127.0.0.1:$PORT"

#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests (and for trying DATABASE_URL on this machine): Debian's
# server binaries, a cluster in .pgdata/ (git-ignored), listening on 127.0.0.1 only, trust
# authentication, one database. Not for production data (fsync is off). As root the server runs
# as another user; when that user cannot enter the checkout (e.g. a clone under /root, mode
# 0700), the cluster lives in /var/tmp/livy-web-pg-<hash of the checkout path> instead.
#
#   scripts/postgres.sh up        install (Debian, as root) and initialise the first time, start,
#                                 create the database; prints the DATABASE_URL
#   scripts/postgres.sh down      stop it
#   scripts/postgres.sh status    running? (exit 0 yes, 3 no); prints the DATABASE_URL
#   scripts/postgres.sh url       the DATABASE_URL (e.g. DATABASE_URL=$(scripts/postgres.sh url))
#   scripts/postgres.sh destroy   stop it and delete its data folder
#
# Variables: PG_PORT (55432; when it is taken, the next free port is used), PG_DATA (the data
# folder: .pgdata, or the /var/tmp one above),
# PG_DB (livy), PG_USER (livy: the cluster's superuser). The server refuses to run as root, so
# as root it runs as the `postgres` user (or a `livy-pg` system user created for it).
# Exit codes: 0 done, 1 failed, 3 not running (status), 4 PostgreSQL is not installed and cannot
# be installed here (not root, or no apt-get): one line says so.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PG_DATA_SET="${PG_DATA:-}" PG_DATA=""  # PG_DATA is set by locate_data
PG_DB="${PG_DB:-livy}"
PG_USER="${PG_USER:-livy}"
PORT_FILE="" LOG_FILE=""  # in PG_DATA (locate_data)

say() { echo "postgres: $*"; }
die() { echo "postgres: $1" >&2; exit "${2:-1}"; }

find_bin() {
  local dir
  dir="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  if [[ -n "$dir" && -x "$dir/pg_ctl" && -x "$dir/initdb" ]]; then echo "$dir"; return 0; fi
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"; return 0
  fi
  return 1
}

ensure_installed() {
  if BIN="$(find_bin)"; then return 0; fi
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "PostgreSQL is not installed and cannot be installed here (needs root and apt-get): apt-get install postgresql" 4
  fi
  say "installing Debian's postgresql (apt-get)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  BIN="$(find_bin)" || die "apt-get installed postgresql, but no pg_ctl/initdb was found" 1
}

# The server refuses to run as root: as root, run its commands as an unprivileged user
# (created by `pick_user create` when it does not exist yet).
RUN_AS=""
pick_user() {
  [[ "$(id -u)" == 0 ]] || return 0
  if id postgres >/dev/null 2>&1; then RUN_AS=postgres; else RUN_AS=livy-pg; fi
  if [[ "${1:-}" == create ]] && ! id "$RUN_AS" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS"
  fi
}

as_owner() {  # (from /: that user may not be able to enter the checkout)
  if [[ -n "$RUN_AS" ]]; then (cd / && runuser -u "$RUN_AS" -- "$@"); else "$@"; fi
}

# The data folder (after pick_user): PG_DATA; else .pgdata/ in the checkout when the server's
# user can reach it (every parent folder searchable); else a folder of /var/tmp named after the
# checkout path, so each checkout keeps its own cluster.
locate_data() {
  if [[ -n "$PG_DATA_SET" ]]; then
    PG_DATA="$PG_DATA_SET"
    [[ "$PG_DATA" == /* ]] || PG_DATA="$ROOT/$PG_DATA"
  elif [[ -z "$RUN_AS" ]] || as_owner test -x "$ROOT" 2>/dev/null; then
    PG_DATA="$ROOT/.pgdata"
  else
    PG_DATA="/var/tmp/livy-web-pg-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
  fi
  PORT_FILE="$PG_DATA/livy-web.port"
  LOG_FILE="$PG_DATA/server.log"
}

# A folder this user or the server's user owns, not a symbolic link: /var/tmp is writable by
# everyone, and the folder is chmod-ed and chown-ed.
owned_folder() {
  [[ -d "$1" && ! -L "$1" ]] || return 1
  local owner
  owner="$(stat -c %U "$1")"
  [[ "$owner" == "$(id -un)" || ( -n "$RUN_AS" && "$owner" == "$RUN_AS" ) ]]
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { [[ -f "$PG_DATA/PG_VERSION" ]] && as_owner "$BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

url() {
  [[ -f "$PORT_FILE" ]] || die "no cluster in $PG_DATA yet: run scripts/postgres.sh up" 3
  echo "postgres://$PG_USER@127.0.0.1:$(cat "$PORT_FILE")/$PG_DB"
}

init_cluster() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
  say "initialising a cluster in ${PG_DATA#"$ROOT"/}"
  if [[ ! -e "$PG_DATA" && ! -L "$PG_DATA" ]]; then
    mkdir -p "$(dirname "$PG_DATA")"
    mkdir -m 700 "$PG_DATA"  # not -p: fails if someone else created it meanwhile
  fi
  owned_folder "$PG_DATA" ||
    die "$PG_DATA is not a folder of $(id -un)${RUN_AS:+ or $RUN_AS} (or is a symbolic link): remove it or set PG_DATA"
  chmod 700 "$PG_DATA"
  if [[ -n "$RUN_AS" ]]; then chown "$RUN_AS": "$PG_DATA"; fi
  as_owner test -w "$PG_DATA" || die "$RUN_AS cannot write $PG_DATA (a parent folder is not accessible): set PG_DATA to another folder"
  as_owner "$BIN/initdb" -D "$PG_DATA" --username="$PG_USER" --auth=trust --encoding=UTF8 --no-locale >/dev/null
  # Throwaway test cluster: TCP on 127.0.0.1 only, no Unix socket, no durability.
  as_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null <<'EOF'

# scripts/postgres.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
}

up() {
  ensure_installed
  pick_user create
  locate_data
  init_cluster
  if running; then
    say "already running: $(url)"
    return 0
  fi
  local port="${PG_PORT:-55432}" last
  last=$((port + 100))
  while port_in_use "$port"; do
    port=$((port + 1))
    ((port <= last)) || die "no free port from ${PG_PORT:-55432} to $last on 127.0.0.1"
  done
  echo "$port" > "$PORT_FILE"
  if [[ -n "$RUN_AS" ]]; then chown "$RUN_AS": "$PORT_FILE"; fi
  if ! as_owner "$BIN/pg_ctl" -D "$PG_DATA" -l "$LOG_FILE" -o "-p $port" -w -t 60 start >/dev/null; then
    tail -n 20 "$LOG_FILE" >&2 || true
    die "the server did not start (log: ${LOG_FILE#"$ROOT"/}; a damaged throwaway cluster: scripts/postgres.sh destroy, then up)"
  fi
  if [[ -z "$(as_owner "$BIN/psql" -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ]]; then
    as_owner "$BIN/createdb" -h 127.0.0.1 -p "$port" -U "$PG_USER" "$PG_DB"
  fi
  say "running on 127.0.0.1:$port: DATABASE_URL=$(url)"
}

down() {
  BIN="$(find_bin)" || { say "not installed"; return 0; }
  if running; then
    as_owner "$BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
    say "stopped"
  else
    say "not running"
  fi
}

status() {
  BIN="$(find_bin)" || die "not installed" 3
  if running; then
    say "running: DATABASE_URL=$(url)"
  else
    die "not running" 3
  fi
}

pick_user
locate_data
case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  url) url ;;
  destroy) down; rm -rf "$PG_DATA"; say "deleted ${PG_DATA#"$ROOT"/}" ;;
  *) echo "usage: scripts/postgres.sh up|down|status|url|destroy" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Run a real Apache Livy 0.9.0-incubating server on this machine, from the official binary
# distribution (Scala 2.12), with Spark 3.5.6 in local mode from the PyPI pyspark package, Java 17.
#
#   scripts/livy/livy.sh assemble       find the distribution, unpack it, make the pyspark venv
#   scripts/livy/livy.sh start|up       assemble if needed, start in background, wait until it answers
#   scripts/livy/livy.sh stop|down      stop it and its Spark drivers (fine if not running)
#   scripts/livy/livy.sh status         exit 0 if up, 3 if down
#   scripts/livy/livy.sh logs [-f|N]    tail the server log
#   scripts/livy/livy.sh conf           write and print the livy.conf a start uses
#
# The distribution (apache-livy-0.9.0-incubating_2.12-bin.zip) is the first found of:
#   1. LIVY_HOME=<dir>  an installed Livy (jars/, rsc-jars/, repl_2.12-jars/), used in place
#   2. LIVY_DIST=<zip or its unpacked folder>, unpacked (copied) into .livy/home/
#   3. the download cache ${XDG_CACHE_HOME:-~/.cache}/livy-web/apache-livy-0.9.0-incubating_2.12-bin.zip
#      (a file there is trusted as it is), unpacked into .livy/home/
#   4. a download from the Apache archive (LIVY_DOWNLOAD_URL, default
#      https://archive.apache.org/dist/incubator/livy/0.9.0-incubating/<zip>), checked against its
#      .sha512 before it is moved into the cache. (That checksum comes from the same host as the
#      zip, so it catches a damaged download, not a tampered archive; pinning the published value
#      here would, but it could not be obtained when this was written.) A zip from LIVY_DIST or
#      the cache is not hash-checked: it may be a local build of the source, with another hash.
#   With none of these (e.g. offline): exit 4. Building the source (apache/incubator-livy, tag
#   v0.9.0-incubating) gives the zip too, in assembly/target/.
#
# Generated under <repo>/.livy/ (git-ignored): venv/ (pyspark; its pyspark/ folder is SPARK_HOME),
# home/ (the unpacked distribution), conf/ (livy.conf, log4j; conf/spark/spark-defaults.conf),
# logs/livy-server.log, livy.pid (for a port other than 8998: under .livy/port-<port>/, so a second
# server can run beside the first). The assembly is redone when the distribution (path, size,
# mtime) or requirements-spark.txt changes.
#
# Environment: LIVY_PORT (8998; bound to 127.0.0.1 only), LIVY_START_TIMEOUT (seconds to wait for
# the server, 120), LIVY_DRIVER_MEMORY (spark.driver.memory of sessions, 1g). LIVY_BATCH_UPLOAD_DIR
# and LIVY_BATCH_LOCAL_DIRS (from the environment, else from <repo>/.env, as the app reads them;
# default .livy/batch-uploads, relative to <repo>) go into livy.file.local-dir-whitelist, so the
# Jobs page's uploads and allowed local paths are files Livy accepts in batches.
# Needs Java 17 and python3 (with venv) once a distribution is found, and curl only to download one.
# Exit codes: 0 ok, 1 failure, 2 usage, 3 (status) not running, 4 no Livy distribution found.
set -euo pipefail

PROG="livy.sh"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LIVY_DIR="$ROOT/.livy"
UNPACK_DIR="$LIVY_DIR/home"
VENV="$LIVY_DIR/venv"
STAMP="$LIVY_DIR/assembled.stamp"
REQS="$SCRIPT_DIR/requirements-spark.txt"
PORT="${LIVY_PORT:-8998}"
# A server on another port (a second instance, e.g. the restart test's) keeps its own
# configuration, log and pid under .livy/port-<port>/, sharing the distribution and venv.
RUN_DIR="$LIVY_DIR"
[[ "$PORT" == 8998 ]] || RUN_DIR="$LIVY_DIR/port-$PORT"
CONF_DIR="$RUN_DIR/conf"
SPARK_CONF="$CONF_DIR/spark"
LOG_DIR="$RUN_DIR/logs"
LOG_FILE="$LOG_DIR/livy-server.log"
PID_FILE="$RUN_DIR/livy.pid"
HOST="127.0.0.1"
URL="http://$HOST:$PORT"
START_TIMEOUT="${LIVY_START_TIMEOUT:-120}"
DRIVER_MEMORY="${LIVY_DRIVER_MEMORY:-1g}"
SCALA_BINARY="2.12"
LIVY_VERSION="0.9.0-incubating"
ZIP_NAME="apache-livy-${LIVY_VERSION}_${SCALA_BINARY}-bin.zip"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/livy-web"
CACHE_ZIP="$CACHE_DIR/$ZIP_NAME"
DOWNLOAD_URL="${LIVY_DOWNLOAD_URL:-https://archive.apache.org/dist/incubator/livy/$LIVY_VERSION/$ZIP_NAME}"
# Exit code for "no Livy distribution found" (see the header).
EXIT_NO_DIST=4

# The distribution in use (set by find_dist): kind home|zip|dir, its path, and the LIVY_HOME the
# server runs with (the distribution itself for kind home, else the unpacked copy).
DIST_KIND="" DIST_PATH="" RUN_HOME=""

# Paths removed when the script exits (half-done unpacks and downloads).
CLEANUP=()
cleanup() { if ((${#CLEANUP[@]})); then rm -rf "${CLEANUP[@]}"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "$PROG: $*" >&2; exit 1; }
info() { echo "$PROG: $*"; }
# One line saying how to get a distribution, then exit 4.
no_dist() {
  echo "$PROG: no Apache Livy distribution ($1): set LIVY_DIST=<$ZIP_NAME or its unpacked" \
       "folder> or LIVY_HOME=<installed Livy>, or put the zip (from ${DOWNLOAD_URL%/*}/, or built" \
       "from apache/incubator-livy tag v$LIVY_VERSION) at $CACHE_ZIP" >&2
  exit "$EXIT_NO_DIST"
}

need_python() {
  command -v python3 >/dev/null 2>&1 ||
    die "python3 not found: install Python 3.11 with venv (apt-get install python3 python3-venv)"
}
need_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found: install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"
}

# ---------------------------------------------------------------------------------------------
# the distribution
# ---------------------------------------------------------------------------------------------

has_layout() {
  [[ -d "$1/jars" && -d "$1/rsc-jars" && -d "$1/repl_${SCALA_BINARY}-jars" ]]
}

# Checks on a Livy home ($1): the server and REPL jars of the Scala 2.12 build. (kryo-shaded,
# minlog and objenesis are in both rsc-jars/ and repl_2.12-jars/ in the official layout: Livy
# logs "already registered with a different path" and sessions work.)
check_home() {
  local home="$1" what="${2:-$1}"
  if [[ ! -d "$home/repl_${SCALA_BINARY}-jars" && -d "$home/repl_2.11-jars" ]]; then
    die "$what is a Scala 2.11 build of Livy: use $ZIP_NAME (Scala $SCALA_BINARY)"
  fi
  has_layout "$home" || die "$what has no jars/, rsc-jars/ and repl_${SCALA_BINARY}-jars/ folders" \
    "(is it $ZIP_NAME or its unpacked folder?)"
  [[ -n "$(find "$home/jars" -maxdepth 1 -name 'livy-server-*.jar')" ]] ||
    die "$what: no livy-server jar in jars/"
  [[ -n "$(find "$home/repl_${SCALA_BINARY}-jars" -maxdepth 1 -name "livy-repl_${SCALA_BINARY}-*.jar")" ]] ||
    die "$what: no livy-repl_${SCALA_BINARY} jar in repl_${SCALA_BINARY}-jars/"
}

# Find the distribution without downloading (LIVY_HOME, LIVY_DIST, cache); false if none.
find_dist() {
  if [[ -n "${LIVY_HOME:-}" ]]; then
    [[ -d "$LIVY_HOME" ]] || die "LIVY_HOME=$LIVY_HOME is not a folder"
    check_home "$LIVY_HOME" "LIVY_HOME=$LIVY_HOME"
    DIST_KIND=home DIST_PATH="$(cd "$LIVY_HOME" && pwd)" RUN_HOME="$DIST_PATH"
    return 0
  fi
  RUN_HOME="$UNPACK_DIR"
  if [[ -n "${LIVY_DIST:-}" ]]; then
    if [[ -f "$LIVY_DIST" ]]; then
      DIST_KIND=zip
    elif [[ -d "$LIVY_DIST" ]]; then
      DIST_KIND=dir
    else
      die "LIVY_DIST=$LIVY_DIST does not exist (expected $ZIP_NAME or its unpacked folder)"
    fi
    DIST_PATH="$(readlink -f "$LIVY_DIST")"
    [[ "$DIST_PATH" != "$(readlink -f "$UNPACK_DIR")" ]] ||
      die "LIVY_DIST=$LIVY_DIST is where this script unpacks to: use LIVY_HOME=$LIVY_DIST instead"
    return 0
  fi
  if [[ -f "$CACHE_ZIP" ]]; then
    DIST_KIND=zip DIST_PATH="$CACHE_ZIP"
    return 0
  fi
  return 1
}

# The SHA-512 in a .sha512 file ($1), lower case: the `sha512sum` form ("<hex>  name"), the BSD
# form ("SHA512 (name) = <hex>") or `gpg --print-md SHA512` ("name: 8-digit groups" over several
# lines). Every whitespace-separated token made only of hex digits is a part of it.
sha512_of_file() {
  local hex
  hex="$(tr -s ' \t\r\n' '\n' <"$1" | grep -E '^[0-9A-Fa-f]+$' | tr -d '\n' | tr 'A-F' 'a-f')" || true
  [[ ${#hex} -eq 128 ]] || return 1
  echo "$hex"
}

# Download the zip and its .sha512 into the cache; the zip is moved there only once it matches.
download_dist() {
  local tmp err expected actual
  command -v curl >/dev/null 2>&1 || no_dist "none in the cache, and curl is not installed to download it"
  mkdir -p "$CACHE_DIR" 2>/dev/null || no_dist "cannot create the cache folder $CACHE_DIR"
  tmp="$(mktemp "$CACHE_DIR/.$ZIP_NAME.XXXXXX")" || no_dist "cannot write in $CACHE_DIR"
  CLEANUP+=("$tmp" "$tmp.sha512")
  # The small checksum first: without internet this fails at once (short connect timeout).
  if ! err="$(curl -fsS --connect-timeout 5 --max-time 30 -o "$tmp.sha512" "$DOWNLOAD_URL.sha512" 2>&1)"; then
    err="$(echo "$err" | sed 's/^curl: ([0-9]*) //' | tr -s '\r\n' ' ')"
    no_dist "none in the cache, and the download failed: ${err% }"
  fi
  expected="$(sha512_of_file "$tmp.sha512")" ||
    die "$DOWNLOAD_URL.sha512 holds no SHA-512 checksum: $(head -c 200 "$tmp.sha512" | tr -s '\r\n' ' ')"
  info "downloading $DOWNLOAD_URL into $CACHE_DIR"
  curl -fL --connect-timeout 5 --speed-limit 10000 --speed-time 60 --retry 2 --progress-bar \
    -o "$tmp" "$DOWNLOAD_URL" || no_dist "the download of $DOWNLOAD_URL failed (see above)"
  actual="$(sha512sum "$tmp" | awk '{print $1}')"
  [[ "$actual" == "$expected" ]] ||
    die "the downloaded $ZIP_NAME does not match $DOWNLOAD_URL.sha512 (SHA-512 $actual, expected" \
        "$expected); it was deleted: run again, or download it yourself to $CACHE_ZIP"
  mv -f "$tmp" "$CACHE_ZIP"
  info "SHA-512 verified; stored $CACHE_ZIP"
  DIST_KIND=zip DIST_PATH="$CACHE_ZIP" RUN_HOME="$UNPACK_DIR"
}

# Unpack (zip) or copy (folder) the distribution into $1, a fresh folder.
install_dist() {
  local out="$1" top err
  if [[ "$DIST_KIND" == zip ]]; then
    local tmp="$LIVY_DIR/dist.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    CLEANUP+=("$tmp")
    info "unpacking $DIST_PATH"
    local hint=""
    [[ "$DIST_PATH" == "$CACHE_ZIP" ]] && hint="; delete it to download it again"
    err="$(python3 -m zipfile -e "$DIST_PATH" "$tmp" 2>&1)" ||
      die "cannot unpack $DIST_PATH (not a zip, or damaged$hint): $(echo "$err" | tail -n 1)"
    top="$(find "$tmp" -maxdepth 2 -type d -name rsc-jars -printf '%h\n' | head -n 1)"
    [[ -n "$top" ]] || die "$DIST_PATH has no rsc-jars/ folder (is it $ZIP_NAME?)"
    check_home "$top" "$DIST_PATH"
    # zipfile does not keep the file modes: make bin/ usable again.
    if [[ -d "$top/bin" ]]; then chmod +x "$top"/bin/*; fi
    mv "$top" "$out"
    rm -rf "$tmp"
  else
    check_home "$DIST_PATH" "LIVY_DIST=$DIST_PATH"
    info "copying the jar folders of $DIST_PATH"
    mkdir -p "$out"
    cp -a "$DIST_PATH/jars" "$DIST_PATH/rsc-jars" "$DIST_PATH/repl_${SCALA_BINARY}-jars" "$out/"
  fi
}

# ---------------------------------------------------------------------------------------------
# assemble
# ---------------------------------------------------------------------------------------------

# What the assembly depends on: the distribution (kind, path, size, mtime) and the requirements.
assembly_key() {
  {
    echo "layout=3"
    sha256sum "$REQS" | awk '{print $1}'
    echo "dist=$DIST_KIND:$DIST_PATH"
    if [[ -d "$DIST_PATH" ]]; then
      stat -c '%n %s %Y' "$DIST_PATH" "$DIST_PATH/jars" "$DIST_PATH/rsc-jars" \
        "$DIST_PATH/repl_${SCALA_BINARY}-jars"
    else
      stat -c '%s %Y' "$DIST_PATH"
    fi
  } | sha256sum | awk '{print $1}'
}

spark_home() {
  local d
  for d in "$VENV"/lib/python3*/site-packages/pyspark; do
    [[ -x "$d/bin/spark-submit" ]] && { echo "$d"; return 0; }
  done
  return 1
}

is_assembled() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(assembly_key)" ]] && has_layout "$RUN_HOME" &&
    spark_home >/dev/null
}

assemble_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    info "creating Python venv $VENV"
    python3 -m venv "$VENV" ||
      die "python3 -m venv failed: install the venv module (apt-get install python3-venv)"
  fi
  # pip is a no-op (no download) when the pinned versions are already installed.
  info "installing $(grep -Ev '^\s*(#|$)' "$REQS" | tr '\n' ' ')into $VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQS" ||
    die "pip install -r $REQS failed (see above)"
  spark_home >/dev/null || die "pyspark installed but pyspark/bin/spark-submit not found in $VENV"
}

cmd_assemble() {
  # The distribution first: without one, exit 4 before anything else is needed (Java, Python)
  # or downloaded (pyspark).
  find_dist || download_dist
  need_python
  need_java
  if is_assembled; then
    info "already assembled (LIVY_HOME=$RUN_HOME from $DIST_PATH; delete $STAMP to force)"
    return 0
  fi
  if pid_alive "$(read_pid)"; then
    die "Livy is running from the current assembly: stop it first ('$0 down')"
  fi
  mkdir -p "$LIVY_DIR" "$LOG_DIR"
  rm -f "$STAMP"
  local t0=$SECONDS new="$LIVY_DIR/home.new"
  if [[ "$DIST_KIND" == home ]]; then
    info "using LIVY_HOME=$DIST_PATH in place"
  else
    # A failed run leaves no half-unpacked folder behind.
    rm -rf "$new"
    CLEANUP+=("$new")
    install_dist "$new"
  fi
  assemble_venv
  if [[ "$DIST_KIND" != home ]]; then
    rm -rf "$UNPACK_DIR"
    mv "$new" "$UNPACK_DIR"
  fi
  assembly_key >"$STAMP"
  info "assembled in $((SECONDS - t0)) s: LIVY_HOME=$RUN_HOME SPARK_HOME=$(spark_home)" \
       "($(find "$RUN_HOME/jars" -maxdepth 1 -name '*.jar' | wc -l) server jars)"
}

# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------

# The value of the app's variable $1: the environment, else the last "$1=..." line of <repo>/.env
# (quotes removed), else $2.
app_setting() {
  local name="$1" value="${!1:-}"
  if [[ -z "$value" && -f "$ROOT/.env" ]]; then
    value="$(sed -n "s/^[[:space:]]*$name[[:space:]]*=[[:space:]]*//p" "$ROOT/.env" | tail -n 1)"
    value="${value%\"}" value="${value#\"}" value="${value%\'}" value="${value#\'}"
  fi
  echo "${value:-$2}"
}

# livy.file.local-dir-whitelist: the Jobs page's upload folder (LIVY_BATCH_UPLOAD_DIR, relative to
# <repo>, created here) and LIVY_BATCH_LOCAL_DIRS, comma-separated, each ending in "/".
batch_whitelist() {
  local upload extra dir out=()
  upload="$(app_setting LIVY_BATCH_UPLOAD_DIR .livy/batch-uploads)"
  [[ "$upload" == /* ]] || upload="$ROOT/$upload"
  mkdir -p "$upload"
  out+=("$(cd "$upload" && pwd -P)/")
  extra="$(app_setting LIVY_BATCH_LOCAL_DIRS "")"
  IFS=',' read -r -a dirs <<<"$extra"
  for dir in "${dirs[@]}"; do
    dir="$(echo "$dir" | xargs)"
    [[ -n "$dir" ]] && out+=("${dir%/}/")
  done
  local IFS=','
  echo "${out[*]}"
}

write_conf() {
  mkdir -p "$CONF_DIR" "$SPARK_CONF" "$LOG_DIR"
  cat >"$CONF_DIR/livy.conf" <<EOF
# Generated by scripts/livy/livy.sh on every start: edit the script, not this file.
livy.server.host = $HOST
livy.server.port = $PORT
livy.spark.master = local[2]
livy.spark.deploy-mode = client
# Spark's version banner cannot be parsed on OpenJDK; tell Livy the Scala version directly.
livy.spark.scala-version = $SCALA_BINARY
# livy.rsc.* entries are passed on to every session's RSC driver.
livy.rsc.launcher.address = $HOST
livy.rsc.rpc.server.address = $HOST
livy.repl.enable-hive-context = false
livy.server.recovery.mode = off
livy.impersonation.enabled = false
# Idle interactive sessions are closed after this long.
livy.server.session.timeout-check = true
livy.server.session.timeout = 1h
# Finished sessions stay listed (state dead/killed/success) this long.
livy.server.session.state-retain.sec = 600s
livy.server.request-log-retain.days = 1
# Local folders batches may read files from (POST /batches with file/pyFiles/files paths): the
# app's job uploads (LIVY_BATCH_UPLOAD_DIR) and LIVY_BATCH_LOCAL_DIRS.
livy.file.local-dir-whitelist = $(batch_whitelist)
# Lines of spark-submit's stdout, and of its stderr, Livy keeps per batch (GET /batches/{id}/log;
# default 200).
livy.cache-log.size = 2000
EOF
  # Spark driver settings for every session (SPARK_CONF_DIR points here).
  cat >"$SPARK_CONF/spark-defaults.conf" <<EOF
spark.driver.memory            $DRIVER_MEMORY
spark.driver.bindAddress       $HOST
spark.driver.host              $HOST
spark.ui.enabled               true
spark.sql.shuffle.partitions   4
spark.pyspark.python           $VENV/bin/python
spark.pyspark.driver.python    $VENV/bin/python
EOF
  # The Livy server logs through log4j 1.x (log4j.properties on its classpath); the Spark
  # drivers (Spark 3.5) through log4j 2 (log4j2.properties in SPARK_CONF_DIR).
  cat >"$CONF_DIR/log4j.properties" <<'EOF'
log4j.rootCategory=INFO, console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
log4j.logger.org.eclipse.jetty=WARN
EOF
  cat >"$SPARK_CONF/log4j2.properties" <<'EOF'
status = warn
rootLogger.level = info
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
EOF
}

# ---------------------------------------------------------------------------------------------
# process control
# ---------------------------------------------------------------------------------------------

read_pid() { if [[ -f "$PID_FILE" ]]; then tr -dc '0-9' <"$PID_FILE"; fi; }
pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
# GET $URL$1 with Python's urllib (curl is needed only to download the distribution): prints
# the body; fails unless Livy answers 2xx within 3 s.
http_get() {
  python3 - "$URL$1" 2>/dev/null <<'PY'
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
with opener.open(sys.argv[1], timeout=3) as answer:
    sys.stdout.write(answer.read().decode())
PY
}
answers() { http_get /sessions >/dev/null; }

session_count() {
  http_get /sessions |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("total", len(d.get("sessions", []))))' \
      2>/dev/null || echo "?"
}

cmd_start() {
  local pid
  pid="$(read_pid)"
  if pid_alive "$pid"; then
    if answers; then
      info "already running (pid $pid) at $URL"
      return 0
    fi
    die "process $pid from $PID_FILE is alive but $URL/sessions does not answer; run '$0 stop' first"
  fi
  rm -f "$PID_FILE"
  if answers; then
    die "something else already answers on $URL (no pid file): stop it or set LIVY_PORT"
  fi

  cmd_assemble
  write_conf
  local shome
  shome="$(spark_home)"

  # Java 17: the flags bin/livy-server of 0.9.0 adds, and a few more for Kryo/Netty/Hadoop
  # reflection; Livy adds the driver's own flags when it launches Spark.
  local java_opts=(
    -Xmx512m
    -Djava.net.preferIPv4Stack=true
    -XX:+IgnoreUnrecognizedVMOptions
    --add-opens=java.base/java.lang=ALL-UNNAMED
    --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
    --add-opens=java.base/java.nio=ALL-UNNAMED
    --add-opens=java.base/java.util=ALL-UNNAMED
    --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
    --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
    --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens=java.base/java.net=ALL-UNNAMED
    --add-opens=java.base/java.io=ALL-UNNAMED
    --add-opens=java.base/sun.util.calendar=ALL-UNNAMED
    --add-exports=java.base/sun.nio.ch=ALL-UNNAMED
    --add-exports=java.base/sun.net.dns=ALL-UNNAMED
    --add-exports=java.base/sun.net.util=ALL-UNNAMED
    --add-exports=java.base/sun.security.x509=ALL-UNNAMED
    --add-exports=java.base/sun.security.util=ALL-UNNAMED
  )
  {
    echo
    echo "===== $(date -u '+%Y-%m-%dT%H:%M:%SZ') $PROG start on $URL (LIVY_HOME=$RUN_HOME) ====="
  } >>"$LOG_FILE"

  local t0=$SECONDS
  # setsid: the server leads its own process group, so 'stop' also reaches the spark-submit
  # and driver processes it spawns. Livy finds rsc-jars/ and repl_2.12-jars/ through LIVY_HOME.
  (
    cd "$LIVY_DIR"
    export LIVY_HOME="$RUN_HOME" LIVY_CONF_DIR="$CONF_DIR" LIVY_LOG_DIR="$LOG_DIR"
    export SPARK_HOME="$shome" SPARK_CONF_DIR="$SPARK_CONF" SPARK_LOCAL_IP="$HOST"
    export PYSPARK_PYTHON="$VENV/bin/python" PYSPARK_DRIVER_PYTHON="$VENV/bin/python"
    export PATH="$VENV/bin:$PATH"
    unset HADOOP_CONF_DIR YARN_CONF_DIR
    exec setsid java "${java_opts[@]}" -cp "$RUN_HOME/jars/*:$CONF_DIR" \
      org.apache.livy.server.LivyServer
  ) >>"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"
  info "starting Livy (pid $pid), waiting up to ${START_TIMEOUT}s for $URL/sessions"

  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if answers; then
      info "up in $((SECONDS - t0)) s: $URL (pid $pid, log $LOG_FILE)"
      return 0
    fi
    if ! pid_alive "$pid"; then
      echo "$PROG: Livy exited during startup; last log lines:" >&2
      tail -n 40 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      exit 1
    fi
    sleep 1
  done
  echo "$PROG: Livy did not answer on $URL/sessions within ${START_TIMEOUT}s; last log lines:" >&2
  tail -n 40 "$LOG_FILE" >&2
  cmd_stop >&2 || true
  exit 1
}

cmd_stop() {
  local pid
  pid="$(read_pid)"
  if ! pid_alive "$pid"; then
    rm -f "$PID_FILE"
    info "not running"
    return 0
  fi
  info "stopping Livy (pid $pid)"
  # The whole process group: server + spark-submit + Spark drivers of its sessions.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.5; done
  if pid_alive "$pid"; then
    info "still alive after 30 s, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.5; done
  fi
  # Drivers left in the group (they can outlive the server by a moment).
  kill -KILL -- "-$pid" 2>/dev/null || true
  if pid_alive "$pid"; then die "pid $pid did not exit"; fi
  rm -f "$PID_FILE"
  info "stopped"
}

cmd_status() {
  local pid
  pid="$(read_pid)"
  if pid_alive "$pid" && answers; then
    echo "running: pid $pid, $URL, sessions: $(session_count)"
    return 0
  fi
  if pid_alive "$pid"; then
    echo "not running: pid $pid is alive but $URL/sessions does not answer (starting or hung)"
  else
    echo "not running ($URL)"
  fi
  return 3
}

cmd_logs() {
  [[ -f "$LOG_FILE" ]] || die "no log yet ($LOG_FILE)"
  if [[ "${1:-}" == "-f" ]]; then
    exec tail -n 100 -f "$LOG_FILE"
  fi
  tail -n "${1:-100}" "$LOG_FILE"
}

# The header comment (line 2 up to the first line that is not a comment), without the "# ".
usage() {
  awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    assemble) cmd_assemble ;;
    start | up) cmd_start ;;
    stop | down) cmd_stop ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    conf) write_conf; cat "$CONF_DIR/livy.conf" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"

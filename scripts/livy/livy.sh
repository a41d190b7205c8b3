#!/usr/bin/env bash
# Assemble and run a real Apache Livy 0.9.0-incubating server on this machine (Spark 3.5.6 in
# local mode from the PyPI pyspark package, Scala 2.12, Java 17).
#
#   scripts/livy/livy.sh assemble   download/copy everything into .livy/ (idempotent)
#   scripts/livy/livy.sh start|up   assemble if needed, start in background, wait until it answers
#   scripts/livy/livy.sh stop|down  stop it (fine if not running)
#   scripts/livy/livy.sh status     exit 0 if up, 3 if down
#   scripts/livy/livy.sh logs [-f]  tail the server log
#
# Everything downloaded or generated lives under <repo>/.livy/ (git-ignored):
#   .livy/venv/     Python venv with pyspark (its pyspark/ package dir is SPARK_HOME)
#   .livy/home/     LIVY_HOME: jars/, repl_2.12-jars/, rsc-jars/
#   .livy/conf/     livy.conf, log4j configs; .livy/conf/spark/spark-defaults.conf
#   .livy/logs/     livy-server.log;   .livy/livy.pid
#
# Environment:
#   LIVY_PORT        port to listen on (default 8998), bound to 127.0.0.1 only
#   LIVY_DIST        optional: an official binary distribution (apache-livy-0.9.0-incubating_2.12-bin.zip,
#                    or its unpacked folder). When set, its jars are used instead of the Maven copy.
#                    When unset, a zip found at ../shared/livy/apache-livy-*_2.12-bin.zip (beside the
#                    repository) is used.
#
# Exit codes: 0 ok, 1 failure, 2 usage, 3 (status) not running, 4 no Livy distribution can be
# obtained on this machine (Maven Central lacks the artifacts and no LIVY_DIST was found).
#   LIVY_START_TIMEOUT  seconds to wait for the server to answer (default 120)
#   LIVY_DRIVER_MEMORY  spark.driver.memory for sessions (default 1g)
set -euo pipefail

PROG="livy.sh"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LIVY_DIR="$ROOT/.livy"
LIVY_HOME_DIR="$LIVY_DIR/home"
VENV="$LIVY_DIR/venv"
CONF_DIR="$LIVY_DIR/conf"
SPARK_CONF="$CONF_DIR/spark"
LOG_DIR="$LIVY_DIR/logs"
LOG_FILE="$LOG_DIR/livy-server.log"
PID_FILE="$LIVY_DIR/livy.pid"
STAMP="$LIVY_DIR/assembled.stamp"
POM="$SCRIPT_DIR/pom.xml"
REQS="$SCRIPT_DIR/requirements-spark.txt"
PORT="${LIVY_PORT:-8998}"
HOST="127.0.0.1"
URL="http://$HOST:$PORT"
START_TIMEOUT="${LIVY_START_TIMEOUT:-120}"
DRIVER_MEMORY="${LIVY_DRIVER_MEMORY:-1g}"
SCALA_BINARY="2.12"

die() { echo "$PROG: $*" >&2; exit 1; }
# Exit code for "no Livy distribution can be had here" (see the header).
EXIT_NO_DIST=4

# An official zip dropped beside the repository (shared/livy/) stands in for LIVY_DIST.
if [[ -z "${LIVY_DIST:-}" ]]; then
  for candidate in "$ROOT"/../shared/livy/apache-livy-*_2.12-bin.zip; do
    [[ -f "$candidate" ]] && { LIVY_DIST="$candidate"; break; }
  done
fi
info() { echo "$PROG: $*"; }

need_python() {
  command -v python3 >/dev/null 2>&1 ||
    die "python3 not found: install Python 3.11 with venv (apt-get install python3 python3-venv)"
}
need_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found: install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"
}
need_mvn() {
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found: install Maven 3 (apt-get install maven)"
}
need_curl() {
  command -v curl >/dev/null 2>&1 || die "curl not found: install curl (apt-get install curl)"
}

# ---------------------------------------------------------------------------------------------
# assemble
# ---------------------------------------------------------------------------------------------

# What the assembly depends on: the pom, the requirements, and LIVY_DIST if given.
assembly_key() {
  {
    echo "layout=2"
    sha256sum "$POM" "$REQS" | awk '{print $1}'
    if [[ -n "${LIVY_DIST:-}" ]]; then
      echo "dist=$(readlink -f "$LIVY_DIST")"
      stat -c '%s %Y' "$LIVY_DIST" 2>/dev/null || true
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
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(assembly_key)" ]] &&
    [[ -d "$LIVY_HOME_DIR/jars" && -d "$LIVY_HOME_DIR/rsc-jars" &&
       -d "$LIVY_HOME_DIR/repl_${SCALA_BINARY}-jars" ]] &&
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

# Copy the jars with Maven into $1 (a fresh folder).
assemble_jars_maven() {
  local out="$1" mlog="$LIVY_DIR/maven-assemble.log"
  need_mvn
  info "copying Livy jars from Maven Central (log: $mlog)"
  if ! mvn -B -U -f "$POM" -Dlivy.assembly.dir="$out" generate-resources >"$mlog" 2>&1; then
    grep -E '^\[ERROR\]' "$mlog" | head -n 15 >&2 || true
    echo "$PROG: Maven could not copy the Livy jars (full log: $mlog)." >&2
    if grep -q 'org.apache.livy' "$mlog"; then
      echo "$PROG: the org.apache.livy 0.9.0-incubating artifacts are not available from the Maven" \
           "repository this machine reaches. Point LIVY_DIST at the official binary distribution" \
           "(apache-livy-0.9.0-incubating_2.12-bin.zip or its unpacked folder) and re-run." >&2
      exit "$EXIT_NO_DIST"
    fi
    exit 1
  fi
}

# Take the jar folders from an official binary distribution (zip or unpacked folder) into $1.
assemble_jars_dist() {
  local out="$1" src="$LIVY_DIST" top
  [[ -e "$src" ]] || die "LIVY_DIST=$src does not exist"
  if [[ -f "$src" ]]; then
    info "unpacking $src"
    local tmp="$LIVY_DIR/dist.tmp"
    rm -rf "$tmp"; mkdir -p "$tmp"
    python3 -m zipfile -e "$src" "$tmp" || die "cannot unpack $src (not a zip?)"
    top="$(dirname "$(find "$tmp" -maxdepth 3 -type d -name rsc-jars | head -n 1)")"
    [[ "$top" != "." && -d "$top/jars" ]] || die "$src has no jars/ + rsc-jars/ folders"
  else
    top="$src"
  fi
  [[ -d "$top/jars" && -d "$top/rsc-jars" && -d "$top/repl_${SCALA_BINARY}-jars" ]] ||
    die "$src has no jars/, rsc-jars/ and repl_${SCALA_BINARY}-jars/ (is it the _2.12 build?)"
  mkdir -p "$out"
  cp -a "$top/jars" "$top/rsc-jars" "$top/repl_${SCALA_BINARY}-jars" "$out/"
  rm -rf "$LIVY_DIR/dist.tmp"
}

# Sanity checks on an assembled LIVY_HOME ($1).
check_jars() {
  local home="$1" bad dup
  bad="$(find "$home" -name '*_2.11*.jar' -printf '%P\n' | sort)"
  [[ -z "$bad" ]] || die "Scala 2.11 jars in the assembly (add exclusions to $POM): $(echo $bad)"
  [[ -n "$(find "$home/jars" -name 'livy-server-*.jar')" ]] || die "no livy-server jar in $home/jars"
  [[ -n "$(find "$home/repl_${SCALA_BINARY}-jars" -name "livy-repl_${SCALA_BINARY}-*.jar")" ]] ||
    die "no livy-repl_${SCALA_BINARY} jar in $home/repl_${SCALA_BINARY}-jars"
  # Both folders go into spark.jars: a name in both makes Spark fail with
  # "File ... was already registered with a different path".
  dup="$(comm -12 <(ls "$home/rsc-jars" | sort) <(ls "$home/repl_${SCALA_BINARY}-jars" | sort))"
  [[ -z "$dup" ]] || die "jar names in both rsc-jars/ and repl_${SCALA_BINARY}-jars/: $(echo $dup)"
  # jackson-module-scala refuses to load with a jackson-databind of another minor version.
  local jms jdb
  jms="$(ls "$home/jars" | sed -n "s/^jackson-module-scala_${SCALA_BINARY}-\([0-9]*\.[0-9]*\)\..*/\1/p" | head -n1)"
  jdb="$(ls "$home/jars" | sed -n 's/^jackson-databind-\([0-9]*\.[0-9]*\)\..*/\1/p' | head -n1)"
  if [[ -n "$jms" && -n "$jdb" && "$jms" != "$jdb" ]]; then
    die "jackson-module-scala $jms vs jackson-databind $jdb in jars/: set <jackson.version> in $POM to a $jdb.x release"
  fi
}

cmd_assemble() {
  need_python
  need_java
  if is_assembled; then
    info "already assembled in $LIVY_DIR (delete $STAMP to force)"
    return 0
  fi
  if [[ -n "${LIVY_DIST:-}" ]]; then
    [[ -e "$LIVY_DIST" ]] || die "LIVY_DIST=$LIVY_DIST does not exist"
  else
    need_mvn
  fi
  mkdir -p "$LIVY_DIR" "$LOG_DIR"
  local t0=$SECONDS new="$LIVY_DIR/home.new"
  # A failed run leaves no half-assembled folder behind (downloads stay in ~/.m2 and the venv).
  trap 'rm -rf "$LIVY_DIR/home.new" "$LIVY_DIR/dist.tmp"' EXIT
  # Jars first: when no Livy distribution can be had, fail before downloading pyspark.
  rm -rf "$new"
  if [[ -n "${LIVY_DIST:-}" ]]; then
    assemble_jars_dist "$new"
  else
    assemble_jars_maven "$new"
  fi
  check_jars "$new"
  assemble_venv
  rm -rf "$LIVY_HOME_DIR" "$LIVY_DIR/maven-target"
  mv "$new" "$LIVY_HOME_DIR"
  assembly_key >"$STAMP"
  trap - EXIT
  info "assembled in $((SECONDS - t0)) s: LIVY_HOME=$LIVY_HOME_DIR SPARK_HOME=$(spark_home)" \
       "($(ls "$LIVY_HOME_DIR/jars" | wc -l) server jars)"
}

# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------

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
  # Livy logs through log4j 1.x API or log4j 2 depending on the release: provide both.
  cat >"$CONF_DIR/log4j.properties" <<'EOF'
log4j.rootCategory=INFO, console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
log4j.logger.org.eclipse.jetty=WARN
EOF
  cat >"$CONF_DIR/log4j2.properties" <<'EOF'
status = warn
rootLogger.level = info
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
logger.jetty.name = org.eclipse.jetty
logger.jetty.level = warn
EOF
  cp "$CONF_DIR/log4j2.properties" "$SPARK_CONF/log4j2.properties"
}

# ---------------------------------------------------------------------------------------------
# process control
# ---------------------------------------------------------------------------------------------

read_pid() { [[ -f "$PID_FILE" ]] && tr -dc '0-9' <"$PID_FILE" || true; }
pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
answers() { [[ "$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$URL/sessions" 2>/dev/null)" == 200 ]]; }

session_count() {
  curl -s -m 5 "$URL/sessions" 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("total", len(d.get("sessions", []))))' \
      2>/dev/null || echo "?"
}

cmd_start() {
  need_python; need_java; need_curl
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

  # Java 17: the server JVM needs these for Kryo/Netty/Hadoop reflection; Livy 0.9 adds the
  # driver's own --add-opens when it launches Spark.
  local java_opts=(
    -Xmx512m
    -Djava.net.preferIPv4Stack=true
    --add-opens=java.base/java.lang=ALL-UNNAMED
    --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
    --add-opens=java.base/java.nio=ALL-UNNAMED
    --add-opens=java.base/java.util=ALL-UNNAMED
    --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
    --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
    --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens=java.base/java.net=ALL-UNNAMED
    --add-opens=java.base/java.io=ALL-UNNAMED
    --add-exports=java.base/sun.nio.ch=ALL-UNNAMED
  )
  {
    echo
    echo "===== $(date -u '+%Y-%m-%dT%H:%M:%SZ') $PROG start on $URL ====="
  } >>"$LOG_FILE"

  local t0=$SECONDS
  # setsid: the server leads its own process group, so 'stop' also reaches the spark-submit
  # and driver processes it spawns.
  (
    cd "$LIVY_DIR"
    export LIVY_HOME="$LIVY_HOME_DIR" LIVY_CONF_DIR="$CONF_DIR" LIVY_LOG_DIR="$LOG_DIR"
    export SPARK_HOME="$shome" SPARK_CONF_DIR="$SPARK_CONF" SPARK_LOCAL_IP="$HOST"
    export PYSPARK_PYTHON="$VENV/bin/python" PYSPARK_DRIVER_PYTHON="$VENV/bin/python"
    export PATH="$VENV/bin:$PATH"
    unset HADOOP_CONF_DIR YARN_CONF_DIR
    exec setsid java "${java_opts[@]}" -cp "$LIVY_HOME_DIR/jars/*:$CONF_DIR" \
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
  pid_alive "$pid" && die "pid $pid did not exit"
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

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
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
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"

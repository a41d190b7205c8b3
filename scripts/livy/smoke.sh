#!/usr/bin/env bash
# Smoke test of a running Livy server (start it with scripts/livy/livy.sh start):
#   - creates a pyspark session and waits until it is idle
#   - runs spark.range(100).selectExpr("sum(id)").collect() and checks 4950 in the output
#   - runs spark.range(100).selectExpr("sum(id) AS total").show()
#   - runs spark.createDataFrame([(1,'a')],['x','y']).show()   (reported, LIVY-863 on 0.8)
#   - runs 1/0 and checks a ZeroDivisionError with a traceback
#   - runs import time; time.sleep(120), cancels it and waits for state "cancelled"
#   - deletes the session (also on failure / Ctrl-C)
# Prints every JSON response. Exit 0 when all checks pass.
#
# Environment: LIVY_URL (default http://127.0.0.1:${LIVY_PORT:-8998}),
#   SMOKE_SESSION_TIMEOUT (s, default 240), SMOKE_STATEMENT_TIMEOUT (s, default 120),
#   SMOKE_SKIP_CANCEL=1 to skip the cancellation check.
set -euo pipefail

PROG="smoke.sh"
URL="${LIVY_URL:-http://127.0.0.1:${LIVY_PORT:-8998}}"
SESSION_TIMEOUT="${SMOKE_SESSION_TIMEOUT:-240}"
STATEMENT_TIMEOUT="${SMOKE_STATEMENT_TIMEOUT:-120}"
FAILED=0
SID=""

die() { echo "$PROG: $*" >&2; exit 1; }
command -v curl >/dev/null 2>&1 || die "curl not found: install curl (apt-get install curl)"
command -v python3 >/dev/null 2>&1 || die "python3 not found: install python3"

# json FIELD...: read JSON on stdin, print the value at the path (a.b.0.c), "" if absent.
json() {
  python3 -c '
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split(".") if sys.argv[1] else []:
    if isinstance(d, list):
        d = d[int(k)] if int(k) < len(d) else None
    elif isinstance(d, dict):
        d = d.get(k)
    if d is None:
        break
print("" if d is None else (json.dumps(d) if isinstance(d, (dict, list)) else d))
' "$1"
}
# JSON-encode a Python code string as {"code": ..., "kind": "pyspark"}.
code_body() { python3 -c 'import json,sys; print(json.dumps({"code": sys.argv[1], "kind": "pyspark"}))' "$1"; }
pretty() { python3 -m json.tool 2>/dev/null || cat; }

api() { # METHOD PATH [BODY]
  local method="$1" path="$2" body="${3:-}"
  if [[ -n "$body" ]]; then
    curl -sS -m 30 -X "$method" -H 'Content-Type: application/json' -H 'X-Requested-By: smoke' \
      --data "$body" "$URL$path"
  else
    curl -sS -m 30 -X "$method" -H 'X-Requested-By: smoke' "$URL$path"
  fi
}

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

cleanup() {
  if [[ -n "$SID" ]]; then
    echo "--- DELETE /sessions/$SID"
    api DELETE "/sessions/$SID" || true
    echo
    SID=""
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$URL/sessions")" == 200 ]] ||
  die "no Livy answering at $URL/sessions (start it: scripts/livy/livy.sh start)"

# ---- session ---------------------------------------------------------------------------------
NAME="smoke-$(date +%s)"
echo "--- POST /sessions (kind pyspark, name $NAME)"
t0=$(date +%s.%N)
resp="$(api POST /sessions "{\"kind\": \"pyspark\", \"name\": \"$NAME\"}")"
echo "$resp" | pretty
SID="$(echo "$resp" | json id)"
[[ -n "$SID" ]] || die "session not created"
echo "session name echoed: '$(echo "$resp" | json name)'"

states=() last="" deadline=$(( $(date +%s) + SESSION_TIMEOUT ))
while :; do
  st="$(api GET "/sessions/$SID/state" | json state)"
  [[ "$st" != "$last" ]] && { states+=("$st"); last="$st"; }
  case "$st" in
    idle) break ;;
    error | dead | killed | success)
      echo "--- session log"; api GET "/sessions/$SID/log?size=200" | json log | python3 -c \
        'import json,sys; print("\n".join(json.loads(sys.stdin.read() or "[]")))' || true
      die "session $SID ended in state $st (states: ${states[*]})" ;;
  esac
  (( $(date +%s) < deadline )) || die "session $SID not idle after ${SESSION_TIMEOUT}s (states: ${states[*]})"
  sleep 0.5
done
t1=$(date +%s.%N)
echo "session $SID idle after $(elapsed "$t0" "$t1") s; states seen: ${states[*]}"
echo "--- GET /sessions/$SID"
api GET "/sessions/$SID" | pretty

# ---- statements ------------------------------------------------------------------------------
# run CODE: submit, poll until final; sets STMT (final JSON) and STMT_STATES.
run() {
  local code="$1" r stid st last="" deadline
  echo "--- POST /sessions/$SID/statements: $code"
  r="$(api POST "/sessions/$SID/statements" "$(code_body "$code")")"
  echo "$r" | pretty
  stid="$(echo "$r" | json id)"
  [[ -n "$stid" ]] || { STMT="$r"; STMT_STATES="(not created)"; return 0; }
  STMT_STATES="" deadline=$(( $(date +%s) + STATEMENT_TIMEOUT ))
  while :; do
    r="$(api GET "/sessions/$SID/statements/$stid")"
    st="$(echo "$r" | json state)"
    [[ "$st" != "$last" ]] && { STMT_STATES+="$st "; last="$st"; }
    case "$st" in available | error | cancelled) break ;; esac
    (( $(date +%s) < deadline )) || { echo "statement $stid still $st after ${STATEMENT_TIMEOUT}s"; break; }
    sleep 0.3
  done
  STMT="$r"
  echo "--- GET /sessions/$SID/statements/$stid (states seen: $STMT_STATES)"
  echo "$r" | pretty
}

run 'spark.range(100).selectExpr("sum(id)").collect()'
if [[ "$(echo "$STMT" | json output.status)" == ok && "$(echo "$STMT" | json output.data.text/plain)" == *4950* ]]; then
  pass "sum(id) = 4950"
else
  fail "sum(id): expected 4950 in output"
fi

run 'spark.range(100).selectExpr("sum(id) AS total").show()'
if [[ "$(echo "$STMT" | json output.data.text/plain)" == *"| 4950|"* ]]; then
  pass "show() printed the table"
else
  fail "show(): table with 4950 not printed"
fi

run "spark.createDataFrame([(1,'a')],['x','y']).show()"
if [[ "$(echo "$STMT" | json output.status)" == ok ]]; then
  pass "createDataFrame(...).show()"
else
  fail "createDataFrame(...).show(): $(echo "$STMT" | json output.ename): $(echo "$STMT" | json output.evalue)"
fi

run '1/0'
if [[ "$(echo "$STMT" | json output.status)" == error && "$(echo "$STMT" | json output.ename)" == ZeroDivisionError &&
      -n "$(echo "$STMT" | json output.traceback)" ]]; then
  pass "1/0 -> ZeroDivisionError with traceback (statement state: $(echo "$STMT" | json state))"
else
  fail "1/0: expected output.status=error, ename=ZeroDivisionError and a traceback"
fi

# ---- cancellation ----------------------------------------------------------------------------
if [[ "${SMOKE_SKIP_CANCEL:-0}" != 1 ]]; then
  code='import time; time.sleep(120)'
  echo "--- POST /sessions/$SID/statements: $code"
  r="$(api POST "/sessions/$SID/statements" "$(code_body "$code")")"
  echo "$r" | pretty
  stid="$(echo "$r" | json id)"
  seen="" last="" deadline=$(( $(date +%s) + 60 ))
  while :; do   # wait until it is really running
    st="$(api GET "/sessions/$SID/statements/$stid" | json state)"
    [[ "$st" != "$last" ]] && { seen+="$st "; last="$st"; }
    [[ "$st" == running ]] && break
    (( $(date +%s) < deadline )) || break
    sleep 0.3
  done
  sleep 2
  echo "--- POST /sessions/$SID/statements/$stid/cancel"
  c0=$(date +%s.%N)
  api POST "/sessions/$SID/statements/$stid/cancel"
  echo
  deadline=$(( $(date +%s) + 90 ))
  while :; do
    r="$(api GET "/sessions/$SID/statements/$stid")"
    st="$(echo "$r" | json state)"
    [[ "$st" != "$last" ]] && { seen+="$st "; last="$st"; }
    [[ "$st" == cancelled || "$st" == available || "$st" == error ]] && break
    (( $(date +%s) < deadline )) || break
    sleep 0.2
  done
  c1=$(date +%s.%N)
  echo "--- GET /sessions/$SID/statements/$stid (states seen: $seen)"
  echo "$r" | pretty
  if [[ "$st" == cancelled ]]; then
    pass "statement cancelled $(elapsed "$c0" "$c1") s after the cancel request"
  else
    fail "cancel: statement ended in state '$st', expected cancelled"
  fi
  echo "session state after cancel: $(api GET "/sessions/$SID/state" | json state)"
fi

cleanup
if [[ $FAILED == 0 ]]; then echo "smoke: all checks passed"; else echo "smoke: $FAILED check(s) failed"; fi
exit $(( FAILED > 0 ))

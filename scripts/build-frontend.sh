#!/usr/bin/env bash
# Build the browser bundles from frontend/ (the app's ES modules in frontend/src/app/, and the
# pinned npm packages of package.json + package-lock.json) into static/livy/, where they are
# committed: serving the app needs no Node and loads nothing from a CDN.
#
#   scripts/build-frontend.sh          install (npm ci) and rebuild, in static/livy/:
#                                        app.min.js                       the app (window.LivyNotebook)
#                                        vendor/codemirror-bundle.min.js  window.LivyEditor (CodeMirror 6)
#                                        vendor/chart-bundle.min.js       window.Chart (Chart.js 4)
#                                        vendor/codemirror-LICENSE.txt, vendor/chartjs-LICENSE.txt
#                                      then commit those files.
#   scripts/build-frontend.sh --check  rebuild into a temporary directory and exit 1 if the
#                                      committed files differ from the rebuild (byte for byte;
#                                      the build is deterministic). Exits 0 with "skipped" when
#                                      node (>= 18) or npm is not installed, so a machine without
#                                      Node can still run the tests.
#
# Dependencies are installed with `npm ci --ignore-scripts` into frontend/node_modules/
# (git-ignored); the install is skipped when node_modules already matches package-lock.json.
# It needs the npm registry (or npm's cache) the first time. To upgrade a package: change its
# exact version in frontend/package.json, run `npm install` in frontend/, then this script.
#
# The bundles contain no eval / new Function (checked here), so they run under a strict
# Content-Security-Policy; CodeMirror injects <style> elements, so style-src needs
# 'unsafe-inline'.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FRONTEND="$ROOT/frontend"
STATIC="$ROOT/static/livy"
BUNDLES=(app.min.js vendor/codemirror-bundle.min.js vendor/chart-bundle.min.js)
OUTPUTS=("${BUNDLES[@]}" vendor/codemirror-LICENSE.txt vendor/chartjs-LICENSE.txt)

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "build-frontend: unknown argument '$1' (use --check or nothing)" >&2; exit 2 ;;
esac

node_ok=1
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  node_ok=0; why="node and npm are needed"
elif ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)'; then
  node_ok=0; why="node >= 18 is needed (found $(node --version))"
fi
if [[ $node_ok == 0 ]]; then
  if [[ $mode == check ]]; then
    echo "build-frontend: skipped: $why to rebuild the vendored bundles (committed ones not checked)"
    exit 0
  fi
  echo "build-frontend: $why (e.g. apt-get install nodejs npm)" >&2
  exit 1
fi

# One run at a time per checkout (npm ci replaces node_modules).
if command -v flock >/dev/null 2>&1; then
  lock="${TMPDIR:-/tmp}/livy-web-frontend-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1).lock"
  exec 9>"$lock"
  flock 9
fi

# Exact pins only: no ranges in package.json.
node -e '
  const p = require(process.argv[1]);
  const bad = Object.entries({...p.dependencies, ...p.devDependencies})
    .filter(([, v]) => !/^\d+\.\d+\.\d+$/.test(v)).map(([k, v]) => k + "@" + v);
  if (bad.length) { console.error("build-frontend: frontend/package.json must pin exact versions: " + bad.join(", ")); process.exit(1); }
' "$FRONTEND/package.json"

stamp="$FRONTEND/node_modules/.livy-web-install"
want="$(cat "$FRONTEND/package.json" "$FRONTEND/package-lock.json" | cksum | cut -d' ' -f1) node $(node --version)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -d "$FRONTEND/node_modules/esbuild" ]]; then
  echo "build-frontend: npm ci in frontend/"
  if ! (cd "$FRONTEND" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error); then
    echo "build-frontend: npm ci failed (is the npm registry reachable?)" >&2
    exit 1
  fi
  printf '%s\n' "$want" >"$stamp"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/livy-frontend.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

start=$(date +%s%N)
(cd "$FRONTEND" && node build.mjs "$tmp" >/dev/null)
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))

for f in "${BUNDLES[@]}"; do
  if grep -q -E '(^|[^A-Za-z0-9_$.])(eval\(|new Function\b|Function\()' "$tmp/$f"; then
    echo "build-frontend: $f contains eval / new Function: it would break the Content-Security-Policy" >&2
    exit 1
  fi
done

if [[ $mode == check ]]; then
  differ=()
  for f in "${OUTPUTS[@]}"; do
    if [[ ! -f "$STATIC/$f" ]]; then differ+=("$f (missing)")
    elif ! cmp -s "$tmp/$f" "$STATIC/$f"; then differ+=("$f"); fi
  done
  if (( ${#differ[@]} )); then
    echo "build-frontend: FAILED: static/livy/ differs from a rebuild of frontend/ for: ${differ[*]}" >&2
    echo "build-frontend: run scripts/build-frontend.sh and commit static/livy/ (and frontend/ changes)" >&2
    exit 1
  fi
  echo "build-frontend: OK: the committed bundles match a rebuild (${elapsed_ms} ms)"
  exit 0
fi

mkdir -p "$STATIC/vendor"
for f in "${OUTPUTS[@]}"; do cp "$tmp/$f" "$STATIC/$f"; done
for f in "${OUTPUTS[@]}"; do
  printf 'build-frontend: static/livy/%-33s %8d bytes\n' "$f" "$(wc -c <"$STATIC/$f")"
done
echo "build-frontend: built in ${elapsed_ms} ms"

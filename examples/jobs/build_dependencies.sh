#!/usr/bin/env bash
# Zip examples/jobs/dependencies/ into packages.zip (or the path given), the file sent with
# spark-submit --py-files (Livy: pyFiles): the package sits at the zip's top level, so the job's
# "from dependencies.transforms import ..." works on every node. Compiled files are left out.
#   ./build_dependencies.sh [output.zip]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$HERE/packages.zip}"
[[ "$OUT" == /* ]] || OUT="$PWD/$OUT"
python3 - "$HERE" "$OUT" <<'PY'
import os, sys, zipfile

here, out = sys.argv[1], sys.argv[2]
tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
    for folder, dirs, files in os.walk(os.path.join(here, "dependencies")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(folder, name)
            archive.write(path, os.path.relpath(path, here))
os.replace(tmp, out)
print(f"wrote {out}")
PY

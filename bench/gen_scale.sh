#!/bin/sh
# bench/gen_scale.sh - how the manifest scales.
#
#   sh bench/gen_scale.sh [MODULES]
#
# 1. The synthetic project of bench/cache.sh (MODULES modules, default
#    10,000, and a tests/ module per package): `tach gen` cold (no cache)
#    and again with nothing changed, the manifest's size and edge count,
#    and `ninja -n test` (Ninja loading the manifest and stat()ing every
#    input: the no-op's floor).
# 2. A suite of 2,000 tests (40 files x 50): the same figures.
# Best of 3 for the repeated runs.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
python=${TACH_PYTHON:-/usr/bin/python3}
modules=${1:-10000}
tach=$top/build/tach
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# ms CMD...: wall time of one run in milliseconds
ms() {
	"$python" - "$@" <<'PY'
import subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print("%.0f" % ((time.perf_counter() - t) * 1000))
PY
}

best3() {
	a=$(ms "$@"); b=$(ms "$@"); c=$(ms "$@")
	printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -n | head -1
}

report() {
	dir=$1
	cold=$(ms "$tach" gen --root "$dir" --python "$python")
	warm=$(best3 "$tach" gen --root "$dir" --python "$python")
	size=$(wc -c <"$dir/build.ninja")
	edges=$(grep -c '^build ' "$dir/build.ninja")
	tests=$(grep -c '^build \.tach/t/' "$dir/build.ninja")
	dry=$(best3 ninja -C "$dir" -n test)
	echo "$2: $tests tests; tach gen cold ${cold} ms, unchanged ${warm} ms; manifest" \
	    "$((size / 1024)) KiB, $edges build lines; ninja -n test ${dry} ms"
}

"$python" "$top/bench/gen_project.py" "$tmp/big" --modules "$modules" >/dev/null
report "$tmp/big" "$modules-module project"

mkdir "$tmp/suite"
"$python" - "$tmp/suite" <<'PY'
import os, sys
root = sys.argv[1]
for f in range(40):
    with open(os.path.join(root, "test_m%02d.py" % f), "w") as fh:
        fh.write("import json, os, re\n\n")
        for t in range(50):
            fh.write("def test_%d():\n    assert %d + 1 == %d\n\n" % (t, t, t + 1))
PY
report "$tmp/suite" "2,000-test suite"

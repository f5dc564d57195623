#!/bin/sh
# tests/stdlib.sh - runs the analyzer over every .py file of the installed
# CPython standard library (thousands of real files, a few deliberately
# broken, several encodings). It must finish with status 0, print valid JSON
# listing every file, and reach the expected verdicts on well-known modules.
# Under ./configure --sanitize, ASan/LSan/UBSan make any leak or UB fatal.

top=$(cd "$(dirname "$0")/.." && pwd)
tach=$top/build/tach
python=${TACH_PYTHON:-/usr/bin/python3}
stdlib=${TACH_STDLIB:-$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

if [ ! -d "$stdlib" ]; then
	echo "SKIP stdlib: no standard library at '$stdlib'"
	exit 0
fi

for jobs in 1 2; do
	"$tach" analyze --root "$stdlib" --format json --no-cache -q -j $jobs >"$tmp/out.json" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL stdlib/analyze-j$jobs: exit status $rc"
		head -50 "$tmp/err" | sed 's/^/    /'
		exit 1
	fi
	if [ -s "$tmp/err" ]; then
		echo "FAIL stdlib/analyze-j$jobs: unexpected stderr"
		head -50 "$tmp/err" | sed 's/^/    /'
		exit 1
	fi
	echo "PASS stdlib/analyze-j$jobs"
	cp "$tmp/out.json" "$tmp/out-j$jobs.json"
done

if cmp -s "$tmp/out-j1.json" "$tmp/out-j2.json"; then
	echo "PASS stdlib/deterministic"
else
	echo "FAIL stdlib/deterministic: -j1 and -j2 differ"
fi

# the strict policy too: any toxic import counts
"$tach" analyze --root "$stdlib" --format json --no-cache -q --policy strict >"$tmp/out-strict.json" 2>"$tmp/err" ||
	echo "FAIL stdlib/analyze-strict: exit status $?"

# the files it saw are exactly the .py files under the stdlib (less caches)
"$python" - "$stdlib" "$tmp/out-j1.json" "$tmp/out-strict.json" <<'PY'
import json, os, sys
root, out, out_strict = sys.argv[1], sys.argv[2], sys.argv[3]
doc = json.load(open(out))
mods = {m["path"]: m for m in doc["modules"]}
strict = {m["path"]: m for m in json.load(open(out_strict))["modules"]}
want = set()
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if not x.startswith(".") and x != "__pycache__"
               and not os.path.exists(os.path.join(d, x, "pyvenv.cfg"))
               and not (d == root and x in ("build", "site-packages", "dist-packages"))]
    for f in files:
        if f.endswith(".py") and not f.startswith("."):
            want.add(os.path.relpath(os.path.join(d, f), root))
def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + "stdlib/" + name + (": " + detail if detail and not ok else ""))
missing = sorted(want - set(mods))
check("all-files", not missing and len(mods) > 500, "missing %s" % missing[:5])
expect_toxic = {"threading.py": "_thread", "subprocess.py": "signal",
                "socketserver.py": "socket", "concurrent/futures/thread.py": "threading"}
for path, what in expect_toxic.items():
    m = strict.get(path)
    check("toxic " + path, m is not None and m["toxic"] and m["direct"]
          and any(what in r for r in m["reasons"]), json.dumps(m and m["reasons"]))
    # precise: importing what these import starts nothing; the causes are
    # recorded, and none of them counts
    m = mods.get(path)
    check("precise " + path, m is not None and not m["direct"]
          and any(c["name"].startswith(what) and not c["counts"] and c["why"] for c in m["causes"]),
          json.dumps(m and m["causes"])[:300])
# a module whose closure is plain computation stays safe
for path in ("colorsys.py", "bisect.py", "keyword.py"):
    m = mods.get(path)
    check("safe " + path, m is not None and not m["toxic"], json.dumps(m and m["reasons"]))
# every file here compiles with CPython: a parse error would be the analyzer's
bad = [m["path"] for m in doc["modules"] if any(c["kind"] == "parse-error" for c in m["causes"])]
import warnings
warnings.simplefilter("ignore")
def compiles(path):
    try:
        compile(open(os.path.join(root, path), "rb").read(), path, "exec")
        return True
    except (SyntaxError, ValueError):
        return False
check("no-false-parse-errors", all(not compiles(p) for p in bad), "%s" % bad[:5])
check("transitive", any(m["toxic"] and not m["direct"] for m in strict.values()))
PY

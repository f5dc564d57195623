#!/bin/sh
# bench/analyze.sh - analysis throughput over the installed CPython stdlib,
# side by side in one run with a bare tree-sitter parse of the same files and
# with CPython's ast.parse. Run from the top directory after `ninja`:
#
#   sh bench/analyze.sh [DIR]
#
# Each figure is the best of 5 runs. "tach analyze" is the whole command
# (scan, read, parse, rules, graph, JSON), so it is compared with a parse
# that has its input already in memory.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
python=${TACH_PYTHON:-/usr/bin/python3}
dir=${1:-$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}
ninja -C "$top" build/tach build/bench/parse_bench >/dev/null

bare=$("$top/build/bench/parse_bench" -n 5 "$dir")
bytes=$(echo "$bare" | sed 's/.*bytes=\([0-9]*\).*/\1/')
files=$(echo "$bare" | sed 's/.*files=\([0-9]*\).*/\1/')
mbps() { echo "$1" | sed 's/.*mbps=\([0-9.]*\).*/\1/'; }

best_of() {
	# best_of N CMD...: the fastest wall time of N runs, in seconds
	n=$1; shift
	"$python" - "$n" "$@" <<'PY'
import subprocess, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
best = 1e9
for _ in range(n):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    best = min(best, time.perf_counter() - t)
print("%.4f" % best)
PY
}

astp=$("$python" - "$dir" <<'PY'
import ast, os, sys, time, warnings
root = sys.argv[1]
srcs = []
for d, dirs, fs in os.walk(root):
    dirs[:] = [x for x in dirs if not x.startswith(".") and x != "__pycache__"]
    srcs += [open(os.path.join(d, f), "rb").read() for f in fs if f.endswith(".py") and not f.startswith(".")]
warnings.simplefilter("ignore")
best = 1e9
for _ in range(5):
    t = time.perf_counter()
    for s in srcs:
        try:
            ast.parse(s)
        except (SyntaxError, ValueError):
            pass
    best = min(best, time.perf_counter() - t)
n = sum(map(len, srcs))
print("files=%d bytes=%d seconds=%.4f mbps=%.2f" % (len(srcs), n, best, n / best / 1e6))
PY
)
an1=$("$top/build/bench/parse_bench" --analyze -n 5 "$dir")
an2=$("$top/build/bench/parse_bench" --analyze -j 2 -n 5 "$dir")
t1=$(best_of 5 "$top/build/tach" analyze --no-cache -q -j 1 --format json --root "$dir")
t2=$(best_of 5 "$top/build/tach" analyze --no-cache -q -j 2 --format json --root "$dir")
cli1=$(echo "$bytes $t1" | awk '{printf "%.2f", $1 / $2 / 1e6}')
cli2=$(echo "$bytes $t2" | awk '{printf "%.2f", $1 / $2 / 1e6}')
b=$(mbps "$bare")
ratio() { echo "$1 $b" | awk '{printf "%.2f", $1 / $2}'; }

echo "corpus: $dir ($files files, $bytes bytes), $(nproc) CPUs"
printf '%-40s %8s %8s\n' "" "MB/s" "x bare"
printf '%-40s %8s %8s\n' "bare tree-sitter parse (in memory)" "$b" "1.00"
printf '%-40s %8s %8s\n' "CPython ast.parse (in memory)" "$(mbps "$astp")" "$(ratio "$(mbps "$astp")")"
printf '%-40s %8s %8s\n' "analyzer, 1 thread (in memory)" "$(mbps "$an1")" "$(ratio "$(mbps "$an1")")"
printf '%-40s %8s %8s\n' "analyzer, 2 threads (in memory)" "$(mbps "$an2")" "$(ratio "$(mbps "$an2")")"
printf '%-40s %8s %8s\n' "tach analyze -j1 (whole command)" "$cli1" "$(ratio "$cli1")"
printf '%-40s %8s %8s\n' "tach analyze -j2 (whole command)" "$cli2" "$(ratio "$cli2")"

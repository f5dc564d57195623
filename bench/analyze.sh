#!/bin/sh
# bench/analyze.sh - analysis throughput over the installed CPython stdlib,
# side by side in one run with a bare tree-sitter parse of the same files and
# with CPython's ast.parse. Run from the top directory after `ninja`:
#
#   sh bench/analyze.sh [DIR]
#
# The bare parse and the analyzer run interleaved in one process
# (parse_bench --compare), best of REPEAT (default 11) rounds each, so a
# noisy machine slows both alike; the ratios are the figures to read.
# "tach analyze" is the whole command (scan, read, parse, rules, graph,
# JSON), best of 5.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
python=${TACH_PYTHON:-/usr/bin/python3}
dir=${1:-$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}
ninja -C "$top" build/tach build/bench/parse_bench >/dev/null

cmp=$("$top/build/bench/parse_bench" --compare -n "${REPEAT:-11}" "$dir")
field() { echo "$cmp" | grep "^$1 " | sed "s/.*$2=\([0-9.]*\).*/\1/"; }
bytes=$(field bare-j1 bytes)
files=$(field bare-j1 files)
b=$(field bare-j1 mbps)
ratio() { echo "$1 $b" | awk '{printf "%.2f", $1 / $2}'; }

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
print("%.2f" % (n / best / 1e6))
PY
)
t1=$(best_of 5 "$top/build/tach" analyze --no-cache -q -j 1 --format json --root "$dir")
t2=$(best_of 5 "$top/build/tach" analyze --no-cache -q -j 2 --format json --root "$dir")
cli1=$(echo "$bytes $t1" | awk '{printf "%.2f", $1 / $2 / 1e6}')
cli2=$(echo "$bytes $t2" | awk '{printf "%.2f", $1 / $2 / 1e6}')

echo "corpus: $dir ($files files, $bytes bytes), $(nproc) CPUs"
printf '%-44s %8s %8s\n' "" "MB/s" "x bare"
printf '%-44s %8s %8s\n' "bare tree-sitter parse, 1 thread (in memory)" "$b" "1.00"
printf '%-44s %8s %8s\n' "analyzer, 1 thread (in memory)" "$(field analyze-j1 mbps)" "$(field analyze-j1 ratio)"
printf '%-44s %8s %8s\n' "analyzer, 2 threads (in memory)" "$(field analyze-j2 mbps)" "$(field analyze-j2 ratio)"
printf '%-44s %8s %8s\n' "CPython ast.parse (in memory)" "$astp" "$(ratio "$astp")"
printf '%-44s %8s %8s\n' "tach analyze -j1 (whole command, from disk)" "$cli1" "$(ratio "$cli1")"
printf '%-44s %8s %8s\n' "tach analyze -j2 (whole command, from disk)" "$cli2" "$(ratio "$cli2")"

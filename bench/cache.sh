#!/bin/sh
# bench/cache.sh - the report cache on a synthetic 10,000-module project.
#
#   sh bench/cache.sh [MODULES]
#
# Measures `tach analyze --format json` (the whole command, output to
# /dev/null) in four states, best of 5 runs each (cold: best of 3):
#   cold           no .tach/, no Redis
#   warm local     the local store is warm, the stat index is gone (what a
#                  checkout that rewrote every mtime looks like)
#   no change      a rerun with nothing changed (the stat index answers)
#   warm Redis     a fresh copy of the project (no .tach/) and a Redis that
#                  another job filled
# and the Redis round trips of the last. Needs redis-server; starts its own
# on a unix socket in a temporary directory.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
python=${TACH_PYTHON:-/usr/bin/python3}
modules=${1:-10000}
tach=$top/build/tach
tmp=$(mktemp -d)
redis_pid=
trap '[ -n "$redis_pid" ] && kill $redis_pid 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
ninja -C "$top" build/tach >/dev/null

"$python" "$top/bench/gen_project.py" "$tmp/p" --modules "$modules" >/dev/null
files=$(find "$tmp/p" -name '*.py' | wc -l)
bytes=$(find "$tmp/p" -name '*.py' -print0 | du -cb --files0-from=- | tail -1 | cut -f1)

# timeit N SETUP CMD...: best wall time in ms of N runs, SETUP run before each
timeit() {
	"$python" - "$@" <<'PY'
import subprocess, sys, time
n, setup, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
best = 1e9
for _ in range(n):
    if setup:
        subprocess.run(setup, shell=True, check=True)
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    best = min(best, time.perf_counter() - t)
print("%.1f" % (best * 1000))
PY
}

run() { "$tach" analyze --format json -q "$@"; }

cold=$(timeit 3 "rm -rf '$tmp/p/.tach'" "$tach" analyze --format json -q --root "$tmp/p")
warm=$(timeit 5 "rm -f '$tmp/p/.tach/index'" "$tach" analyze --format json -q --root "$tmp/p")
run --root "$tmp/p" >/dev/null
noop=$(timeit 5 "" "$tach" analyze --format json -q --root "$tmp/p")
noop_text=$(timeit 5 "" "$tach" analyze -q --root "$tmp/p")
timings=$(TACH_TIMINGS=1 "$tach" analyze --format json -q --root "$tmp/p" 2>&1 >/dev/null | sed 's/tach: timing: //' | tr -s ' ' | tr '\n' ';')

mkdir -p "$tmp/redis"
redis-server --port 0 --unixsocket "$tmp/redis/sock" --dir "$tmp/redis" --save '' --appendonly no \
	--daemonize no >"$tmp/redis/log" 2>&1 &
redis_pid=$!
while [ ! -S "$tmp/redis/sock" ]; do sleep 0.05; done
url=unix://$tmp/redis/sock
cp -r "$tmp/p" "$tmp/job1" && rm -rf "$tmp/job1/.tach"
run --root "$tmp/job1" --cache "$url" >/dev/null
cp -r "$tmp/job1" "$tmp/job2"
redis=$(timeit 5 "rm -rf '$tmp/job2/.tach'" "$tach" analyze --format json -q --root "$tmp/job2" --cache "$url")
rm -rf "$tmp/job2/.tach"
run --root "$tmp/job2" --cache "$url" >"$tmp/job2.json"
trips=$("$python" -c 'import json,sys; s=json.load(open(sys.argv[1]))["stats"]; print(s["redis_round_trips"], s["redis_hits"], s["parsed"])' "$tmp/job2.json")

echo "project: $modules modules ($files .py files, $bytes bytes), $(nproc) CPUs"
printf '%-34s %10s\n' "state" "wall ms"
printf '%-34s %10s\n' "cold (parse everything)" "$cold"
printf '%-34s %10s\n' "warm local store, no stat index" "$warm"
printf '%-34s %10s\n' "no change (stat index)" "$noop"
printf '%-34s %10s\n' "no change, text output" "$noop_text"
printf '%-34s %10s\n' "fresh copy, warm Redis" "$redis"
echo "no-change phases: $timings"
echo "warm Redis: round trips, hits, parsed = $trips (limit: $((files / 1000 + 2)) round trips)"
echo "cold / warm Redis = $(echo "$cold $redis" | awk '{printf "%.1fx", $1 / $2}')"

#!/bin/sh
# tests/cache.sh - the report cache end to end: the stat index, the local
# store, and a real Redis (Debian's redis-server, started here on a
# throwaway unix socket and TCP port, stopped by the trap). Prints one
# PASS/FAIL line per check.

top=$(cd "$(dirname "$0")/.." && pwd)
suite=cache
. "$top/tests/lib.sh"
tach=$top/build/tach
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	tmp_remove
}

# stat NAME FILE: a field of the JSON stats
stat() {
	"$python" -c 'import json,sys; print(json.load(open(sys.argv[2]))["stats"][sys.argv[1]])' "$1" "$2"
}

# verdicts FILE: "path toxic" lines, the part of the output that must never vary
verdicts() {
	"$python" -c '
import json, sys
for m in json.load(open(sys.argv[1]))["modules"]:
    print(m["path"], m["toxic"], m["direct"], "|".join(m["reasons"]))' "$1"
}

free_port() {
	"$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_redis NAME [ARGS]: a redis-server on a unix socket and a free port;
# sets sock_NAME, port_NAME, pid_NAME
start_redis() {
	name=$1; shift
	port=$(free_port)
	mkdir -p "$tmp/redis-$name"
	redis-server --port "$port" --bind 127.0.0.1 --unixsocket "$tmp/redis-$name/sock" \
		--dir "$tmp/redis-$name" --save '' --appendonly no --daemonize no "$@" \
		>"$tmp/redis-$name/log" 2>&1 &
	pid=$!
	pids="$pids $pid"
	i=0
	while [ ! -S "$tmp/redis-$name/sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	eval "sock_$name=$tmp/redis-$name/sock port_$name=$port pid_$name=$pid"
}

# a project: a chain, a package, some safe modules
make_project() {
	d=$1
	mkdir -p "$d/pkg" "$d/tests"
	printf 'import ctypes\n' >"$d/crypto_utils.py"
	printf 'import crypto_utils\n' >"$d/auth.py"
	printf 'from auth import *\n' >"$d/tests/test_user.py"
	printf 'from . import util\n' >"$d/pkg/__init__.py"
	printf 'X = 1\n' >"$d/pkg/util.py"
	i=0
	while [ $i -lt 40 ]; do
		printf 'import json\nfrom pkg import util\n\n\ndef f%d():\n    return util.X + %d\n' $i $i >"$d/mod$i.py"
		i=$((i + 1))
	done
}

analyze() {
	# analyze ROOT OUT [ARGS]
	root=$1 out=$2; shift 2
	"$tach" analyze --root "$root" --format json -q "$@" >"$out" 2>"$out.err"
}

# make_pair DIR: toxic.py starts a thread at import, safe.py does nothing
make_pair() {
	mkdir -p "$1"
	printf 'import threading\n\n\ndef f():\n    pass\n\n\nthreading.Thread(target=f).start()\n' >"$1/toxic.py"
	printf 'X = 1\n' >"$1/safe.py"
}

# entry DIR toxic|safe: the local store's entry for that module of a pair;
# entries are named by their key, and only the toxic report names threading
entry() {
	case $2 in
	toxic) grep -la threading "$1"/.tach/cache/*/* ;;
	safe) grep -La threading "$1"/.tach/cache/*/* ;;
	esac
}

# toxic_kept FILE: the toxic module of a pair is still reported toxic
toxic_kept() {
	verdicts "$1" | grep -q '^toxic.py True True '
}

p=$tmp/p
make_project "$p"
analyze "$p" "$tmp/nocache.json" --no-cache
verdicts "$tmp/nocache.json" >"$tmp/want"
[ ! -e "$p/.tach" ] && pass no-cache-writes-nothing || fail no-cache-writes-nothing "$p/.tach exists"

# --- local: cold, then warm through the stat index
analyze "$p" "$tmp/cold.json"
[ "$(stat parsed "$tmp/cold.json")" = 45 ] && verdicts "$tmp/cold.json" | cmp -s - "$tmp/want" &&
	pass cold || fail cold "parsed $(stat parsed "$tmp/cold.json")"
analyze "$p" "$tmp/warm.json"
[ "$(stat parsed "$tmp/warm.json")" = 0 ] && [ "$(stat local_hits "$tmp/warm.json")" = 45 ] &&
	verdicts "$tmp/warm.json" | cmp -s - "$tmp/want" &&
	pass warm-no-parse || fail warm-no-parse "parsed $(stat parsed "$tmp/warm.json")"

# touch without change: the stat differs, the content hash does not
sleep 0.01
touch "$p"/*.py
analyze "$p" "$tmp/touch.json"
[ "$(stat parsed "$tmp/touch.json")" = 0 ] && pass touch-no-parse ||
	fail touch-no-parse "parsed $(stat parsed "$tmp/touch.json")"

# change one byte: exactly one parse
printf 'import json\nfrom pkg import util\n\n\ndef f0():\n    return util.X + 9\n' >"$p/mod0.py"
analyze "$p" "$tmp/one.json"
[ "$(stat parsed "$tmp/one.json")" = 1 ] && pass one-byte-one-parse ||
	fail one-byte-one-parse "parsed $(stat parsed "$tmp/one.json")"

# a toxic edit is seen at once
printf 'import threading\nthreading.Thread(target=int).start()\n' >"$p/pkg/util.py"
analyze "$p" "$tmp/toxic.json"
grep -q '"toxic": true' "$tmp/toxic.json" && [ "$(stat parsed "$tmp/toxic.json")" = 1 ] &&
	verdicts "$tmp/toxic.json" | grep "^mod5.py True False" >/dev/null &&
	pass toxic-edit || fail toxic-edit "$(verdicts "$tmp/toxic.json" | grep mod5)"
printf 'X = 1\n' >"$p/pkg/util.py"
analyze "$p" "$tmp/back.json"
verdicts "$tmp/back.json" | cmp -s - "$tmp/want" && pass edit-back || fail edit-back "verdicts differ"

# corrupt local entries: garbage, truncated, another version -> recomputed, same verdicts
rm -rf "$p/.tach"
analyze "$p" "$tmp/fresh.json"
rm -f "$p/.tach/index"
n=0
for f in "$p"/.tach/cache/*/*; do
	case $n in
	0) printf 'garbage' >"$f" ;;
	1) head -c 30 "$f" >"$f.t" && mv "$f.t" "$f" ;;
	2) "$python" -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[4]=9; open(sys.argv[1],"wb").write(b)' "$f" ;;
	3) "$python" -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[-1]^=1; open(sys.argv[1],"wb").write(b)' "$f" ;;
	*) break ;;
	esac
	n=$((n + 1))
done
analyze "$p" "$tmp/corrupt.json"
[ "$(stat parsed "$tmp/corrupt.json")" = 4 ] && verdicts "$tmp/corrupt.json" | cmp -s - "$tmp/want" &&
	grep -q 'unusable' "$tmp/corrupt.json.err" && pass corrupt-local ||
	fail corrupt-local "parsed $(stat parsed "$tmp/corrupt.json"); $(head -3 "$tmp/corrupt.json.err")"
analyze "$p" "$tmp/healed.json"
[ "$(stat parsed "$tmp/healed.json")" = 0 ] && [ ! -s "$tmp/healed.json.err" ] && pass corrupt-healed ||
	fail corrupt-healed "parsed $(stat parsed "$tmp/healed.json")"

# a corrupt stat index is ignored whole
printf 'TACHIDX1 nonsense' >"$p/.tach/index"
analyze "$p" "$tmp/badidx.json"
verdicts "$tmp/badidx.json" | cmp -s - "$tmp/want" && [ "$(stat local_hits "$tmp/badidx.json")" = 45 ] &&
	pass corrupt-index || fail corrupt-index "$(cat "$tmp/badidx.json.err")"

# the stat index alone serves an unchanged tree: its reports prove their keys
rm -rf "$p/.tach/cache"
analyze "$p" "$tmp/idxonly.json"
[ "$(stat parsed "$tmp/idxonly.json")" = 0 ] && verdicts "$tmp/idxonly.json" | cmp -s - "$tmp/want" &&
	pass index-alone || fail index-alone "parsed $(stat parsed "$tmp/idxonly.json")"

# a valid entry copied under another file's key: a value names the key it was
# written for, so the safe report cannot stand for the toxic file
q=$tmp/pair
make_pair "$q"
analyze "$q" "$tmp/pair.json"
toxic_entry=$(entry "$q" toxic)
cp "$(entry "$q" safe)" "$toxic_entry"
rm -f "$q/.tach/index" "$q/.tach/analyze.json"
analyze "$q" "$tmp/pair2.json"
toxic_kept "$tmp/pair2.json" && grep -q 'toxic.py: cache entry .*(written for another key)' "$tmp/pair2.json.err" &&
	grep -qa threading "$toxic_entry" && pass local-foreign-value ||
	fail local-foreign-value "$(verdicts "$tmp/pair2.json" | grep toxic.py) $(cat "$tmp/pair2.json.err")"

# concurrent runs on one root
rm -rf "$p/.tach"
for i in 1 2 3 4 5 6; do analyze "$p" "$tmp/conc$i.json" -j 2 & done
wait
ok=1
for i in 1 2 3 4 5 6; do verdicts "$tmp/conc$i.json" | cmp -s - "$tmp/want" || ok=0; done
analyze "$p" "$tmp/after.json"
[ $ok = 1 ] && [ "$(stat parsed "$tmp/after.json")" = 0 ] && [ ! -s "$tmp/after.json.err" ] &&
	pass concurrent || fail concurrent "parsed $(stat parsed "$tmp/after.json") $(cat "$tmp/after.json.err")"

# cache stats / clear
"$tach" cache stats --root "$p" | grep -q 'local: .*: 45 entries' && pass cache-stats ||
	fail cache-stats "$("$tach" cache stats --root "$p")"
"$tach" cache clear --root "$p" >/dev/null && [ ! -e "$p/.tach/cache" ] && [ ! -e "$p/.tach/index" ] &&
	[ ! -e "$p/.tach/analyze.json" ] &&
	pass cache-clear || fail cache-clear "still there"

# the memo of the last output: a rerun replays it, and it never outlives a
# change to its inputs (a file, the file list, the rules, the source roots)
body() { grep -v '"stats": {"files"' "$1"; }
same_as_nocache() {
	# same_as_nocache NAME: a computed and a replayed run both print what a
	# --no-cache run prints
	analyze "$p" "$tmp/memo1.json"
	analyze "$p" "$tmp/memo2.json"
	analyze "$p" "$tmp/memo-nc.json" --no-cache
	body "$tmp/memo-nc.json" >"$tmp/want-body"
	if body "$tmp/memo1.json" | cmp -s - "$tmp/want-body" &&
		body "$tmp/memo2.json" | cmp -s - "$tmp/want-body"; then
		pass "memo-$1"
	else
		fail "memo-$1" "output differs from --no-cache"
	fi
}
analyze "$p" "$tmp/m0.json"
[ -f "$p/.tach/analyze.json" ] && pass memo-written || fail memo-written "no $p/.tach/analyze.json"
same_as_nocache replay
printf 'import threading\n' >"$p/mod7.py"
same_as_nocache file-edit
rm "$p/mod7.py"
same_as_nocache file-removed
printf '[tool.tach]\ntoxic-modules = ["json"]\n' >"$p/pyproject.toml"
same_as_nocache rules
printf '[tool.tach]\nsource-roots = ["pkg"]\n' >"$p/pyproject.toml"
same_as_nocache source-roots
rm "$p/pyproject.toml"
printf 'import json\nfrom pkg import util\n\n\ndef f7():\n    return util.X + 7\n' >"$p/mod7.py"
same_as_nocache restored
"$tach" analyze --root "$p" -q >"$tmp/memo.txt"
"$tach" analyze --root "$p" -q >"$tmp/memo2.txt"
"$tach" analyze --root "$p" -q --no-cache | cmp -s - "$tmp/memo2.txt" && pass memo-text || fail memo-text "differs"


if ! command -v redis-server >/dev/null 2>&1; then
	echo "FAIL cache/redis: redis-server not installed (apt-get install redis-server)"
	exit 1
fi

# --- Redis: two CI jobs, two fresh copies, one server
start_redis a
url=unix://$sock_a
j1=$tmp/job1 j2=$tmp/job2
make_project "$j1"
make_project "$j2"
analyze "$j1" "$tmp/j1.json" --cache "$url"
TACH_CACHE=$url analyze "$j2" "$tmp/j2.json"
[ "$(stat parsed "$tmp/j1.json")" = 45 ] && [ "$(stat parsed "$tmp/j2.json")" = 0 ] &&
	[ "$(stat redis_hits "$tmp/j2.json")" = 45 ] && [ "$(stat redis_round_trips "$tmp/j2.json")" -le 2 ] &&
	verdicts "$tmp/j2.json" | cmp -s - "$tmp/want" && [ ! -s "$tmp/j2.json.err" ] &&
	pass redis-second-job-parses-nothing ||
	fail redis-second-job-parses-nothing "parsed $(stat parsed "$tmp/j2.json"), redis_hits $(stat redis_hits "$tmp/j2.json") $(cat "$tmp/j2.json.err")"
# the Redis hit filled the local cache
analyze "$j2" "$tmp/j2b.json" --cache "redis://127.0.0.1:$port_a"
[ "$(stat redis_round_trips "$tmp/j2b.json")" = 0 ] && [ "$(stat local_hits "$tmp/j2b.json")" = 45 ] &&
	pass redis-fills-local || fail redis-fills-local "round trips $(stat redis_round_trips "$tmp/j2b.json")"

# prefixes keep projects apart
j3=$tmp/job3
make_project "$j3"
analyze "$j3" "$tmp/j3.json" --cache "$url" --cache-prefix other:
[ "$(stat parsed "$tmp/j3.json")" = 45 ] && pass redis-prefix || fail redis-prefix "parsed $(stat parsed "$tmp/j3.json")"

# garbage written by hand into Redis: detected, recomputed, overwritten
redis-cli -s "$sock_a" --scan --pattern 'tach:*' | head -3 | while read -r k; do
	redis-cli -s "$sock_a" set "$k" "garbage" >/dev/null
done
j4=$tmp/job4
make_project "$j4"
analyze "$j4" "$tmp/j4.json" --cache "$url"
[ "$(stat parsed "$tmp/j4.json")" = 3 ] && verdicts "$tmp/j4.json" | cmp -s - "$tmp/want" &&
	grep -q unusable "$tmp/j4.json.err" && pass redis-garbage ||
	fail redis-garbage "parsed $(stat parsed "$tmp/j4.json") $(cat "$tmp/j4.json.err")"
j5=$tmp/job5
make_project "$j5"
analyze "$j5" "$tmp/j5.json" --cache "$url"
[ "$(stat parsed "$tmp/j5.json")" = 0 ] && pass redis-garbage-overwritten ||
	fail redis-garbage-overwritten "parsed $(stat parsed "$tmp/j5.json")"
ttl=$(redis-cli -s "$sock_a" --scan --pattern 'tach:*' | head -1 | xargs redis-cli -s "$sock_a" ttl)
[ "$ttl" -gt 2500000 ] && pass redis-ttl || fail redis-ttl "ttl $ttl"

# a valid value copied under another file's key, the safe file's onto the
# toxic file's: a fresh clone recomputes it with a warning, keeps only the
# recomputed report locally and writes it back
start_redis d
r1=$tmp/ci1 r2=$tmp/ci2 r3=$tmp/ci3
make_pair "$r1"
make_pair "$r2"
make_pair "$r3"
analyze "$r1" "$tmp/r1.json" --cache "unix://$sock_d"
toxic_key=$(basename "$(entry "$r1" toxic)")
safe_key=$(basename "$(entry "$r1" safe)")
redis-cli -s "$sock_d" copy "tach:$safe_key" "tach:$toxic_key" replace >/dev/null
analyze "$r2" "$tmp/r2.json" --cache "unix://$sock_d"
toxic_kept "$tmp/r2.json" &&
	grep -q "toxic.py: cache entry $toxic_key was unusable (written for another key)" "$tmp/r2.json.err" &&
	pass redis-foreign-value ||
	fail redis-foreign-value "$(verdicts "$tmp/r2.json" | grep toxic.py) $(cat "$tmp/r2.json.err")"
rm -f "$r2/.tach/index" "$r2/.tach/analyze.json"
analyze "$r2" "$tmp/r2b.json"
toxic_kept "$tmp/r2b.json" && grep -qa threading "$r2"/.tach/cache/*/"$toxic_key" &&
	pass redis-foreign-value-not-stored ||
	fail redis-foreign-value-not-stored "$(verdicts "$tmp/r2b.json" | grep toxic.py)"
analyze "$r3" "$tmp/r3.json" --cache "unix://$sock_d"
toxic_kept "$tmp/r3.json" && [ "$(stat redis_hits "$tmp/r3.json")" = 2 ] && [ ! -s "$tmp/r3.json.err" ] &&
	pass redis-foreign-value-overwritten ||
	fail redis-foreign-value-overwritten "redis_hits $(stat redis_hits "$tmp/r3.json") $(cat "$tmp/r3.json.err")"

"$tach" cache stats --root "$j1" --cache "$url" | grep -q 'redis: .*: 45 entries' && pass redis-stats ||
	fail redis-stats "$("$tach" cache stats --root "$j1" --cache "$url")"
"$tach" cache clear --root "$j1" --redis --cache "$url" >/dev/null &&
	[ "$(redis-cli -s "$sock_a" --scan --pattern 'tach:*' | wc -l)" = 0 ] &&
	[ "$(redis-cli -s "$sock_a" --scan --pattern 'other:*' | wc -l)" = 45 ] &&
	pass redis-clear || fail redis-clear "keys left"

# Redis never started: one refused connect, then local only (what it costs
# is bench/cache.sh's business, not a test's)
closed=$(free_port)
j6=$tmp/job6
make_project "$j6"
analyze "$j6" "$tmp/j6.json" --cache "redis://127.0.0.1:$closed"
verdicts "$tmp/j6.json" | cmp -s - "$tmp/want" && [ "$(stat redis_round_trips "$tmp/j6.json")" = 0 ] &&
	[ "$(stat redis_hits "$tmp/j6.json")" = 0 ] &&
	[ "$(grep -c 'local cache only' "$tmp/j6.json.err")" = 1 ] && pass redis-down ||
	fail redis-down "round trips $(stat redis_round_trips "$tmp/j6.json"): $(cat "$tmp/j6.json.err")"

# a wrong password: a clear message with the password masked, local-only
start_redis b --requirepass sekrit
j7=$tmp/job7
make_project "$j7"
analyze "$j7" "$tmp/j7.json" --cache "redis://:wrong@127.0.0.1:$port_b"
verdicts "$tmp/j7.json" | cmp -s - "$tmp/want" && grep -q 'redis://:\*\*\*@127.0.0.1' "$tmp/j7.json.err" &&
	! grep -q wrong "$tmp/j7.json.err" && grep -qi 'auth' "$tmp/j7.json.err" && pass redis-wrong-password ||
	fail redis-wrong-password "$(cat "$tmp/j7.json.err")"
j8=$tmp/job8
make_project "$j8"
analyze "$j8" "$tmp/j8.json" --cache "redis://:sekrit@127.0.0.1:$port_b/3"
[ ! -s "$tmp/j8.json.err" ] && [ "$(redis-cli -p "$port_b" -a sekrit -n 3 --no-auth-warning dbsize)" = 45 ] &&
	pass redis-password-db || fail redis-password-db "$(cat "$tmp/j8.json.err")"

# a URL given to tach gen --cache, password and all, is in no manifest and
# on no command line: .tach/cache.url (0600) keeps it for the regeneration
j9=$tmp/job9
make_project "$j9"
"$tach" gen --root "$j9" --python "$python" -q --cache "redis://:sekrit@127.0.0.1:$port_b/4" \
	>"$tmp/j9.out" 2>&1
redis-cli -p "$port_b" -a sekrit -n 4 --no-auth-warning flushdb >/dev/null
printf 'import os\n' >"$j9/later.py"
(cd "$j9" && ninja build.ninja) >>"$tmp/j9.out" 2>&1
if grep -q sekrit "$j9/build.ninja" "$tmp/j9.out"; then
	fail redis-url-secret "the password is in build.ninja or the output"
elif [ "$(command stat -c %a "$j9/.tach/cache.url")" != 600 ]; then
	fail redis-url-secret ".tach/cache.url is $(command stat -c %a "$j9/.tach/cache.url")"
elif [ "$(redis-cli -p "$port_b" -a sekrit -n 4 --no-auth-warning dbsize)" -lt 1 ]; then
	fail redis-url-secret "the regeneration did not use the cache: $(cat "$tmp/j9.out")"
else
	pass redis-url-secret
fi
"$tach" gen --root "$j9" --python "$python" -q >/dev/null 2>&1
[ ! -e "$j9/.tach/cache.url" ] && pass redis-url-forgotten ||
	fail redis-url-forgotten "tach gen without --cache kept .tach/cache.url"

# a URL that cannot be used is a usage error, its password masked
for url in http://x "redis://:sekrit@127.0.0.1:99999" "redis://127.0.0.1:0" "rediss://h"; do
	"$tach" analyze --root "$j9" --cache "$url" >"$tmp/badurl.out" 2>&1
	rc=$?
	if [ $rc -ne 2 ] || ! grep -q "^tach: --cache " "$tmp/badurl.out" || grep -q sekrit "$tmp/badurl.out"; then
		fail "redis-bad-url $url" "exit $rc: $(cat "$tmp/badurl.out")"
	else
		pass "redis-bad-url $url"
	fi
done
TACH_CACHE=http://x "$tach" analyze --root "$j9" >"$tmp/badurl.out" 2>&1
[ $? -eq 2 ] && grep -q '^tach: \$TACH_CACHE http://x: ' "$tmp/badurl.out" && pass redis-bad-url-env ||
	fail redis-bad-url-env "$(cat "$tmp/badurl.out")"

# Redis dies in the middle of a run: pause every client, kill the server
start_redis c
big=$tmp/big
make_project "$big"
i=0
while [ $i -lt 400 ]; do printf 'import os\n' >"$big/extra$i.py"; i=$((i + 1)); done
redis-cli -s "$sock_c" client pause 3000 write >/dev/null
( sleep 0.3; kill -9 "$pid_c" ) &
analyze "$big" "$tmp/big.json" --cache "unix://$sock_c"
rc=$?
[ $rc = 0 ] && [ "$(stat files "$tmp/big.json")" = 445 ] && grep -q 'local cache only' "$tmp/big.json.err" &&
	pass redis-killed-mid-run || fail redis-killed-mid-run "exit $rc $(cat "$tmp/big.json.err")"
[ -n "$TACH_CACHE_DEBUG" ] && cat "$tmp/big.json.err"
exit $status

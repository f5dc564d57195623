#!/bin/sh
# tests/reset.sh - the hypervisor's workers (runtime/reset.h): test after
# test in one process, each brought back to the snapshot. Requests are sent
# one by one through build/tach-run, so they reach the same worker, with
# TACH_HV_VERIFY=1: after every reset the worker compares its memory with
# the snapshot, and a page that differs fails the test. A polluting test
# and a checking one alternate in one worker (module globals, sys.modules,
# os.environ and the C library's time zone, cwd, umask, a signal handler,
# an alarm, monkeypatching, sys.path, a 200 MB allocation, an mmap, a file
# left open, gc.freeze, the decimal module's context); a test that leaves
# a thread running, and one the Iron Dome stops, retire their worker, and
# the next test runs in a new one; an idle file's workers go, and their
# twins are reaped, as are the processes a base that re-executes leaves (no
# zombie stays). A worker's headroom: from its third test on, a test that
# makes the same few MB of objects again faults on far fewer pages (its
# memory is reused, not mapped anew), and memory a test used once is given
# back (TACH_HV_HEADROOM=0: no reuse). TACH_HV_RESET=0 forks a process per
# test. Prints one
# PASS/FAIL (or SKIP) line per check.

top=$(cd "$(dirname "$0")/.." && pwd)
suite=reset
. "$top/tests/lib.sh"
run=$top/build/tach-run
TACH_HV_IDLE=120
TACH_HV_VERIFY=1
export TACH_HV_IDLE TACH_HV_VERIFY

cleanup() {
	hv_stop "$tmp/p"
	pkill -9 -f "tach-hv --root $tmp/" 2>/dev/null
	tmp_remove
}

need_built tach-run tach-hv tach_harness.py tach_zygote.py
need_pytest

if [ -n "$("$top/build/tach-hv" --reset-supported 2>&1)" ]; then
	skip all "$("$top/build/tach-hv" --reset-supported 2>&1)"
	exit 0
fi

p=$tmp/p
mkdir -p "$p/tests" "$tmp/res"
cat >"$p/tests/polluter.py" <<'EOF'
VALUE = "imported by a test"
EOF
cat >"$p/tests/test_pol.py" <<'EOF'
import decimal
import gc
import json
import mmap
import os
import signal
import socket
import sys
import threading
import time

STATE = []
UMASK = os.umask(0o022)
os.umask(UMASK)
BASE = {
    "cwd": os.getcwd(), "umask": UMASK, "tz": time.tzname, "usr1": signal.getsignal(signal.SIGUSR1),
    "limit": sys.getrecursionlimit(), "path": list(sys.path), "prec": decimal.getcontext().prec,
}


def _pid():
    with open(os.environ["RESET_PIDS"], "a") as f:
        f.write("%d\n" % os.getpid())


def test_pollute():
    _pid()
    with open(os.environ["RESET_PIDS"] + ".frozen", "w") as f:
        f.write(str(gc.get_freeze_count()))
    STATE.append(1)
    import polluter
    os.environ["TACH_POLLUTED"] = "1"
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    os.chdir("/")
    os.umask(0o077)
    signal.signal(signal.SIGUSR1, lambda *a: None)
    signal.setitimer(signal.ITIMER_REAL, 1000)
    sys.setrecursionlimit(5000)
    json.dumps = lambda *a, **k: "patched"
    sys.path.insert(0, "/nonexistent")
    decimal.getcontext().prec = 5
    big = bytearray(200 << 20)
    big[-1] = 1
    STATE.append(big)
    m = mmap.mmap(-1, 1 << 20)
    m[:5] = b"hello"
    STATE.append(m)
    f = open(os.path.join(os.environ["RESET_PIDS"] + ".leaked"), "w")
    f.write("x")
    STATE.append(f)
    gc.freeze()
    assert time.tzname != BASE["tz"]


def test_check():
    _pid()
    assert STATE == []
    assert "polluter" not in sys.modules
    assert "TACH_POLLUTED" not in os.environ
    assert os.environ.get("TZ") != "Asia/Tokyo"
    assert time.tzname == BASE["tz"]
    assert os.getcwd() == BASE["cwd"]
    u = os.umask(0o022)
    os.umask(u)
    assert u == BASE["umask"]
    assert signal.getsignal(signal.SIGUSR1) == BASE["usr1"]
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert sys.getrecursionlimit() == BASE["limit"]
    assert json.dumps({}) == "{}"
    assert sys.path == BASE["path"]
    assert decimal.getcontext().prec == BASE["prec"]
    with open(os.environ["RESET_PIDS"] + ".frozen") as f:
        assert gc.get_freeze_count() == int(f.read())
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        assert not target.endswith(".leaked"), fd


def test_thread_left():
    _pid()
    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()


def test_denied():
    _pid()
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
EOF

cat >"$p/tests/test_mem.py" <<'EOF'
import os
import resource


def _measure(name, make):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    made = make()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    with open("/proc/self/status") as f:
        rss = [int(line.split()[1]) for line in f if line.startswith("VmRSS:")][0]
    with open(os.environ["RESET_MEM"], "a") as f:
        f.write("%s %d %d %d\n" % (name, faults, rss, os.getpid()))
    return made


def test_objects():
    assert len(_measure("objects", lambda: [{"n": i, "s": str(i)} for i in range(20000)])) == 20000


def test_big_once():
    assert len(_measure("big", lambda: [(i, str(i)) for i in range(250000)])) == 250000
EOF

# zombies PID: the zombie processes among PID's descendants
zombies() {
	ps -eo pid=,ppid=,stat= | awk -v top="$1" '
		{ parent[$1] = $2; state[$1] = $3 }
		END {
			for (p in parent) {
				if (state[p] !~ /^Z/)
					continue
				for (q = parent[p]; q != "" && q > 1; q = parent[q])
					if (q == top) {
						printf "%s ", p
						break
					}
			}
		}'
}

# send NAME TEST [FILE]: runs FILE::TEST (tests/test_pol.py); NAME's result
# in $tmp/res
send() {
	timeout 60 "$run" --mode hypervisor --root "$p" --python "$python" \
		--result "$tmp/res/$1.json" "${3:-tests/test_pol.py}::test_$2" >"$tmp/res/$1.out" 2>"$tmp/res/$1.err"
	echo $? >"$tmp/res/$1.rc"
}

# outcome NAME: the outcomes in NAME's result (mode:outcome ...)
outcome() {
	"$python" -c 'import json, sys
t = json.load(open(sys.argv[1]))["tests"]
print(" ".join(x["mode"] + ":" + x["outcome"] for x in t) or "none")' "$tmp/res/$1.json" 2>/dev/null ||
		echo "none"
}

# expect CHECK NAME OUTCOME: NAME ended so
expect() {
	got=$(outcome "$2")
	if [ "$got" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "$2: $got, expected $3: $(head -c 600 "$tmp/res/$2.out") $(head -c 300 "$tmp/res/$2.err")"
	fi
}

cd "$p" || exit 1
RESET_PIDS=$tmp/pids
export RESET_PIDS
: >"$RESET_PIDS"
send warm check
send pollute1 pollute
send check1 check
send pollute2 pollute
send check2 check
expect first-check check1 "hypervisor:passed"
expect pollute pollute1 "hypervisor:passed"
expect pollute-again pollute2 "hypervisor:passed"
expect polluted-then-clean check2 "hypervisor:passed"
# the five ran in one process: reset, not forked
n=$(sort -u "$RESET_PIDS" | wc -l)
if [ "$n" = 1 ] && [ "$(wc -l <"$RESET_PIDS")" = 5 ]; then
	pass one-worker
else
	fail one-worker "$(wc -l <"$RESET_PIDS") tests in $n processes: $(tr '\n' ' ' <"$RESET_PIDS")"
fi

# a thread left running: the worker retires after the test, which passes
send thread thread_left
send after-thread check
expect thread-left thread "hypervisor:passed"
expect after-thread after-thread "hypervisor:passed"
if [ "$(sed -n 6p "$RESET_PIDS")" != "$(sed -n 7p "$RESET_PIDS")" ] && [ "$(sed -n 6p "$RESET_PIDS")" = "$(sed -n 1p "$RESET_PIDS")" ]; then
	pass thread-retires
else
	fail thread-retires "pids $(tr '\n' ' ' <"$RESET_PIDS")"
fi
if grep -q "retires after tests/test_pol.py::test_thread_left: a thread the test started is still running" .tach/hv.log; then
	pass thread-retires-logged
else
	fail thread-retires-logged "$(tail -5 .tach/hv.log)"
fi

# the Iron Dome's denial: run isolated (the fallback), and the worker it
# was denied in retires
send denied denied
send after-denied check
expect denied denied "isolated:passed"
expect after-denied after-denied "hypervisor:passed"
if [ "$(sed -n 8p "$RESET_PIDS")" != "$(tail -n 1 "$RESET_PIDS")" ]; then
	pass denied-retires
else
	fail denied-retires "pids $(tr '\n' ' ' <"$RESET_PIDS")"
fi

# an idle file keeps no worker: gone after TACH_HV_WORKER_IDLE seconds
# (a zygote started with it)
hv_stop "$p"
TACH_HV_WORKER_IDLE=1 send idle-1 check
TACH_HV_WORKER_IDLE=1 send idle-2 check
"$top/build/tach" hv status --root "$p" >"$tmp/res/status-busy.out" 2>&1
sleep 2.5
"$top/build/tach" hv status --root "$p" >"$tmp/res/status-idle.out" 2>&1
expect idle-run idle-2 "hypervisor:passed"
if grep -q "^  tests/test_pol.py: pid [0-9]*, ready, 2 tests served, [3-9] processes" "$tmp/res/status-busy.out" &&
    grep -q "^  tests/test_pol.py: pid [0-9]*, ready, 2 tests served, 1 processes" "$tmp/res/status-idle.out"; then
	pass idle-workers-go
else
	fail idle-workers-go "$(cat "$tmp/res/status-busy.out" "$tmp/res/status-idle.out")"
fi

# the idle workers' twins (runtime/reset.h), re-parented to the
# sub-zygote when their worker ends and killed by it, are reaped: they end
# after the worker, and no SIGCHLD wakes a sub-zygote
z=$(zombies "$(cat .tach/hv.pid)")
if [ -z "$z" ]; then
	pass idle-workers-reaped
else
	fail idle-workers-reaped "zombies left: $z"
fi

# a change to a file of the base's re-executes it: its sub-zygotes end as
# their channels close, with their workers, while the new image starts and
# has no SIGCHLD handler yet; it reaps them all the same
hv_stop "$p"
printf '# the base reads it\n' >conftest.py
send reexec-before pollute
pid=$(cat .tach/hv.pid)
n=$(grep -c ' serving ' .tach/hv.log)
printf '# changed\n' >>conftest.py
i=0
while [ "$(grep -c ' serving ' .tach/hv.log)" -le "$n" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
sleep 0.5
z=$(zombies "$pid")
expect reexec-before reexec-before "hypervisor:passed"
if ! grep -q "conftest.py changed: restarting" .tach/hv.log || [ $i -ge 100 ]; then
	fail reexec-reaped "no restart: $(tail -3 .tach/hv.log)"
elif [ -n "$z" ]; then
	fail reexec-reaped "zombies left: $z"
else
	pass reexec-reaped
fi
hv_stop "$p"
rm -f conftest.py

if grep -q "unlike the snapshot" .tach/hv.log; then
	fail verified "$(grep "unlike the snapshot" .tach/hv.log | head -3)"
else
	pass verified
fi
hv_stop "$p"

# headroom: the same objects made again in one worker fault on far fewer
# pages from the third test on (the first two find memory the reset gave
# back or had not yet kept), and what one test used once does not stay
RESET_MEM=$tmp/mem
export RESET_MEM
: >"$RESET_MEM"
for i in 1 2 3; do
	send mem$i objects tests/test_mem.py
done
send mem-big big_once tests/test_mem.py
send mem4 objects tests/test_mem.py
expect headroom-run mem4 "hypervisor:passed"
# mem_of LINE FIELD: a field (2 faults, 3 RSS kB, 4 pid) of the LINEth run
mem_of() {
	sed -n "$1p" "$RESET_MEM" | cut -d' ' -f"$2"
}
if [ "$(cut -d' ' -f4 "$RESET_MEM" | sort -u | wc -l)" = 1 ] && [ "$(wc -l <"$RESET_MEM")" = 5 ] &&
    [ $(($(mem_of 3 2) * 3)) -lt "$(mem_of 1 2)" ]; then
	pass headroom-reused
else
	fail headroom-reused "runs (name faults rss pid): $(tr '\n' ';' <"$RESET_MEM")"
fi
if [ $(($(mem_of 5 3) - $(mem_of 3 3))) -lt 12000 ] && [ "$(mem_of 4 3)" -gt $(($(mem_of 3 3) + 20000)) ]; then
	pass headroom-given-back
else
	fail headroom-given-back "runs (name faults rss pid): $(tr '\n' ';' <"$RESET_MEM")"
fi
hv_stop "$p"
TACH_HV_HEADROOM=0
export TACH_HV_HEADROOM
: >"$RESET_MEM"
for i in 1 2 3; do
	send nomem$i objects tests/test_mem.py
done
if [ "$(wc -l <"$RESET_MEM")" = 3 ] && [ $(($(mem_of 3 2) * 3)) -ge "$(mem_of 1 2)" ]; then
	pass no-headroom
else
	fail no-headroom "runs (name faults rss pid): $(tr '\n' ';' <"$RESET_MEM")"
fi
unset TACH_HV_HEADROOM
hv_stop "$p"

# TACH_HV_RESET=0: one test a process, the same outcomes
TACH_HV_RESET=0
export TACH_HV_RESET
: >"$RESET_PIDS"
send fork-pollute pollute
send fork-check check
expect fork-pollute fork-pollute "hypervisor:passed"
expect fork-check fork-check "hypervisor:passed"
if [ "$(sort -u "$RESET_PIDS" | wc -l)" = 2 ]; then
	pass fork-per-test
else
	fail fork-per-test "pids $(tr '\n' ' ' <"$RESET_PIDS")"
fi
if grep -q "one test a process: TACH_HV_RESET=0" .tach/hv.log; then
	pass fork-per-test-logged
else
	fail fork-per-test-logged "$(tail -3 .tach/hv.log)"
fi
cd "$top" || exit 1
exit $status

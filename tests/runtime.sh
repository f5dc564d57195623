#!/bin/sh
# tests/runtime.sh - build/tach-run end to end, in both runtimes: one fixture
# suite written into a temporary directory and run through --mode isolated
# (a fresh interpreter per call) and --mode hypervisor (the project's
# zygote, tach-hv, and a sandboxed child per call), each result file checked
# with the Debian python that has pytest. Then the hypervisor alone: the
# Iron Dome's denials, pollution between tests, 50 concurrent clients, a
# killed zygote, a stopped zygote, edited files, a peer of another uid,
# `tach hv status|stop` and the idle timeout. Prints one PASS/FAIL (or SKIP) line per check; exits
# non-zero when any failed.

top=$(cd "$(dirname "$0")/.." && pwd)
suite=runtime
. "$top/tests/lib.sh"
run=$top/build/tach-run
tach=$top/build/tach
# no zygote this suite starts outlives it for long, whatever happens
TACH_HV_IDLE=120
export TACH_HV_IDLE

# TACH_KEEP=1 keeps the temporary directory and its zygotes for a look

# every project directory that may have a zygote
projects="main conc kill stop edit ctl idle"

# hvpids DIR: "PID PPID" of every tach-hv process serving DIR
hvpids() {
	ps -eo pid=,ppid=,args= | awk -v dir="$1" \
		'$3 ~ /(^|\/)tach-hv$/ && $4 == "--root" && $5 == dir { print $1, $2 }'
}

# hvstopped DIR: the pid of every tach-hv process serving DIR that is
# stopped (by a signal, or at a tracer's stop)
hvstopped() {
	ps -eo pid=,stat=,args= | awk -v dir="$1" \
		'$2 ~ /^[Tt]/ && $3 ~ /(^|\/)tach-hv$/ && $4 == "--root" && $5 == dir { print $1 }'
}

# ms: the time in milliseconds
ms() {
	echo $(($(date +%s%N) / 1000000))
}

cleanup() {
	for p in $projects; do
		hv_stop "$tmp/$p"
	done
	for p in $projects; do
		pid=$(cat "$tmp/$p/.tach/hv.pid" 2>/dev/null)
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
		hvpids "$tmp/$p" | while read -r pid _; do kill -9 "$pid" 2>/dev/null; done
	done
	pkill -9 -f "tach-hv --root $tmp/" 2>/dev/null
	tmp_remove
}

need_built tach-run tach-hv tach-isolated tach tach_harness.py tach_zygote.py
need_pytest

# ---------------------------------------------------------------- fixtures
main=$tmp/main
mkdir "$main" "$tmp/res"
cat >"$main/conftest.py" <<'EOF'
import pytest


@pytest.fixture(scope="session")
def conf_session():
    yield "conftest-session"


@pytest.fixture
def from_conftest(conf_session):
    return "conftest:" + conf_session


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: skipped by a conftest collection hook")
    config.addinivalue_line("markers", "nightly: skipped by a conftest setup hook")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.skip(reason="slow: skipped by conftest"))


def pytest_runtest_setup(item):
    if item.get_closest_marker("nightly"):
        pytest.skip("nightly: skipped by conftest")
EOF
cat >"$main/helper.py" <<'EOF'
STATE = None
EOF
cat >"$main/test_feat.py" <<'EOF'
import logging
import os
import sys
import unittest

import pytest


def test_print():
    print("hello from stdout")
    print("hello from stderr", file=sys.stderr)


def test_fail():
    x = 41
    assert x + 1 == 43


def test_skip():
    pytest.skip("not today")


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="never on linux")
def test_skipif():
    assert False


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False


@pytest.mark.xfail(strict=True, reason="should fail")
def test_xpass_strict():
    pass


@pytest.mark.xfail(reason="maybe")
def test_xpass():
    pass


@pytest.mark.parametrize("n", [1, 2, 3])
def test_param(n):
    assert n != 2


@pytest.mark.parametrize("word", ["a", "b"], ids=["alpha", "beta"])
def test_ids(word):
    assert word in "ab"


ORDER = []


@pytest.fixture(scope="session")
def sess():
    ORDER.append("session-up")
    yield "S"
    ORDER.append("session-down")


@pytest.fixture(scope="module")
def mod(sess):
    ORDER.append("module-up")
    yield "M"
    ORDER.append("module-down")


@pytest.fixture(scope="class")
def klass(mod):
    ORDER.append("class-up")
    yield "C"
    ORDER.append("class-down")


@pytest.fixture
def func(mod):
    ORDER.append("function-up")
    yield "F"
    ORDER.append("function-down")


def test_scopes(sess, mod, func, from_conftest):
    assert (sess, mod, func) == ("S", "M", "F")
    assert from_conftest == "conftest:conftest-session"
    assert ORDER == ["session-up", "module-up", "function-up"]


class TestScopes:
    def test_first(self, klass, func):
        assert ORDER == ["session-up", "module-up", "class-up", "function-up"]

    def test_second(self, klass, func):
        # the first test's function fixture was torn down, the class's kept
        assert ORDER == ["session-up", "module-up", "class-up", "function-up",
                         "function-down", "function-up"]


@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown exploded")


def test_teardown_error(bad_teardown):
    pass


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")


def test_setup_error(broken):
    pass


AUTO = []


@pytest.fixture(autouse=True)
def _autouse():
    AUTO.append("up")
    yield
    AUTO.append("down")


def test_autouse():
    assert AUTO == ["up"]


class Unit(unittest.TestCase):
    def setUp(self):
        self.value = 2

    def tearDown(self):
        self.value = None

    def test_unit(self):
        self.assertEqual(self.value + 2, 4)

    def test_unit_fail(self):
        self.assertEqual(self.value + 2, 5)


def test_capsys(capsys):
    print("captured by capsys")
    sys.stderr.write("err by capsys\n")
    out, err = capsys.readouterr()
    assert out == "captured by capsys\n" and err == "err by capsys\n"


def test_capfd(capfd):
    os.write(1, b"fd one\n")
    os.write(2, b"fd two\n")
    out, err = capfd.readouterr()
    assert out == "fd one\n" and err == "fd two\n"


def test_caplog(caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("tach.test").info("logged %d", 42)
    assert "logged 42" in caplog.text
    assert caplog.records[0].levelname == "INFO"


@pytest.mark.slow
def test_slow():
    assert False


@pytest.mark.nightly
def test_nightly():
    assert False


class TestK:
    def test_m(self):
        assert True

    def test_n(self):
        assert 1 + 1 == 2
EOF
# a test that passes, then one that crashes the process, in one request:
# the first's result was read before the second began
cat >"$main/test_crash_after.py" <<'EOF'
def test_a_passes():
    print("a ran")


def test_b_segv():
    import faulthandler
    faulthandler._sigsegv()
EOF
cat >"$main/test_crash.py" <<'EOF'
import os
import time

import pytest


def test_ok():
    pass


def test_segv():
    import faulthandler
    faulthandler._sigsegv()


def test_abort():
    os.abort()


def test_exit3():
    os._exit(3)


def test_ctypes_null():
    import ctypes
    ctypes.string_at(0)


def test_hang():
    while True:
        time.sleep(1)


@pytest.mark.timeout(1)
def test_gil_hang():
    # one C call: no Python timer runs until it returns
    sum(range(10**11))


@pytest.mark.timeout(4)
def test_long_marker():
    time.sleep(2)
EOF
cat >"$main/test_dome.py" <<'EOF'
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time

libc = ctypes.CDLL(None, use_errno=True)


def ok(ret):
    assert ret == 0, "errno %d" % ctypes.get_errno()


def test_socket():
    socket.socket().close()


def test_unix():
    # a unix socket is the test's own: a server and a client, and the
    # user lookups glibc may make through nscd's socket
    import pwd
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind("\0tach-test-%d" % os.getpid())
    srv.listen(1)
    cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    cli.connect("\0tach-test-%d" % os.getpid())
    conn, _ = srv.accept()
    cli.sendall(b"x")
    assert conn.recv(1) == b"x"
    assert pwd.getpwuid(0).pw_name == "root"


def test_inet6():
    socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close()


def test_ptrace():
    # PTRACE_PEEKUSER of no tracee: harmless wherever it is allowed
    ok(libc.ptrace(3, 0, 0, 0))


def test_io_uring_setup():
    params = ctypes.create_string_buffer(120)
    fd = libc.syscall(ctypes.c_long(425), ctypes.c_uint(1), params)
    assert fd >= 0, "errno %d" % ctypes.get_errno()
    os.close(fd)


def test_unshare():
    ok(libc.unshare(0x20000))


def test_mount():
    # a target that does not exist: nothing is mounted where it is allowed
    ok(libc.mount(b"none", b"/nonexistent/tach-mnt", b"tmpfs", 0, None))


def test_fork():
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    _, st = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(st) == 7


def test_subprocess():
    subprocess.run(["true"], check=True)


# every way to make a process, however it is named, is the dome's to report
def test_system_alias():
    assert getattr(os, "sys" + "tem")("true") == 0


def test_fork_dict():
    pid = os.__dict__["fork"]()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def test_spawn_alias():
    pid = getattr(os, "posix_" + "spawn")("/bin/true", ["true"], os.environ)
    os.waitpid(pid, 0)


def test_fork_exec():
    import _posixsubprocess
    r, w = os.pipe()
    # the arguments of Python 3.11 (and 3.12)
    pid = _posixsubprocess.fork_exec(
        [b"/bin/true"], [b"/bin/true"], True, (w,), None, None, -1, -1, -1, -1, -1, -1,
        r, w, False, False, -1, None, None, None, -1, None, False)
    os.waitpid(pid, 0)


def test_thread():
    got = []
    t = threading.Thread(target=got.append, args=(1,))
    t.start()
    t.join()
    assert got == [1]


def test_execve():
    os.execv("/bin/true", ["true"])


def test_stop_parent():
    # where it is allowed, the parent goes on at once
    parent = os.getppid()
    errors = []
    for sig in (signal.SIGSTOP, signal.SIGCONT):
        try:
            os.kill(parent, sig)
        except OSError as e:
            errors.append(e)
    assert not errors


def test_killpg():
    # where it is allowed (the isolated runtime), the group is the test's own
    os.killpg(os.getpgrp(), signal.SIGKILL)


def test_signal_self():
    got = []
    old = signal.signal(signal.SIGUSR1, lambda sig, frame: got.append(sig))
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        signal.raise_signal(signal.SIGUSR1)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert got == [signal.SIGUSR1, signal.SIGUSR1]


def test_bystander():
    # runs while test_killpg signals its group, until the suite says
    here = os.path.dirname(os.path.abspath(__file__))
    open(os.path.join(here, "bystander.started"), "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(here, "bystander.done")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
EOF
cat >"$main/test_pollute.py" <<'EOF'
import json
import os

import helper


def test_a_pollute():
    os.environ["TACH_POLLUTED"] = "1"
    json.POLLUTED = True
    helper.STATE = "dirty"


def test_b_clean():
    assert "TACH_POLLUTED" not in os.environ
    assert not hasattr(json, "POLLUTED")
    assert helper.STATE is None
EOF
cat >"$main/test_broken.py" <<'EOF'
def test_x(:
    pass
EOF

cat >"$tmp/check.py" <<'EOF'
# check.py FILE EXPR: exit 0 when EXPR holds; t is the list of test cases,
# c the first, by the dict of cases by node id
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
t = doc["tests"]
c = t[0] if t else {}
by = {x["nodeid"]: x for x in t}
ok = eval("(" + sys.argv[2] + "\n)")
if not ok:
    print(json.dumps(t, indent=1)[:1500], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF

# outcome FILE NODEID: prints the outcome of NODEID in a result file
outcome() {
	"$python" -c 'import json, sys
t = json.load(open(sys.argv[1]))["tests"]
print(" ".join(x["outcome"] for x in t if x["nodeid"] == sys.argv[2]) or "none")' "$1" "$2" 2>/dev/null ||
		echo "none"
}

# trun MODE NAME [OPTIONS] NODEID: runs tach-run in $root, the result in
# $tmp/res/MODE-NAME.json, stdout in .out, stderr in .err, status in $rc
root=$main
trun() {
	mode=$1
	name=$2
	shift 2
	timeout 60 "$run" --mode "$mode" --root "$root" --python "$python" \
		--result "$tmp/res/$mode-$name.json" "$@" >"$tmp/res/$mode-$name.out" 2>"$tmp/res/$mode-$name.err"
	rc=$?
	echo "$rc" >"$tmp/res/$mode-$name.rc"
}

# expect MODE NAME RC EXPR: the exit status and the result of run NAME in
# MODE; the mode of every case is checked too
expect() {
	f=$tmp/res/$1-$2
	rc=$(cat "$f.rc" 2>/dev/null || echo none)
	if [ "$rc" != "$3" ]; then
		fail "$1/$2" "exit status $rc, expected $3: $(head -c 500 "$f.out") $(head -c 300 "$f.err")"
	elif [ ! -f "$f.json" ]; then
		fail "$1/$2" "no result file: $(head -c 300 "$f.err")"
	elif ! "$python" "$tmp/check.py" "$f.json" "all(x['mode'] == '$1' for x in t) and ($4)" \
		2>"$f.why"; then
		fail "$1/$2" "$4 does not hold: $(head -c 800 "$f.why")"
	else
		pass "$1/$2"
	fi
}

# printed MODE NAME LINE: the run printed LINE on stdout
printed() {
	if grep -q -x -F "$3" "$tmp/res/$1-$2.out"; then
		pass "$1/$2-printed"
	else
		fail "$1/$2-printed" "no line \"$3\" on stdout: $(head -c 300 "$tmp/res/$1-$2.out")"
	fi
}

# the idle-timeout check sleeps: start its zygote now, look at the end
mkdir "$tmp/idle"
printf 'def test_idle():\n    pass\n' >"$tmp/idle/test_idle.py"
idle_start=$(date +%s)
TACH_HV_IDLE=2 "$run" --mode hypervisor --root "$tmp/idle" --python "$python" \
	--result "$tmp/res/idle.json" test_idle.py::test_idle >"$tmp/res/idle.out" 2>&1
idle_rc=$?

# ---------------------------------------------- the same suite, both modes
for mode in isolated hypervisor; do
	trun $mode print test_feat.py::test_print
	expect $mode print 0 'len(t) == 1 and c["nodeid"] == "test_feat.py::test_print" and
	    c["outcome"] == "passed" and "hello from stdout" in c["stdout"] and
	    "hello from stderr" in c["stderr"] and c["signal"] is None and
	    sorted(c) == sorted(["nodeid", "outcome", "mode", "duration", "message", "stdout",
	    "stderr", "signal"]) and isinstance(c["duration"], float)'
	if [ -s "$tmp/res/$mode-print.out" ]; then
		fail "$mode/print-quiet" "a passing run printed: $(head -c 300 "$tmp/res/$mode-print.out")"
	else
		pass "$mode/print-quiet"
	fi

	trun $mode fail test_feat.py::test_fail
	expect $mode fail 1 'c["outcome"] == "failed" and "assert x + 1 == 43" in c["message"]'
	printed $mode fail "FAILED test_feat.py::test_fail"

	trun $mode skip test_feat.py::test_skip
	expect $mode skip 0 'c["outcome"] == "skipped" and "not today" in c["message"]'

	trun $mode skipif test_feat.py::test_skipif
	expect $mode skipif 0 'c["outcome"] == "skipped" and "never on linux" in c["message"]'

	trun $mode xfail test_feat.py::test_xfail
	expect $mode xfail 0 'c["outcome"] == "xfailed" and "known bug" in c["message"]'

	trun $mode xpass-strict test_feat.py::test_xpass_strict
	expect $mode xpass-strict 1 'c["outcome"] == "failed" and "XPASS(strict)" in c["message"]'

	trun $mode xpass test_feat.py::test_xpass
	expect $mode xpass 0 'c["outcome"] == "passed"'

	trun $mode param test_feat.py::test_param
	expect $mode param 1 '[(x["nodeid"], x["outcome"]) for x in t] == [
	    ("test_feat.py::test_param[1]", "passed"), ("test_feat.py::test_param[2]", "failed"),
	    ("test_feat.py::test_param[3]", "passed")] and "assert 2 != 2" in t[1]["message"]'
	printed $mode param "FAILED test_feat.py::test_param[2]"

	trun $mode param-case "test_feat.py::test_param[3]"
	expect $mode param-case 0 '[(x["nodeid"], x["outcome"]) for x in t] == [("test_feat.py::test_param[3]", "passed")]'

	trun $mode param-ids test_feat.py::test_ids
	expect $mode param-ids 0 '[x["nodeid"] for x in t] == ["test_feat.py::test_ids[alpha]",
	    "test_feat.py::test_ids[beta]"] and all(x["outcome"] == "passed" for x in t)'

	trun $mode fixture-scopes test_feat.py::test_scopes
	expect $mode fixture-scopes 0 'c["outcome"] == "passed"'

	trun $mode fixture-class-scope test_feat.py::TestScopes
	expect $mode fixture-class-scope 0 '[(x["nodeid"], x["outcome"]) for x in t] == [
	    ("test_feat.py::TestScopes::test_first", "passed"),
	    ("test_feat.py::TestScopes::test_second", "passed")]'

	trun $mode teardown-error test_feat.py::test_teardown_error
	expect $mode teardown-error 1 'c["outcome"] == "error" and "teardown exploded" in c["message"]'

	trun $mode setup-error test_feat.py::test_setup_error
	expect $mode setup-error 1 'c["outcome"] == "error" and "fixture exploded" in c["message"]'

	trun $mode autouse test_feat.py::test_autouse
	expect $mode autouse 0 'c["outcome"] == "passed"'

	trun $mode unittest test_feat.py::Unit::test_unit
	expect $mode unittest 0 'len(t) == 1 and c["outcome"] == "passed"'

	trun $mode unittest-class test_feat.py::Unit
	expect $mode unittest-class 1 '[(x["nodeid"], x["outcome"]) for x in t] == [
	    ("test_feat.py::Unit::test_unit", "passed"), ("test_feat.py::Unit::test_unit_fail", "failed")]
	    and "AssertionError" in t[1]["message"]'

	trun $mode capsys test_feat.py::test_capsys
	expect $mode capsys 0 'c["outcome"] == "passed" and "captured by capsys" not in c["stdout"]'

	trun $mode capfd test_feat.py::test_capfd
	expect $mode capfd 0 'c["outcome"] == "passed" and "fd one" not in c["stdout"]'

	trun $mode caplog test_feat.py::test_caplog
	expect $mode caplog 0 'c["outcome"] == "passed"'

	trun $mode marker-skip-collect test_feat.py::test_slow
	expect $mode marker-skip-collect 0 'c["outcome"] == "skipped" and "slow: skipped by conftest" in c["message"]'

	trun $mode marker-skip-setup test_feat.py::test_nightly
	expect $mode marker-skip-setup 0 'c["outcome"] == "skipped" and "nightly: skipped by conftest" in c["message"]'

	trun $mode class-method test_feat.py::TestK::test_m
	expect $mode class-method 0 '[(x["nodeid"], x["outcome"]) for x in t] == [("test_feat.py::TestK::test_m", "passed")]'

	trun $mode class-whole test_feat.py::TestK
	expect $mode class-whole 0 '[(x["nodeid"], x["outcome"]) for x in t] == [
	    ("test_feat.py::TestK::test_m", "passed"), ("test_feat.py::TestK::test_n", "passed")]'

	# crashes
	trun $mode segv test_crash.py::test_segv
	expect $mode segv 1 'len(t) == 1 and c["nodeid"] == "test_crash.py::test_segv" and
	    c["outcome"] == "crashed" and c["signal"] == "SIGSEGV" and
	    "Segmentation fault" in c["message"] and "test_segv" in c["message"]'
	printed $mode segv "CRASHED test_crash.py::test_segv"

	trun $mode abort test_crash.py::test_abort
	expect $mode abort 1 'c["outcome"] == "crashed" and c["signal"] == "SIGABRT"'

	trun $mode exit3 test_crash.py::test_exit3
	expect $mode exit3 1 'c["outcome"] == "crashed" and c["signal"] is None and "exit status 3" in c["message"]'

	trun $mode ctypes-null test_crash.py::test_ctypes_null
	expect $mode ctypes-null 1 'c["outcome"] == "crashed" and c["signal"] == "SIGSEGV"'

	trun $mode after-crash test_crash.py::test_ok
	expect $mode after-crash 0 'c["outcome"] == "passed"'

	trun $mode passed-then-crash test_crash_after.py
	expect $mode passed-then-crash 1 '[(x["nodeid"], x["outcome"]) for x in t] == [
	    ("test_crash_after.py::test_a_passes", "passed"), ("test_crash_after.py::test_b_segv", "crashed")] and
	    t[0]["stdout"] == "a ran\n"'

	start=$(date +%s)
	trun $mode timeout --timeout 2 test_crash.py::test_hang
	elapsed=$(($(date +%s) - start))
	expect $mode timeout 1 'c["outcome"] == "timeout" and "test_hang" in c["message"]'
	printed $mode timeout "TIMEOUT test_crash.py::test_hang"
	if [ "$elapsed" -lt 15 ]; then
		pass "$mode/timeout-quick"
	else
		fail "$mode/timeout-quick" "took ${elapsed}s with --timeout 2"
	fi

	# the marker, enforced from C, overrides --timeout both ways
	start=$(date +%s)
	trun $mode marker-gil --timeout 60 test_crash.py::test_gil_hang
	elapsed=$(($(date +%s) - start))
	expect $mode marker-gil 1 'c["outcome"] == "timeout" and c["message"].startswith("timed out after 1 s")'
	[ "$elapsed" -le 8 ] && pass "$mode/marker-gil-quick" || fail "$mode/marker-gil-quick" "took ${elapsed}s"
	trun $mode marker-long --timeout 1 test_crash.py::test_long_marker
	expect $mode marker-long 0 'c["outcome"] == "passed"'

	# missing node ids and broken files
	trun $mode missing test_feat.py::test_nope
	expect $mode missing 1 'len(t) == 1 and c["nodeid"] == "test_feat.py::test_nope" and
	    c["outcome"] == "error" and "not found" in c["message"]'

	trun $mode missing-file test_nofile.py::test_x
	expect $mode missing-file 1 'len(t) == 1 and c["outcome"] == "error" and "not found" in c["message"]'

	trun $mode syntax-error test_broken.py::test_x
	expect $mode syntax-error 1 'c["outcome"] == "error" and "SyntaxError" in c["message"]
	    and "def test_x(:" in c["message"]'

	# a test's changes to the process never reach the next test
	trun $mode pollute-a test_pollute.py::test_a_pollute
	expect $mode pollute-a 0 'c["outcome"] == "passed"'
	trun $mode pollute-b test_pollute.py::test_b_clean
	expect $mode pollute-b 0 'c["outcome"] == "passed"'
	if [ $mode = hypervisor ]; then
		# both went through one sub-zygote (a zygote that restarted in
		# between, when tach itself was rebuilt, says so in hv.log)
		"$tach" hv status --root "$main" >"$tmp/res/status-main.out" 2>&1
		if grep -q "^  test_pollute.py: pid [0-9]*, ready, 2 tests served" "$tmp/res/status-main.out"; then
			pass hypervisor/pollute-same-zygote
		else
			fail hypervisor/pollute-same-zygote "expected a sub-zygote for test_pollute.py that served 2 tests: $(cat "$tmp/res/status-main.out") $(grep changed "$main/.tach/hv.log")"
		fi
	fi

	# the Iron Dome's calls
	for n in socket inet6 unix ptrace io_uring_setup unshare mount fork subprocess execve thread \
		stop_parent killpg signal_self system_alias fork_dict spawn_alias fork_exec; do
		trun $mode "dome-$n" "test_dome.py::test_$n"
	done
done

# usage errors
"$run" --mode bogus --root "$main" --python "$python" --result "$tmp/res/u.json" x >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] && pass usage-mode || fail usage-mode "exit status $rc for --mode bogus, expected 2"
"$run" --mode hypervisor --root "$main" --python "$python" x >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] && pass usage-no-result || fail usage-no-result "exit status $rc without --result, expected 2"

# ------------------------------------------------------------ the Iron Dome
# a test the dome stops is not what pytest would say: tach-run runs it again
# in the isolated runtime, says so on stderr, and reports the isolated
# outcome (no --closure here: nothing is remembered)
for n in socket inet6 ptrace io_uring_setup unshare mount fork execve subprocess stop_parent killpg \
	system_alias fork_dict spawn_alias fork_exec; do
	case $n in
	subprocess | system_alias | fork_dict | spawn_alias | fork_exec) denied=fork ;;
	stop_parent | killpg) denied=kill ;;
	inet6) denied=socket ;;
	*) denied=$n ;;
	esac
	f=$tmp/res/hypervisor-dome-$n
	g=$tmp/res/isolated-dome-$n
	if ! grep -q -x -F "tach: test_dome.py::test_$n: the Iron Dome stopped $denied(2) in hypervisor mode; ran it isolated" \
	    "$f.err"; then
		fail "hypervisor/dome-$n" "no fallback notice on stderr: $(head -c 500 "$f.err")"
	elif [ "$(cat "$f.rc")" != "$(cat "$g.rc")" ] ||
	    [ "$(outcome "$f.json" "test_dome.py::test_$n")" != "$(outcome "$g.json" "test_dome.py::test_$n")" ]; then
		fail "hypervisor/dome-$n" "exit $(cat "$f.rc"), $(outcome "$f.json" "test_dome.py::test_$n"); isolated: exit $(cat "$g.rc"), $(outcome "$g.json" "test_dome.py::test_$n")"
	elif ! "$python" "$tmp/check.py" "$f.json" "all(x['mode'] == 'isolated' for x in t) and
	    all('Iron Dome' not in x['message'] for x in t)" 2>"$f.why"; then
		fail "hypervisor/dome-$n" "$(head -c 500 "$f.why")"
	else
		pass "hypervisor/dome-$n"
	fi
done
expect hypervisor dome-thread 0 'c["outcome"] == "passed"'
expect hypervisor dome-unix 0 'c["outcome"] == "passed"'
if [ -s "$tmp/res/hypervisor-dome-unix.err" ]; then
	fail hypervisor/dome-unix-quiet "$(head -c 300 "$tmp/res/hypervisor-dome-unix.err")"
else
	pass hypervisor/dome-unix-quiet
fi
expect hypervisor dome-signal_self 0 'c["outcome"] == "passed"'

# a test may signal only itself: its group (the zygote's and the other
# tests') and its parent are out of reach. test_killpg runs while
# test_bystander waits in the same sub-zygote; after it, the same base
# zygote serves, no zygote is stopped, and the next test passes
hv=$(cat "$main/.tach/hv.pid" 2>/dev/null)
rm -f "$main/bystander.started" "$main/bystander.done"
trun hypervisor dome-bystander test_dome.py::test_bystander &
bystander=$!
n=0
while [ ! -f "$main/bystander.started" ] && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
trun hypervisor dome-killpg-bystander test_dome.py::test_killpg
: >"$main/bystander.done"
wait $bystander
expect hypervisor dome-bystander 0 'c["outcome"] == "passed"'
# state PID: the process's state letter (R, S, T stopped, Z dead), or none
state() {
	awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || echo none
}
stopped=
for pid in $(hvpids "$main" | awk '{ print $1 }'); do
	case $(state "$pid") in T | t) stopped="$stopped $pid" ;; esac
done
now=$(cat "$main/.tach/hv.pid" 2>/dev/null)
st=$(state "${hv:-none}")
if [ -z "$hv" ] || [ "$hv" != "$now" ]; then
	fail hypervisor/dome-signal-zygote "hv.pid was '$hv' before test_killpg, '$now' after"
elif [ "$st" = none ] || [ "$st" = Z ] || [ "$st" = X ]; then
	fail hypervisor/dome-signal-zygote "the zygote $hv is gone (state $st)"
elif [ -n "$stopped" ]; then
	fail hypervisor/dome-signal-zygote "zygote processes stopped:$stopped"
else
	pass hypervisor/dome-signal-zygote
fi
trun hypervisor dome-after-killpg test_dome.py::test_signal_self
expect hypervisor dome-after-killpg 0 'c["outcome"] == "passed"'

# the same tests in a fresh interpreter: nothing is the Iron Dome's doing
for n in socket inet6 unix ptrace io_uring_setup unshare mount fork subprocess execve thread \
	stop_parent killpg signal_self system_alias fork_dict spawn_alias fork_exec; do
	f=$tmp/res/isolated-dome-$n
	if [ ! -f "$f.json" ]; then
		fail "isolated/dome-$n" "no result file: $(head -c 300 "$f.err")"
	elif grep -q "Iron Dome" "$f.json" "$f.out"; then
		fail "isolated/dome-$n" "reported as an Iron Dome denial: $(head -c 500 "$f.out")"
	else
		case $n in
		socket | inet6 | unix | fork | subprocess | thread | stop_parent | signal_self | system_alias | \
		fork_dict | spawn_alias | fork_exec)
			o=$(outcome "$f.json" "test_dome.py::test_$n")
			if [ "$o" = passed ]; then
				pass "isolated/dome-$n"
			else
				fail "isolated/dome-$n" "outcome $o, expected passed: $(head -c 500 "$f.out")"
			fi
			;;
		*) pass "isolated/dome-$n" ;;
		esac
	fi
done

# ------------------------------------------------------ temporary files
# a test process ends without atexit: the zygote makes pytest's numbered
# directory once, each test's tmp_path holds its last run only, and a test
# that asks for none gets no directory
tt=$tmp/tt
mkdir -p "$tt/p" "$tt/tmp"
cat >"$tt/p/test_tmp.py" <<'EOF'
def test_a(tmp_path):
    (tmp_path / "f").write_text("x")


def test_b(tmp_path, tmpdir):
    assert tmp_path.exists() and tmpdir.check(dir=1) and not (tmp_path / "f").exists()


def test_c():
    pass
EOF
for k in 1 2 3; do
	for t in test_a test_b test_c; do
		TMPDIR=$tt/tmp timeout 60 "$run" --mode hypervisor --root "$tt/p" --python "$python" \
			--result "$tmp/res/tmp-$t.json" "test_tmp.py::$t" >/dev/null 2>&1
	done
done
numbered=$(ls -d "$tt"/tmp/pytest-of-*/pytest-[0-9]* 2>/dev/null | wc -l)
inside=$(ls -d "$tt"/tmp/pytest-of-*/pytest-[0-9]*/* 2>/dev/null | wc -l)
if [ "$(outcome "$tmp/res/tmp-test_a.json" test_tmp.py::test_a)" != passed ] ||
    [ "$(outcome "$tmp/res/tmp-test_b.json" test_tmp.py::test_b)" != passed ]; then
	fail hypervisor/tmp-path "$(cat "$tmp/res/tmp-test_b.json")"
elif [ "$numbered" -ne 1 ] || [ "$inside" -ne 2 ]; then
	fail hypervisor/tmp-path "$numbered numbered directories, $inside test directories after 9 runs: $(ls -R "$tt/tmp" | head -20)"
else
	pass hypervisor/tmp-path
fi
TMPDIR=$tt/tmp "$tach" hv stop --root "$tt/p" >/dev/null 2>&1

# ------------------------------------------------- 50 concurrent clients
conc=$tmp/conc
mkdir "$conc"
for f in 0 1 2 3 4; do
	for i in 0 1 2 3 4 5 6 7 8 9; do
		printf 'def test_%d():\n    assert sum(range(%d)) == %d\n\n\n' "$i" "$((f * 10 + i))" \
			"$(((f * 10 + i) * (f * 10 + i - 1) / 2))"
	done >"$conc/test_c$f.py"
done
for f in 0 1 2 3 4; do
	for i in 0 1 2 3 4 5 6 7 8 9; do
		(
			timeout 60 "$run" --mode hypervisor --root "$conc" --python "$python" \
				--result "$tmp/res/conc-$f-$i.json" "test_c$f.py::test_$i" \
				>"$tmp/res/conc-$f-$i.out" 2>&1
			echo $? >"$tmp/res/conc-$f-$i.rc"
		) &
	done
done
wait
bad=
for f in 0 1 2 3 4; do
	for i in 0 1 2 3 4 5 6 7 8 9; do
		o=$(outcome "$tmp/res/conc-$f-$i.json" "test_c$f.py::test_$i")
		r=$(cat "$tmp/res/conc-$f-$i.rc" 2>/dev/null)
		[ "$o" = passed ] && [ "$r" = 0 ] && continue
		bad="$bad test_c$f.py::test_$i (exit $r, $o: $(head -c 200 "$tmp/res/conc-$f-$i.out"))"
	done
done
[ -z "$bad" ] && pass hypervisor/concurrent-50 || fail hypervisor/concurrent-50 "$bad"

# one_base NAME DIR: exactly one base zygote serves DIR, the pid in hv.pid:
# one tach-hv of DIR whose parent is not another (sub-zygotes are its
# children, their spare test processes theirs)
one_base() {
	hvpids "$2" >"$tmp/res/$1.ps"
	pid=$(cat "$2/.tach/hv.pid" 2>/dev/null)
	bases=$(awk 'NR == FNR { p[$1] = 1; next } !($2 in p) { print $1 }' "$tmp/res/$1.ps" "$tmp/res/$1.ps" | tr '\n' ' ')
	if [ -z "$pid" ]; then
		fail "hypervisor/$1" "no $2/.tach/hv.pid"
	elif [ "$bases" != "$pid " ]; then
		fail "hypervisor/$1" "base zygotes [$bases], hv.pid $pid; tach-hv processes (pid ppid): $(tr '\n' ';' <"$tmp/res/$1.ps")"
	else
		pass "hypervisor/$1"
	fi
}
one_base concurrent-one-zygote "$conc"
"$tach" hv status --root "$conc" >"$tmp/res/status-conc.out" 2>&1
n=$(grep -c '^  test_c[0-4]\.py: pid' "$tmp/res/status-conc.out")
[ "$n" -eq 5 ] && pass hypervisor/concurrent-sub-zygotes ||
	fail hypervisor/concurrent-sub-zygotes "expected 5 sub-zygotes: $(cat "$tmp/res/status-conc.out")"

# ----------------------------------------------------- a killed zygote
kill_dir=$tmp/kill
mkdir "$kill_dir"
printf 'def test_one():\n    pass\n\n\ndef test_two():\n    pass\n' >"$kill_dir/test_k.py"
root=$kill_dir
trun hypervisor kill-before test_k.py::test_one
expect hypervisor kill-before 0 'c["outcome"] == "passed"'
old=$(cat "$kill_dir/.tach/hv.pid" 2>/dev/null)
pkill -9 -f "tach-hv --root $kill_dir --python"
n=0
while [ -n "$(hvpids "$kill_dir")" ] && [ $n -lt 50 ]; do
	sleep 0.1
	n=$((n + 1))
done
trun hypervisor kill-after test_k.py::test_two
expect hypervisor kill-after 0 'c["outcome"] == "passed"'
new=$(cat "$kill_dir/.tach/hv.pid" 2>/dev/null)
if [ -z "$old" ] || [ -z "$new" ]; then
	fail hypervisor/kill-new-pid "hv.pid missing (before: '$old', after: '$new')"
elif [ "$old" = "$new" ]; then
	fail hypervisor/kill-new-pid "hv.pid still holds the killed zygote's pid $old"
elif ! kill -0 "$new" 2>/dev/null; then
	fail hypervisor/kill-new-pid "the new zygote $new is not running"
else
	pass hypervisor/kill-new-pid
fi
one_base kill-one-zygote "$kill_dir"

# ---------------------------------------------------- a stopped zygote
# A zygote stopped by a signal (or a debugger) answers no one: the base
# kills a stopped sub-zygote and starts another, a client kills a stopped
# base and starts another, `tach hv stop` kills a stopped base. None of it
# may take long; timeout(1) ends a run that hangs after 20 s.
stop_dir=$tmp/stop
mkdir "$stop_dir"
printf 'def test_one():\n    pass\n\n\ndef test_two():\n    pass\n' >"$stop_dir/test_st.py"
printf '%s\n' 'import os' 'import signal' 'import time' '' '' 'def test_stop_parent():' \
	'    os.kill(os.getppid(), signal.SIGSTOP)' '    time.sleep(0.5)' '' '' 'def test_after():' '    pass' \
	>"$stop_dir/test_probe.py"
# srun MODE NAME NODEID: tach-run in $stop_dir with 20 s to end, as trun;
# the time it took in $took (ms)
srun() {
	t0=$(ms)
	timeout 20 "$run" --mode "$1" --root "$stop_dir" --python "$python" \
		--result "$tmp/res/$1-$2.json" "$3" >"$tmp/res/$1-$2.out" 2>"$tmp/res/$1-$2.err"
	echo $? >"$tmp/res/$1-$2.rc"
	took=$(($(ms) - t0))
}
# quick NAME: the last srun took less than 15 s
quick() {
	[ "$took" -lt 15000 ] && pass "$1" || fail "$1" "took $took ms"
}

srun hypervisor stop-warm test_st.py::test_one
expect hypervisor stop-warm 0 'c["outcome"] == "passed"'
base=$(cat "$stop_dir/.tach/hv.pid" 2>/dev/null)
# the base's only child: the sub-zygote of test_st.py
sub=
[ -n "$base" ] && sub=$(pgrep -P "$base" | head -1)
if [ -z "$sub" ]; then
	fail hypervisor/stopped-sub "no sub-zygote of zygote '$base'"
else
	kill -STOP "$sub"
	srun hypervisor stopped-sub test_st.py::test_two
	expect hypervisor stopped-sub 0 'c["outcome"] == "passed"'
	quick hypervisor/stopped-sub-quick
	case $(ps -o stat= -p "$sub") in
	"" | Z*) pass hypervisor/stopped-sub-killed ;;
	*) fail hypervisor/stopped-sub-killed "the stopped sub-zygote is still there: $(ps -o pid=,stat= -p "$sub")" ;;
	esac
	grep -q "(pid $sub) is stopped: killed it" "$stop_dir/.tach/hv.log" &&
		pass hypervisor/stopped-sub-logged ||
		fail hypervisor/stopped-sub-logged "nothing in hv.log: $(tail -c 400 "$stop_dir/.tach/hv.log")"
fi

base=$(cat "$stop_dir/.tach/hv.pid" 2>/dev/null)
if [ -z "$base" ]; then
	fail hypervisor/stopped-base "no $stop_dir/.tach/hv.pid"
else
	kill -STOP "$base"
	srun hypervisor stopped-base test_st.py::test_one
	expect hypervisor stopped-base 0 'c["outcome"] == "passed"'
	quick hypervisor/stopped-base-quick
	if grep -q -x -F "tach-run: the zygote $base of $stop_dir is stopped and answers no one: killed it, starting another" \
	    "$tmp/res/hypervisor-stopped-base.err"; then
		pass hypervisor/stopped-base-notice
	else
		fail hypervisor/stopped-base-notice "no notice on stderr: $(head -c 400 "$tmp/res/hypervisor-stopped-base.err")"
	fi
	new=$(cat "$stop_dir/.tach/hv.pid" 2>/dev/null)
	if ps -o stat= -p "$base" | grep -q -v '^Z'; then
		fail hypervisor/stopped-base-replaced "the stopped zygote is still there: $(ps -o pid=,stat= -p "$base")"
	elif [ -z "$new" ] || [ "$new" = "$base" ] || ! kill -0 "$new" 2>/dev/null; then
		fail hypervisor/stopped-base-replaced "no new zygote (hv.pid '$new', stopped $base)"
	else
		pass hypervisor/stopped-base-replaced
	fi
fi

# `tach hv stop` kills a stopped zygote
new=$(cat "$stop_dir/.tach/hv.pid" 2>/dev/null)
if [ -z "$new" ]; then
	fail hv/stop-stopped "no $stop_dir/.tach/hv.pid"
else
	kill -STOP "$new"
	t0=$(ms)
	timeout 20 "$tach" hv stop --root "$stop_dir" >"$tmp/res/stop-stopped.out" 2>&1
	rc=$?
	took=$(($(ms) - t0))
	if [ "$rc" -ne 0 ] || ! grep -q "^killed zygote $new for $stop_dir: it was stopped" "$tmp/res/stop-stopped.out"; then
		fail hv/stop-stopped "exit status $rc: $(cat "$tmp/res/stop-stopped.out")"
	else
		pass hv/stop-stopped
	fi
	quick hv/stop-stopped-quick
	left=$(hvstopped "$stop_dir" | tr '\n' ' ')
	[ -z "$left" ] && pass hv/stop-stopped-none-left ||
		fail hv/stop-stopped-none-left "stopped tach-hv processes left: $left"
fi

# the isolated runtime has no Iron Dome: a test there may stop its parent,
# a sub-zygote of the clean zygote; the next test must not wait for it
srun isolated stopped-by-test test_probe.py::test_stop_parent
srun isolated stopped-by-test-after test_probe.py::test_after
expect isolated stopped-by-test-after 0 'c["outcome"] == "passed"'
quick isolated/stopped-by-test-quick
left=$(hvstopped "$stop_dir" | tr '\n' ' ')
[ -z "$left" ] && pass isolated/stopped-by-test-none-left ||
	fail isolated/stopped-by-test-none-left "stopped tach-hv processes left: $left"

# ------------------------------------------------------- edited files
edit=$tmp/edit
mkdir "$edit"
printf 'import pytest\n\n\n@pytest.fixture\ndef cval():\n    return 1\n' >"$edit/conftest.py"
printf 'H = 1\n' >"$edit/helper_e.py"
test_e() {
	cat <<EOF
import helper_e

VALUE = $1


def test_value():
    assert VALUE == 1


def test_helper():
    assert helper_e.H == 1


def test_conftest(cval):
    assert cval == 1
EOF
}
test_e 1 >"$edit/test_e.py"
root=$edit
trun hypervisor edit-before test_e.py::test_value
expect hypervisor edit-before 0 'c["outcome"] == "passed"'
# the same size, within the same second
test_e 2 >"$edit/test_e.py"
trun hypervisor edit-test-file test_e.py::test_value
expect hypervisor edit-test-file 1 'c["outcome"] == "failed" and "assert 2 == 1" in c["message"]'
printf '\n\ndef test_new():\n    pass\n' >>"$edit/test_e.py"
trun hypervisor edit-new-test test_e.py::test_new
expect hypervisor edit-new-test 0 'c["nodeid"] == "test_e.py::test_new" and c["outcome"] == "passed"'

trun hypervisor edit-helper-before test_e.py::test_helper
expect hypervisor edit-helper-before 0 'c["outcome"] == "passed"'
printf 'H = 2\n' >"$edit/helper_e.py"
trun hypervisor edit-helper test_e.py::test_helper
expect hypervisor edit-helper 1 'c["outcome"] == "failed" and "assert 2 == 1" in c["message"]'
# as editors save: a new file renamed over the old
printf 'H = 1\n' >"$edit/helper_e.py.new" && mv "$edit/helper_e.py.new" "$edit/helper_e.py"
trun hypervisor edit-helper-rename test_e.py::test_helper
expect hypervisor edit-helper-rename 0 'c["outcome"] == "passed"'

trun hypervisor edit-conftest-before test_e.py::test_conftest
expect hypervisor edit-conftest-before 0 'c["outcome"] == "passed"'
printf 'import pytest\n\n\n@pytest.fixture\ndef cval():\n    return 2\n' >"$edit/conftest.py"
trun hypervisor edit-conftest test_e.py::test_conftest
expect hypervisor edit-conftest 1 'c["outcome"] == "failed" and "assert 2 == 1" in c["message"]'

# a module outside the root (pytest's pythonpath), imported by a test file
# and by the configuration: watched wherever it lives
mkdir -p "$tmp/outside/proj" "$tmp/outside/shared"
projects="$projects outside/proj"
printf '[pytest]\npythonpath = ../shared\n' >"$tmp/outside/proj/pytest.ini"
printf 'V = 1\n' >"$tmp/outside/shared/far.py"
printf 'W = 1\n' >"$tmp/outside/shared/farconf.py"
printf 'import farconf\n' >"$tmp/outside/proj/conftest.py"
cat >"$tmp/outside/proj/test_far.py" <<'EOF'
import far
import farconf


def test_far():
    assert (far.V, farconf.W) == (1, 1)
EOF
root=$tmp/outside/proj
trun hypervisor outside-before test_far.py::test_far
expect hypervisor outside-before 0 'c["outcome"] == "passed"'
printf 'V = 2\n' >"$tmp/outside/shared/far.py"
trun hypervisor outside-module test_far.py::test_far
expect hypervisor outside-module 1 'c["outcome"] == "failed" and "(2, 1) == (1, 1)" in c["message"]'
printf 'V = 1\n' >"$tmp/outside/shared/far.py"
printf 'W = 2\n' >"$tmp/outside/shared/farconf.py"
trun hypervisor outside-conf test_far.py::test_far
expect hypervisor outside-conf 1 'c["outcome"] == "failed" and "(1, 2) == (1, 1)" in c["message"]'
hv_stop "$tmp/outside/proj"

# code run at collection (a test module's top level, a conftest.py) that
# leaves a process behind, even a detached one: the zygote sees it (it is a
# child subreaper), forks nothing from there, and kills it
lv=$tmp/leave
projects="$projects leave"
mkdir -p "$lv/sub"
cat >"$lv/test_leave.py" <<'EOF'
import os

getattr(os, "sys" + "tem")("sleep 611 </dev/null >/dev/null 2>&1 &")


def test_leave():
    pass
EOF
root=$lv
trun hypervisor leave-module test_leave.py::test_leave
[ "$(outcome "$tmp/res/hypervisor-leave-module.json" test_leave.py::test_leave)" = passed ] &&
	grep -q '"mode":"isolated"' "$tmp/res/hypervisor-leave-module.json" && pass hypervisor/leave-module ||
	fail hypervisor/leave-module "$(cat "$tmp/res/hypervisor-leave-module.json")"

if grep -q "the zygote had child processes after importing test_leave.py" "$tmp/res/hypervisor-leave-module.err"; then
	pass hypervisor/leave-module-notice
else
	fail hypervisor/leave-module-notice "$(head -c 300 "$tmp/res/hypervisor-leave-module.err")"
fi
printf 'import os\n\ngetattr(os, "sys" + "tem")("sleep 612 </dev/null >/dev/null 2>&1 &")\n' >"$lv/sub/conftest.py"
printf 'def test_conf():\n    pass\n' >"$lv/sub/test_conf.py"
printf '[pytest]\ntestpaths = sub\n' >"$lv/pytest.ini"
trun hypervisor leave-conftest sub/test_conf.py::test_conf
[ "$(outcome "$tmp/res/hypervisor-leave-conftest.json" sub/test_conf.py::test_conf)" = passed ] &&
	grep -q '"mode":"isolated"' "$tmp/res/hypervisor-leave-conftest.json" && pass hypervisor/leave-conftest ||
	fail hypervisor/leave-conftest "$(cat "$tmp/res/hypervisor-leave-conftest.json")"

hv_stop "$lv"
sleep 0.5
left=$(pgrep -f "sleep 61[12]" | tr '\n' ' ')
[ -z "$left" ] && pass hypervisor/leave-nothing-left || {
	fail hypervisor/leave-nothing-left "still running: $left"
	pkill -f "sleep 61[12]"
}

# a test that patches the standard library and leaves it so cannot break
# the report of its own result: the harness bound what it uses first
mkdir -p "$tmp/patch"
projects="$projects patch"
cat >"$tmp/patch/test_patch.py" <<'EOF'
import json
import os


def test_patch():
    json.dumps = lambda *a, **k: "patched"
    os.environ.get = lambda *a, **k: "patched"
EOF
root=$tmp/patch
for mode in isolated hypervisor; do
	trun $mode patch-stdlib test_patch.py::test_patch
	expect $mode patch-stdlib 0 'c["outcome"] == "passed"'
done
hv_stop "$tmp/patch"

# --------------------------------------------------- a peer of another uid
root=$main
if [ "$(id -u)" != 0 ]; then
	skip other-uid "not running as root"
elif ! command -v setpriv >/dev/null 2>&1; then
	skip other-uid "no setpriv"
else
	trun hypervisor uid-warm test_crash.py::test_ok
	cat >"$tmp/peer.py" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
# the zygote may answer and close before it reads the request: the send
# may fail with EPIPE, and a read after the answer with ECONNRESET
try:
    s.sendall(struct.pack("<IHHII", 0x54484831, 1, 2, 0, 0))
except OSError as e:
    print("(send: %s)" % e)
data = b""
while True:
    try:
        chunk = s.recv(4096)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode("utf-8", "replace"))
EOF
	chmod 0644 "$tmp/peer.py"
	modes="$(stat -c %a "$tmp") $(stat -c %a "$main") $(stat -c %a "$main/.tach") $(stat -c %a "$main/.tach/hv.sock")"
	chmod 0711 "$tmp" "$main" "$main/.tach"
	chmod 0666 "$main/.tach/hv.sock"
	reply=$(cd / && timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$python" "$tmp/peer.py" "$main/.tach/hv.sock" 2>&1)
	set -- $modes
	chmod "$1" "$tmp"
	chmod "$2" "$main"
	chmod "$3" "$main/.tach"
	chmod "$4" "$main/.tach/hv.sock"
	case $reply in
	*"serves uid 0 only"*)
		case $reply in
		*status*) fail other-uid "the reply holds a status: $reply" ;;
		*) pass other-uid ;;
		esac
		;;
	*) fail other-uid "expected \"serves uid 0 only\", got: $reply" ;;
	esac
	if grep -q "refused a request from uid 65534" "$main/.tach/hv.log"; then
		pass other-uid-logged
	else
		fail other-uid-logged "no \"refused a request from uid 65534\" in hv.log: $(tail -c 300 "$main/.tach/hv.log")"
	fi
	trun hypervisor uid-after test_crash.py::test_ok
	expect hypervisor uid-after 0 'c["outcome"] == "passed"'
fi

# ------------------------------------------------------ tach hv status|stop
ctl=$tmp/ctl
mkdir "$ctl"
printf 'def test_s():\n    pass\n' >"$ctl/test_s.py"
root=$ctl
# ctl NAME status|stop: runs tach hv, output in $tmp/res/NAME.out, status in $rc
ctl() {
	ctlname=$1
	timeout 40 "$tach" hv "$2" --root "$ctl" >"$tmp/res/$1.out" 2>&1
	rc=$?
}
# said NAME RC TEXT: the last ctl exited RC and printed TEXT (a grep
# pattern)
said() {
	if [ "$rc" -ne "$2" ]; then
		fail "hv/$1" "exit status $rc, expected $2: $(cat "$tmp/res/$ctlname.out")"
	elif ! grep -q -e "$3" "$tmp/res/$ctlname.out"; then
		fail "hv/$1" "expected \"$3\": $(cat "$tmp/res/$ctlname.out")"
	else
		pass "hv/$1"
	fi
}
ctl status-none status
said status-none 1 "^no zygote is running for $ctl\$"
ctl stop-none stop
said stop-none 0 "^no zygote is running for $ctl\$"
trun hypervisor ctl-run test_s.py::test_s
expect hypervisor ctl-run 0 'c["outcome"] == "passed"'
pid=$(cat "$ctl/.tach/hv.pid" 2>/dev/null)
ctl status status
said status 0 "^zygote $pid for $ctl "
said status-sub 0 "^  test_s.py: pid [0-9]*, ready, 1 tests served"
# asking how it is keeps it no busier: its idle time goes on
sleep 1.5
ctl status-idle status
idle=$(sed -n 's/^zygote .*, idle \([0-9.]*\) s of .*/\1/p' "$tmp/res/status-idle.out")
if awk -v i="${idle:-0}" 'BEGIN { exit !(i >= 1) }'; then
	pass hv/status-idle
else
	fail hv/status-idle "idle '$idle' s 1.5 s after a status, expected >= 1: $(cat "$tmp/res/status-idle.out")"
fi
ctl stop stop
said stop 0 "^stopped zygote $pid for $ctl"
left=
[ -e "$ctl/.tach/hv.sock" ] && left="$left hv.sock"
[ -e "$ctl/.tach/hv.pid" ] && left="$left hv.pid"
[ -n "$(hvpids "$ctl")" ] && left="$left processes($(hvpids "$ctl" | tr '\n' ';'))"
[ -z "$left" ] && pass hv/stop-gone || fail hv/stop-gone "after tach hv stop, still there:$left"
ctl status-after status
said status-after 1 "^no zygote is running for $ctl\$"
trun hypervisor ctl-restart test_s.py::test_s
expect hypervisor ctl-restart 0 'c["outcome"] == "passed"'
new=$(cat "$ctl/.tach/hv.pid" 2>/dev/null)
[ -n "$new" ] && [ "$new" != "$pid" ] && kill -0 "$new" 2>/dev/null && pass hv/restart ||
	fail hv/restart "no new zygote after a stop (hv.pid '$new', stopped $pid)"

# ------------------------------- --timeout covers a file that never collects
slow=$tmp/slowcol
mkdir -p "$slow"
printf 'while True:\n    pass\n\n\ndef test_never():\n    pass\n' >"$slow/test_spin.py"
projects="$projects slowcol"
t0=$(date +%s)
timeout 60 "$run" --mode hypervisor --root "$slow" --python "$python" --result "$tmp/res/spin.json" \
	--timeout 2 test_spin.py::test_never >/dev/null 2>&1
t1=$(date +%s)
o=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tests"][0]["outcome"])' \
	"$tmp/res/spin.json" 2>/dev/null)
[ "$o" = timeout ] && [ $((t1 - t0)) -lt 15 ] && pass hv/collect-timeout ||
	fail hv/collect-timeout "outcome '$o' after $((t1 - t0)) s (expected timeout after ~2 s)"
n=$(hvpids "$slow" | wc -l)
[ "$n" -le 1 ] && pass hv/collect-timeout-gone ||
	fail hv/collect-timeout-gone "$n zygote processes left spinning for $slow"

# -------------------------------- a client killed mid-test takes its test along
printf 'import time\n\n\ndef test_hang():\n    time.sleep(1000)\n' >"$ctl/test_hang.py"
"$run" --mode hypervisor --root "$ctl" --python "$python" --result "$tmp/res/gone.json" \
	test_hang.py::test_hang >/dev/null 2>&1 &
client=$!
kid=
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	sleep 0.25
	base=$(cat "$ctl/.tach/hv.pid" 2>/dev/null)
	[ -n "$base" ] || continue
	# the sub-zygote of test_hang.py is the base's newest child, and the
	# test its only child (a spare is forked only while no test runs)
	sub=$(pgrep -n -P "$base")
	[ -n "$sub" ] && kid=$(pgrep -P "$sub" | head -1)
	[ -n "$kid" ] && break
done
kill "$client" 2>/dev/null
wait "$client" 2>/dev/null
gone=no
for _ in 1 2 3 4 5 6 7 8 9 10; do
	sleep 0.2
	if [ -n "$kid" ] && ! kill -0 "$kid" 2>/dev/null; then
		gone=yes
		break
	fi
done
[ "$gone" = yes ] && pass hv/client-gone ||
	fail hv/client-gone "the test process ${kid:-?} of a killed client still runs"

# ---------------------------------------------------------- idle timeout
if [ "$idle_rc" -ne 0 ]; then
	fail hypervisor/idle-run "exit status $idle_rc: $(head -c 300 "$tmp/res/idle.out")"
else
	pass hypervisor/idle-run
fi
left=$((idle_start + 4 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
left=
[ -e "$tmp/idle/.tach/hv.sock" ] && left="$left hv.sock"
[ -n "$(hvpids "$tmp/idle")" ] && left="$left processes($(hvpids "$tmp/idle" | tr '\n' ';'))"
[ -z "$left" ] && pass hypervisor/idle-exit ||
	fail hypervisor/idle-exit "4 s after a run with TACH_HV_IDLE=2, still there:$left"

# ------------------------------------------------- nothing left behind
for p in $projects; do
	[ -d "$tmp/$p/.tach" ] && timeout 40 "$tach" hv stop --root "$tmp/$p" >/dev/null 2>&1
done
left=
for p in $projects; do
	h=$(hvpids "$tmp/$p" | tr '\n' ';')
	[ -n "$h" ] && left="$left $p:($h)"
done
for d in /proc/[0-9]*; do
	case $(readlink "$d/cwd" 2>/dev/null) in
	"$tmp" | "$tmp"/*) left="$left ${d#/proc/}:$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" ;;
	esac
done
[ -z "$left" ] && pass leftovers || fail leftovers "processes left in $tmp:$left"

exit $status

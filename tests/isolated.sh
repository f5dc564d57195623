#!/bin/sh
# tests/isolated.sh - the isolated runtime end to end: a fixture suite written
# into a temporary directory, each case run in a fresh interpreter by
# build/tach-isolated, or with TACH_ISOLATED_VIA=clean by `tach-run --mode
# isolated` through the clean zygote (forked from an interpreter that has
# imported pytest and nothing of the project), the result file checked with
# the real pytest of $TACH_PYTHON. Both must contain crashes, timeouts and
# leftover processes alike. Prints one PASS/FAIL line per check; exits
# non-zero when any failed.

top=$(cd "$(dirname "$0")/.." && pwd)
via=${TACH_ISOLATED_VIA:-exec}
suite=isolated
[ "$via" = clean ] && suite=isolated-clean
. "$top/tests/lib.sh"
# iso ARGS...: the isolated runtime
iso() {
	if [ "$via" = clean ]; then
		"$top/build/tach-run" --mode isolated "$@"
	else
		"$top/build/tach-isolated" "$@"
	fi
}
cleanup() {
	hv_stop "$tmp/proj"
	hv_stop "$tmp/conf"
	hv_stop "$tmp/endcrash"
	for f in "$tmp"/*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	tmp_remove
}

need_built tach-isolated tach_harness.py

mkdir "$tmp/proj"
cat >"$tmp/proj/test_basic.py" <<'EOF'
import os
import sys
import unittest

import pytest


def test_pass():
    print("hello from stdout")
    print("hello from stderr", file=sys.stderr)


def test_fail():
    x = 41
    assert x + 1 == 43


def test_skip():
    pytest.skip("not today")


@pytest.mark.skipif(True, reason="never on this box")
def test_skipif():
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False


@pytest.mark.xfail(strict=True, reason="should fail")
def test_xpass_strict():
    pass


@pytest.mark.xfail(reason="maybe")
def test_xpass():
    pass


@pytest.mark.parametrize("n", [1, 2, 3], ids=["one", "two", "three"])
def test_param(n):
    assert n in (1, 2, 3)


class TestKlass:
    def test_method(self):
        assert True


class Case(unittest.TestCase):
    def test_unit(self):
        self.assertEqual(2 + 2, 4)

    def test_unit_fail(self):
        self.assertEqual(2 + 2, 5)


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")


def test_setup_error(broken):
    pass


@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown exploded")


def test_teardown_error(bad_teardown):
    pass


def test_socket_fork():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.close()
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    _, st = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(st) == 7
EOF
cat >"$tmp/proj/test_crash.py" <<'EOF'
import os
import subprocess
import time

import pytest


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
    time.sleep(60)


def test_background():
    p = subprocess.Popen(["sleep", "1000"])
    q = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "bg.pid"), "w") as f:
        f.write("%d\n" % p.pid)
    with open(os.path.join(here, "..", "bg2.pid"), "w") as f:
        f.write("%d\n" % q.pid)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_param_crash(n):
    if n == 2:
        os.abort()
EOF
cat >"$tmp/proj/test_broken.py" <<'EOF'
def test_x(:
    pass
EOF
cat >"$tmp/check.py" <<'EOF'
# check.py FILE EXPR: exit 0 when EXPR holds for t, the list of test cases
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
t = doc["tests"]
ok = eval("(" + sys.argv[2] + "\n)")
if not ok:
    print(json.dumps(t, indent=1)[:2000], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF

# run NAME [OPTIONS] NODEID: runs tach-isolated, result in $tmp/NAME.json,
# its stdout and stderr in $tmp/NAME.out, exit status in $rc
run() {
	name=$1
	shift
	iso --root "$tmp/proj" --python "$python" --result "$tmp/$name.json" "$@" \
		>"$tmp/$name.out" 2>&1
	rc=$?
}

# expect NAME RC EXPR: the run's exit status and a check of its result
expect() {
	if [ "$rc" -ne "$2" ]; then
		fail "$1" "exit status $rc, expected $2: $(head -c 600 "$tmp/$1.out")"
	elif ! "$python" "$tmp/check.py" "$tmp/$1.json" "$3" 2>"$tmp/$1.why"; then
		fail "$1" "$3 does not hold: $(head -c 600 "$tmp/$1.why")"
	else
		pass "$1"
	fi
}

run pass test_basic.py::test_pass
expect pass 0 'len(t) == 1 and t[0]["nodeid"] == "test_basic.py::test_pass" and t[0]["outcome"] == "passed"'

run contract test_basic.py::test_pass
expect contract 0 'all(sorted(c) == sorted(["nodeid", "outcome", "mode", "duration", "message", "stdout",
    "stderr", "signal"]) and c["mode"] == "isolated" and c["signal"] is None and
    isinstance(c["duration"], float) for c in t)'

run stdout test_basic.py::test_pass
expect stdout 0 '"hello from stdout" in t[0]["stdout"] and "hello from stderr" in t[0]["stderr"]'

run fail test_basic.py::test_fail
expect fail 1 't[0]["outcome"] == "failed" and "assert x + 1 == 43" in t[0]["message"]'
if grep -q "assert x + 1 == 43" "$tmp/fail.out"; then
	pass fail-report
else
	fail fail-report "the failure report is not on stdout"
fi

run skip test_basic.py::test_skip
expect skip 0 't[0]["outcome"] == "skipped" and t[0]["message"] == "not today"'

run skipif test_basic.py::test_skipif
expect skipif 0 't[0]["outcome"] == "skipped" and "never on this box" in t[0]["message"]'

run xfail test_basic.py::test_xfail
expect xfail 0 't[0]["outcome"] == "xfailed" and "known bug" in t[0]["message"]'

run xpass-strict test_basic.py::test_xpass_strict
expect xpass-strict 1 't[0]["outcome"] == "failed" and "XPASS(strict)" in t[0]["message"]'

run xpass test_basic.py::test_xpass
expect xpass 0 't[0]["outcome"] == "passed"'

run parametrize test_basic.py::test_param
expect parametrize 0 '[c["nodeid"] for c in t] == ["test_basic.py::test_param[one]",
    "test_basic.py::test_param[two]", "test_basic.py::test_param[three]"] and
    all(c["outcome"] == "passed" for c in t)'

run param-case "test_basic.py::test_param[two]"
expect param-case 0 '[c["nodeid"] for c in t] == ["test_basic.py::test_param[two]"]'

run class test_basic.py::TestKlass::test_method
expect class 0 't[0]["nodeid"] == "test_basic.py::TestKlass::test_method" and t[0]["outcome"] == "passed"'

run unittest test_basic.py::Case::test_unit
expect unittest 0 't[0]["outcome"] == "passed"'

run unittest-fail test_basic.py::Case::test_unit_fail
expect unittest-fail 1 't[0]["outcome"] == "failed" and "AssertionError" in t[0]["message"]'

run setup-error test_basic.py::test_setup_error
expect setup-error 1 't[0]["outcome"] == "error" and "fixture exploded" in t[0]["message"]'

run teardown-error test_basic.py::test_teardown_error
expect teardown-error 1 't[0]["outcome"] == "error" and "teardown exploded" in t[0]["message"]'

run socket-fork test_basic.py::test_socket_fork
expect socket-fork 0 't[0]["outcome"] == "passed"'

run segv test_crash.py::test_segv
expect segv 1 't[0]["nodeid"] == "test_crash.py::test_segv" and t[0]["outcome"] == "crashed" and
    t[0]["signal"] == "SIGSEGV" and "SIGSEGV" in t[0]["message"] and "test_segv" in t[0]["message"]'

run abort test_crash.py::test_abort
expect abort 1 't[0]["outcome"] == "crashed" and t[0]["signal"] == "SIGABRT"'

run exit3 test_crash.py::test_exit3
expect exit3 1 't[0]["outcome"] == "crashed" and t[0]["signal"] is None and "exit status 3" in t[0]["message"]'

run ctypes-null test_crash.py::test_ctypes_null
expect ctypes-null 1 't[0]["outcome"] == "crashed" and t[0]["signal"] == "SIGSEGV"'

run param-crash test_crash.py::test_param_crash
expect param-crash 1 '[(c["nodeid"].split("::")[1], c["outcome"], c["signal"]) for c in t] == [
    ("test_param_crash[1]", "passed", None), ("test_param_crash[2]", "crashed", "SIGABRT"),
    ("test_param_crash[3]", "error", None)]'

start=$(date +%s)
run timeout --timeout 2 test_crash.py::test_hang
elapsed=$(($(date +%s) - start))
expect timeout 1 't[0]["outcome"] == "timeout" and t[0]["message"].startswith("timed out after 2 s")
    and "test_hang" in t[0]["message"]'
if [ "$elapsed" -le 4 ]; then
	pass timeout-quick
else
	fail timeout-quick "took ${elapsed}s with --timeout 2"
fi

# @pytest.mark.timeout is enforced by the waiting C process, whatever the
# test holds (a long C call keeps the GIL from any Python timer), and
# overrides the default both ways (pytest-timeout, when installed, gets a
# moment to report it first)
cat >"$tmp/proj/test_marks.py" <<'EOF2'
import time

import pytest


@pytest.mark.timeout(1)
def test_gil():
    sum(range(10**11))


@pytest.mark.timeout(4)
def test_longer():
    time.sleep(2)
EOF2
start=$(date +%s)
run marker-gil --timeout 30 test_marks.py::test_gil
elapsed=$(($(date +%s) - start))
expect marker-gil 1 't[0]["outcome"] == "timeout" and t[0]["message"].startswith("timed out after 1 s")'
[ "$elapsed" -le 7 ] && pass marker-gil-quick || fail marker-gil-quick "took ${elapsed}s with a marker of 1 s"
run marker-longer --timeout 1 test_marks.py::test_longer
expect marker-longer 0 't[0]["outcome"] == "passed"'

# a test that leaves its process group is still killed at the timeout
cat >"$tmp/proj/test_escape.py" <<'EOF2'
import os
import time

import pytest


def test_leave_group():
    os.setpgid(0, os.getpgid(os.getppid()))
    time.sleep(100)


def test_surrogate_skip():
    pytest.skip("missing " + os.fsdecode(b"/data/\xff.bin"))
EOF2
start=$(date +%s)
if [ "$via" = clean ]; then set -- "$top/build/tach-run" --mode isolated; else set -- "$top/build/tach-isolated"; fi
timeout 30 "$@" --root "$tmp/proj" --python "$python" --result "$tmp/leave-group.json" --timeout 2 \
	test_escape.py::test_leave_group >"$tmp/leave-group.out" 2>&1
rc=$?
elapsed=$(($(date +%s) - start))
expect leave-group 1 't[0]["outcome"] == "timeout"'
[ "$elapsed" -le 6 ] && pass leave-group-quick || fail leave-group-quick "took ${elapsed}s with --timeout 2"

run surrogate-skip test_escape.py::test_surrogate_skip
expect surrogate-skip 0 't[0]["outcome"] == "skipped" and t[0]["message"].startswith("missing /data/")'

run background test_crash.py::test_background
expect background 0 't[0]["outcome"] == "passed"'
for f in bg bg2; do
	pid=$(cat "$tmp/$f.pid" 2>/dev/null)
	if [ -z "$pid" ]; then
		fail "background-$f" "the test did not record its child"
	elif [ -d "/proc/$pid" ] && grep -q sleep "/proc/$pid/cmdline" 2>/dev/null; then
		fail "background-$f" "sleep 1000 (pid $pid) is still running"
	else
		pass "background-$f"
	fi
done

run missing test_basic.py::test_nope
expect missing 1 'len(t) == 1 and t[0]["nodeid"] == "test_basic.py::test_nope" and
    t[0]["outcome"] == "error" and "not found" in t[0]["message"]'

run collect-error test_broken.py::test_x
expect collect-error 1 't[0]["outcome"] == "error" and "SyntaxError" in t[0]["message"]'

# where the test ran: forked from the clean zygote (tach-hv) or in an
# interpreter of its own (tach-isolated's child); @pytest.mark.fresh asks
# for the latter
cat >"$tmp/proj/test_where.py" <<'EOF2'
import os

import pytest


def parent():
    with open("/proc/%d/comm" % os.getppid()) as f:
        return f.read().strip()


@pytest.mark.fresh
def test_fresh():
    assert parent() == "tach-isolated"


def test_forked():
    print("parent:", parent())
EOF2
run fresh-mark test_where.py::test_fresh
expect fresh-mark 0 't[0]["outcome"] == "passed" and t[0]["mode"] == "isolated"'
run where test_where.py::test_forked
want=tach-isolated
[ "$via" = clean ] && want=tach-hv
expect where 0 't[0]["outcome"] == "passed" and "parent: '$want'" in t[0]["stdout"]'

# conftest.py files are the test's: a toxic one (a thread at import) is
# loaded in the test's own process, never in the clean zygote (the test is
# still forked from it), its hooks run as in `pytest FILE`: options with
# their defaults, pytest_configure, pytest_sessionstart before the test,
# pytest_sessionfinish after it; a conftest below the root adds fixtures
mkdir -p "$tmp/conf/sub"
cat >"$tmp/conf/conftest.py" <<'EOF2'
import os
import threading

import pytest

_stop = threading.Event()
threading.Thread(target=_stop.wait, daemon=True).start()
def note(what):
    os.environ["CONF_EVENTS"] = os.environ.get("CONF_EVENTS", "") + what + " "


def pytest_addoption(parser):
    parser.addoption("--flavor", default="plain")
    parser.addini("colour", "a colour", default="grey")


def pytest_configure(config):
    note("configure")


def pytest_sessionstart(session):
    note("sessionstart")


def pytest_sessionfinish(session, exitstatus):
    with open(os.path.join(os.path.dirname(__file__), "finished"), "a") as f:
        f.write("finish %d\n" % exitstatus)


@pytest.fixture
def flavor(request):
    return request.config.getoption("--flavor")
EOF2
cat >"$tmp/conf/pytest.ini" <<'EOF2'
[pytest]
colour = blue
EOF2
cat >"$tmp/conf/sub/conftest.py" <<'EOF2'
import pytest


@pytest.fixture
def deep():
    return "deep"
EOF2
cat >"$tmp/conf/sub/test_conf.py" <<'EOF2'
import os
import threading


def parent():
    with open("/proc/%d/comm" % os.getppid()) as f:
        return f.read().strip()


def test_hooks(flavor, deep, pytestconfig):
    assert os.environ["CONF_EVENTS"] == "configure sessionstart "
    assert (flavor, deep, pytestconfig.getini("colour")) == ("plain", "deep", "blue")
    assert threading.active_count() == 2
    print("parent:", parent())


def test_fails():
    assert False
EOF2
confrun() {
	name=$1
	shift
	iso --root "$tmp/conf" --python "$python" --result "$tmp/$name.json" "$@" >"$tmp/$name.out" 2>&1
	rc=$?
}
confrun conftest-hooks sub/test_conf.py::test_hooks
want=tach-isolated
[ "$via" = clean ] && want=tach-hv
expect conftest-hooks 0 't[0]["outcome"] == "passed" and "parent: '$want'" in t[0]["stdout"]'
confrun conftest-fails sub/test_conf.py::test_fails
expect conftest-fails 1 't[0]["outcome"] == "failed"'
if [ "$(cat "$tmp/conf/finished" 2>/dev/null)" = "$(printf 'finish 0\nfinish 1')" ]; then
	pass conftest-sessionfinish
else
	fail conftest-sessionfinish "sessionfinish wrote: $(cat "$tmp/conf/finished" 2>/dev/null)"
fi

# a conftest's option in addopts, and a conftest that does not import: as
# pytest would (the clean zygote cannot configure pytest without them)
printf '[pytest]\naddopts = --flavor=salty\n' >"$tmp/conf/pytest.ini"
confrun conftest-addopts sub/test_conf.py::test_hooks
expect conftest-addopts 1 't[0]["outcome"] == "failed" and "salty" in t[0]["message"]'
printf 'import no_such_module_here\n' >"$tmp/conf/sub/conftest.py"
confrun conftest-broken sub/test_conf.py::test_hooks
expect conftest-broken 1 't[0]["outcome"] == "error" and "no_such_module_here" in t[0]["message"]'
hv_stop "$tmp/conf"

# pytest's session end runs other plugins' hooks after the last test: one
# that crashes there leaves the test's result as it was
mkdir "$tmp/endcrash"
cat >"$tmp/endcrash/conftest.py" <<'EOF2'
import os


def pytest_sessionfinish(session, exitstatus):
    os.abort()
EOF2
cat >"$tmp/endcrash/test_end.py" <<'EOF2'
def test_before_the_end():
    pass
EOF2
iso --root "$tmp/endcrash" --python "$python" --result "$tmp/end-crash.json" test_end.py \
	>"$tmp/end-crash.out" 2>&1
rc=$?
expect end-crash 0 't[0]["nodeid"] == "test_end.py::test_before_the_end" and t[0]["outcome"] == "passed"'
hv_stop "$tmp/endcrash"

# usage errors: exit status 2 and a message, no result file (tach-isolated's
# own; tach-run's are tests/runtime.sh's)
[ "$via" = clean ] && exit $status
usage() {
	name=$1
	shift
	iso "$@" >"$tmp/$name.out" 2>&1
	rc=$?
	if [ "$rc" -ne 2 ]; then
		fail "$name" "exit status $rc, expected 2"
	elif ! grep -q "tach-isolated: " "$tmp/$name.out"; then
		fail "$name" "no message: $(cat "$tmp/$name.out")"
	else
		pass "$name"
	fi
}
usage usage-no-root --python "$python" --result "$tmp/u.json" test_basic.py::test_pass
usage usage-no-result --root "$tmp/proj" --python "$python" test_basic.py::test_pass
usage usage-no-nodeid --root "$tmp/proj" --python "$python" --result "$tmp/u.json"
usage usage-bad-timeout --root "$tmp/proj" --python "$python" --result "$tmp/u.json" --timeout abc x
usage usage-zero-timeout --root "$tmp/proj" --python "$python" --result "$tmp/u.json" --timeout 0 x
usage usage-bad-root --root "$tmp/nowhere" --python "$python" --result "$tmp/u.json" x
usage usage-bad-python --root "$tmp/proj" --python "$tmp/nopython" --result "$tmp/u.json" x
usage usage-unknown --root "$tmp/proj" --python "$python" --result "$tmp/u.json" --frob x

# a test that cannot be started is an error case that says why
TMPDIR=$tmp/nowhere iso --root "$tmp/proj" --python "$python" --result "$tmp/setup.json" \
	test_basic.py::test_pass >"$tmp/setup.out" 2>&1
rc=$?
expect setup 1 't[0]["outcome"] == "error" and "could not run the test: cannot make a temporary directory" in
    t[0]["message"] and "No such file or directory" in t[0]["message"]'

exit $status

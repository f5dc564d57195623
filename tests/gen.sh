#!/bin/sh
# tests/gen.sh - `tach gen` and `ninja test` end to end: fixture projects
# written into a temporary directory, a manifest generated for each and run
# with the real ninja. Checks what is collected (against pytest's own
# collection), which runtime each test gets (toxic imports, a toxic
# conftest.py, the toxic mark), the summary line, results.json and
# junit.xml, which tests a rerun runs after each kind of edit, import
# cycles, a file that does not parse, an empty project, a build.ninja tach
# did not write, odd characters in paths, file names in Latin-1 or with '|'
# or a newline, a test directory that cannot be read, a no-op run, `tach
# run`, and a bad --python. Prints one PASS/FAIL (or SKIP) line per check;
# exits non-zero when any failed.

top=$(cd "$(dirname "$0")/.." && pwd)
suite=gen
. "$top/tests/lib.sh"
tach=$top/build/tach
# no zygote this suite starts outlives it for long, whatever happens
TACH_HV_IDLE=120
export TACH_HV_IDLE
# the default ninja output: one "[k/n] DESCRIPTION" line per edge
unset NINJA_STATUS

# TACH_KEEP=1 keeps the temporary directory and its zygotes for a look

# every project directory that may have a zygote
oddroot='odd root $ü'
projects="main cfgp cfgi cyc syn none hand odd run"

cleanup() {
	for p in $projects "$oddroot"; do
		hv_stop "$tmp/$p"
	done
	pkill -f "tach-hv --root $tmp/" 2>/dev/null
	tmp_remove
}

need_built tach tach-run tach-hv tach-isolated tach-results tach_harness.py tach_zygote.py
need_pytest
if ! command -v ninja >/dev/null 2>&1; then
	fail build "ninja not on PATH"
	exit 1
fi

# ---------------------------------------------------------------- helpers

# gen DIR ARGS...: tach gen --root DIR, output in $tmp/gen.out/.err, status in $rc
gen() {
	d=$1
	shift
	"$tach" gen --root "$d" --python "$python" "$@" >"$tmp/gen.out" 2>"$tmp/gen.err"
	rc=$?
}

# nt NAME DIR ARGS...: `ninja test` in DIR; output in $tmp/NAME.out, the
# node ids of the TEST edges that ran (sorted) in $tmp/NAME.ran, the status
# in $rc; $last is NAME
nt() {
	last=$1
	d=$2
	shift 2
	(cd "$d" && ninja "$@" test) >"$tmp/$last.out" 2>&1
	rc=$?
	sed -n 's/^\[[0-9]*\/[0-9]*\] TEST //p' "$tmp/$last.out" | LC_ALL=C sort >"$tmp/$last.ran"
}

# summary NAME: the last "N passed, N failed, N skipped" line of a ninja run
summary() {
	grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$tmp/$1.out" | tail -n 1
}

# ran NAME: the TEST edges of a run on one line
ran() {
	tr '\n' ' ' <"$tmp/$1.ran"
}

# check NAME DIR EXPR [SHOW]: EXPR holds in Python, with
#   j    results.json's "tests" of DIR (None when missing)
#   x    junit.xml's root element (None when missing)
#   lst  the node ids of DIR/.tach/tests.list, in order
#   ran  the node ids of the TEST edges of the last nt, sorted
#   out  the output of the last nt
#   rc   the exit status of the last nt
#   mode(ID)  the mode of result case ID; modes(PREFIX) the set of modes of
#        the cases whose node id starts with PREFIX
# On failure SHOW (default: ran) is printed with the expression.
cat >"$tmp/check.py" <<'EOF'
import json, os, sys
import xml.etree.ElementTree as E
root, ranf, outf, expr, show = sys.argv[1:6]
def load(f, how):
    try:
        return how(f)
    except Exception as e:
        return None
j = load(root + "/.tach/results.json",
         lambda f: json.load(open(f, encoding="utf-8"))["tests"])
x = load(root + "/.tach/junit.xml", lambda f: E.parse(f).getroot())
lst = load(root + "/.tach/tests.list",
           lambda f: [l.split("\t", 1)[1] for l in
                      open(f, encoding="utf-8", errors="surrogateescape").read().splitlines()])
ran = open(ranf, encoding="utf-8", errors="surrogateescape").read().splitlines() if os.path.exists(ranf) else []
out = open(outf, encoding="utf-8", errors="replace").read() if os.path.exists(outf) else ""
rc = int(os.environ.get("RC", "-1"))
byid = {c["nodeid"]: c for c in (j or [])}
def mode(i):
    return byid[i]["mode"] if i in byid else None
def modes(p):
    return {c["mode"] for c in (j or []) if c["nodeid"].startswith(p)}
def outcome(i):
    return byid[i]["outcome"] if i in byid else None
ok = False
try:
    ok = eval("(" + expr + ")")
    if not ok:
        print("does not hold: " + " ".join(expr.split()) + "; " + show + " = " + repr(eval(show)))
except Exception as e:
    print("raised %s: %s; in %s" % (type(e).__name__, e, " ".join(expr.split())))
sys.exit(0 if ok else 1)
EOF
check() {
	if RC=$rc "$python" "$tmp/check.py" "$2" "$tmp/$last.ran" "$tmp/$last.out" "$3" "${4:-ran}" \
		>"$tmp/check.err" 2>&1; then
		pass "$1"
	else
		fail "$1" "$(head -c 800 "$tmp/check.err" | tr '\n' ' ')"
	fi
}

# collect NAME DIR: the node ids pytest itself collects in DIR (its
# parametrized cases folded into their function) equal tests.list's
collect() {
	(cd "$2" && PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest --collect-only -q -p no:cacheprovider -p no:warnings) \
		>"$tmp/collect.out" 2>&1
	sed -n 's/\[.*\]$//; /::/p' "$tmp/collect.out" | LC_ALL=C sort -u >"$tmp/collect.want"
	cut -f 2 "$2/.tach/tests.list" 2>/dev/null | LC_ALL=C sort >"$tmp/collect.got"
	if [ ! -s "$tmp/collect.want" ]; then
		fail "$1" "pytest --collect-only found nothing: $(head -c 400 "$tmp/collect.out")"
	elif cmp -s "$tmp/collect.want" "$tmp/collect.got"; then
		pass "$1"
	else
		fail "$1" "tests.list differs from pytest --collect-only (-pytest +tach): $(diff "$tmp/collect.want" "$tmp/collect.got" | grep '^[<>]' | tr '\n' ' ')"
	fi
}

# expect_ran NAME IDS: the last run ran exactly these TEST edges (one id a line)
expect_ran() {
	printf '%s\n' "$2" | LC_ALL=C sort >"$tmp/want"
	if cmp -s "$tmp/want" "$tmp/$last.ran"; then
		pass "$1"
	else
		fail "$1" "ran [$(ran "$last")], expected [$(tr '\n' ' ' <"$tmp/want")]"
	fi
}

# edit FILE TEXT: appends a line to FILE, its mtime surely newer than any
# stamp (file times move by the kernel's tick)
edit() {
	sleep 0.05
	printf '%s\n' "$2" >>"$1"
}

# ------------------------------------------------------- the main project
main=$tmp/main
mkdir -p "$main/app" "$main/tests/sub" "$main/tests/other"
: >"$main/app/__init__.py"
cat >"$main/app/a.py" <<'EOF'
from app import b


def fa():
    return b.fb() + 1
EOF
cat >"$main/app/b.py" <<'EOF'
from app import c


def fb():
    return c.fc() + 1
EOF
cat >"$main/app/c.py" <<'EOF'
def fc():
    return 1
EOF
cat >"$main/app/d.py" <<'EOF'
def fd():
    return 4
EOF
cat >"$main/app/tox.py" <<'EOF'
import threading

LOCK = threading.Lock()
threading.Thread(target=int).start()


def ft():
    return 5
EOF
cat >"$main/tests/conftest.py" <<'EOF'
import pytest


@pytest.fixture
def one():
    return 1
EOF
cat >"$main/tests/test_chain.py" <<'EOF'
from app import a


def test_chain_a(one):
    assert a.fa() == 2 + one
EOF
cat >"$main/tests/test_b.py" <<'EOF'
from app import b


def test_b():
    assert b.fb() == 2
EOF
cat >"$main/tests/test_c.py" <<'EOF'
from app.c import fc


def test_c():
    assert fc() == 1
EOF
cat >"$main/tests/test_fail.py" <<'EOF'
import os


def test_fails():
    assert 1 + 1 == 3


def test_ok():
    pass


def test_crash():
    os._exit(3)
EOF
cat >"$main/tests/test_d.py" <<'EOF'
import pytest

from app import d


@pytest.mark.parametrize("n", [1, 2, 3])
def test_param(n, one):
    assert d.fd() == 4 * one


class TestK:
    def test_m(self):
        assert d.fd() == 4

    def helper(self):
        pass


class TestInit:
    def __init__(self):
        pass

    def test_never(self):
        pass


@pytest.fixture
def test_x():
    return 1


def uses_fixture(test_x):
    pass


@pytest.mark.toxic
def test_marked():
    pass


@pytest.mark.toxic
class TestToxicClass:
    def test_a(self):
        pass
EOF
cat >"$main/tests/test_tox.py" <<'EOF'
from app import tox


def test_t():
    assert tox.ft() == 5
EOF
cat >"$main/tests/test_pm.py" <<'EOF'
import pytest

pytestmark = pytest.mark.toxic


def test_pm():
    pass
EOF
cat >"$main/tests/test_unit.py" <<'EOF'
import unittest


class T(unittest.TestCase):
    def test_u(self):
        self.assertEqual(2 + 2, 4)

    def test_v(self):
        self.assertTrue(True)

    def helper(self):
        pass
EOF
cat >"$main/tests/test_misc.py" <<'EOF'
import pytest


def test_skip():
    pytest.skip("not today")


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False
EOF
cat >"$main/tests/sub/conftest.py" <<'EOF'
import subprocess

subprocess.run(["true"])

import pytest


@pytest.fixture
def two():
    return 2
EOF
cat >"$main/tests/sub/test_s.py" <<'EOF'
def test_s(two):
    assert two == 2
EOF
cat >"$main/tests/other/test_o.py" <<'EOF'
def test_o(one):
    assert one == 1
EOF

# ------------------------------------------------------ 1. what is collected
gen "$main"
line="tach: 18 tests (13 hypervisor, 5 isolated) in $main/build.ninja"
if [ "$rc" -ne 0 ]; then
	fail counts/gen "exit status $rc: $(head -c 600 "$tmp/gen.err")"
elif [ "$(cat "$tmp/gen.out" "$tmp/gen.err")" != "$line" ]; then
	fail counts/gen "printed [$(cat "$tmp/gen.out" "$tmp/gen.err")], expected [$line]"
elif [ "$(head -n 1 "$main/build.ninja")" != "# Written by tach gen: do not edit." ]; then
	fail counts/gen "first line of build.ninja: $(head -n 1 "$main/build.ninja")"
else
	pass counts/gen
fi
collect counts/collect-like-pytest "$main"
last=none
check counts/tests-list "$main" 'sorted(lst) == sorted([
    "tests/test_chain.py::test_chain_a", "tests/test_b.py::test_b", "tests/test_c.py::test_c",
    "tests/test_fail.py::test_fails", "tests/test_fail.py::test_ok", "tests/test_fail.py::test_crash",
    "tests/test_d.py::test_param", "tests/test_d.py::TestK::test_m", "tests/test_d.py::test_marked",
    "tests/test_d.py::TestToxicClass::test_a", "tests/test_tox.py::test_t", "tests/test_pm.py::test_pm",
    "tests/test_unit.py::T::test_u", "tests/test_unit.py::T::test_v", "tests/test_misc.py::test_skip",
    "tests/test_misc.py::test_xfail", "tests/sub/test_s.py::test_s", "tests/other/test_o.py::test_o"])' lst

nt first "$main"
n=$(wc -l <"$tmp/first.ran")
[ "$n" -eq 18 ] && pass counts/first-run-edges ||
	fail counts/first-run-edges "$n TEST lines in the first ninja test, expected 18: $(ran first)"
check counts/results-cases "$main" 'len(j) == 20 and sorted(c["nodeid"] for c in j if c["nodeid"].startswith("tests/test_d.py::test_param"))
    == ["tests/test_d.py::test_param[1]", "tests/test_d.py::test_param[2]", "tests/test_d.py::test_param[3]"]' \
	'[c["nodeid"] for c in j]'
check counts/unittest "$main" 'outcome("tests/test_unit.py::T::test_u") == outcome("tests/test_unit.py::T::test_v") == "passed"
    and modes("tests/test_unit.py") == {"hypervisor"}' 'j'
check counts/mode-safe "$main" 'all(mode(i) == "hypervisor" for i in ("tests/test_chain.py::test_chain_a",
    "tests/test_b.py::test_b", "tests/test_c.py::test_c", "tests/test_fail.py::test_ok",
    "tests/test_d.py::test_param[1]", "tests/test_d.py::TestK::test_m", "tests/other/test_o.py::test_o"))' \
	'[(c["nodeid"], c["mode"]) for c in j]'
check counts/mode-toxic-import "$main" 'mode("tests/test_tox.py::test_t") == "isolated" and outcome("tests/test_tox.py::test_t") == "passed"' \
	'[(c["nodeid"], c["mode"]) for c in j]'
check counts/mode-toxic-conftest "$main" 'mode("tests/sub/test_s.py::test_s") == "isolated" and outcome("tests/sub/test_s.py::test_s") == "passed"
    and mode("tests/other/test_o.py::test_o") == "hypervisor"' '[(c["nodeid"], c["mode"]) for c in j]'
check counts/mode-toxic-mark "$main" 'mode("tests/test_d.py::test_marked") == "isolated"
    and mode("tests/test_d.py::TestToxicClass::test_a") == "isolated"' '[(c["nodeid"], c["mode"]) for c in j]'
check counts/mode-toxic-pytestmark "$main" 'mode("tests/test_pm.py::test_pm") == "isolated"' '[(c["nodeid"], c["mode"]) for c in j]'
nontest='::test_x$\|TestInit\|uses_fixture\|::helper$'
if grep -q "$nontest" "$main/.tach/tests.list"; then
	fail counts/not-tests "tests.list holds a non-test: $(grep "$nontest" "$main/.tach/tests.list" | cut -f 2 | tr '\n' ' ')"
else
	pass counts/not-tests
fi

# ------------------------------------------------ 2. summary, status, junit
s=$(summary first)
if [ "$s" != "16 passed, 2 failed, 2 skipped" ]; then
	fail summary/line "summary [$s], expected [16 passed, 2 failed, 2 skipped]: $(tail -n 5 "$tmp/first.out" | tr '\n' ' ')"
else
	pass summary/line
fi
[ "$rc" -ne 0 ] && pass summary/status || fail summary/status "ninja test exited 0 with a failed and a crashed test"
check summary/outcomes "$main" 'outcome("tests/test_fail.py::test_fails") == "failed"
    and outcome("tests/test_fail.py::test_crash") == "crashed" and outcome("tests/test_misc.py::test_skip") == "skipped"
    and outcome("tests/test_misc.py::test_xfail") == "xfailed"' '[(c["nodeid"], c["outcome"]) for c in j]'
check summary/junit "$main" 'x is not None and (x.get("tests"), x.get("failures"), x.get("errors"), x.get("skipped"))
    == ("20", "1", "1", "2") and len(list(x.iter("testcase"))) == 20' \
	'x is not None and (x.get("tests"), x.get("failures"), x.get("errors"), x.get("skipped"))'

# ------------------------------------------------------------ 3. reruns
nt again "$main"
expect_ran rerun/failed-only "tests/test_fail.py::test_crash
tests/test_fail.py::test_fails"

edit "$main/app/c.py" "# edited"
nt leaf "$main"
expect_ran rerun/leaf-edit "tests/test_chain.py::test_chain_a
tests/test_b.py::test_b
tests/test_c.py::test_c
tests/test_fail.py::test_crash
tests/test_fail.py::test_fails"

edit "$main/tests/sub/conftest.py" "THREE = 3"
nt conftest "$main"
expect_ran rerun/conftest-edit "tests/sub/test_s.py::test_s
tests/test_fail.py::test_crash
tests/test_fail.py::test_fails"

cat >"$main/tests/test_new.py" <<'EOF'
from app import d


def test_n():
    assert d.fd() == 4
EOF
nt added "$main"
expect_ran rerun/new-file "tests/test_new.py::test_n
tests/test_fail.py::test_crash
tests/test_fail.py::test_fails"
grep -q '^\[[0-9]*/[0-9]*\] GEN ' "$tmp/added.out" && pass rerun/new-file-regenerates ||
	fail rerun/new-file-regenerates "no GEN edge ran after adding tests/test_new.py: $(head -n 3 "$tmp/added.out" | tr '\n' ' ')"
check rerun/new-file-result "$main" 'outcome("tests/test_new.py::test_n") == "passed" and len(j) == 21' '[c["nodeid"] for c in j]'

rm "$main/tests/test_misc.py"
nt deleted "$main"
if grep -q "missing and no known rule" "$tmp/deleted.out"; then
	fail rerun/deleted-regenerates "ninja cannot rebuild the manifest once a test file is gone: $(grep -m 1 'ninja: error' "$tmp/deleted.out")"
	# go on from a manifest made by hand
	gen "$main"
	nt deleted "$main"
else
	pass rerun/deleted-regenerates
fi
expect_ran rerun/deleted-file "tests/test_fail.py::test_crash
tests/test_fail.py::test_fails"
s=$(summary deleted)
[ "$s" = "17 passed, 2 failed, 0 skipped" ] && pass rerun/deleted-summary ||
	fail rerun/deleted-summary "summary [$s] after deleting test_misc.py, expected [17 passed, 2 failed, 0 skipped]"
check rerun/deleted-results "$main" 'not [c for c in j if "test_misc" in c["nodeid"]] and len(j) == 19
    and not [i for i in lst if "test_misc" in i]' '[c["nodeid"] for c in j]'

edit "$main/app/d.py" "import threading; threading.Thread(target=int).start()"
nt toxic "$main"
expect_ran rerun/toxic-edit "tests/test_d.py::TestK::test_m
tests/test_d.py::TestToxicClass::test_a
tests/test_d.py::test_marked
tests/test_d.py::test_param
tests/test_new.py::test_n
tests/test_fail.py::test_crash
tests/test_fail.py::test_fails"
check rerun/toxic-edit-modes "$main" 'modes("tests/test_d.py") == {"isolated"} and mode("tests/test_new.py::test_n") == "isolated"
    and outcome("tests/test_d.py::test_param[2]") == "passed" and mode("tests/test_c.py::test_c") == "hypervisor"' \
	'[(c["nodeid"], c["mode"]) for c in j]'

# --------------------------------------------------- 1b. pytest configuration
cfgp=$tmp/cfgp
mkdir -p "$cfgp/checks" "$cfgp/other"
cat >"$cfgp/pyproject.toml" <<'EOF'
[project]
name = "cfgp"

[tool.pytest.ini_options]
python_files = ["chk_*.py"]
python_functions = ["check_*"]
testpaths = ["checks"]
EOF
cat >"$cfgp/checks/chk_one.py" <<'EOF'
def check_a():
    pass


def test_not_by_name():
    pass


class TestK:
    def check_m(self):
        pass
EOF
cat >"$cfgp/checks/test_other_name.py" <<'EOF'
def check_b():
    pass
EOF
cat >"$cfgp/other/chk_two.py" <<'EOF'
def check_c():
    pass
EOF
gen "$cfgp"
last=none
check config/pyproject "$cfgp" 'sorted(lst) == ["checks/chk_one.py::TestK::check_m", "checks/chk_one.py::check_a"]' lst
collect config/pyproject-like-pytest "$cfgp"

cfgi=$tmp/cfgi
mkdir -p "$cfgi/spec" "$cfgi/lib"
cat >"$cfgi/pytest.ini" <<'EOF'
[pytest]
python_files = verify_*.py
python_functions = it_*
testpaths = spec
EOF
cat >"$cfgi/spec/verify_one.py" <<'EOF'
def it_works():
    pass


def test_not_by_name():
    pass
EOF
cat >"$cfgi/spec/test_other_name.py" <<'EOF'
def it_no():
    pass
EOF
cat >"$cfgi/lib/verify_two.py" <<'EOF'
def it_no():
    pass
EOF
gen "$cfgi"
last=none
check config/pytest-ini "$cfgi" 'lst == ["spec/verify_one.py::it_works"]' lst
collect config/pytest-ini-like-pytest "$cfgi"
nt cfgi "$cfgi"
check config/pytest-ini-runs "$cfgi" 'rc == 0 and [(c["nodeid"], c["outcome"]) for c in j] == [("spec/verify_one.py::it_works", "passed")]' \
	'j'

# 9. nothing changed: no edge but the summary's runs (pyproject project);
# how fast that is is bench/'s to measure, not a test's
nt cfgp1 "$cfgp"
if [ "$rc" -ne 0 ] || [ "$(summary cfgp1)" != "2 passed, 0 failed, 0 skipped" ]; then
	fail config/pyproject-runs "exit status $rc, summary [$(summary cfgp1)]: $(tail -n 5 "$tmp/cfgp1.out" | tr '\n' ' ')"
else
	pass config/pyproject-runs
fi
nt noop "$cfgp"
# the output: Ninja's line for the summary edge, then the summary
extra=$(grep -v -E '^\[[0-9]+/[0-9]+\] RESULTS$|^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$tmp/noop.out")
if [ "$rc" -ne 0 ] || [ -s "$tmp/noop.ran" ] || [ -n "$extra" ] ||
	[ "$(summary noop)" != "2 passed, 0 failed, 0 skipped" ]; then
	fail noop "status $rc, ran [$(ran noop)], output: $(head -c 400 "$tmp/noop.out" | tr '\n' ' ')"
else
	pass noop
fi
grep -q '^\[[0-9]*/[0-9]*\] GEN ' "$tmp/noop.out" &&
	fail noop-no-gen "the manifest was regenerated with nothing changed: $(head -n 3 "$tmp/noop.out" | tr '\n' ' ')" ||
	pass noop-no-gen

# a configuration change regenerates the manifest and reruns every test
sleep 0.05
sed 's/^python_functions = .*/python_functions = ["check_*", "test_*"]/' "$cfgp/pyproject.toml" >"$tmp/pyproject.new" &&
	cat "$tmp/pyproject.new" >"$cfgp/pyproject.toml"
nt cfgp2 "$cfgp"
expect_ran config/edit-reruns "checks/chk_one.py::TestK::check_m
checks/chk_one.py::check_a
checks/chk_one.py::test_not_by_name"

# -------------------------------------------------------- 4. import cycle
# cyc_project DIR: x.py imports y.py imports x.py, a test imports x
cyc_project() {
	mkdir -p "$1/tests"
	cat >"$1/x.py" <<'EOF'
import y


def fx():
    return 1
EOF
	cat >"$1/y.py" <<'EOF'
import x


def fy():
    return x.fx() + 1
EOF
	cat >"$1/tests/test_cyc.py" <<'EOF'
import x


def test_cyc():
    assert x.fx() == 1
EOF
	cat >"$1/tests/test_plain.py" <<'EOF'
def test_plain():
    pass
EOF
}
cyc=$tmp/cyc
cyc_project "$cyc"
gen "$cyc"
if [ "$rc" -ne 0 ]; then
	fail cycle/gen "exit status $rc: $(cat "$tmp/gen.out" "$tmp/gen.err" | head -c 600)"
elif ! (cd "$cyc" && ninja -n test) >"$tmp/cyc-n.out" 2>&1; then
	fail cycle/gen "ninja -n test refuses the manifest: $(head -c 600 "$tmp/cyc-n.out")"
else
	pass cycle/gen
fi
nt cyc1 "$cyc"
[ "$rc" -eq 0 ] && [ "$(summary cyc1)" = "2 passed, 0 failed, 0 skipped" ] && pass cycle/run ||
	fail cycle/run "exit status $rc, summary [$(summary cyc1)]: $(tail -n 5 "$tmp/cyc1.out" | tr '\n' ' ')"
edit "$cyc/y.py" "# edited"
nt cyc2 "$cyc"
expect_ran cycle/edit-reruns "tests/test_cyc.py::test_cyc"

# ---------------------------------------------- 5. a file that does not parse
syn=$tmp/syn
mkdir -p "$syn/tests"
cat >"$syn/tests/test_good.py" <<'EOF'
def test_good():
    pass


def test_good_too():
    pass
EOF
cat >"$syn/tests/test_broken.py" <<'EOF'
def test_broken(:
    pass
EOF
gen "$syn"
last=none
check syntax/list "$syn" 'sorted(lst) == ["tests/test_broken.py", "tests/test_good.py::test_good", "tests/test_good.py::test_good_too"]' lst
grep -q 'mode = isolated' "$syn/build.ninja" &&
	[ "$(grep -c 'mode = isolated' "$syn/build.ninja")" -eq 1 ] &&
	grep -B 3 -A 3 'mode = isolated' "$syn/build.ninja" | grep -q "test_broken" &&
	pass syntax/isolated || fail syntax/isolated "the broken file's edge is not the only isolated one: $(grep -n 'mode = \|id = ' "$syn/build.ninja" | tr '\n' ' ')"
nt syn "$syn"
check syntax/results "$syn" 'rc != 0 and outcome("tests/test_broken.py") == "error" and len(j) == 3
    and outcome("tests/test_good.py::test_good") == outcome("tests/test_good.py::test_good_too") == "passed"' \
	'(rc, [(c["nodeid"], c["outcome"]) for c in j or []])'
[ "$(summary syn)" = "2 passed, 1 failed, 0 skipped" ] && pass syntax/summary ||
	fail syntax/summary "summary [$(summary syn)], expected [2 passed, 1 failed, 0 skipped]"

# ----------------------------------------------------------- 6. no tests
none=$tmp/none
mkdir -p "$none/app"
cat >"$none/app/mod.py" <<'EOF'
def helper():
    return 1
EOF
cat >"$none/setup_tools.py" <<'EOF'
def test_looking():
    pass
EOF
gen "$none"
case $(cat "$tmp/gen.out" "$tmp/gen.err") in
"tach: no tests under $none"*) [ "$rc" -eq 0 ] && pass none/gen || fail none/gen "exit status $rc" ;;
*) fail none/gen "exit status $rc, printed [$(cat "$tmp/gen.out" "$tmp/gen.err")], expected [tach: no tests under $none ...]" ;;
esac
nt none "$none"
[ "$rc" -eq 0 ] && [ "$(summary none)" = "0 passed, 0 failed, 0 skipped" ] && [ ! -s "$tmp/none.ran" ] &&
	pass none/run || fail none/run "exit status $rc, summary [$(summary none)]: $(head -c 400 "$tmp/none.out" | tr '\n' ' ')"

# ----------------------------------------- 7. a build.ninja tach did not write
hand=$tmp/hand
mkdir -p "$hand/tests"
cat >"$hand/tests/test_h.py" <<'EOF'
def test_h():
    pass
EOF
cat >"$hand/build.ninja" <<'EOF'
# my own build
rule cc
  command = cc -c $in -o $out
build hello.o: cc hello.c
EOF
cp "$hand/build.ninja" "$tmp/hand.want"
gen "$hand"
if [ "$rc" -ne 2 ]; then
	fail hand/refused "exit status $rc, expected 2: $(cat "$tmp/gen.out" "$tmp/gen.err" | head -c 400)"
elif ! cmp -s "$hand/build.ninja" "$tmp/hand.want"; then
	fail hand/refused "the hand-written build.ninja was changed"
elif [ ! -s "$tmp/gen.err" ]; then
	fail hand/refused "exit status 2 but no message on stderr"
else
	pass hand/refused
fi
# -o is relative to the working directory: run from the root
(cd "$hand" && "$tach" gen --python "$python" -o other.ninja) >"$tmp/gen.out" 2>"$tmp/gen.err"
rc=$?
if [ "$rc" -ne 0 ] || [ ! -f "$hand/other.ninja" ]; then
	fail hand/other-file "tach gen -o other.ninja: exit status $rc, $(cat "$tmp/gen.out" "$tmp/gen.err" | head -c 400)"
else
	nt hand "$hand" -f other.ninja
	if [ "$rc" -ne 0 ] || [ "$(summary hand)" != "1 passed, 0 failed, 0 skipped" ] ||
		[ "$(ran hand)" != "tests/test_h.py::test_h " ]; then
		fail hand/other-file "ninja -f other.ninja test: exit status $rc, ran [$(ran hand)]: $(tail -n 5 "$tmp/hand.out" | tr '\n' ' ')"
	elif ! cmp -s "$hand/build.ninja" "$tmp/hand.want"; then
		fail hand/other-file "the hand-written build.ninja was changed by the other manifest's run"
	else
		pass hand/other-file
	fi
fi

# --------------------------------------- an inifile above the root, as pytest finds it
anc=$tmp/ancp/proj
mkdir -p "$anc/tests"
printf '[pytest]\npython_files = check_*.py\npython_functions = check_\n' >"$tmp/ancp/pytest.ini"
printf 'def check_a():\n    pass\n' >"$anc/check_x.py"
printf 'def test_c():\n    pass\n' >"$anc/tests/test_y.py"
projects="$projects ancp/proj"
gen "$anc"
nt anc "$anc"
check config/ancestor-ini "$anc" 'lst == ["check_x.py::check_a"] and rc == 0 and [(c["nodeid"], c["outcome"]) for c in j] == [("check_x.py::check_a", "passed")]' lst

# ------------------------------ inherited tests, redefinitions, odd names
inh=$tmp/inh
mkdir -p "$inh/tests"
cat >"$inh/tests/mixins.py" <<'EOF'
class StoreTests:
    def test_put(self):
        pass

    def test_get(self):
        assert self.broken is False


EOF
cat >"$inh/tests/test_store.py" <<'EOF'
import unittest

from mixins import StoreTests


class SQLiteStoreTest(StoreTests, unittest.TestCase):
    broken = False


class MemStoreTest(StoreTests, unittest.TestCase):
    broken = True

    def test_extra(self):
        pass


def test_twice():
    assert False


def test_twice():
    pass
EOF
printf 'def test_t():\n    pass\n' >"$inh/tests/test_ta	b.py"
printf 'def test_p():\n    pass\n' >"$inh/tests/test_odd|pipe.py"
projects="$projects inh"
gen "$inh"
nt inh "$inh"
check inherited/run "$inh" '[(c["nodeid"], c["outcome"]) for c in sorted(j, key=lambda c: c["nodeid"])] == [
    ("tests/test_odd|pipe.py::test_p", "passed"),
    ("tests/test_store.py::MemStoreTest::test_extra", "passed"),
    ("tests/test_store.py::MemStoreTest::test_get", "failed"),
    ("tests/test_store.py::MemStoreTest::test_put", "passed"),
    ("tests/test_store.py::SQLiteStoreTest::test_get", "passed"),
    ("tests/test_store.py::SQLiteStoreTest::test_put", "passed"),
    ("tests/test_store.py::test_twice", "passed"),
    ("tests/test_ta\tb.py::test_t", "passed")]' j
# '|' is no character Ninja can escape in a path, but a variable holds it
check inherited/pipe-edge "$inh" '"tests/test_odd|pipe.py::test_p" in lst' lst

# --------------------------------------------- 8. odd characters in paths
odd=$tmp/odd
mkdir -p "$odd/tests/sub dir" "$odd/lib ü"
cat >"$odd/tests/sub dir/conftest.py" <<'EOF'
import pytest


@pytest.fixture
def odd():
    return "ü"
EOF
cat >"$odd/tests/sub dir/test_ü\$x.py" <<'EOF'
def test_odd(odd):
    assert odd == "ü"


def test_odd_ü():
    pass
EOF
cat >"$odd/lib ü/test_\$dollar ß.py" <<'EOF'
def test_lib():
    pass
EOF
gen "$odd"
if [ "$rc" -ne 0 ]; then
	fail paths/gen "exit status $rc: $(cat "$tmp/gen.out" "$tmp/gen.err" | head -c 600)"
elif ! (cd "$odd" && ninja -n test) >"$tmp/odd-n.out" 2>&1; then
	fail paths/gen "ninja -n test refuses the manifest: $(head -c 600 "$tmp/odd-n.out")"
else
	pass paths/gen
fi
nt odd "$odd"
check paths/run "$odd" 'rc == 0 and sorted((c["nodeid"], c["outcome"]) for c in j) == [
    ("lib ü/test_$dollar ß.py::test_lib", "passed"), ("tests/sub dir/test_ü$x.py::test_odd", "passed"),
    ("tests/sub dir/test_ü$x.py::test_odd_ü", "passed")] and len(ran) == 3' '(rc, j, ran, out[-600:])'
edit "$odd/tests/sub dir/conftest.py" "# edited"
nt odd2 "$odd"
expect_ran paths/conftest-edit "tests/sub dir/test_ü\$x.py::test_odd
tests/sub dir/test_ü\$x.py::test_odd_ü"

odr=$tmp/$oddroot
mkdir -p "$odr/tests"
cat >"$odr/tests/test_r.py" <<'EOF'
def test_r():
    pass
EOF
gen "$odr"
if [ "$rc" -ne 0 ]; then
	fail paths/odd-root "gen: exit status $rc: $(cat "$tmp/gen.out" "$tmp/gen.err" | head -c 600)"
else
	nt odr "$odr"
	[ "$rc" -eq 0 ] && [ "$(summary odr)" = "1 passed, 0 failed, 0 skipped" ] && pass paths/odd-root ||
		fail paths/odd-root "a root named '$oddroot': exit status $rc, summary [$(summary odr)]: $(tail -n 6 "$tmp/odr.out" | tr '\n' ' ')"
fi

# ---------------------------------------------------- 10. tach run, fresh
run=$tmp/run
cyc_project "$run"
"$tach" run --root "$run" >"$tmp/run.out" 2>&1
rc=$?
s=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$tmp/run.out" | tail -n 1)
if [ "$rc" -ne 0 ] || [ "$s" != "2 passed, 0 failed, 0 skipped" ] || [ ! -f "$run/build.ninja" ]; then
	fail tach-run "exit status $rc, summary [$s]: $(tail -n 6 "$tmp/run.out" | tr '\n' ' ')"
else
	pass tach-run
fi

# ----------------------------------------------------- 11. a bad --python
"$tach" gen --root "$hand" -o "$hand/py.ninja" --python /nonexistent/python3 >"$tmp/py.out" 2>&1
rc=$?
if [ "$rc" -ne 2 ]; then
	fail python/missing "exit status $rc, expected 2: $(head -c 400 "$tmp/py.out")"
elif ! grep -q /nonexistent/python3 "$tmp/py.out"; then
	fail python/missing "the message does not name the interpreter: $(head -c 400 "$tmp/py.out")"
elif [ -e "$hand/py.ninja" ]; then
	fail python/missing "py.ninja written anyway"
else
	pass python/missing
fi
nopy=$(command -v python3)
if [ -n "$nopy" ] && ! "$nopy" -c 'import pytest' >/dev/null 2>&1 && "$nopy" -c 'pass' >/dev/null 2>&1; then
	"$tach" gen --root "$hand" -o "$hand/py.ninja" --python "$nopy" >"$tmp/py.out" 2>&1
	rc=$?
	if [ "$rc" -ne 2 ]; then
		fail python/no-pytest "$nopy (no pytest): exit status $rc, expected 2: $(head -c 400 "$tmp/py.out")"
	elif ! grep -qi pytest "$tmp/py.out"; then
		fail python/no-pytest "the message does not say pytest is missing: $(head -c 400 "$tmp/py.out")"
	else
		pass python/no-pytest
	fi
else
	skip python/no-pytest "python3 on PATH ($nopy) has pytest"
fi

# ------------------------------------ 12. the Iron Dome's fallback, remembered
# precise policy: importing socket is no harm, opening one in a test is
# stopped by the dome; tach-run reruns that test isolated, says so once, and
# the next plan sends it isolated until its import closure changes
fb=$tmp/fb
projects="$projects fb"
mkdir -p "$fb/tests"
printf '[tool.tach]\npolicy = "precise"\n' >"$fb/pyproject.toml"
cat >"$fb/helper.py" <<'EOF'
import socket


def family():
    return socket.AF_INET
EOF
cat >"$fb/tests/test_net.py" <<'EOF'
import socket

import helper


def test_socket():
    s = socket.socket(helper.family())
    s.close()


def test_plain():
    assert helper.family() == socket.AF_INET
EOF
gen "$fb"
nt fb1 "$fb"
check fallback/first-run "$fb" 'rc == 0 and mode("tests/test_net.py::test_socket") == "isolated"
    and outcome("tests/test_net.py::test_socket") == "passed"
    and mode("tests/test_net.py::test_plain") == "hypervisor"
    and out.count("the Iron Dome stopped socket(2) in hypervisor mode; ran it isolated") == 1' out
if grep -q "	socket	tests/test_net.py::test_socket\$" "$fb"/.tach/fallback/* 2>/dev/null; then
	pass fallback/remembered
else
	fail fallback/remembered "no record in .tach/fallback: $(cat "$fb"/.tach/fallback/* 2>&1 | head -c 300)"
fi
gen "$fb"
if grep -A4 'build .*: test ' "$fb/build.ninja" | grep -A3 'id = tests/test_net.py::test_socket$' |
    grep -q 'mode = isolated'; then
	pass fallback/planned-isolated
else
	fail fallback/planned-isolated "the next plan does not send test_socket isolated"
fi
rm -f "$fb"/.tach/t/*.ok
nt fb2 "$fb"
check fallback/second-run "$fb" 'rc == 0 and mode("tests/test_net.py::test_socket") == "isolated"
    and outcome("tests/test_net.py::test_socket") == "passed" and "Iron Dome" not in out' out
edit "$fb/helper.py" "# changed"
nt fb3 "$fb"
check fallback/forgotten-on-change "$fb" 'rc == 0 and "tests/test_net.py::test_socket" in ran
    and outcome("tests/test_net.py::test_socket") == "passed"
    and out.count("the Iron Dome stopped socket(2)") == 1' out

# --------------------- 13. a zygote left with a thread: its tests go isolated
# what the analyzer cannot see (here a thread started through getattr) is
# caught by the zygote: threads after importing the file mean no fork
zs=$tmp/zs
projects="$projects zs"
mkdir -p "$zs/tests"
printf '[tool.tach]\npolicy = "precise"\n' >"$zs/pyproject.toml"
cat >"$zs/bg.py" <<'EOF'
import threading

_stop = threading.Event()
getattr(threading, "Thread")(target=_stop.wait, daemon=True).start()
EOF
cat >"$zs/tests/test_bg.py" <<'EOF'
import bg


def test_bg():
    assert bg._stop is not None
EOF
cat >"$zs/tests/test_fine.py" <<'EOF'
def test_fine():
    pass
EOF
gen "$zs"
nt zs1 "$zs"
check unsafe-zygote/isolated "$zs" 'rc == 0 and mode("tests/test_bg.py::test_bg") == "isolated"
    and outcome("tests/test_bg.py::test_bg") == "passed" and mode("tests/test_fine.py::test_fine") == "hypervisor"
    and "the zygote had threads after importing tests/test_bg.py: " in out and "bg.py starts a thread" in out' out
if grep -q "	zygote	tests/test_bg.py::test_bg\$" "$zs"/.tach/fallback/* 2>/dev/null; then
	pass unsafe-zygote/remembered
else
	fail unsafe-zygote/remembered "no record in .tach/fallback"
fi
# in the root conftest.py: the base zygote itself, so every test
cp "$zs/bg.py" "$zs/conftest.py"
nt zs2 "$zs"
check unsafe-zygote/conftest "$zs" 'rc == 0 and mode("tests/test_fine.py::test_fine") == "isolated"
    and outcome("tests/test_fine.py::test_fine") == "passed"
    and "the zygote had threads after importing the configuration" in out' out

# a test that prints megabytes: its case keeps the head and the tail, the
# result files stay small, and a no-op run rewrites neither
big=$tmp/bigout
projects="$projects bigout"
mkdir -p "$big/tests"
cat >"$big/tests/test_big.py" <<'EOF'
import sys


def test_loud():
    sys.stdout.write("first line\n" + "x" * 3000000 + "\nlast line\n")


def test_loud_fail():
    sys.stdout.write("y" * 3000000 + "\nthe end\n")
    assert False
EOF
gen "$big"
nt big1 "$big"
sz=$(wc -c <"$big/.tach/results.json")
jz=$(wc -c <"$big/.tach/junit.xml")
"$python" - "$big/.tach/results.json" >"$tmp/big.check" 2>&1 <<'EOF'
import json, sys
t = {c["nodeid"]: c for c in json.load(open(sys.argv[1]))["tests"]}
a = t["tests/test_big.py::test_loud"]["stdout"]
b = t["tests/test_big.py::test_loud_fail"]["stdout"]
assert a.startswith("first line\n") and a.endswith("last line\n") and "characters of output omitted by tach" in a, a[:200]
assert len(a) < 70000 and len(b) < 70000 and b.endswith("the end\n")
EOF
if [ $? -ne 0 ] || [ "$sz" -gt 200000 ] || [ "$jz" -gt 200000 ]; then
	fail big-output "results.json $sz bytes, junit.xml $jz bytes: $(cat "$tmp/big.check")"
else
	pass big-output
fi
# (a failing test runs again every time: only the passing one stays)
printf 'def test_quiet():\n    pass\n' >"$big/tests/test_big.py"
nt big2 "$big"
before=$(stat -c %Y.%i "$big/.tach/results.json" "$big/.tach/junit.xml")
sleep 1
nt big3 "$big"
after=$(stat -c %Y.%i "$big/.tach/results.json" "$big/.tach/junit.xml")
[ "$before" = "$after" ] && [ ! -s "$tmp/big3.ran" ] && pass no-op-no-rewrite ||
	fail no-op-no-rewrite "results rewritten by a no-op run ($before -> $after)"

# a network socket the zygote would hand down: the Iron Dome lets unix
# sockets through, so connect() on an inherited one must never be possible
cat >"$zs/netsock.py" <<'EOF'
import socket

_s = getattr(socket, "socket")(socket.AF_INET, socket.SOCK_DGRAM)
EOF
cat >"$zs/tests/test_net.py" <<'EOF'
import netsock


def test_net():
    assert netsock._s is not None
EOF
rm -f "$zs/conftest.py"
nt zs3 "$zs"
check unsafe-zygote/socket "$zs" 'rc == 0 and mode("tests/test_net.py::test_net") == "isolated"
    and outcome("tests/test_net.py::test_net") == "passed"
    and "the zygote had network sockets after importing tests/test_net.py: " in out
    and "netsock.py opens a socket" in out' out

# a module on pytest's pythonpath outside the root: every test depends on
# it, so an edit there reruns them (and the zygote does not serve it stale)
op=$tmp/op
projects="$projects op/proj"
mkdir -p "$op/proj/tests" "$op/shared"
printf '[pytest]\npythonpath = ../shared\n' >"$op/proj/pytest.ini"
printf 'V = 1\n' >"$op/shared/far.py"
printf 'import far\n\n\ndef test_far():\n    assert far.V == 1\n' >"$op/proj/tests/test_far.py"
gen "$op/proj"
nt op1 "$op/proj"
nt op2 "$op/proj"
printf 'V = 2\n' >"$op/shared/far.py"
nt op3 "$op/proj"
if [ "$(cat "$tmp/op1.ran")" = "tests/test_far.py::test_far" ] && [ ! -s "$tmp/op2.ran" ] &&
    [ "$(cat "$tmp/op3.ran")" = "tests/test_far.py::test_far" ] && [ $rc -ne 0 ] &&
    grep -q "assert 2 == 1" "$tmp/op3.out"; then
	pass outside-pythonpath
else
	fail outside-pythonpath "ran: $(cat "$tmp/op1.ran") / $(cat "$tmp/op2.ran") / $(cat "$tmp/op3.ran"), rc $rc"
fi

# a .tach that is not a directory of the caller's own is never written
# through: a planted symlink, a directory of another user
sl=$tmp/sl
mkdir -p "$sl/p/tests" "$sl/elsewhere"
printf 'def test_a():\n    pass\n' >"$sl/p/tests/test_a.py"
ln -s "$sl/elsewhere" "$sl/p/.tach"
"$tach" analyze --root "$sl/p" >"$sl/analyze.out" 2>&1
rca=$?
"$tach" gen --root "$sl/p" --python "$python" >"$sl/gen.out" 2>&1
rcg=$?
"$top/build/tach-results" --root "$sl/p" >"$sl/results.out" 2>&1
rcr=$?
"$top/build/tach-run" --mode hypervisor --root "$sl/p" --python "$python" --result "$sl/run.json" \
	tests/test_a.py::test_a >"$sl/run.out" 2>&1
rcu=$?
if [ -n "$(ls -A "$sl/elsewhere")" ]; then
	fail statedir/symlink "files written through the link: $(ls -A "$sl/elsewhere")"
elif [ $rca -ne 0 ] || ! grep -q "\.tach: a symlink, not a directory; refusing to write there (analysis goes on uncached)" "$sl/analyze.out"; then
	fail statedir/symlink "tach analyze: status $rca: $(cat "$sl/analyze.out")"
elif [ $rcg -ne 1 ] || ! grep -q "p/.tach: a symlink, not a directory; refusing to write there" "$sl/gen.out" || [ -e "$sl/p/build.ninja" ]; then
	fail statedir/symlink "tach gen: status $rcg: $(cat "$sl/gen.out")"
elif [ $rcr -ne 1 ] || [ $rcu -ne 1 ] || ! grep -q "refusing to write there" "$sl/results.out" "$sl/run.out"; then
	fail statedir/symlink "tach-results $rcr, tach-run $rcu: $(cat "$sl/results.out" "$sl/run.out")"
else
	pass statedir/symlink
fi
rm "$sl/p/.tach"
mkdir "$sl/p/.tach"
if chown nobody "$sl/p/.tach" 2>/dev/null; then
	"$tach" gen --root "$sl/p" --python "$python" >"$sl/gen2.out" 2>&1
	rcg=$?
	if [ $rcg -eq 1 ] && grep -q "owned by another user; refusing to write there" "$sl/gen2.out" &&
	    [ -z "$(ls -A "$sl/p/.tach")" ]; then
		pass statedir/owner
	else
		fail statedir/owner "tach gen: status $rcg: $(cat "$sl/gen2.out")"
	fi
else
	skip statedir/owner "cannot chown (not root)"
fi

# ------------------------- 14. names Ninja or UTF-8 cannot hold, as pytest runs them
# A file named in Latin-1 (not UTF-8) runs like any other, in both runtimes
# (its node id in results.json has U+FFFD for the byte); '|' in a name is
# an edge of its own; a newline cannot be in a manifest at all: the edge of
# the files no edge plans runs it, on every run. pytest passes them all.
nm=$tmp/nm
projects="$projects nm"
mkdir -p "$nm/tests"
printf 'def test_cafe():\n    pass\n' >"$nm/tests/$(printf 'test_caf\351.py')"
printf 'import threading\nthreading.Thread(target=lambda: None).start()\n\n\ndef test_toxic():\n    pass\n' \
	>"$nm/tests/$(printf 'test_tox\351.py')"
printf 'def test_pipe():\n    pass\n' >"$nm/tests/test_a|b.py"
printf 'def test_nl():\n    pass\n' >"$nm/tests/$(printf 'test_n\nl.py')"
printf 'def test_nl1():\n    pass\n' >"$nm/tests/$(printf 'test_n\nl\351.py')"
(cd "$nm" && PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest -q -p no:cacheprovider) >"$tmp/nm-pytest.out" 2>&1
gen "$nm"
nt nm "$nm"
check names/latin1 "$nm" 'outcome("tests/test_caf\ufffd.py::test_cafe") == "passed"
    and outcome("tests/test_tox\ufffd.py::test_toxic") == "passed"
    and mode("tests/test_tox\ufffd.py::test_toxic") == "isolated"
    and "UnicodeDecodeError" not in out' '(j, out[-800:])'
grep -q '^5 passed' "$tmp/nm-pytest.out" && pass names/pytest ||
	fail names/pytest "pytest itself: $(tail -n 3 "$tmp/nm-pytest.out" | tr '\n' ' ')"
check names/pipe "$nm" 'outcome("tests/test_a|b.py::test_pipe") == "passed" and "tests/test_a|b.py::test_pipe" in lst' '(j, lst)'
check names/newline "$nm" 'outcome("tests/test_n\nl.py::test_nl") == "passed"
    and outcome("tests/test_n\nl\ufffd.py::test_nl1") == "passed"
    and rc == 0 and len(j) == 5' '(j, out[-800:])'
# a directory's target has its '|' file
(cd "$nm" && ninja tests) >"$tmp/nm-under.out" 2>&1
grep -q '^3 passed, 0 failed, 0 skipped$' "$tmp/nm-under.out" && pass names/pipe-under ||
	fail names/pipe-under "ninja tests: $(tail -n 4 "$tmp/nm-under.out" | tr '\n' ' ')"
# Ninja cannot watch the newline's file: it runs on every run
printf 'def test_nl():\n    assert False\n' >"$nm/tests/$(printf 'test_n\nl.py')"
nt nm2 "$nm"
check names/newline-rerun "$nm" 'outcome("tests/test_n\nl.py::test_nl") == "failed" and rc != 0' '(j, out[-800:])'

# ----------------------------------------- 15. a test directory that cannot be read
# pytest reports a collection error for it (pytest 9 under its path, 7
# under the session); tach gen warns and exits 1, its manifest has one
# error case for the directory, `ninja test` fails, and Ninja's own
# regeneration, rerun on every run until the directory can be read, never
# stops the build. Root reads everything: as root this runs as nobody, on
# a copy of tach and a project nobody owns.
unpriv=
if [ "$(id -u)" = 0 ]; then
	if runuser -u nobody -- true 2>/dev/null; then
		unpriv="runuser -u nobody --"
	elif setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups true 2>/dev/null; then
		unpriv="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
	else
		unpriv=none
	fi
fi
ur=$tmp/ur
mkdir -p "$ur/bin" "$ur/p/tests/sub"
for f in tach tach-run tach-hv tach-isolated tach-results tach_harness.py tach_zygote.py tach_compat.py; do
	cp "$top/build/$f" "$ur/bin/"
done
printf 'def test_a():\n    pass\n' >"$ur/p/tests/test_a.py"
printf 'def test_b():\n    pass\n' >"$ur/p/tests/sub/test_b.py"
chmod 711 "$tmp"
chmod -R a+rX "$ur"
[ "$(id -u)" = 0 ] && [ "$unpriv" != none ] && chown -R nobody "$ur/p"
# asu: runs a command as the user the check runs as
asu() {
	# shellcheck disable=SC2086
	${unpriv:+$unpriv} "$@"
}
if [ "$unpriv" = none ]; then
	skip unreadable "root, and neither runuser nor setpriv can run as nobody"
elif ! asu "$python" -c 'import pytest' >/dev/null 2>&1; then
	skip unreadable "$python cannot be run as nobody"
else
	chmod 000 "$ur/p/tests/sub"
	(cd "$ur/p" && asu env PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest -q -p no:cacheprovider) \
		>"$tmp/ur-pytest.out" 2>&1
	(cd "$ur/p" && asu "$ur/bin/tach" gen --python "$python") >"$tmp/gen.out" 2>"$tmp/gen.err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "tests/sub: cannot read directory: Permission denied" "$tmp/gen.err" &&
	    [ -f "$ur/p/build.ninja" ]; then
		pass unreadable/gen
	else
		fail unreadable/gen "exit status $rc, expected 1 and a manifest: $(head -c 400 "$tmp/gen.err")"
	fi
	last=ur1
	(cd "$ur/p" && asu ninja test) >"$tmp/ur1.out" 2>&1
	rc=$?
	check unreadable/error-case "$ur/p" 'rc != 0 and outcome("tests/sub") == "error"
	    and "tests/sub: cannot read directory: Permission denied" in byid["tests/sub"]["message"]
	    and outcome("tests/test_a.py::test_a") == "passed" and len(j) == 2' '(rc, j, out[-800:])'
	grep -q "PermissionError: .*Permission denied" "$tmp/ur-pytest.out" && pass unreadable/pytest ||
		fail unreadable/pytest "pytest itself reports no collection error: $(tail -n 3 "$tmp/ur-pytest.out" | tr '\n' ' ')"
	last=ur2
	(cd "$ur/p" && asu ninja test) >"$tmp/ur2.out" 2>&1
	rc=$?
	check unreadable/regen "$ur/p" 'rc != 0 and "GEN build.ninja" in out and "rebuilding" not in out
	    and outcome("tests/sub") == "error"' '(rc, out[-800:])'
	chmod 755 "$ur/p/tests/sub"
	last=ur3
	(cd "$ur/p" && asu ninja test) >"$tmp/ur3.out" 2>&1
	rc=$?
	check unreadable/readable-again "$ur/p" 'rc == 0 and outcome("tests/sub/test_b.py::test_b") == "passed"
	    and len(j) == 2' '(rc, j, out[-800:])'
	asu "$ur/bin/tach" hv stop --root "$ur/p" >/dev/null 2>&1
fi

exit $status

#!/bin/sh
# tests/summary.sh - build/tach-results end to end on handmade result files:
# mixed outcomes, a missing and a corrupt file named by their node ids,
# spaces in paths, an rspfile written by Ninja, the exit statuses, the exact
# summary line, junit.xml checked with Python's XML parser and results.json
# with its JSON parser. Prints one PASS/FAIL line per check; exits non-zero
# when any failed. Under ./configure --sanitize a leak makes the run fail.

top=$(cd "$(dirname "$0")/.." && pwd)
suite=summary
. "$top/tests/lib.sh"
res=$top/build/tach-results
# any python3 will do: only json and xml are used
py=/usr/bin/python3
[ -x "$py" ] || py=python3
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

need_built tach-results

# check NAME EXPR: EXPR holds in Python with j = results.json's "tests" and
# x = junit.xml's root element, both read from $root/.tach.
cat >"$tmp/check.py" <<'EOF'
import json, sys
import xml.etree.ElementTree as E
root, expr = sys.argv[1], sys.argv[2]
j = json.load(open(root + "/.tach/results.json", encoding="utf-8"))["tests"]
x = E.parse(root + "/.tach/junit.xml").getroot()
def case(name):
    return [c for c in x.iter("testcase") if c.get("name") == name][0]
sys.exit(0 if eval("(" + expr + ")") else 1)
EOF
check() {
	if "$py" "$tmp/check.py" "$root" "$2" >"$tmp/check.err" 2>&1; then
		pass "$1"
	else
		fail "$1" "$2 does not hold: $(head -c 600 "$tmp/check.err")"
	fi
}

# run NAME ARGS...: runs tach-results, output in $tmp/NAME.out/.err, status in $rc
run() {
	name=$1
	shift
	"$res" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
}

# expect NAME STATUS STDOUT: the status and the exact stdout of the last run,
# and nothing on stderr
expect() {
	printf '%s\n' "$3" >"$tmp/$1.want"
	if [ "$rc" -ne "$2" ]; then
		fail "$1" "exit status $rc, expected $2: $(head -c 600 "$tmp/$1.out") $(head -c 600 "$tmp/$1.err")"
	elif ! cmp -s "$tmp/$1.want" "$tmp/$1.out"; then
		fail "$1" "stdout differs: $(diff "$tmp/$1.want" "$tmp/$1.out" | head -20)"
	elif [ -s "$tmp/$1.err" ]; then
		fail "$1" "stderr: $(head -c 600 "$tmp/$1.err")"
	else
		pass "$1"
	fi
}

# --- zero inputs ------------------------------------------------------------
root="$tmp/empty"
mkdir "$root"
run empty --root "$root"
expect empty 0 "0 passed, 0 failed, 0 skipped"
check empty-json 'j == [] and open(root + "/.tach/results.json").read() == "{\"tests\": [], \"deselected\": 0, \"notcollected\": []}\n"'
check empty-junit 'x.tag == "testsuites" and x.get("tests") == "0" and x.get("failures") == "0" and len(x) == 0'
: >"$tmp/empty.list"
run empty-list --root "$root" --list "$tmp/empty.list"
expect empty-list 0 "0 passed, 0 failed, 0 skipped"

# --- mixed outcomes ---------------------------------------------------------
root="$tmp/my proj"
mkdir -p "$root/r/test_a.py" "$root/r/sub dir"
cat >"$root/r/test_a.py/test_pass.json" <<'EOF'
{"tests": [{"nodeid": "test_a.py::test_pass", "outcome": "passed", "mode": "hypervisor", "duration": 0.01, "message": "", "stdout": "hello\n", "stderr": "", "signal": null}]}
EOF
cat >"$root/r/sub dir/test b.json" <<'EOF'
{"tests": [{"nodeid": "sub/test_b.py::test_x[1]", "outcome": "failed", "mode": "isolated", "duration": 0.25, "message": "assert 1 == 2\n  where <x> & \"y\" 'z'", "stdout": "", "stderr": "\u001b[31mred\u001b[0m caf\u00e9 \u65e5\u672c \ud83d\ude00 \uffff\u0001end\r\n", "signal": null}]}
EOF
cat >"$root/r/skip.json" <<'EOF'
{"tests": [{"nodeid": "test_a.py::TestK::test_skip", "outcome": "skipped", "mode": "hypervisor", "duration": 0, "message": "not today", "stdout": "", "stderr": "", "signal": null},
           {"nodeid": "test_a.py::TestK::test_xf", "outcome": "xfailed", "mode": "hypervisor", "duration": 0.5, "message": "known bug", "stdout": "", "stderr": "", "signal": null}]}
EOF
cat >"$root/r/crash.json" <<'EOF'
{"tests": [{"nodeid": "test_c.py::test_crash", "outcome": "crashed", "mode": "hypervisor", "duration": 0.1, "message": "crashed (SIGSEGV) while running test_c.py::test_crash\nFatal Python error: Segmentation fault", "stdout": "", "stderr": "", "signal": "SIGSEGV"}]}
EOF
cat >"$root/r/timeout.json" <<'EOF'
{"tests": [{"nodeid": "test_c.py::test_slow", "outcome": "timeout", "mode": "isolated", "duration": 1.0, "message": "timed out after 1 s", "stdout": "", "stderr": "", "signal": null}]}
EOF
cat >"$root/r/err.json" <<'EOF'
{"tests": [{"nodeid": "test_c.py::test_err[a::b]", "outcome": "error", "mode": "isolated", "duration": 0.002, "message": "fixture 'x' not found", "stdout": "", "stderr": "", "signal": null}]}
EOF
printf '{"tests": [{"nodeid": "test_e.py::test_corrupt", "outc' >"$root/r/corrupt.json"
cat >"$tmp/abs.json" <<'EOF'
{"tests": [{"nodeid": "test_f.py::test_abs", "outcome": "passed", "mode": "isolated", "duration": 0.125, "message": "", "stdout": "", "stderr": "", "signal": null}]}
EOF
tab=$(printf '\t')
cat >"$tmp/mixed.list" <<EOF
r/test_a.py/test_pass.json${tab}test_a.py::test_pass
r/sub dir/test b.json${tab}sub/test_b.py::test_x[1]
r/skip.json
r/crash.json${tab}test_c.py::test_crash
r/timeout.json
r/err.json
r/missing.json${tab}test_d.py::test_gone
r/corrupt.json${tab}test_e.py::test_corrupt
$tmp/abs.json
EOF
run mixed --root "$root" --list "$tmp/mixed.list"
expect mixed 1 "FAILED sub/test_b.py::test_x[1] (failed)
FAILED test_c.py::test_crash (crashed, SIGSEGV)
FAILED test_c.py::test_slow (timeout)
FAILED test_c.py::test_err[a::b] (error)
FAILED test_d.py::test_gone (error)
FAILED test_e.py::test_corrupt (error)
2 passed, 6 failed, 2 skipped"

check json-order '[t["nodeid"] for t in j] == ["test_a.py::test_pass", "sub/test_b.py::test_x[1]",
    "test_a.py::TestK::test_skip", "test_a.py::TestK::test_xf", "test_c.py::test_crash", "test_c.py::test_slow",
    "test_c.py::test_err[a::b]", "test_d.py::test_gone", "test_e.py::test_corrupt", "test_f.py::test_abs"]'
check json-fields 'all(sorted(t) == sorted(["nodeid", "outcome", "mode", "duration", "message", "stdout", "stderr", "signal"]) for t in j)'
check json-case 'j[0] == {"nodeid": "test_a.py::test_pass", "outcome": "passed", "mode": "hypervisor", "duration": 0.01,
    "message": "", "stdout": "hello\n", "stderr": "", "signal": None}'
check json-text 'j[1]["stderr"] == "\x1b[31mred\x1b[0m caf\u00e9 \u65e5\u672c \U0001f600 \uffff\x01end\r\n"
    and j[1]["message"] == "assert 1 == 2\n  where <x> & \"y\" '"'z'"'" and j[1]["duration"] == 0.25 and j[1]["mode"] == "isolated"'
check json-crash 'j[4]["signal"] == "SIGSEGV" and j[4]["outcome"] == "crashed"'
check json-missing 'j[7] == {"nodeid": "test_d.py::test_gone", "outcome": "error", "mode": None, "duration": 0,
    "message": "no result: No such file or directory (r/missing.json)", "stdout": "", "stderr": "", "signal": None}'
check json-corrupt 'j[8]["outcome"] == "error" and j[8]["message"] == "no result: not valid JSON (r/corrupt.json)"'

check junit-counts 'x.tag == "testsuites" and x.get("name") == "tach" and (x.get("tests"), x.get("failures"),
    x.get("errors"), x.get("skipped")) == ("10", "1", "5", "2") and abs(float(x.get("time")) - 1.987) < 0.002'
check junit-suites '[(s.get("name"), s.get("tests")) for s in x] == [("test_a.py", "3"), ("sub/test_b.py", "1"),
    ("test_c.py", "3"), ("test_d.py", "1"), ("test_e.py", "1"), ("test_f.py", "1")]
    and all(s.tag == "testsuite" for s in x)
    and [(s.get("failures"), s.get("errors"), s.get("skipped")) for s in x][:3] == [("0", "0", "2"), ("1", "0", "0"), ("0", "3", "0")]
    and x[2].get("time") == "1.102"'
check junit-names '[(c.get("classname"), c.get("name"), c.get("file")) for c in x.iter("testcase")] == [
    ("test_a", "test_pass", "test_a.py"), ("test_a.TestK", "test_skip", "test_a.py"), ("test_a.TestK", "test_xf", "test_a.py"),
    ("sub.test_b", "test_x[1]", "sub/test_b.py"), ("test_c", "test_crash", "test_c.py"), ("test_c", "test_slow", "test_c.py"),
    ("test_c", "test_err[a::b]", "test_c.py"), ("test_d", "test_gone", "test_d.py"), ("test_e", "test_corrupt", "test_e.py"),
    ("test_f", "test_abs", "test_f.py")]'
check junit-time 'case("test_x[1]").get("time") == "0.250" and case("test_abs").get("time") == "0.125"'
# as pytest's junit: a passing test's output is not kept
check junit-passed 'len(case("test_abs")) == 0 and len(case("test_pass")) == 0'
check junit-failure 'case("test_x[1]")[0].tag == "failure" and case("test_x[1]")[0].get("type") == "failed"
    and case("test_x[1]")[0].get("message") == "assert 1 == 2"
    and case("test_x[1]")[0].text == "assert 1 == 2\n  where <x> & \"y\" '"'z'"'"'
check junit-forbidden 'case("test_x[1]")[1].tag == "system-err"
    and case("test_x[1]")[1].text == "[31mred[0m caf\u00e9 \u65e5\u672c \U0001f600 end\r\n"'
check junit-skipped '[(c[0].tag, c[0].get("message"), c[0].get("type")) for c in (case("test_skip"), case("test_xf"))]
    == [("skipped", "not today", "skipped"), ("skipped", "known bug", "xfailed")]'
check junit-crash 'case("test_crash")[0].tag == "error" and case("test_crash")[0].get("type") == "crashed"
    and "SIGSEGV" in case("test_crash")[0].get("message") and "Fatal Python error" in case("test_crash")[0].text'
check junit-errors '[(case(n)[0].tag, case(n)[0].get("type"), case(n)[0].get("message")) for n in ("test_slow", "test_err[a::b]", "test_gone", "test_corrupt")] == [
    ("error", "timeout", "timed out after 1 s"), ("error", "error", "fixture '"'x'"' not found"),
    ("error", "error", "no result: No such file or directory (r/missing.json)"),
    ("error", "error", "no result: not valid JSON (r/corrupt.json)")]'
if [ "$(ls -A "$root/.tach")" = "junit.xml
results.json" ]; then
	pass atomic-no-leftovers
else
	fail atomic-no-leftovers "$(ls -A "$root/.tach" | tr '\n' ' ')"
fi

# --- arguments instead of a list ---------------------------------------------
run args --root "$root" r/test_a.py/test_pass.json "r/sub dir/test b.json" r/skip.json "$tmp/abs.json" \
	--json "$tmp/out/a/results.json" --junit "$tmp/out/b/junit.xml"
expect args 1 "FAILED sub/test_b.py::test_x[1] (failed)
2 passed, 1 failed, 2 skipped"
if "$py" -c 'import json, sys, xml.etree.ElementTree as E
j = json.load(open(sys.argv[1]))["tests"]
x = E.parse(sys.argv[2]).getroot()
sys.exit(not (len(j) == 5 and x.get("tests") == "5"))' "$tmp/out/a/results.json" "$tmp/out/b/junit.xml"; then
	pass args-outputs
else
	fail args-outputs "--json/--junit not written where asked"
fi
run args-pass --root "$root" -- r/test_a.py/test_pass.json r/skip.json
expect args-pass 0 "1 passed, 0 failed, 2 skipped"
run args-missing --root "$root" r/test_a.py/test_pass.json r/nothing.json
expect args-missing 1 "FAILED r/nothing.json (error)
1 passed, 1 failed, 0 skipped"
check args-missing-message 'j[1]["nodeid"] == "r/nothing.json" and j[1]["message"] == "no result: No such file or directory (r/nothing.json)"'
run args-empty-tests --root "$root" "$tmp/empty.list"
expect args-empty-tests 1 "FAILED $tmp/empty.list (error)
0 passed, 1 failed, 0 skipped"

# --- an rspfile written by Ninja: $in_newline quotes paths ---------------------
if command -v ninja >/dev/null 2>&1; then
	cat >"$root/build.ninja" <<EOF
rule results
  command = "$res" --root . --list \$out.rsp >\$out
  rspfile = \$out.rsp
  rspfile_content = \$in_newline
build summary.txt: results r/test_a.py/test_pass.json r/sub$ dir/test$ b.json r/skip.json
EOF
	cp "$root/r/skip.json" "$root/r/it's [1].json"
	printf 'build summary2.txt: results r/test_a.py/test_pass.json r/it'"'"'s$ [1].json\n' >>"$root/build.ninja"
	if (cd "$root" && ninja -k 0 >"$tmp/ninja.out" 2>&1); then
		fail ninja-rspfile "ninja succeeded although a test failed"
	elif [ "$(cat "$root/summary.txt")" = "FAILED sub/test_b.py::test_x[1] (failed)
1 passed, 1 failed, 2 skipped" ] && [ "$(cat "$root/summary2.txt")" = "1 passed, 0 failed, 2 skipped" ]; then
		pass ninja-rspfile
	else
		fail ninja-rspfile "$(cat "$tmp/ninja.out" "$root/summary.txt" "$root/summary2.txt" 2>&1 | head -20)"
	fi
else
	echo "SKIP summary/ninja-rspfile: no ninja"
fi

# --- a list and more results: the list's come first --------------------------
run list-and-args --root "$root" --list "$tmp/mixed.list" r/skip.json
expect list-and-args 1 "FAILED sub/test_b.py::test_x[1] (failed)
FAILED test_c.py::test_crash (crashed, SIGSEGV)
FAILED test_c.py::test_slow (timeout)
FAILED test_c.py::test_err[a::b] (error)
FAILED test_d.py::test_gone (error)
FAILED test_e.py::test_corrupt (error)
2 passed, 6 failed, 4 skipped"

# --- usage errors -------------------------------------------------------------
usage() {
	name=$1
	shift
	run "$name" "$@"
	if [ "$rc" -ne 2 ]; then
		fail "$name" "exit status $rc, expected 2"
	elif ! grep -q "tach-results" "$tmp/$name.err"; then
		fail "$name" "no message: $(cat "$tmp/$name.err")"
	else
		pass "$name"
	fi
}
usage usage-unknown --root "$root" --frob r/skip.json
usage usage-no-root r/skip.json
usage usage-bad-root --root "$tmp/nowhere" r/skip.json
usage usage-list-missing --root "$root" --list "$tmp/no.list"
usage usage-list-dir --root "$root" --list "$tmp"
usage usage-missing-arg --root
run help --help
if [ "$rc" -eq 0 ] && grep -q "^usage: tach-results" "$tmp/help.out"; then
	pass help
else
	fail help "exit status $rc: $(cat "$tmp/help.out" "$tmp/help.err")"
fi
run unwritable --root "$root" --json /proc/tach/results.json r/skip.json
if [ "$rc" -eq 2 ] && grep -q "cannot write /proc/tach/results.json" "$tmp/unwritable.err"; then
	pass unwritable
else
	fail unwritable "exit status $rc: $(cat "$tmp/unwritable.err")"
fi

# --- 2,000 result files --------------------------------------------------------
root="$tmp/many"
mkdir -p "$root/r"
"$py" - "$root" >"$tmp/many.list" <<'EOF'
import json, sys
root = sys.argv[1]
for i in range(2000):
    f = "r/test_m%d.py::test_p[%d].json" % (i % 40, i)
    nodeid = "test_m%d.py::test_p[%d]" % (i % 40, i)
    case = {"nodeid": nodeid, "outcome": "passed" if i % 10 else "skipped", "mode": "hypervisor",
            "duration": 0.001 * i, "message": "", "stdout": "out %d\n" % i, "stderr": "", "signal": None}
    with open(root + "/" + f, "w") as fp:
        json.dump({"tests": [case]}, fp)
    print(f + "\t" + nodeid)
EOF
start=$(date +%s%N)
run many --root "$root" --list "$tmp/many.list"
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
printf '%s\n' "1800 passed, 0 failed, 200 skipped" >"$tmp/many.want"
if [ "$rc" -eq 0 ] && cmp -s "$tmp/many.want" "$tmp/many.out" && [ ! -s "$tmp/many.err" ]; then
	pass "many-2000 (${ms} ms)"
else
	fail many-2000 "exit status $rc: $(head -c 600 "$tmp/many.out") $(head -c 600 "$tmp/many.err")"
fi
check many-reports 'len(j) == 2000 and j[1999]["nodeid"] == "test_m39.py::test_p[1999]" and x.get("tests") == "2000"
    and len(x) == 40 and x[0].get("tests") == "50"'

exit $status

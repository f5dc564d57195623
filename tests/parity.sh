#!/bin/sh
# tests/parity.sh - tach against plain pytest on tests/parity/proj, a
# project configured the way real ones are (warnings as errors, strict
# markers and config, addopts deselecting, collect_ignore, pytest_plugins,
# a test class imported into another module, a module skipped at import, a
# file that does not collect, a test behind a platform check, PYTHONPATH=src).
# Every report pytest makes (an item's outcome, a file's collection error or
# skip, as often as pytest makes it) must be tach's too, and nothing else (pytest runs with --continue-on-collection-errors:
# tach runs every file's tests whatever another file does); then -k through tach gen, a change of the
# environment, and a zygote that cannot start. Runs with $TACH_PYTHON (the
# pytest under test). Prints one PASS/FAIL line per check.

top=$(cd "$(dirname "$0")/.." && pwd)
suite=${TACH_SUITE:-parity}
. "$top/tests/lib.sh"
cleanup() {
	for d in "$tmp"/*/; do
		hv_stop "$d"
	done
	tmp_remove
}

need_pytest

# A plugin for plain pytest's side: every report as {nodeid: outcome}, and
# the deselected count, in tach's words.
mkdir "$tmp/probe"
cat >"$tmp/probe/tach_parity_probe.py" <<'EOF'
import json
import os

_items = {}
_files = []     # (nodeid, outcome) of collectors that failed or skipped
_deselected = [0]


def pytest_deselected(items):
    _deselected[0] += len(items)


def pytest_collectreport(report):
    if report.failed:
        _files.append((report.nodeid, "error"))
    elif report.skipped:
        _files.append((report.nodeid, "skipped"))


def pytest_runtest_logreport(report):
    prev = _items.get(report.nodeid)
    if hasattr(report, "wasxfail") and report.skipped:
        outcome = "xfailed"
    elif report.when == "call":
        outcome = report.outcome
    elif report.failed:
        outcome = "error"
    elif report.skipped:
        outcome = "skipped"
    else:
        outcome = prev or "passed"
    if prev == "error" and outcome == "passed":
        outcome = prev
    _items[report.nodeid] = outcome


def pytest_sessionfinish(session):
    with open(os.environ["PARITY_OUT"], "w") as f:
        json.dump({"tests": sorted(_items.items()) + _files, "deselected": _deselected[0]}, f)
EOF

# compare NAME PYTEST_JSON RESULTS_JSON
compare() {
	if out=$("$python" - "$2" "$3" <<'EOF'
import collections
import json
import sys

want = collections.Counter(map(tuple, json.load(open(sys.argv[1]))["tests"]))
wdes = json.load(open(sys.argv[1]))["deselected"]
got = json.load(open(sys.argv[2]))
have = collections.Counter((t["nodeid"], t["outcome"]) for t in got["tests"])
problems = []
for (nodeid, outcome), n in sorted((want - have).items()):
    problems.append("missing %s %s%s" % (nodeid, outcome, " x%d" % n if n > 1 else ""))
for (nodeid, outcome), n in sorted((have - want).items()):
    problems.append("extra %s %s%s" % (nodeid, outcome, " x%d" % n if n > 1 else ""))
if wdes != got.get("deselected"):
    problems.append("deselected: tach %s, pytest %s" % (got.get("deselected"), wdes))
print("; ".join(problems))
sys.exit(1 if problems else 0)
EOF
	); then
		pass "$1"
	else
		fail "$1" "$out"
	fi
}

# plain NAME DIR [PYTEST_ARGS...]: plain pytest's outcomes in $tmp/NAME.json
plain() {
	name=$1 dir=$2
	shift 2
	(cd "$dir" && PYTHONPATH=src:$tmp/probe PARITY_OUT=$tmp/$name.json PARITY_FLAVOR=sweet \
	    "$python" -m pytest -q -p tach_parity_probe --continue-on-collection-errors "$@" \
	    >"$tmp/$name.pytest.out" 2>&1)
}

proj=$tmp/proj
cp -r "$top/tests/parity/proj" "$proj"
plain plain "$proj"
(cd "$proj" && PYTHONPATH=src PARITY_FLAVOR=sweet "$top/build/tach" run --python "$python" -- -j2 \
    >"$tmp/tach.out" 2>&1)
if [ -f "$proj/.tach/results.json" ]; then
	compare outcomes "$tmp/plain.json" "$proj/.tach/results.json"
else
	fail outcomes "no results.json: $(tail -5 "$tmp/tach.out")"
fi
check_out() {
	# check_out NAME FILE PATTERN: FILE has a line matching PATTERN
	if grep -q -E -- "$3" "$2"; then pass "$1"; else fail "$1" "no '$3' in: $(tail -5 "$2")"; fi
}
check_out summary-deselected "$tmp/tach.out" '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped, 6 deselected$'
# the precise policy's platform view keeps the Windows-only test out of the
# plan; only the ignored one is planned in vain
check_out not-collected-warning "$tmp/tach.out" \
    'warning: pytest does not collect 1 test .*test_never'
if grep -q test_windows_only "$tmp/tach.out"; then
	fail not-planned-windows-only "test_windows_only planned: $(grep test_windows_only "$tmp/tach.out")"
else
	pass not-planned-windows-only
fi
if "$python" -c '
import json, sys
t = {c["nodeid"]: c for c in json.load(open(sys.argv[1]))["tests"]}
c = t["tests/test_toxic.py::test_runs_isolated"]
sys.exit(not (c["outcome"] == "passed" and c["mode"] == "isolated"))' "$proj/.tach/results.json" 2>/dev/null; then
	pass toxic-isolated
else
	fail toxic-isolated "test_toxic.py did not pass in isolated mode"
fi
if grep -q 'PytestAssertRewriteWarning\|could not start' "$tmp/tach.out"; then
	fail warnings-as-errors "$(grep -m1 'PytestAssertRewriteWarning\|could not start' "$tmp/tach.out")"
else
	pass warnings-as-errors
fi

# nothing changed: nothing runs but the failures, and the outcomes stay
(cd "$proj" && PYTHONPATH=src PARITY_FLAVOR=sweet ninja >"$tmp/again.out" 2>&1)
compare rerun-outcomes "$tmp/plain.json" "$proj/.tach/results.json"
n=$(grep -c '^\[.*\] TEST ' "$tmp/again.out")
if [ "$n" -eq 3 ]; then pass rerun-failures-only; else fail rerun-failures-only "$n tests ran: $(cat "$tmp/again.out")"; fi

# another environment: the zygote starts again with it, as pytest would see it
(cd "$proj" && PYTHONPATH=src PARITY_FLAVOR=sour "$top/build/tach-run" --mode hypervisor --root . \
    --python "$python" --result "$tmp/env.json" tests/test_env.py::test_flavor >/dev/null 2>&1)
if grep -q '"outcome":"failed"' "$tmp/env.json"; then pass env-change; else fail env-change "$(cat "$tmp/env.json")"; fi
(cd "$proj" && PYTHONPATH=src PARITY_FLAVOR=sweet "$top/build/tach-run" --mode hypervisor --root . \
    --python "$python" --result "$tmp/env.json" tests/test_env.py::test_flavor >/dev/null 2>&1)
if grep -q '"outcome":"passed"' "$tmp/env.json"; then pass env-back; else fail env-back "$(cat "$tmp/env.json")"; fi

# pytest's options through tach gen: -k, and a file as a Ninja target
k=$tmp/k
cp -r "$top/tests/parity/proj" "$k"
plain k "$k" -k "add or more"
(cd "$k" && PYTHONPATH=src PARITY_FLAVOR=sweet "$top/build/tach" run --python "$python" -k "add or more" \
    >"$tmp/k.out" 2>&1)
compare pytest-k "$tmp/k.json" "$k/.tach/results.json"
(cd "$k" && rm -f .tach/t/*.ok && PYTHONPATH=src PARITY_FLAVOR=sweet ninja tests/test_derived.py \
    >"$tmp/file.out" 2>&1)
n=$(grep -c '^\[.*\] TEST ' "$tmp/file.out")
if [ "$n" -eq 1 ] && grep -q 'TEST tests/test_derived.py' "$tmp/file.out"; then
	pass file-target
else
	fail file-target "$(cat "$tmp/file.out")"
fi

# a zygote that cannot start: one line per test, the traceback once
bad=$tmp/bad
mkdir "$bad"
printf 'import no_such_module_in_conftest\n' >"$bad/conftest.py"
printf 'def test_a():\n    pass\n\n\ndef test_b():\n    pass\n' >"$bad/test_a.py"
(cd "$bad" && "$top/build/tach" run --python "$python" >"$tmp/bad.out" 2>&1)
n=$(grep -c 'the zygote could not start: .*no_such_module_in_conftest' "$bad/.tach/results.json" 2>/dev/null)
m=$(grep -c 'Traceback' "$bad/.tach/hv.log" 2>/dev/null)
if grep -q 'FAILED test_a.py::test_b (error)' "$tmp/bad.out" && [ "$m" -ge 1 ] &&
    grep -q 'plain pytest fails the same way' "$bad/.tach/results.json"; then
	pass zygote-cannot-start
else
	fail zygote-cannot-start "results: $n, tracebacks in hv.log: $m: $(tail -5 "$tmp/bad.out")"
fi

exit $status

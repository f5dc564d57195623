#!/usr/bin/env bash
# bench/realsuites.sh - plain pytest against tach on real (unpacked) test
# suites: what each collected, how the outcomes differ, and the wall times.
#
#   bench/realsuites.sh [--python PATH] [--env 'VAR=val ...'] [--pytest-args ARGS]
#                       [--jobs N] [--timeout S] [--out DIR] DIR...
#
#   --python PATH       the interpreter with pytest (default /usr/bin/python3)
#   --env 'VAR=val ...' environment for both contenders, split and unquoted as
#                       a shell would (so 'PYTEST_ADDOPTS="-x -q"' works); use
#                       absolute paths: tests run from other directories too
#   --pytest-args ARGS  more pytest options for both: the plain runs get them
#                       on the command line, tach through `tach gen --pytest-args`
#   --jobs N            ninja -j N for tach (default: ninja's own default)
#   --timeout S         bound of each command (default 3600 s)
#   --out DIR           keep every output in DIR (default: a fresh /tmp dir,
#                       kept too; its path is printed)
#
# For each DIR, with the same environment for both:
#  1. plain pytest, from DIR:
#       PYTHON -m pytest --collect-only -q -p no:cacheprovider   (what pytest collects)
#       PYTHON -m pytest -p no:cacheprovider -q -rA              (timed: the run)
#  2. tach, cold (DIR/.tach and DIR/build.ninja removed first, the zygote
#     stopped): `tach gen --root DIR --python PYTHON` then `ninja -C DIR -k 0 test`,
#     timed together; DIR/.tach/results.json kept; `tach hv stop --root DIR`.
#  3. bench/realsuites_compare.py on the outputs (run with /usr/bin/python3).
#
# How pytest's per-item outcomes are read. `-rA` summary lines are not enough:
# skips are folded into `SKIPPED [N] file:line: reason` lines without node ids,
# node ids may contain spaces (parametrize ids) so `FAILED id - msg` cannot be
# split reliably, and `--junitxml` gives classname+name, which does not map
# back to node ids (path separators and dots are merged). So both pytest runs
# also load a tiny plugin (tach_realsuites_probe, written into the output
# directory) that records pytest's own objects: session.items after
# collection, pytest_deselected, failed or skipped collect reports, and every
# pytest_runtest_logreport phase, folded into one outcome per node id the way
# pytest's terminal counts them; it writes JSON at session finish. It is loaded
# with `-p tach_realsuites_probe`, its directory *appended* to PYTHONPATH (after
# any PYTHONPATH the environment sets): the only change the tests can see is
# one more sys.path entry holding one uniquely named module, and a PYTHONPATH
# variable that carries it. The -rA output and the collect-only text are kept
# and cross-checked by the compare script.
set -u

here=$(cd "$(dirname "$0")" && pwd)
tach=$here/../build/tach
compare=$here/realsuites_compare.py
python=/usr/bin/python3
envstr=
pyargs=
jobs=
tmo=3600
out=

usage() {
	sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--python) python=$2; shift 2 ;;
	--python=*) python=${1#*=}; shift ;;
	--env) envstr=$2; shift 2 ;;
	--env=*) envstr=${1#*=}; shift ;;
	--pytest-args) pyargs=$2; shift 2 ;;
	--pytest-args=*) pyargs=${1#*=}; shift ;;
	--jobs|-j) jobs=$2; shift 2 ;;
	--timeout) tmo=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) echo "realsuites.sh: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
[ -x "$tach" ] || { echo "realsuites.sh: $tach not built (run ninja)" >&2; exit 2; }
command -v ninja >/dev/null || { echo "realsuites.sh: ninja not found" >&2; exit 2; }

# The environment, as words VAR=val (quotes removed as a shell would).
envarr=()
if [ -n "$envstr" ]; then
	eval "envarr=($envstr)" || { echo "realsuites.sh: bad --env" >&2; exit 2; }
	for kv in "${envarr[@]}"; do
		case $kv in
		[A-Za-z_]*=*) ;;
		*) echo "realsuites.sh: --env word '$kv' is not VAR=val" >&2; exit 2 ;;
		esac
	done
fi
pyargv=()
if [ -n "$pyargs" ]; then
	eval "pyargv=($pyargs)" || { echo "realsuites.sh: bad --pytest-args" >&2; exit 2; }
fi

# PYTHONPATH as the tests will see it under --env, plus the probe at the end.
base_pp=${PYTHONPATH-}
have_pp=${PYTHONPATH+set}
for kv in "${envarr[@]}"; do
	case $kv in PYTHONPATH=*) base_pp=${kv#PYTHONPATH=}; have_pp=set ;; esac
done

if [ -n "$out" ]; then
	mkdir -p "$out" || exit 2
	work=$(cd "$out" && pwd)
else
	work=$(mktemp -d /tmp/realsuites.XXXXXX) || exit 2
fi
probe_dir=$work/probe
mkdir -p "$probe_dir"
probe_pp=$probe_dir
[ -n "$have_pp" ] && [ -n "$base_pp" ] && probe_pp=$base_pp:$probe_dir

cat >"$probe_dir/tach_realsuites_probe.py" <<'PY'
"""pytest's own view of a run, for bench/realsuites.sh (loaded with -p)."""
import json

import pytest

_state = {"collected": None, "deselected": [], "collect_errors": [],
          "collect_skipped": [], "results": {}}


def pytest_addoption(parser):
    parser.addoption("--realsuites-out", default=None,
                     help="write the probe's JSON here")


def _msg(rep):
    lr = rep.longrepr
    if lr is None:
        return ""
    if isinstance(lr, tuple) and len(lr) == 3:
        text = str(lr[2])
    else:
        crash = getattr(lr, "reprcrash", None)
        if crash is not None and getattr(crash, "message", None):
            text = crash.message
        else:
            lines = str(lr).strip().splitlines()
            text = lines[-1] if lines else ""
    return text[:300]


def pytest_deselected(items):
    _state["deselected"].extend(i.nodeid for i in items)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    _state["collected"] = [i.nodeid for i in session.items]


def pytest_collectreport(report):
    if report.failed:
        _state["collect_errors"].append({"nodeid": report.nodeid,
                                         "message": _msg(report)})
    elif report.skipped:
        _state["collect_skipped"].append({"nodeid": report.nodeid,
                                          "message": _msg(report)})


def pytest_runtest_logreport(report):
    r = _state["results"].setdefault(
        report.nodeid, {"phases": {}, "duration": 0.0, "message": ""})
    r["duration"] += report.duration or 0.0
    o = "passed" if report.passed else "failed" if report.failed else "skipped"
    if hasattr(report, "wasxfail"):
        o += "-xfail"
    r["phases"][report.when] = o
    if (report.failed or report.skipped) and not r["message"]:
        r["message"] = _msg(report)


def _fold(p):
    # one outcome per item, as pytest's terminal counts it
    s, c, t = p.get("setup", ""), p.get("call", ""), p.get("teardown", "")
    if s.startswith("failed"):
        return "error"
    if s == "skipped-xfail":
        return "xfailed"
    if s == "skipped":
        return "skipped"
    if c.startswith("failed"):          # strict XPASS is a failed call too
        return "failed"
    if c == "skipped-xfail":
        return "xfailed"
    if c == "passed-xfail":
        return "xpassed"
    if c == "skipped":
        return "skipped"
    if t.startswith("failed"):
        return "error"
    if c == "passed":
        return "passed"
    return "incomplete"


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--realsuites-out")
    if not path:
        return
    for r in _state["results"].values():
        r["outcome"] = _fold(r["phases"])
        r["teardown_error"] = (r["phases"].get("teardown", "").startswith("failed")
                               and r["outcome"] != "error")
    data = dict(_state, exitstatus=int(exitstatus))
    with open(path, "w") as f:
        json.dump(data, f)
PY

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
log() { echo "realsuites: $*" >&2; }

if grep -q __asan_init "$here/../build/tach-run" 2>/dev/null; then
	log "note: build/ is a sanitizer build: tach's times are inflated, and a"
	log "      leak report fails an edge unless --env has ASAN_OPTIONS=detect_leaks=0"
fi
gen_has_pytest_args=
"$tach" gen --help 2>&1 | grep -q -- '--pytest-args' && gen_has_pytest_args=1
if [ ${#pyargv[@]} -gt 0 ] && [ -z "$gen_has_pytest_args" ]; then
	log "warning: this tach gen has no --pytest-args; tach runs without: $pyargs"
fi

suites=()
i=0
for d in "$@"; do
	i=$((i + 1))
	if ! abs=$(cd "$d" 2>/dev/null && pwd); then
		log "skip $d: not a directory"
		continue
	fi
	name=$(basename "$abs")
	sd=$work/$(printf '%02d' "$i")-$name
	mkdir -p "$sd"
	suites+=("$sd")
	{
		echo "name=$name"
		echo "dir=$abs"
		echo "python=$python"
		echo "env=$envstr"
		echo "pytest_args=$pyargs"
	} >"$sd/meta.txt"

	# 1. plain pytest
	log "$name: pytest --collect-only"
	(cd "$abs" && env "${envarr[@]}" PYTHONPATH="$probe_pp" \
		timeout -k 10 "$tmo" "$python" -m pytest --collect-only -q \
		-p no:cacheprovider -p tach_realsuites_probe \
		--realsuites-out="$sd/collect.json" "${pyargv[@]}") \
		>"$sd/collect.txt" 2>&1
	echo "collect_rc=$?" >>"$sd/meta.txt"

	log "$name: pytest -rA"
	t0=$(now)
	(cd "$abs" && env "${envarr[@]}" PYTHONPATH="$probe_pp" \
		timeout -k 10 "$tmo" "$python" -m pytest -p no:cacheprovider -q -rA \
		-p tach_realsuites_probe --realsuites-out="$sd/pytest.json" \
		"${pyargv[@]}") >"$sd/pytest.txt" 2>&1
	rc=$?
	t1=$(now)
	echo "pytest_rc=$rc" >>"$sd/meta.txt"
	echo "pytest_wall=$(elapsed "$t0" "$t1")" >>"$sd/meta.txt"

	# 2. tach, cold
	"$tach" hv stop --root "$abs" >/dev/null 2>&1
	if [ -f "$abs/build.ninja" ] && ! head -n 1 "$abs/build.ninja" | grep -q 'tach gen'; then
		log "$name: $abs/build.ninja was not written by tach: tach not run"
		echo "tach_skipped=build.ninja not written by tach" >>"$sd/meta.txt"
		continue
	fi
	rm -rf "$abs/.tach" "$abs/build.ninja"
	genargs=(gen --root "$abs" --python "$python")
	[ -n "$gen_has_pytest_args" ] && [ -n "$pyargs" ] && genargs+=(--pytest-args "$pyargs")
	# -k 0: a failing edge (tach-run itself failing, not a test: failed
	# tests never fail their edge) must not stop the rest of the comparison
	ninjaargs=(-C "$abs" -k 0)
	[ -n "$jobs" ] && ninjaargs+=(-j "$jobs")
	log "$name: tach gen + ninja test"
	t0=$(now)
	env "${envarr[@]}" timeout -k 10 "$tmo" "$tach" "${genargs[@]}" >"$sd/tach.txt" 2>&1
	grc=$?
	nrc=
	# a gen that wrote the manifest but exited non-zero (a sanitizer's leak
	# report, say) still gets its tests run; the gen rc is reported
	if [ -f "$abs/build.ninja" ]; then
		env "${envarr[@]}" timeout -k 10 "$tmo" ninja "${ninjaargs[@]}" test >>"$sd/tach.txt" 2>&1
		nrc=$?
	fi
	t1=$(now)
	{
		echo "gen_rc=$grc"
		echo "ninja_rc=$nrc"
		echo "tach_wall=$(elapsed "$t0" "$t1")"
	} >>"$sd/meta.txt"
	if [ -f "$abs/.tach/results.json" ]; then
		cp "$abs/.tach/results.json" "$sd/results.json"
	elif [ -d "$abs/.tach/t" ]; then
		# no summary (a timeout, say): merge the per-edge result files
		/usr/bin/python3 - "$abs/.tach/t" "$sd/results.partial.json" <<'PY'
import glob, json, os, sys
tests = []
for p in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    try:
        with open(p) as f:
            tests.extend(json.load(f).get("tests", []))
    except (OSError, ValueError, AttributeError):
        pass
with open(sys.argv[2], "w") as f:
    json.dump({"tests": tests, "partial": True}, f)
PY
	fi
	"$tach" hv stop --root "$abs" >/dev/null 2>&1
done

log "outputs in $work"
/usr/bin/python3 "$compare" "${suites[@]}"
exit 0

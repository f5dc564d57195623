#!/bin/sh
# bench/isolated.sh - what a toxic test costs in the isolated runtime: forked
# from the clean zygote against a new interpreter (TACH_ISOLATED=exec), in
# one run, on a generated suite whose helper module starts a thread at
# import, so every test is toxic. Run from the top directory after `ninja`:
#
#   sh bench/isolated.sh [N]        (N tests, default 60; -j1, then -j2)
#
# Each variant: `tach gen` once, then `ninja test` timed with every stamp
# removed (so every test runs) and the zygotes already up (a warm-up run
# first): the per-test figure is the wall time over N. Plain pytest over the
# same files is the baseline (its own per-test cost in one process).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
python=${TACH_PYTHON:-/usr/bin/python3}
n=${1:-60}
dir=$(mktemp -d)
safe=$(mktemp -d)
trap 'TACH_ISOLATED= "$top/build/tach" hv stop --root "$dir" >/dev/null 2>&1; "$top/build/tach" hv stop --root "$safe" >/dev/null 2>&1; rm -rf "$dir" "$safe"' EXIT INT TERM
ninja -C "$top" >/dev/null

mkdir -p "$dir/tests"
cat >"$dir/helper.py" <<'EOF'
import threading

_stop = threading.Event()
threading.Thread(target=_stop.wait, daemon=True).start()


def value(i):
    return i * 2
EOF
i=0
while [ "$i" -lt "$n" ]; do
	cat >"$dir/tests/test_t$i.py" <<EOF
import helper


def test_t$i():
    assert helper.value($i) == 2 * $i
EOF
	i=$((i + 1))
done

now() { "$python" -c 'import time; print(time.monotonic())'; }
per() { "$python" -c "import sys; print('%.1f' % ((float(sys.argv[2]) - float(sys.argv[1])) * 1000 / $n))" "$1" "$2"; }

t0=$(now)
(cd "$dir" && "$python" -m pytest -q -p no:cacheprovider >/dev/null)
t1=$(now)
echo "plain pytest, one process:            $(per "$t0" "$t1") ms a test"

# the same files with a helper that starts nothing: hypervisor mode, the
# cost a test pays anyway (tach-run, Ninja, a forked test process)
mkdir -p "$safe"
cp -r "$dir/tests" "$safe/"
printf 'def value(i):\n    return i * 2\n' >"$safe/helper.py"
"$top/build/tach" gen --root "$safe" --python "$python" -q
for j in 1 2; do
	rm -f "$safe"/.tach/t/*.ok
	(cd "$safe" && ninja -j "$j" test >/dev/null) || true
	rm -f "$safe"/.tach/t/*.ok
	t0=$(now)
	(cd "$safe" && ninja -j "$j" test >/dev/null) || true
	t1=$(now)
	echo "hypervisor (nothing toxic), ninja -j$j:   $(per "$t0" "$t1") ms a test"
done
"$top/build/tach" hv stop --root "$safe" >/dev/null 2>&1 || true

"$top/build/tach" gen --root "$dir" --python "$python" -q
for how in clean exec; do
	for j in 1 2; do
		export TACH_ISOLATED=$how
		rm -f "$dir"/.tach/t/*.ok
		(cd "$dir" && ninja -j "$j" test >/dev/null) || true	# warm-up: the zygotes start
		rm -f "$dir"/.tach/t/*.ok
		t0=$(now)
		(cd "$dir" && ninja -j "$j" test >/dev/null) || true
		t1=$(now)
		echo "isolated, $how, ninja -j$j:$( [ "$how" = exec ] && echo "  " || echo " ")          $(per "$t0" "$t1") ms a test"
	done
done

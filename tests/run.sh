#!/bin/sh
# tests/run.sh - runs every test of the project and ends with one
# "N passed, N failed" line. Called by `ninja test` from the top directory.
#
# Unit tests are cmocka binaries run with TAP output; the other suites are
# shell scripts that print "PASS name" / "FAIL name" lines.

cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
failures=

count() {
	# count FILE: add a suite's ok/PASS and not ok/FAIL lines
	p=$(grep -c -E '^(ok |PASS )' "$1")
	f=$(grep -c -E '^(not ok |FAIL )' "$1")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		failures="$failures
$(grep -E '^(not ok |FAIL )' "$1" | sed 's/^/  /')"
	fi
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT INT TERM

for t in build/tests/test_*; do
	case $t in *.o|*.d) continue ;; esac
	[ -x "$t" ] || continue
	name=$(basename "$t")
	CMOCKA_MESSAGE_OUTPUT=TAP "./$t" >"$out" 2>&1
	rc=$?
	count "$out"
	if [ $rc -ne 0 ] && ! grep -q -E '^not ok ' "$out"; then
		echo "FAIL $name exited with status $rc" >>"$out"
		cat "$out"
		failed=$((failed + 1))
		failures="$failures
  $name (exit $rc)"
	elif grep -q -E '^not ok ' "$out"; then
		cat "$out"
	fi
	printf '%-28s %s\n' "$name" "$(grep -c -E '^ok ' "$out") ok, $(grep -c -E '^not ok ' "$out") not ok"
done

for s in tests/e2e/run.sh tests/stdlib.sh tests/cache.sh tests/isolated.sh tests/runtime.sh tests/summary.sh \
    tests/gen.sh tests/parity.sh tests/pytest9.sh; do
	[ -f "$s" ] || continue
	sh "$s" >"$out" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP) ' "$out"
	count "$out"
	if [ $rc -ne 0 ] && ! grep -q -E '^FAIL ' "$out"; then
		cat "$out"
		failed=$((failed + 1))
		failures="$failures
  $s (exit $rc)"
	fi
done

if [ "$failed" -gt 0 ]; then
	printf 'failures:%s\n' "$failures"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/sh
# tests/run.sh - runs every test of the project and ends with one
# "N passed, N failed" line. Called by `ninja test` from the top directory.
#
# Unit tests are cmocka binaries run with TAP output; the other suites are
# shell scripts that print "PASS name" / "FAIL name" / "SKIP name" lines. A
# TAP line with the SKIP directive ("ok 3 # SKIP", which cmocka prints as
# "not ok 3 # SKIP" too) is a skip, not a pass or a failure; the skips'
# total is printed on the line before the last.

cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
skipped=0
failures=

# TAP's SKIP directive, whatever the line's outcome
tapskip='^(not )?ok [0-9]+[^#]*# *[Ss][Kk][Ii][Pp]'

count() {
	# count FILE: add a suite's ok/PASS, not ok/FAIL and skipped lines
	s=$(grep -c -E "$tapskip|^SKIP " "$1")
	p=$(grep -v -E "$tapskip" "$1" | grep -c -E '^(ok |PASS )')
	f=$(grep -v -E "$tapskip" "$1" | grep -c -E '^(not ok |FAIL )')
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	if [ "$f" -gt 0 ]; then
		failures="$failures
$(grep -v -E "$tapskip" "$1" | grep -E '^(not ok |FAIL )' | sed 's/^/  /')"
	fi
}

# notok FILE: whether a TAP output has a failure (a skip is none)
notok() {
	grep -v -E "$tapskip" "$1" | grep -q -E '^not ok '
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
	if [ $rc -ne 0 ] && ! notok "$out"; then
		echo "FAIL $name exited with status $rc" >>"$out"
		cat "$out"
		failed=$((failed + 1))
		failures="$failures
  $name (exit $rc)"
	elif notok "$out"; then
		cat "$out"
	fi
	s=$(grep -c -E "$tapskip" "$out")
	p=$(grep -v -E "$tapskip" "$out" | grep -c -E '^ok ')
	f=$(grep -v -E "$tapskip" "$out" | grep -c -E '^not ok ')
	[ "$s" -gt 0 ] && f="$f not ok, $s skipped" || f="$f not ok"
	printf '%-28s %s\n' "$name" "$p ok, $f"
done

for s in tests/layout.sh tests/e2e/run.sh tests/stdlib.sh tests/cache.sh tests/isolated.sh tests/isolated-clean.sh \
    tests/runtime.sh tests/reset.sh tests/summary.sh \
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
echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

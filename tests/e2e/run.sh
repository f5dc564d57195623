#!/bin/sh
# tests/e2e/run.sh - end-to-end checks of the tach command line.
#
# Each case is a directory tests/e2e/CASE/ holding a fixture project (usually
# project/) and checks: NAME.cmd is one line of arguments to build/tach, run
# from the case directory; NAME.out is the expected standard output,
# NAME.err (optional) the expected standard error and NAME.status (optional,
# default 0) the expected exit status. Prints one PASS/FAIL line per check.
#
# TACH_E2E_UPDATE=1 rewrites the expected files from the actual output.

top=$(cd "$(dirname "$0")/../.." && pwd)
tach=$top/build/tach
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0

for cmd in "$top"/tests/e2e/*/*.cmd; do
	[ -f "$cmd" ] || continue
	dir=$(dirname "$cmd")
	name=$(basename "$dir")/$(basename "$cmd" .cmd)
	base=${cmd%.cmd}
	want_status=0
	[ -f "$base.status" ] && want_status=$(cat "$base.status")
	# shellcheck disable=SC2046
	(cd "$dir" && eval "set -- $(cat "$cmd")" && exec timeout 60 "$tach" "$@") >"$tmp/out" 2>"$tmp/err"
	got_status=$?
	if [ -n "$TACH_E2E_UPDATE" ]; then
		cp "$tmp/out" "$base.out"
		if [ -s "$tmp/err" ]; then cp "$tmp/err" "$base.err"; else rm -f "$base.err"; fi
		if [ "$got_status" != 0 ]; then echo "$got_status" >"$base.status"; else rm -f "$base.status"; fi
		want_status=$got_status
	fi
	why=
	[ "$got_status" = "$want_status" ] || why="exit status $got_status, expected $want_status"
	if [ -z "$why" ] && ! diff -u "$base.out" "$tmp/out" >"$tmp/diff"; then
		why="stdout differs"
	fi
	if [ -z "$why" ] && [ -f "$base.err" ] && ! diff -u "$base.err" "$tmp/err" >"$tmp/diff"; then
		why="stderr differs"
	fi
	if [ -z "$why" ] && [ ! -f "$base.err" ] && [ -s "$tmp/err" ]; then
		cp "$tmp/err" "$tmp/diff"
		why="unexpected stderr"
	fi
	if [ -n "$why" ]; then
		echo "FAIL e2e/$name: $why"
		sed 's/^/    /' "$tmp/diff" 2>/dev/null | head -40
		status=1
	else
		echo "PASS e2e/$name"
	fi
done

# Generated manifests and symlink loops cannot live in git as-is; build them.
loop=$tmp/loop
mkdir -p "$loop/pkg/sub"
printf 'import socket\nsocket.socket()\n' >"$loop/pkg/sub/net.py"
printf 'from pkg.sub import net\n' >"$loop/pkg/use.py"
touch "$loop/pkg/__init__.py" "$loop/pkg/sub/__init__.py"
ln -s .. "$loop/pkg/sub/up"
ln -s "$loop" "$loop/pkg/root"
if timeout 10 "$tach" analyze --root "$loop" >"$tmp/out" 2>"$tmp/err" &&
	grep -q '^toxic  pkg/use.py' "$tmp/out" && grep -q '^4 modules' "$tmp/out"; then
	echo "PASS e2e/symlink-loop"
else
	echo "FAIL e2e/symlink-loop"
	cat "$tmp/out" "$tmp/err" | sed 's/^/    /'
	status=1
fi
# A symlink to a directory never hides the directory itself.
hide=$tmp/hide
mkdir -p "$hide/mypkg" "$hide/empty/deeper"
touch "$hide/mypkg/__init__.py"
printf 'import ctypes\nctypes.CDLL(None)\n' >"$hide/mypkg/tox.py"
printf 'import mypkg.tox\n' >"$hide/test_m.py"
ln -s mypkg "$hide/alias"
if timeout 10 "$tach" analyze --no-cache --root "$hide" >"$tmp/out" 2>"$tmp/err" &&
	grep -q '^toxic  test_m.py' "$tmp/out" && grep -q '^toxic  mypkg/tox.py' "$tmp/out"; then
	echo "PASS e2e/symlink-does-not-hide"
else
	echo "FAIL e2e/symlink-does-not-hide"
	cat "$tmp/out" "$tmp/err" | sed 's/^/    /'
	status=1
fi

# A pyproject.toml that is a FIFO is an error, not a hang.
fifo=$tmp/fifo
mkdir -p "$fifo"
mkfifo "$fifo/pyproject.toml"
timeout 10 "$tach" analyze --no-cache --root "$fifo" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc = 2 ] && grep -q 'pyproject.toml' "$tmp/err"; then
	echo "PASS e2e/fifo-config"
else
	echo "FAIL e2e/fifo-config: exit $rc"
	status=1
fi

# An unreadable directory is reported and makes the exit status 1 (the
# rest is still analyzed). Root reads everything, so as root the check runs
# as nobody (runuser, else setpriv), on a copy of tach and a project in a
# directory nobody can reach.
unpriv=
if [ "$(id -u)" = 0 ]; then
	if runuser -u nobody -- true 2>/dev/null; then
		unpriv="runuser -u nobody --"
	elif setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups true 2>/dev/null; then
		unpriv="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
	fi
fi
if [ "$(id -u)" != 0 ] || [ -n "$unpriv" ]; then
	pub=$tmp/pub
	unr=$pub/unreadable
	mkdir -p "$unr/secret"
	printf 'x = 1\n' >"$unr/ok.py"
	cp "$tach" "$pub/tach"
	chmod 711 "$tmp"
	chmod 755 "$pub" "$unr" "$pub/tach"
	chmod 644 "$unr/ok.py"
	chmod 000 "$unr/secret"
	# shellcheck disable=SC2086
	(cd "$pub" && exec $unpriv "$pub/tach" analyze --no-cache --root "$unr") >"$tmp/out" 2>"$tmp/err"
	rc=$?
	chmod 755 "$unr/secret"
	if [ $rc = 1 ] && grep -q 'cannot read directory' "$tmp/err" && grep -q 'ok.py' "$tmp/out"; then
		echo "PASS e2e/unreadable-dir"
	else
		echo "FAIL e2e/unreadable-dir: exit $rc: $(head -c 300 "$tmp/err")"
		status=1
	fi
else
	echo "SKIP e2e/unreadable-dir: root, and neither runuser nor setpriv can run as nobody"
fi
exit $status

# tests/lib.sh - the set-up the shell suites share. A suite sets $top and
# $suite (the prefix of its PASS/FAIL lines), then sources this file:
#
#   top=$(cd "$(dirname "$0")/.." && pwd)
#   suite=NAME
#   . "$top/tests/lib.sh"
#
# It sets python ($TACH_PYTHON, else Debian's python3, which has pytest),
# tmp (a new temporary directory, by its real path: a zygote is started
# with the real path of its root) and status=0, and defines
#   pass NAME          prints "PASS $suite/NAME"
#   fail NAME WHY      prints "FAIL $suite/NAME: WHY" and sets status=1
#   skip NAME WHY      prints "SKIP $suite/NAME: WHY"
#   need_built FILE... fails "build" and exits unless build/FILE exists
#   need_pytest        fails "build" and exits unless $python has pytest
#   hv_stop DIR        stops the zygote of project DIR, if DIR has a .tach
#   cleanup            run at exit, unless TACH_KEEP is set (to keep $tmp
#                      for a look); removes $tmp. A suite with more to undo
#                      redefines it and calls tmp_remove last.
# INT and TERM exit 130, which runs the cleanup.

python=${TACH_PYTHON:-/usr/bin/python3}
tmp=$(cd "$(mktemp -d)" && pwd -P)
status=0

pass() { printf 'PASS %s/%s\n' "$suite" "$1"; }
fail() { printf 'FAIL %s/%s: %s\n' "$suite" "$1" "$2"; status=1; }
skip() { printf 'SKIP %s/%s: %s\n' "$suite" "$1" "$2"; }

need_built() {
	for f in "$@"; do
		if [ ! -e "$top/build/$f" ]; then
			fail build "build/$f missing (run ninja)"
			exit 1
		fi
	done
}

need_pytest() {
	if ! "$python" -c 'import pytest' 2>/dev/null; then
		fail build "$python has no pytest (set TACH_PYTHON)"
		exit 1
	fi
}

hv_stop() {
	[ -d "$1/.tach" ] || return 0
	timeout 20 "$top/build/tach" hv stop --root "$1" >/dev/null 2>&1
}

# a test may leave directories it made unreadable
tmp_remove() {
	chmod -R u+rwX "$tmp" 2>/dev/null
	rm -rf "$tmp"
}

cleanup() { tmp_remove; }

[ -n "$TACH_KEEP" ] || trap cleanup EXIT
trap 'exit 130' INT TERM

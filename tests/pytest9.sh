#!/bin/sh
# tests/pytest9.sh - the end-to-end suites again under the pytest users run
# rather than Debian's: pytest 9.1.1 (with pluggy 1.6.0 and iniconfig 2.1.0)
# from ../shared/pytest-9.1.1, in a virtualenv of Debian's python3 with its
# python3-packaging and python3-pygments. Each suite's lines are prefixed
# with "pytest9/". Without ../shared the leg is skipped with one SKIP line.

top=$(cd "$(dirname "$0")/.." && pwd)
src=${TACH_PYTEST9:-$top/../shared/pytest-9.1.1}
if [ ! -d "$src/_pytest" ]; then
	echo "SKIP pytest9: no pytest 9.1.1 sources at $src (the leg runs where ../shared is present)"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
venv=$tmp/venv
if ! /usr/bin/python3 -m venv --without-pip "$venv" >"$tmp/venv.out" 2>&1; then
	echo "FAIL pytest9/venv: $(tail -3 "$tmp/venv.out")"
	exit 1
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp -r "$src/pytest" "$src/_pytest" "$src/py.py" "$src/pluggy" "$src/iniconfig" "$site/" &&
    cp -r /usr/lib/python3/dist-packages/packaging /usr/lib/python3/dist-packages/pygments "$site/" ||
	{ echo "FAIL pytest9/venv: cannot copy pytest 9.1.1 into $site"; exit 1; }
v=$("$venv/bin/python" -m pytest --version 2>&1)
case $v in
*9.1.1*) echo "PASS pytest9/version" ;;
*) echo "FAIL pytest9/version: $v"; exit 1 ;;
esac
status=0
for s in parity isolated isolated-clean runtime gen; do
	TACH_PYTHON=$venv/bin/python sh "$top/tests/$s.sh" >"$tmp/out" 2>&1 || status=1
	sed -n 's#^\(PASS\|FAIL\|SKIP\) #\1 pytest9/#p' "$tmp/out"
done
exit $status

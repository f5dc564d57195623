#!/bin/sh
# tests/layout.sh - the folders' dependency order (README "Layout") holds.
#
# Stages, in order: lib/ (helpers that know nothing of tach), gen/analyze/
# (the analyzer), cache/ (the report cache), gen/ (the generator and the
# command line), runtime/ (tach-run, tach-hv, tach-isolated, tach-results).
# include/tach/ holds the contracts between parts and may be used by any
# stage but lib/. A file may include headers of its own stage or an
# earlier one, never of a later one; a binary links objects of its stages
# only; a .c file above 900 lines says why in its opening comment.

top=$(cd "$(dirname "$0")/.." && pwd)
suite=layout
. "$top/tests/lib.sh"
cd "$top" || exit 1

# stage_of PATH: the stage number of a file or a header named from the top
stage_of() {
	case $1 in
	lib/*) echo 1 ;;
	gen/analyze/*) echo 2 ;;
	cache/*) echo 3 ;;
	gen/*) echo 4 ;;
	runtime/*) echo 5 ;;
	tach/*|include/tach/*) echo 0 ;;
	*) echo 9 ;;
	esac
}

bad=
for f in $(git ls-files 'lib/*.[ch]' 'gen/*.[ch]' 'cache/*.[ch]' 'runtime/*.[ch]' 'include/tach/*.h' 2>/dev/null ||
    find lib gen cache runtime include -name '*.[ch]'); do
	own=$(stage_of "$f")
	for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
		[ "$inc" = analyzer_version.h ] && continue	# generated beside the build
		st=$(stage_of "$inc")
		if [ "$st" = 9 ]; then
			bad="$bad
  $f includes \"$inc\": headers are named from the top (lib/, gen/, cache/, runtime/, tach/)"
		elif [ "$own" = 1 ] && [ "$st" = 0 ]; then
			bad="$bad
  $f includes \"$inc\": lib/ knows nothing of tach"
		elif [ "$own" = 0 ] && [ "$st" != 0 ] && [ "$st" != 1 ]; then
			bad="$bad
  $f includes \"$inc\": a contract depends on no stage but lib/"
		elif [ "$own" != 0 ] && [ "$st" -gt "$own" ]; then
			bad="$bad
  $f includes \"$inc\", of a later stage"
		fi
	done
done
if [ -z "$bad" ]; then
	pass includes
else
	fail includes "$bad"
fi

# link lines of build.ninja.in: a binary's objects come from its stages
bad=
check_link() {
	# check_link BINARY MAXSTAGE
	objs=$(awk -v b="build build/$1: link" '
		index($0, b) == 1 { on = 1 }
		on { print; if ($0 !~ /\$$/) exit }' build.ninja.in | tr ' ' '\n' | grep -E '^build/.*\.(o|a)$')
	[ -n "$objs" ] || { bad="$bad
  build/$1: no link edge in build.ninja.in"; return; }
	for o in $objs; do
		src=${o#build/}
		case $src in
		grammars/*) continue ;;
		libtachlib.a) src=lib/ ;;
		libtachgen.a) src=gen/ ;;
		esac
		st=$(stage_of "$src")
		if [ "$st" -gt "$2" ]; then
			bad="$bad
  build/$1 links $o, of a later stage"
		fi
	done
}
check_link tach 4
for b in tach-run tach-hv tach-isolated tach-results; do
	check_link "$b" 5
done
# libtachgen.a holds the stages up to gen/
lib=$(awk '/^build build\/libtachgen.a: ar/ { on = 1 } on { print; if ($0 !~ /\$$/) exit }' build.ninja.in |
	tr ' ' '\n' | grep '^build/runtime/')
[ -n "$lib" ] && bad="$bad
  build/libtachgen.a holds runtime objects: $lib"
if [ -z "$bad" ]; then
	pass links
else
	fail links "$bad"
fi

# a long file gives its reason at the top
bad=
for f in $(find lib gen cache runtime -name '*.c'); do
	n=$(wc -l <"$f")
	[ "$n" -le 900 ] && continue
	# the opening comment: up to the first line that ends it
	if ! sed -n '1,/\*\//p' "$f" | grep -q 'lines:'; then
		bad="$bad
  $f has $n lines and no 'N lines: why' in its opening comment"
	fi
done
if [ -z "$bad" ]; then
	pass length
else
	fail length "$bad"
fi

exit $status

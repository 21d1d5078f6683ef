#!/usr/bin/env bash
# The house's rooms and their one rule, in TAP (docs/hacking.md describes them):
#   profiles/ and qmp/ are pure: they include profiles/, qmp/ and util/ only, never supervisor/;
#   util/ includes util/ only;
#   in supervisor/, host <- launch <- vm <- cli: a room includes its own headers and those of the rooms below it;
#   doctor/ includes host/ only (and cli/ includes doctor/); supervisor/log.h is for every room.
# Each file is one test, so that an upward include names the file, the line and the rule it breaks.
# With a directory argument, checks that tree instead of this one (the test of the test uses it).
set -u
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "${1:-$(dirname "$0")/../..}" || exit 2
declare -A rank=([host]=0 [launch]=1 [vm]=2 [cli]=3)
n=0 failed=0

# allowed FILE-ROOM HEADER: whether a file of that room may include that project header.
allowed() {
	local room=$1 h=$2 target
	case $room in
	profiles | qmp) [[ $h == profiles/* || $h == qmp/* || $h == util/* ]] ;;
	util) [[ $h == util/* ]] ;;
	*)
		case $h in
		util/* | profiles/* | qmp/* | supervisor/log.h) return 0 ;;
		supervisor/*/*) target=${h#supervisor/}; target=${target%%/*} ;;
		*) return 1 ;;
		esac
		[ "$target" = "$room" ] && return 0
		if [ "$room" = doctor ]; then
			[ "$target" = host ]
		elif [ "$target" = doctor ]; then
			[ "$room" = cli ]
		else
			[ -n "${rank[$room]:-}" ] && [ -n "${rank[$target]:-}" ] && [ "${rank[$target]}" -lt "${rank[$room]}" ]
		fi
		;;
	esac
}

files=$(find profiles qmp util supervisor -name '*.[ch]' 2>/dev/null | sort)
selftest=${LAYOUT_SELFTEST:-}
echo "1..$(( $(printf '%s\n' "$files" | grep -c .) + (selftest ? 0 : 2) ))"
for f in $files; do
	n=$((n + 1))
	case $f in
	supervisor/*/*) room=${f#supervisor/}; room=${room%%/*} ;;
	supervisor/*) room=base ;;
	*) room=${f%%/*} ;;
	esac
	bad=$(grep -n '^#include "' "$f" | while IFS= read -r line; do
		h=${line#*\"}; h=${h%\"*}
		if [ "$room" = base ]; then
			[[ $h == util/* || $h == supervisor/log.h ]] || echo "$line"
		elif ! allowed "$room" "$h"; then
			echo "$line"
		fi
	done)
	if [ -z "$bad" ]; then
		echo "ok $n - $f ($room) includes only what its room may"
	else
		echo "not ok $n - $f ($room) includes from a room above it"
		printf '%s\n' "$bad" | sed "s|^|#   $f:|"
		failed=$((failed + 1))
	fi
done
# The rule can fail: a tree where host/ includes a header of vm/, and profiles/ one of supervisor/, must be refused.
if [ -z "$selftest" ]; then
	n=$((n + 1))
	tmp=$(mktemp -d)
	mkdir -p "$tmp/supervisor/host" "$tmp/supervisor/vm" "$tmp/profiles"
	printf '#include "supervisor/vm/loop.h"\n' >"$tmp/supervisor/host/up.c"
	printf '#include "supervisor/host/mdev.h"\n' >"$tmp/profiles/impure.c"
	out=$(LAYOUT_SELFTEST=1 "$self" "$tmp")
	rm -rf "$tmp"
	if [ "$(printf '%s\n' "$out" | grep -c '^not ok')" = 2 ]; then
		echo "ok $n - an upward include (host/ including vm/, profiles/ including supervisor/) fails this check"
	else
		echo "not ok $n - the check let an upward include through"
		printf '%s\n' "$out" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
fi
# The house style's layout is the committed .clang-format's: a file it would change fails, naming the first lines.
if [ -z "$selftest" ]; then
	n=$((n + 1))
	if ! command -v clang-format >/dev/null; then
		echo "not ok $n - clang-format is not installed (scripts/deps.sh test)"
		failed=$((failed + 1))
	elif out=$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror 2>&1) && [ -z "$out" ]; then
		echo "ok $n - every C file is as .clang-format lays it out (make format)"
	else
		echo "not ok $n - files .clang-format would change; run make format"
		printf '%s\n' "$out" | grep -E '^[^ ].*: error' | head -n 20 | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
fi
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Golden tests, as libvirt's qemuxml2argv: a profile in, the exact output out.
#   argv/NAME.json   → argv/NAME.args  (stdout of `vgpuvm argv NAME.json`, exit 0)
#   stock/NAME.args  ← `vgpuvm argv NAME` for each stock profile
#   bad/NAME.json    → bad/NAME.err    (first line "exit N", then stderr)
#   host/NAME.cmd    → host/NAME.out   (`vgpuvm doctor` and `types` on a fake host tree: see host/lib.bash)
# NAME.cmd, if present, replaces the default command: the arguments after `vgpuvm`, one per line.
# With --update, the expected files are written from what vgpuvm prints now (review the diff before committing).
set -u
cd "$(dirname "$0")"
VGPUVM=${VGPUVM:-$PWD/../../build/vgpuvm}
update=false
[ "${1:-}" = --update ] && update=true
# A clean, fixed environment: no user profiles, no journal, the real sysfs paths.
unset VGPUVM_PROFILE_PATH XDG_CONFIG_HOME VGPUVM_SYSFS_ROOT JOURNAL_STREAM VGPUVM_LOG_LEVEL
export HOME=/nonexistent
# UEFI profiles find their firmware among these descriptors (Debian's ovmf's own), not the host's.
export VGPUVM_FIRMWARE_DIR=$PWD/firmware
n=0
# shellcheck source=tests/golden/host/lib.bash
. host/lib.bash
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cases=()
for f in argv/*.json; do cases+=("argv ${f%.json}"); done
for f in ../../profiles/stock/*.json; do b=$(basename "$f" .json); cases+=("stock stock/$b"); done
for f in bad/*.json bad/*.cmd; do [ -e "$f" ] && cases+=("bad ${f%.*}"); done
for f in host/*.cmd; do [ -e "$f" ] && cases+=("host ${f%.cmd}"); done
# A bad case may have both a .json and a .cmd; count it once.
mapfile -t cases < <(printf '%s\n' "${cases[@]}" | awk '!seen[$0]++')
echo "1..${#cases[@]}"

for c in "${cases[@]}"; do
	kind=${c%% *} base=${c#* }
	n=$((n + 1))
	dir=$(dirname "$base") name=$(basename "$base")
	if [ "$kind" = host ]; then
		host_run "$base" "$VGPUVM" >"$out/got"
		expect=$base.out
		$update && cp "$out/got" "$expect"
		if [ -f "$expect" ] && diff -u "$expect" "$out/got" >"$out/diff"; then
			echo "ok $n - $kind $name"
		else
			echo "not ok $n - $kind $name"
			[ -f "$expect" ] || echo "# missing $expect"
			sed 's/^/# /' "$out/diff" 2>/dev/null | head -n 30
		fi
		continue
	fi
	if [ -f "$base.cmd" ]; then
		mapfile -t args < "$base.cmd"
	elif [ "$kind" = stock ]; then
		args=(argv "$name")
	else
		args=(argv "$name.json")
	fi
	(cd "$dir" && "$VGPUVM" "${args[@]}") >"$out/stdout" 2>"$out/stderr"
	rc=$?
	if [ "$kind" = bad ]; then
		{ echo "exit $rc"; cat "$out/stderr"; } > "$out/got"
		expect=$base.err
	else
		{ cat "$out/stdout"; [ $rc -eq 0 ] || echo "exit $rc: $(cat "$out/stderr")"; } > "$out/got"
		expect=$base.args
	fi
	if $update; then
		cp "$out/got" "$expect"
	fi
	if [ -f "$expect" ] && diff -u "$expect" "$out/got" > "$out/diff"; then
		echo "ok $n - $kind $name"
	else
		echo "not ok $n - $kind $name"
		[ -f "$expect" ] || echo "# missing $expect"
		sed 's/^/# /' "$out/diff" 2>/dev/null | head -n 30
	fi
done

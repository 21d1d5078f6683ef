#!/usr/bin/env bash
# The end-to-end layer: vgpuvm on the real kernel mdev path. Each scenario (tests/e2e/scenarios/NAME.sh) boots its own
# TCG guest (tests/e2e/boot.sh) with the kernel's sample mdev drivers, and runs the work tree's vgpuvm in it as root.
# Prints TAP, one test per scenario, with its wall time in the name; a failing one is followed by the guest's console
# as "# " lines. Nothing is skipped: when something is missing and setup.sh cannot install it, every test fails.
#
#   tests/e2e/run.sh [NAME...]     all scenarios, or only those named (e.g. mdpy-none faults)
#
# Consoles: build/e2e/logs/NAME.log. Exit status 0 only when every scenario passed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${VGPUVM_E2E_DIR:-$top/build/e2e}
export VGPUVM=${VGPUVM:-$top/build/vgpuvm}

names=()
if [ $# -gt 0 ]; then
	for n; do
		n=${n%.sh}
		n=${n##*/}
		[ -f "$here/scenarios/$n.sh" ] || {
			echo "$0: no scenario $n; there are: $(cd "$here/scenarios" && ls -- *.sh | sed 's/\.sh$//' | tr '\n' ' ')" >&2
			exit 64
		}
		names+=("$n")
	done
else
	for f in "$here"/scenarios/*.sh; do
		names+=("$(basename "$f" .sh)")
	done
fi
echo "1..${#names[@]}"

# Microseconds since the epoch, and a duration in seconds with one decimal.
now() { echo "${EPOCHREALTIME/./}"; }
secs() { printf '%d.%d' $(($1 / 1000000)) $(($1 % 1000000 / 100000)); }

# Setup failing (a package that cannot be installed, a module that does not build) fails every scenario, loudly.
t0=$(now)
problem=
if ! setup_out=$("$here/setup.sh" 2>&1); then
	problem="tests/e2e/setup.sh failed"
elif [ ! -x "$VGPUVM" ]; then
	problem="no vgpuvm binary at $VGPUVM (run make first)"
fi
if [ -n "$problem" ]; then
	n=0
	for name in "${names[@]}"; do
		n=$((n + 1))
		echo "not ok $n - $name # $problem"
	done
	[ -z "$setup_out" ] || printf '%s\n' "$setup_out" | sed 's/^/# /'
	exit 1
fi
echo "# setup: $(secs $(($(now) - t0))) s${setup_out:+; }$(printf '%s' "$setup_out" | tr '\n' ' ')"

mkdir -p "$out/logs"
n=0 failed=0 total_t0=$(now)
for name in "${names[@]}"; do
	n=$((n + 1))
	log=$out/logs/$name.log
	t0=$(now)
	"$here/boot.sh" -t "${VGPUVM_E2E_TIMEOUT:-300}" "$here/scenarios/$name.sh" "$log" 2>"$log.stderr"
	rc=$?
	dt=$(secs $(($(now) - t0)))
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - $name (${dt} s)"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name (${dt} s, exit $rc)"
		cat "$log.stderr" "$log" 2>/dev/null | sed 's/^/# /'
	fi
done
echo "# e2e: ${#names[@]} scenarios in $(secs $(($(now) - total_t0))) s, $failed failed"
[ "$failed" -eq 0 ]

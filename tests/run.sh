#!/usr/bin/env bash
# Runs the test layers (all of them, or those named: layout unit golden property docs schema system package fleet e2e), each speaking TAP,
# and ends with one line "N passed, N failed" that totals every layer (skips, in neither count, on the line before). Exit status: 0 only if nothing failed.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export VGPUVM=${VGPUVM:-$PWD/$BUILD/vgpuvm}
layers=("$@")
[ ${#layers[@]} -gt 0 ] || layers=(layout unit golden property docs schema system package fleet e2e)
pass=0 fail=0 skip=0 broken=0
logdir=$BUILD/test-logs
mkdir -p "$logdir"

# Reads TAP on stdin, echoes it, and counts. A layer whose plan does not match what ran counts as a failure, so a
# crashed runner cannot pass silently.
count() {
	local layer=$1 planned=-1 seen=0 line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in
		1..*) planned=${line#1..}; planned=${planned%% *} ;;
		"ok "* | "not ok "*)
			seen=$((seen + 1))
			if [[ $line =~ \#\ *[Ss][Kk][Ii][Pp] ]]; then skip=$((skip + 1))
			elif [[ $line == ok* ]]; then pass=$((pass + 1))
			else fail=$((fail + 1)); fi ;;
		esac
	done
	if [ "$planned" -ge 0 ] && [ "$seen" -ne "$planned" ]; then
		echo "not ok - $layer: planned $planned tests, saw $seen (the runner died?)"
		fail=$((fail + 1))
	elif [ "$planned" -lt 0 ] && [ "$seen" -eq 0 ]; then
		echo "not ok - $layer: no test ran"
		fail=$((fail + 1))
	fi
}

run_layer() {
	local layer=$1; shift
	echo "# --- $layer"
	# The runner's own exit status is checked too: a non-zero exit with no failing test line is a failure.
	local before=$fail
	{ "$@"; echo "# exit $?"; } 2>"$logdir/$layer.stderr" > "$logdir/$layer.tap"
	count "$layer" < "$logdir/$layer.tap"
	local rc
	rc=$(sed -n 's/^# exit //p' "$logdir/$layer.tap" | tail -n1)
	if [ "${rc:-1}" != 0 ] && [ "$fail" -eq "$before" ]; then
		echo "not ok - $layer: runner exited $rc; stderr:"; sed 's/^/#   /' "$logdir/$layer.stderr" | tail -n 20
		fail=$((fail + 1))
	fi
}

unit() {
	local n=0 t out rc planned seen failed
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		n=$((n + 1))
		echo "# $(basename "$t")"
		out=$(CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>&1); rc=$?
		# One TAP stream for the layer: drop each binary's plan, but check it, so a binary that dies half-way fails.
		planned=$(printf '%s\n' "$out" | sed -n 's/^1\.\.\([0-9]*\).*/\1/p' | head -n1)
		seen=$(printf '%s\n' "$out" | grep -cE '^(not )?ok ')
		failed=$(printf '%s\n' "$out" | grep -E '^not ok ' | grep -cvi '# skip')
		printf '%s\n' "$out" | grep -v '^1\.\.'
		if [ -z "$planned" ] || [ "$planned" != "$seen" ]; then
			echo "not ok - $(basename "$t"): planned ${planned:-nothing}, ran $seen (exit $rc)"
		elif [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
			echo "not ok - $(basename "$t") exited $rc with no failing test"
		fi
	done
	[ "$n" -gt 0 ] || { echo "not ok - no unit test binaries in $BUILD/tests"; return 1; }
	return 0
}

for l in "${layers[@]}"; do
	case $l in
	unit) run_layer unit unit ;;
	golden) run_layer golden tests/golden/run.sh ;;
	property) run_layer property tests/property/run.sh ;;
	docs) run_layer docs tests/docs/run.sh ;;
	schema) run_layer schema tests/schema/run.py "$BUILD" ;;
	layout) run_layer layout tests/layout/run.sh ;;
	system) run_layer system bats --tap tests/system ;;
	package) run_layer package tests/package/run.sh "$BUILD" ;;
	fleet) run_layer fleet tests/package/fleet.sh "$BUILD" ;;
	e2e) [ -x tests/e2e/run.sh ] && run_layer e2e tests/e2e/run.sh ;;
	*) echo "unknown layer $l" >&2; exit 2 ;;
	esac
done

# The skips are said on a line of their own (each with its reason in the layer's output, "# skip"), so that the last
# line keeps CI's form.
[ "$skip" -gt 0 ] && echo "# $skip skipped (in neither count): look for \"# skip\" above for why"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

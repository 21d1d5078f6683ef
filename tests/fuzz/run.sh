#!/usr/bin/env bash
# Runs each libFuzzer target (all, or those named) for FUZZ_SECONDS on one core, one after another, and prints per
# target the executions, the coverage (libFuzzer's edge count "cov" and feature count "ft") and the crashes. New
# inputs go to $BUILD/corpus/TARGET, crashes, leaks and timeouts to $BUILD/crashes/; tests/fuzz/corpus/TARGET is
# read as seeds and never written. Exit status 1 if any target found anything. Built by `make fuzz`.
#   FUZZ_SECONDS  per target (default 60)    FUZZ_ARGS  more libFuzzer options, e.g. -runs=10000000
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do t=${f#tests/fuzz/fuzz_}; targets+=("${t%.c}"); done
fi
mkdir -p "$BUILD/crashes" "$BUILD/fuzz-logs"
total_crashes=0
for t in "${targets[@]}"; do
	bin=$BUILD/fuzz/fuzz-$t
	[ -x "$bin" ] || { echo "fuzz $t: $bin is not built (make fuzz builds it)" >&2; exit 2; }
	mkdir -p "$BUILD/corpus/$t"
	log=$BUILD/fuzz-logs/$t.log
	before=$(find "$BUILD/crashes" -name "$t-*" | wc -l)
	# -jobs is not used: one process on one core, as this machine is shared. -timeout: an input that takes 10 s is
	# a hang. A crash stops the run; its input is in $BUILD/crashes.
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 -dict=tests/fuzz/json.dict \
		-artifact_prefix="$BUILD/crashes/$t-" ${FUZZ_ARGS:-} "$BUILD/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	after=$(find "$BUILD/crashes" -name "$t-*" | wc -l)
	crashes=$((after - before))
	[ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -n1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
	rate=""
	[ -n "$secs" ] && [ "${secs:-0}" -gt 0 ] && rate=" ($((${execs:-0} / secs))/s)"
	echo "fuzz $t: ${execs:-?} executions in ${secs:-?} s$rate, coverage ${cov:-?} edges (${ft:-?} features), corpus ${corp:-?}, $crashes crashes"
	if [ "$crashes" -gt 0 ]; then
		grep -E 'ERROR|SUMMARY|fuzz_assert|runtime error' "$log" | head -n 5 | sed 's/^/    /'
		echo "    log: $log; inputs: $BUILD/crashes/$t-*"
	fi
	total_crashes=$((total_crashes + crashes))
done
echo "fuzz: ${#targets[@]} targets, $total_crashes crashes"
[ "$total_crashes" -eq 0 ]

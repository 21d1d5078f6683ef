#!/usr/bin/env bats
# The restart policy: "restart": "no" | "on-failure" | "always", "restart_delay" doubling up to 60 s, a budget of 5
# failures in 10 minutes, and stops that are never undone by a restart. The fake QEMU's crash mode exits 3 right
# after its first query-status answer, so each try fails at once; a real QEMU and the tiny guest for the rest.

load lib/vm
load lib/fakesys
load lib/control
load lib/operate
load lib/assert
load lib/spawner

setup() {
	vm_setup
	operate_setup
	S=$T/sys
}

teardown() {
	# Every try after the first runs under the supervisor's filter: nothing a restart does may be refused.
	local refused
	refused=$(grep "seccomp filter refused" "$T/log" 2>/dev/null || true)
	operate_teardown
	fakesys_stop "$S"
	vm_teardown
	[ -z "$refused" ] || { echo "$refused"; return 1; }
}

plain_profile() {
	local name=$1 more=${2:-}
	profile "$name" "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, \"shutdown\": {\"powerdown_timeout\": 1, \"quit_timeout\": 5}${more:+, $more}"
}

# "DELAY TRY" for each "restarting in S s (try N)" line of the log, the delay as a plain number (1.000 -> 1).
restarts() {
	sed -nE 's/.*restarting in ([0-9.]+) s \(try ([0-9]+)\).*/\1 \2/p' "$T/log" | awk '{ printf "%g %d\n", $1, $2 }'
}

# The delays alone, space-separated.
delays() {
	restarts | awk '{ printf "%s ", $1 } END { print "" }'
}

# The tries count up by one from the first restart's, which is 1 (the first restart) or 2 (the second start): either
# way of counting will do, as long as it is kept.
tries_consecutive() {
	restarts | awk 'NR == 1 { first = $2; if (first != 1 && first != 2) exit 1 } $2 != first + NR - 1 { exit 1 }'
}

starts() {
	grep -c 'started QEMU' "$T/log"
}

# wait_log_count PATTERN N [SECS]: until N lines of the log match.
wait_log_count() {
	local pattern=$1 n=$2 secs=${3:-60}
	local seen
	# -c and not >/dev/null: with its output on /dev/null, GNU grep does not stop at the N-th match, and tail -f
	# then waits for the timeout.
	seen=$(timeout "$secs" tail -n +1 --pid="$VM_PID" -f "$T/log" 2>/dev/null | grep -E -m "$n" -c -- "$pattern")
	[ "${seen:-0}" -ge "$n" ] && return 0
	[ "$(grep -cE -- "$pattern" "$T/log")" -ge "$n" ] && return 0
	echo "--- fewer than $n lines matching '$pattern' within ${secs}s; log:"; cat "$T/log"
	return 1
}

@test "on-failure: a QEMU that keeps failing is restarted after 1, 2, 4, 8 s; then vgpuvm gives up with its exit code" {
	fake_profile crash crash '"restart": "on-failure", "restart_delay": 1'
	t0=$(date +%s%N)
	start_vm crash
	wait_vm 120
	ms=$(elapsed_ms "$t0")
	echo "exit $VM_STATUS after $ms ms"; restarts
	[ "$VM_STATUS" -eq 3 ]
	grep -q 'giving up' "$T/log"
	# Five failures use up the budget: four restarts between them (a fifth, if the fifth failure still has one).
	r=$(restarts)
	n=$(wc -l <<<"$r")
	[ "$n" -eq 4 ] || [ "$n" -eq 5 ]
	[ "$(delays)" = "1 2 4 8 " ] || [ "$(delays)" = "1 2 4 8 16 " ]
	tries_consecutive
	[ "$(starts)" -eq $((n + 1)) ]
	# The delays are real: the run took at least their sum, and not much more.
	sum=$(awk '{ s += $1 } END { print s }' <<<"$r")
	[ "$ms" -ge $((sum * 1000 - 200)) ]
	[ "$ms" -lt $((sum * 1000 + 15000)) ]
	# "giving up" comes after the last failure, and nothing is started after it.
	[ "$(grep -nE 'giving up|started QEMU' "$T/log" | tail -n1 | grep -c 'giving up')" -eq 1 ]
	assert_clean crash
}

@test "on-failure: the delays double from restart_delay; a signal during a delay ends the run at once with 0" {
	fake_profile crash crash '"restart": "on-failure", "restart_delay": 2'
	start_vm crash
	wait_log 'restarting in 4(\.0+)? s \(try [0-9]+\)' 30
	t0=$(date +%s%N)
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ "$(elapsed_ms "$t0")" -lt 2000 ]
	[ "$(delays)" = "2 4 " ]
	tries_consecutive
	[ "$(starts)" -eq 2 ]
	refute grep -q 'giving up' "$T/log"
	assert_clean crash
}

@test "no restart by default nor with \"no\": the failure's exit code at once" {
	fake_profile crash crash
	start_vm crash
	wait_vm 30
	[ "$VM_STATUS" -eq 3 ]
	[ "$(starts)" -eq 1 ]
	refute grep -q 'restarting' "$T/log"
	fake_profile crashno crash '"restart": "no", "restart_delay": 1'
	start_vm crashno
	wait_vm 30
	[ "$VM_STATUS" -eq 3 ]
	[ "$(starts)" -eq 1 ]
	refute grep -q 'restarting' "$T/log"
	assert_clean crash
	assert_clean crashno
}

@test "vgpuvm stop during a restart delay ends the run at once: exit 0 from stop and from run" {
	fake_profile crash crash '"restart": "on-failure", "restart_delay": 30'
	start_vm crash
	wait_log 'restarting in 30(\.0+)? s \(try [0-9]+\)' 30
	t0=$(date +%s%N)
	run timeout 20 "$VGPUVM" stop "$(vm_name crash)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} == *"exit 0"* ]]
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
	[ "$(elapsed_ms "$t0")" -lt 5000 ]
	[ "$(starts)" -eq 1 ]
	assert_clean crash
}

@test "on-failure: QEMU killed from outside is started again; status shows the new QEMU and counts the restart" {
	plain_profile plain '"restart": "on-failure", "restart_delay": 1'
	start_vm plain
	wait_log 'is running'
	q1=$(qemu_pid)
	kill -KILL "$q1"
	wait_log 'restarting in 1(\.0+)? s \(try [0-9]+\)' 30
	wait_log_count 'is running' 2 30
	q2=$(sed -n 's/.*started QEMU (pid \([0-9]*\)).*/\1/p' "$T/log" | sed -n 2p)
	[ -n "$q2" ]
	[ "$q2" != "$q1" ]
	run "$VGPUVM" status "$(vm_name plain)" --json
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e --argjson q "$q2" --argjson s "$VM_PID" '.state == "running" and .qemu_pid == $q and .supervisor_pid == $s
		and .restarts == 1' <<<"$output"
	run timeout 30 "$VGPUVM" stop "$(vm_name plain)" --force
	[ "$status" -eq 0 ]
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
	[ "$(starts)" -eq 2 ]
	assert_clean plain
}

@test "on-failure: no restart after a stop that had to kill QEMU, nor after the guest powered off by itself" {
	profile stubborn "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"qemu\": \"$HELPERS/fake-qemu\", \"env\": {\"FAKE_QEMU_MODE\": \"stubborn\"}, \"shutdown\": {\"powerdown_timeout\": 1, \"quit_timeout\": 1, \"kill_timeout\": 1}, \"restart\": \"on-failure\", \"restart_delay\": 1"
	start_vm stubborn
	wait_log 'is running'
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'killed by SIGKILL' "$T/log"
	refute grep -q 'restarting' "$T/log"
	[ "$(starts)" -eq 1 ]

	load lib/guest
	guest_profile selfoff selfoff '"restart": "on-failure", "restart_delay": 1'
	start_vm selfoff
	wait_vm 60
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'event SHUTDOWN: guest=true' "$T/log"
	refute grep -q 'restarting' "$T/log"
	[ "$(starts)" -eq 1 ]
	assert_clean stubborn
	assert_clean selfoff
}

@test "always: a guest that powers off by itself is started again; a stop in the delay ends it with 0" {
	load lib/guest
	guest_profile selfoff selfoff '"restart": "always", "restart_delay": 2'
	start_vm selfoff
	wait_log 'restarting in 2(\.0+)? s \(try [0-9]+\)' 60
	wait_log_count 'VGPUVM-GUEST-POWEROFF' 2 60
	wait_log_count 'restarting in [0-9.]+ s \(try [0-9]+\)' 2 30
	kill -TERM "$VM_PID"
	wait_vm 30
	grep -E 'restarting|started QEMU|POWEROFF|SHUTDOWN|giving up|shutdown:|exited' "$T/log"
	[ "$VM_STATUS" -eq 0 ]
	[ "$(starts)" -eq 2 ]
	refute grep -q 'giving up' "$T/log"
	assert_clean selfoff
}

@test "restarts with a vGPU: the mdev vgpuvm made is removed and made again between tries; an adopted one stays" {
	fakesys_make "$S"
	fakesys_start "$S"
	export VGPUVM_SYSFS_ROOT=$S
	fake_profile gvt crash '"restart": "on-failure", "restart_delay": 1, "vgpu": {"parent": "mdpy", "type": "mdpy-vga", "memlock": false}'
	u=$("$VGPUVM" argv "$T/gvt.json" | sed -n 's|.*/bus/mdev/devices/\([0-9a-f-]*\),.*|\1|p')
	start_vm gvt
	wait_log 'restarting in 2(\.0+)? s \(try [0-9]+\)' 30
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	seq=$(grep -oE "created mdev $u|removed mdev $u|started QEMU" "$T/log" | awk '{ print $1 }' | tr '\n' ' ')
	echo "$seq"
	[ "$seq" = "created started removed created started removed " ]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt

	fake_profile adopt crash '"restart": "on-failure", "restart_delay": 1, "vgpu": {"type": "i915-GVTg_V5_4", "memlock": false}'
	u=$("$VGPUVM" argv "$T/adopt.json" | sed -n 's|.*/bus/mdev/devices/\([0-9a-f-]*\),.*|\1|p')
	fakesys_precreate "$S" 0000:00:02.0 i915-GVTg_V5_4 "$u"
	start_vm adopt
	wait_log 'restarting in 2(\.0+)? s \(try [0-9]+\)' 30
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ "$(starts)" -eq 2 ]
	refute grep -qE 'created mdev|removed mdev' "$T/log"
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	assert_clean adopt
}

# status_of PID FIELD: a field of /proc/PID/status, tabs squeezed to spaces.
status_of() {
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"
}

@test "restarts keep the supervisor filtered: Seccomp 2 through each try, QEMU its child, the spawner confined; SIGKILL leaves nothing" {
	for policy in on-failure always; do
		plain_profile "f$policy" "\"restart\": \"$policy\", \"restart_delay\": 1"
		start_vm "f$policy"
		wait_log 'is running'
		q1=$(qemu_pid)
		sp=$(spawner_of "$VM_PID")
		check_spawner "$sp"
		pair=$(spawner_pair "$sp")
		[ -n "$pair" ]
		echo "policy $policy: supervisor $VM_PID, spawner $sp (sockets $pair), QEMU $q1"
		[ "$(status_of "$q1" PPid)" = "$VM_PID" ]
		[ "$(status_of "$VM_PID" Seccomp)" = 2 ]
		refute_holds "$q1" $pair
		kill -KILL "$q1"
		wait_log_count 'is running' 2 30
		q2=$(sed -n 's/.*started QEMU (pid \([0-9]*\)).*/\1/p' "$T/log" | sed -n 2p)
		[ -n "$q2" ]
		[ "$q2" != "$q1" ]
		# The second QEMU was started by the filtered supervisor, through the same spawner.
		[ "$(status_of "$VM_PID" Seccomp)" = 2 ]
		[ "$(status_of "$q2" PPid)" = "$VM_PID" ]
		[ "$(status_of "$q2" NoNewPrivs)" = 1 ]
		[ "$(status_of "$q2" CapEff)" = 0000000000000000 ]
		[ "$(spawner_of "$VM_PID")" = "$sp" ]
		refute_holds "$q2" $pair
		if grep "seccomp filter refused" "$T/log"; then false; fi
		# The parent-death signals: no spawner and no QEMU outlive a supervisor killed outright.
		kill -KILL "$VM_PID"
		wait_vm 10 || true
		pid_gone "$sp" 10
		pid_gone "$q2" 20
		run "$VGPUVM" cleanup "$(vm_name "f$policy")"
		echo "$output"
		[ "$status" -eq 0 ]
		assert_clean "f$policy"
	done
}

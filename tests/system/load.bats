#!/usr/bin/env bats
# The control socket under load: 100 clients at once, for 6 s, connecting and sending garbage, stalling half-way
# through a line, flooding commands they never read the answers of, hanging up at once, and sending lines over the
# limit (tests/system/lib/ctl_load.py), while `vgpuvm stop` runs. The stop must end within its deadlines, the
# supervisor's memory stay bounded, and a well-behaved client asking for the status meanwhile must be answered, each
# time, without waiting for the crowd.

load lib/vm
load lib/operate
load lib/control
load lib/assert

setup() {
	vm_setup
	operate_setup
}

teardown() {
	operate_teardown
	vm_teardown
}

kib() {
	sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$VM_PID/status"
}

@test "100 misbehaving clients while a stop runs: the stop keeps its deadlines, memory stays bounded, no client waits" {
	# Nothing answers the power button, so the stop waits powerdown_timeout (8 s) and then quits: the crowd is there
	# for the whole of the powerdown step and the beginning of... nothing else, as the quit must be quick.
	profile load '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "shutdown": {"powerdown_timeout": 8, "quit_timeout": 5}'
	start_vm load
	wait_log 'is running'
	base=$(kib VmRSS)
	"$CTL_PYTHON" "$BATS_TEST_DIRNAME/lib/ctl_load.py" "$(ctl_socket load)" 100 6 "$VGPUVM" "$(vm_name load)" \
		>"$T/load.out" 2>&1 &
	load=$!
	CLIENT_PIDS+=("$load")
	sleep 1
	start=$(date +%s%N)
	"$VGPUVM" stop "$(vm_name load)" >"$T/stop.out" 2>&1 &
	stop=$!
	wait "$load"
	# The crowd is gone and the VM still powers down: the peak is what the crowd made of it.
	hwm=$(kib VmHWM)
	rss=$(kib VmRSS)
	stop_status=0
	wait "$stop" || stop_status=$?
	took=$(elapsed_ms "$start")
	wait_vm 30
	cat "$T/load.out" "$T/stop.out"
	echo "# supervisor RSS: $base kB before, peak $hwm kB, $rss kB after the crowd; stop took $took ms" >&3
	sed -n 's/^probe: /# probe: /p' "$T/load.out" >&3
	[ "$stop_status" -eq 0 ]
	[ "$VM_STATUS" -eq 0 ]
	# Within its deadlines: the 8 s of powerdown, then a quit that is not held up by the crowd (its own deadline is
	# 5 s more; QEMU quits in well under one).
	[ "$took" -ge 7500 ]
	[ "$took" -lt 10500 ]
	grep -q 'quit after 8' "$T/stop.out"
	refute grep -q 'term after' "$T/stop.out"
	# Bounded: at most 16 clients, each with a line of 64 KiB and 1 MiB of replies; in practice a few MiB.
	[ $((hwm - base)) -lt $((16 * 1088)) ]
	# The well-behaved client: answered every time, and never after a long wait.
	read -r answers failures max p99 < <(sed -n 's/^probe: \([0-9]*\) answers, \([0-9]*\) failures, max \([0-9-]*\) ms, p99 \([0-9-]*\) ms/\1 \2 \3 \4/p' "$T/load.out")
	[ "$answers" -ge 20 ]
	[ "$failures" -eq 0 ]
	[ "$max" -lt 2000 ]
	[ "$p99" -lt 1000 ]
	# The crowd did get through: it was served, turned away or made room for, and said so once, not once a client.
	grep -q '^churn done' "$T/load.out"
	[ "$(grep -c -e 'too many clients' -e 'did not read their replies' "$T/log")" -le 4 ]
}

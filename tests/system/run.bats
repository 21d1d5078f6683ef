#!/usr/bin/env bats
# `vgpuvm run` against a real qemu-system-x86_64 under TCG.

load lib/vm
load lib/assert

setup() {
	vm_setup
}

teardown() {
	vm_teardown
}

@test "run: a plain VM reaches running; SIGTERM ends it through the steps, exit 0, nothing left" {
	profile plain '"memory": "128M", "accel": "tcg", "serial": "none", "shutdown": {"powerdown_timeout": 1, "quit_timeout": 5}'
	start_vm plain
	wait_log 'is running, [0-9.]+ s after it was started'
	[ -d "$VGPUVM_RUNTIME_DIR/$(vm_name plain)" ]
	grep -q "^$VM_PID$" "$VGPUVM_RUNTIME_DIR/$(vm_name plain)/lock"
	t0=$(date +%s%N)
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	# No OS answers the power button: the quit step ends it, within powerdown + quit deadlines.
	grep -q 'pressing the power button' "$T/log"
	grep -q 'event POWERDOWN' "$T/log"
	grep -q 'the guest did not power off in time; asking QEMU to quit' "$T/log"
	grep -q 'event SHUTDOWN: guest=false reason=host-qmp-quit' "$T/log"
	[ "$(elapsed_ms "$t0")" -lt 6000 ]
	assert_clean plain
}

@test "run: a second SIGTERM skips the power button's wait" {
	profile plain '"memory": "128M", "accel": "tcg", "serial": "none", "shutdown": {"powerdown_timeout": 60}'
	start_vm plain
	wait_log 'is running'
	kill -TERM "$VM_PID"
	wait_log 'event POWERDOWN'
	t0=$(date +%s%N)
	kill -INT "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'got SIGINT again; asking QEMU to quit' "$T/log"
	[ "$(elapsed_ms "$t0")" -lt 5000 ]
	assert_clean plain
}

@test "run: a second run of the same VM is refused at once, naming the running supervisor" {
	profile plain '"memory": "128M", "accel": "tcg", "serial": "none", "shutdown": {"powerdown_timeout": 0}'
	start_vm plain
	wait_log 'is running'
	run "$VGPUVM" run "$T/plain.json"
	[ "$status" -eq 75 ]
	[[ $output == *"VM $(vm_name plain) is already running, supervised by vgpuvm pid $VM_PID"* ]]
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	assert_clean plain
}

@test "run: a missing QEMU binary is a clear error (69) and leaves nothing" {
	profile plain '"memory": "128M", "accel": "tcg", "qemu": "qemu-system-nonesuch"'
	run "$VGPUVM" run "$T/plain.json"
	[ "$status" -eq 69 ]
	[[ $output == *"qemu-system-nonesuch is not in PATH"* ]]
	profile plain2 '"memory": "128M", "accel": "tcg", "qemu": "/nonexistent/qemu"'
	run "$VGPUVM" run "$T/plain2.json"
	[ "$status" -eq 69 ]
	[[ $output == *"cannot execute /nonexistent/qemu: No such file or directory"* ]]
	profile plain3 "\"memory\": \"128M\", \"accel\": \"tcg\", \"qemu\": \"$T/plain.json\""
	run "$VGPUVM" run "$T/plain3.json"
	[ "$status" -eq 69 ]
	[[ $output == *"Permission denied"* ]]
	assert_clean plain
	assert_clean plain2
	assert_clean plain3
}

@test "run: QEMU rejecting its arguments: its message is relayed and its status returned" {
	profile bad '"memory": "128M", "accel": "tcg", "serial": "none", "extra_args": ["-no-such-option"]'
	run "$VGPUVM" run "$T/bad.json"
	[ "$status" -eq 1 ]
	[[ $output == *"qemu: qemu-system-x86_64: -no-such-option: invalid option"* ]]
	[[ $output == *"QEMU failed before it was running; its last words:"* ]]
	assert_clean bad
}

@test "run: QEMU killed from outside gives 137" {
	profile plain '"memory": "128M", "accel": "tcg", "serial": "none"'
	start_vm plain
	wait_log 'is running'
	kill -KILL "$(qemu_pid)"
	wait_vm 30
	[ "$VM_STATUS" -eq 137 ]
	grep -q 'killed by SIGKILL' "$T/log"
	assert_clean plain
}

@test "run: serial on stdio gives QEMU a pty of its own; its other output is relayed line by line" {
	profile plain '"memory": "128M", "accel": "tcg", "serial": "stdio", "shutdown": {"powerdown_timeout": 0}, "extra_args": ["-device", "nonesuch-device"]'
	run "$VGPUVM" run "$T/plain.json"
	[ "$status" -eq 1 ]
	[[ $output == *"vgpuvm: info: qemu: qemu-system-x86_64: -device nonesuch-device: 'nonesuch-device' is not a valid device model name"* ]]
}

@test "run: the environment from the profile reaches QEMU" {
	profile plain '"memory": "128M", "accel": "tcg", "serial": "none", "env": {"VGPUVM_TEST_MARK": "x y"}, "shutdown": {"powerdown_timeout": 0}'
	start_vm plain
	wait_log 'is running'
	tr '\0' '\n' < "/proc/$(qemu_pid)/environ" | grep -qx 'VGPUVM_TEST_MARK=x y'
	# And QEMU has exactly fds 0-3 from vgpuvm (plus its own), the QMP socket at 3.
	readlink "/proc/$(qemu_pid)/fd/3" | grep -q '^socket:'
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
}

@test "run: a guest that obeys the power button: SIGTERM powers it off cleanly, exit 0, no quit" {
	load lib/guest
	guest_profile button button '"shutdown": {"powerdown_timeout": 30}'
	start_vm button
	wait_log 'VGPUVM-GUEST-READY' 60
	kill -TERM "$VM_PID"
	wait_vm 60
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'pressing the power button' "$T/log"
	grep -q 'VGPUVM-GUEST-POWEROFF' "$T/log"
	grep -q 'event SHUTDOWN: guest=true reason=guest-shutdown (the guest powered off)' "$T/log"
	refute grep -q 'asking QEMU to quit' "$T/log"
	refute grep -q 'SIGKILL' "$T/log"
	assert_clean button
}

@test "run: a guest that powers off by itself ends the run with 0" {
	load lib/guest
	guest_profile selfoff selfoff
	start_vm selfoff
	wait_vm 60
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'event SHUTDOWN: guest=true reason=guest-shutdown' "$T/log"
	refute grep -q 'shutdown: got' "$T/log"
	assert_clean selfoff
}

@test "run: a guest that ignores the power button: the quit step ends it after the deadline" {
	load lib/guest
	guest_profile ignore ignore '"shutdown": {"powerdown_timeout": 2, "quit_timeout": 10}'
	start_vm ignore
	wait_log 'VGPUVM-GUEST-READY' 60
	t0=$(date +%s%N)
	kill -TERM "$VM_PID"
	wait_vm 60
	[ "$VM_STATUS" -eq 0 ]
	grep -qE 'the guest did not power off in time; asking QEMU to quit \(QMP quit\) after 2\.0[0-9]* s' "$T/log"
	ms=$(elapsed_ms "$t0")
	[ "$ms" -ge 2000 ]
	[ "$ms" -lt 8000 ]
	assert_clean ignore
}

@test "run: a QEMU that ignores quit and SIGTERM is killed after the deadlines (stop asked: exit 0)" {
	fake_profile stubborn stubborn '"shutdown": {"powerdown_timeout": 1, "quit_timeout": 1, "kill_timeout": 1}'
	start_vm stubborn
	wait_log 'is running'
	t0=$(date +%s%N)
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'pressing the power button' "$T/log"
	grep -q 'the guest did not power off in time; asking QEMU to quit' "$T/log"
	grep -q 'QEMU did not quit in time; sending SIGTERM' "$T/log"
	grep -q 'QEMU did not exit on SIGTERM in time; killing QEMU' "$T/log"
	grep -q 'killed by SIGKILL' "$T/log"
	ms=$(elapsed_ms "$t0")
	[ "$ms" -ge 3000 ]
	[ "$ms" -lt 6000 ]
	assert_clean stubborn
}

@test "run: a QEMU that never greets is stopped at the start deadline (76)" {
	fake_profile silent silent '"start_timeout": 2'
	start_vm silent
	wait_vm 30
	[ "$VM_STATUS" -eq 76 ]
	grep -q 'did not report running within 2 s (no QMP greeting); stopping it' "$T/log"
	assert_clean silent
}

@test "run: a stop asked for while QEMU has not greeted does not wait for the start deadline" {
	fake_profile silent silent '"start_timeout": 60'
	start_vm silent
	wait_log 'started QEMU'
	t0=$(date +%s%N)
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'got SIGTERM; sending SIGTERM to QEMU' "$T/log"
	[ "$(elapsed_ms "$t0")" -lt 3000 ]
	assert_clean silent
}

@test "run: a QEMU that sends garbage instead of QMP is stopped (76) with the reason" {
	fake_profile garbage garbage
	start_vm garbage
	wait_vm 30
	[ "$VM_STATUS" -eq 76 ]
	grep -q "QEMU's monitor sent something that is not QMP" "$T/log"
	assert_clean garbage
}

@test "run: QEMU exiting by itself after the start returns its status" {
	fake_profile crash crash
	start_vm crash
	wait_vm 30
	[ "$VM_STATUS" -eq 3 ]
	grep -q 'QEMU ended by itself (exit code 3)' "$T/log"
	assert_clean crash
}

@test "run: a known QEMU failure comes with a hint (no graphical session for gtk)" {
	profile gtk '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "gtk"}'
	DISPLAY= WAYLAND_DISPLAY= run "$VGPUVM" run "$T/gtk.json"
	[ "$status" -eq 1 ]
	[[ $output == *"qemu: gtk initialization failed"* ]]
	[[ $output == *"hint: no graphical session: set DISPLAY"* ]]
	assert_clean gtk
}

#!/usr/bin/env bats
# A VM with an mdev in the fake sysfs (lib/fakesys): its status, its crash record, and the recovery after its
# supervisor was SIGKILLed (vgpuvm cleanup, and a fresh vgpuvm run). QEMU is the real one with the vfio device taken
# out (tests/helpers/qemu-no-vfio), or the fake one where a QEMU must outlive its supervisor.

load lib/vm
load lib/fakesys
load lib/control
load lib/operate
load lib/assert

setup() {
	vm_setup
	operate_setup
	S=$T/sys
	fakesys_make "$S"
	fakesys_start "$S"
	export VGPUVM_SYSFS_ROOT=$S
	QEMU=$ROOT_DIR/tests/helpers/qemu-no-vfio
	FAKE_QEMU_PIDS=()
}

teardown() {
	# A stubborn fake QEMU ignores SIGTERM and outlives its supervisor on purpose: it must not outlive the test.
	for p in "${FAKE_QEMU_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	operate_teardown
	fakesys_stop "$S"
	vm_teardown
}

rundir() {
	printf '%s/%s\n' "$VGPUVM_RUNTIME_DIR" "$(vm_name "$1")"
}

# The value of one of QEMU's limits as status reports it: a number of bytes, or null for unlimited.
limit_json() {
	local v
	v=$(awk -v col="$2" '/^Max locked memory/ { print $(col) }' "/proc/$1/limits")
	[ "$v" = unlimited ] && echo null || echo "$v"
}

# kill_supervisor: SIGKILL the supervisor, reap it, and wait until the QEMU it started (if any) has ended: PDEATHSIG
# sends it SIGTERM. In this sandbox pid 1 reaps no orphans, so the QEMU stays a zombie: it counts as ended.
kill_supervisor() {
	local q
	q=$(qemu_pid)
	kill -KILL "$VM_PID"
	wait_vm 10 || true
	[ "$VM_STATUS" -eq 137 ]
	[ -z "$q" ] || pid_gone "$q" 20
}

@test "status: the vGPU's uuid, type and parent, that vgpuvm made it, and QEMU's locked-memory limits" {
	vgpu_profile gvt '{"parent": "mdpy", "type": "mdpy-vga"}'
	u=$(uuid_of gvt)
	start_vm gvt
	wait_log 'is running'
	q=$(qemu_pid)
	json=$(json_of "$VGPUVM" status "$(vm_name gvt)" --json)
	echo "$json"
	jq -e --arg u "$u" --argjson s "$(limit_json "$q" 4)" --argjson h "$(limit_json "$q" 5)" '
		.vgpu.uuid == $u and .vgpu.type == "mdpy-vga" and .vgpu.parent == "mdpy" and .vgpu.created == true
		and .vgpu.memlock == {"soft": $s, "hard": $h} and .display == {"type": "none", "gl": false}' <<<"$json"
	run "$VGPUVM" status "$(vm_name gvt)"
	echo "$output"
	[ "$status" -eq 0 ]
	# The vGPU's fields may share a line ("vgpu: UUID (TYPE on PARENT, ...)") or have one each.
	grep -qE "^ *[a-z ]*: +.*$u" <<<"$output"
	grep -qE '^ *[a-z ]*: +.*mdpy-vga' <<<"$output"
	grep -qiE '^ *[a-z ]*memlock[a-z ]*: +[^ ]' <<<"$output"
	kill -TERM "$VM_PID"; wait_vm 30; [ "$VM_STATUS" -eq 0 ]

	# An mdev that was there before is adopted, and status says vgpuvm did not make it.
	vgpu_profile adopt '{"type": "i915-GVTg_V5_4"}'
	u=$(uuid_of adopt)
	fakesys_precreate "$S" 0000:00:02.0 i915-GVTg_V5_4 "$u"
	start_vm adopt
	wait_log 'is running'
	run "$VGPUVM" status "$(vm_name adopt)" --json
	echo "$output"
	jq -e --arg u "$u" '.vgpu.uuid == $u and .vgpu.created == false and .vgpu.parent == "0000:00:02.0"' <<<"$output"
	kill -TERM "$VM_PID"; wait_vm 30; [ "$VM_STATUS" -eq 0 ]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
}

@test "record.json: there by the time the mdev appears; names the mdev, both pids and the sysfs root; gone at the end" {
	vgpu_profile gvt '{"parent": "mdpy", "type": "mdpy-vga"}'
	u=$(uuid_of gvt)
	start_vm gvt
	# Written before the mdev is made: so it is there as soon as the mdev is.
	fakesys_wait_mdev "$S" "$u" 30
	[ -f "$(rundir gvt)/record.json" ]
	wait_log 'is running'
	cat "$(rundir gvt)/record.json"
	jq -e --arg n "$(vm_name gvt)" --arg u "$u" --arg root "$S" --argjson s "$VM_PID" --argjson q "$(qemu_pid)" '
		.name == $n and .uuid == $u and .type == "mdpy-vga" and .parent == "mdpy" and .created == true
		and .supervisor_pid == $s and .qemu_pid == $q and .sysfs_root == $root' "$(rundir gvt)/record.json"
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt
}

@test "crash: the supervisor SIGKILLed, QEMU ends by PDEATHSIG; vgpuvm cleanup NAME removes the mdev and the directory" {
	vgpu_profile gvt '{"parent": "mdpy", "type": "mdpy-vga"}'
	u=$(uuid_of gvt)
	before=$(fakesys_instances "$S" mdpy mdpy-vga)
	start_vm gvt
	wait_log 'is running'
	kill_supervisor
	# What the crash left: the mdev, the record, and a lock no one holds.
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	[ -f "$(rundir gvt)/record.json" ]
	flock -n "$(rundir gvt)/lock" true
	# The record names the sysfs root, so cleanup needs no VGPUVM_SYSFS_ROOT.
	run env -u VGPUVM_SYSFS_ROOT "$VGPUVM" cleanup "$(vm_name gvt)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"$u"* ]]
	[ -z "$(fakesys_mdevs "$S")" ]
	[ "$(fakesys_instances "$S" mdpy mdpy-vga)" -eq "$before" ]
	assert_clean gvt
}

@test "crash: a leftover mdev the kernel will not remove yet keeps its record; cleanup and run retry it later" {
	vgpu_profile gvt '{"parent": "mdpy", "type": "mdpy-vga"}'
	u=$(uuid_of gvt)
	start_vm gvt
	wait_log 'is running'
	kill_supervisor
	fakesys_busy_remove "$S" "$u"
	run "$VGPUVM" cleanup "$(vm_name gvt)"
	echo "$output"
	[ "$status" -eq 69 ]
	[ -f "$(rundir gvt)/record.json" ]
	run "$VGPUVM" run "$T/gvt.json"
	echo "$output"
	[ "$status" -eq 69 ]
	[[ $output == *"Failed to clean up after a supervisor that died"* ]]
	[ -f "$(rundir gvt)/record.json" ]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	fakesys_free_remove "$S" "$u"
	run "$VGPUVM" cleanup "$(vm_name gvt)"
	[ "$status" -eq 0 ]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt
}

@test "crash with an adopted mdev: cleanup leaves the mdev in place and removes the directory" {
	vgpu_profile gvt '{"type": "i915-GVTg_V5_4"}'
	u=$(uuid_of gvt)
	fakesys_precreate "$S" 0000:00:02.0 i915-GVTg_V5_4 "$u"
	start_vm gvt
	wait_log 'is running'
	jq -e '.created == false' "$(rundir gvt)/record.json"
	kill_supervisor
	run "$VGPUVM" cleanup "$(vm_name gvt)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	assert_clean gvt
}

@test "crash right after the mdev was made: the record names it already, and cleanup removes it" {
	vgpu_profile gvt '{"parent": "mdpy", "type": "mdpy-vga"}'
	u=$(uuid_of gvt)
	start_vm gvt
	wait_log 'created mdev'
	kill -KILL "$VM_PID"
	wait_vm 10 || true
	cat "$(rundir gvt)/record.json"
	jq -e --arg u "$u" '.uuid == $u and .created == true' "$(rundir gvt)/record.json"
	# QEMU may or may not have been started by then; if it was, PDEATHSIG ends it.
	q=$(jq -r '.qemu_pid // empty' "$(rundir gvt)/record.json")
	[ -z "$q" ] || pid_gone "$q" 20
	for p in $(pgrep -f -- "-name $(vm_name gvt)( |$)"); do
		pid_gone "$p" 20
	done
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	run "$VGPUVM" cleanup "$(vm_name gvt)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt
}

@test "crash: a fresh run of the same VM recovers first (the mdev made anew, not adopted), then runs and cleans up" {
	vgpu_profile gvt '{"parent": "mdpy", "type": "mdpy-vga"}'
	u=$(uuid_of gvt)
	start_vm gvt
	wait_log 'is running'
	kill_supervisor
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	start_vm gvt
	wait_log 'is running'
	cat "$T/log"
	# Had the leftover not been recovered, the new run would have adopted it and left it in place at the end.
	refute grep -q 'adopting mdev' "$T/log"
	grep -q "created mdev $u" "$T/log"
	jq -e --argjson s "$VM_PID" '.created == true and .supervisor_pid == $s' "$(rundir gvt)/record.json"
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt
}

@test "crash with QEMU still alive: cleanup and run refuse (75), naming its pid; once it is gone, cleanup works" {
	# The stubborn fake QEMU ignores the SIGTERM that PDEATHSIG sends, as a hung QEMU would.
	profile gvt "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"qemu\": \"$HELPERS/fake-qemu\", \"env\": {\"FAKE_QEMU_MODE\": \"stubborn\"}, \"vgpu\": {\"parent\": \"mdpy\", \"type\": \"mdpy-vga\", \"memlock\": false}"
	u=$(uuid_of gvt)
	start_vm gvt
	wait_log 'is running'
	q=$(qemu_pid)
	FAKE_QEMU_PIDS+=("$q")
	kill -KILL "$VM_PID"
	wait_vm 10 || true
	pid_alive "$q"
	run "$VGPUVM" cleanup "$(vm_name gvt)"
	echo "$output"
	[ "$status" -eq 75 ]
	[[ $output == *"$q"* ]]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	[ -f "$(rundir gvt)/record.json" ]
	run "$VGPUVM" cleanup
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"$q"* ]]
	run "$VGPUVM" run "$T/gvt.json"
	echo "$output"
	[ "$status" -eq 75 ]
	[[ $output == *"$q"* ]]
	pid_alive "$q"
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	# The refused attempts changed nothing: the record still says vgpuvm made the mdev.
	cat "$(rundir gvt)/record.json"
	jq -e --arg u "$u" --argjson q "$q" '.uuid == $u and .created == true and .qemu_pid == $q' "$(rundir gvt)/record.json"
	kill -KILL "$q"
	pid_gone "$q" 10
	run "$VGPUVM" cleanup "$(vm_name gvt)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt
}

@test "cleanup without NAME: every leftover, and nothing of a VM that runs" {
	vgpu_profile a '{"parent": "mdpy", "type": "mdpy-vga"}'
	vgpu_profile b '{"parent": "0000:00:02.0", "type": "i915-GVTg_V5_8"}'
	vgpu_profile c '{"parent": "mdpy", "type": "mdpy-xga"}'
	ua=$(uuid_of a) ub=$(uuid_of b) uc=$(uuid_of c)
	for n in a b; do
		start_vm "$n"
		wait_log 'is running'
		kill_supervisor
	done
	[ "$(fakesys_mdevs "$S")" = "$(printf '%s\n' "$ua" "$ub" | sort)" ]
	start_vm_named c
	wait_log_of c 'is running'
	run "$VGPUVM" cleanup
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(fakesys_mdevs "$S")" = "$uc" ]
	assert_clean a
	assert_clean b
	[ -S "$(rundir c)/control" ]
	[ -f "$(rundir c)/record.json" ]
	run "$VGPUVM" status "$(vm_name c)" --json
	[ "$status" -eq 0 ]
	jq -e '.state == "running"' <<<"$output"
	# Named, a running VM is left untouched, and cleanup says why.
	run "$VGPUVM" cleanup "$(vm_name c)"
	echo "$output"
	[[ $output == *running* ]]
	[ "$(fakesys_mdevs "$S")" = "$uc" ]
	[ -S "$(rundir c)/control" ]
	[ -f "$(rundir c)/record.json" ]
	run "$VGPUVM" status "$(vm_name c)" --json
	jq -e '.state == "running"' <<<"$output"
	# Nothing left to clean is no error.
	kill -TERM "${PIDS[c]}"
	wait_vm_of c 30
	[ "$VM_STATUS" -eq 0 ]
	run "$VGPUVM" cleanup
	[ "$status" -eq 0 ]
	[ -z "$(fakesys_mdevs "$S")" ]
}

@test "stop returns the VM's exit code: a remove the kernel refuses makes both vgpuvm run and vgpuvm stop exit 74" {
	vgpu_profile gvt '{"parent": "mdpy", "type": "mdpy-vga"}'
	u=$(uuid_of gvt)
	start_vm gvt
	wait_log 'is running'
	fakesys_busy_remove "$S" "$u"
	run timeout 30 "$VGPUVM" stop "$(vm_name gvt)" --force
	echo "$output"
	[ "$status" -eq 74 ]
	[[ ${lines[-1]} == *"exit 74"* ]]
	wait_vm 10
	[ "$VM_STATUS" -eq 74 ]
}

@test "crash: a supervisor SIGKILLed while the kernel makes its mdev has already recorded it; cleanup removes it" {
	vgpu_profile vm '{"parent": "mdpy", "type": "mdpy-vga"}'
	U=$(uuid_of vm)
	create=$(fakesys_parent "$S" mdpy)/mdev_supported_types/mdpy-vga/create
	# No daemon: the UUID written to create is not acted on, so the supervisor waits in the window between its write
	# and the device's appearance, as it would while a slow kernel makes the mdev.
	fakesys_stop "$S"
	start_vm vm
	timeout 10 bash -c 'until grep -qx "$1" "$2" 2>/dev/null; do sleep 0.02; done' _ "$U" "$create"
	kill -KILL "$VM_PID"
	wait_vm 10 || true
	# The record names the mdev from before the write: nothing else would tell that vgpuvm made it.
	jq -e --arg u "$U" '.uuid == $u and .created == true' "$(rundir vm)/record.json"
	# The kernel finishes its work after the supervisor is gone.
	fakesys_precreate "$S" mdpy mdpy-vga "$U"
	fakesys_start "$S"
	[ "$(fakesys_mdevs "$S")" = "$U" ]
	run "$VGPUVM" cleanup "$(vm_name vm)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"removed mdev $U"* ]]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean vm
}

#!/usr/bin/env bats
# Every CLI command under valgrind's memcheck at least once: check, argv (with --set), types, doctor, status, list,
# metrics and viewer, on good input and on the error paths bad input takes. The binary is build/helpers/vgpuvm-dynamic,
# the same objects linked dynamically (memcheck cannot replace malloc in the static ./vgpuvm). A use of uninitialised
# memory, an invalid read or write, or a definite or indirect leak fails the test; memory still reachable at exit
# (json-c's and libc's caches) does not count. Needs valgrind (scripts/deps.sh test installs it).

load lib/vm
load lib/operate
load lib/assert

setup() {
	vm_setup
	operate_setup
	DYN=$HELPERS/vgpuvm-dynamic
	[ -x "$DYN" ] || skip "$DYN is not built (make helpers)"
	command -v valgrind >/dev/null || skip "valgrind is not installed (apt-get install valgrind)"
}

teardown() {
	operate_teardown
	vm_teardown
}

# memcheck ARGS...: runs vgpuvm ARGS under memcheck, with $output and $status as bats's run gives them (the command's
# own). Fails when memcheck reports anything; its report is printed then.
memcheck() {
	local log=$T/memcheck.log
	run valgrind --tool=memcheck -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --track-origins=yes --log-file="$log" "$DYN" "$@"
	# Memcheck's findings are the "==PID==" lines; "--PID--" lines are valgrind's own notes (it does not know
	# pidfd_open, for one, and answers ENOSYS, which vgpuvm handles).
	if [ "$status" -eq 99 ] || grep -q '^==[0-9]*==' "$log"; then
		echo "memcheck: vgpuvm $* (exit $status):"
		cat "$log"
		return 1
	fi
}

@test "memcheck: check and argv on every stock profile, which end in white space" {
	for f in "$ROOT_DIR"/profiles/stock/*.json; do
		memcheck check "$f"
		[ "$status" -eq 0 ]
		memcheck argv "$f"
		[ "$status" -eq 0 ]
	done
}

@test "memcheck: argv with --set, and the error paths of bad profiles and bad --set" {
	memcheck argv "$ROOT_DIR/profiles/stock/gvtg-desktop.json" --set vgpu.xres=1280 --set vgpu.yres=800 --set cpus=4 \
		--set 'extra_args=["-S"]' --set vgpu=null
	[ "$status" -eq 0 ]
	[[ $output == *"-S"* ]]
	# The bad profiles whose fault is in the profile itself (the others are there for their --set).
	for f in "$ROOT_DIR"/tests/golden/bad/*.json; do
		[ -e "${f%.json}.cmd" ] && continue
		memcheck check "$f"
		[ "$status" -eq 65 ]
	done
	printf '[1, 2]\n' >"$T/array.json"
	memcheck argv "$T/array.json" --set vgpu.xres=1
	[ "$status" -eq 65 ]
	memcheck argv "$ROOT_DIR/profiles/stock/mdpy-demo.json" --set a.b.c.d.e.f.g.h.i=1
	[ "$status" -eq 64 ]
}

@test "memcheck: types and doctor on a fake GVT-g host, in text and JSON" {
	. "$ROOT_DIR/tests/golden/host/lib.bash"
	mkdir "$T/host"
	host_base "$T/host"
	export VGPUVM_SYSFS_ROOT=$T/host/sys VGPUVM_PROC_ROOT=$T/host/proc VGPUVM_DEV_ROOT=$T/host/dev
	export VGPUVM_RUNTIME_DIR=$T/host/run USER=alice HOME=$T/host XDG_CONFIG_HOME=
	PATH=$T/host/bin:$PATH
	memcheck types
	[ "$status" -eq 0 ]
	[[ $output == *"GVTg_V5_4"* ]]
	memcheck types --json
	[ "$status" -eq 0 ]
	jq -e '.' <<<"$output" >/dev/null
	memcheck doctor "$T/host/profiles/gvt.json"
	[[ $output == *"vgpu.type"* ]]
	memcheck doctor --json
	jq -e '.' <<<"$output" >/dev/null
	memcheck metrics
	[ "$status" -eq 0 ]
	[[ $output == *'vgpuvm_mdev_type_available_instances{parent="0000:00:02.0",type="i915-GVTg_V5_4"}'* ]]
	[[ $output == *'vgpuvm_doctor_check_failed{check="'* ]]
}

@test "memcheck: status, list and viewer against a running VM, in text and JSON" {
	profile plain '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "shutdown": {"powerdown_timeout": 1, "quit_timeout": 5}'
	start_vm plain
	wait_log 'is running'
	memcheck status "$(vm_name plain)"
	[ "$status" -eq 0 ]
	[[ $output == *running* ]]
	memcheck status "$(vm_name plain)" --json
	[ "$status" -eq 0 ]
	jq -e '.state == "running"' <<<"$output"
	memcheck list --json
	[ "$status" -eq 0 ]
	memcheck list
	[ "$status" -eq 0 ]
	[[ $output == *"$(vm_name plain)"* ]]
	memcheck metrics --no-doctor
	[ "$status" -eq 0 ]
	[[ $output == *"vgpuvm_vm_up{vm=\"$(vm_name plain)\"} 1"* ]]
	memcheck status nonexistent-vm
	[ "$status" -ne 0 ]
	# viewer's error paths: a display that is not spice, and root under sudo.
	memcheck viewer "$(vm_name plain)"
	[ "$status" -eq 65 ]
	SUDO_USER=nobody memcheck viewer "$(vm_name plain)"
	[ "$status" -eq 77 ]
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
}

#!/usr/bin/env bats
# The test fixtures themselves: the fake sysfs and its daemon, the fake QEMUs, the qemu-no-vfio wrapper and the tiny
# guest. Later system tests trust these, so each behaviour they promise is checked here, against something that would
# differ if the fixture were broken.

load lib/fakesys
load lib/assert
load lib/guest

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	H=$TOP/${BUILD:-build}/helpers
	for h in fake-sysfs fake-qemu qmp-drive wait-path; do
		[ -x "$H/$h" ] || {
			echo "$H/$h is missing: run make helpers" >&2
			return 1
		}
	done
}

setup() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	H=$TOP/${BUILD:-build}/helpers
	T=$(mktemp -d)
	R=$T/sys
	GPU=$R/devices/pci0000:00/0000:00:02.0
	V54=$GPU/mdev_supported_types/i915-GVTg_V5_4
	V58=$GPU/mdev_supported_types/i915-GVTg_V5_8
	U1=5a1e5c34-4f0c-4d0e-9b4a-0f1e2d3c4b5a
	U2=8d3c2b1a-0e9f-4a8b-9c7d-6e5f4a3b2c1d
	export FAKE_QEMU_PIDFILE=$T/fake-qemu.pid
}

teardown() {
	fakesys_stop "$R" || true
	# qmp-drive kills its child when it ends, but a fake QEMU it started must not outlive a broken test either.
	if [ -s "$T/fake-qemu.pid" ]; then
		kill -KILL "$(<"$T/fake-qemu.pid")" 2>/dev/null || true
	fi
	rm -rf "$T"
}

# True if PID names a live process (a zombie, which nobody has reaped yet, counts as gone).
alive() {
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $state != Z* ]]
}

qmp_drive() {
	"$H/qmp-drive" "$@"
}

@test "fakesys_make builds a tree shaped like sysfs" {
	fakesys_make "$R"
	[ "$(readlink "$R/bus/pci/devices/0000:00:02.0")" = ../../../devices/pci0000:00/0000:00:02.0 ]
	[ "$(readlink "$R/class/mdev_bus/0000:00:02.0")" = ../../devices/pci0000:00/0000:00:02.0 ]
	[ "$(readlink "$R/class/mdev_bus/mdpy")" = ../../devices/virtual/mdpy/mdpy ]
	[ "$(cd "$R/bus/pci/devices/0000:00:02.0" && pwd -P)" = "$(cd "$GPU" && pwd -P)" ]
	[ -d "$R/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga" ]
	[ -d "$R/class/mdev_bus/mdpy/mdev_supported_types/mdpy-xga" ]
	[ "$(cat "$V54/name")" = GVTg_V5_4 ]
	[ "$(cat "$V54/description")" = "$(printf 'low_gm_size: 128MB\nhigh_gm_size: 512MB\nfence: 4\nresolution: 1920x1200\nweight: 4')" ]
	[ "$(cat "$V58/description")" = "$(printf 'low_gm_size: 64MB\nhigh_gm_size: 384MB\nfence: 4\nresolution: 1024x768\nweight: 2')" ]
	[ "$(cat "$V54/device_api")" = vfio-pci ]
	[ "$(cat "$V54/available_instances")" = 2 ]
	[ "$(cat "$R/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/description")" = "virtual display, 640x480 framebuffer" ]
	[ "$(fakesys_instances "$R" mdpy mdpy-vga)" = 4 ]
	[ -f "$V54/create" ]
	[ ! -L "$V54/create" ]
	[ ! -s "$V54/create" ]
	[ "$(stat -c %a "$V54/create")" = 200 ]
	[ -d "$V54/devices" ]
	[ -d "$R/bus/mdev/devices" ]
	[ -d "$R/kernel/iommu_groups" ]
	[ -z "$(fakesys_mdevs "$R")" ]
	fakesys_set_instances "$R" 0000:00:02.0 i915-GVTg_V5_8 7
	[ "$(cat "$V58/available_instances")" = 7 ]
	run fakesys_set_instances "$R" 0000:00:02.0 no-such-type 1
	[ "$status" -ne 0 ]
}

@test "a UUID written to create makes the mdev, complete when its bus link appears" {
	fakesys_make "$R"
	fakesys_start "$R"
	echo "$U1" >"$V54/create"
	fakesys_wait_mdev "$R" "$U1"
	# Everything is checked right after the link appeared: the daemon makes the device before the link.
	[ "$(fakesys_mdevs "$R")" = "$U1" ]
	[ "$(readlink "$R/bus/mdev/devices/$U1")" = "../../../devices/pci0000:00/0000:00:02.0/$U1" ]
	[ "$(readlink "$GPU/$U1/mdev_type")" = ../mdev_supported_types/i915-GVTg_V5_4 ]
	[ "$(cd "$R/bus/mdev/devices/$U1/mdev_type" && pwd -P)" = "$(cd "$V54" && pwd -P)" ]
	[ -f "$GPU/$U1/remove" ]
	[ ! -s "$GPU/$U1/remove" ]
	[ "$(cd "$GPU/$U1/iommu_group" && pwd -P)" = "$(cd "$R/kernel/iommu_groups/0" && pwd -P)" ]
	[ "$(cd "$R/kernel/iommu_groups/0/devices/$U1" && pwd -P)" = "$(cd "$GPU/$U1" && pwd -P)" ]
	[ "$(readlink "$V54/devices/$U1")" = "../../../$U1" ]
	[ "$(cd "$V54/devices/$U1" && pwd -P)" = "$(cd "$GPU/$U1" && pwd -P)" ]
	[ "$(cat "$V54/available_instances")" = 1 ]
	[ ! -s "$V54/create" ]

	# Without a newline, on the mdpy parent, the next IOMMU group.
	printf '%s' "$U2" >"$R/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/create"
	fakesys_wait_mdev "$R" "$U2"
	[ "$(readlink "$R/bus/mdev/devices/$U2")" = "../../../devices/virtual/mdpy/mdpy/$U2" ]
	[ "$(cd "$R/bus/mdev/devices/$U2/iommu_group" && pwd -P)" = "$(cd "$R/kernel/iommu_groups/1" && pwd -P)" ]
	[ "$(fakesys_instances "$R" mdpy mdpy-vga)" = 3 ]
	[ "$(fakesys_mdevs "$R" | wc -l)" -eq 2 ]
}

@test "the bus link is made last on create and removed last on remove (strace of the daemon)" {
	command -v strace >/dev/null || skip "strace is not installed"
	fakesys_make "$R"
	# Under strace the daemon cannot daemonize out of the tracer's sight (strace follows the fork), so this starts
	# it by hand and takes its pid file, written once its watches are in place, as the sign that it is ready.
	# (LeakSanitizer cannot run under ptrace: an ASan build would fail at exit for that alone.)
	# One trace file per process (-ff): with one file, a syscall of the daemon that overlaps one of its parent's is
	# split into "<unfinished ...>" and "<... resumed>" lines, and the patterns below would miss it.
	ASAN_OPTIONS=detect_leaks=0 strace -f -ff -q -o "$T/trace" -e trace=mkdir,symlink,unlink,unlinkat,rmdir,openat \
		"$H/fake-sysfs" "$R" </dev/null >>"$R/.fake-sysfs.log" 2>&1 3>&- &
	tracer=$!
	"$H/wait-path" -t 10 "$R/.fake-sysfs.pid"
	echo "$U1" >"$V54/create"
	fakesys_wait_mdev "$R" "$U1"
	echo 1 >"$R/bus/mdev/devices/$U1/remove"
	fakesys_wait_gone "$R" "$U1"
	fakesys_stop "$R"
	wait "$tracer"
	cat "$T"/trace.* >"$T/trace"
	# The line number of the first trace line that matches each pattern, in the order of the patterns.
	at() { grep -n -m1 -E "$1" "$T/trace" | cut -d: -f1; }
	link_made=$(at "symlink\\(.*, \"$R/bus/mdev/devices/$U1\"\\) = 0")
	link_gone=$(at "unlink\\(\"$R/bus/mdev/devices/$U1\"\\) = 0")
	dir_made=$(at "mkdir\\(\"$GPU/$U1\", .*\\) = 0")
	type_link=$(at "symlink\\(.*, \"$V54/devices/$U1\"\\) = 0")
	group_link=$(at "symlink\\(.*, \"$GPU/$U1/iommu_group\"\\) = 0")
	remove_made=$(at "openat\\(.*\"$GPU/$U1/remove\", .*O_CREAT")
	dir_gone=$(at "rmdir\\(\"$GPU/$U1\"\\) = 0")
	counts=$(grep -n -E "openat\\(.*\"$V54/available_instances\", O_WRONLY" "$T/trace" | cut -d: -f1)
	echo "made $dir_made $remove_made $group_link $type_link, counted ${counts//$'\n'/ }, link $link_made;"
	echo "removed dir $dir_gone, link $link_gone"
	[ -n "$link_made" ]
	[ -n "$link_gone" ]
	[ -n "$dir_made" ]
	[ -n "$type_link" ]
	[ -n "$group_link" ]
	[ -n "$remove_made" ]
	[ -n "$dir_gone" ]
	[ "$(wc -l <<<"$counts")" -eq 2 ]
	for n in "$dir_made" "$remove_made" "$group_link" "$type_link" "$(head -n1 <<<"$counts")"; do
		[ "$n" -lt "$link_made" ]
	done
	for n in "$dir_gone" "$(tail -n1 <<<"$counts")"; do
		[ "$n" -gt "$link_made" ]
		[ "$n" -lt "$link_gone" ]
	done
	# Both processes, the one that returned once the daemon was ready and the daemon on SIGTERM, exited 0.
	[ "$(grep -c '+++ exited with 0 +++' "$T/trace")" -eq 2 ]
	[ "$(grep -c '+++ \(exited\|killed\)' "$T/trace")" -eq 2 ]
}

@test "1 written to remove takes the mdev away and gives the instance back" {
	fakesys_make "$R"
	fakesys_start "$R"
	echo "$U1" >"$V54/create"
	fakesys_wait_mdev "$R" "$U1"
	echo 1 >"$R/bus/mdev/devices/$U1/remove"
	fakesys_wait_gone "$R" "$U1"
	[ -z "$(fakesys_mdevs "$R")" ]
	[ ! -e "$GPU/$U1" ]
	[ -z "$(ls -A "$V54/devices")" ]
	[ -z "$(ls -A "$R/kernel/iommu_groups")" ]
	[ "$(cat "$V54/available_instances")" = 2 ]
	# The daemon is still serving: the same UUID can be made again.
	echo "$U1" >"$V54/create"
	fakesys_wait_mdev "$R" "$U1"
	[ "$(cat "$V54/available_instances")" = 1 ]
}

@test "a bad UUID, a taken UUID or no instance left makes nothing" {
	fakesys_make "$R"
	fakesys_set_instances "$R" 0000:00:02.0 i915-GVTg_V5_8 0
	fakesys_start "$R"
	# The daemon handles writes in order, so once U2 is there the two before it have been dealt with. They go to
	# other files than U2's: the daemon reads a file after the write, and a later write to the same file would
	# replace what it finds there (vgpuvm writes each create file once and waits, as the kernel makes it).
	echo "$U1" >"$V58/create"
	echo not-a-uuid >"$R/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/create"
	echo "$U2" >"$V54/create"
	fakesys_wait_mdev "$R" "$U2"
	echo "$U2" >"$R/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/create"
	printf '%s\n' "$U1" >"$R/class/mdev_bus/mdpy/mdev_supported_types/mdpy-xga/create"
	fakesys_wait_mdev "$R" "$U1"
	[ "$(fakesys_mdevs "$R")" = "$(printf '%s\n' "$U1" "$U2" | sort)" ]
	[ "$(readlink "$R/bus/mdev/devices/$U1")" = "../../../devices/virtual/mdpy/mdpy/$U1" ]
	[ "$(cat "$V58/available_instances")" = 0 ]
	[ "$(cat "$V54/available_instances")" = 1 ]
	[ "$(fakesys_instances "$R" mdpy mdpy-vga)" = 4 ]
	[ ! -s "$V58/create" ]
	[ ! -s "$V54/create" ]
	grep -q "no instance of .*i915-GVTg_V5_8 left for $U1" "$R/.fake-sysfs.log"
	grep -q "invalid UUID 'not-a-uuid'" "$R/.fake-sysfs.log"
	grep -q "$U2 exists already" "$R/.fake-sysfs.log"
}

@test "the daemon serves types, parents and create files that appear while it runs" {
	fakesys_make "$R"
	fakesys_start "$R"
	fakesys_add_type "$R" mdpy mdpy-hd 1
	echo "$U1" >"$R/devices/virtual/mdpy/mdpy/mdev_supported_types/mdpy-hd/create"
	fakesys_wait_mdev "$R" "$U1"
	[ "$(fakesys_instances "$R" mdpy mdpy-hd)" = 0 ]

	mkdir -p "$R/devices/virtual/mtty/mtty/mdev_supported_types"
	ln -s ../../devices/virtual/mtty/mtty "$R/class/mdev_bus/mtty"
	fakesys_add_type "$R" mtty mtty-2 2
	echo "$U2" >"$R/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create"
	fakesys_wait_mdev "$R" "$U2"
	[ "$(readlink "$R/bus/mdev/devices/$U2")" = "../../../devices/virtual/mtty/mtty/$U2" ]
	echo 1 >"$R/bus/mdev/devices/$U2/remove"
	fakesys_wait_gone "$R" "$U2"

	# A create file put back after fakesys_full_create is served again.
	fakesys_full_create "$R" 0000:00:02.0 i915-GVTg_V5_4
	rm "$V54/create"
	: >"$V54/create"
	echo "$U2" >"$V54/create"
	fakesys_wait_mdev "$R" "$U2"
}

@test "fakesys_full_create makes a write to create fail with ENOSPC" {
	fakesys_make "$R"
	fakesys_start "$R"
	fakesys_full_create "$R" 0000:00:02.0 i915-GVTg_V5_4
	run bash -c "echo $U1 > '$V54/create'"
	[ "$status" -ne 0 ]
	[[ $output == *"No space left on device"* ]]
	[ -z "$(fakesys_mdevs "$R")" ]
	[ "$(cat "$V54/available_instances")" = 2 ]
}

@test "precreate makes the same mdev with or without the daemon, and the daemon removes it" {
	fakesys_make "$R"
	# Before the daemon runs, as if mdevctl had made it at boot.
	fakesys_precreate "$R" 0000:00:02.0 i915-GVTg_V5_4 "$U1"
	[ "$(fakesys_mdevs "$R")" = "$U1" ]
	[ "$(readlink "$R/bus/mdev/devices/$U1")" = "../../../devices/pci0000:00/0000:00:02.0/$U1" ]
	[ "$(cd "$R/bus/mdev/devices/$U1/mdev_type" && pwd -P)" = "$(cd "$V54" && pwd -P)" ]
	[ -e "$GPU/$U1/iommu_group/devices/$U1" ]
	[ "$(cat "$V54/available_instances")" = 1 ]
	fakesys_start "$R"
	# And while it runs.
	fakesys_precreate "$R" devices/virtual/mdpy/mdpy mdpy-xga "$U2"
	[ "$(fakesys_instances "$R" mdpy mdpy-xga)" = 3 ]
	echo 1 >"$R/bus/mdev/devices/$U1/remove"
	echo 1 >"$R/bus/mdev/devices/$U2/remove"
	fakesys_wait_gone "$R" "$U1"
	fakesys_wait_gone "$R" "$U2"
	[ -z "$(fakesys_mdevs "$R")" ]
	[ "$(cat "$V54/available_instances")" = 2 ]
	[ "$(fakesys_instances "$R" mdpy mdpy-xga)" = 4 ]
	run fakesys_precreate "$R" 0000:00:02.0 i915-GVTg_V5_4 not-a-uuid
	[ "$status" -ne 0 ]
}

@test "fakesys_busy_remove makes the remove write fail and keeps the mdev" {
	fakesys_make "$R"
	fakesys_start "$R"
	echo "$U1" >"$V54/create"
	fakesys_wait_mdev "$R" "$U1"
	fakesys_busy_remove "$R" "$U1"
	run bash -c "echo 1 > '$R/bus/mdev/devices/$U1/remove'"
	[ "$status" -ne 0 ]
	[[ $output == *"No space left on device"* ]]
	[ "$(fakesys_mdevs "$R")" = "$U1" ]
	[ "$(cat "$V54/available_instances")" = 1 ]
}

@test "fakesys_start refuses a second daemon, and fakesys_stop ends the daemon and waits for it" {
	fakesys_make "$R"
	fakesys_start "$R"
	pid=$(<"$R/.fake-sysfs.pid")
	alive "$pid"
	run fakesys_start "$R"
	[ "$status" -ne 0 ]
	[[ $output == *"another fake-sysfs serves"* ]]
	fakesys_stop "$R"
	run alive "$pid"
	[ "$status" -ne 0 ]
	[ ! -e "$R/.fake-sysfs.pid" ]
	grep -q "signal 15, exiting" "$R/.fake-sysfs.log"
	# Stopping again, or with no daemon at all, is fine.
	fakesys_stop "$R"
	fakesys_start "$R"
	fakesys_stop "$R"
}

@test "wait-path waits for a path to come and go, and times out otherwise" {
	run "$H/wait-path" -t 0.2 "$T/nothing"
	[ "$status" -eq 1 ]
	run "$H/wait-path" -g -t 0.2 "$T"
	[ "$status" -eq 1 ]
	"$H/wait-path" -g -t 0.2 "$T/nothing"
	(touch "$T/later") &
	"$H/wait-path" -t 10 "$T/later"
	wait
	(rm "$T/later") &
	"$H/wait-path" -g -t 10 "$T/later"
	wait
}

@test "fake QEMU, stubborn: greets, answers, ignores quit and SIGTERM, dies only of SIGKILL" {
	FAKE_QEMU_MODE=stubborn run qmp_drive -t 10 \
		'next={"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}' \
		'send={"execute": "qmp_capabilities", "id": "c1"}' 'next={"return": {}, "id": "c1"}' \
		'send={"execute": "query-status", "id": 2}' \
		'next={"return": {"status": "running", "singlestep": false, "running": true}, "id": 2}' \
		'send={"execute": "system_powerdown", "id": 3}' 'next="event": "POWERDOWN"' 'next={"return": {}, "id": 3}' \
		'send={"execute": "quit", "id": 4}' \
		'send={"execute": "query-status", "id": 5}' 'next="id": 5' \
		signal=TERM \
		'send={"execute": "query-status", "id": 6}' 'next="id": 6' \
		close signal=TERM signal=HUP signal=INT signal=KILL exit=KILL \
		-- "$H/fake-qemu" -chardev socket,id=vgpuvm-qmp,fd=3 -mon chardev=vgpuvm-qmp,mode=control
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *'fake-qemu: <- {"execute":"quit","id":4}'* ]]
	[[ $output == *"fake-qemu: argv[2] = socket,id=vgpuvm-qmp,fd=3"* ]]
	[ "$(grep -c '^<- .*"id": 4}' <<<"$output")" -eq 0 ]
	[ "$(grep -c '^<- ' <<<"$output")" -eq 7 ]
}

@test "fake QEMU, silent: no greeting, no answer, an ordinary death on SIGTERM" {
	FAKE_QEMU_MODE=silent run qmp_drive -t 10 'send={"execute": "qmp_capabilities"}' quiet=1 signal=TERM exit=TERM \
		-- "$H/fake-qemu"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *'fake-qemu: <- (32 bytes, not answered) {"execute": "qmp_capabilities"}'* ]]
	[ "$(grep -c '^<- ' <<<"$output")" -eq 0 ]
}

@test "fake QEMU, garbage: non-JSON lines and then 2 MiB without a newline" {
	FAKE_QEMU_MODE=garbage run qmp_drive -t 10 'next=this is not QMP' 'next=<html>' bytes=2097152 quiet=0.2 \
		signal=TERM exit=TERM -- "$H/fake-qemu"
	[ "$status" -eq 0 ]
	[[ $output == *"fake-qemu: garbage sent"* ]]
	[ "$(grep -c '^<- {' <<<"$output")" -eq 0 ]
	# The 2 MiB never ends in a newline, so four lines come, not five.
	[ "$(grep -c '^<- ' <<<"$output")" -eq 4 ]
}

@test "fake QEMU, crash: answers capabilities and query-status, then exits 3" {
	FAKE_QEMU_MODE=crash run qmp_drive -t 10 'next="QMP"' \
		'send={"execute": "qmp_capabilities", "id": 1}' 'next={"return": {}, "id": 1}' \
		'send={"execute": "query-status", "id": 2}' 'next="status": "running"' eof exit=3 -- "$H/fake-qemu"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "fake QEMU, exit-after-greeting N: greets, then exits N" {
	FAKE_QEMU_MODE="exit-after-greeting 5" run qmp_drive -t 10 'next="QMP"' eof exit=5 -- "$H/fake-qemu"
	[ "$status" -eq 0 ]
	FAKE_QEMU_MODE=exit-after-greeting:0 run qmp_drive -t 10 'next="QMP"' exit=0 -- "$H/fake-qemu"
	[ "$status" -eq 0 ]
	run qmp_drive -t 10 exit=2 -- env FAKE_QEMU_MODE=bogus "$H/fake-qemu"
	[ "$status" -eq 0 ]
	[[ $output == *"FAKE_QEMU_MODE must be"* ]]
}

@test "qmp-drive fails a step that does not happen" {
	FAKE_QEMU_MODE=silent run qmp_drive -t 0.3 'expect="QMP"' -- "$H/fake-qemu"
	[ "$status" -eq 1 ]
	[[ $output == *"step 1 failed"* ]]
	FAKE_QEMU_MODE="exit-after-greeting 4" run qmp_drive -t 10 exit=0 -- "$H/fake-qemu"
	[ "$status" -eq 1 ]
}

@test "qemu-no-vfio drops the vfio-pci device and keeps the pid, fd 3 and the rest" {
	cat >"$T/show-args" <<-'EOF'
		#!/bin/bash
		echo "self $$"
		[ -S /proc/self/fd/3 ] && echo "fd 3 is a socket"
		printf 'arg %s\n' "$@"
	EOF
	chmod +x "$T/show-args"
	REAL_QEMU=$T/show-args run qmp_drive -t 10 -l "$T/console" exit=0 -- "$TOP/tests/helpers/qemu-no-vfio" \
		-M graphics=off -device "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$U1,display=on" -device virtio-rng-pci \
		-chardev socket,id=vgpuvm-qmp,fd=3 -device vfio-pci-nohotplug,sysfsdev=x
	[ "$status" -eq 0 ]
	[[ $output == *"qemu-no-vfio: dropped -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/$U1,display=on"* ]]
	pid=$(sed -n 's/^pid //p' <<<"$output")
	[ "$(cat "$T/console")" = "$(printf '%s\n' "self $pid" "fd 3 is a socket" "arg -M" "arg graphics=off" \
		"arg -device" "arg virtio-rng-pci" "arg -chardev" "arg socket,id=vgpuvm-qmp,fd=3")" ]
}

@test "guest, button: READY, then system_powerdown makes it power off and QEMU exit 0" {
	guest_build
	mapfile -t args < <(guest_qemu_args button)
	run qmp_drive -t 60 -l "$T/console" 'next="QMP"' \
		'send={"execute": "qmp_capabilities", "id": 1}' 'expect="id": 1' \
		console=VGPUVM-GUEST-READY 'send={"execute": "system_powerdown", "id": 2}' \
		'expect="event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}' exit=0 \
		-- qemu-system-x86_64 -accel tcg -nodefaults -machine pc -m 128M -display none -serial stdio "${args[@]}" \
		-chardev socket,id=qmp,fd=3 -mon chardev=qmp,mode=control
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q VGPUVM-GUEST-POWEROFF "$T/console"
}

@test "guest, selfoff: READY, then it powers off by itself" {
	guest_build
	mapfile -t args < <(guest_qemu_args selfoff)
	# QEMU sends events only once capabilities are negotiated: before the guest can power off, that is.
	run qmp_drive -t 60 -l "$T/console" 'next="QMP"' 'send={"execute": "qmp_capabilities", "id": 1}' 'expect="id": 1' \
		console=VGPUVM-GUEST-READY \
		'expect="event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}' exit=0 \
		-- qemu-system-x86_64 -accel tcg -nodefaults -machine pc -m 128M -display none -serial stdio "${args[@]}" \
		-chardev socket,id=qmp,fd=3 -mon chardev=qmp,mode=control
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "guest, ignore: the power button does nothing, quit ends QEMU" {
	guest_build
	mapfile -t args < <(guest_qemu_args ignore)
	run qmp_drive -t 60 -l "$T/console" 'next="QMP"' \
		'send={"execute": "qmp_capabilities", "id": 1}' 'expect="id": 1' \
		console=VGPUVM-GUEST-READY 'send={"execute": "system_powerdown", "id": 2}' 'expect="id": 2' \
		'send={"execute": "quit", "id": 3}' \
		'expect="event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}' exit=0 \
		-- qemu-system-x86_64 -accel tcg -nodefaults -machine pc -m 128M -display none -serial stdio "${args[@]}" \
		-chardev socket,id=qmp,fd=3 -mon chardev=qmp,mode=control
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q VGPUVM-GUEST-READY "$T/console"
	[ "$(grep -c VGPUVM-GUEST-POWEROFF "$T/console")" -eq 0 ]
}

@test "qemu-no-vfio runs the real QEMU on vgpuvm's command line, vfio device and all" {
	guest_build
	fakesys_make "$R"
	fakesys_precreate "$R" 0000:00:02.0 i915-GVTg_V5_4 "$U1"
	mapfile -t args < <(guest_qemu_args button)
	run qmp_drive -t 60 -l "$T/console" 'next="QMP"' \
		'send={"execute": "qmp_capabilities", "id": 1}' 'expect="id": 1' \
		console=VGPUVM-GUEST-READY 'send={"execute": "system_powerdown", "id": 2}' \
		'expect="reason": "guest-shutdown"' exit=0 \
		-- "$TOP/tests/helpers/qemu-no-vfio" -accel tcg -nodefaults -machine pc -m 128M -M graphics=off \
		-display none -serial stdio "${args[@]}" \
		-device "vfio-pci,sysfsdev=$R/bus/mdev/devices/$U1,display=on" \
		-chardev socket,id=vgpuvm-qmp,fd=3 -mon chardev=vgpuvm-qmp,mode=control
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"qemu-no-vfio: dropped -device vfio-pci,sysfsdev=$R/bus/mdev/devices/$U1,display=on"* ]]
}

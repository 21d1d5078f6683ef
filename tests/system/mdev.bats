#!/usr/bin/env bats
# `vgpuvm run` and the mdev: a fake sysfs tree (VGPUVM_SYSFS_ROOT) whose create and remove are served by
# build/helpers/fake-sysfs, and a real QEMU under TCG with only the vfio device taken out (tests/helpers/qemu-no-vfio).

load lib/vm
load lib/assert
load lib/fakesys

setup() {
	vm_setup
	S=$T/sys
	fakesys_make "$S"
	fakesys_start "$S"
	export VGPUVM_SYSFS_ROOT=$S
	QEMU=$ROOT_DIR/tests/helpers/qemu-no-vfio
}

teardown() {
	fakesys_stop "$S"
	vm_teardown
}

@test "mdev: by PCI address; removed at the end; instances given back" {
	vgpu_profile gvt '{"parent": "0000:00:02.0", "type": "i915-GVTg_V5_4"}'
	u=$(uuid_of gvt)
	before=$(fakesys_instances "$S" 0000:00:02.0 i915-GVTg_V5_4)
	start_vm gvt
	wait_log 'is running'
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	[ "$(fakesys_instances "$S" 0000:00:02.0 i915-GVTg_V5_4)" -eq $((before - 1)) ]
	grep -q "created mdev $u (type i915-GVTg_V5_4 on 0000:00:02.0)" "$T/log"
	grep -q "vgpu.memlock is false" "$T/log"
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ -z "$(fakesys_mdevs "$S")" ]
	[ "$(fakesys_instances "$S" 0000:00:02.0 i915-GVTg_V5_4)" -eq "$before" ]
	grep -q "removed mdev $u" "$T/log"
	assert_clean gvt
}

@test "memlock: QEMU gets guest RAM + 1 GiB, soft and hard, or, without CAP_SYS_RESOURCE, nothing is made (77)" {
	vgpu_profile gvt '{"parent": "0000:00:02.0", "type": "i915-GVTg_V5_4", "memlock": true}'
	eff=$(awk '/^CapEff/{print $2}' /proc/self/status)
	if (( (0x$eff >> 24) & 1 )); then
		start_vm gvt
		wait_log 'is running'
		grep -E "^Max locked memory +1207959552 +1207959552 +bytes" "/proc/$(qemu_pid)/limits"
		grep -q "QEMU's locked-memory limit: 1152 MiB (soft), 1152 MiB (hard)" "$T/log"
		# The supervisor's own limit is unchanged.
		[ "$(awk '/^Max locked memory/{print $4}' "/proc/$VM_PID/limits")" = "$(awk '/^Max locked memory/{print $4}' /proc/self/limits)" ]
		kill -TERM "$VM_PID"; wait_vm 30; [ "$VM_STATUS" -eq 0 ]
	else
		# This machine cannot raise the limit at all: the refusal, before any mdev, is what a user gets.
		echo "# no CAP_SYS_RESOURCE here: checking the refusal (the kernel-mdev harness checks the limit itself)" >&3
		run "$VGPUVM" run "$T/gvt.json"
		[ "$status" -eq 77 ]
		[[ $output == *"QEMU needs a locked-memory limit of 1152 MiB"*"\"memlock\": false"* ]]
	fi
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt
}

@test "mdev: by mdev_bus class name, and with no parent when one parent offers the type" {
	vgpu_profile cls '{"parent": "mdpy", "type": "mdpy-vga"}'
	start_vm cls
	wait_log 'is running'
	grep -q "created mdev $(uuid_of cls) (type mdpy-vga on mdpy)" "$T/log"
	kill -TERM "$VM_PID"; wait_vm 30; [ "$VM_STATUS" -eq 0 ]
	vgpu_profile nop '{"type": "mdpy-xga"}'
	start_vm nop
	wait_log 'is running'
	grep -q "created mdev $(uuid_of nop) (type mdpy-xga on mdpy)" "$T/log"
	kill -TERM "$VM_PID"; wait_vm 30; [ "$VM_STATUS" -eq 0 ]
	[ -z "$(fakesys_mdevs "$S")" ]
}

@test "mdev: unknown parent, unknown type and a type no parent offers are errors (69) that list what there is" {
	vgpu_profile a '{"parent": "0000:00:03.0", "type": "i915-GVTg_V5_4"}'
	run "$VGPUVM" run "$T/a.json"
	[ "$status" -eq 69 ]
	[[ $output == *"no mdev parent 0000:00:03.0"*"parents here: "*"mdpy"* ]]
	vgpu_profile b '{"parent": "0000:00:02.0", "type": "i915-GVTg_V5_2"}'
	run "$VGPUVM" run "$T/b.json"
	[ "$status" -eq 69 ]
	[[ $output == *"0000:00:02.0 has no mdev type i915-GVTg_V5_2; its types: "*"i915-GVTg_V5_4 ("*"i915-GVTg_V5_8 ("* ]]
	vgpu_profile c '{"type": "nvidia-63"}'
	run "$VGPUVM" run "$T/c.json"
	[ "$status" -eq 69 ]
	[[ $output == *"no parent offers mdev type nvidia-63"* ]]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean a
	assert_clean b
	assert_clean c
}

# Two NVIDIA P40s, each offering the same vGPU type, each in class/mdev_bus and bus/pci/devices, as a host with two
# cards shows them (the type as NVIDIA's vGPU user guide lists a P40's, from memory: no network here to check).
two_p40s() {
	local bdf gpu
	for bdf in 0000:04:00.0 0000:82:00.0; do
		gpu=$S/devices/pci0000:00/$bdf
		mkdir -p "$gpu/mdev_supported_types"
		_fakesys_type "$gpu/mdev_supported_types/nvidia-46" 'GRID P40-1Q' \
			'num_heads=4, frl_config=60, framebuffer=1024M, max_resolution=5120x2880, max_instance=24\n' 24
		ln -s "../../devices/pci0000:00/$bdf" "$S/class/mdev_bus/$bdf"
		ln -s "../../../devices/pci0000:00/$bdf" "$S/bus/pci/devices/$bdf"
	done
}

@test "mdev: a type two parents offer is refused (69), each parent named once" {
	two_p40s
	vgpu_profile p40 '{"type": "nvidia-46"}'
	run "$VGPUVM" run "$T/p40.json"
	[ "$status" -eq 69 ]
	[[ $output == *"several parents offer mdev type nvidia-46 (0000:04:00.0, 0000:82:00.0); set vgpu.parent to one of them"* ]]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean p40
}

@test "mdev: no instances left fails before QEMU, naming the types with room (69)" {
	fakesys_set_instances "$S" 0000:00:02.0 i915-GVTg_V5_4 0
	vgpu_profile gvt '{"parent": "0000:00:02.0", "type": "i915-GVTg_V5_4"}'
	run "$VGPUVM" run "$T/gvt.json"
	[ "$status" -eq 69 ]
	[[ $output == *"no instances of i915-GVTg_V5_4 left on 0000:00:02.0 (available_instances is 0); types with room: i915-GVTg_V5_8 ("* ]]
	[[ $output != *"started QEMU"* ]]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt
}

@test "mdev: ENOSPC from create is explained (69) and leaves nothing" {
	fakesys_full_create "$S" 0000:00:02.0 i915-GVTg_V5_4
	vgpu_profile gvt '{"parent": "0000:00:02.0", "type": "i915-GVTg_V5_4"}'
	run "$VGPUVM" run "$T/gvt.json"
	[ "$status" -eq 69 ]
	[[ $output == *"no room for another i915-GVTg_V5_4 on 0000:00:02.0 (ENOSPC)"*"aperture memory"*"dmesg"* ]]
	[[ $output != *"started QEMU"* ]]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt
}

@test "mdev: an existing mdev of the same type is adopted and left in place" {
	vgpu_profile gvt '{"parent": "0000:00:02.0", "type": "i915-GVTg_V5_4"}'
	u=$(uuid_of gvt)
	fakesys_precreate "$S" 0000:00:02.0 i915-GVTg_V5_4 "$u"
	start_vm gvt
	wait_log 'is running'
	grep -q "adopting mdev $u (type i915-GVTg_V5_4), which exists already; it will be left in place" "$T/log"
	kill -TERM "$VM_PID"; wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	refute grep -q "removed mdev" "$T/log"
}

@test "mdev: an existing mdev of another type is refused (69) and not touched" {
	vgpu_profile gvt '{"parent": "0000:00:02.0", "type": "i915-GVTg_V5_4"}'
	u=$(uuid_of gvt)
	fakesys_precreate "$S" 0000:00:02.0 i915-GVTg_V5_8 "$u"
	run "$VGPUVM" run "$T/gvt.json"
	[ "$status" -eq 69 ]
	[[ $output == *"mdev $u already exists with type i915-GVTg_V5_8, but the profile asks for i915-GVTg_V5_4"* ]]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	assert_clean gvt
}

@test "mdev: an existing mdev is adopted by its UUID alone, its type read from its mdev_type link" {
	u=3b0b8c4e-7d2f-4e61-9a5c-0f1e2d3c4b5a
	fakesys_precreate "$S" 0000:00:02.0 i915-GVTg_V5_4 "$u"
	vgpu_profile byuuid "{\"uuid\": \"$u\", \"display\": false}"
	start_vm byuuid
	wait_log 'is running'
	grep -q "adopting mdev $u (type i915-GVTg_V5_4), which exists already; it will be left in place" "$T/log"
	run "$VGPUVM" status "$(vm_name byuuid)" --json
	[ "$status" -eq 0 ]
	[ "$(jq -r '.vgpu.type + " " + .vgpu.parent' <<<"$output")" = "i915-GVTg_V5_4 0000:00:02.0" ]
	kill -TERM "$VM_PID"; wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	assert_clean byuuid
	# --uuid on the command line adopts the same way, from a profile that names neither.
	vgpu_profile noid '{"display": false}'
	run "$VGPUVM" check "$T/noid.json"
	[ "$status" -eq 65 ]
	[[ $output == *'vgpu.type: missing;'*'or give the vgpu.uuid of an mdev that exists, to adopt it'* ]]
	start_vm noid --uuid "$u"
	wait_log 'is running'
	grep -q "adopting mdev $u (type i915-GVTg_V5_4)" "$T/log"
	kill -TERM "$VM_PID"; wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	assert_clean noid
}

@test "mdev: an existing mdev whose VFIO group another process holds is refused (75), naming it, and left alone" {
	u=3b0b8c4e-7d2f-4e61-9a5c-0f1e2d3c4b5a
	fakesys_precreate "$S" 0000:00:02.0 i915-GVTg_V5_4 "$u"
	g=$(basename "$(readlink "$S/bus/mdev/devices/$u/iommu_group")")
	# A process tree as /proc shows it: pid 4242, a QEMU of someone else's, with /dev/vfio/G open as fd 27.
	P=$T/proc
	mkdir -p "$P/4242/fd" "$P/4243/fd"
	echo other-qemu > "$P/4242/comm"
	ln -s /dev/null "$P/4242/fd/0"
	ln -s "/dev/vfio/$g" "$P/4242/fd/27"
	echo bystander > "$P/4243/comm"
	ln -s "/dev/vfio/$((g + 1))" "$P/4243/fd/3"
	vgpu_profile byuuid "{\"uuid\": \"$u\", \"display\": false}"
	VGPUVM_PROC_ROOT=$P run "$VGPUVM" run "$T/byuuid.json"
	echo "$output"
	[ "$status" -eq 75 ]
	[[ $output == *"mdev $u is in use: its VFIO group /dev/vfio/$g is open in 4242 (other-qemu); stop that first"* ]]
	[[ $output != *bystander* ]]
	[[ $output != *"started QEMU"* ]]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	assert_clean byuuid
	# Once no process holds it, the same profile adopts it.
	rm "$P/4242/fd/27"
	VGPUVM_PROC_ROOT=$P start_vm byuuid
	wait_log 'is running'
	grep -q "adopting mdev $u (type i915-GVTg_V5_4)" "$T/log"
	kill -TERM "$VM_PID"; wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	assert_clean byuuid
}

@test "mdev: adopting by UUID alone needs the mdev (69), and its type's rules hold before QEMU starts (65)" {
	u=3b0b8c4e-7d2f-4e61-9a5c-0f1e2d3c4b5a
	vgpu_profile byuuid "{\"uuid\": \"$u\", \"display\": false}"
	run "$VGPUVM" run "$T/byuuid.json"
	[ "$status" -eq 69 ]
	[[ $output == *"there is no mdev $u to adopt, and the profile names no vgpu.type to make one with; set vgpu.type"* ]]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean byuuid
	# The vGPU display of a GVT-g mdev on no display at all: what check says of a profile naming the type.
	fakesys_precreate "$S" 0000:00:02.0 i915-GVTg_V5_4 "$u"
	vgpu_profile dmabuf "{\"uuid\": \"$u\"}"
	run "$VGPUVM" run "$T/dmabuf.json"
	[ "$status" -eq 65 ]
	[[ $output == *'display.type: "none" has no OpenGL, and i915-GVTg_V5_4 shows its display as dmabufs'*"(the type of mdev $u, which the profile adopts)"* ]]
	[[ $output != *"started QEMU"* ]]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	assert_clean dmabuf
}

# An s390 vfio-ap matrix device with its one type (Documentation/s390/vfio-ap.rst; the count from memory).
ap_matrix() {
	local m=$S/devices/vfio_ap/matrix
	mkdir -p "$m/mdev_supported_types"
	_fakesys_type "$m/mdev_supported_types/vfio_ap-passthrough" 'VFIO AP Passthrough Device' '' 65535
	printf 'vfio-ap\n' >"$m/mdev_supported_types/vfio_ap-passthrough/device_api"
	ln -s ../../devices/vfio_ap/matrix "$S/class/mdev_bus/matrix"
}

@test "mdev: an mdev whose device_api is not vfio-pci is refused (69) and not touched" {
	ap_matrix
	u=4b1c3d2e-5f6a-4b7c-8d9e-0f1a2b3c4d5e
	fakesys_precreate "$S" matrix vfio_ap-passthrough "$u"
	vgpu_profile ap "{\"uuid\": \"$u\", \"display\": false}"
	run "$VGPUVM" run "$T/ap.json"
	[ "$status" -eq 69 ]
	[[ $output == *"mdev $u (type vfio_ap-passthrough) is a vfio-ap device (its device_api), not a vfio-pci one"*"qemu-system-s390x"* ]]
	[[ $output != *"started QEMU"* ]]
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	assert_clean ap
	# Named in the profile, the type is refused by check already (65).
	vgpu_profile ap2 '{"type": "vfio_ap-passthrough", "display": false}'
	run "$VGPUVM" check "$T/ap2.json"
	[ "$status" -eq 65 ]
	[[ $output == *"vgpu.type: vfio_ap-passthrough is an s390 crypto (AP) matrix (device API vfio-ap), not a vfio-pci device"* ]]
}

@test "mdev: \"opregion\": false is written out for QEMU 10 and later, as its -version says" {
	vgpu_profile off '{"parent": "0000:00:02.0", "type": "i915-GVTg_V5_4", "opregion": false}'
	FAKE_QEMU_VERSION=10.0.2 start_vm off
	wait_log 'is running'
	grep -q "qemu-no-vfio: dropped -device vfio-pci,sysfsdev=$S/bus/mdev/devices/$(uuid_of off),display=off,x-igd-opregion=off" "$T/log"
	kill -TERM "$VM_PID"; wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	# QEMU 7.2, this machine's (its default is off already): nothing written.
	start_vm off
	wait_log 'is running'
	grep -q "qemu-no-vfio: dropped -device vfio-pci,sysfsdev=$S/bus/mdev/devices/$(uuid_of off),display=off$" "$T/log"
	kill -TERM "$VM_PID"; wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean off
}

@test "mdev: removed when QEMU fails to start, when its binary is missing, and when it is killed (137)" {
	vgpu_profile bad '{"type": "mdpy-vga"}' '"extra_args": ["-no-such-option"]'
	run "$VGPUVM" run "$T/bad.json"
	[ "$status" -eq 1 ]
	[[ $output == *"created mdev"*"invalid option"*"removed mdev"* ]]
	[ -z "$(fakesys_mdevs "$S")" ]
	profile nobin '"memory": "128M", "accel": "tcg", "qemu": "/nonexistent/qemu", "display": {"type": "none"}, "vgpu": {"type": "mdpy-vga", "memlock": false}'
	run "$VGPUVM" run "$T/nobin.json"
	[ "$status" -eq 69 ]
	[[ $output == *"created mdev"*"cannot execute /nonexistent/qemu"*"removed mdev"* ]]
	[ -z "$(fakesys_mdevs "$S")" ]
	vgpu_profile kill '{"type": "mdpy-vga"}'
	start_vm kill
	wait_log 'is running'
	kill -KILL "$(qemu_pid)"
	wait_vm 30
	[ "$VM_STATUS" -eq 137 ]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean bad
	assert_clean nobin
	assert_clean kill
}

@test "mdev: a signal while the supervisor starts still removes the mdev" {
	vgpu_profile gvt '{"type": "mdpy-vga"}' '"start_timeout": 30'
	start_vm gvt
	wait_log 'created mdev'
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt
}

@test "mdev: a remove the kernel refuses is reported (74), naming the way to remove it by hand" {
	vgpu_profile gvt '{"type": "mdpy-vga"}'
	u=$(uuid_of gvt)
	start_vm gvt
	wait_log 'is running'
	fakesys_busy_remove "$S" "$u"
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 74 ]
	grep -q "cannot remove mdev $u" "$T/log"
	grep -q "$S/bus/mdev/devices/$u/remove" "$T/log"
	# The mdev is still there, and so is the record that names it, for cleanup to try again.
	[ "$(fakesys_mdevs "$S")" = "$u" ]
	grep -q "\"uuid\":\"$u\"" "$VGPUVM_RUNTIME_DIR/$(vm_name gvt)/record.json"
	fakesys_free_remove "$S" "$u"
	run "$VGPUVM" cleanup "$(vm_name gvt)"
	[ "$status" -eq 0 ]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt
}

@test "memlock: a hard limit vgpuvm cannot raise fails before anything is made (77)" {
	vgpu_profile gvt '{"type": "mdpy-vga", "memlock": true}'
	run bash -c "ulimit -l 1024 && exec setpriv --bounding-set=-sys_resource '$VGPUVM' run '$T/gvt.json'"
	[ "$status" -eq 77 ]
	[[ $output == *"locked-memory limit of 1152 MiB"*"hard limit is 1 MiB"*"ulimit -l"*"/etc/security/limits.conf"* ]]
	[ -z "$(fakesys_mdevs "$S")" ]
	assert_clean gvt
}

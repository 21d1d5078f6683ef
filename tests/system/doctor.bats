#!/usr/bin/env bats
# `vgpuvm doctor` and `vgpuvm types` from the command line: usage, exit codes, JSON that jq reads, and the real QEMU
# answering the doctor's questions. The host is a fake tree (tests/golden/host/lib.bash builds it); the exact reports
# are golden files in tests/golden/host/.

load lib/assert

setup() {
	VGPUVM=${VGPUVM:-$BATS_TEST_DIRNAME/../../build/vgpuvm}
	. "$BATS_TEST_DIRNAME/../golden/host/lib.bash"
	T=$(mktemp -d)
	host_base "$T"
	export VGPUVM_SYSFS_ROOT=$T/sys VGPUVM_PROC_ROOT=$T/proc VGPUVM_DEV_ROOT=$T/dev VGPUVM_RUNTIME_DIR=$T/run
	export USER=alice HOME=$T XDG_CONFIG_HOME=
	unset VGPUVM_PROFILE_PATH SUDO_USER FAKE_QEMU_WITHOUT
	REAL_PATH=$PATH
	export PATH=$T/bin:$PATH
}

teardown() {
	rm -rf "$T"
}

@test "doctor --help and types --help say what they do and exit 0" {
	run "$VGPUVM" doctor --help
	[ "$status" -eq 0 ]
	[[ $output == *"Usage: vgpuvm doctor [PROFILE] [--json]"* ]]
	[[ $output == *"0 when no check failed, 1 when one did"* ]]
	run "$VGPUVM" types --help
	[ "$status" -eq 0 ]
	[[ $output == *"Usage: vgpuvm types [--json]"* ]]
	run "$VGPUVM" --help
	[[ $output == *"doctor"*"types"* ]]
}

@test "bad usage exits 64; a missing profile 66, a bad one 65" {
	run "$VGPUVM" doctor --bogus
	[ "$status" -eq 64 ]
	run "$VGPUVM" doctor a.json b.json
	[ "$status" -eq 64 ]
	[[ $output == *"at most one PROFILE"* ]]
	run "$VGPUVM" types --bogus
	[ "$status" -eq 64 ]
	run "$VGPUVM" types extra
	[ "$status" -eq 64 ]
	run "$VGPUVM" doctor "$T/nonexistent.json"
	[ "$status" -eq 66 ]
	echo '{"memory": "4G", "bogus": 1}' >"$T/bad.json"
	run "$VGPUVM" doctor "$T/bad.json"
	[ "$status" -eq 65 ]
}

@test "doctor: a healthy host exits 0, and its JSON has every check with a status and no fix for a PASS" {
	run "$VGPUVM" doctor "$T/profiles/gvt.json"
	[ "$status" -eq 0 ]
	[[ $output == *"0 failed"* ]]
	run "$VGPUVM" doctor --json "$T/profiles/gvt.json"
	[ "$status" -eq 0 ]
	[ "$(jq '.failed' <<<"$output")" -eq 0 ]
	[ "$(jq '.passed' <<<"$output")" -ge 15 ]
	[ "$(jq '[.checks[] | select(.status == "PASS" and .fix != null)] | length' <<<"$output")" -eq 0 ]
	[ "$(jq '[.checks[] | select(.status == "WARN" and .fix == null)] | length' <<<"$output")" -eq 0 ]
	[ "$(jq -r '.checks[] | select(.id == "vgpu.instances") | .status' <<<"$output")" = PASS ]
	[ "$(jq '.checks | length' <<<"$output")" -eq "$(jq '.passed + .warned + .failed + .skipped' <<<"$output")" ]
}

@test "doctor: a failing check exits 1 and names the fix, in text and in JSON" {
	echo N >"$T/sys/module/i915/parameters/enable_gvt"
	run "$VGPUVM" doctor "$T/profiles/gvt.json"
	[ "$status" -eq 1 ]
	[[ $output == *"FAIL i915.enable_gvt"* ]]
	[[ $output == *"fix: echo 'options i915 enable_gvt=1' >> /etc/modprobe.d/i915-gvt.conf"* ]]
	run "$VGPUVM" doctor --json "$T/profiles/gvt.json"
	[ "$status" -eq 1 ]
	[ "$(jq -r '.checks[] | select(.id == "i915.enable_gvt") | .status' <<<"$output")" = FAIL ]
	[[ $(jq -r '.checks[] | select(.id == "i915.enable_gvt") | .fix' <<<"$output") == *"i915.enable_gvt=1"* ]]
	[ "$(jq '.failed' <<<"$output")" -eq 1 ]
}

@test "doctor: the real QEMU answers -version, -display help and -device vfio-pci-nohotplug,help" {
	command -v qemu-system-x86_64
	export PATH=$REAL_PATH
	run "$VGPUVM" doctor --json "$T/profiles/gvt.json"
	echo "$output"
	[ "$(jq -r '.checks[] | select(.id == "qemu") | .status' <<<"$output")" = PASS ]
	[[ $(jq -r '.checks[] | select(.id == "qemu") | .summary' <<<"$output") =~ "is QEMU "[0-9]+\.[0-9]+ ]]
	[ "$(jq -r '.checks[] | select(.id == "qemu.device") | .status' <<<"$output")" = PASS ]
	[[ $(jq -r '.checks[] | select(.id == "qemu.device") | .summary' <<<"$output") == *vfio-pci-nohotplug* ]]
	# Debian's QEMU has GTK and OpenGL when qemu-system-gui is installed, which the test dependencies include.
	[ "$(jq -r '.checks[] | select(.id == "qemu.display") | .status' <<<"$output")" = PASS ]
}

@test "doctor: a QEMU binary that is missing, or lacks an option the profile uses, fails the check" {
	run "$VGPUVM" doctor --json "$T/profiles/gvt.json"
	[ "$(jq -r '.checks[] | select(.id == "qemu.device") | .status' <<<"$output")" = PASS ]
	FAKE_QEMU_WITHOUT=xres run "$VGPUVM" doctor --json "$T/profiles/gvt.json"
	[ "$status" -eq 1 ]
	[[ $(jq -r '.checks[] | select(.id == "qemu.device") | .summary' <<<"$output") == *"no xres option (vgpu.xres)"* ]]
	rm "$T/bin/qemu-system-x86_64"
	PATH=$T/bin run "$VGPUVM" doctor --json "$T/profiles/gvt.json"
	[ "$status" -eq 1 ]
	[ "$(jq -r '.checks[] | select(.id == "qemu") | .status' <<<"$output")" = FAIL ]
	[ "$(jq -r '.checks[] | select(.id == "qemu.display") | .status' <<<"$output")" = SKIP ]
}

@test "doctor: a stale mdev is a warning, not a failure, and names vgpuvm cleanup" {
	host_mdev "$T" i915-GVTg_V5_8 5b1f0c1e-6a28-4e5c-9d5b-2b0a3e0f6d11
	host_record "$T" old-vm 5b1f0c1e-6a28-4e5c-9d5b-2b0a3e0f6d11 i915-GVTg_V5_8 4100 4107
	run "$VGPUVM" doctor --json
	[ "$status" -eq 0 ]
	[ "$(jq -r '.checks[] | select(.id == "stale") | .status' <<<"$output")" = WARN ]
	[ "$(jq -r '.checks[] | select(.id == "stale") | .fix' <<<"$output")" = "vgpuvm cleanup old-vm" ]
	# While its supervisor lives, the same record is a running VM.
	host_alive "$T" 4100
	run "$VGPUVM" doctor --json
	[ "$(jq -r '.checks[] | select(.id == "stale") | .status' <<<"$output")" = PASS ]
}

@test "types --json: the parent, its types with fields and instances, and an mdev with its VM" {
	host_mdev "$T" i915-GVTg_V5_4 6f0c1e3a-0000-4000-8000-000000000001
	host_record "$T" lab-1 6f0c1e3a-0000-4000-8000-000000000001 i915-GVTg_V5_4 3370 3377
	run "$VGPUVM" types --json
	[ "$status" -eq 0 ]
	[ "$(jq '.parents | length' <<<"$output")" -eq 1 ]
	[ "$(jq -r '.parents[0].name' <<<"$output")" = 0000:00:02.0 ]
	[ "$(jq -r '.parents[0].bus' <<<"$output")" = pci ]
	[ "$(jq -r '.parents[0].types | map(.name) | join(" ")' <<<"$output")" = "i915-GVTg_V5_2 i915-GVTg_V5_4 i915-GVTg_V5_8" ]
	[ "$(jq '.parents[0].types[1].available_instances' <<<"$output")" -eq 1 ]
	[ "$(jq -r '.parents[0].types[1].fields.high_gm_size' <<<"$output")" = 512MB ]
	[ "$(jq -r '.parents[0].types[2].resolution' <<<"$output")" = 1024x768 ]
	[ "$(jq -r '.parents[0].types[1].mdevs[0].vm' <<<"$output")" = lab-1 ]
	[ "$(jq '.parents[0].types[1].mdevs[0].supervisor_pid' <<<"$output")" -eq 3370 ]
	[ "$(jq '.parents[0].types[0].mdevs | length' <<<"$output")" -eq 0 ]
}

@test "types: no parent at all is not an error, and points at doctor" {
	rm -r "$T/sys/class/mdev_bus" "$T/sys/bus/pci"
	run "$VGPUVM" types
	[ "$status" -eq 0 ]
	[[ $output == *"no mdev parent devices"*"vgpuvm doctor"* ]]
	run "$VGPUVM" types --json
	[ "$status" -eq 0 ]
	[ "$(jq '.parents | length' <<<"$output")" -eq 0 ]
}

# A profile that asks for UEFI, a TPM, a share and a disk to make: the platform's checks.
platform_profile() {
	printf '{"name": "plat", "memory": "1G", "accel": "tcg", "machine": "q35", "firmware": "uefi", "tpm": true, "shares": [{"path": "/srv", "tag": "srv"}], "disks": [{"file": "/var/lib/vgpuvm/plat.qcow2", "size": "20G"}]}\n' >"$T/profiles/plat.json"
}

check_of() {
	jq -r --arg id "$1" --arg f "$2" '.checks[] | select(.id == $id) | .[$f]' <<<"$output"
}

@test "doctor: a profile's UEFI, TPM, shares and disk to make pass when ovmf, swtpm, virtiofsd and qemu-img are there" {
	command -v swtpm_setup >/dev/null || skip "swtpm-tools is not installed"
	[ -x /usr/lib/qemu/virtiofsd ] || [ -x /usr/libexec/virtiofsd ] || skip "virtiofsd is not installed"
	platform_profile
	VGPUVM_FIRMWARE_DIR=$BATS_TEST_DIRNAME/../golden/firmware run "$VGPUVM" doctor --json "$T/profiles/plat.json"
	echo "$output"
	[ "$(check_of firmware.uefi status)" = PASS ]
	[[ $(check_of firmware.uefi summary) == *OVMF_CODE* ]]
	[ "$(check_of tpm.swtpm status)" = PASS ]
	[ "$(check_of shares.virtiofsd status)" = PASS ]
	[[ $(check_of shares.virtiofsd summary) == *virtiofsd* ]]
	[ "$(check_of disks.qemu-img status)" = PASS ]
	# A profile without them has none of these checks.
	run "$VGPUVM" doctor --json "$T/profiles/gvt.json"
	[ -z "$(check_of firmware.uefi status)" ]
	[ -z "$(check_of tpm.swtpm status)" ]
	[ -z "$(check_of shares.virtiofsd status)" ]
	[ -z "$(check_of disks.qemu-img status)" ]
}

@test "doctor: ovmf, swtpm, virtiofsd or qemu-img missing fails its check, naming the package" {
	platform_profile
	mkdir "$T/nofw"
	VGPUVM_FIRMWARE_DIR=$T/nofw VGPUVM_VIRTIOFSD=$T/no-virtiofsd PATH=$T/bin run "$VGPUVM" doctor --json "$T/profiles/plat.json"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(check_of firmware.uefi status)" = FAIL ]
	[[ $(check_of firmware.uefi fix) == *"apt install ovmf"* ]]
	[ "$(check_of tpm.swtpm status)" = FAIL ]
	[[ $(check_of tpm.swtpm summary) == *"swtpm is not in \$PATH"* ]]
	[[ $(check_of tpm.swtpm fix) == *"apt install swtpm swtpm-tools"* ]]
	[ "$(check_of shares.virtiofsd status)" = FAIL ]
	[[ $(check_of shares.virtiofsd summary) == *"virtiofsd is not there ($T/no-virtiofsd)"* ]]
	[[ $(check_of shares.virtiofsd fix) == *"apt install qemu-system-common"* ]]
	[ "$(check_of disks.qemu-img status)" = FAIL ]
	[[ $(check_of disks.qemu-img fix) == *"apt install qemu-utils"* ]]
}

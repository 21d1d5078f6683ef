#!/usr/bin/env bats
# disks[].size: a disk that does not exist is made (qemu-img create) before QEMU starts, at the size, in the format;
# one that exists is left alone; refusals leave nothing behind.

load lib/vm
load lib/control
load lib/operate
load lib/assert

setup() {
	vm_setup
	operate_setup
	command -v qemu-img >/dev/null || skip "qemu-img is not installed (apt-get install qemu-utils)"
	mkdir -m 0755 "$T/images"
}

teardown() {
	operate_teardown
	vm_teardown
}

# An idle VM: SeaBIOS with an empty disk sits there, running, until it is stopped.
disk_profile() {
	profile "$1" "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, \"qemu\": \"/usr/bin/qemu-system-x86_64\", \"shutdown\": {\"powerdown_timeout\": 1, \"quit_timeout\": 5}, \"disks\": [$2]"
}

run_idle() {
	start_vm "$1"
	wait_log 'is running' 120
	"$VGPUVM" stop "$(vm_name "$1")" --force
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 0 ]
}

@test "disk size: a run makes the qcow2 at the size and a raw .img; a second run keeps both as they are" {
	disk_profile d "{\"file\": \"$T/images/system\", \"size\": \"3G\"}, {\"file\": \"$T/images/scratch.img\", \"size\": 67108864}"
	run_idle d
	grep -q "made the disk $T/images/system: qcow2, 3221225472 bytes" "$T/log"
	grep -q "made the disk $T/images/scratch.img: raw, 67108864 bytes" "$T/log"
	info=$(qemu-img info --output=json "$T/images/system")
	[ "$(jq -r .format <<<"$info")" = qcow2 ]
	[ "$(jq -r '.["virtual-size"]' <<<"$info")" = 3221225472 ]
	info=$(qemu-img info --output=json "$T/images/scratch.img")
	[ "$(jq -r .format <<<"$info")" = raw ]
	[ "$(jq -r '.["virtual-size"]' <<<"$info")" = 67108864 ]
	# Root's alone: QEMU gets it as an fd.
	[ "$(stat -c %u:%a "$T/images/system")" = 0:600 ]
	# The guest's data, stood in for by a mark at the end of the raw disk and the qcow2's inode, must survive.
	printf 'guest-data-%s' "$$" | dd of="$T/images/scratch.img" bs=1 seek=1000 conv=notrunc status=none
	ino=$(stat -c %i "$T/images/system")
	sum=$(sha256sum <"$T/images/system")
	run_idle d
	refute grep -q 'made the disk' "$T/log"
	[ "$(stat -c %i "$T/images/system")" = "$ino" ]
	[ "$(sha256sum <"$T/images/system")" = "$sum" ]
	[ "$(dd if="$T/images/scratch.img" bs=1 skip=1000 count=$((11 + ${#$})) status=none)" = "guest-data-$$" ]
}

@test "disk size: an existing file of another size, or a symlink, is left alone" {
	qemu-img create -q -f raw "$T/images/small.img" 1M
	ln -s "$T/images/elsewhere.img" "$T/images/dangling.img"
	disk_profile d "{\"file\": \"$T/images/small.img\", \"size\": \"1G\"}"
	run_idle d
	[ "$(stat -c %s "$T/images/small.img")" = 1048576 ]
	disk_profile l "{\"file\": \"$T/images/dangling.img\", \"size\": \"1G\"}"
	run timeout 60 "$VGPUVM" run "$T/l.json"
	echo "$output"
	# Not made through the symlink: QEMU's image is then missing, which is the user's to fix.
	[ "$status" -ne 0 ]
	[ ! -e "$T/images/elsewhere.img" ]
	[ -L "$T/images/dangling.img" ]
	assert_clean l
}

@test "disk size: not in a directory someone else can write (77); qemu-img missing (69 naming qemu-utils); nothing made" {
	mkdir "$T/pub"
	chmod 0777 "$T/pub"
	disk_profile d "{\"file\": \"$T/pub/disk.qcow2\", \"size\": \"1G\"}"
	run timeout 60 "$VGPUVM" run "$T/d.json"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"vgpuvm makes a disk only in a directory root alone can write"* ]]
	[ ! -e "$T/pub/disk.qcow2" ]
	assert_clean d
	mkdir -m 0755 "$T/bin"
	disk_profile m "{\"file\": \"$T/images/disk.qcow2\", \"size\": \"1G\"}"
	run timeout 60 env PATH="$T/bin" "$VGPUVM" run "$T/m.json"
	echo "$output"
	[ "$status" -eq 69 ]
	[[ $output == *"qemu-img is not in PATH; install it (Debian: apt-get install qemu-utils)"* ]]
	[ ! -e "$T/images/disk.qcow2" ]
	assert_clean m
}

#!/usr/bin/env bats
# The trust rules of a root tool, tried as an attacker would: root uses only what root owns and no one else can write
# (profiles, the directories above them, runtime directories, what VGPUVM_* variables point at); lends QEMU only the
# device it asked for, through an fd, and gives back owner, group and mode; hands QEMU a disk image only by an fd,
# never through a symlink someone else planted; and a stand-in "compromised QEMU" under the real confinement cannot
# reach root's files or processes. Every refusal leaves nothing behind.

load lib/vm
load lib/fakesys
load lib/control
load lib/operate
load lib/assert
load lib/spawner

setup() {
	fakesys_vm_setup
	# A file of root's that nothing may read or change: its content and mode are checked after each attack.
	printf 'root-only %s\n' "$RANDOM$RANDOM" >"$T/victim"
	chmod 0600 "$T/victim"
	VICTIM_SUM=$(sha256sum "$T/victim")
	SHADOW_SUM=$(sha256sum /etc/shadow)
	# A directory that an ordinary user (nobody) owns, as a home directory is.
	install -d -o 65534 -g 65534 -m 0755 "$T/home"
}

teardown() {
	fakesys_vm_teardown
}

victims_untouched() {
	[ "$(sha256sum "$T/victim")" = "$VICTIM_SUM" ]
	[ "$(stat -c %u:%g:%a "$T/victim")" = 0:0:600 ]
	[ "$(sha256sum /etc/shadow)" = "$SHADOW_SUM" ]
}

plain() {
	profile "$1" "\"memory\": \"64M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, \"shutdown\": {\"powerdown_timeout\": 1, \"quit_timeout\": 5}${2:+, $2}"
}

@test "root refuses a profile another user owns or can change, and one in a directory others can write; nothing is left" {
	plain vm
	chown 65534 "$T/vm.json"
	for cmd in run check argv; do
		run "$VGPUVM" "$cmd" "$T/vm.json"
		echo "$output"
		[ "$status" -eq 77 ]
		[[ $output == *"profile $T/vm.json: $T/vm.json is owned by uid 65534"* ]]
		[[ $output == *"chown root:"* ]]
	done
	assert_clean vm

	chown 0 "$T/vm.json"
	chmod 0664 "$T/vm.json"
	run "$VGPUVM" run "$T/vm.json"
	[ "$status" -eq 77 ]
	[[ $output == *"is writable by its group (mode 0664)"* ]]

	chmod 0644 "$T/vm.json"
	mkdir -m 0775 "$T/shared"
	cp -p "$T/vm.json" "$T/shared/vm.json"
	run "$VGPUVM" run "$T/shared/vm.json"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"$T/shared is writable by its group (mode 0775)"* ]]
	assert_clean vm

	# A symlink planted in a user's directory is not followed, even to a profile root owns.
	ln -s "$T/vm.json" "$T/home/vm.json"
	run "$VGPUVM" check "$T/home/vm.json"
	[ "$status" -eq 77 ]
	[[ $output == *"$T/home/vm.json is a symbolic link in a directory that someone else can write"* ]]

	# Root's own profile in root's directory runs.
	run "$VGPUVM" check "$T/vm.json"
	[ "$status" -eq 0 ]
}

@test "as root, a profile name found through a user's XDG_CONFIG_HOME (su keeps it) is refused, naming the file" {
	install -d -o 65534 -g 65534 "$T/home/.config" "$T/home/.config/vgpuvm" "$T/home/.config/vgpuvm/profiles"
	plain vm
	install -o 65534 -m 0644 "$T/vm.json" "$T/home/.config/vgpuvm/profiles/evil.json"
	run env XDG_CONFIG_HOME="$T/home/.config" "$VGPUVM" check evil
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"$T/home/.config/vgpuvm/profiles/evil.json"*"owned by uid 65534"* ]]
	# A stock name shadowed there is refused too, not silently swapped for the user's.
	cp -p "$T/home/.config/vgpuvm/profiles/evil.json" "$T/home/.config/vgpuvm/profiles/mdpy-demo.json"
	run env XDG_CONFIG_HOME="$T/home/.config" "$VGPUVM" check mdpy-demo
	[ "$status" -eq 77 ]
	# Installed where root keeps profiles, it runs: the documented way for a user's profile.
	mkdir -m 0755 "$T/etc"
	install -m 0644 "$T/vm.json" "$T/etc/evil.json"
	run env VGPUVM_PROFILE_PATH="$T/etc" XDG_CONFIG_HOME="$T/home/.config" "$VGPUVM" check evil
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "VGPUVM_* variables pointing where someone else can write are refused for every command, before anything is read" {
	install -d -o 65534 -m 0755 "$T/home/sys" "$T/home/run"
	for cmd in types doctor list "cleanup"; do
		run env VGPUVM_SYSFS_ROOT="$T/home/sys" "$VGPUVM" $cmd
		echo "$output"
		[ "$status" -eq 77 ]
		[[ $output == *"VGPUVM_SYSFS_ROOT $T/home/sys: $T/home/sys is owned by uid 65534"* ]]
	done
	mkdir -m 0777 "$T/open"
	plain vm
	run env VGPUVM_RUNTIME_DIR="$T/open/run" "$VGPUVM" run "$T/vm.json"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"$T/open is writable by everyone (mode 0777)"* ]]
	[ ! -e "$T/open/run" ]
	run env VGPUVM_PASSWD_FILE="$T/home/passwd" "$VGPUVM" list
	[ "$status" -eq 77 ]
	run env VGPUVM_RUNTIME_DIR=relative "$VGPUVM" list
	[ "$status" -eq 77 ]
}

@test "cleanup never acts on a planted record: a runtime directory that is a symlink or others can write, a record not root's" {
	plain vm
	name=$(vm_name vm)
	mkdir -p "$VGPUVM_RUNTIME_DIR"
	rec() {
		printf '{"name": "%s", "uuid": "", "type": "", "parent": "", "sysfs_root": "", "created": false, "supervisor_pid": 999999, "qemu_pid": null, "lent": [{"path": "%s", "kind": "drm", "rdev": 0, "uid": 65534, "gid": 65534, "mode": 511}]}\n' "$name" "$T/victim"
	}
	# 1. The VM's directory is writable by others: a planted record there is not read.
	mkdir -m 0777 "$VGPUVM_RUNTIME_DIR/$name"
	rec >"$VGPUVM_RUNTIME_DIR/$name/record.json"
	run "$VGPUVM" cleanup "$name"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"is not a directory that only vgpuvm's user can write"* ]]
	victims_untouched
	[ -e "$VGPUVM_RUNTIME_DIR/$name/record.json" ]
	rm -rf "${VGPUVM_RUNTIME_DIR:?}/$name"

	# 2. The VM's directory is a symlink to a directory with files: nothing there is deleted.
	mkdir "$T/keep"
	echo precious >"$T/keep/file"
	ln -s "$T/keep" "$VGPUVM_RUNTIME_DIR/$name"
	run "$VGPUVM" cleanup "$name"
	[ "$status" -eq 77 ]
	[ "$(cat "$T/keep/file")" = precious ]
	rm "$VGPUVM_RUNTIME_DIR/$name"

	# 3. A record owned by another user, in root's directory: ignored, not acted on.
	mkdir -m 0700 "$VGPUVM_RUNTIME_DIR/$name"
	rec >"$VGPUVM_RUNTIME_DIR/$name/record.json"
	chown 65534 "$VGPUVM_RUNTIME_DIR/$name/record.json"
	run "$VGPUVM" cleanup "$name"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"not a record vgpuvm wrote"* ]]
	victims_untouched

	# 4. Root's own record that names a regular file as lent: the give-back touches no such file.
	chown 0 "$VGPUVM_RUNTIME_DIR/$name/record.json"
	chmod 0644 "$T/victim"
	run "$VGPUVM" cleanup "$name"
	echo "$output"
	[ "$(stat -c %u:%a "$T/victim")" = 0:644 ]
	chmod 0600 "$T/victim"
	victims_untouched
}

@test "a render node must be a DRM render node: a regular file or a symlink to root's file is refused, nothing lent" {
	# The first node QEMU would use is a regular file (a planted secret): refused, not lent.
	cp -p "$T/victim" "$VGPUVM_DEV_ROOT/dri/renderD128"
	plain vm '"user": "nobody", "display": {"type": "egl-headless"}'
	start_vm vm
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 69 ]
	grep -q "the render node $VGPUVM_DEV_ROOT/dri/renderD128 is not a DRM render node" "$T/log"
	[ "$(stat -c %u:%a "$VGPUVM_DEV_ROOT/dri/renderD128")" = 0:600 ]
	refute grep -q "started QEMU" "$T/log"
	assert_clean vm
	rm "$VGPUVM_DEV_ROOT/dri/renderD128"

	# The profile names a symlink to root's secret: refused with the field, the secret untouched.
	ln -s "$T/victim" "$VGPUVM_DEV_ROOT/dri/renderD130"
	plain vm "\"user\": \"nobody\", \"display\": {\"type\": \"egl-headless\", \"rendernode\": \"$VGPUVM_DEV_ROOT/dri/renderD130\"}"
	start_vm vm
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 65 ]
	grep -q 'is not a DRM render node' "$T/log"
	grep -q 'rendernode' "$T/log"
	victims_untouched
	assert_clean vm

	# A character device that is not a render node (a DRM primary node, minor 0) is refused too.
	rm "$VGPUVM_DEV_ROOT/dri/renderD130"
	mknod "$VGPUVM_DEV_ROOT/dri/renderD130" c 226 0
	start_vm vm
	wait_vm 30
	[ "$VM_STATUS" -eq 65 ]
	[ "$(stat -c %u "$VGPUVM_DEV_ROOT/dri/renderD130")" = 0 ]
}

@test "a disk image reached through a user's directory: a planted symlink or hard link to root's file is refused" {
	plain vm "\"disks\": [{\"file\": \"$T/home/disk.img\", \"format\": \"raw\"}]"
	ln -s "$T/victim" "$T/home/disk.img"
	start_vm vm
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 77 ]
	grep -q "$T/home/disk.img is a symbolic link in a directory that someone else can write" "$T/log"
	refute grep -q "started QEMU" "$T/log"
	assert_clean vm

	rm "$T/home/disk.img"
	ln "$T/victim" "$T/home/disk.img"
	start_vm vm
	wait_vm 30
	[ "$VM_STATUS" -eq 77 ]
	grep -q "it is root's, in a directory that someone other than root can write" "$T/log"
	victims_untouched
	assert_clean vm

	# The user's own image in the user's directory is handed to QEMU as an fd; QEMU's dynamic uid could not open it.
	rm "$T/home/disk.img"
	truncate -s 1M "$T/home/disk.img"
	chown 65534 "$T/home/disk.img"
	chmod 0600 "$T/home/disk.img"
	start_vm vm
	wait_log 'is running'
	q=$(qemu_pid)
	ls -l "/proc/$q/fd" | grep -q "$T/home/disk.img"
	[ "$("$VGPUVM" qmp "$(vm_name vm)" '{"execute": "query-block"}' | jq -r '.return[0].inserted.file')" = /dev/fdset/1 ]
	run "$VGPUVM" stop "$(vm_name vm)"
	[ "$status" -eq 0 ]
	wait_vm 30
	assert_clean vm
}

@test "a compromised QEMU cannot write or read root's files, signal root's processes, or keep what it opened to everyone" {
	mkdir -m 0777 "$T/out"
	sleep 1000 &
	ROOT_SLEEP=$!
	mknod "$VGPUVM_DEV_ROOT/dri/renderD128" c 226 128
	chmod 0660 "$VGPUVM_DEV_ROOT/dri/renderD128"
	U=$(cat /proc/sys/kernel/random/uuid)
	vgpu_profile vm "{\"parent\": \"mdpy\", \"type\": \"mdpy-vga\", \"uuid\": \"$U\"}" \
		"\"qemu\": \"$HELPERS/try-escape\", \"env\": {\"TRY_ESCAPE_REPORT\": \"$T/out/report\", \"TRY_ESCAPE_QEMU\": \"$QEMU\", \"TRY_ESCAPE_WRITE\": \"/etc/shadow:$T/victim:/proc/sys/kernel/core_pattern\", \"TRY_ESCAPE_READ\": \"/etc/shadow:$T/victim\", \"TRY_ESCAPE_KILL\": \"ppid:$ROOT_SLEEP:1\", \"TRY_ESCAPE_CHMOD\": \"$VGPUVM_DEV_ROOT/vfio/0\"}"
	fakesys_precreate "$S" mdpy mdpy-vga "$U"
	G=$(basename "$(readlink "$S/bus/mdev/devices/$U/iommu_group")")
	NODE=$VGPUVM_DEV_ROOT/vfio/$G
	sed -i "s|$VGPUVM_DEV_ROOT/vfio/0|$NODE|" "$T/vm.json"
	start_vm vm
	wait_log 'is running'
	cat "$T/out/report"
	grep -qx done "$T/out/report"
	# Nor can it reach the spawner, which forks as root: neither end of its socket pair is QEMU's.
	pair=$(spawner_pair "$(spawner_of "$VM_PID")")
	[ -n "$pair" ]
	refute_holds "$(qemu_pid)" $pair
	for try in "write /etc/shadow" "write $T/victim" "write /proc/sys/kernel/core_pattern" "read /etc/shadow" \
		"read $T/victim" "kill ppid" "kill $ROOT_SLEEP" "kill 1" 'setuid(0)'; do
		grep -qF "$try: refused" "$T/out/report"
	done
	# It may chmod what it was lent (it is the owner for the run); the give-back undoes it.
	grep -qF "chmod $NODE: ALLOWED" "$T/out/report"
	[ "$(stat -c %a "$NODE")" = 666 ]
	kill -0 "$ROOT_SLEEP"
	run "$VGPUVM" stop "$(vm_name vm)"
	[ "$status" -eq 0 ]
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	[ "$(stat -c %u:%g:%a "$NODE")" = 0:0:600 ]
	grep -q "gave $NODE back to uid 0 (group 0, mode 0600)" "$T/log"
	victims_untouched
	kill "$ROOT_SLEEP"

	# The same for the render node of a GL display, whose QEMU then fails to start (no GPU here): given back too.
	fake=$(jq -c '.env.TRY_ESCAPE_CHMOD = "'"$VGPUVM_DEV_ROOT/dri/renderD128"'" | .display = {"type": "egl-headless"} | del(.vgpu)' "$T/vm.json")
	echo "$fake" >"$T/vm.json"
	start_vm vm
	wait_vm 60
	cat "$T/log"
	grep -qF "chmod $VGPUVM_DEV_ROOT/dri/renderD128: ALLOWED" "$T/out/report"
	grep -q "lent $VGPUVM_DEV_ROOT/dri/renderD128" "$T/log"
	[ "$(stat -c %u:%g:%a "$VGPUVM_DEV_ROOT/dri/renderD128")" = 0:0:660 ]
	victims_untouched
	assert_clean vm
}

@test "QEMU's QMP cannot write root's files: screendump to a root file fails for QEMU's uid" {
	plain vm '"extra_args": ["-device", "VGA"]'
	start_vm vm
	wait_log 'is running'
	run "$VGPUVM" qmp "$(vm_name vm)" "{\"execute\": \"screendump\", \"arguments\": {\"filename\": \"$T/victim\"}}"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"Permission denied"* ]]
	victims_untouched
	run "$VGPUVM" qmp "$(vm_name vm)" '{"execute": "screendump", "arguments": {"filename": "/root/vgpuvm-pwned.ppm"}}'
	[ "$status" -eq 1 ]
	[ ! -e /root/vgpuvm-pwned.ppm ]
	run "$VGPUVM" stop "$(vm_name vm)"
	wait_vm 30
	assert_clean vm
}

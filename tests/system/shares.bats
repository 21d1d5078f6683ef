#!/usr/bin/env bats
# Shares through virtiofs on real parts: the Linux test guest (tests/guest-linux/shares.sh) mounts a share and reads
# what the test wrote, writes it, and cannot write a read-only one; virtiofsd's confinement from /proc; the faults:
# virtiofsd killed, the supervisor killed, virtiofsd missing, a share reached through someone else's symlink.

load lib/vm
load lib/control
load lib/operate
load lib/assert
load ../lib/linux-guest

setup() {
	vm_setup
	operate_setup
	# QEMU's uid writes the guest's console file in $T by path.
	chmod 0711 "$T"
	HELPER_PIDS=()
	[ -x /usr/lib/qemu/virtiofsd ] || [ -x /usr/libexec/virtiofsd ] || [ -x /usr/lib/virtiofsd ] ||
		skip "virtiofsd is not installed (apt-get install qemu-system-common)"
	mkdir -p "$T/rw" "$T/ro"
	echo "from-the-host-$$" >"$T/rw/hello"
	echo "read-only-$$" >"$T/ro/hello"
}

teardown() {
	for p in "${HELPER_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	operate_teardown
	vm_teardown
}

# virtiofsd_pid [LOG]: the pid the log says virtiofsd was started with (the last one), kept for the teardown.
virtiofsd_pid() {
	local p
	p=$(sed -n 's/.*started virtiofsd (pid \([0-9]*\)).*/\1/p' "${1:-$T/log}" | tail -n1)
	[ -n "$p" ] && HELPER_PIDS+=("$p")
	echo "$p"
}

# The process that serves the guest: virtiofsd's child in its own namespaces (the helper waits for it).
virtiofsd_worker() {
	local w
	w=$(cat /proc/"$1"/task/"$1"/children 2>/dev/null | awk '{print $1}')
	[ -n "$w" ] && HELPER_PIDS+=("$w")
	echo "$w"
}

# An idle VM: SeaBIOS with nothing to boot sits there, running, until it is stopped.
idle_profile() {
	profile "$1" "\"memory\": \"256M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, \"shutdown\": {\"powerdown_timeout\": 1, \"quit_timeout\": 5}, \"shares\": [{\"path\": \"$T/rw\", \"tag\": \"rw\"}]${2:+, $2}"
}

@test "shares: the guest mounts a share, reads the host's file and writes one; a read-only share refuses writes" {
	linux_guest_setup
	profile lg "$(linux_guest_json tests/guest-linux/shares.sh), \"shares\": [{\"path\": \"$T/rw\", \"tag\": \"rw\"}, {\"path\": \"$T/ro\", \"tag\": \"ro\", \"readonly\": true}]"
	start_vm lg
	wait_vm 180
	cat "$T/log"
	[ "$VM_STATUS" -eq 0 ]
	[ "$(linux_guest_exit)" = 0 ]
	cat "$LG_WORK/report"
	grep -qx 'mount-rw yes' "$LG_WORK/report"
	grep -qx "read-rw from-the-host-$$" "$LG_WORK/report"
	grep -qx 'write-rw yes' "$LG_WORK/report"
	[ "$(cat "$T/rw/written")" = from-guest ]
	grep -qx 'mount-ro yes' "$LG_WORK/report"
	grep -qx "read-ro read-only-$$" "$LG_WORK/report"
	grep -qx 'write-ro refused' "$LG_WORK/report"
	grep -qx 'create-ro refused' "$LG_WORK/report"
	# The host's side is unchanged.
	[ "$(cat "$T/ro/hello")" = "read-only-$$" ]
	[ ! -e "$T/ro/new" ]
	# QEMU got the shared memory backend and a device for each tag.
	grep -q 'started virtiofsd-0 (pid [0-9]*) as root, in a sandbox of its own' "$T/log"
	grep -q 'started virtiofsd-1 (pid [0-9]*) as root, in a sandbox of its own' "$T/log"
	assert_clean lg
}

@test "shares: virtiofsd is root in its own namespaces with only its capabilities, NO_NEW_PRIVS and seccomp; status and the record name it" {
	idle_profile idle
	start_vm idle
	wait_log 'is running' 120
	v=$(virtiofsd_pid)
	[ -n "$v" ]
	w=$(virtiofsd_worker "$v")
	[ -n "$w" ]
	# The helper only waits for its child: no capability at all, none it could get back.
	[ "$(awk '/^CapEff/{print $2}' /proc/"$v"/status)" = 0000000000000000 ]
	[ "$(awk '/^CapBnd/{print $2}' /proc/"$v"/status)" = 0000000000000000 ]
	[ "$(awk '/^NoNewPrivs/{print $2}' /proc/"$v"/status)" = 1 ]
	# The worker: root's uid, virtiofsd's own set (chown, dac_override, fowner, fsetid, setgid, setuid, mknod,
	# setfcap), not CAP_SYS_ADMIN (its sandbox is made), an empty bounding set, NO_NEW_PRIVS, a seccomp filter.
	[ "$(awk '/^Uid/{print $2}' /proc/"$w"/status)" = 0 ]
	[ "$(awk '/^CapEff/{print $2}' /proc/"$w"/status)" = 00000000880000db ]
	[ "$(awk '/^CapPrm/{print $2}' /proc/"$w"/status)" = 00000000880000db ]
	[ "$(awk '/^CapBnd/{print $2}' /proc/"$w"/status)" = 0000000000000000 ]
	[ "$(awk '/^NoNewPrivs/{print $2}' /proc/"$w"/status)" = 1 ]
	[ "$(awk '/^Seccomp:/{print $2}' /proc/"$w"/status)" = 2 ]
	# Its own mount, pid and network namespaces; its root is the share and nothing else.
	for ns in mnt pid net; do
		[ "$(readlink /proc/"$w"/ns/$ns)" != "$(readlink /proc/1/ns/$ns)" ]
	done
	[ "$(ls /proc/"$w"/root/)" = hello ]
	# No vhost-user socket is left in the runtime directory: QEMU's end was connected before virtiofsd started.
	[ "$(find "$VGPUVM_RUNTIME_DIR/$(vm_name idle)" -type s | wc -l)" -eq 1 ]
	st=$(json_of "$VGPUVM" status "$(vm_name idle)" --json)
	[ "$(jq -r '.helpers[0].name' <<<"$st")" = virtiofsd ]
	[ "$(jq -r '.helpers[0].pid' <<<"$st")" = "$v" ]
	[ "$(jq -r '.helpers[0].running' <<<"$st")" = true ]
	rec=$VGPUVM_RUNTIME_DIR/$(vm_name idle)/record.json
	[ "$(jq -r '.helpers[0].name' "$rec")" = virtiofsd ]
	[ "$(jq -r '.helpers[0].pid' "$rec")" = "$v" ]
	# The host's mount table did not get the share's mount.
	refute grep -q "$VGPUVM_RUNTIME_DIR" /proc/self/mountinfo
	"$VGPUVM" stop "$(vm_name idle)" --force
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	pid_gone "$v" 10
	pid_gone "$w" 10
	assert_clean idle
}

@test "shares: virtiofsd killed while the VM runs stops the VM cleanly, with a message naming virtiofsd (exit 69)" {
	idle_profile idle
	start_vm idle
	wait_log 'is running' 120
	v=$(virtiofsd_pid)
	q=$(qemu_pid)
	kill -KILL "$v"
	wait_vm 60
	cat "$T/log"
	[ "$VM_STATUS" -eq 69 ]
	grep -q "error: virtiofsd (pid $v), which the VM needs, was killed by SIGKILL while the VM ran" "$T/log"
	grep -q 'the VM was stopped because virtiofsd, which it needs, ended' "$T/log"
	pid_gone "$q" 10
	assert_clean idle
	# Its child, the worker, went with it (virtiofsd's own parent-death signal).
	refute pgrep -f -- "source=$VGPUVM_RUNTIME_DIR/$(vm_name idle)/"
}

@test "shares: after a supervisor SIGKILL no virtiofsd survives; cleanup removes its mount point" {
	idle_profile idle
	start_vm idle
	wait_log 'is running' 120
	v=$(virtiofsd_pid)
	w=$(virtiofsd_worker "$v")
	q=$(qemu_pid)
	kill -KILL "$VM_PID"
	wait_vm 10 || true
	[ "$VM_STATUS" -eq 137 ]
	pid_gone "$v" 20
	pid_gone "$w" 20
	pid_gone "$q" 20
	[ -e "$VGPUVM_RUNTIME_DIR/$(vm_name idle)/record.json" ]
	run "$VGPUVM" cleanup "$(vm_name idle)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e "$VGPUVM_RUNTIME_DIR/$(vm_name idle)" ]
	# The share itself is untouched.
	[ "$(cat "$T/rw/hello")" = "from-the-host-$$" ]
}

@test "shares: virtiofsd missing: exit 69 naming the package, nothing left behind" {
	idle_profile idle
	VGPUVM_VIRTIOFSD=$T/no/virtiofsd run timeout 60 "$VGPUVM" run "$T/idle.json"
	echo "$output"
	[ "$status" -eq 69 ]
	[[ $output == *"virtiofsd is not there ($T/no/virtiofsd); install it (Debian: apt-get install qemu-system-common on Debian 12, virtiofsd on newer releases)"* ]]
	[ ! -e "$VGPUVM_RUNTIME_DIR/$(vm_name idle)" ]
	refute pgrep -f -- "-name $(vm_name idle)"
	VGPUVM_VIRTIOFSD=$T/no/virtiofsd run "$VGPUVM" argv "$T/idle.json"
	[ "$status" -eq 69 ]
}

@test "shares: a share reached through a symlink in a directory someone else can write is refused (77), not followed" {
	# Not sticky: anyone can replace what is in it.
	mkdir "$T/pub"
	chmod 0777 "$T/pub"
	ln -s "$T/rw" "$T/pub/link"
	chown -h 65534:65534 "$T/pub/link"
	profile idle "\"memory\": \"256M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, \"shares\": [{\"path\": \"$T/pub/link\", \"tag\": \"rw\"}]"
	run timeout 60 "$VGPUVM" run "$T/idle.json"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"$T/pub/link is a symbolic link in a directory that someone else can write"* ]]
	assert_clean idle
	# Nor is another user's symlink in a sticky directory that everyone can write (/tmp), as the kernel's
	# protected_symlinks.
	mkdir -m 1777 "$T/sticky"
	ln -s "$T/rw" "$T/sticky/link"
	chown -h 65534:65534 "$T/sticky/link"
	profile idle3 "\"memory\": \"256M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, \"shares\": [{\"path\": \"$T/sticky/link\", \"tag\": \"rw\"}]"
	run timeout 60 "$VGPUVM" run "$T/idle3.json"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"$T/sticky/link is a symbolic link of uid 65534 in a sticky directory that others can write"* ]]
	assert_clean idle3
	# A directory of root's in such a directory is refused too.
	mkdir "$T/pub/roots"
	profile idle2 "\"memory\": \"256M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, \"shares\": [{\"path\": \"$T/pub/roots\", \"tag\": \"rw\"}]"
	run timeout 60 "$VGPUVM" run "$T/idle2.json"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"it is root's, in a directory that someone other than root can write"* ]]
	assert_clean idle2
}

@test "shares: with the Rust virtiofsd (a stand-in that has its options), the options are its own" {
	mkdir -m 0755 "$T/rust"
	cat >"$T/rust/virtiofsd" <<'SH'
#!/bin/sh
case "$1" in --help) echo "      --shared-dir <SHARED_DIR>"; echo "      --readonly"; exit 0 ;; esac
echo "args: $*"
exit 3
SH
	chmod 0755 "$T/rust/virtiofsd"
	profile idle "\"memory\": \"256M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, \"shares\": [{\"path\": \"$T/ro\", \"tag\": \"ro\", \"readonly\": true}], \"start_timeout\": 20"
	VGPUVM_VIRTIOFSD=$T/rust/virtiofsd run timeout 120 "$VGPUVM" run "$T/idle.json"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"virtiofsd: args: --fd=3 --shared-dir=$VGPUVM_RUNTIME_DIR/$(vm_name idle)/fs-0 --sandbox=namespace --seccomp=kill --rlimit-nofile=0 --log-level=warn --readonly"* ]]
	assert_clean idle
}

@test "shares: QEMU killed ends virtiofsd too; the VM's end is QEMU's (137), not blamed on virtiofsd" {
	idle_profile idle
	start_vm idle
	wait_log 'is running' 120
	v=$(virtiofsd_pid)
	q=$(qemu_pid)
	kill -KILL "$q"
	wait_vm 60
	cat "$T/log"
	[ "$VM_STATUS" -eq 137 ]
	grep -q "QEMU (pid $q) was killed by SIGKILL" "$T/log"
	refute grep -q 'which the VM needs' "$T/log"
	pid_gone "$v" 10
	assert_clean idle
}

@test "shares: beside UEFI and a TPM (their fds before the share's), the guest mounts the share" {
	[ -e /usr/share/qemu/firmware/60-edk2-x86_64.json ] || skip "ovmf is not installed"
	command -v swtpm_setup >/dev/null || skip "swtpm-tools is not installed"
	export VGPUVM_STATE_DIR=$T/state
	linux_guest_setup
	LG_KERNEL=$(linux_guest_efi_kernel)
	profile lg "$(linux_guest_json tests/guest-linux/shares.sh), \"machine\": \"q35\", \"firmware\": \"uefi\", \"tpm\": true, \"shares\": [{\"path\": \"$T/rw\", \"tag\": \"rw\"}]"
	start_vm lg
	wait_vm 240
	cat "$T/log"
	[ "$VM_STATUS" -eq 0 ]
	cat "$LG_WORK/report"
	grep -qx "read-rw from-the-host-$$" "$LG_WORK/report"
	grep -qx 'write-rw yes' "$LG_WORK/report"
	grep -qx 'mount-ro no' "$LG_WORK/report"
	grep -q 'started swtpm (pid' "$T/log"
	grep -q 'started virtiofsd (pid' "$T/log"
	assert_clean lg
}

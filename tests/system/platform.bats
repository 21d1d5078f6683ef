#!/usr/bin/env bats
# The VM's platform on real parts: UEFI from QEMU's firmware descriptors (Debian's ovmf) with the NVRAM kept in the
# state directory, a TPM through swtpm (a helper process), seen from inside the Linux test guest
# (tests/guest-linux/platform.sh); swtpm's confinement from /proc; the faults: swtpm killed, the supervisor killed,
# ovmf or swtpm missing; and `vgpuvm forget`.

load lib/vm
load lib/control
load lib/operate
load lib/assert
load ../lib/linux-guest

# Names of their own: lib/vm's teardown kills every QEMU named "vgpuvm-test-N-..." by pattern, which on a machine
# shared with other checkouts running their own test N would hit these VMs too.
profile() {
	printf '{"name": "vgpuvm-platform-%s-%s", %s}\n' "$BATS_TEST_NUMBER" "$1" "$2" >"$T/$1.json"
}

vm_name() {
	echo "vgpuvm-platform-$BATS_TEST_NUMBER-$1"
}

setup() {
	vm_setup
	operate_setup
	# QEMU's and swtpm's uid reach the state directory by path: $T must let them pass.
	chmod 0711 "$T"
	export VGPUVM_STATE_DIR=$T/state
	unset VGPUVM_FIRMWARE_DIR
	HELPER_PIDS=()
	[ -e /usr/share/qemu/firmware/60-edk2-x86_64.json ] || skip "ovmf is not installed (apt-get install ovmf)"
	command -v swtpm_setup >/dev/null || skip "swtpm-tools is not installed (apt-get install swtpm swtpm-tools)"
}

teardown() {
	for p in "${HELPER_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	operate_teardown
	vm_teardown
}

statedir() {
	echo "$VGPUVM_STATE_DIR/$(vm_name "$1")"
}

# swtpm_pid [LOG]: the pid the log says swtpm was started with (the last one), kept for the teardown.
swtpm_pid() {
	local p
	p=$(sed -n 's/.*started swtpm (pid \([0-9]*\)).*/\1/p' "${1:-$T/log}" | tail -n1)
	[ -n "$p" ] && HELPER_PIDS+=("$p")
	echo "$p"
}

# An idle VM: UEFI with no bootable disk sits in the firmware's shell, running, until it is stopped.
idle_profile() {
	profile "$1" "\"memory\": \"256M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, \"machine\": \"q35\", \"firmware\": \"uefi\", \"tpm\": true, \"shutdown\": {\"powerdown_timeout\": 1, \"quit_timeout\": 5}${2:+, $2}"
}

# The Linux guest through UEFI with a TPM, with more profile keys in $1.
guest_profile_uefi() {
	linux_guest_setup
	LG_KERNEL=$(linux_guest_efi_kernel)
	profile lg "$(linux_guest_json tests/guest-linux/platform.sh), \"machine\": \"q35\", \"tpm\": true, $1"
}

@test "platform: the guest boots through UEFI and sees a TPM 2.0; its EFI variable and its TPM's state survive a second run" {
	guest_profile_uefi '"firmware": "uefi"'
	echo "first-run-$$" >"$LG_WORK/mark"
	start_vm lg
	wait_vm 180
	cat "$T/log"
	[ "$VM_STATUS" -eq 0 ]
	[ "$(linux_guest_exit)" = 0 ]
	cat "$LG_WORK/report"
	grep -qx 'efi yes' "$LG_WORK/report"
	grep -qx 'efivar written' "$LG_WORK/report"
	grep -qx 'tpm 2' "$LG_WORK/report"
	grep -qx 'tpm-driver tpm_crb' "$LG_WORK/report"
	grep -qx 'tpm-ekcert yes' "$LG_WORK/report"
	grep -q 'made the VM.s NVRAM .*/nvram.fd from /usr/share/OVMF/' "$T/log"
	grep -q "made the TPM's state in .* with an EK certificate" "$T/log"
	resets1=$(sed -n 's/^tpm-resets //p' "$LG_WORK/report")
	# The state directory: 0700, QEMU's user's, with the NVRAM and the TPM's state in it.
	d=$(statedir lg)
	uid=$(sed -n 's/.*QEMU runs as .* (uid \([0-9]*\),.*/\1/p' "$T/log")
	[ "$(stat -c '%a %u' "$d")" = "700 $uid" ]
	[ "$(stat -c '%u %h' "$d/nvram.fd")" = "$uid 1" ]
	[ -s "$d/tpm/tpm2-00.permall" ]
	assert_clean lg
	[ ! -e "$VGPUVM_RUNTIME_DIR/$(vm_name lg)/record.json" ]

	echo "second-run" >"$LG_WORK/mark"
	start_vm lg
	wait_vm 180
	cat "$LG_WORK/report"
	[ "$VM_STATUS" -eq 0 ]
	grep -qx "efivar first-run-$$" "$LG_WORK/report"
	refute grep -q 'made the' "$T/log"
	resets2=$(sed -n 's/^tpm-resets //p' "$LG_WORK/report")
	# The TPM counts its resets in its own persistent state: a fresh TPM would count the same again.
	[ "$resets2" -eq $((resets1 + 1)) ]
	assert_clean lg
}

@test "platform: Secure Boot is on in the guest (q35 with SMM, enrolled keys); the TPM 1.2 is on TIS" {
	guest_profile_uefi '"firmware": {"type": "uefi", "secure_boot": true}'
	sed -i 's/"tpm": true/"tpm": {"version": "1.2"}/' "$T/lg.json"
	"$VGPUVM" argv "$T/lg.json" | grep -qx 'q35,smm=on'
	"$VGPUVM" argv "$T/lg.json" | grep -qx 'driver=cfi.pflash01,property=secure,value=on'
	"$VGPUVM" argv "$T/lg.json" | grep -qx 'tpm-tis,tpmdev=vgpuvm-tpm'
	echo sb >"$LG_WORK/mark"
	start_vm lg
	wait_vm 180
	cat "$T/log"
	cat "$LG_WORK/report"
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'UEFI firmware: .*40-edk2-x86_64-secure-enrolled.json (Secure Boot, with SMM)' "$T/log"
	grep -qx 'secureboot 1' "$LG_WORK/report"
	grep -qx 'tpm 1' "$LG_WORK/report"
	[ -s "$(statedir lg)/tpm/tpm-00.permall" ]
}

@test "platform: swtpm runs as QEMU's user with no capabilities, NO_NEW_PRIVS and seccomp; status and the crash record name it" {
	idle_profile idle
	start_vm idle
	wait_log 'is running' 120
	s=$(swtpm_pid)
	q=$(qemu_pid)
	[ -n "$s" ]
	[ "$(awk '/^Uid/{print $2}' /proc/"$s"/status)" = "$(awk '/^Uid/{print $2}' /proc/"$q"/status)" ]
	[ "$(awk '/^CapEff/{print $2}' /proc/"$s"/status)" = 0000000000000000 ]
	[ "$(awk '/^CapPrm/{print $2}' /proc/"$s"/status)" = 0000000000000000 ]
	[ "$(awk '/^NoNewPrivs/{print $2}' /proc/"$s"/status)" = 1 ]
	[ "$(awk '/^Seccomp:/{print $2}' /proc/"$s"/status)" = 2 ]
	# Its control channel is a socket pair: no path anywhere, and no fd of the supervisor's but its own.
	[ "$(find "$VGPUVM_RUNTIME_DIR/$(vm_name idle)" -type s | wc -l)" -eq 1 ]
	st=$(json_of "$VGPUVM" status "$(vm_name idle)" --json)
	[ "$(jq -r '.helpers[0].name' <<<"$st")" = swtpm ]
	[ "$(jq -r '.helpers[0].pid' <<<"$st")" = "$s" ]
	[ "$(jq -r '.helpers[0].running' <<<"$st")" = true ]
	[ "$(jq -r '.firmware' <<<"$st")" = uefi ]
	[ "$(jq -r '.state_dir' <<<"$st")" = "$(statedir idle)" ]
	rec=$VGPUVM_RUNTIME_DIR/$(vm_name idle)/record.json
	[ "$(jq -r '.helpers[0].pid' "$rec")" = "$s" ]
	[ "$(jq -r '.state.dir' "$rec")" = "$(statedir idle)" ]
	[ "$(jq -r '.state.uid' "$rec")" = "$(awk '/^Uid/{print $2}' /proc/"$q"/status)" ]
	"$VGPUVM" stop "$(vm_name idle)" --force
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	pid_gone "$s" 10
	grep -q "swtpm (pid $s) exited with status 0" "$T/log"
	assert_clean idle
}

@test "platform: swtpm killed while the VM runs stops the VM cleanly, with a message naming swtpm (exit 69)" {
	idle_profile idle
	start_vm idle
	wait_log 'is running' 120
	s=$(swtpm_pid)
	q=$(qemu_pid)
	kill -KILL "$s"
	wait_vm 60
	cat "$T/log"
	[ "$VM_STATUS" -eq 69 ]
	grep -q "error: swtpm (pid $s), which the VM needs, was killed by SIGKILL while the VM ran" "$T/log"
	grep -q "shutdown: swtpm (pid $s) was killed by SIGKILL; pressing the power button" "$T/log"
	grep -q 'asking QEMU to quit' "$T/log"
	grep -q 'the VM was stopped because swtpm, which it needs, ended' "$T/log"
	pid_gone "$q" 10
	assert_clean idle
	[ -s "$(statedir idle)/tpm/tpm2-00.permall" ]
}

@test "platform: after a supervisor SIGKILL no helper survives; cleanup says so and keeps the state" {
	idle_profile idle
	start_vm idle
	wait_log 'is running' 120
	s=$(swtpm_pid)
	q=$(qemu_pid)
	kill -KILL "$VM_PID"
	wait_vm 10 || true
	[ "$VM_STATUS" -eq 137 ]
	# The parent-death signal, set again after the change of uid, ends swtpm and QEMU (a zombie counts as ended).
	pid_gone "$s" 20
	pid_gone "$q" 20
	run "$VGPUVM" cleanup "$(vm_name idle)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"kept the VM's state in $(statedir idle)"* ]]
	[ ! -e "$VGPUVM_RUNTIME_DIR/$(vm_name idle)" ]
	[ -s "$(statedir idle)/nvram.fd" ]
	[ -s "$(statedir idle)/tpm/tpm2-00.permall" ]
	# The next run takes the same state.
	start_vm idle
	wait_log 'is running' 120
	swtpm_pid >/dev/null
	refute grep -q 'made the' "$T/log"
	"$VGPUVM" stop "$(vm_name idle)" --force
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
}

@test "platform: no UEFI firmware described (ovmf missing): exit 69 naming the package, nothing left behind" {
	idle_profile idle
	mkdir -m 0755 "$T/nofw"
	VGPUVM_FIRMWARE_DIR=$T/nofw run "$VGPUVM" run "$T/idle.json"
	echo "$output"
	[ "$status" -eq 69 ]
	[[ $output == *"no UEFI firmware without enrolled Secure Boot keys for machine \"q35\""* ]]
	[[ $output == *"apt-get install ovmf"* ]]
	[ ! -e "$(statedir idle)" ]
	[ ! -e "$VGPUVM_RUNTIME_DIR/$(vm_name idle)" ]
	refute pgrep -f -- "-name $(vm_name idle)"
	VGPUVM_FIRMWARE_DIR=$T/nofw run "$VGPUVM" argv "$T/idle.json"
	[ "$status" -eq 69 ]
}

@test "platform: swtpm missing: exit 69 naming swtpm's packages, nothing left behind" {
	idle_profile idle '"qemu": "/usr/bin/qemu-system-x86_64"'
	mkdir "$T/bin"
	PATH=$T/bin run "$VGPUVM" run "$T/idle.json"
	echo "$output"
	[ "$status" -eq 69 ]
	[[ $output == *"swtpm is not in PATH; install it (Debian: apt-get install swtpm swtpm-tools)"* ]]
	[ ! -e "$(statedir idle)" ]
	[ ! -e "$VGPUVM_RUNTIME_DIR/$(vm_name idle)" ]
}

@test "platform: the state follows QEMU's uid from one run to the next (a changed user, as a dynamic uid may change)" {
	idle_profile idle '"user": "nobody"'
	start_vm idle
	wait_log 'is running' 120
	swtpm_pid >/dev/null
	"$VGPUVM" stop "$(vm_name idle)" --force
	wait_vm 30
	d=$(statedir idle)
	[ "$(stat -c %u "$d/tpm/tpm2-00.permall")" = 65534 ]
	sed -i 's/"user": "nobody"/"user": "daemon"/' "$T/idle.json"
	start_vm idle
	wait_log 'is running' 120
	swtpm_pid >/dev/null
	"$VGPUVM" stop "$(vm_name idle)" --force
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 0 ]
	grep -q "the state of VM $(vm_name idle) in $d belonged to uid 65534; it is uid 1's now" "$T/log"
	[ "$(find "$d" -not -uid 1 | wc -l)" -eq 0 ]
	[ "$(stat -c '%a' "$d")" = 700 ]
}

@test "platform: a symlink or a hard link planted in the state directory is refused, never followed" {
	idle_profile idle '"user": "nobody"'
	d=$(statedir idle)
	mkdir -p "$d"
	ln -s /etc/shadow "$d/nvram.fd"
	run "$VGPUVM" run "$T/idle.json"
	echo "$output"
	[ "$status" -eq 77 ]
	[ "$(stat -c %u /etc/shadow)" = 0 ]
	# Root gives the state to QEMU's uid of the run, entry by entry: a file that is also elsewhere stops it.
	rm "$d/nvram.fd"
	touch "$T/other"
	ln "$T/other" "$d/planted"
	sed -i 's/"user": "nobody"/"user": "daemon"/' "$T/idle.json"
	run "$VGPUVM" run "$T/idle.json"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"planted has other hard links"* ]]
	[ "$(stat -c %u "$T/other")" = 0 ]
}

@test "forget: asks for --yes without a terminal, refuses while the VM runs, then removes the state" {
	idle_profile idle
	start_vm idle
	wait_log 'is running' 120
	swtpm_pid >/dev/null
	n=$(vm_name idle)
	run "$VGPUVM" forget "$n" </dev/null
	[ "$status" -eq 64 ]
	[[ $output == *"say so with --yes"* ]]
	run "$VGPUVM" forget "$n" --yes
	echo "$output"
	[ "$status" -eq 75 ]
	[[ $output == *"is running (supervisor pid $VM_PID)"* ]]
	[ -d "$(statedir idle)" ]
	"$VGPUVM" stop "$n" --force
	wait_vm 30
	run "$VGPUVM" forget "$n" --yes
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$n: removed its state $(statedir idle)" ]
	[ ! -e "$(statedir idle)" ]
	[ ! -e "$VGPUVM_RUNTIME_DIR/$n" ]
	run "$VGPUVM" forget "$n" --yes
	[ "$status" -eq 0 ]
	[[ $output == *"no state to forget"* ]]
	# cleanup never touches a state directory.
	mkdir -p "$(statedir idle)"
	run "$VGPUVM" cleanup "$n"
	[ -d "$(statedir idle)" ]
}

@test "platform: a restart starts swtpm and QEMU again through the spawner, both the filtered supervisor's children, nothing refused" {
	idle_profile idle '"restart": "on-failure", "restart_delay": 1'
	start_vm idle
	wait_log 'is running' 120
	s1=$(swtpm_pid)
	q1=$(qemu_pid)
	[ "$(awk '/^Seccomp:/{print $2}' /proc/"$VM_PID"/status)" = 2 ]
	kill -KILL "$q1"
	# The second try: swtpm is stopped with the first QEMU, then both are started again under the filter.
	seen=$(timeout 120 tail -n +1 --pid="$VM_PID" -f "$T/log" 2>/dev/null | grep -m 2 -c 'is running')
	[ "$seen" -eq 2 ]
	s2=$(swtpm_pid)
	q2=$(sed -n 's/.*started QEMU (pid \([0-9]*\)).*/\1/p' "$T/log" | tail -n1)
	echo "supervisor $VM_PID: swtpm $s1 then $s2, QEMU $q1 then $q2"
	[ -n "$s2" ]
	[ "$s2" != "$s1" ]
	[ "$q2" != "$q1" ]
	[ "$(awk '/^Seccomp:/{print $2}' /proc/"$VM_PID"/status)" = 2 ]
	[ "$(awk '/^PPid:/{print $2}' /proc/"$s2"/status)" = "$VM_PID" ]
	[ "$(awk '/^PPid:/{print $2}' /proc/"$q2"/status)" = "$VM_PID" ]
	[ "$(awk '/^NoNewPrivs/{print $2}' /proc/"$s2"/status)" = 1 ]
	[ "$(awk '/^CapEff/{print $2}' /proc/"$s2"/status)" = 0000000000000000 ]
	st=$(json_of "$VGPUVM" status "$(vm_name idle)" --json)
	[ "$(jq -r '.helpers[0].pid' <<<"$st")" = "$s2" ]
	[ "$(jq -r '.restarts' <<<"$st")" = 1 ]
	run "$VGPUVM" stop "$(vm_name idle)"
	[ "$status" -eq 0 ]
	wait_vm 60
	[ "$VM_STATUS" -eq 0 ]
	refute grep "seccomp filter refused" "$T/log"
	assert_clean idle
}

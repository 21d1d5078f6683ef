#!/usr/bin/env bats
# Least privilege: QEMU runs as the profile's user with no capabilities, NO_NEW_PRIVS and seccomp; the supervisor
# confines itself once QEMU runs; /dev/vfio/GROUP is lent to QEMU's user and given back on every way out; an
# ordinary user runs a VM on an mdev made beforehand. QEMU is the real one under TCG, or tests/helpers/try-escape in
# its place (it tries forbidden things, then execs the real QEMU).

load lib/vm
load lib/fakesys
load lib/control
load lib/operate
load lib/assert
load lib/spawner

setup() {
	fakesys_vm_setup
	FAKE_QEMU_PIDS=()
}

teardown() {
	fakesys_vm_teardown
}

# plain NAME [MORE-JSON]: a VM with no vGPU, run by the real QEMU under TCG.
plain() {
	profile "$1" "\"memory\": \"64M\", \"accel\": \"tcg\", \"serial\": \"none\", \"shutdown\": {\"powerdown_timeout\": 1, \"quit_timeout\": 5}${2:+, $2}"
}

# status_of PID FIELD: a field of /proc/PID/status, tabs squeezed to spaces.
status_of() {
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"
}

owner_of() {
	stat -c %u "$1"
}

# The supervisor's filter must never have refused anything it needs.
assert_nothing_refused() {
	if grep -q "seccomp filter refused" "$T/log"; then
		grep "seccomp filter refused" "$T/log"
		return 1
	fi
}

stop_and_check() {
	run "$VGPUVM" stop "$(vm_name "$1")"
	echo "$output"
	[ "$status" -eq 0 ]
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	assert_nothing_refused
	assert_clean "$1"
}

@test "QEMU runs as the profile's user, with no capabilities, NO_NEW_PRIVS and seccomp; so is the supervisor confined" {
	plain vm '"user": "nobody"'
	start_vm vm
	wait_log 'is running'
	q=$(qemu_pid)
	[ "$(status_of "$q" Uid)" = "65534 65534 65534 65534" ]
	[ "$(status_of "$q" Gid)" = "65534 65534 65534 65534" ]
	[ "$(status_of "$q" CapEff)" = 0000000000000000 ]
	[ "$(status_of "$q" CapPrm)" = 0000000000000000 ]
	[ "$(status_of "$q" CapBnd)" = 0000000000000000 ]
	[ "$(status_of "$q" NoNewPrivs)" = 1 ]
	[ "$(status_of "$q" Seccomp)" = 2 ]
	[ "$(status_of "$VM_PID" Seccomp)" = 2 ]
	[ "$(status_of "$q" PPid)" = "$VM_PID" ]
	# What forked it: the spawner, confined as docs/security.md says, and none of its fds QEMU's.
	check_spawner "$(spawner_of "$VM_PID")"
	pair=$(spawner_pair "$(spawner_of "$VM_PID")")
	[ -n "$pair" ]
	refute_holds "$q" $pair
	grep -q 'QEMU runs as nobody (uid 65534, gid 65534), with no capabilities' "$T/log"
	# Status, a screenshot attempt and the QMP pass-through all work under the supervisor's filter.
	run "$VGPUVM" status "$(vm_name vm)"
	[ "$status" -eq 0 ]
	run "$VGPUVM" qmp "$(vm_name vm)" '{"execute": "query-status"}'
	[ "$status" -eq 0 ]
	stop_and_check vm
}

@test "the default user: the vgpuvm system user when there is one, else a dynamic uid of QEMU's own, never root" {
	printf 'root:x:0:0:root:/root:/bin/bash\nvgpuvm:x:64000:64000::/var/lib/vgpuvm:/usr/sbin/nologin\n' >"$T/passwd"
	plain vm
	VGPUVM_PASSWD_FILE=$T/passwd start_vm vm
	wait_log 'is running'
	q=$(qemu_pid)
	[ "$(status_of "$q" Uid)" = "64000 64000 64000 64000" ]
	[ "$(status_of "$q" CapEff)" = 0000000000000000 ]
	refute grep -q 'no "vgpuvm" system user' "$T/log"
	stop_and_check vm

	printf 'root:x:0:0:root:/root:/bin/bash\n' >"$T/passwd"
	VGPUVM_PASSWD_FILE=$T/passwd start_vm vm
	wait_log 'is running'
	q=$(qemu_pid)
	grep -q 'there is no "vgpuvm" system user, so QEMU runs as a dynamic uid of its own' "$T/log"
	read -r uid _ < <(status_of "$q" Uid)
	[ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ]
	[ "$(status_of "$q" Uid)" = "$uid $uid $uid $uid" ]
	[ "$(status_of "$q" Gid)" = "$uid $uid $uid $uid" ]
	[ "$(status_of "$q" Groups)" = "$uid" ]
	[ "$(status_of "$q" CapEff)" = 0000000000000000 ]
	[ "$(status_of "$q" CapBnd)" = 0000000000000000 ]
	[ "$(status_of "$q" NoNewPrivs)" = 1 ]
	# The uid is held (systemd's own lock files, or vgpuvm's where systemd does not run) while the VM runs.
	lock=/run/systemd/dynamic-uid/$uid
	[ -d /run/systemd/system ] || lock=$VGPUVM_RUNTIME_DIR/.dynamic-uid/$uid
	[ "$(cat "$lock")" = "$(vm_name vm)" ]
	stop_and_check vm

	# QEMU never runs as root, even when a profile asks.
	printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n' >"$T/passwd"
	for who in '"user": "root"' '"user": "0"' '"user": "nobody", "group": "root"'; do
		plain vm "$who"
		: >"$T/log"
		VGPUVM_PASSWD_FILE=$T/passwd start_vm vm
		wait_vm 30
		[ "$VM_STATUS" -eq 77 ]
		grep -q 'QEMU never runs as root' "$T/log"
		assert_clean vm
	done
}

@test "a program in QEMU's place cannot regain privilege, spawn, raise a limit or see the supervisor's fds and env" {
	mkdir -m 0777 "$T/out"
	plain vm "\"user\": \"nobody\", \"qemu\": \"$HELPERS/try-escape\", \"env\": {\"TRY_ESCAPE_REPORT\": \"$T/out/report\"}"
	SECRET_TOKEN=hunter2 DISPLAY=:99 start_vm vm
	wait_log 'is running'
	cat "$T/out/report"
	grep -qx done "$T/out/report"
	for try in 'setuid(0)' 'setgid(0)' setgroups 'raise RLIMIT_MEMLOCK' 'raise RLIMIT_NOFILE' \
		'regain CAP_SYS_ADMIN' 'spawn a process' 'ptrace the supervisor' 'exec without no_new_privs'; do
		grep -qF "$try: refused" "$T/out/report"
	done
	refute grep -q ALLOWED "$T/out/report"
	# Only stdin, stdout, stderr and the QMP socket: nothing else the supervisor holds leaks into QEMU.
	grep -qx 'fds: 0 1 2 3' "$T/out/report"
	env=$(sed -n 's/^env: //p' "$T/out/report")
	[[ " $env " == *" DISPLAY "* ]]
	[[ " $env " == *" TRY_ESCAPE_REPORT "* ]]
	[[ " $env " == *" HOME "* ]]
	[[ " $env " != *" SECRET_TOKEN "* ]]
	grep -q '^NoNewPrivs:.*1' "$T/out/report"
	grep -q '^Seccomp:.*2' "$T/out/report"
	stop_and_check vm
}

@test "a profile that relaxes the sandbox's spawn gets a warning, and spawning works (the test above can fail)" {
	mkdir -m 0777 "$T/out"
	plain vm "\"user\": \"nobody\", \"qemu\": \"$HELPERS/try-escape\", \"env\": {\"TRY_ESCAPE_REPORT\": \"$T/out/report\"}, \"sandbox\": {\"spawn\": \"allow\"}"
	start_vm vm
	wait_log 'is running'
	grep -q "warning: the profile relaxes QEMU's sandbox: spawn=allow" "$T/log"
	grep -q 'spawn a process: ALLOWED' "$T/out/report"
	grep -q 'setuid(0): refused' "$T/out/report"
	# Without vgpuvm's no-spawn filter, no_new_privs is all that keeps a setuid binary QEMU execs inert: it must be
	# there all the same.
	grep -q 'exec without no_new_privs: refused' "$T/out/report"
	grep -q '^NoNewPrivs:.*1' "$T/out/report"
	stop_and_check vm
}

@test "/dev/vfio/GROUP is given back when QEMU cannot be executed at all" {
	lent_vm vm
	for qemu in /nonexistent/qemu "$T/not-executable"; do
		: >"$T/not-executable"
		vgpu_profile vm '{"parent": "mdpy", "type": "mdpy-vga"}' "\"user\": \"nobody\", \"qemu\": \"$qemu\""
		start_vm vm
		wait_vm 30
		cat "$T/log"
		[ "$VM_STATUS" -eq 69 ]
		grep -q "lent $NODE to QEMU's user" "$T/log"
		grep -q "cannot execute $qemu" "$T/log"
		[ "$(owner_of "$NODE")" = 0 ]
		[ "$(stat -c %a "$NODE")" = 600 ]
		assert_clean vm
	done
}

@test "QEMU killed by its own sandbox (SIGSYS) gets the hint that names the setting; relaxed, the same works" {
	mkdir -m 0777 "$T/out"
	plain vm '"user": "nobody"'
	start_vm vm
	wait_log 'is running'
	# Migrating to "exec:" makes QEMU fork a shell, which its sandbox forbids.
	run "$VGPUVM" qmp "$(vm_name vm)" "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"exec:touch $T/out/spawned\"}}"
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 159 ]
	grep -q 'killed by SIGSYS' "$T/log"
	grep -q "hint: QEMU's seccomp sandbox killed it (SIGSYS).*\"sandbox\": {\"spawn\": \"allow\"}" "$T/log"
	[ ! -e "$T/out/spawned" ]
	assert_nothing_refused
	assert_clean vm

	plain vm '"user": "nobody", "sandbox": {"spawn": "allow"}'
	start_vm vm
	wait_log 'is running'
	run "$VGPUVM" qmp "$(vm_name vm)" "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"exec:touch $T/out/spawned\"}}"
	"$HELPERS/wait-path" -t 10 "$T/out/spawned"
	stop_and_check vm
}

# lent_vm NAME: a vGPU VM for QEMU's user nobody, on an mdev made beforehand (so /dev/vfio/N outlives the run).
lent_vm() {
	vgpu_profile "$1" '{"parent": "mdpy", "type": "mdpy-vga"}' '"user": "nobody"'
	U=$(uuid_of "$1")
	fakesys_precreate "$S" mdpy mdpy-vga "$U"
	G=$(basename "$(readlink "$S/bus/mdev/devices/$U/iommu_group")")
	NODE=$VGPUVM_DEV_ROOT/vfio/$G
	[ "$(owner_of "$NODE")" = 0 ]
}

@test "/dev/vfio/GROUP is lent to QEMU's user while it runs and given back after a stop" {
	lent_vm vm
	start_vm vm
	wait_log 'is running'
	[ "$(owner_of "$NODE")" = 65534 ]
	[ "$(stat -c %g:%a "$NODE")" = 0:600 ]
	jq -e --arg p "$NODE" '.lent[0].path == $p and .lent[0].uid == 0' "$VGPUVM_RUNTIME_DIR/$(vm_name vm)/record.json"
	[ "$(status_of "$VM_PID" Seccomp)" = 2 ]
	stop_and_check vm
	[ "$(owner_of "$NODE")" = 0 ]
	grep -q "gave $NODE back to uid 0" "$T/log"
}

@test "/dev/vfio/GROUP is given back when QEMU dies, and when it fails to start" {
	lent_vm vm
	start_vm vm
	wait_log 'is running'
	[ "$(owner_of "$NODE")" = 65534 ]
	kill -KILL "$(qemu_pid)"
	wait_vm 30
	[ "$VM_STATUS" -eq 137 ]
	[ "$(owner_of "$NODE")" = 0 ]
	assert_nothing_refused
	assert_clean vm

	vgpu_profile vm '{"parent": "mdpy", "type": "mdpy-vga"}' '"user": "nobody", "extra_args": ["-no-such-option"]'
	start_vm vm
	wait_vm 30
	[ "$VM_STATUS" -eq 1 ]
	grep -q "lent $NODE to QEMU's user" "$T/log"
	[ "$(owner_of "$NODE")" = 0 ]
	assert_clean vm
}

@test "/dev/vfio/GROUP of a supervisor that was SIGKILLed is given back by cleanup, as the record says" {
	lent_vm vm
	start_vm vm
	wait_log 'is running'
	q=$(qemu_pid)
	kill -KILL "$VM_PID"
	wait_vm 10 || true
	pid_gone "$q" 20
	[ "$(owner_of "$NODE")" = 65534 ]
	run "$VGPUVM" cleanup "$(vm_name vm)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(owner_of "$NODE")" = 0 ]
	assert_clean vm
}

@test "an mdev vgpuvm makes has its node lent too; the node goes with the mdev, and teardown works under the filter" {
	vgpu_profile vm '{"parent": "mdpy", "type": "mdpy-vga"}' '"user": "nobody"'
	U=$(uuid_of vm)
	start_vm vm
	wait_log 'is running'
	G=$(basename "$(readlink "$S/bus/mdev/devices/$U/iommu_group")")
	[ "$(owner_of "$VGPUVM_DEV_ROOT/vfio/$G")" = 65534 ]
	[ "$(status_of "$VM_PID" Seccomp)" = 2 ]
	stop_and_check vm
	grep -q "removed mdev $U" "$T/log"
	[ -z "$(fakesys_mdevs "$S")" ]
	[ ! -e "$VGPUVM_DEV_ROOT/vfio/$G" ]
}

@test "a GL display's render node is lent when QEMU's user cannot open it, and given back; one it can open is left alone" {
	mknod "$VGPUVM_DEV_ROOT/dri/renderD128" c 226 128
	mknod "$VGPUVM_DEV_ROOT/dri/renderD129" c 226 129
	chmod 0660 "$VGPUVM_DEV_ROOT"/dri/renderD*
	fake_profile vm stubborn '"user": "nobody", "display": {"type": "egl-headless"}, "shutdown": {"powerdown_timeout": 1, "quit_timeout": 1, "kill_timeout": 1}'
	start_vm vm
	wait_log 'is running'
	# The first node is the one QEMU would pick; the other is not touched.
	[ "$(owner_of "$VGPUVM_DEV_ROOT/dri/renderD128")" = 65534 ]
	[ "$(owner_of "$VGPUVM_DEV_ROOT/dri/renderD129")" = 0 ]
	grep -q "lent $VGPUVM_DEV_ROOT/dri/renderD128 to QEMU's user (uid 65534)" "$T/log"
	stop_and_check vm
	[ "$(owner_of "$VGPUVM_DEV_ROOT/dri/renderD128")" = 0 ]
	[ "$(stat -c %g:%a "$VGPUVM_DEV_ROOT/dri/renderD128")" = 0:660 ]

	# Group access is enough (QEMU's user in the node's group): nothing is lent.
	chgrp 65534 "$VGPUVM_DEV_ROOT/dri/renderD128"
	start_vm vm
	wait_log 'is running'
	[ "$(owner_of "$VGPUVM_DEV_ROOT/dri/renderD128")" = 0 ]
	refute grep -q "lent " "$T/log"
	stop_and_check vm
}

@test "an ordinary user runs a VM on an mdev made beforehand: told exactly what to grant, then it runs" {
	lent_vm vm
	# The user's own runtime directory, as XDG_RUNTIME_DIR is: its own, mode 0700.
	install -d -o 65534 -m 0700 "$T/userrun"
	export VGPUVM_RUNTIME_DIR=$T/userrun
	chmod 0644 "$T/vm.json"
	run as_nobody "$VGPUVM" run "$T/vm.json"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"QEMU runs as you (uid 65534) and cannot open the vGPU's VFIO group $NODE (owner 0, group 0, mode 0600)"* ]]
	[[ $output == *"chown 65534 $NODE"* ]]
	[ "$(fakesys_mdevs "$S")" = "$U" ]
	refute ls -A "$T/userrun/$(vm_name vm)" 2>/dev/null

	chown 65534 "$NODE"
	: >"$T/log"
	# setpriv itself in the background (not a function, which would be a subshell), so that VM_PID is vgpuvm's.
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$VGPUVM" run "$T/vm.json" </dev/null >>"$T/log" 2>&1 &
	VM_PID=$!
	wait_log 'is running'
	q=$(qemu_pid)
	[ "$(status_of "$q" Uid)" = "65534 65534 65534 65534" ]
	[ "$(status_of "$VM_PID" Uid)" = "65534 65534 65534 65534" ]
	[ "$(status_of "$q" CapEff)" = 0000000000000000 ]
	[ "$(status_of "$q" NoNewPrivs)" = 1 ]
	run as_nobody "$VGPUVM" stop "$(vm_name vm)"
	[ "$status" -eq 0 ]
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	assert_nothing_refused
	# The mdev was adopted: it stays, for whoever made it.
	[ "$(fakesys_mdevs "$S")" = "$U" ]
	assert_clean vm
}

#!/usr/bin/env bats
# Who may use the control socket, and for what: root, the user who started the VM, and the members of the profile's
# group (by their primary or a supplementary group); the qmp passthrough is root's and the owner's only, logged, and
# never passes quit, QEMU's fds or (for all but root) HMP; refused connections are logged once a minute per uid, with
# a count, however many come. The fake QEMU stands in for QEMU: these are the supervisor's rules, not QEMU's.

load lib/vm
load lib/control
load lib/operate
load lib/assert

setup() {
	vm_setup
	operate_setup
	chmod 0711 "$T"
}

teardown() {
	operate_teardown
	vm_teardown
}

# access_profile NAME [MORE-JSON]: a VM run by the fake QEMU (which answers screendump with a tiny PNG); every shutdown
# timeout is 0, so a stop is a SIGKILL at once.
access_profile() {
	local name=$1 more=${2:-}
	profile "$name" "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"qemu\": \"$HELPERS/fake-qemu\", \"env\": {\"FAKE_QEMU_MODE\": \"stubborn\", \"FAKE_QEMU_SHOT\": \"png\"}, \"shutdown\": {\"powerdown_timeout\": 0, \"quit_timeout\": 0, \"kill_timeout\": 0}${more:+, $more}"
}

# as_uid UID GID GROUPS CMD...: CMD as UID with primary group GID and supplementary GROUPS ("-" for none).
as_uid() {
	local uid=$1 gid=$2 groups=$3
	shift 3
	if [ "$groups" = - ]; then
		setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
	else
		setpriv --reuid="$uid" --regid="$gid" --groups="$groups" -- "$@"
	fi
}

@test "access: 2000 refused connections from one uid make one log line, and a count at the end" {
	access_profile vm
	start_vm vm
	wait_log 'is running'
	sock=$(ctl_socket vm)
	chmod o+x "$VGPUVM_RUNTIME_DIR" "$(dirname "$sock")"
	chmod 0666 "$sock"
	run timeout 120 setpriv --reuid=65534 --regid=65534 --clear-groups -- "$CTL_PYTHON" -c "$CTL_PY" knock "$sock" 2000
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "greeted 0 refused 2000" ]
	grep 'control: refused' "$T/log" || true
	[ "$(grep -c 'control: refused' "$T/log")" -eq 1 ]
	grep -q 'control: refused a connection from uid 65534: not root or the VM.s owner$' "$T/log"
	# Root is still answered.
	run "$VGPUVM" status "$(vm_name vm)" --json
	[ "$status" -eq 0 ]
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	# What was refused since that line is said when the supervisor goes: the other 1999.
	grep -q 'control: refused 1999 more connections from uid 65534$' "$T/log"
	[ "$(grep -c 'control: refused' "$T/log")" -eq 2 ]
}

@test "access: \"group\": its members (primary or supplementary) use status, screenshot and stop; qmp is refused them" {
	access_profile vm '"group": "users"'
	start_vm vm
	wait_log 'is running'
	name=$(vm_name vm)
	sock=$(ctl_socket vm)
	[ "$(stat -c '%a %U %G' "$sock")" = "660 root users" ]
	# The way to the socket is open to them: they can pass, not list.
	[ "$(stat -c %a "$VGPUVM_RUNTIME_DIR")" = 711 ]
	[ "$(stat -c %a "$(dirname "$sock")")" = 711 ]
	install -d -o 65534 -g 65534 -m 0700 "$T/member"

	# By a supplementary group, then by the primary one.
	run as_uid 65534 65534 100 "$VGPUVM" status "$name" --json
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e --argjson s "$VM_PID" '.state == "running" and .supervisor_pid == $s' <<<"$output"
	run as_uid 65534 100 - "$VGPUVM" status "$name" --json
	[ "$status" -eq 0 ]
	run as_uid 65534 65534 100 "$VGPUVM" screenshot "$name" "$T/member/shot.png"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(png_size "$T/member/shot.png")" = 1x1 ]
	[ "$(stat -c %u "$T/member/shot.png")" = 65534 ]

	# qmp is not theirs, not even a query; the refusal is logged with the uid.
	run as_uid 65534 65534 100 "$VGPUVM" qmp "$name" '{"execute": "query-status"}'
	echo "$output"
	[ "$status" -eq 1 ]
	jq -e '.error.desc | test("root and the user who started the VM")' <<<"$output"
	grep -q 'qmp passthrough from uid 65534: query-status (refused)' "$T/log"
	refute grep -q 'fake-qemu: <- {"execute":"query-status","arguments"' "$T/log"

	# Not a member: refused (the mode keeps it out; with it opened, the server's check does).
	run as_uid 65534 65534 - "$VGPUVM" status "$name" --json
	[ "$status" -ne 0 ]
	chmod 0666 "$sock"
	run as_uid 65534 65534 - "$CTL_PYTHON" -c "$CTL_PY" greeting "$sock"
	[ "$status" -eq 3 ]
	grep -q 'control: refused a connection from uid 65534: not root, the VM.s owner or a member of its group' "$T/log"

	# A member may stop it.
	run as_uid 65534 100 - timeout 30 "$VGPUVM" stop "$name" --force
	echo "$output"
	[ "$status" -eq 0 ]
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
	assert_clean vm
}

@test "access: group members holding every place of the control socket cannot keep root out" {
	access_profile vm '"group": "users"'
	start_vm vm
	wait_log 'is running'
	name=$(vm_name vm)
	sock=$(ctl_socket vm)

	# Sixteen members' clients that behave (each asked for the status and read it) hold every place.
	setpriv --reuid=65534 --regid=65534 --groups=100 -- timeout 60 "$CTL_PYTHON" -c "$CTL_PY" hold "$sock" 16 >"$T/hold" 3>&- &
	holder=$!
	for _ in $(seq 100); do grep -q held "$T/hold" && break; sleep 0.1; done
	[ "$(cat "$T/hold")" = "held 16 turned away 0" ]
	# Another member is turned away: the places are full of clients that behave.
	run as_uid 65534 65534 100 "$CTL_PYTHON" -c "$CTL_PY" hold "$sock" 1
	echo "$output"
	[ "${lines[0]}" = "held 0 turned away 1" ]

	# Root is not: the member that has been there longest makes room.
	run timeout 10 "$VGPUVM" status "$name" --json
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.state == "running"' <<<"$output"
	kill -TERM "$holder"
	wait "$holder" || true
	cat "$T/hold"
	grep -qx 'hung up 1' "$T/hold"

	run timeout 30 "$VGPUVM" stop "$name" --force
	[ "$status" -eq 0 ]
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
	assert_clean vm
}

@test "access: qmp passthrough: quit, the fd commands and qmp_capabilities are refused; each command is logged; root has HMP" {
	access_profile vm
	start_vm vm
	wait_log 'is running'
	name=$(vm_name vm)
	run "$VGPUVM" qmp "$name" '{"execute": "quit"}'
	echo "$output"
	[ "$status" -eq 1 ]
	jq -e '.error.desc | test("vgpuvm stop")' <<<"$output"
	for c in add-fd remove-fd getfd closefd qmp_capabilities; do
		run "$VGPUVM" qmp "$name" "{\"execute\": \"$c\", \"arguments\": {\"fdset-id\": 1, \"fdname\": \"x\"}}"
		echo "$c -> $status: $output"
		[ "$status" -eq 1 ]
		grep -q "qmp passthrough from uid 0: $c (refused)" "$T/log"
	done
	# None of them reached QEMU.
	refute grep -qE 'fake-qemu: <- \{"execute":"(quit|add-fd|remove-fd|getfd|closefd)"' "$T/log"
	kill -0 "$VM_PID"
	run "$VGPUVM" qmp "$name" '{"execute": "query-status"}'
	[ "$status" -eq 0 ]
	grep -q 'qmp passthrough from uid 0: query-status$' "$T/log"
	# Root's HMP goes through to QEMU (which, being the fake, does not know it).
	run "$VGPUVM" qmp "$name" '{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}'
	echo "$output"
	grep -q 'fake-qemu: <- {"execute":"human-monitor-command"' "$T/log"
	grep -q 'qmp passthrough from uid 0: human-monitor-command$' "$T/log"
	# A command name that would forge a log line is logged defanged.
	run ctl exchange "$(ctl_socket vm)" '{"execute": "qmp", "arguments": {"command": "x\nvgpuvm: error: forged"}, "id": 1}'
	echo "$output"
	refute grep -q '^vgpuvm: error: forged' "$T/log"
	grep -q 'qmp passthrough from uid 0: x?vgpuvm??error??forged' "$T/log"
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
}

@test "access: a VM its user started: the owner has qmp but not HMP; root's client will not talk to that user's socket" {
	access_profile vm
	install -d -o 65534 -g 65534 -m 0700 "$VGPUVM_RUNTIME_DIR"
	: > "$T/log"
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$VGPUVM" run "$T/vm.json" < /dev/null >> "$T/log" 2>&1 3>&- &
	VM_PID=$!
	wait_log 'is running'
	name=$(vm_name vm)
	run as_nobody "$VGPUVM" qmp "$name" '{"execute": "query-status"}'
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'qmp passthrough from uid 65534: query-status$' "$T/log"
	run as_nobody "$VGPUVM" qmp "$name" '{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}'
	echo "$output"
	[ "$status" -eq 1 ]
	jq -e '.error.desc | test("root only")' <<<"$output"
	refute grep -q 'fake-qemu: <- {"execute":"human-monitor-command"' "$T/log"
	# The server would answer root; root's client refuses to act in a runtime directory root does not own (and, were
	# the socket somewhere root owns, a server that is not root's: the fake-server test in screenshot.bats).
	run "$VGPUVM" status "$name" --json
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"$VGPUVM_RUNTIME_DIR is owned by uid 65534"* ]]
	run ctl exchange "$(ctl_socket vm)" '{"execute": "status", "id": 1}'
	[ "$status" -eq 0 ]
	jq -e '.return.state == "running"' <<<"$output"
	run as_nobody timeout 30 "$VGPUVM" stop "$name" --force
	[ "$status" -eq 0 ]
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
}

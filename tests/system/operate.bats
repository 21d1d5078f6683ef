#!/usr/bin/env bats
# Operating a running VM: vgpuvm list, status, stop, screenshot and qmp, the control socket under them (its protocol,
# who may connect, and clients that misbehave), and sd_notify. A real QEMU under TCG, the tiny guest for the power
# button, the fake QEMU for what a real one cannot be made to do. No mdev here: see recover.bats.

load lib/vm
load lib/control
load lib/operate
load lib/assert

setup() {
	vm_setup
	operate_setup
}

teardown() {
	operate_teardown
	vm_teardown
}

# A VM without an OS: nothing answers the power button, so a graceful stop waits powerdown_timeout (1 s unless MORE
# has a "shutdown") and then quits.
plain_profile() {
	local name=$1 more=${2:-}
	[[ $more == *'"shutdown"'* ]] || more="\"shutdown\": {\"powerdown_timeout\": 1, \"quit_timeout\": 5}${more:+, $more}"
	profile "$name" "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, $more"
}

long_powerdown='"shutdown": {"powerdown_timeout": 60, "quit_timeout": 5}'

# Every key of the status object, with the type each must have while QEMU runs (vgpu is checked where there is one).
status_shape='.format_version == 1 and has("name") and has("state") and has("qemu_status") and has("supervisor_pid") and has("qemu_pid")
	and has("uptime") and has("profile") and has("vgpu") and has("display") and has("restarts")
	and (.name|type) == "string" and (.supervisor_pid|type) == "number" and (.qemu_pid|type) == "number"
	and (.uptime|type) == "number" and .uptime >= 0 and (.profile|type) == "string"
	and (.display|type) == "object" and (.display|has("type")) and (.display.gl|type) == "boolean"
	and (.restarts|type) == "number"'

stop_and_wait() {
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
}

@test "status --json: every field, the pids of the supervisor and of QEMU, the profile's path" {
	plain_profile plain
	start_vm plain
	wait_log 'is running'
	json=$(json_of "$VGPUVM" status "$(vm_name plain)" --json)
	echo "$json"
	jq -e "$status_shape" <<<"$json"
	jq -e --arg n "$(vm_name plain)" --arg p "$T/plain.json" --argjson s "$VM_PID" --argjson q "$(qemu_pid)" '
		.name == $n and .state == "running" and .qemu_status == "running" and .supervisor_pid == $s
		and .qemu_pid == $q and .profile == $p and .vgpu == null and .display.type == "none"
		and .display.gl == false and .restarts == 0' <<<"$json"
	# The uptime counts from QEMU's start: it cannot run backwards between two calls.
	u1=$(jq .uptime <<<"$json")
	u2=$(json_of "$VGPUVM" status "$(vm_name plain)" --json | jq .uptime)
	awk -v a="$u1" -v b="$u2" 'BEGIN { exit !(b >= a) }'
	stop_and_wait
	assert_clean plain
}

@test "status: human form, one aligned 'key: value' line each, naming the state, both pids and the display" {
	plain_profile plain
	start_vm plain
	wait_log 'is running'
	run "$VGPUVM" status "$(vm_name plain)"
	[ "$status" -eq 0 ]
	q=$(qemu_pid)
	grep -qE "^ *name: +$(vm_name plain) *$" <<<"$output"
	grep -qE '^ *state: +running *$' <<<"$output"
	# "supervisor pid: N", "supervisor: pid N" and the like.
	grep -qiE "^ *[a-z _-]*(supervisor|pid)[a-z _-]*: +(pid +)?$VM_PID *$" <<<"$output"
	grep -qiE "^ *qemu[a-z _-]*: +(pid +)?$q *$" <<<"$output"
	grep -qE '^ *uptime: +[^ ]' <<<"$output"
	grep -qE '^ *display: +.*none' <<<"$output"
	# Aligned: on every line that has a value, the value starts in the same column.
	cols=$(awk 'match($0, /^ *[^:]+: +/) && length($0) > RLENGTH { print RLENGTH }' <<<"$output" | sort -u)
	echo "value columns: $cols"
	[ "$(wc -l <<<"$cols")" -eq 1 ]
	stop_and_wait
}

@test "status: a QEMU that has not greeted yet is 'starting', with qemu_status null" {
	fake_profile silent silent '"start_timeout": 60'
	start_vm silent
	wait_log 'started QEMU'
	json=$(json_of "$VGPUVM" status "$(vm_name silent)" --json)
	echo "$json"
	jq -e --argjson q "$(qemu_pid)" '.state == "starting" and .qemu_status == null and .qemu_pid == $q' <<<"$json"
	stop_and_wait
	assert_clean silent
}

@test "no such VM: status, stop, screenshot and qmp exit 69; list says so and exits 0; missing arguments are 64" {
	n=vgpuvm-test-$BATS_TEST_NUMBER-nonesuch
	for c in "status $n" "status $n --json" "stop $n" "screenshot $n $T/x.png" "qmp $n {\"execute\":\"query-status\"}"; do
		# shellcheck disable=SC2086
		run "$VGPUVM" $c
		echo "vgpuvm $c -> $status: $output"
		[ "$status" -eq 69 ]
		[[ $output == *"$n"* ]]
	done
	[ ! -e "$T/x.png" ]
	run "$VGPUVM" list
	[ "$status" -eq 0 ]
	[[ $output == *"no VMs running"* ]]
	mkdir -p "$VGPUVM_RUNTIME_DIR"
	run "$VGPUVM" list --json
	[ "$status" -eq 0 ]
	[ "$(jq -c . <<<"$output")" = '{"format_version":1,"vms":[]}' ]
	for c in "status" "stop" "screenshot" "screenshot $n" "qmp" "qmp $n" "stop $n --timeout" "stop $n --bogus" "list --bogus"; do
		# shellcheck disable=SC2086
		run "$VGPUVM" $c
		echo "vgpuvm $c -> $status: $output"
		[ "$status" -eq 64 ]
	done
}

@test "each new command has --help" {
	for c in list status stop screenshot qmp cleanup; do
		run "$VGPUVM" "$c" --help
		[ "$status" -eq 0 ]
		[[ $output == "Usage: vgpuvm $c"* ]]
	done
	run "$VGPUVM" --help
	for c in list status stop screenshot qmp cleanup; do
		[[ $output == *"  $c "* ]]
	done
}

@test "list: two VMs, one aligned line each under the header; --json has the format version and their status objects" {
	# The second name (45 characters) is longer than a column sized for short names.
	b=b-with-a-long-name-for-a-column
	plain_profile a
	plain_profile "$b"
	start_vm_named a
	start_vm_named "$b"
	wait_log_of a 'is running'
	wait_log_of "$b" 'is running'
	run "$VGPUVM" list
	[ "$status" -eq 0 ]
	echo "$output"
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[0]} =~ ^NAME\ +STATE\ +QEMU-PID\ +UPTIME\ +VGPU\ *$ ]]
	# Each column starts where its heading does.
	for l in "${lines[@]:1}"; do
		for h in STATE QEMU-PID UPTIME; do
			i=$(awk -v h="$h" '{ print index($0, h) }' <<<"${lines[0]}")
			[ "${l:i-2:1}" = " " ]
			[ "${l:i-1:1}" != " " ]
		done
	done
	qa=$(sed -n 's/.*started QEMU (pid \([0-9]*\)).*/\1/p' "$T/a.log")
	qb=$(sed -n 's/.*started QEMU (pid \([0-9]*\)).*/\1/p' "$T/$b.log")
	grep -qE "^$(vm_name a) +running +$qa " <<<"$output"
	grep -qE "^$(vm_name "$b") +running +$qb " <<<"$output"

	json=$(json_of "$VGPUVM" list --json)
	jq -e '(keys | sort) == ["format_version", "vms"] and .format_version == 1 and (.vms | type) == "array"' <<<"$json"
	jq -e --arg a "$(vm_name a)" --arg b "$(vm_name "$b")" --argjson qa "$qa" --argjson qb "$qb" '.vms |
		length == 2 and ([.[].name] | sort) == [$a, $b]
		and all(.[]; .state == "running") and ([.[].qemu_pid] | sort) == ([$qa, $qb] | sort)' <<<"$json"
	jq -e ".vms | all(.[]; $status_shape)" <<<"$json"

	kill -TERM "${PIDS[a]}"
	wait_vm_of a 30
	[ "$VM_STATUS" -eq 0 ]
	run "$VGPUVM" list --json
	[ "$status" -eq 0 ]
	jq -e --arg b "$(vm_name "$b")" '.format_version == 1 and (.vms | length == 1 and .[0].name == $b)' <<<"$output"
	kill -TERM "${PIDS[$b]}"
	wait_vm_of "$b" 30
	[ "$VM_STATUS" -eq 0 ]
	run "$VGPUVM" list
	[ "$status" -eq 0 ]
	[[ $output == *"no VMs running"* ]]
	assert_clean a
	assert_clean "$b"
}

@test "stop: a guest that obeys the power button powers off; stop prints the step, waits, and says exit 0" {
	load lib/guest
	guest_profile button button '"shutdown": {"powerdown_timeout": 30}'
	start_vm button
	wait_log 'VGPUVM-GUEST-READY' 60
	q=$(qemu_pid)
	run timeout 60 "$VGPUVM" stop "$(vm_name button)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stop_steps <<<"$output")" = powerdown ]
	[[ ${lines[-1]} == *stopped*"exit 0"* ]]
	# stop returns once the VM is gone, not before.
	refute pid_alive "$q"
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'VGPUVM-GUEST-POWEROFF' "$T/log"
	grep -q 'event SHUTDOWN: guest=true reason=guest-shutdown' "$T/log"
	refute grep -q 'asking QEMU to quit' "$T/log"
	assert_clean button
}

@test "stop --force: a VM without an OS goes straight to quit, without the power button's wait" {
	plain_profile plain "$long_powerdown"
	start_vm plain
	wait_log 'is running'
	t0=$(date +%s%N)
	run timeout 30 "$VGPUVM" stop "$(vm_name plain)" --force
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stop_steps <<<"$output")" = quit ]
	[[ ${lines[-1]} == *"exit 0"* ]]
	[ "$(elapsed_ms "$t0")" -lt 8000 ]
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
	refute grep -q 'pressing the power button' "$T/log"
	grep -q 'event SHUTDOWN: guest=false reason=host-qmp-quit' "$T/log"
	assert_clean plain
}

@test "stop --timeout S: the power button's wait is S seconds instead of the profile's 60" {
	plain_profile plain "$long_powerdown"
	start_vm plain
	wait_log 'is running'
	t0=$(date +%s%N)
	run timeout 30 "$VGPUVM" stop "$(vm_name plain)" --timeout 2
	ms=$(elapsed_ms "$t0")
	echo "$output"; echo "took $ms ms"
	[ "$status" -eq 0 ]
	[ "$(stop_steps <<<"$output")" = "powerdown quit" ]
	[[ ${lines[-1]} == *"exit 0"* ]]
	[ "$ms" -ge 2000 ]
	[ "$ms" -lt 9000 ]
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
	grep -qE 'asking QEMU to quit \(QMP quit\) after 2\.[0-9]+ s' "$T/log"
	assert_clean plain
}

@test "stop: a QEMU that ignores everything is taken through all four steps, in order, each printed as it comes" {
	fake_profile stubborn stubborn '"shutdown": {"powerdown_timeout": 60, "quit_timeout": 1, "kill_timeout": 1}'
	start_vm stubborn
	wait_log 'is running'
	"$VGPUVM" stop "$(vm_name stubborn)" --timeout 1 > "$T/stop.out" 2>&1 3>&- &
	stopper=$!
	CLIENT_PIDS+=("$stopper")
	# The first step is printed while the others are still to come, not all at the end.
	wait_file "$T/stop.out" 'powerdown' 10
	[[ $(stop_steps < "$T/stop.out") != *kill* ]]
	pid_gone "$stopper" 30
	wait "$stopper"
	cat "$T/stop.out"
	[ "$(stop_steps < "$T/stop.out")" = "powerdown quit term kill" ]
	[[ $(tail -n1 "$T/stop.out") == *"exit 0"* ]]
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'killed by SIGKILL' "$T/log"
	assert_clean stubborn
}

@test "stop --force on a QEMU that never greeted: no QMP to quit through, so SIGTERM" {
	fake_profile silent silent '"start_timeout": 60'
	start_vm silent
	wait_log 'started QEMU'
	run timeout 30 "$VGPUVM" stop "$(vm_name silent)" --force
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stop_steps <<<"$output")" = term ]
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
	assert_clean silent
}

@test "control socket: a stop from one client; every client gets STOP_STEP events, then EXITED, then EOF" {
	plain_profile plain
	start_vm plain
	wait_log 'is running'
	sock=$(ctl_socket plain)
	ctl_exec events "$sock" > "$T/events" 2>&1 3>&- &
	watcher=$!
	CLIENT_PIDS+=("$watcher")
	wait_file "$T/events" '^connected$' 10
	run ctl exchange "$sock" '{"execute": "stop", "arguments": {"force": true}, "id": "s1"}'
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.return == {} and .id == "s1"' <<<"$output"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	pid_gone "$watcher" 10
	wait "$watcher"
	cat "$T/events"
	[ "$(tail -n1 "$T/events")" = EOF ]
	grep '^{' "$T/events" > "$T/events.json"
	[ "$(jq -r 'select(.event == "STOP_STEP") | .data.step' "$T/events.json" | tr '\n' ' ')" = "quit " ]
	jq -e -s 'map(select(.event == "STOP_STEP")) | all(.[]; (.data.elapsed|type) == "number" and .data.elapsed >= 0
		and (.timestamp.seconds|type) == "number")' "$T/events.json"
	# EXITED is the last message, and carries the supervisor's own exit code.
	jq -e -s 'last | .event == "EXITED" and .data.exit_code == 0' "$T/events.json"
	assert_clean plain
}

@test "control socket: greeting, qmp_capabilities, ids echoed whatever their type, unknown commands" {
	plain_profile plain
	start_vm plain
	wait_log 'is running'
	sock=$(ctl_socket plain)
	run ctl greeting "$sock"
	[ "$status" -eq 0 ]
	echo "$output"
	v=$("$VGPUVM" --version)
	jq -e --arg pkg "$v" '.QMP.version.package == $pkg and .QMP.capabilities == []
		and .QMP.version.qemu == {"major": 0, "minor": 1, "micro": 0}' <<<"$output"
	run ctl exchange "$sock" \
		'{"execute": "qmp_capabilities", "id": "a"}' \
		'{"execute": "status", "id": {"x": [1, 2]}}' \
		'{"execute": "status", "id": 42}' \
		'{"execute": "no-such-command", "id": 3}'
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.return == {} and .id == "a"' <<<"${lines[0]}"
	jq -e '.return.state == "running" and .id == {"x": [1, 2]}' <<<"${lines[1]}"
	jq -e '.return.state == "running" and .id == 42' <<<"${lines[2]}"
	jq -e '.error.class == "CommandNotFound" and (.error.desc|type) == "string" and .id == 3' <<<"${lines[3]}"
	# Without qmp_capabilities first, commands are answered too.
	run ctl exchange "$sock" '{"execute": "status", "id": 1}'
	[ "$status" -eq 0 ]
	jq -e '.return.state == "running"' <<<"$output"
	stop_and_wait
}

@test "control socket: garbage gets a GenericError and the connection stays; a long line under 64 KiB is fine" {
	plain_profile plain
	start_vm plain
	wait_log 'is running'
	sock=$(ctl_socket plain)
	long=$(head -c 60000 /dev/zero | tr '\0' 'y')
	run ctl exchange "$sock" \
		'this is not json' \
		'{"execute": "status", "id": 1}' \
		'{"no": "execute", "id": 2}' \
		$'\x01\x02\xfe\xff ][ }{' \
		'{"execute": "status", "id": 3}' \
		"{\"execute\": \"status\", \"id\": \"$long\"}"
	echo "${output:0:2000}"
	[ "$status" -eq 0 ]
	jq -e '.error.class == "GenericError"' <<<"${lines[0]}"
	jq -e '.return.state == "running" and .id == 1' <<<"${lines[1]}"
	jq -e '.error.class == "GenericError" and .id == 2' <<<"${lines[2]}"
	jq -e '.error.class == "GenericError"' <<<"${lines[3]}"
	jq -e '.return.state == "running" and .id == 3' <<<"${lines[4]}"
	jq -e '.return.state == "running" and (.id|length) == 60000' <<<"${lines[5]}"
	kill -0 "$VM_PID"
	stop_and_wait
}

@test "control socket: a line over 64 KiB gets an error and a hang-up; the VM runs on and others are answered" {
	plain_profile plain
	start_vm plain
	wait_log 'is running'
	sock=$(ctl_socket plain)
	q=$(qemu_pid)
	run timeout 30 "$CTL_PYTHON" -c "$CTL_PY" oversize "$sock" $((1024 * 1024))
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = EOF ]
	grep '^{' <<<"$output" | jq -e -s 'length >= 1 and (.[0] | has("error"))'
	run timeout 10 "$VGPUVM" status "$(vm_name plain)" --json
	[ "$status" -eq 0 ]
	jq -e --argjson q "$q" --argjson s "$VM_PID" '.state == "running" and .qemu_pid == $q and .supervisor_pid == $s' <<<"$output"
	stop_and_wait
	assert_clean plain
}

@test "control socket: a client that never reads is dropped once 1 MiB waits for it; others are answered meanwhile" {
	plain_profile plain
	start_vm plain
	wait_log 'is running'
	sock=$(ctl_socket plain)
	# Twice, so that what the first round leaves behind in the supervisor is tried too.
	for round in 1 2; do
		# A client that stops reading with ~250 KB of replies pending (more than the kernel's socket buffer takes)
		# stays connected below the limit, and holds up no one.
		ctl_exec stuck "$sock" 1000 > "$T/stuck" 2>&1 3>&- &
		stuck=$!
		CLIENT_PIDS+=("$stuck")
		wait_file "$T/stuck" '^sent$' 10
		run timeout 10 "$VGPUVM" status "$(vm_name plain)" --json
		echo "round $round, status with a stuck client: $status"
		[ "$status" -eq 0 ]
		jq -e '.state == "running"' <<<"$output"
		run timeout 10 "$VGPUVM" qmp "$(vm_name plain)" '{"execute": "query-status"}'
		[ "$status" -eq 0 ]
		refute grep -q 'hung up' "$T/stuck"
		# One that goes on asking without reading is disconnected, and not before 1 MiB of replies was asked for.
		run timeout 60 "$CTL_PYTHON" -c "$CTL_PY" flood "$sock" 40 $((256 * 1024 * 1024))
		echo "round $round, flood: $output"
		[ "$status" -eq 0 ]
		read -r _ _ n size <<<"$output"
		[ $((n * size)) -ge $((1024 * 1024)) ]
		# And not much after: N counts commands still in the socket buffers (at most ~140 KB of them here, so ~6000),
		# and the server's own socket buffer holds ~200 KB of replies; with the 1 MiB queue, under 4 MiB asked for.
		[ $((n * size)) -le $((8 * 1024 * 1024)) ]
		run timeout 10 "$VGPUVM" status "$(vm_name plain)" --json
		echo "round $round, status after the flood: $status"
		[ "$status" -eq 0 ]
		jq -e --argjson s "$VM_PID" '.state == "running" and .supervisor_pid == $s' <<<"$output"
		kill -TERM "$stuck"
		wait "$stuck" || true
	done
	# With every client gone, the supervisor still answers.
	run timeout 10 "$VGPUVM" status "$(vm_name plain)" --json
	[ "$status" -eq 0 ]
	stop_and_wait
	assert_clean plain
}

@test "control socket: 0600 and root's by default; another uid is refused by the mode, and then by SO_PEERCRED" {
	plain_profile plain
	start_vm plain
	wait_log 'is running'
	sock=$(ctl_socket plain)
	[ -S "$sock" ]
	[ "$(stat -c '%a %u' "$sock")" = "600 0" ]
	# Let uid 65534 reach the socket's path; the socket's own mode still keeps it out.
	chmod 0755 "$T" "$VGPUVM_RUNTIME_DIR" "$(dirname "$sock")"
	run as_nobody "$CTL_PYTHON" -c "$CTL_PY" greeting "$sock"
	echo "$output"
	[ "$status" -eq 4 ]
	[[ $output == *EACCES* ]]
	# With the mode opened by hand, only the server's peer check is left: no greeting, just a hang-up.
	chmod 0666 "$sock"
	run as_nobody "$CTL_PYTHON" -c "$CTL_PY" greeting "$sock"
	echo "$output"
	[ "$status" -eq 3 ]
	run as_nobody "$VGPUVM" status "$(vm_name plain)" --json
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output != *'"running"'* ]]
	run as_nobody "$VGPUVM" stop "$(vm_name plain)" --force
	[ "$status" -ne 0 ]
	# Root is still answered, and the VM was not stopped.
	run "$VGPUVM" status "$(vm_name plain)" --json
	[ "$status" -eq 0 ]
	jq -e '.state == "running"' <<<"$output"
	stop_and_wait
	assert_clean plain
}

@test "control socket: \"group\" makes it 0660 with that group; a uid of that group that did not start it is greeted" {
	plain_profile plain '"group": "nogroup"'
	start_vm plain
	wait_log 'is running'
	sock=$(ctl_socket plain)
	[ "$(stat -c '%a %U %G' "$sock")" = "660 root nogroup" ]
	chmod o+x "$T"
	# uid 65534's primary group is nogroup: a member (access.bats has the rest of the group's rules).
	run as_nobody "$CTL_PYTHON" -c "$CTL_PY" greeting "$sock"
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.QMP.version.package | startswith("vgpuvm")' <<<"$output"
	run "$VGPUVM" status "$(vm_name plain)" --json
	[ "$status" -eq 0 ]
	stop_and_wait
	assert_clean plain
}

@test "a VM started by an unprivileged uid: that uid and root are answered (root's CLI refuses), and that uid can stop it" {
	plain_profile plain
	chmod 0755 "$T"
	install -d -o 65534 -g 65534 -m 0700 "$VGPUVM_RUNTIME_DIR"
	: > "$T/log"
	# setpriv itself, not a shell function, so that $! is the supervisor's pid (setpriv execs it).
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$VGPUVM" run "$T/plain.json" < /dev/null >> "$T/log" 2>&1 3>&- &
	VM_PID=$!
	wait_log 'is running'
	sock=$(ctl_socket plain)
	[ "$(stat -c '%a %u' "$sock")" = "600 65534" ]
	run as_nobody "$VGPUVM" status "$(vm_name plain)" --json
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e --argjson s "$VM_PID" '.state == "running" and .supervisor_pid == $s' <<<"$output"
	# The server answers root; root's own client talks only to supervisors that root runs.
	run ctl exchange "$sock" '{"execute": "status", "id": 1}'
	[ "$status" -eq 0 ]
	jq -e '.return.state == "running"' <<<"$output"
	run "$VGPUVM" status "$(vm_name plain)" --json
	[ "$status" -eq 77 ]
	run as_nobody timeout 30 "$VGPUVM" stop "$(vm_name plain)" --force
	echo "$output"
	[ "$status" -eq 0 ]
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
	assert_clean plain
}

@test "screenshot: a valid PNG of the VM's VGA display; over the socket, its size and format, and no file anywhere" {
	plain_profile vga '"extra_args": ["-device", "VGA"]'
	start_vm vga
	wait_log 'is running'
	run "$VGPUVM" screenshot "$(vm_name vga)" "$T/shot.png"
	echo "$output"
	[ "$status" -eq 0 ]
	size=$(png_size "$T/shot.png")
	echo "size $size"
	[[ $size =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]]
	file "$T/shot.png" | grep -qE "PNG image data, ${size/x/ x }"
	run ctl exchange "$(ctl_socket vga)" '{"execute": "screenshot", "id": 1}'
	echo "$output"
	[ "$status" -eq 0 ]
	# The PNG itself comes as a file descriptor with the reply (screenshot.bats reads it).
	jq -e '(.return | keys) == ["format", "size"] and .return.format == "png" and .return.size > 8' <<<"$output"
	[ "$(ls "$VGPUVM_RUNTIME_DIR/$(vm_name vga)" | tr '\n' ' ')" = "control lock " ]
	kill -0 "$VM_PID"
	stop_and_wait
	assert_clean vga
}

@test "screenshot: a VM with no display fails with QEMU's reason, writes nothing, and runs on" {
	plain_profile plain
	start_vm plain
	wait_log 'is running'
	run "$VGPUVM" screenshot "$(vm_name plain)" "$T/shot.png"
	echo "$output"
	[ "$status" -ne 0 ]
	[ -n "$output" ]
	[ ! -s "$T/shot.png" ]
	run "$VGPUVM" status "$(vm_name plain)" --json
	jq -e '.state == "running"' <<<"$output"
	stop_and_wait
}

@test "qmp: QEMU's own reply through the CLI and the socket; QEMU's errors passed through" {
	plain_profile plain
	start_vm plain
	wait_log 'is running'
	run "$VGPUVM" qmp "$(vm_name plain)" '{"execute": "query-status"}'
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.return.status == "running" and .return.running == true' <<<"$output"
	run "$VGPUVM" qmp "$(vm_name plain)" '{"execute": "query-name"}'
	[ "$status" -eq 0 ]
	jq -e --arg n "$(vm_name plain)" '.return.name == $n' <<<"$output"
	run "$VGPUVM" qmp "$(vm_name plain)" 'not json'
	[ "$status" -eq 64 ]
	run ctl exchange "$(ctl_socket plain)" \
		'{"execute": "qmp", "arguments": {"command": "query-status"}, "id": 1}' \
		'{"execute": "qmp", "arguments": {"command": "query-kvm", "arguments": {}}, "id": 2}' \
		'{"execute": "qmp", "arguments": {"command": "no-such-qemu-command"}, "id": 3}'
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.return.status == "running" and .id == 1' <<<"${lines[0]}"
	jq -e '.return.enabled == false and .id == 2' <<<"${lines[1]}"
	jq -e '.error.class == "CommandNotFound" and .id == 3' <<<"${lines[2]}"
	# The supervisor's own view of QEMU is untouched by what passed through.
	run "$VGPUVM" status "$(vm_name plain)" --json
	jq -e '.state == "running" and .qemu_status == "running"' <<<"$output"
	stop_and_wait
}

@test "sd_notify: STATUS first, READY=1 with a STATUS once running, STOPPING=1 on stop, all from the supervisor" {
	plain_profile plain '"shutdown": {"powerdown_timeout": 1, "quit_timeout": 5}'
	notify_start "$T/notify.sock" "$T/notify.log"
	export NOTIFY_SOCKET=$T/notify.sock
	start_vm plain
	unset NOTIFY_SOCKET
	wait_file "$T/notify.log" 'READY=1' 60
	grep -q 'is running' "$T/log"
	run timeout 30 "$VGPUVM" stop "$(vm_name plain)"
	[ "$status" -eq 0 ]
	wait_vm 10
	[ "$VM_STATUS" -eq 0 ]
	wait_file "$T/notify.log" 'STOPPING=1' 10
	cat "$T/notify.log"
	# Every message comes from the supervisor itself, as systemd's NotifyAccess=main requires.
	[ -z "$(awk -v p="$VM_PID" '$1 != p' "$T/notify.log")" ]
	head -n1 "$T/notify.log" | grep -q 'STATUS='
	ready=$(grep -n 'READY=1' "$T/notify.log" | cut -d: -f1)
	stopping=$(grep -n 'STOPPING=1' "$T/notify.log" | head -n1 | cut -d: -f1)
	[ "$(wc -l <<<"$ready")" -eq 1 ]
	[ "$ready" -lt "$stopping" ]
	sed -n "${ready}p" "$T/notify.log" | grep -q 'STATUS='
	assert_clean plain
}

@test "sd_notify: an abstract NOTIFY_SOCKET (@name) works too, and SIGTERM sends STOPPING=1" {
	plain_profile plain '"shutdown": {"powerdown_timeout": 1, "quit_timeout": 5}'
	abs=@vgpuvm-test-$$-$BATS_TEST_NUMBER
	notify_start "$abs" "$T/notify.log"
	export NOTIFY_SOCKET=$abs
	start_vm plain
	unset NOTIFY_SOCKET
	wait_file "$T/notify.log" 'READY=1' 60
	kill -TERM "$VM_PID"
	wait_file "$T/notify.log" 'STOPPING=1' 10
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	cat "$T/notify.log"
	[ "$(grep -n 'READY=1' "$T/notify.log" | cut -d: -f1)" -lt "$(grep -n 'STOPPING=1' "$T/notify.log" | cut -d: -f1)" ]
}

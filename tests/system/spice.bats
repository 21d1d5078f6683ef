#!/usr/bin/env bats
# The SPICE display (issue 14, item 6): a real QEMU under TCG with std VGA (SeaBIOS's text screen), its SPICE on the
# supervisor's socket RUNTIME/NAME/spice.sock, each connection handed to QEMU by fd; remote-viewer (virt-viewer) under
# an Xvfb of the test's own, through `vgpuvm viewer`; the socket's mode and group, and the supervisor's own check of
# each peer; SPICE over TCP only with a password that never shows in QEMU's argv or environment; and from inside the
# Linux test guest (tests/lib/linux-guest.bash), the agent's virtio-serial port.

load lib/vm
load lib/control
load lib/operate
load lib/assert
load ../lib/linux-guest

setup() {
	vm_setup
	operate_setup
	for t in Xvfb remote-viewer import; do
		command -v "$t" >/dev/null || skip "$t is not installed (scripts/deps.sh test: xvfb, virt-viewer, imagemagick)"
	done
	XVFB_PID=
	VIEWER_PIDS=()
	MATCH="$BATS_TEST_DIRNAME/lib/spice_match.py"
}

teardown() {
	local p
	for p in "${VIEWER_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	[ -z "$XVFB_PID" ] || kill -TERM "$XVFB_PID" 2>/dev/null || true
	operate_teardown
	vm_teardown
}

# spice_profile NAME [MORE-DISPLAY-JSON] [MORE-JSON]: a VM with std VGA (SeaBIOS's text screen) shown over SPICE.
spice_profile() {
	local name=$1 disp=${2:-} more=${3:-}
	profile "$name" "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"spice\"${disp:+, $disp}}, \"extra_args\": [\"-device\", \"VGA\"], \"shutdown\": {\"powerdown_timeout\": 0, \"quit_timeout\": 5}${more:+, $more}"
}

# xvfb_start: an X server of this test's own; Xvfb picks a free display number and says which (-displayfd).
xvfb_start() {
	local n
	Xvfb -displayfd 5 -screen 0 1024x768x24 -nolisten tcp -ac 5>"$T/xvfb.display" >"$T/xvfb.log" 2>&1 3>&- &
	XVFB_PID=$!
	for _ in $(seq 100); do
		n=$(cat "$T/xvfb.display" 2>/dev/null || true)
		[ -n "$n" ] && break
		sleep 0.1
	done
	[ -n "$n" ]
	export DISPLAY=":$n"
}

# viewer_start NAME [USER-PREFIX...]: `vgpuvm viewer NAME` in the background (it becomes remote-viewer); VIEWER_PID.
viewer_start() {
	local name=$1
	shift
	"$@" "$VGPUVM" viewer "$(vm_name "$name")" >"$T/viewer.log" 2>&1 3>&- &
	VIEWER_PID=$!
	VIEWER_PIDS+=("$VIEWER_PID")
}

# shows_guest NAME: within 30 s, the X screen shows the guest's own screen (the top of `vgpuvm screenshot`, the
# SeaBIOS lines), wherever remote-viewer put its window.
shows_guest() {
	local name=$1
	run "$VGPUVM" screenshot "$(vm_name "$name")" "$T/guest.png"
	[ "$status" -eq 0 ]
	convert "$T/guest.png" -crop 360x64+0+0 +repage "$T/part.png"
	for _ in $(seq 60); do
		import -window root "$T/screen.png" 2>/dev/null || true
		if [ -s "$T/screen.png" ] && python3 "$MATCH" "$T/screen.png" "$T/part.png"; then
			return 0
		fi
		sleep 0.5
	done
	echo "the viewer never showed the guest's screen; viewer's log:"
	cat "$T/viewer.log"
	return 1
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

@test "spice: remote-viewer under Xvfb shows the guest's screen through the supervisor's socket; closing it leaves the VM running, and viewer attaches again" {
	spice_profile vm
	start_vm vm
	wait_log 'is running'
	sock=$VGPUVM_RUNTIME_DIR/$(vm_name vm)/spice.sock
	# The control socket's owner and mode.
	[ "$(stat -c '%F %a %U %G' "$sock")" = "socket 600 root root" ]
	[ "$(stat -c '%a %U %G' "$(ctl_socket vm)")" = "600 root root" ]
	# QEMU listens nowhere: no port, no socket of its own; SPICE comes to it only through the supervisor.
	qpid=$(qemu_pid)
	tr '\0' ' ' < "/proc/$qpid/cmdline" | grep -q -- '-spice disable-ticketing=on '
	refute grep -qa 'port=' "/proc/$qpid/cmdline"
	refute bash -c "ss -lxpn | grep -q 'pid=$qpid,'"
	refute bash -c "ss -ltnp | grep -q 'pid=$qpid,'"
	# The agent's channel, on the one virtio-serial controller.
	run "$VGPUVM" qmp "$(vm_name vm)" '{"execute": "qom-list", "arguments": {"path": "/machine/peripheral/vgpuvm-serial"}}'
	[ "$status" -eq 0 ]
	run "$VGPUVM" status "$(vm_name vm)" --json
	[ "$status" -eq 0 ]
	jq -e --arg s "$sock" '.display.type == "spice" and .display.spice.socket == $s' <<<"$output"
	run "$VGPUVM" status "$(vm_name vm)"
	[[ $output == *"spice:        $sock"* ]]

	xvfb_start
	# Before any viewer, the screen does not show the guest: the check below can fail.
	run "$VGPUVM" screenshot "$(vm_name vm)" "$T/guest.png"
	convert "$T/guest.png" -crop 360x64+0+0 +repage "$T/part.png"
	import -window root "$T/screen.png"
	refute python3 "$MATCH" "$T/screen.png" "$T/part.png"

	viewer_start vm
	wait_log 'spice: a viewer connected'
	shows_guest vm
	# Closing the viewer leaves the VM running.
	kill -TERM "$VIEWER_PID"
	wait "$VIEWER_PID" || true
	n=$(grep -c 'spice: a viewer connected' "$T/log")
	import -window root "$T/screen.png"
	refute python3 "$MATCH" "$T/screen.png" "$T/part.png"
	run "$VGPUVM" status "$(vm_name vm)" --json
	jq -e '.state == "running" and .qemu_status == "running"' <<<"$output"
	# viewer again attaches again.
	viewer_start vm
	for _ in $(seq 100); do
		[ "$(grep -c 'spice: a viewer connected' "$T/log")" -gt "$n" ] && break
		sleep 0.1
	done
	shows_guest vm
	kill -TERM "$VIEWER_PID"
	wait "$VIEWER_PID" || true
	# --full-screen goes to remote-viewer.
	"$VGPUVM" viewer "$(vm_name vm)" --full-screen >"$T/viewer-full.log" 2>&1 3>&- &
	full=$!
	VIEWER_PIDS+=("$full")
	for _ in $(seq 100); do
		tr '\0' ' ' < "/proc/$full/cmdline" | grep -q '^remote-viewer ' && break
		sleep 0.1
	done
	tr '\0' ' ' < "/proc/$full/cmdline" | grep -q "^remote-viewer --title $(vm_name vm) --full-screen spice+unix://$sock"
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	assert_clean vm
}

@test "spice: with \"group\", the socket is 0660 root:GROUP; a member connects, a uid outside it gets EACCES, and the supervisor turns away a peer the mode would let in" {
	spice_profile vm '' '"group": "users"'
	start_vm vm
	wait_log 'is running'
	sock=$VGPUVM_RUNTIME_DIR/$(vm_name vm)/spice.sock
	[ "$(stat -c '%a %U %G' "$sock")" = "660 root users" ]
	chmod o+x "$T" "$VGPUVM_RUNTIME_DIR"
	connect='import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect:", e.strerror); sys.exit(2)
s.settimeout(10)
# SPICE link message: the server answers a client it keeps; a connection it drops reads EOF.
mess = bytes(4) + bytes([1, 0]) + bytes(8) + (18).to_bytes(4, "little")  # the main channel, no caps
try:
    s.sendall(b"REDQ" + (2).to_bytes(4, "little") * 2 + len(mess).to_bytes(4, "little") + mess)
    data = s.recv(4)
except (BrokenPipeError, ConnectionResetError):
    data = b""
print("answered" if data == b"REDQ" else "closed")'
	# Outside the group: the socket's mode says no.
	run setpriv --reuid=65534 --regid=65534 --clear-groups -- "$CTL_PYTHON" -c "$connect" "$sock"
	echo "$output"
	[ "$status" -eq 2 ]
	[ "$output" = "connect: Permission denied" ]
	# A member by a supplementary group: QEMU's SPICE server answers.
	run setpriv --reuid=65534 --regid=65534 --groups=100 -- "$CTL_PYTHON" -c "$connect" "$sock"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = answered ]
	# The whole way as a member: vgpuvm viewer as uid 65534 in group users, its remote-viewer on the test's X server.
	xvfb_start
	install -d -o 65534 -g 65534 -m 0700 "$T/home-nobody"
	viewer_start vm env HOME="$T/home-nobody" setpriv --reuid=65534 --regid=65534 --groups=100 --
	shows_guest vm
	[ "$(stat -c %u "/proc/$VIEWER_PID")" = 65534 ]
	tr '\0' ' ' < "/proc/$VIEWER_PID/cmdline" | grep -q "^remote-viewer .*spice+unix://$sock"
	# Outside the group, viewer gets no further than the control socket.
	run env HOME="$T/home-nobody" setpriv --reuid=65534 --regid=65534 --clear-groups -- "$VGPUVM" viewer "$(vm_name vm)"
	echo "$output"
	[ "$status" -eq 77 ]
	# With the mode opened by hand, the supervisor still asks who connects, and closes on a stranger.
	chmod 0666 "$sock"
	run setpriv --reuid=65534 --regid=65534 --clear-groups -- "$CTL_PYTHON" -c "$connect" "$sock"
	echo "$output"
	[ "$output" = closed ]
	grep -q "spice: refused a connection from uid 65534: not root, the VM's owner or a member of its group" "$T/log"
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	assert_clean vm
}

@test "spice: TCP without password_file is refused (65, naming the field and the fix); viewer on a VM whose display is not spice: 65" {
	spice_profile tcp '"listen": "127.0.0.1:5930"'
	run "$VGPUVM" run "$T/tcp.json"
	echo "$output"
	[ "$status" -eq 65 ]
	[[ $output == *'display.listen: SPICE over TCP needs a password: add "password_file"'* ]]
	assert_clean tcp
	profile plain '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "shutdown": {"powerdown_timeout": 0, "quit_timeout": 5}'
	start_vm plain
	wait_log 'is running'
	run "$VGPUVM" viewer "$(vm_name plain)"
	echo "$output"
	[ "$status" -eq 65 ]
	[[ $output == *'display is "none", not "spice"'* ]]
	# No remote-viewer: 69, naming the package.
	spice_profile vm
	start_vm_named vm
	wait_log_of vm 'is running'
	run env PATH=/nonexistent "$VGPUVM" viewer "$(vm_name vm)"
	echo "$output"
	[ "$status" -eq 69 ]
	[[ $output == *virt-viewer* ]]
	# Root under sudo does not put a viewer on a user's display: 77.
	run env SUDO_USER=nobody "$VGPUVM" viewer "$(vm_name vm)"
	[ "$status" -eq 77 ]
	kill -TERM "$VM_PID" "${PIDS[vm]}"
	wait_vm 30
	wait_vm_of vm 30
	assert_clean plain
	assert_clean vm
}

@test "spice over TCP: the password comes from a root-trusted file over QMP, never in QEMU's argv or environment; remote-viewer with it shows the guest" {
	port=$(free_port)
	pw=vgpuvm-spice-pw-$$-$RANDOM
	install -m 0600 /dev/null "$T/pw"
	printf '%s\n' "$pw" > "$T/pw"
	# A password file someone else can write is refused (77); one that is missing, 66.
	install -m 0620 /dev/null "$T/pw-gw"
	echo x > "$T/pw-gw"
	spice_profile bad "\"listen\": \"127.0.0.1:$port\", \"password_file\": \"$T/pw-gw\""
	run "$VGPUVM" run "$T/bad.json"
	echo "$output"
	[ "$status" -eq 77 ]
	assert_clean bad
	spice_profile missing "\"listen\": \"127.0.0.1:$port\", \"password_file\": \"$T/nonexistent\""
	run "$VGPUVM" run "$T/missing.json"
	echo "$output"
	[ "$status" -eq 66 ]
	assert_clean missing

	spice_profile vm "\"listen\": \"127.0.0.1:$port\", \"password_file\": \"$T/pw\""
	start_vm vm
	wait_log 'is running'
	qpid=$(qemu_pid)
	refute grep -qa -- "$pw" "/proc/$qpid/cmdline"
	refute grep -qa -- "$pw" "/proc/$qpid/environ"
	refute grep -q -- "$pw" "$T/log"
	tr '\0' ' ' < "/proc/$qpid/cmdline" | grep -q -- "-spice port=$port,addr=127.0.0.1 "
	ss -ltnp | grep "127.0.0.1:$port " | grep -q "pid=$qpid,"
	# Ticketing is on: a client needs the password (set over QMP once QEMU was up).
	run "$VGPUVM" qmp "$(vm_name vm)" '{"execute": "query-spice"}'
	echo "$output"
	jq -e '.return.auth == "spice" and .return.enabled' <<<"$output"
	run "$VGPUVM" status "$(vm_name vm)" --json
	jq -e --arg a "127.0.0.1:$port" '.display.spice.address == $a' <<<"$output"
	xvfb_start
	remote-viewer "spice://127.0.0.1:$port?password=$pw" >"$T/viewer.log" 2>&1 3>&- &
	VIEWER_PIDS+=($!)
	shows_guest vm
	# vgpuvm viewer gives remote-viewer the address, and no password: remote-viewer asks for it.
	viewer_start vm
	for _ in $(seq 100); do
		tr '\0' ' ' < "/proc/$VIEWER_PID/cmdline" | grep -q '^remote-viewer ' && break
		sleep 0.1
	done
	[ "$(tr '\0' ' ' < "/proc/$VIEWER_PID/cmdline")" = "remote-viewer --title $(vm_name vm) spice://127.0.0.1:$port " ]
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	assert_clean vm
}

@test "spice: inside a Linux guest, the agent's port com.redhat.spice.0 and the guest agent's on one virtio-serial controller, and the tablet a window gets" {
	chmod 0711 "$T"
	linux_guest_setup
	json=$(linux_guest_json tests/guest-linux/spice.sh)
	[[ $json == *'"display": {"type": "none"}'* ]]
	profile g "${json/'"display": {"type": "none"}'/'"display": {"type": "spice"}, "agent": true'}"
	start_vm g
	wait_vm 120
	cat "$LG_WORK/report"
	# Both ports on one controller: one virtio-serial device on the guest's PCI bus.
	[ "$(grep -c '^pci 1af4:1003 ' "$LG_WORK/report")" -eq 1 ]
	grep -qx 'vport org.qemu.guest_agent.0' "$LG_WORK/report"
	[ "$VM_STATUS" -eq 0 ]
	[ "$(linux_guest_exit)" = 0 ]
	# virtio-serial (1af4:1003, a simple communication controller), its port for the agent, and the tablet.
	grep -qx 'pci 1af4:1003 0x078000' "$LG_WORK/report"
	grep -qx 'vport com.redhat.spice.0' "$LG_WORK/report"
	grep -qx 'usb QEMU USB Tablet' "$LG_WORK/report"
	assert_clean g
}

@test "spice: doctor asks QEMU for -spice, not -display: PASS with the real QEMU, FAIL naming SPICE with one that has none" {
	spice_profile vm
	run "$VGPUVM" doctor "$T/vm.json" --json
	jq -e '.checks[] | select(.id == "qemu.display") | .status == "PASS"' <<<"$output"
	# A stand-in QEMU: the real one's -version and -display help, but no -spice.
	cat >"$T/qemu-nospice" <<SH
#!/bin/sh
[ "\$1" = -spice ] && { echo "qemu-system-x86_64: -spice: invalid option" >&2; exit 1; }
exec $(command -v qemu-system-x86_64) "\$@"
SH
	chmod 0755 "$T/qemu-nospice"
	spice_profile nospice '' "\"qemu\": \"$T/qemu-nospice\""
	run "$VGPUVM" doctor "$T/nospice.json" --json
	echo "$output" | jq -c '.checks[] | select(.id == "qemu.display")'
	jq -e '.checks[] | select(.id == "qemu.display") | .status == "FAIL" and (.summary | contains("has no SPICE"))' <<<"$output"
}

#!/usr/bin/env bats
# NICs, seen from inside the Linux test guest (tests/lib/linux-guest.bash): user networking with a fetch from the
# host and a forwarded port, a tap vgpuvm makes on a bridge, a tap the user made; and, from outside, that every tap
# vgpuvm made is gone however the run ends, and that a bad bridge or tap stops the VM before anything is made. The
# bridges live in a network namespace each test makes (ip netns add); nothing touches the host's own network.

load lib/vm
load lib/control
load lib/operate
load lib/assert
load ../lib/linux-guest

setup() {
	VM_PREFIX=vgpuvm-net
	vm_setup
	operate_setup
	chmod 0711 "$T"
	linux_guest_setup
	NS=vgpuvm-net-$$-$BATS_TEST_NUMBER
	SRV_PID=
}

teardown() {
	[ -z "$SRV_PID" ] || kill "$SRV_PID" 2>/dev/null || true
	operate_teardown
	vm_teardown
	ip netns del "$NS" 2>/dev/null || true
}

# netns_setup: the test's network namespace, with its loopback up.
netns_setup() {
	ip netns add "$NS"
	ip -n "$NS" link set lo up
}

# bridge_add NAME CIDR: a bridge in the namespace, with that address, up.
bridge_add() {
	ip -n "$NS" link add "$1" type bridge
	ip -n "$NS" addr add "$2" dev "$1"
	ip -n "$NS" link set "$1" up
}

# start_vm_ns NAME: as start_vm, with vgpuvm in the test's network namespace.
start_vm_ns() {
	: >"$T/log"
	ip netns exec "$NS" "$VGPUVM" run "$T/$1.json" </dev/null >>"$T/log" 2>&1 &
	VM_PID=$!
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_report PATTERN [SECONDS]: until the guest's report has a line matching PATTERN.
wait_report() {
	local i
	for ((i = 0; i < ${2:-120} * 2; i++)); do
		grep -qE -- "$1" "$LG_WORK/report" 2>/dev/null && return 0
		kill -0 "$VM_PID" 2>/dev/null || break
		sleep 0.5
	done
	echo "--- no '$1' in the guest's report"; cat "$LG_WORK/report" 2>/dev/null; echo "--- console"; linux_guest_console | tail -n 20; echo "--- log"; cat "$T/log"
	return 1
}

@test "net user: the guest has the NIC with its stable MAC, fetches from the host, and serves a port forwarded on 127.0.0.1 only" {
	port=$(free_port)
	hport=$(free_port)
	mkdir "$T/www"
	token=token-$RANDOM$RANDOM
	echo "$token" >"$T/www/token"
	python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$port" >/dev/null 2>&1 &
	SRV_PID=$!
	serve=from-the-guest-$RANDOM
	printf 'PORT=%s\nGUEST_PORT=8000\nSERVE=%s\n' "$port" "$serve" >"$LG_WORK/params"
	profile u "$(linux_guest_json tests/guest-linux/net-user.sh), \"net\": [{\"forward\": [{\"host\": $hport, \"guest\": 8000}]}]"
	mac=$("$VGPUVM" argv "$T/u.json" | sed -n 's/.*virtio-net-pci,netdev=vgpuvm-net0,mac=\(.*\)$/\1/p')
	[ -n "$mac" ]
	start_vm u
	wait_report '^listening'

	# Status names the NIC, its MAC and the forward, as the guest and the host see them.
	st=$(json_of "$VGPUVM" status "$(vm_name u)" --json)
	echo "$st" | jq -e --arg mac "$mac" --argjson h "$hport" '.net | length == 1 and .[0].type == "user" and
		.[0].model == "virtio-net-pci" and .[0].mac == $mac and .[0].tap == null and
		.[0].forward == [{"proto": "tcp", "address": "127.0.0.1", "host": $h, "guest": 8000}]'
	echo "$st" | jq -e '.audio == null'
	"$VGPUVM" status "$(vm_name u)" | grep -E "^net:  +user virtio-net-pci $mac, tcp 127.0.0.1:$hport -> 8000$"
	# The forward listens on 127.0.0.1 alone, never on every address.
	ss -ltnH "sport = :$hport" | tee "$T/ss"
	awk '{ print $4 }' "$T/ss" | grep -qx "127.0.0.1:$hport"
	refute grep -qE "(0\.0\.0\.0|\*|\[::\]):$hport" "$T/ss"
	got=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$hport/', timeout=30).read().decode())")
	[ "$got" = "$serve" ]

	wait_vm 120
	cat "$LG_WORK/report"
	[ "$VM_STATUS" -eq 0 ]
	[ "$(linux_guest_exit)" = 0 ]
	grep -qx "nic eth0 $mac virtio_net" "$LG_WORK/report" || grep -qE "^nic [a-z0-9]+ $mac virtio_net$" "$LG_WORK/report"
	grep -qx "fetched $token" "$LG_WORK/report"
	grep -qx "served 10.0.2.2" "$LG_WORK/report"
	assert_clean u
}

@test "net bridge: vgpuvm makes a tap on the bridge and passes it by fd; the guest pings the bridge; the tap is gone after" {
	netns_setup
	bridge_add br0 10.77.0.1/24
	bridge_add br1 10.78.0.1/24
	# A tap the user made, on the second bridge: vgpuvm opens it for QEMU and leaves it in place.
	ip -n "$NS" tuntap add mytap mode tap
	ip -n "$NS" link set mytap master br1 up
	profile b "$(linux_guest_json tests/guest-linux/net-bridge.sh), \"net\": [{\"bridge\": \"br0\"}, {\"tap\": \"mytap\", \"model\": \"e1000e\"}]"
	macs=$("$VGPUVM" argv "$T/b.json" | sed -n 's/.*,netdev=vgpuvm-net[0-9],mac=\(.*\)$/\1/p')
	mac0=$(echo "$macs" | sed -n 1p)
	mac1=$(echo "$macs" | sed -n 2p)
	printf 'NICS="%s 10.77.0.2/24 10.77.0.1;%s 10.78.0.2/24 10.78.0.1"\n' "$mac0" "$mac1" >"$LG_WORK/params"
	# QEMU gets the taps as fds: nothing by name.
	"$VGPUVM" argv "$T/b.json" | grep -x 'tap,id=vgpuvm-net0,fd=[0-9]*'
	"$VGPUVM" argv "$T/b.json" | grep -x 'tap,id=vgpuvm-net1,fd=[0-9]*'
	start_vm_ns b
	wait_log 'is running' 60
	tap=$(json_of ip netns exec "$NS" "$VGPUVM" status "$(vm_name b)" --json | jq -r '.net[0].tap')
	[ -n "$tap" ] && [ "$tap" != null ]
	# On br0, up, and a tap (a tun device in tap mode) that is not persistent.
	ip -n "$NS" -d link show "$tap" | tee "$T/tap"
	grep -q "master br0" "$T/tap"
	grep -q "state UP\|,UP" "$T/tap"
	grep -q "tun type tap" "$T/tap"
	grep -q "persist off" "$T/tap"
	ip netns exec "$NS" "$VGPUVM" status "$(vm_name b)" | grep -E "^net:  +bridge br0 tap $tap virtio-net-pci $mac0$"
	ip netns exec "$NS" "$VGPUVM" status "$(vm_name b)" | grep -E "^net:  +tap mytap e1000e $mac1$"
	# The record names the tap while it exists.
	jq -e --arg t "$tap" '.taps[0].name == $t and .taps[0].ifindex > 0 and .netns > 0' "$VGPUVM_RUNTIME_DIR/$(vm_name b)/record.json"

	wait_vm 120
	cat "$LG_WORK/report"
	[ "$VM_STATUS" -eq 0 ]
	[ "$(linux_guest_exit)" = 0 ]
	grep -qE "^nic [a-z0-9]+ $mac0 virtio_net$" "$LG_WORK/report"
	grep -qE "^nic [a-z0-9]+ $mac1 e1000e$" "$LG_WORK/report"
	grep -qx "ping 10.77.0.1 ok" "$LG_WORK/report"
	grep -qx "ping 10.78.0.1 ok" "$LG_WORK/report"
	grep -q "deleted 1 tap" "$T/log"
	# vgpuvm's tap is gone; the user's is still there, still on its bridge.
	refute ip -n "$NS" link show "$tap"
	ip -n "$NS" link show mytap | grep -q "master br1"
	assert_clean b
}

@test "net bridge: a bridge that does not exist stops the VM with 69, naming it and how to make one; no tap is left" {
	netns_setup
	profile nb '"memory": "128M", "accel": "tcg", "serial": "none", "net": [{"bridge": "br9"}]'
	start_vm_ns nb
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 69 ]
	grep -q "there is no bridge br9; make one (ip link add br9 type bridge" "$T/log"
	refute grep -q "started QEMU" "$T/log"
	[ "$(ip -n "$NS" -o link show | wc -l)" -eq 1 ]
	assert_clean nb
}

@test "net bridge: not a bridge, or the tap's name taken: 69, and the interface of that name is left alone" {
	netns_setup
	bridge_add br0 10.77.0.1/24
	ip -n "$NS" tuntap add notabridge mode tap
	profile nab '"memory": "128M", "accel": "tcg", "serial": "none", "net": [{"bridge": "notabridge"}]'
	start_vm_ns nab
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 69 ]
	grep -q "notabridge is not a Linux bridge" "$T/log"

	# A short name of the VM's own, so that its tap is "NAME-t0".
	tap=vgt$$-t0
	printf '{"name": "vgt%s", "memory": "128M", "accel": "tcg", "serial": "none", "net": [{"bridge": "br0"}]}\n' "$$" >"$T/taken.json"
	ip -n "$NS" tuntap add "$tap" mode tap
	idx=$(ip netns exec "$NS" cat "/sys/class/net/$tap/ifindex")
	start_vm_ns taken
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 69 ]
	grep -q "a network interface called $tap exists already" "$T/log"
	# Still there, and still the same one.
	[ "$(ip netns exec "$NS" cat "/sys/class/net/$tap/ifindex")" = "$idx" ]
	ip -n "$NS" link show "$tap" >"$T/link"
	refute grep -q master "$T/link"
	assert_clean nab
	[ ! -e "$VGPUVM_RUNTIME_DIR/vgt$$" ]
}

@test "net tap: a tap that does not exist, or is not a tap, stops the VM with 69 naming the fix" {
	netns_setup
	profile nt '"memory": "128M", "accel": "tcg", "serial": "none", "net": [{"tap": "notap0"}]'
	start_vm_ns nt
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 69 ]
	grep -q "there is no tap notap0; make it (ip tuntap add notap0 mode tap)" "$T/log"
	ip -n "$NS" tuntap add tun0 mode tun
	profile tun '"memory": "128M", "accel": "tcg", "serial": "none", "net": [{"tap": "tun0"}]'
	start_vm_ns tun
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 69 ]
	grep -q "tun0 is not a tap" "$T/log"
	assert_clean nt
	assert_clean tun
}

@test "net bridge: QEMU failing to start, QEMU killed, and a stop each take the tap away" {
	netns_setup
	bridge_add br0 10.77.0.1/24
	# QEMU fails: an option it does not know.
	profile f '"memory": "128M", "accel": "tcg", "serial": "none", "net": [{"bridge": "br0"}], "extra_args": ["-no-such-option"]'
	start_vm_ns f
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -ne 0 ]
	grep -q "made tap" "$T/log"
	[ -z "$(ip -n "$NS" link show master br0)" ]

	# QEMU killed behind vgpuvm's back.
	profile k '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "net": [{"bridge": "br0"}]'
	start_vm_ns k
	wait_log 'is running' 60
	[ -n "$(ip -n "$NS" link show master br0)" ]
	kill -KILL "$(qemu_pid)"
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 137 ]
	[ -z "$(ip -n "$NS" link show master br0)" ]

	# A stop.
	start_vm_ns k
	wait_log 'is running' 60
	ip netns exec "$NS" "$VGPUVM" stop "$(vm_name k)" --force
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 0 ]
	[ -z "$(ip -n "$NS" link show master br0)" ]
	# Deleted by the supervisor under its own seccomp filter, which lets rtnetlink through.
	grep -q "deleted 1 tap" "$T/log"
	refute grep -q "seccomp filter refused" "$T/log"
	[ "$(ip -n "$NS" -o link show | wc -l)" -eq 2 ]
	assert_clean f
	assert_clean k
}

@test "net bridge: after the supervisor's SIGKILL the tap goes with QEMU, and cleanup finds nothing left to undo" {
	netns_setup
	bridge_add br0 10.77.0.1/24
	profile c '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "net": [{"bridge": "br0"}]'
	start_vm_ns c
	wait_log 'is running' 60
	q=$(qemu_pid)
	tap=$(jq -r '.taps[0].name' "$VGPUVM_RUNTIME_DIR/$(vm_name c)/record.json")
	ip -n "$NS" link show "$tap"
	kill -KILL "$VM_PID"
	wait_vm 10 || true
	pid_gone "$q" 30
	# Not persistent: the tap went with the last fd on it, QEMU's.
	refute ip -n "$NS" link show "$tap"
	[ -f "$VGPUVM_RUNTIME_DIR/$(vm_name c)/record.json" ]
	ip netns exec "$NS" "$VGPUVM" cleanup "$(vm_name c)"
	[ ! -e "$VGPUVM_RUNTIME_DIR/$(vm_name c)/record.json" ]
	assert_clean c
}

@test "net cleanup: a tap named in a dead supervisor's record is deleted if it is the one made (name and index), and left alone if not" {
	netns_setup
	name=$(vm_name rec)
	dir=$VGPUVM_RUNTIME_DIR/$name
	mkdir -p "$dir"
	chmod 0700 "$VGPUVM_RUNTIME_DIR" "$dir"
	ip -n "$NS" tuntap add left-t0 mode tap
	ip -n "$NS" tuntap add other-t0 mode tap
	ip -n "$NS" tuntap add zero-t0 mode tap
	idx=$(ip netns exec "$NS" cat /sys/class/net/left-t0/ifindex)
	other=$(ip netns exec "$NS" cat /sys/class/net/other-t0/ifindex)
	netns=$(ip netns exec "$NS" stat -L -c %i /proc/self/ns/net)
	# The dead supervisor's record: its tap; an entry whose index is not other-t0's any more; and one recorded before
	# its tap was made (no index): whatever has that name is not vgpuvm's.
	printf '{"name": "%s", "uuid": "", "type": "", "parent": "", "sysfs_root": "", "created": false, "supervisor_pid": 999999, "qemu_pid": null, "taps": [{"name": "left-t0", "ifindex": %s}, {"name": "other-t0", "ifindex": %s}, {"name": "zero-t0", "ifindex": 0}], "netns": %s}\n' \
		"$name" "$idx" "$((other + 1000))" "$netns" >"$dir/record.json"
	chmod 0600 "$dir/record.json"
	ip netns exec "$NS" "$VGPUVM" cleanup "$name"
	refute ip -n "$NS" link show left-t0
	ip -n "$NS" link show other-t0
	ip -n "$NS" link show zero-t0
	[ ! -e "$dir/record.json" ]
}

@test "net user: a forwarded host port that is taken: QEMU fails to start, with a hint naming the key; nothing is left" {
	port=$(free_port)
	python3 -c 'import socket, sys, time; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("up", flush=True); time.sleep(120)' "$port" >"$T/srv" &
	SRV_PID=$!
	for _ in $(seq 50); do grep -q up "$T/srv" && break; sleep 0.1; done
	profile busy "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, \"net\": [{\"forward\": [{\"host\": $port, \"guest\": 22}]}]"
	start_vm busy
	wait_vm 60
	cat "$T/log"
	[ "$VM_STATUS" -eq 1 ]
	grep -q "Could not set up host forwarding rule" "$T/log"
	grep -q "hint: a port in \"net\"'s \"forward\" is taken on the host" "$T/log"
	assert_clean busy
}

@test "net as an ordinary user: a bridge NIC is 77 (only root makes taps); a tap of another's is 77; the user's own tap QEMU opens itself" {
	netns_setup
	bridge_add br0 10.77.0.1/24
	install -d -o 65534 -m 0700 "$T/userrun"
	export VGPUVM_RUNTIME_DIR=$T/userrun
	as_user() {
		ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups -- "$VGPUVM" "$@"
	}
	profile ub '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "net": [{"bridge": "br0"}]'
	chmod 0644 "$T/ub.json"
	run as_user run "$T/ub.json"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"net[0]: a bridge NIC needs vgpuvm to run as root"* ]]
	[ -z "$(ip -n "$NS" link show master br0)" ]

	ip -n "$NS" tuntap add roottap mode tap
	profile ut '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "net": [{"tap": "roottap"}]'
	chmod 0644 "$T/ut.json"
	run as_user run "$T/ut.json"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"QEMU runs as uid 65534 and may not open tap roottap (it has no owner, so only root may)"* ]]

	ip -n "$NS" tuntap add usertap mode tap user 65534
	ip -n "$NS" link set usertap master br0 up
	profile own '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "net": [{"tap": "usertap"}]'
	chmod 0644 "$T/own.json"
	: >"$T/log"
	ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups -- "$VGPUVM" run "$T/own.json" </dev/null >>"$T/log" 2>&1 &
	VM_PID=$!
	wait_log 'is running' 60
	q=$(qemu_pid)
	# QEMU opened the tap itself, by name: it has /dev/net/tun open, and the tap has a carrier.
	ls -l "/proc/$q/fd" | grep -q '/dev/net/tun'
	ip -n "$NS" link show usertap | grep -q 'LOWER_UP'
	run as_user stop "$(vm_name own)" --force
	[ "$status" -eq 0 ]
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	# The user's tap stays.
	ip -n "$NS" link show usertap
	assert_clean own
}

@test "net bridge with a restart policy: each try makes its tap and deletes it; none is left when vgpuvm gives up" {
	netns_setup
	bridge_add br0 10.77.0.1/24
	fake_profile r crash '"net": [{"bridge": "br0"}], "restart": "on-failure", "restart_delay": 0'
	start_vm_ns r
	wait_vm 60
	cat "$T/log"
	[ "$VM_STATUS" -eq 3 ]
	grep -q "giving up" "$T/log"
	made=$(grep -c "made tap" "$T/log")
	[ "$made" -ge 2 ]
	[ "$(grep -c "deleted 1 tap" "$T/log")" -eq "$made" ]
	[ -z "$(ip -n "$NS" link show master br0)" ]
	[ "$(ip -n "$NS" -o link show | wc -l)" -eq 2 ]
	assert_clean r
}

# shellcheck shell=bash
# Host USB devices on the real kernel path: the outer QEMU gives the guest a keyboard and a mouse on an xhci
# controller (two devices with one id, 0627:0001, as QEMU's HID devices all have), the guest's kernel makes their
# /dev/bus/usb nodes, and vgpuvm inside passes one to its QEMU by fd (the profile's "usb", by id and serial), attaches the other
# at runtime and detaches it, refuses the ambiguous id and a device that is not there, and leaves every node's owner
# and mode as they were: nothing is lent.
# e2e-outer-qemu: -device qemu-xhci,id=e2e-xhci -device usb-kbd,bus=e2e-xhci.0,port=1 -device usb-mouse,bus=e2e-xhci.0,port=2
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
N=e2e-usb
P=$E2E_WORK/$N.json

# qmp_hmp NAME COMMAND: an HMP command through vgpuvm qmp; prints QEMU's reply.
qmp_hmp() {
	"$VGPUVM" qmp "$1" "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"$2\"}}"
}

# nodes: each USB node with its owner and mode.
nodes() { find /dev/bus/usb -type c -printf '%p %U:%G %m\n' | sort; }

step "the guest's kernel sees the outer QEMU's USB keyboard and mouse"
modprobe xhci_pci || fail "modprobe xhci_pci"
for _ in $(seq 50); do
	[ -e /sys/bus/usb/devices/1-1 ] && [ -e /sys/bus/usb/devices/1-2 ] && break
	sleep 0.1
done
for port in 1-1 1-2; do
	d=/sys/bus/usb/devices/$port
	[ -e "$d" ] || fail "no USB device at port $port: $(find /sys/bus/usb/devices/ -mindepth 1 -maxdepth 1 -printf '%f ')"
	ok "port $port: $(cat "$d/idVendor"):$(cat "$d/idProduct") $(cat "$d/product"), node $(printf '/dev/bus/usb/%03d/%03d' "$(cat "$d/busnum")" "$(cat "$d/devnum")")"
done
KSERIAL=$(cat /sys/bus/usb/devices/1-1/serial) || fail "the keyboard has no serial"
MOUSE=$(printf '/dev/bus/usb/%03d/%03d' "$(cat /sys/bus/usb/devices/1-2/busnum)" "$(cat /sys/bus/usb/devices/1-2/devnum)")
KBD=$(printf '/dev/bus/usb/%03d/%03d' "$(cat /sys/bus/usb/devices/1-1/busnum)" "$(cat /sys/bus/usb/devices/1-1/devnum)")
[ -c "$KBD" ] || fail "$KBD is not a character device"
BEFORE=$(nodes)
echo "$BEFORE"

step "a device that is not there, and an ambiguous id: 69, with the list"
printf '{"name": "%s", "memory": "64M", "accel": "tcg", "display": {"type": "none"}, "serial": "none", "usb": [{"id": "1234:5678"}], "shutdown": {"powerdown_timeout": 1, "quit_timeout": 5}}\n' "$N-missing" >"$E2E_WORK/missing.json"
vm_start missing "$E2E_WORK/missing.json"
vm_expect_exit missing 69
log_has missing "USB device 1234:5678 is not plugged in"
log_has missing "0627:0001 port 1-1"
log_has missing "0627:0001 port 1-2"
printf '{"name": "%s", "memory": "64M", "accel": "tcg", "display": {"type": "none"}, "serial": "none", "usb": [{"id": "0627:0001"}]}\n' "$N-ambiguous" >"$E2E_WORK/ambiguous.json"
vm_start ambiguous "$E2E_WORK/ambiguous.json"
vm_expect_exit ambiguous 69
log_has ambiguous '2 USB devices are 0627:0001; say which with "serial"'

step "vgpuvm run with the keyboard (0627:0001, serial $KSERIAL): QEMU gets its node as an fd"
printf '{"name": "%s", "memory": "64M", "accel": "tcg", "display": {"type": "none"}, "serial": "none", "usb": [{"id": "0627:0001", "serial": "%s"}], "shutdown": {"powerdown_timeout": 1, "quit_timeout": 5}}\n' "$N" "$KSERIAL" >"$P"
show vgpuvm doctor "$P" | grep '^PASS usb: usb\[0\]: 0627:0001 (serial .*) is 0627:0001 at port 1-1, QEMU USB Keyboard' ||
	fail "doctor does not find the keyboard"
show vgpuvm argv "$P" | grep -E 'usb|fdset|xhci'
vm_start $N "$P"
vm_wait_running $N
Q=$(json_field $N qemu_pid)
out=$(qmp_hmp $N "info usb") || fail "info usb: $out"
echo "$out"
grep -q 'vgpuvm-usb0' <<<"$out" || fail "QEMU's info usb lacks vgpuvm-usb0"
grep -q 'QEMU USB Keyboard' <<<"$out" || fail "the guest's USB device is not the host's keyboard"
ok "QEMU (pid $Q) has the host's keyboard as vgpuvm-usb0"
find "/proc/$Q/fd" -lname "$KBD" | grep -q . || fail "QEMU does not hold $KBD"
ok "QEMU holds $KBD open"
[ "$(nodes)" = "$BEFORE" ] || fail "a node's owner or mode changed: $(nodes)"
ok "no node was lent: owners and modes as before"
show vgpuvm status $N | grep '^usb:' || fail "status shows no usb line"
st=$("$VGPUVM" status $N --json)
grep -q '"port": "1-1"' <<<"$st" || fail "status --json: no port 1-1: $st"
grep -q "\"serial\": \"$KSERIAL\"" <<<"$st" || fail "status --json: no serial $KSERIAL: $st"
grep -q '"attached": "start"' <<<"$st" || fail "status --json: not attached at start: $st"
ok "status --json: the keyboard at port 1-1, attached at start"

step "vgpuvm usb attach and detach at runtime"
out=$(vgpuvm usb $N attach 0627:0001 2>&1)
rc=$?
[ $rc = 69 ] || fail "attach of an ambiguous id exited $rc: $out"
ok "attach 0627:0001: exit 69: $out"
show vgpuvm usb $N attach 1-2 || fail "vgpuvm usb attach 1-2"
out=$(qmp_hmp $N "info usb")
echo "$out"
grep -q 'ID: vgpuvm-usb-hot0' <<<"$out" || fail "vgpuvm-usb-hot0 is not in QEMU's info usb"
grep -q 'QEMU USB Mouse' <<<"$out" || fail "the mouse is not in QEMU's info usb"
ok "QEMU has the mouse as vgpuvm-usb-hot0"
find "/proc/$Q/fd" -lname "$MOUSE" | grep -q . || fail "QEMU does not hold $MOUSE"
ok "QEMU holds $MOUSE open"
show vgpuvm status $N | grep '^usb:'
"$VGPUVM" status $N --json | grep -q '"attached": "runtime"' || fail "status --json lacks the runtime device"
out=$(vgpuvm usb $N attach 1-2 2>&1) && fail "a second attach of 1-2 succeeded"
ok "attach 1-2 again: refused: $out"
show vgpuvm usb $N detach 1-2 || fail "vgpuvm usb detach 1-2"
out=$(qmp_hmp $N "info usb")
grep -q 'vgpuvm-usb-hot0' <<<"$out" && fail "the mouse is still in QEMU after detach: $out"
ok "the mouse is gone from QEMU: $(echo "$out" | tr '\n' ' ')"
find "/proc/$Q/fd" -lname "$MOUSE" | grep -q . && fail "QEMU still holds $MOUSE after detach"
ok "QEMU holds no fd of $MOUSE any more"
out=$(vgpuvm usb $N detach 1-2 2>&1)
rc=$?
[ $rc = 69 ] || fail "a second detach exited $rc: $out"
ok "detach 1-2 again: exit 69: $out"
log_has $N "attached USB device 0627:0001 (port 1-2) to the guest as vgpuvm-usb-hot0"
log_has $N "detached USB device 0627:0001 (port 1-2) from the guest"

step "the keyboard, given at the start, detached too: QEMU keeps no fd of it (nor its -add-fd set's)"
show vgpuvm usb $N detach 0627:0001 --serial "$KSERIAL" || fail "vgpuvm usb detach the keyboard"
out=$(qmp_hmp $N "info usb")
grep -q 'vgpuvm-usb0' <<<"$out" && fail "the keyboard is still in QEMU after detach: $out"
for _ in $(seq 20); do
	find "/proc/$Q/fd" -lname "$KBD" | grep -q . || break
	sleep 0.1
done
find "/proc/$Q/fd" -lname "$KBD" | grep -q . && fail "QEMU still holds $KBD after detach"
ok "QEMU holds no fd of $KBD any more"
show vgpuvm status $N | grep -q '^usb: *none' || fail "status still lists a USB device"

step "vgpuvm stop: nothing left, nothing lent"
show vgpuvm stop $N || fail "vgpuvm stop $N"
vm_expect_exit $N 0
[ "$(nodes)" = "$BEFORE" ] || fail "a node's owner or mode changed: $(nodes)"
ok "every /dev/bus/usb node has its owner and mode of before"
e2e_pass

#!/usr/bin/env bats
# Host USB devices (the profile's "usb"): found in a fake sysfs and dev tree (VGPUVM_SYSFS_ROOT, VGPUVM_DEV_ROOT),
# a missing or ambiguous device stops the start with 69 and the list of what is there, a node that is not what it
# claims is refused with 77, and nothing is left behind. The real device, passed to a real QEMU, needs a kernel with
# USB: this machine's may have none, and then the e2e scenario usb-passthrough (a TCG guest with an emulated USB
# device) covers it.

load lib/vm
load lib/assert

setup() {
	VM_PREFIX=${VM_PREFIX:-vgpuvm-usb}
	vm_setup
	SYS=$T/sys DEV=$T/dev
	mkdir -p "$SYS/bus/usb/devices" "$DEV/bus/usb"
}

teardown() {
	vm_teardown
	if [ -n "${LOADED:-}" ]; then
		rmmod "$LOADED" usb_f_ss_lb usb_f_acm dummy_hcd 2>/dev/null || true
	fi
}

# usb_dev PORT VENDOR PRODUCT BUS DEV [PRODUCT-NAME [SERIAL]]: a device in the fake sysfs, as the kernel shows it.
usb_dev() {
	local d=$SYS/bus/usb/devices/$1
	mkdir -p "$d"
	echo "$2" >"$d/idVendor"
	echo "$3" >"$d/idProduct"
	echo "$4" >"$d/busnum"
	echo "$5" >"$d/devnum"
	[ -z "${6:-}" ] || echo "$6" >"$d/product"
	[ -z "${7:-}" ] || echo "$7" >"$d/serial"
}

# usb_node BUS DEV: the node the kernel would make for it, a character device 189:(BUS-1)*128+(DEV-1).
usb_node() {
	mkdir -p "$DEV/bus/usb/$(printf %03d "$1")"
	mknod "$DEV/bus/usb/$(printf %03d "$1")/$(printf %03d "$2")" c 189 $((($1 - 1) * 128 + $2 - 1))
}

# usb_profile NAME USB-JSON: a plain VM under TCG with those USB devices.
usb_profile() {
	profile "$1" "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": {\"type\": \"none\"}, \"usb\": $2"
}

# assert_log ERE: the log has a line matching it.
assert_log() {
	grep -E -q -- "$1" "$T/log" || { echo "--- no line matching '$1' in the log:"; cat "$T/log"; return 1; }
}

# run_usb NAME: vgpuvm run in the foreground with the fake trees (each run here ends before QEMU starts), bounded by
# timeout rather than a background watchdog; its status in VM_STATUS, its output in $T/log.
run_usb() {
	VM_STATUS=0
	VGPUVM_SYSFS_ROOT=$SYS VGPUVM_DEV_ROOT=$DEV timeout -k 5 30 "$VGPUVM" run "$T/$1.json" </dev/null >"$T/log" 2>&1 ||
		VM_STATUS=$?
}

# A hub, a root hub and an interface, which are not devices to give a guest and must not be listed as such.
fake_bus() {
	usb_dev usb1 1d6b 0002 1 1 "EHCI Host Controller"
	usb_dev 1-1 046d c52b 1 2 "USB Receiver"
	mkdir -p "$SYS/bus/usb/devices/1-1:1.0"
	usb_dev 1-2 0781 5581 1 3 "Ultra" 4C530001
	usb_node 1 2
	usb_node 1 3
}

@test "usb: a device that is not plugged in stops the start with 69, listing the devices there (id, port, product)" {
	fake_bus
	usb_profile m '[{"id": "1234:5678"}]'
	run_usb m
	[ "$VM_STATUS" -eq 69 ] || { cat "$T/log"; false; }
	assert_log 'usb\[0\]: USB device 1234:5678 is not plugged in'
	assert_log '046d:c52b port 1-1 USB Receiver'
	assert_log '0781:5581 port 1-2 Ultra'
	# Neither the root hub nor an interface is a device to give.
	refute grep -q '1d6b:0002\|1-1:1.0' "$T/log"
	refute grep -q 'started QEMU' "$T/log"
	assert_clean m
}

@test "usb: a port with nothing plugged in is missing too; with no USB at all the list says so" {
	usb_profile p '[{"port": "2-1"}]'
	run_usb p
	[ "$VM_STATUS" -eq 69 ]
	assert_log 'USB device port 2-1 is not plugged in'
	assert_log '\(none\)'
	rm -rf "$SYS/bus"
	run_usb p
	[ "$VM_STATUS" -eq 69 ]
	assert_log '\(none\)'
	assert_clean p
}

@test "usb: two devices with the id and no serial: 69 asking for a serial or a port; the serial then picks one" {
	fake_bus
	usb_dev 1-3 0781 5581 1 4 "Ultra" 4C530002
	usb_profile a '[{"id": "0781:5581"}]'
	run_usb a
	[ "$VM_STATUS" -eq 69 ]
	assert_log '2 USB devices are 0781:5581; say which with "serial"'
	assert_log '"port"'
	# With a serial the device is found: its node (1/4) is missing, and that is what stops it now.
	usb_profile s '[{"id": "0781:5581", "serial": "4C530002"}]'
	run_usb s
	[ "$VM_STATUS" -ne 0 ]
	assert_log 'bus/usb/001/004, the node of USB device 0781:5581'
	assert_clean s
}

@test "usb: one device named twice (by id and by port) is refused before QEMU starts" {
	fake_bus
	usb_profile t '[{"id": "046d:c52b"}, {"port": "1-1"}]'
	run_usb t
	[ "$VM_STATUS" -eq 69 ]
	assert_log 'usb\[0\] and usb\[1\] are the same device, 046d:c52b at port 1-1'
	assert_clean t
}

@test "usb: a node that is a symbolic link, a regular file or another device is refused with 77, and left as it was" {
	fake_bus
	usb_profile r '[{"id": "046d:c52b"}]'
	node=$DEV/bus/usb/001/002
	for kind in link file null minor; do
		rm -f "$node" "$T/target"
		case $kind in
		link) mknod "$T/target" c 189 1; ln -s "$T/target" "$node" ;;
		file) echo data >"$node" ;;
		null) mknod "$node" c 1 3 ;;
		minor) mknod "$node" c 189 7 ;;
		esac
		before=$(stat -c '%F %u:%g %a' "$node")
		run_usb r
		[ "$VM_STATUS" -eq 77 ] || { echo "$kind: $VM_STATUS"; cat "$T/log"; false; }
		assert_log "bus/usb/001/002 is not the node of USB device 046d:c52b \(port 1-1\)"
		assert_log 'refusing it'
		refute grep -q 'started QEMU' "$T/log"
		[ "$(stat -c '%F %u:%g %a' "$node")" = "$before" ]
	done
	assert_clean r
}

@test "usb: a directory on the node's path that is a symbolic link is not followed" {
	fake_bus
	mv "$DEV/bus/usb/001" "$T/elsewhere"
	ln -s "$T/elsewhere" "$DEV/bus/usb/001"
	usb_profile d '[{"id": "046d:c52b"}]'
	run_usb d
	[ "$VM_STATUS" -eq 69 ]
	assert_log 'Failed to open .*/bus/usb/001, the directory of USB device 046d:c52b'
	assert_clean d
}

@test "usb: the node that is the device is opened (here, without USB in the kernel, the open is what fails)" {
	[ ! -d /sys/bus/usb ] || skip "this kernel has USB: the real device tests cover it"
	fake_bus
	usb_profile o '[{"port": "1-2"}]'
	run_usb o
	[ "$VM_STATUS" -eq 69 ]
	# Past every check: the kernel itself says there is no such device behind 189:2.
	assert_log 'Failed to open .*/bus/usb/001/003, the node of USB device 0781:5581: No such device or address'
	assert_clean o
}

@test "usb: as a user (no fds), the argv names the device for QEMU to find; as root, an fdset on one xhci controller" {
	usb_profile u '[{"id": "046d:c52b"}, {"port": "3-1.4"}]'
	chmod 0755 "$T"
	chmod 0644 "$T/u.json"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$VGPUVM" argv "$T/u.json"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ $output == *$'\nusb-host,bus=vgpuvm-xhci.0,id=vgpuvm-usb0,vendorid=0x046d,productid=0xc52b\n'* ]]
	[[ $output == *$'\nusb-host,bus=vgpuvm-xhci.0,id=vgpuvm-usb1,hostbus=3,hostport=1.4'* ]]
	run "$VGPUVM" argv "$T/u.json"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^qemu-xhci' <<<"$output")" -eq 1 ]
	[[ $output == *$'\n-add-fd\nfd=5,set=3,opaque=usb0\n'* ]]
	[[ $output == *$'\nusb-host,bus=vgpuvm-xhci.0,id=vgpuvm-usb0,hostdevice=/dev/fdset/3\n'* ]]
}

@test "usb: QEMU gets a real USB device by fd, and QMP shows it (a dummy_hcd gadget: needs a kernel with USB)" {
	# Only a test device, never one of the host's own (a keyboard handed to QEMU is a keyboard the host loses): a
	# gadget (g_zero, else g_serial, which Debian ships) on the dummy host controller, the only device on its bus.
	gadget=
	if modprobe dummy_hcd 2>/dev/null; then
		# Their functions first: where the kernel cannot load modules itself (a chroot), the gadget would not start.
		modprobe -q usb_f_ss_lb 2>/dev/null || true
		modprobe -q usb_f_acm 2>/dev/null || true
		for g in g_zero g_serial; do
			modprobe "$g" 2>/dev/null && { gadget=$g; break; }
		done
	fi
	if [ -z "$gadget" ]; then
		rmmod dummy_hcd 2>/dev/null || true
		skip "no dummy_hcd and gadget (g_zero, g_serial) modules for $(uname -r) ($([ -d /sys/bus/usb ] && echo 'the kernel has USB' || echo 'no USB in the kernel')); the e2e scenario usb-passthrough covers the real device"
	fi
	LOADED=$gadget
	port=
	for _ in $(seq 50); do
		for hub in /sys/bus/usb/devices/usb*; do
			grep -qi dummy "$hub/product" 2>/dev/null || continue
			[ -e "/sys/bus/usb/devices/$(cat "$hub/busnum")-1" ] && port=$(cat "$hub/busnum")-1
		done
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { echo "no gadget on dummy_hcd's bus: $(ls /sys/bus/usb/devices)"; false; }
	d=/sys/bus/usb/devices/$port
	node=$(printf '/dev/bus/usb/%03d/%03d' "$(cat "$d/busnum")" "$(cat "$d/devnum")")
	before=$(stat -c '%u:%g %a' "$node")
	usb_profile q "[{\"port\": \"$port\"}]"
	start_vm q
	wait_log 'is running' 60
	run "$VGPUVM" qmp "$(vm_name q)" '{"execute": "human-monitor-command", "arguments": {"command-line": "info usb"}}'
	[ "$status" -eq 0 ]
	[[ $output == *vgpuvm-usb0* ]]
	[ "$(stat -c '%u:%g %a' "$node")" = "$before" ]
	"$VGPUVM" stop "$(vm_name q)"
	wait_vm 60
	[ "$(stat -c '%u:%g %a' "$node")" = "$before" ]
	assert_clean q
}

# fake_usb_vm NAME [MORE-JSON]: a VM run by the fake QEMU (stubborn: only SIGKILL ends it; every timeout 0).
fake_usb_vm() {
	profile "$1" "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"qemu\": \"$HELPERS/fake-qemu\", \"env\": {\"FAKE_QEMU_MODE\": \"stubborn\"}, \"shutdown\": {\"powerdown_timeout\": 0, \"quit_timeout\": 0, \"kill_timeout\": 0}${2:+, $2}"
	VGPUVM_SYSFS_ROOT=$SYS VGPUVM_DEV_ROOT=$DEV start_vm "$1"
	wait_log 'is running'
}

@test "usb attach/detach at runtime: missing or ambiguous 69 with the list, a refused node 77, not attached 69; QEMU is asked nothing" {
	fake_bus
	usb_dev 1-3 0781 5581 1 4 "Ultra" 4C530002
	ln -s /dev/null "$DEV/bus/usb/001/004"
	fake_usb_vm r '"usb": []'
	name=$(vm_name r)
	run "$VGPUVM" usb "$name" attach 1234:5678
	[ "$status" -eq 69 ] || { echo "$output"; false; }
	[[ $output == *"USB device 1234:5678 is not plugged in"* ]]
	[[ $output == *"046d:c52b port 1-1 USB Receiver"* ]]
	run "$VGPUVM" usb "$name" attach 0781:5581
	[ "$status" -eq 69 ]
	[[ $output == *"2 USB devices are 0781:5581"* ]]
	# The serial picks 1-3, whose node is a symbolic link: refused, and left alone.
	run "$VGPUVM" usb "$name" attach 0781:5581 --serial 4C530002
	[ "$status" -eq 77 ] || { echo "$output"; false; }
	[[ $output == *"bus/usb/001/004 is not the node of USB device 0781:5581 (port 1-3): it is a symbolic link"* ]]
	[ "$(readlink "$DEV/bus/usb/001/004")" = /dev/null ]
	run "$VGPUVM" usb "$name" detach 1-1
	[ "$status" -eq 69 ]
	[[ $output == *"USB device port 1-1 is not attached to this VM"* ]]
	run "$VGPUVM" usb "$name" attach not-a-device
	[ "$status" -eq 70 ]
	[[ $output == *"an id like 046d:c52b"* ]]
	run "$VGPUVM" usb "$name" frobnicate 1-1
	[ "$status" -eq 64 ]
	run "$VGPUVM" status "$name"
	[[ $output == *$'\nusb:          none\n'* ]] || { echo "$output"; false; }
	# None of it reached QEMU: no fd was added, no device asked for.
	refute grep -q '"execute":"add-fd"\|device_add\|device_del' "$T/log"
	kill -TERM "$VM_PID"
	wait_vm 30
	assert_clean r
}

@test "usb attach: a VM without a USB controller says how to get one (69)" {
	fake_bus
	fake_usb_vm n
	run "$VGPUVM" usb "$(vm_name n)" attach 1-1
	[ "$status" -eq 69 ] || { echo "$output"; false; }
	[[ $output == *'no USB controller; give its profile "usb": []'* ]]
	kill -TERM "$VM_PID"
	wait_vm 30
}

@test "usb attach/detach is root's and the owner's: a member of the VM's group is refused (77)" {
	fake_bus
	chmod 0711 "$T"
	fake_usb_vm g '"usb": [], "group": "users"'
	run setpriv --reuid=65534 --regid=65534 --groups=100 -- "$VGPUVM" usb "$(vm_name g)" attach 1-1
	[ "$status" -eq 77 ] || { echo "$output"; false; }
	[[ $output == *"usb is for root and the user who started the VM"* ]]
	# status is still theirs, and shows no device.
	run setpriv --reuid=65534 --regid=65534 --groups=100 -- "$VGPUVM" status "$(vm_name g)" --json
	[ "$status" -eq 0 ]
	[ "$(jq -c .usb <<<"$output")" = '[]' ]
	kill -TERM "$VM_PID"
	wait_vm 30
}

@test "usb doctor: one line per device: PASS with its port and node, FAIL with the list when missing or ambiguous, or when the node is not it" {
	fake_bus
	usb_dev 1-3 0781 5581 1 4 "Ultra" 4C530002
	echo data >"$DEV/bus/usb/001/004"
	usb_profile d '[{"port": "1-1"}, {"id": "1234:5678"}, {"id": "0781:5581"}, {"port": "1-3"}]'
	VGPUVM_SYSFS_ROOT=$SYS VGPUVM_DEV_ROOT=$DEV run "$VGPUVM" doctor "$T/d.json" --json
	[ "$status" -eq 1 ] || { echo "$output"; false; }
	jq -c '.checks[] | select(.id == "usb")' <<<"$output"
	[ "$(jq '[.checks[] | select(.id == "usb")] | length' <<<"$output")" -eq 4 ]
	jq -e '[.checks[] | select(.id == "usb")] | .[0].status == "PASS" and (.[0].summary | test("port 1-1.*node .*/bus/usb/001/002$"))' <<<"$output"
	jq -e '[.checks[] | select(.id == "usb")] | .[1].status == "FAIL" and (.[1].summary | test("1234:5678 is not plugged in")) and (.[1].summary | test("0781:5581 port 1-2 Ultra"))' <<<"$output"
	jq -e '[.checks[] | select(.id == "usb")] | .[2].status == "FAIL" and (.[2].summary | test("2 USB devices are 0781:5581"))' <<<"$output"
	jq -e '[.checks[] | select(.id == "usb")] | .[3].status == "FAIL" and (.[3].summary | test("is not its node")) and (.[3].fix | test("devtmpfs"))' <<<"$output"
	# A profile without usb has no usb line.
	usb_profile n '[]'
	VGPUVM_SYSFS_ROOT=$SYS VGPUVM_DEV_ROOT=$DEV run "$VGPUVM" doctor "$T/n.json" --json
	[ "$(jq '[.checks[] | select(.id == "usb")] | length' <<<"$output")" -eq 0 ]
}

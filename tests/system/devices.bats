#!/usr/bin/env bats
# Input, sound and direct kernel boot, seen from inside the Linux test guest (tests/lib/linux-guest.bash): the tablet
# on its USB controller, the virtio keyboard, the HDA sound card with its duplex codec, and a kernel that only root can
# read, which QEMU gets as a sealed copy; the defaults add none of them. And from outside, that "audio" names what is
# missing before QEMU starts.

load lib/vm
load lib/control
load lib/operate
load lib/assert
load ../lib/linux-guest

setup() {
	VM_PREFIX=vgpuvm-dev
	vm_setup
	operate_setup
	chmod 0711 "$T"
	linux_guest_setup
}

teardown() {
	[ -z "${PA_PID:-}" ] || kill "$PA_PID" 2>/dev/null || true
	operate_teardown
	vm_teardown
}

# As nobody, in the test's session: $T/xdg is its XDG_RUNTIME_DIR, $T/pahome its HOME.
as_session() {
	setpriv --reuid=65534 --regid=65534 --clear-groups -- env -i PATH=/usr/bin:/bin HOME="$T/pahome" \
		XDG_RUNTIME_DIR="$T/xdg" "$@"
}

# wait_file PATH [SECONDS]: until PATH exists, or vgpuvm has exited.
wait_file() {
	local i
	for ((i = 0; i < ${2:-120} * 2; i++)); do
		[ -e "$1" ] && return 0
		kill -0 "$VM_PID" 2>/dev/null || break
		sleep 0.5
	done
	echo "--- no $1"; linux_guest_console | tail -n 20; cat "$T/log"
	return 1
}

@test "devices: tablet on qemu-xhci, virtio keyboard and an HDA card with a duplex codec in the guest; a kernel only root can read boots from a sealed copy" {
	# The kernel and initramfs where QEMU's user cannot read them: it gets them as memfds.
	mkdir -m 0700 "$T/boot"
	cp "$LG_DIR/kernel" "$T/boot/kernel"
	cp "$LG_DIR/initrd.cpio.gz" "$T/boot/initrd"
	chmod 0600 "$T/boot/kernel" "$T/boot/initrd"
	LG_KERNEL=$T/boot/kernel LG_INITRD=$T/boot/initrd
	echo WAIT_GO=1 >"$LG_WORK/params"
	profile d "$(linux_guest_json tests/guest-linux/devices.sh), \"input\": {\"tablet\": true, \"keyboard\": \"virtio\"}, \"audio\": \"none\""
	start_vm d
	wait_file "$LG_WORK/report"
	q=$(qemu_pid)
	# QEMU opens /proc/self/fd/N: the sealed memfds, not the files.
	tr '\0' '\n' <"/proc/$q/cmdline" | grep -A1 -x -- -kernel | tail -n1 | tee "$T/karg"
	grep -qE '^/proc/self/fd/[0-9]+$' "$T/karg"
	readlink "/proc/$q/fd/$(sed 's|.*/||' "$T/karg")" | grep -q '^/memfd:vgpuvm-kernel'
	st=$(json_of "$VGPUVM" status "$(vm_name d)" --json)
	echo "$st" | jq -e '.audio == "none" and .net == []'
	"$VGPUVM" status "$(vm_name d)" | grep -x 'audio:        none (a sound card that plays nowhere)'
	"$VGPUVM" status "$(vm_name d)" | grep -x 'net:          none'
	touch "$LG_WORK/go"
	wait_vm 120
	cat "$LG_WORK/report"
	[ "$VM_STATUS" -eq 0 ]
	[ "$(linux_guest_exit)" = 0 ]
	# qemu-xhci (1b36:000d) with the tablet on it, the virtio keyboard, ICH6 HDA (8086:2668, class 0x0403).
	grep -qx 'pci 1b36:000d 0x0c0330' "$LG_WORK/report"
	grep -qx 'usb QEMU USB Tablet' "$LG_WORK/report"
	grep -qx 'input QEMU QEMU USB Tablet' "$LG_WORK/report"
	grep -qx 'input QEMU Virtio Keyboard' "$LG_WORK/report"
	grep -qx 'pci 8086:2668 0x040300' "$LG_WORK/report"
	# The card, with a playback and a capture PCM: the codec is hda-duplex.
	grep -qx 'sound Intel pcm0c pcm0p' "$LG_WORK/report"
	assert_clean d
}

@test "devices: without a window and without \"audio\", the guest has no tablet, no USB controller and no sound card" {
	profile plain "$(linux_guest_json tests/guest-linux/devices.sh)"
	start_vm plain
	wait_vm 120
	cat "$LG_WORK/report"
	[ "$VM_STATUS" -eq 0 ]
	[ "$(linux_guest_exit)" = 0 ]
	grep -q '^pci ' "$LG_WORK/report"
	refute grep -q '^usb ' "$LG_WORK/report"
	refute grep -q '^pci .* 0x0c03' "$LG_WORK/report"
	refute grep -q '^pci .* 0x0403' "$LG_WORK/report"
	refute grep -q '^sound ' "$LG_WORK/report"
	refute grep -q '^nic ' "$LG_WORK/report"
	grep -qx 'input AT Translated Set 2 keyboard' "$LG_WORK/report"
	assert_clean plain
}

@test "audio pa: QEMU plays into the session's PulseAudio (XDG_RUNTIME_DIR reaches it): the guest's playback is a stream there" {
	command -v pulseaudio >/dev/null || skip "pulseaudio is not installed (scripts/deps.sh test)"
	install -d -o 65534 -g 65534 -m 0700 "$T/xdg" "$T/pahome"
	as_session pulseaudio -n --daemonize=no --exit-idle-time=-1 --disable-shm=yes --log-target=stderr \
		-L module-native-protocol-unix -L "module-null-sink sink_name=vgpuvm_test" >"$T/pa.log" 2>&1 &
	PA_PID=$!
	for _ in $(seq 100); do [ -S "$T/xdg/pulse/native" ] && break; sleep 0.1; done
	[ -S "$T/xdg/pulse/native" ] || { cat "$T/pa.log"; false; }
	# The session's user runs QEMU: only it may reach the session's server.
	profile pa "$(linux_guest_json tests/guest-linux/play.sh), \"user\": \"nobody\", \"audio\": \"pa\""
	XDG_RUNTIME_DIR=$T/xdg start_vm pa
	wait_file "$LG_WORK/report"
	cat "$LG_WORK/report"
	grep -qx playing "$LG_WORK/report"
	# QEMU is a client of the session's server, and the guest's playback one of its streams.
	for _ in $(seq 60); do
		as_session pactl list sink-inputs >"$T/inputs" 2>&1 || true
		grep -q 'media.name = "vgpuvm-audio"' "$T/inputs" && break
		sleep 0.5
	done
	cat "$T/inputs"
	grep -q 'media.name = "vgpuvm-audio"' "$T/inputs"
	grep -q "application.process.id = \"$(qemu_pid)\"" "$T/inputs"
	grep -q 'application.process.binary = "qemu-system-x86_64"' "$T/inputs"
	"$VGPUVM" status "$(vm_name pa)" | grep -x 'audio:        pa'
	touch "$LG_WORK/go"
	wait_vm 120
	[ "$VM_STATUS" -eq 0 ]
	assert_clean pa
}

@test "audio pa: without a session (no XDG_RUNTIME_DIR, no PULSE_SERVER) the VM stops with 69 naming the fix; nothing starts" {
	profile pa '"memory": "128M", "accel": "tcg", "serial": "none", "audio": "pa"'
	: >"$T/log"
	env -u XDG_RUNTIME_DIR -u PULSE_SERVER "$VGPUVM" run "$T/pa.json" </dev/null >>"$T/log" 2>&1 &
	VM_PID=$!
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 69 ]
	grep -q 'audio "pa" plays into the sound server of a desktop session, and there is none here: XDG_RUNTIME_DIR is not set' "$T/log"
	grep -q 'use "audio": "none"' "$T/log"
	refute grep -q "started QEMU" "$T/log"
	assert_clean pa
}

@test "audio pa: a session without a sound server is 69; a server QEMU's user cannot reach is 77" {
	profile pa '"memory": "128M", "accel": "tcg", "serial": "none", "audio": "pa"'
	mkdir -m 0755 "$T/xdg"
	: >"$T/log"
	XDG_RUNTIME_DIR=$T/xdg "$VGPUVM" run "$T/pa.json" </dev/null >>"$T/log" 2>&1 &
	VM_PID=$!
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 69 ]
	grep -q "there is no sound server at $T/xdg/pulse/native" "$T/log"

	# A server in a directory only root may enter, while QEMU runs as a uid of its own.
	mkdir -m 0700 "$T/xdg/pulse"
	python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/xdg/pulse/native"
	chmod 0777 "$T/xdg/pulse/native"
	: >"$T/log"
	XDG_RUNTIME_DIR=$T/xdg "$VGPUVM" run "$T/pa.json" </dev/null >>"$T/log" 2>&1 &
	VM_PID=$!
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 77 ]
	grep -q "which cannot reach the sound server $T/xdg/pulse/native of uid 0; set \"user\" to the session's user" "$T/log"
	refute grep -q "started QEMU" "$T/log"
	assert_clean pa
}

@test "boot: a kernel that is not there is 66, one of root's in a directory others can write is 77; QEMU never starts" {
	profile k '"memory": "128M", "accel": "tcg", "serial": "none", "boot": {"kernel": "/nonexistent/vmlinuz"}'
	start_vm k
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 66 ]
	grep -q "Failed to open the kernel /nonexistent/vmlinuz for QEMU" "$T/log"
	mkdir -m 0777 "$T/open"
	cp "$LG_DIR/kernel" "$T/open/vmlinuz"
	profile k2 "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"boot\": {\"kernel\": \"$T/open/vmlinuz\"}"
	start_vm k2
	wait_vm 30
	cat "$T/log"
	[ "$VM_STATUS" -eq 77 ]
	grep -q "Failed to open the kernel $T/open/vmlinuz for QEMU: it is root's, in a directory that someone other than root can write" "$T/log"
	refute grep -q "started QEMU" "$T/log"
	assert_clean k
	assert_clean k2
}

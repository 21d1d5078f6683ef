# shellcheck shell=bash
# Shared by the Linux test guest's scripts (tests/lib/linux-guest.bash): without udev nothing loads the drivers of the
# devices QEMU gave the guest, so load_drivers does it from their modaliases; report_devices writes what the guest
# sees, one fact a line, for the host's test to grep:
#   nic NAME MAC DRIVER       a network interface other than lo
#   pci VENDOR:DEVICE CLASS   each PCI function (class as the kernel shows it, e.g. 0x040300 for HDA audio)
#   usb PRODUCT               each USB device's product string
#   input NAME                each input device the kernel registered
#   sound ID PCM...           each sound card, with its PCM devices (pcm0p plays, pcm0c records)
# The host may leave settings in $E2E_WORK/params (shell assignments), which params reads. ping_ is ping, or busybox's
# where iputils is not installed.

params() {
	[ -f "$E2E_WORK/params" ] && . "$E2E_WORK/params"
	return 0
}

load_drivers() {
	local pass m seen= now
	# The HDA controller's driver asks for its codec's driver through the kernel's modprobe helper, which runs in the
	# initramfs's root, not in this one: without the codec driver loaded first it "cannot probe codecs".
	grep -qx '0x0403..' /sys/bus/pci/devices/*/class 2>/dev/null && modprobe -q snd_hda_codec_generic
	# Until no new device turns up: a USB controller's driver brings up its bus, whose devices then have modaliases
	# of their own, a while later under TCG, and a USB HID device a HID one.
	for pass in $(seq 20); do
		now=$(cat /sys/bus/{pci,usb,virtio,hid}/devices/*/modalias \
			2>/dev/null | sort)
		[ "$pass" -gt 2 ] && [ "$now" = "$seen" ] && break
		seen=$now
		for m in $now; do
			modprobe -q "$m" 2>/dev/null
		done
		sleep 0.5
	done
	return 0
}

report_devices() {
	local d n
	for d in /sys/class/net/*; do
		n=${d##*/}
		[ "$n" = lo ] && continue
		echo "nic $n $(cat "$d/address") $(basename "$(readlink -f "$d/device/driver" 2>/dev/null)" 2>/dev/null)"
	done
	for d in /sys/bus/pci/devices/*; do
		echo "pci $(sed 's/^0x//' "$d/vendor"):$(sed 's/^0x//' "$d/device") $(cat "$d/class")"
	done
	for d in /sys/bus/usb/devices/*/product; do
		[ -r "$d" ] && echo "usb $(cat "$d")"
	done
	sed -n 's/^N: Name="\(.*\)"$/input \1/p' /proc/bus/input/devices 2>/dev/null
	for d in /proc/asound/card[0-9]*; do
		[ -d "$d" ] && echo "sound $(cat "$d/id") $(cd "$d" && echo pcm*)"
	done
	return 0
}

ping_() {
	if command -v ping >/dev/null; then
		ping "$@"
	else
		busybox ping "$@"
	fi
}

# shellcheck shell=bash
# A real Linux guest booted by vgpuvm, for testing a device feature from the inside: Debian's kernel and the e2e
# layer's initramfs (tests/e2e/setup.sh builds both into build/e2e), the host's / read-only over virtio-9p as the
# guest's root, and a work directory read-write. The guest runs one script (bash, in the host's userland: modprobe,
# ip, python3, qemu-ga are there), which writes what it sees into $E2E_WORK, then powers off; vgpuvm then exits 0.
# See tests/e2e/init for the guest's side and /work/shared/notes-style facts in docs/hacking.md.
#
#   linux_guest_setup               needs $T (lib/vm); makes $LG_WORK (mode 1777: QEMU's uid writes there), checks the
#                                   kernel and initramfs are built (runs tests/e2e/setup.sh when not)
#   linux_guest_json SCRIPT [MEM]   the profile keys that boot it: "memory", "accel", "serial" (a file in $LG_WORK),
#                                   "display" none, "boot" with the kernel, the initramfs ($LG_KERNEL and $LG_INITRD
#                                   when set, else the e2e layer's) and their command line, and "extra_args" with the
#                                   two 9p shares; add a profile's own keys after it. build/e2e/kernel may be a PVH
#                                   vmlinux, which UEFI cannot boot: linux_guest_efi_kernel gives Debian's bzImage with
#                                   its EFI stub, for $LG_KERNEL
#   linux_guest_exit                the script's exit status, from the guest's console (E2E-EXIT=N), or 125
#   linux_guest_console             the guest's console so far

linux_guest_setup() {
	local top
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	LG_TOP=$top
	LG_DIR=${VGPUVM_E2E_DIR:-$top/build/e2e}
	if [ ! -e "$LG_DIR/kernel" ] || [ ! -e "$LG_DIR/initrd.cpio.gz" ]; then
		"$top/tests/e2e/setup.sh" >&2 || return 1
	fi
	LG_WORK=$T/guest-work
	mkdir -p "$LG_WORK"
	chmod 1777 "$LG_WORK"
}

linux_guest_json() {
	local script=$1 mem=${2:-512M} append
	case $script in /*) ;; *) script=$LG_TOP/$script ;; esac
	append="console=ttyS0 quiet mitigations=off panic=-1 rdinit=/init e2e_script=$script e2e_work=$LG_WORK e2e_dir=$LG_DIR e2e_vgpuvm=/bin/false e2e_top=$LG_TOP"
	printf '"memory": "%s", "accel": "tcg", "serial": "file:%s/console", "display": {"type": "none"}, "boot": {"kernel": "%s", "initrd": "%s", "cmdline": "%s"}, "extra_args": ["-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap", "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot", "-fsdev", "local,id=work,path=%s,security_model=none", "-device", "virtio-9p-pci,fsdev=work,mount_tag=work"]' \
		"$mem" "$LG_WORK" "${LG_KERNEL:-$LG_DIR/kernel}" "${LG_INITRD:-$LG_DIR/initrd.cpio.gz}" "$append" "$LG_WORK"
}

# Debian's kernel image, which has the EFI stub, for a guest booted through UEFI.
linux_guest_efi_kernel() {
	echo "/boot/vmlinuz-$(cat "$LG_DIR/kver")"
}

linux_guest_console() {
	sed 's/\r$//' "$LG_WORK/console" 2>/dev/null
}

linux_guest_exit() {
	local s
	s=$(linux_guest_console | sed -n 's/^E2E-EXIT=\([0-9]*\)$/\1/p' | tail -n1)
	echo "${s:-125}"
}

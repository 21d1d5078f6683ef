# shellcheck shell=bash
# A boot display beside the vGPU's: mdpy with vgpu.ramfb. The device becomes vfio-pci-nohotplug with ramfb=on (QEMU
# allows ramfb only on a device that cannot be unplugged); QEMU's device tree shows it; the console shows mdpy's
# picture once the vGPU's display has one (mdpy has it from the start); stop removes the mdev.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mdpy-ramfb.json
N=e2e-mdpy-ramfb

step "mdpy loaded; the device line"
load_driver mdpy
U=$(profile_uuid "$P")
line="vfio-pci-nohotplug,sysfsdev=/sys/bus/mdev/devices/$U,display=on,ramfb=on"
vgpuvm argv "$P" | grep -qx -- "$line" || fail "vgpuvm argv $P: no -device $line"
ok "vgpuvm argv: -device $line"

step "vgpuvm run: QEMU runs with the ramfb device"
vm_start $N "$P"
vm_wait_running $N
log_has $N "created mdev $U (type mdpy-vga on mdpy)"
Q=$(json_field $N qemu_pid)
tr '\0' '\n' <"/proc/$Q/cmdline" | grep -qx -- "$line" || fail "QEMU's command line lacks -device $line"
ok "QEMU's command line: -device $line"
check_mdev_in_use "$U" "$Q" mdpy-vga
tree=$(vgpuvm qmp $N '{"execute": "human-monitor-command", "arguments": {"command-line": "info qtree"}}') ||
	fail "vgpuvm qmp $N info qtree failed"
# The reply's "return" is HMP's text.
dev=$(jq -r '.return' <<<"$tree" | grep -A30 'dev: vfio-pci-nohotplug' | grep -E '^ *(sysfsdev|ramfb|display) = ' |
	tr -s ' ' | tr '\n' ';')
case $dev in *"ramfb = true"*) ;; *) fail "QEMU's device tree: vfio-pci-nohotplug without ramfb = true ($dev)" ;; esac
ok "QEMU's device tree: vfio-pci-nohotplug:$dev"

step "vgpuvm screenshot: mdpy's grey gradient"
wait_gradient $N "$E2E_WORK/$N.png"

step "vgpuvm stop"
show vgpuvm stop $N --force || fail "vgpuvm stop $N exited $?"
vm_expect_exit $N 0
log_has $N "removed mdev $U"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U is gone"
e2e_pass

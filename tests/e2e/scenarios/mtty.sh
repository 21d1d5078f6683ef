# shellcheck shell=bash
# The kernel's mtty sample mdev has no display at all: with "display": false in "vgpu" it runs; with the display on,
# QEMU refuses the device, and the user gets QEMU's message, vgpuvm's hint, and no mdev left behind.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mtty.json
N=e2e-mtty

step "mtty loaded"
load_driver mtty
U=$(profile_uuid "$P")
vgpuvm argv "$P" | grep -qx "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$U,display=off" ||
	fail "vgpuvm argv $P: the device is not vfio-pci,sysfsdev=/sys/bus/mdev/devices/$U,display=off"
ok "vgpuvm argv: -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/$U,display=off"

step "vgpuvm run with \"display\": false: runs"
vm_start $N "$P"
vm_wait_running $N
log_has $N "created mdev $U (type mtty-1 on mtty)"
Q=$(json_field $N qemu_pid)
check_mdev_in_use "$U" "$Q" mtty-1
check_memlock "$Q" 1088
show vgpuvm status $N || fail "vgpuvm status $N"
show vgpuvm stop $N --force || fail "vgpuvm stop $N exited $?"
vm_expect_exit $N 0
log_has $N "removed mdev $U"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U is gone"

step "vgpuvm run with the vGPU display on: QEMU's error, vgpuvm's hint, mdev removed"
vm_start $N "$P" --set vgpu.display=true
vm_wait_exit $N
cat "$E2E_LOGS/$N.log"
[ "$VM_RC" -ne 0 ] && [ "$VM_RC" -lt 64 ] || fail "vgpuvm run exited $VM_RC, expected QEMU's own failure status"
ok "vgpuvm run exited $VM_RC (QEMU's status)"
log_has $N "doesn't support any (known) display method"
grep -q '^vgpuvm: error: hint: .*"display": false' "$E2E_LOGS/$N.log" || fail "no hint to set \"display\": false"
ok "$(grep -m1 'hint:' "$E2E_LOGS/$N.log")"
log_has $N "removed mdev $U"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U is gone"
e2e_pass

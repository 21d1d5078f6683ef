# shellcheck shell=bash
# vgpu.xres and vgpu.yres, end to end: QEMU writes an EDID with that preferred mode into the vGPU's EDID region, and
# the guest reads it. On mbochs, which has an EDID region, a tiny guest (tests/e2e/mbochs-edid.c, QEMU's -kernel)
# reads the EDID through the device as a driver does and prints the mode on the serial console: the type's maximum
# (800x600 for mbochs-small) without xres/yres, 640x480 with them. On mdpy, which has none, QEMU refuses the options,
# and the user gets QEMU's message and vgpuvm's hint, and no mdev is left behind.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mbochs.json
N=e2e-mbochs
GUEST=$E2E_DIR/mbochs-edid.elf
# The guest on QEMU's -kernel, its serial console relayed into vgpuvm's log (stdin: nothing to type).
GUEST_ARGS=(--set serial='"stdio"' --set "extra_args=[\"-kernel\", \"$GUEST\"]")

step "mbochs, vgem and mdpy loaded; the guest"
load_driver mbochs
load_vgem
load_driver mdpy
[ -r "$GUEST" ] || fail "no $GUEST (tests/e2e/setup.sh builds it)"
ok "guest: $GUEST"
U=$(profile_uuid "$P")

step "mbochs without xres/yres: the guest reads the type's maximum, 800x600"
vgpuvm argv "$P" "${GUEST_ARGS[@]}" | grep -qx "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$U,display=on" ||
	fail "vgpuvm argv: the device line is not vfio-pci,sysfsdev=/sys/bus/mdev/devices/$U,display=on"
vm_start $N "$P" "${GUEST_ARGS[@]}" </dev/null
vm_wait_running $N
got=$(wait_serial $N "mbochs-edid: ")
[ "$got" = "preferred mode 800x600" ] || fail "the guest says \"$got\", expected \"preferred mode 800x600\""
ok "serial: mbochs-edid: $got"
show vgpuvm stop $N --force || fail "vgpuvm stop $N exited $?"
vm_expect_exit $N 0
mdev_exists "$U" && fail "mdev $U is still there"

step "mbochs with vgpu.xres 640, vgpu.yres 480: the guest reads 640x480"
X=(--set vgpu.xres=640 --set vgpu.yres=480)
vgpuvm argv "$P" "${GUEST_ARGS[@]}" "${X[@]}" |
	grep -qx "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$U,display=on,xres=640,yres=480" ||
	fail "vgpuvm argv: no xres=640,yres=480 on the device line"
ok "vgpuvm argv: -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/$U,display=on,xres=640,yres=480"
vm_start $N "$P" "${GUEST_ARGS[@]}" "${X[@]}" </dev/null
vm_wait_running $N
got=$(wait_serial $N "mbochs-edid: ")
[ "$got" = "preferred mode 640x480" ] || fail "the guest says \"$got\", expected \"preferred mode 640x480\""
ok "serial: mbochs-edid: $got"
show vgpuvm stop $N --force || fail "vgpuvm stop $N exited $?"
vm_expect_exit $N 0
log_has $N "removed mdev $U"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U is gone"

step "mdpy with vgpu.xres and vgpu.yres: no EDID region, QEMU refuses; vgpuvm says why, removes the mdev"
M=e2e-mdpy
PM=$E2E_PROFILES/e2e-mdpy.json
UM=$(profile_uuid "$PM")
vm_start $M "$PM" "${X[@]}"
vm_wait_exit $M
cat "$E2E_LOGS/$M.log"
[ "$VM_RC" -ne 0 ] && [ "$VM_RC" -lt 64 ] || fail "vgpuvm run exited $VM_RC, expected QEMU's own failure status"
ok "vgpuvm run exited $VM_RC (QEMU's status)"
log_has $M "xres and yres properties need edid support"
grep -q '^vgpuvm: error: hint: this mdev type has no EDID region.*remove vgpu.xres and vgpu.yres' "$E2E_LOGS/$M.log" ||
	fail "no hint to remove vgpu.xres and vgpu.yres"
ok "$(grep -m1 'hint:' "$E2E_LOGS/$M.log")"
log_has $M "removed mdev $UM"
mdev_exists "$UM" && fail "mdev $UM is still there"
ok "mdev $UM is gone"
e2e_pass

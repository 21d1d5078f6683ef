# shellcheck shell=bash
# The kernel's mbochs sample vGPU shows its display as dmabufs, as GVT-g does, so QEMU needs a GL display for it:
# with egl-headless on vgem's render node (the one render node this guest can have; vgpuvm lends it to QEMU's user
# and takes it back) it runs; with -display none vgpuvm refuses the profile (65) before it makes anything, quoting
# what QEMU would have said. No guest sets a mode here, so there is no picture to take: mbochs-gtk.sh says why none can be
# shown on this machine, mbochs-edid.sh reads what the vGPU tells a guest.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mbochs.json
N=e2e-mbochs

step "mbochs and vgem loaded"
load_driver mbochs
load_vgem
U=$(profile_uuid "$P")
vgpuvm argv "$P" | grep -qx 'egl-headless,rendernode=/dev/dri/renderD128' ||
	fail "vgpuvm argv $P has no -display egl-headless,rendernode=/dev/dri/renderD128"
ok "vgpuvm argv: -display egl-headless,rendernode=/dev/dri/renderD128, device /sys/bus/mdev/devices/$U"

step "vgpuvm run with egl-headless: runs"
vm_start $N "$P"
vm_wait_running $N
log_has $N "created mdev $U (type mbochs-small on mbochs)"
Q=$(json_field $N qemu_pid)
check_mdev_in_use "$U" "$Q" mbochs-small
check_memlock "$Q" 1088
log_has $N "lent /dev/dri/renderD128 to QEMU's user"
check_owner /dev/dri/renderD128 "$(stat -c %u "/proc/$Q")" "while QEMU runs (QEMU's uid)"
show vgpuvm status $N || fail "vgpuvm status $N"
show vgpuvm stop $N --force || fail "vgpuvm stop $N exited $?"
vm_expect_exit $N 0
check_owner /dev/dri/renderD128 0 "after the run"
log_has $N "removed mdev $U"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U is gone"

step "vgpuvm run with -display none: refused before anything is made (a dmabuf vGPU needs a GL display)"
vm_start $N "$P" --set 'display={"type": "none"}'
vm_wait_exit $N
cat "$E2E_LOGS/$N.log"
[ "$VM_RC" = 65 ] || fail "vgpuvm run exited $VM_RC, expected 65 (a profile QEMU would refuse once the mdev is made)"
ok "vgpuvm run exited 65"
log_has $N 'display.type: "none" has no OpenGL'
log_has $N "opengl not available"
grep -q "created mdev" "$E2E_LOGS/$N.log" && fail "vgpuvm made the mdev before refusing"
mdev_exists "$U" && fail "mdev $U exists"
ok "no mdev was made"
e2e_pass

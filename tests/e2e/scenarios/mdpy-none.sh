# shellcheck shell=bash
# The whole chain on the kernel's mdpy sample vGPU (a region display), QEMU with -display none and as an unprivileged
# user ("user": "nobody"): the mdev with the profile's stable UUID, its VFIO group lent to QEMU's user, QEMU confined
# (no capabilities, NO_NEW_PRIVS, seccomp) and the supervisor under its own seccomp filter, QEMU's memlock limit
# (with no CAP_IPC_LOCK, the limit is all QEMU has to pin memory with), status, a screenshot of mdpy's picture, stop,
# the group given back and the mdev removed.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mdpy.json
N=e2e-mdpy

step "mdpy loaded, the profile's UUID"
load_driver mdpy
U=$(profile_uuid "$P")
[ -n "$U" ] || fail "no UUID in vgpuvm argv $P"
ok "vgpuvm argv: the device is /sys/bus/mdev/devices/$U"
[ "$(available mdpy mdpy-vga)" = 4 ] || fail "mdpy-vga has $(available mdpy mdpy-vga) instances, expected 4"
mdev_exists "$U" && fail "mdev $U exists before the run"
NOBODY=$(id -u nobody) && NOGROUP=$(id -g nobody) || fail "no user nobody"
ok "QEMU's user: nobody (uid $NOBODY, gid $NOGROUP)"

step "vgpuvm run: mdev created, QEMU running"
vm_start $N "$P" --set user=nobody
vm_wait_running $N
log_has $N "QEMU runs as nobody (uid $NOBODY, gid $NOGROUP), with no capabilities"
log_has $N "created mdev $U (type mdpy-vga on mdpy)"
G=$(vfio_group "$U")
[ -n "$G" ] || fail "mdev $U has no IOMMU group"
log_has $N "lent /dev/vfio/$G to QEMU's user (uid $NOBODY) for this run"
check_owner "/dev/vfio/$G" "$NOBODY" "while QEMU runs"
log_has $N "QEMU's locked-memory limit: 1088 MiB (soft), 1088 MiB (hard)"
[ "$(available mdpy mdpy-vga)" = 3 ] || fail "mdpy-vga has $(available mdpy mdpy-vga) instances left, expected 3"
ok "mdpy-vga available_instances: 3"

step "vgpuvm status"
show vgpuvm status $N || fail "vgpuvm status $N"
[ "$(json_field $N state)" = running ] || fail "status --json: state is not running"
[ "$(json_field $N uuid)" = "$U" ] || fail "status --json: uuid is $(json_field $N uuid), expected $U"
Q=$(json_field $N qemu_pid)
ok "status --json: state running, uuid $U, QEMU pid $Q"
tr '\0' '\n' <"/proc/$Q/cmdline" | grep -qx -- "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$U,display=on" ||
	fail "QEMU's command line lacks the vfio-pci device of $U"
ok "QEMU's command line: -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/$U,display=on"
check_mdev_in_use "$U" "$Q" mdpy-vga
# 64 MiB of guest RAM + 1 GiB.
check_memlock "$Q" 1088
S=$(json_field $N supervisor_pid)
[ "$S" = "${VM_PID[$N]}" ] || fail "status --json: supervisor_pid is $S, expected ${VM_PID[$N]} (vgpuvm run)"
check_confined "$Q" "$S" "$NOBODY" "$NOGROUP"

step "vgpuvm screenshot: mdpy's grey gradient"
wait_gradient $N "$E2E_WORK/$N.png"

step "vgpuvm stop: clean shutdown, mdev removed"
show vgpuvm stop $N || fail "vgpuvm stop $N exited $?"
vm_expect_exit $N 0
log_has $N "gave /dev/vfio/$G back to uid 0"
log_has $N "removed mdev $U"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U is gone"
[ -e "/dev/vfio/$G" ] && fail "/dev/vfio/$G is still there without its mdev"
ok "/dev/vfio/$G went with the mdev"
check_no_refusal $N
[ "$(available mdpy mdpy-vga)" = 4 ] || fail "mdpy-vga has $(available mdpy mdpy-vga) instances, expected 4"
ok "mdpy-vga available_instances: 4"
e2e_pass

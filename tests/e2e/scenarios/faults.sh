# shellcheck shell=bash
# Faults from outside: QEMU SIGKILLed (vgpuvm removes the mdev and exits 137); the supervisor SIGKILLed (QEMU gets
# SIGTERM through PDEATHSIG and ends, and `vgpuvm cleanup` removes the mdev); an mdev of the same UUID made by hand
# beforehand (adopted, and left in place after the run); and with QEMU as an unprivileged user on such an mdev, its
# /dev/vfio group lent to that user while QEMU runs and given back to root on every way out: a stop, QEMU killed,
# the supervisor killed (then `vgpuvm cleanup`).
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mdpy.json
N=e2e-mdpy
T=/sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga

load_driver mdpy
U=$(profile_uuid "$P")

step "QEMU killed with SIGKILL"
vm_start $N "$P"
vm_wait_running $N
Q=$(json_field $N qemu_pid)
show kill -KILL "$Q"
vm_expect_exit $N 137
log_has $N "removed mdev $U"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U is gone"
check_no_refusal $N

step "the supervisor killed with SIGKILL, then vgpuvm cleanup"
vm_start $N "$P"
vm_wait_running $N
Q=$(json_field $N qemu_pid)
S=${VM_PID[$N]}
show kill -KILL "$S"
vm_expect_exit $N 137
"$E2E_UTIL" wait-pid "$Q" 20 || fail "QEMU (pid $Q) still runs 20 s after its supervisor died"
ok "QEMU (pid $Q) ended after its supervisor (PDEATHSIG)"
mdev_exists "$U" || fail "mdev $U vanished without cleanup"
ok "mdev $U is left behind"
show vgpuvm cleanup $N || fail "vgpuvm cleanup $N exited $?"
mdev_exists "$U" && fail "mdev $U is still there after vgpuvm cleanup"
ok "mdev $U is gone"

step "an mdev made by hand beforehand: adopted and left in place"
sysfs_write "$U" "$T/create" || fail "cannot create mdev $U by hand"
mdev_exists "$U" || fail "no mdev $U"
vm_start $N "$P"
vm_wait_running $N
log_has $N "adopting mdev $U"
Q=$(json_field $N qemu_pid)
check_mdev_in_use "$U" "$Q" mdpy-vga
show vgpuvm stop $N --force || fail "vgpuvm stop $N exited $?"
vm_expect_exit $N 0
grep -q "removed mdev" "$E2E_LOGS/$N.log" && fail "vgpuvm removed the adopted mdev"
mdev_exists "$U" || fail "the adopted mdev $U is gone"
ok "mdev $U is still there"
sysfs_write 1 "/sys/bus/mdev/devices/$U/remove" || fail "cannot remove mdev $U by hand"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U removed by hand"
check_no_refusal $N

# An adopted mdev outlives the run, and so does its /dev/vfio node: what vgpuvm lent must come back.
step "QEMU as nobody on an mdev made beforehand: /dev/vfio given back after a stop"
NOBODY=$(id -u nobody) || fail "no user nobody"
sysfs_write "$U" "$T/create" || fail "cannot create mdev $U by hand"
G=$(vfio_group "$U")
[ -n "$G" ] || fail "mdev $U has no IOMMU group"
check_owner "/dev/vfio/$G" 0 "before the run"
vm_start $N "$P" --set user=nobody
vm_wait_running $N
log_has $N "adopting mdev $U"
log_has $N "lent /dev/vfio/$G to QEMU's user (uid $NOBODY) for this run"
check_owner "/dev/vfio/$G" "$NOBODY" "while QEMU runs"
Q=$(json_field $N qemu_pid)
check_confined "$Q" "${VM_PID[$N]}" "$NOBODY"
show vgpuvm stop $N --force || fail "vgpuvm stop $N exited $?"
vm_expect_exit $N 0
log_has $N "gave /dev/vfio/$G back to uid 0"
check_owner "/dev/vfio/$G" 0 "after the stop"
check_no_refusal $N

step "QEMU as nobody on an mdev made beforehand: /dev/vfio given back after QEMU is killed"
vm_start $N "$P" --set user=nobody
vm_wait_running $N
check_owner "/dev/vfio/$G" "$NOBODY" "while QEMU runs"
Q=$(json_field $N qemu_pid)
show kill -KILL "$Q"
vm_expect_exit $N 137
log_has $N "gave /dev/vfio/$G back to uid 0"
check_owner "/dev/vfio/$G" 0 "after QEMU was killed"
mdev_exists "$U" || fail "the adopted mdev $U is gone"
ok "mdev $U is still there"
check_no_refusal $N

step "QEMU as nobody on an mdev made beforehand: the supervisor killed, /dev/vfio given back by vgpuvm cleanup"
vm_start $N "$P" --set user=nobody
vm_wait_running $N
check_owner "/dev/vfio/$G" "$NOBODY" "while QEMU runs"
Q=$(json_field $N qemu_pid)
S=${VM_PID[$N]}
show kill -KILL "$S"
vm_expect_exit $N 137
"$E2E_UTIL" wait-pid "$Q" 20 || fail "QEMU (pid $Q) still runs 20 s after its supervisor died"
ok "QEMU (pid $Q) ended after its supervisor (PDEATHSIG)"
check_owner "/dev/vfio/$G" "$NOBODY" "once the supervisor died (no one gave it back yet)"
show vgpuvm cleanup $N || fail "vgpuvm cleanup $N exited $?"
check_owner "/dev/vfio/$G" 0 "after vgpuvm cleanup"
mdev_exists "$U" || fail "vgpuvm cleanup removed the adopted mdev $U"
ok "mdev $U is still there"
sysfs_write 1 "/sys/bus/mdev/devices/$U/remove" || fail "cannot remove mdev $U by hand"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U removed by hand"
e2e_pass

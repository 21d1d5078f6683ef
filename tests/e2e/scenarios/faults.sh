# shellcheck shell=bash
# Faults from outside: QEMU SIGKILLed (vgpuvm removes the mdev and exits 137); the supervisor SIGKILLed (QEMU gets
# SIGTERM through PDEATHSIG and ends, and `vgpuvm cleanup` removes the mdev); an mdev of the same UUID made by hand
# beforehand (adopted, and left in place after the run).
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
e2e_pass

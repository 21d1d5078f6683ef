# shellcheck shell=bash
# The guest side of `make demo` (tests/e2e/demo.sh): the real chain with the stock mdpy-demo profile, each step with
# its real command and output. The picture goes to the work directory as demo.png, which demo.sh copies out.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
E2E_NAME=demo
N=mdpy-demo
T=/sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga
# The steps go on from demo.sh's own.
step() { printf '\n%s. %s\n' "$1" "$2"; }

step 3 "A vGPU parent: the kernel's mdpy sample driver (instead of i915 with GVT-g)"
show modprobe -v vfio_iommu_type1 || fail "modprobe vfio_iommu_type1"
show modprobe -v mdev || fail "modprobe mdev"
show insmod "$E2E_DIR/mod/mdpy.ko" || fail "insmod mdpy.ko"
show ls /sys/class/mdev_bus/mdpy/mdev_supported_types/
show cat $T/description $T/available_instances

step 4 "The profile and the QEMU command line it gives"
show cat "$E2E_TOP/profiles/stock/mdpy-demo.json"
show vgpuvm check $N || fail "vgpuvm check $N"
printf '$ vgpuvm argv %s | tr %s %s\n' $N "'\\n'" "' '"
vgpuvm argv $N | tr '\n' ' ' | fold -s -w 110
echo
U=$(profile_uuid $N)

step 5 "vgpuvm run mdpy-demo: the mdev is created, memlock set, QEMU started"
vm_start $N $N
wait_log "$E2E_LOGS/$N.log" 'is running' "${VM_PID[$N]}" 60 || fail "vgpuvm did not report QEMU running"
sed 's/^/  | /' "$E2E_LOGS/$N.log"
shown=$(wc -l <"$E2E_LOGS/$N.log")
show ls /sys/bus/mdev/devices/
show readlink -f "/sys/bus/mdev/devices/$U/mdev_type" "/sys/bus/mdev/devices/$U/iommu_group"

step 6 "QEMU is running, with the vGPU and the locked-memory limit"
# The status line's memlock is read from QEMU's /proc/PID/limits, shown here directly too.
show vgpuvm status $N || fail "vgpuvm status $N"
Q=$(json_field $N qemu_pid)
show grep 'Max locked memory' "/proc/$Q/limits"
check_memlock "$Q" 1088 >/dev/null

step 7 "The vGPU's screen: vgpuvm screenshot"
# The first screendumps may still show QEMU's placeholder, until its first display update has read the device.
for _ in $(seq 1 100); do
	vgpuvm screenshot $N "$E2E_WORK/demo.png" 2>/dev/null && verdict=$("$E2E_UTIL" gradient "$E2E_WORK/demo.png") && break
done
[ -n "${verdict:-}" ] || fail "no mdpy picture in the screenshots"
echo "\$ vgpuvm screenshot $N demo.png"
echo "  demo.png: $verdict (mdpy's grey gradient)"

step 8 "vgpuvm stop: clean shutdown, the mdev is removed"
show vgpuvm stop $N || fail "vgpuvm stop $N"
vm_wait_exit $N
tail -n +$((shown + 1)) "$E2E_LOGS/$N.log" | sed 's/^/  | /'
echo "  (vgpuvm run exited $VM_RC)"
[ "$VM_RC" = 0 ] || fail "vgpuvm run exited $VM_RC"
show ls /sys/bus/mdev/devices/
show cat $T/available_instances
mdev_exists "$U" && fail "mdev $U is still there"
e2e_pass

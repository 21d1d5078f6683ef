# shellcheck shell=bash
# The Debian package on the real kernel mdev path: installed with dpkg in an overlay of the guest's root (the host's
# tree stays untouched), with udevd running there. Its udev rule gives the vgpuvm group the VFIO group of an mdev, so
# that QEMU, run as the vgpuvm user the package made, opens the vGPU with nothing lent; the stock mdpy-demo profile runs
# from /usr/bin, the mdev made and removed; the purge takes the user, the rule and the binary away again.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
R=/run/pkg/root
U=6a1e3f9c-2b4d-4e8f-9a0b-1c2d3e4f5a6b
DEB=$E2E_DIR/vgpuvm.deb

# in_root CMD...: CMD in the overlay root, with a clean environment (its own /run, so root's runtime directory).
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

# holds UUID PID: QEMU (pid PID) has the mdev's VFIO group open; read in the root, where its fd says /dev/vfio/N.
holds() {
	local g
	g=$(vfio_group "$1")
	in_root find "/proc/$2/fd" -lname "/dev/vfio/$g" | grep -q . || fail "QEMU (pid $2) does not hold /dev/vfio/$g"
	ok "QEMU (pid $2) holds /dev/vfio/$g of mdev $1"
}

step "the package, installed in an overlay of the root"
[ -s "$DEB" ] || fail "no package at $DEB (tests/e2e/setup.sh builds it)"
modprobe overlay || fail "modprobe overlay"
mkdir -p /run/pkg/upper /run/pkg/work "$R"
mount -t overlay overlay -o lowerdir=/,upperdir=/run/pkg/upper,workdir=/run/pkg/work "$R" || fail "cannot mount the overlay"
mount -t proc proc "$R/proc" && mount --rbind /sys "$R/sys" && mount --rbind /dev "$R/dev" &&
	mount -t tmpfs -o mode=0755 run "$R/run" || fail "cannot mount /proc, /sys, /dev and /run in the overlay"
# man-db's trigger would index every page over 9p: a minute. The package's pages are checked by the package layer.
rm -f "$R/var/lib/man-db/auto-update"
cp "$DEB" "$R/tmp/vgpuvm.deb"
show in_root env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/vgpuvm.deb || fail "dpkg -i exited $?"
VUID=$(in_root id -u vgpuvm) && VGID=$(in_root id -g vgpuvm) || fail "the package made no vgpuvm user"
ok "user vgpuvm: uid $VUID, gid $VGID"
[ "$(in_root /usr/bin/vgpuvm --version)" = "vgpuvm $(sed -n 's/^VERSION := //p' "$E2E_TOP/Makefile")" ] ||
	fail "/usr/bin/vgpuvm --version: $(in_root /usr/bin/vgpuvm --version)"
ok "/usr/bin/vgpuvm: $(in_root /usr/bin/vgpuvm --version)"

step "udevd with the package's rule: an mdev's /dev/vfio/N goes to the vgpuvm group"
in_root /lib/systemd/systemd-udevd 2>"$E2E_LOGS/udevd.log" &
UDEVD=$!
load_driver mdpy
sysfs_write "$U" /sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/create || fail "cannot create mdev $U"
G=$(vfio_group "$U")
# udevadm refuses to act in a chroot unless told to; settle returns once udevd has handled every event so far.
in_root env SYSTEMD_IGNORE_CHROOT=1 udevadm settle -t 30 || { cat "$E2E_LOGS/udevd.log"; fail "udevadm settle"; }
ok "udevd (pid $UDEVD) handled the events of mdev $U"
got=$(stat -c '%u %g %a' "/dev/vfio/$G")
[ "$got" = "0 $VGID 660" ] || fail "/dev/vfio/$G is $got (uid gid mode), expected 0 $VGID 660"
ok "/dev/vfio/$G: root, group vgpuvm ($VGID), 0660"
[ "$(stat -c '%u %g %a' /dev/vfio/vfio)" != "0 $VGID 660" ] || fail "the rule took /dev/vfio/vfio too"
ok "/dev/vfio/vfio, the container, is not the group's"

step "QEMU as the vgpuvm user opens that mdev with nothing lent"
cat >"$R/run/adopt.json" <<EOF
{"name": "pkg-adopt", "memory": "64M", "accel": "tcg", "vgpu": {"uuid": "$U", "memlock": false},
 "display": {"type": "none"}, "serial": "none", "shutdown": {"powerdown_timeout": 1, "quit_timeout": 5}}
EOF
echo "\$ vgpuvm run /run/adopt.json &   (in the overlay root)"
in_root vgpuvm run /run/adopt.json >"$E2E_LOGS/pkg-adopt.log" 2>&1 &
VM_PID[pkg-adopt]=$!
vm_wait_running pkg-adopt
Q=$(in_root vgpuvm status pkg-adopt --json | jq -r .qemu_pid)
holds "$U" "$Q"
[ "$(stat -c %u "/proc/$Q")" = "$VUID" ] || fail "QEMU (pid $Q) runs as uid $(stat -c %u "/proc/$Q"), not vgpuvm ($VUID)"
ok "QEMU (pid $Q) runs as vgpuvm (uid $VUID)"
grep -F "lent /dev/vfio/$G" "$E2E_LOGS/pkg-adopt.log" && fail "vgpuvm lent /dev/vfio/$G, though the group can open it"
ok "nothing lent: the udev rule gave the group /dev/vfio/$G"
show in_root vgpuvm stop pkg-adopt || fail "vgpuvm stop exited $?"
vm_expect_exit pkg-adopt 0
sysfs_write 1 "/sys/bus/mdev/devices/$U/remove" || fail "cannot remove mdev $U"

step "the stock demo profile from /usr/bin: mdev made, QEMU as vgpuvm, mdev removed"
D=$(in_root vgpuvm argv mdpy-demo | sed -n 's|.*sysfsdev=/sys/bus/mdev/devices/\([0-9a-f-]*\).*|\1|p')
[ -n "$D" ] || fail "vgpuvm argv mdpy-demo names no mdev"
echo "\$ vgpuvm run mdpy-demo &   (in the overlay root)"
in_root vgpuvm run mdpy-demo >"$E2E_LOGS/mdpy-demo.log" 2>&1 &
VM_PID[mdpy-demo]=$!
vm_wait_running mdpy-demo
log_has mdpy-demo "created mdev $D (type mdpy-vga on mdpy)"
Q=$(in_root vgpuvm status mdpy-demo --json | jq -r .qemu_pid)
holds "$D" "$Q"
[ "$(stat -c %u "/proc/$Q")" = "$VUID" ] || fail "QEMU runs as uid $(stat -c %u "/proc/$Q"), not vgpuvm ($VUID)"
ok "QEMU (pid $Q) runs as vgpuvm (uid $VUID)"
show in_root vgpuvm stop mdpy-demo || fail "vgpuvm stop exited $?"
vm_expect_exit mdpy-demo 0
mdev_exists "$D" && fail "mdev $D is still there"
ok "mdev $D removed"

step "the purge takes the user, the rule and the binary away"
kill "$UDEVD"
show in_root env DEBIAN_FRONTEND=noninteractive dpkg --purge vgpuvm || fail "dpkg --purge exited $?"
in_root getent passwd vgpuvm && fail "the vgpuvm user is still there"
for f in /usr/bin/vgpuvm /usr/lib/udev/rules.d/70-vgpuvm.rules /etc/vgpuvm; do
	[ ! -e "$R$f" ] || fail "$f is still there"
done
[ -d "$R/var/lib/vgpuvm" ] || fail "the state directory /var/lib/vgpuvm went too"
ok "user, rule, binary and /etc/vgpuvm gone; /var/lib/vgpuvm stays"
e2e_pass

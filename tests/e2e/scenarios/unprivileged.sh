# shellcheck shell=bash
# An ordinary user (uid 65534, with a login's clean environment) runs a VM on an mdev that root made beforehand, as
# with mdevctl: vgpuvm adopts the mdev and leaves it in place. Each thing only root can grant is refused first, with
# the fix named and nothing left behind: the locked-memory limit (root grants it, as a limits.conf line would, by
# running the user's vgpuvm under prlimit), then the VFIO group (root chowns /dev/vfio/N). Then QEMU runs as the user,
# confined (no capabilities, NO_NEW_PRIVS, seccomp), the supervisor under its own seccomp filter; the user takes a
# screenshot and stops the VM.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mdpy.json
N=e2e-mdpy
T=/sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga
USR=65534
RT=/run/e2e-user
# 64 MiB of guest RAM + 1 GiB.
ML=$(((64 + 1024) * 1024 * 1024))
SHOT=/tmp/$N-user.png

# as_user CMD ARGS: CMD as the user, in the environment a login gives it (setpriv --reset-env: HOME, PATH, no
# XDG_RUNTIME_DIR), with its own runtime directory; "vgpuvm" is the binary under test.
as_user() {
	local cmd=$1
	shift
	[ "$cmd" != vgpuvm ] || cmd=$VGPUVM
	setpriv --reuid=$USR --regid=$USR --clear-groups --reset-env env VGPUVM_RUNTIME_DIR=$RT "$cmd" "$@"
}

# user_start MEMLOCK PROFILE: `vgpuvm run PROFILE` as the user in the background, as vm_start does; MEMLOCK is the
# locked-memory limit (bytes, soft and hard) root sets before dropping to the user, or "-" for the default one.
user_start() {
	local ml=$1
	shift
	if [ "$ml" = - ]; then
		echo "\$ $(cmdline setpriv --reuid=$USR --regid=$USR --clear-groups --reset-env env VGPUVM_RUNTIME_DIR=$RT \
			vgpuvm run "$@") &"
		setpriv --reuid=$USR --regid=$USR --clear-groups --reset-env env VGPUVM_RUNTIME_DIR=$RT \
			"$VGPUVM" run "$@" >"$E2E_LOGS/$N.log" 2>&1 &
	else
		echo "\$ $(cmdline prlimit --memlock="$ml:$ml" setpriv --reuid=$USR --regid=$USR --clear-groups --reset-env \
			env VGPUVM_RUNTIME_DIR=$RT vgpuvm run "$@") &"
		prlimit --memlock="$ml:$ml" setpriv --reuid=$USR --regid=$USR --clear-groups --reset-env \
			env VGPUVM_RUNTIME_DIR=$RT "$VGPUVM" run "$@" >"$E2E_LOGS/$N.log" 2>&1 &
	fi
	VM_PID[$N]=$!
}

# nothing_left: after a refusal, the mdev is still there, nothing of the user's runs, the group is root's, and the
# VM's runtime directory is gone.
nothing_left() {
	grep -q 'started QEMU' "$E2E_LOGS/$N.log" && fail "vgpuvm started QEMU"
	pgrep -U $USR >/dev/null && { ps -f -U $USR; fail "processes of uid $USR are left"; }
	ok "no QEMU was started, no process of uid $USR is left"
	mdev_exists "$U" || fail "the mdev $U made beforehand is gone"
	ok "mdev $U is still there"
	check_owner "/dev/vfio/$G" 0 "(vgpuvm did not touch it)"
	[ -e "$RT/$N" ] && { ls -la "$RT/$N"; fail "$RT/$N is left behind"; }
	ok "no runtime directory $RT/$N left"
}

step "root: mdpy loaded, the mdev made beforehand, a runtime directory for the user"
load_driver mdpy
U=$(profile_uuid "$P")
[ -n "$U" ] || fail "no UUID in vgpuvm argv $P"
sysfs_write "$U" "$T/create" || fail "cannot create mdev $U"
mdev_exists "$U" || fail "no mdev $U"
G=$(vfio_group "$U")
[ -n "$G" ] || fail "mdev $U has no IOMMU group"
ok "mdev $U, VFIO group /dev/vfio/$G"
check_owner "/dev/vfio/$G" 0
mkdir -m 0700 "$RT" && chown $USR:$USR "$RT" || fail "cannot make $RT"
ok "$RT: $(stat -c '%A %u:%g' "$RT")"
as_user test -r "$P" || fail "uid $USR cannot read $P"
as_user test -x "$VGPUVM" || fail "uid $USR cannot execute $VGPUVM"
ok "uid $USR can read the profile and run vgpuvm"

step "the user's default locked-memory limit: refused, nothing left behind"
user_start - "$P"
vm_wait_exit $N
cat "$E2E_LOGS/$N.log"
[ "$VM_RC" = 77 ] || fail "vgpuvm run exited $VM_RC, expected 77"
ok "vgpuvm run exited 77"
log_has $N "QEMU needs a locked-memory limit of 1088 MiB"
nothing_left

step "a limit, but /dev/vfio/$G is root's: refused, naming the chown"
user_start "$ML" "$P"
vm_wait_exit $N
cat "$E2E_LOGS/$N.log"
[ "$VM_RC" = 77 ] || fail "vgpuvm run exited $VM_RC, expected 77"
ok "vgpuvm run exited 77"
log_has $N "QEMU runs as nobody (uid $USR, gid $USR), with no capabilities"
log_has $N "adopting mdev $U"
log_has $N "chown $USR /dev/vfio/$G"
nothing_left

step "root lends the group: the user's VM runs, confined"
show chown $USR "/dev/vfio/$G" || fail "chown $USR /dev/vfio/$G"
user_start "$ML" "$P"
vm_wait_running $N
log_has $N "QEMU runs as nobody (uid $USR, gid $USR), with no capabilities"
log_has $N "adopting mdev $U (type mdpy-vga), which exists already; it will be left in place"
log_has $N "QEMU's locked-memory limit: 1088 MiB (soft), 1088 MiB (hard)"
grep -F 'lent ' "$E2E_LOGS/$N.log" && fail "vgpuvm lent something, though the user can open it all"
ok "nothing lent: the user can open /dev/vfio/$G"
show as_user vgpuvm status $N || fail "vgpuvm status $N as uid $USR"
st=$(as_user vgpuvm status $N --json) || fail "vgpuvm status $N --json as uid $USR"
Q=$(echo "$st" | sed -n 's/^ *"qemu_pid": *\([0-9]*\),\{0,1\}$/\1/p' | head -n1)
S=$(echo "$st" | sed -n 's/^ *"supervisor_pid": *\([0-9]*\),\{0,1\}$/\1/p' | head -n1)
[ -n "$Q" ] || fail "no qemu_pid in vgpuvm status --json"
[ "$S" = "${VM_PID[$N]}" ] || fail "status --json: supervisor_pid is $S, expected ${VM_PID[$N]} (vgpuvm run)"
ok "status --json: QEMU pid $Q, supervisor pid $S"
proc_status "$S" || fail "no /proc/$S/status"
[ "${PROC_STATUS[Uid]}" = "$USR $USR $USR $USR" ] ||
	fail "the supervisor (pid $S): Uid: ${PROC_STATUS[Uid]}, expected $USR four times"
ok "the supervisor runs as uid $USR"
check_mdev_in_use "$U" "$Q" mdpy-vga
check_confined "$Q" "$S" $USR $USR
check_memlock "$Q" 1088

step "the user's screenshot: mdpy's grey gradient"
wait_gradient $N "$SHOT" as_user
cp "$SHOT" "$E2E_WORK/unprivileged.png" || fail "cannot copy $SHOT"

step "the user stops the VM; the adopted mdev stays; root removes it"
show as_user vgpuvm stop $N || fail "vgpuvm stop $N as uid $USR exited $?"
vm_expect_exit $N 0
grep -F 'removed mdev' "$E2E_LOGS/$N.log" && fail "vgpuvm removed the adopted mdev"
mdev_exists "$U" || fail "the adopted mdev $U is gone"
ok "mdev $U is still there"
check_owner "/dev/vfio/$G" $USR "(root's chown, which vgpuvm leaves be)"
check_no_refusal $N
[ -e "$RT/$N" ] && { ls -la "$RT/$N"; fail "$RT/$N is left behind"; }
ok "no runtime directory $RT/$N left"
sysfs_write 1 "/sys/bus/mdev/devices/$U/remove" || fail "cannot remove mdev $U"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U removed"
e2e_pass

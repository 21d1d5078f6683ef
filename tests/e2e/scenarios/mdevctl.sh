# shellcheck shell=bash
# Debian's mdevctl beside vgpuvm on the real kernel mdev path: mdevctl defines and starts an mdev on the mdpy parent;
# vgpuvm adopts it by UUID and leaves it; `mdevctl list` and `mdevctl types` agree with `vgpuvm types --json`; an mdev
# vgpuvm made shows in `mdevctl list` while the VM runs. An mdev whose VFIO group another process holds (a second VM's
# QEMU, a shell's sleep) is refused with exit 75, naming that process.
#
# mdevctl keeps its definitions in /etc/mdevctl.d, read-only in the guest (the host's root over 9p): a tmpfs there
# holds them for the scenario, with the callout and notifier directories mdevctl reads.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
U=2f9e0c4a-6b1d-4c3e-8f7a-1d2c3b4a5e6f
N=e2e-adopt

# mdevctl_active: "UUID PARENT TYPE" of each active mdev, as mdevctl lists it, sorted.
mdevctl_active() { mdevctl list | awk 'NF { print $1, $2, $3 }' | sort; }
# vgpuvm_active: the same from `vgpuvm types --json`.
vgpuvm_active() {
	vgpuvm types --json | jq -r '.parents[] | .name as $p | .types[] | .name as $t | .mdevs[] | "\(.uuid) \($p) \($t)"' |
		sort
}
# agree: `mdevctl list` and `vgpuvm types --json` name the same mdevs, each with its parent and type.
agree() {
	local a b
	a=$(mdevctl_active)
	b=$(vgpuvm_active)
	[ "$a" = "$b" ] || fail "mdevctl list has \"$a\"; vgpuvm types --json has \"$b\""
	ok "mdevctl list and vgpuvm types agree: ${a:-no mdev}"
}

step "mdevctl defines and starts an mdev on the mdpy parent"
load_driver mdpy
mount -t tmpfs -o mode=0755 mdevctl /etc/mdevctl.d || fail "cannot mount a tmpfs on /etc/mdevctl.d"
mkdir -p /etc/mdevctl.d/scripts.d/callouts /etc/mdevctl.d/scripts.d/notifiers
show mdevctl --version || fail "no mdevctl"
show mdevctl define -u "$U" -p mdpy -t mdpy-vga || fail "mdevctl define exited $?"
[ -f "/etc/mdevctl.d/mdpy/$U" ] || fail "mdevctl wrote no definition /etc/mdevctl.d/mdpy/$U"
show mdevctl start -u "$U" || fail "mdevctl start exited $?"
mdev_exists "$U" || fail "no mdev $U after mdevctl start"
show mdevctl list
[ "$(mdevctl_active)" = "$U mdpy mdpy-vga" ] || fail "mdevctl list: $(mdevctl_active)"
agree

step "mdevctl types agrees with vgpuvm types --json"
for t in mdpy-vga mdpy-xga mdpy-hd; do
	a=$(mdevctl types --dumpjson | jq -r --arg t "$t" '.[] | .mdpy[]? | .[$t]? | select(.) | .available_instances')
	b=$(vgpuvm types --json | jq -r --arg t "$t" '.parents[] | select(.name == "mdpy") | .types[] | select(.name == $t) | .available_instances')
	[ -n "$a" ] && [ "$a" = "$b" ] || fail "$t: mdevctl types says ${a:-nothing}, vgpuvm types says ${b:-nothing} instances"
	api=$(mdevctl types --dumpjson | jq -r --arg t "$t" '.[] | .mdpy[]? | .[$t]? | select(.) | .device_api')
	[ "$api" = "$(vgpuvm types --json | jq -r --arg t "$t" '.parents[] | select(.name == "mdpy") | .types[] | select(.name == $t) | .device_api')" ] ||
		fail "$t: mdevctl's device_api $api differs"
	ok "$t: $a instances left, device_api $api, in both"
done

step "vgpuvm adopts mdevctl's mdev by its UUID and leaves it"
cat >/run/e2e/adopt.json <<EOF
{"name": "$N", "memory": "64M", "accel": "tcg", "vgpu": {"uuid": "$U", "memlock": false}, "display": {"type": "none"},
 "serial": "none", "shutdown": {"powerdown_timeout": 1, "quit_timeout": 5}}
EOF
vm_start $N /run/e2e/adopt.json
vm_wait_running $N
log_has $N "adopting mdev $U (type mdpy-vga), which exists already; it will be left in place"
Q=$(json_field $N qemu_pid)
check_mdev_in_use "$U" "$Q" mdpy-vga
[ "$(vgpuvm status $N --json | jq -r '.vgpu.created')" = false ] || fail "status: vgpu.created is not false"
agree

step "a second VM on the same mdev, while the first one's QEMU holds it: refused, naming that QEMU"
G=$(vfio_group "$U")
sed "s/\"$N\"/\"$N-2\"/" /run/e2e/adopt.json >/run/e2e/adopt-2.json
rc=0
out=$(vgpuvm run /run/e2e/adopt-2.json 2>&1) || rc=$?
echo "$out"
[ "$rc" = 75 ] || fail "vgpuvm run of a second VM on mdev $U exited $rc, expected 75"
comm=$(cat "/proc/$Q/comm")
[[ $out == *"mdev $U is in use: its VFIO group /dev/vfio/$G is open in $Q ($comm)"* ]] ||
	fail "the refusal does not name QEMU (pid $Q, $comm)"
ok "refused with exit 75, naming $Q ($comm)"
show vgpuvm stop $N || fail "vgpuvm stop $N exited $?"
vm_expect_exit $N 0
mdev_exists "$U" || fail "vgpuvm removed the adopted mdev $U"
[ "$(mdevctl_active)" = "$U mdpy mdpy-vga" ] || fail "mdevctl list after the stop: $(mdevctl_active)"
ok "mdev $U is still there, and mdevctl still lists it"

step "a process that is not QEMU holds the VFIO group: refused, naming it"
# The holder says "ready" once the group is open, then becomes sleep with the fd still open.
coproc HOLD { exec 7<>"/dev/vfio/$G" && echo ready && exec sleep 300; }
H=$HOLD_PID
read -r -t 10 -u "${HOLD[0]}" line && [ "$line" = ready ] || fail "cannot open /dev/vfio/$G"
find "/proc/$H/fd" -lname "/dev/vfio/$G" | grep -q . || fail "sleep (pid $H) does not hold /dev/vfio/$G"
rc=0
out=$(vgpuvm run /run/e2e/adopt.json 2>&1) || rc=$?
echo "$out"
[ "$rc" = 75 ] || fail "vgpuvm run exited $rc, expected 75"
[[ $out == *"is open in $H (sleep)"* ]] || fail "the refusal does not name $H (sleep)"
[[ $out != *"started QEMU"* ]] || fail "QEMU was started"
ok "refused with exit 75, naming $H (sleep)"
kill "$H"
wait "$H" 2>/dev/null

step "an mdev vgpuvm makes shows in mdevctl list while the VM runs, and goes with it"
P=$E2E_PROFILES/e2e-mdpy.json
V=$(profile_uuid "$P")
vm_start e2e-mdpy "$P"
vm_wait_running e2e-mdpy
show mdevctl list
mdevctl_active | grep -qx "$V mdpy mdpy-vga" || fail "mdevctl list lacks $V, which vgpuvm made"
agree
show vgpuvm stop e2e-mdpy || fail "vgpuvm stop exited $?"
vm_expect_exit e2e-mdpy 0
mdevctl_active | grep -q "$V" && fail "mdevctl still lists $V after vgpuvm removed it"
ok "mdevctl list no longer has $V"
agree

step "mdevctl stops and undefines its mdev"
show mdevctl stop -u "$U" || fail "mdevctl stop exited $?"
show mdevctl undefine -u "$U" || fail "mdevctl undefine exited $?"
[ -z "$(mdevctl list)" ] || fail "mdevctl still lists: $(mdevctl list)"
e2e_pass

# shellcheck shell=bash
# `vgpuvm types` and `vgpuvm doctor` on the real kernel mdev path: the three sample drivers (mdpy, mbochs, mtty) as
# parents, their types and instances as sysfs has them; the list changing when vgpuvm runs a VM and when an mdev is
# made by hand; doctor passing the profiles' vGPU checks, failing a dmabuf type without GL, saying this is no GVT-g
# host, and warning about the mdev a SIGKILLed supervisor left until `vgpuvm cleanup` removes it.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mdpy.json
N=e2e-mdpy
J=/run/e2e/types.json

# check_status JSON ID STATUS: doctor's JSON has check ID with STATUS.
check_status() {
	local got
	got=$(jq -r --arg id "$2" '.checks[] | select(.id == $id) | .status' "$1")
	[ "$got" = "$3" ] || fail "doctor: check $2 is ${got:-missing}, expected $3"
	ok "doctor: $3 $2: $(jq -r --arg id "$2" '.checks[] | select(.id == $id) | .summary' "$1")"
}

# doctor_json OUT EXPECTED-EXIT ARGS...: runs vgpuvm doctor --json ARGS into OUT and checks its exit status.
doctor_json() {
	local out=$1 want=$2 rc=0
	shift 2
	echo "\$ $(cmdline vgpuvm doctor "$@")"
	vgpuvm doctor "$@" || true
	vgpuvm doctor --json "$@" >"$out" || rc=$?
	[ "$rc" = "$want" ] || fail "vgpuvm doctor --json $* exited $rc, expected $want"
	ok "vgpuvm doctor $* exited $rc"
}

# types_field JQ-FILTER: one value from `vgpuvm types --json`.
types_field() { vgpuvm types --json | jq -r "$1"; }

step "three sample drivers, three parents"
load_driver mdpy
load_driver mbochs
load_driver mtty
# The render node the mbochs profile's GL display names.
load_vgem
show vgpuvm types || fail "vgpuvm types exited $?"
vgpuvm types --json >"$J" || fail "vgpuvm types --json exited $?"
[ "$(jq -r '[.parents[].name] | join(" ")' "$J")" = "mbochs mdpy mtty" ] ||
	fail "parents: $(jq -c '[.parents[].name]' "$J"), expected mbochs mdpy mtty"
ok "types --json: parents mbochs mdpy mtty"
for parent in mbochs mdpy mtty; do
	want=$(ls "/sys/class/mdev_bus/$parent/mdev_supported_types" | tr '\n' ' ')
	got=$(jq -r --arg p "$parent" '.parents[] | select(.name == $p) | .types | map(.name) | join(" ")' "$J")
	[ "$got " = "$want" ] || fail "$parent: types \"$got\", sysfs has \"$want\""
	[ "$(jq -r --arg p "$parent" '.parents[] | select(.name == $p) | .bus' "$J")" = mdev_bus ] || fail "$parent: bus"
	for t in $want; do
		a=$(jq -r --arg p "$parent" --arg t "$t" \
			'.parents[] | select(.name == $p) | .types[] | select(.name == $t) | .available_instances' "$J")
		[ "$a" = "$(available "$parent" "$t")" ] || fail "$parent/$t: available_instances $a, sysfs $(available "$parent" "$t")"
		api=$(jq -r --arg p "$parent" --arg t "$t" '.parents[] | select(.name == $p) | .types[] | select(.name == $t) | .device_api' "$J")
		[ "$api" = "$(cat "/sys/class/mdev_bus/$parent/mdev_supported_types/$t/device_api")" ] || fail "$parent/$t: device_api $api"
	done
	ok "$parent: types $want with sysfs's available_instances and device_api"
done
res=$(jq -r '.parents[] | select(.name == "mdpy") | .types[] | select(.name == "mdpy-vga") | .resolution' "$J")
grep -q "$res" /sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/description ||
	fail "mdpy-vga: resolution $res is not in its description"
ok "mdpy-vga: resolution $res, from \"$(cat /sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/description)\""

step "a VM and an mdev made by hand show up with their owners"
U=$(profile_uuid "$P")
before=$(available mdpy mdpy-vga)
vm_start $N "$P"
vm_wait_running $N
S=${VM_PID[$N]}
show vgpuvm types || fail "vgpuvm types exited $?"
[ "$(types_field '.parents[] | select(.name == "mdpy") | .types[] | select(.name == "mdpy-vga") | .available_instances')" = $((before - 1)) ] ||
	fail "mdpy-vga: available_instances did not drop to $((before - 1))"
m=$(types_field ".parents[] | select(.name == \"mdpy\") | .types[] | select(.name == \"mdpy-vga\") | .mdevs[] | select(.uuid == \"$U\") | \"\(.vm) \(.supervisor_pid) \(.created)\"")
[ "$m" = "$N $S true" ] || fail "mdev $U: owner \"$m\", expected \"$N $S true\""
ok "types: mdev $U, VM $N, supervisor pid $S, made by vgpuvm; mdpy-vga $((before - 1)) left"
M=0b6c1d2e-1111-4222-8333-944455556666
sysfs_write $M /sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create || fail "cannot create an mtty mdev"
m=$(types_field ".parents[] | select(.name == \"mtty\") | .types[] | select(.name == \"mtty-2\") | .mdevs[] | select(.uuid == \"$M\") | .vm")
[ "$m" = null ] || fail "mdev $M made by hand: vm is $m, expected null"
ok "types: mdev $M (made by hand) has no VM"
sysfs_write 1 /sys/bus/mdev/devices/$M/remove || fail "cannot remove mdev $M"

step "doctor with the profiles"
doctor_json /run/e2e/d-mdpy.json 0 "$P"
for c in vgpu.parent vgpu.type vgpu.instances display.gl mdev_bus vfio qemu qemu.device stale memlock; do
	check_status /run/e2e/d-mdpy.json $c PASS
done
check_status /run/e2e/d-mdpy.json gvt SKIP
check_status /run/e2e/d-mdpy.json kvm SKIP
doctor_json /run/e2e/d-mbochs.json 0 "$E2E_PROFILES/e2e-mbochs.json"
for c in vgpu.type vgpu.instances display.gl render_node qemu.display; do
	check_status /run/e2e/d-mbochs.json $c PASS
done
doctor_json /run/e2e/d-mtty.json 0 "$E2E_PROFILES/e2e-mtty.json"
check_status /run/e2e/d-mtty.json vgpu.instances PASS
check_status /run/e2e/d-mtty.json display.gl SKIP
sed 's/"display": {[^}]*}/"display": { "type": "none" }/' "$E2E_PROFILES/e2e-mbochs.json" >/run/e2e/mbochs-none.json
# A dmabuf vGPU without a GL display is refused as a profile (65) before doctor or run would go on: QEMU would
# refuse it only once the mdev is made.
rc=0
vgpuvm doctor /run/e2e/mbochs-none.json >/run/e2e/d-mbochs-none.out 2>&1 || rc=$?
[ "$rc" = 65 ] || fail "vgpuvm doctor /run/e2e/mbochs-none.json exited $rc, expected 65"
grep -q 'display.type: "none" has no OpenGL' /run/e2e/d-mbochs-none.out || fail "no word of the missing GL display"
ok "vgpuvm doctor refuses a dmabuf vGPU without a GL display (65)"
echo '{"memory": "64M", "accel": "tcg", "vgpu": {"parent": "mdpy", "type": "mdpy-vga", "xres": 1920, "yres": 1080}, "display": {"type": "none"}, "serial": "none"}' \
	>/run/e2e/mdpy-big.json
doctor_json /run/e2e/d-mdpy-big.json 1 /run/e2e/mdpy-big.json
check_status /run/e2e/d-mdpy-big.json vgpu.resolution FAIL
doctor_json /run/e2e/d-host.json 1
check_status /run/e2e/d-host.json i915 FAIL
jq -r '.checks[] | select(.id == "i915") | .summary' /run/e2e/d-host.json | grep -q "not an Intel GVT-g host" ||
	fail "doctor without a profile does not say this is no GVT-g host"
check_status /run/e2e/d-host.json mdev_bus PASS

step "a SIGKILLed supervisor leaves its mdev: doctor warns until vgpuvm cleanup"
Q=$(json_field $N qemu_pid)
show kill -KILL "$S"
vm_expect_exit $N 137
"$E2E_UTIL" wait-pid "$Q" 20 || fail "QEMU (pid $Q) still runs 20 s after its supervisor died"
doctor_json /run/e2e/d-stale.json 0 "$P"
check_status /run/e2e/d-stale.json stale WARN
[ "$(jq -r '.checks[] | select(.id == "stale") | .fix' /run/e2e/d-stale.json)" = "vgpuvm cleanup $N" ] ||
	fail "the stale check does not name vgpuvm cleanup $N"
ok "doctor names: vgpuvm cleanup $N"
show vgpuvm cleanup $N || fail "vgpuvm cleanup $N exited $?"
doctor_json /run/e2e/d-clean.json 0 "$P"
check_status /run/e2e/d-clean.json stale PASS
[ "$(available mdpy mdpy-vga)" = "$before" ] || fail "mdpy-vga has $(available mdpy mdpy-vga) instances, expected $before"
ok "mdpy-vga: $before instances again"
e2e_pass

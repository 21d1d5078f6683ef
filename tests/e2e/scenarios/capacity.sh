# shellcheck shell=bash
# The parent's capacity: mdpy-vga has 4 instances. Four VMs run at once (four names, so four derived UUIDs); a fifth
# fails before QEMU starts, saying that no instances are left (exit 69); once the four stop, no mdev is left.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mdpy.json

step "mdpy loaded: 4 instances of mdpy-vga"
load_driver mdpy
[ "$(available mdpy mdpy-vga)" = 4 ] || fail "mdpy-vga has $(available mdpy mdpy-vga) instances, expected 4"
ok "mdpy-vga available_instances: 4"
declare -A U=()
for i in 1 2 3 4 5; do
	U[$i]=$(profile_uuid "$P" --set name=e2e-cap-$i)
	ok "e2e-cap-$i: uuid ${U[$i]}"
done
[ "$(printf '%s\n' "${U[@]}" | sort -u | wc -l)" = 5 ] || fail "the five names do not give five UUIDs"
ok "five names, five UUIDs"

step "four VMs at once"
for i in 1 2 3 4; do
	vm_start e2e-cap-$i "$P" --set name=e2e-cap-$i
done
for i in 1 2 3 4; do
	vm_wait_running e2e-cap-$i
	mdev_exists "${U[$i]}" || fail "no mdev ${U[$i]} for e2e-cap-$i"
done
show vgpuvm list || fail "vgpuvm list"
[ "$(mdevs | wc -l)" = 4 ] || fail "$(mdevs | wc -l) mdevs, expected 4"
ok "4 mdevs: $(mdevs | tr '\n' ' ')"
[ "$(available mdpy mdpy-vga)" = 0 ] || fail "mdpy-vga has $(available mdpy mdpy-vga) instances left, expected 0"
ok "mdpy-vga available_instances: 0"

step "a fifth VM: no instances left"
vm_start e2e-cap-5 "$P" --set name=e2e-cap-5
vm_wait_exit e2e-cap-5
cat "$E2E_LOGS/e2e-cap-5.log"
[ "$VM_RC" = 69 ] || fail "the fifth vgpuvm run exited $VM_RC, expected 69"
ok "the fifth vgpuvm run exited 69"
log_has e2e-cap-5 "no instances of mdpy-vga left"
grep -q 'started QEMU' "$E2E_LOGS/e2e-cap-5.log" && fail "the fifth vgpuvm run started QEMU"
ok "no QEMU was started for the fifth"
mdev_exists "${U[5]}" && fail "an mdev ${U[5]} exists for the fifth"
ok "no mdev ${U[5]}"
unset 'VM_PID[e2e-cap-5]'

step "the four stop"
for i in 1 2 3 4; do
	vgpuvm stop e2e-cap-$i --force >"$E2E_LOGS/stop-$i.log" 2>&1 &
	stops[i]=$!
done
for i in 1 2 3 4; do
	wait "${stops[$i]}" || { cat "$E2E_LOGS/stop-$i.log"; fail "vgpuvm stop e2e-cap-$i failed"; }
	vm_expect_exit e2e-cap-$i 0
	log_has e2e-cap-$i "removed mdev ${U[$i]}"
done
[ -z "$(mdevs)" ] || fail "mdevs left: $(mdevs | tr '\n' ' ')"
ok "no mdev left"
[ "$(available mdpy mdpy-vga)" = 4 ] || fail "mdpy-vga has $(available mdpy mdpy-vga) instances, expected 4"
ok "mdpy-vga available_instances: 4"
e2e_pass

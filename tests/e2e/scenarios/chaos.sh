# shellcheck shell=bash
# Chaos on the real kernel mdev path: N cycles, each a VM on mdpy with one fault at a random moment, seeded and so
# reproducible (tests/e2e/chaos.sh N SEED runs it at length; make check runs 10 cycles of seed 1). The faults: the
# supervisor or QEMU SIGKILLed, two SIGTERMs at once, `vgpuvm stop` from two clients at once, two `run`s racing for
# the last instance, a full runtime filesystem, the mdev removed behind vgpuvm's back, the parent driver unloaded while
# a VM runs. After each cycle: no mdev left, no QEMU or supervisor left, no socket or record left, available_instances
# back to 4, and every exit code one that vgpuvm(1) documents.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mdpy.json
TY=/sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga
N=10 SEED=1
# shellcheck disable=SC1091 # written by tests/e2e/chaos.sh for a longer run
[ -r "$E2E_WORK/chaos.conf" ] && . "$E2E_WORK/chaos.conf"
RANDOM=$SEED
FAULTS=(kill-supervisor kill-qemu two-sigterms two-stops race-last-instance full-runtime remove-behind unload-parent)
# Exit codes vgpuvm(1) documents for `run` (0, QEMU's own status 1, 128+N for signals, 64-78) and for `stop`.
documented() { case $1 in 0 | 1 | 69 | 70 | 71 | 73 | 74 | 75 | 76 | 77 | 78 | 137 | 143) return 0 ;; esac; return 1; }
expect_documented() { documented "$2" || fail "cycle $cycle ($fault): $1 exited $2, which vgpuvm(1) does not document"; }

load_driver mdpy
declare -A tally=() codes=()

# A random delay of 0 to $1 hundredths of a second: the fault comes at a different moment each cycle.
jitter() { sleep "0.$(printf '%02d' $((RANDOM % ($1 + 1))))"; }

# After every cycle, whatever the fault: nothing of any VM is left.
check_clean() {
	local left q
	left=$(mdevs | tr '\n' ' ')
	[ -z "$left" ] || fail "cycle $cycle ($fault): mdevs left: $left"
	q=$(pgrep -f 'qemu-system-x86_64 -name e2e-chaos' | tr '\n' ' ')
	[ -z "$q" ] || fail "cycle $cycle ($fault): QEMU left running: $q"
	pgrep -f "$VGPUVM run" >/dev/null && fail "cycle $cycle ($fault): a supervisor is left: $(pgrep -af "$VGPUVM run")"
	left=$(find /run/vgpuvm -mindepth 1 -maxdepth 2 \( -name control -o -name record.json \) 2>/dev/null | tr '\n' ' ')
	[ -z "$left" ] || fail "cycle $cycle ($fault): left in the runtime directory: $left"
	[ "$(available mdpy mdpy-vga)" = 4 ] || fail "cycle $cycle ($fault): available_instances $(available mdpy mdpy-vga), not 4"
}

# The supervisor's exit, then whatever a dead supervisor left is undone by cleanup (documented codes only).
finish() {
	local name=$1 rc
	vm_wait_exit "$name"
	expect_documented "vgpuvm run $name" "$VM_RC"
	codes[$VM_RC]=$((${codes[$VM_RC]:-0} + 1))
	# A QEMU whose supervisor was SIGKILLed ends through its parent-death signal: give it the time to.
	timeout 20 bash -c 'while pgrep -f "qemu-system-x86_64 -name $1( |$)" >/dev/null; do sleep 0.05; done' _ "$name"
	rc=0
	"$VGPUVM" cleanup "$name" >/dev/null 2>&1 || rc=$?
	expect_documented "vgpuvm cleanup $name" "$rc"
}

for ((cycle = 1; cycle <= N; cycle++)); do
	fault=${FAULTS[RANDOM % ${#FAULTS[@]}]}
	tally[$fault]=$((${tally[$fault]:-0} + 1))
	name=e2e-chaos
	step "cycle $cycle/$N: $fault"
	case $fault in
	kill-supervisor)
		vm_start $name "$P" --set name=$name
		jitter 150
		kill -KILL "${VM_PID[$name]}" 2>/dev/null
		finish $name
		;;
	kill-qemu)
		vm_start $name "$P" --set name=$name
		jitter 150
		pkill -KILL -f "qemu-system-x86_64 -name $name( |$)"
		# Killed before QEMU started, the fault did not land: stop the VM instead.
		kill -TERM "${VM_PID[$name]}" 2>/dev/null
		finish $name
		;;
	two-sigterms)
		vm_start $name "$P" --set name=$name
		jitter 150
		kill -TERM "${VM_PID[$name]}" 2>/dev/null
		kill -TERM "${VM_PID[$name]}" 2>/dev/null
		finish $name
		;;
	two-stops)
		vm_start $name "$P" --set name=$name
		wait_log "$E2E_LOGS/$name.log" 'is running' "${VM_PID[$name]}" 60 || true
		jitter 50
		"$VGPUVM" stop $name >/dev/null 2>&1 &
		s1=$!
		"$VGPUVM" stop $name --force >/dev/null 2>&1 &
		s2=$!
		for s in $s1 $s2; do
			rc=0
			wait $s || rc=$?
			expect_documented "vgpuvm stop" "$rc"
		done
		finish $name
		;;
	race-last-instance)
		# Three mdevs made by hand leave one instance; two VMs race for it: one runs, the other is told none is
		# left (69), and neither leaves anything.
		hand=()
		for i in 1 2 3; do
			u=$(cat /proc/sys/kernel/random/uuid)
			echo "$u" >"$TY/create" || fail "cannot make mdev $u by hand"
			hand+=("$u")
		done
		vm_start e2e-chaos-a "$P" --set name=e2e-chaos-a
		vm_start e2e-chaos-b "$P" --set name=e2e-chaos-b
		jitter 200
		kill -TERM "${VM_PID[e2e-chaos-a]}" "${VM_PID[e2e-chaos-b]}" 2>/dev/null
		finish e2e-chaos-a
		finish e2e-chaos-b
		for u in "${hand[@]}"; do
			echo 1 >"/sys/bus/mdev/devices/$u/remove" || fail "cannot remove mdev $u by hand"
		done
		;;
	full-runtime)
		# A runtime filesystem with no room: vgpuvm fails with a documented code and makes nothing.
		mkdir -p /run/chaos-full
		mount -t tmpfs -o size=8k,mode=0755 chaos /run/chaos-full || fail "cannot mount a tiny tmpfs"
		head -c 8192 /dev/zero >/run/chaos-full/filler 2>/dev/null
		VGPUVM_RUNTIME_DIR=/run/chaos-full/vgpuvm "$VGPUVM" run "$P" --set name=$name >"$E2E_LOGS/$name.log" 2>&1 &
		VM_PID[$name]=$!
		jitter 100
		kill -TERM "${VM_PID[$name]}" 2>/dev/null
		finish $name
		umount /run/chaos-full
		;;
	remove-behind)
		# Someone removes the mdev while the VM runs: the kernel asks QEMU to let go of it and waits until it does
		# (the writer blocks meanwhile); the VM's end lets it finish, and leaves nothing.
		vm_start $name "$P" --set name=$name
		w=
		if wait_log "$E2E_LOGS/$name.log" 'is running' "${VM_PID[$name]}" 60; then
			u=$(profile_uuid "$P" --set name=$name)
			sh -c "echo 1 > /sys/bus/mdev/devices/$u/remove" 2>/dev/null &
			w=$!
			jitter 100
		fi
		kill -TERM "${VM_PID[$name]}" 2>/dev/null
		finish $name
		[ -z "$w" ] || timeout 30 tail --pid="$w" -f /dev/null || fail "the remove behind vgpuvm's back never finished"
		;;
	unload-parent)
		# The parent's driver unloaded under a running VM: the kernel refuses while an mdev exists; the VM ends
		# cleanly, and the driver is loaded again for the next cycle.
		vm_start $name "$P" --set name=$name
		jitter 150
		rmmod mdpy 2>/dev/null && ok "mdpy unloaded under the VM"
		kill -TERM "${VM_PID[$name]}" 2>/dev/null
		finish $name
		[ -d /sys/class/mdev_bus/mdpy ] || load_driver mdpy
		;;
	esac
	check_clean
	ok "cycle $cycle: clean"
done

step "summary: $N cycles, seed $SEED"
for f in "${FAULTS[@]}"; do
	echo "  $f: ${tally[$f]:-0}"
done
for c in "${!codes[@]}"; do
	echo "  vgpuvm run exited $c: ${codes[$c]} times"
done
e2e_pass

# Helpers for bats tests that run VMs: start vgpuvm in the background, wait for a log line or for its exit (on the
# event: tail -f's inotify, the shell's wait), and check that nothing is left behind.

vm_setup() {
	VGPUVM=${VGPUVM:-$BATS_TEST_DIRNAME/../../build/vgpuvm}
	ROOT_DIR=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	# The helpers built with the binary under test (BUILD=build-dev make helpers puts them beside it), else build's.
	HELPERS=$(dirname "$VGPUVM")/helpers
	[ -d "$HELPERS" ] || HELPERS=$ROOT_DIR/build/helpers
	T=$(mktemp -d /tmp/vgpuvm-test.XXXXXX)
	export VGPUVM_RUNTIME_DIR=$T/run
	unset VGPUVM_SYSFS_ROOT VGPUVM_PROFILE_PATH JOURNAL_STREAM
	VM_PID=
}

vm_teardown() {
	# A failed test must still not leave a supervisor or a QEMU running.
	if [ -n "${VM_PID:-}" ] && kill -0 "$VM_PID" 2>/dev/null; then
		kill -KILL "$VM_PID" 2>/dev/null || true
	fi
	pkill -KILL -f -- "-name ${VM_PREFIX:-vgpuvm-test}-${T##*.}-$BATS_TEST_NUMBER-" 2>/dev/null || true
	rm -rf "$T"
}

# profile NAME JSON-BODY: writes $T/NAME.json. The VM's name carries $VM_PREFIX (default vgpuvm-test), the test
# directory's random tag and the test number, so that leftovers can be found, and only this run's: a teardown of a
# test of the same number that runs at the same time (another file, another checkout) leaves these alone.
profile() {
	local name=$1 body=$2
	printf '{"name": "%s", %s}\n' "$(vm_name "$name")" "$body" > "$T/$name.json"
}

vm_name() {
	echo "${VM_PREFIX:-vgpuvm-test}-${T##*.}-$BATS_TEST_NUMBER-$1"
}

# start_vm NAME [ARGS...]: vgpuvm run $T/NAME.json in the background, its output in $T/log.
start_vm() {
	local name=$1; shift
	: > "$T/log"
	"$VGPUVM" run "$T/$name.json" "$@" < /dev/null >> "$T/log" 2>&1 &
	VM_PID=$!
}

# wait_log PATTERN [SECONDS]: until an extended regex matches a line of the log, vgpuvm exits, or time runs out.
wait_log() {
	local pattern=$1 secs=${2:-60}
	timeout "$secs" tail -n +1 --pid="$VM_PID" -f "$T/log" 2>/dev/null | grep -E -m1 -q -- "$pattern" && return 0
	grep -E -q -- "$pattern" "$T/log" && return 0
	echo "--- no line matching '$pattern' within ${secs}s; log:"; cat "$T/log"
	return 1
}

# wait_vm [SECONDS]: waits for vgpuvm to exit and sets VM_STATUS. The watchdog only bounds the wait: a hung
# supervisor is killed, so that the test fails instead of hanging.
wait_vm() {
	local secs=${1:-60} wd
	# The watchdog is a sh of its own, not a subshell of bats: a subshell inherits bats's ERR trap and, killed at a
	# bad moment, could report a test result of its own ("Executed 2 instead of expected 1 tests"). Its fds are
	# closed or /dev/null: bats waits for every holder of its fd 3 and of its output.
	sh -c 'sleep "$1" && kill -KILL "$2" 2>/dev/null && echo "--- watchdog: vgpuvm killed after $1 s" >>"$3"' \
		watchdog "$secs" "$VM_PID" "$T/log" </dev/null >/dev/null 2>&1 3>&- &
	wd=$!
	VM_STATUS=0
	wait "$VM_PID" || VM_STATUS=$?
	pkill -KILL -P "$wd" 2>/dev/null || true
	kill -KILL "$wd" 2>/dev/null || true
	wait "$wd" 2>/dev/null || true
	if grep -q -- '--- watchdog' "$T/log"; then cat "$T/log"; return 1; fi
}

qemu_pid() {
	sed -n 's/.*started QEMU (pid \([0-9]*\)).*/\1/p' "$T/log" | head -n1
}

# assert_clean NAME: no QEMU of this VM, no runtime directory.
assert_clean() {
	local name
	name=$(vm_name "$1")
	if pgrep -f -- "-name $name( |$)" >/dev/null; then
		echo "a QEMU for $name is still running"; return 1
	fi
	if [ -e "$VGPUVM_RUNTIME_DIR/$name" ]; then
		echo "runtime directory left: $(ls -la "$VGPUVM_RUNTIME_DIR/$name")"; return 1
	fi
}

# elapsed SINCE_EPOCH_NS: milliseconds since a `date +%s%N` stamp.
elapsed_ms() {
	echo $(( ($(date +%s%N) - $1) / 1000000 ))
}

# vgpu_profile NAME VGPU-JSON [MORE-JSON]: a VM with that vgpu object, run by $QEMU (tests/helpers/qemu-no-vfio: a real
# QEMU without the vfio device, for mdevs in the fake sysfs), no window. Without CAP_SYS_RESOURCE (as in some
# sandboxes) no one can raise RLIMIT_MEMLOCK, so these VMs say "memlock": false unless the vgpu object says otherwise;
# mdev.bats's memlock tests cover both sides.
vgpu_profile() {
	local vgpu=$2
	[[ $vgpu == *memlock* ]] || vgpu="${vgpu%\}}, \"memlock\": false}"
	# A GVT-g type shows dmabufs, which need a GL display that a test without a window has not: its vGPU display
	# is off unless the vgpu object says otherwise (vgpuvm check refuses the other way).
	[[ $vgpu != *'"i915-'* || $vgpu == *'"display"'* ]] || vgpu="${vgpu%\}}, \"display\": false}"
	profile "$1" "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"qemu\": \"$QEMU\", \"display\": {\"type\": \"none\"}, \"shutdown\": {\"powerdown_timeout\": 1, \"quit_timeout\": 5}, \"vgpu\": $vgpu${3:+, $3}"
}

uuid_of() {
	"$VGPUVM" argv "$T/$1.json" | sed -n 's|.*/bus/mdev/devices/\([0-9a-f-]*\),.*|\1|p'
}

# fake_profile NAME MODE [MORE-JSON]: a VM run by the scripted fake QEMU (tests/helpers/fake-qemu) in MODE: stubborn,
# silent, garbage, crash, exit-after-greeting.
fake_profile() {
	local name=$1 mode=$2 more=${3:-}
	profile "$name" "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"qemu\": \"$HELPERS/fake-qemu\", \"env\": {\"FAKE_QEMU_MODE\": \"$mode\"}${more:+, $more}"
}

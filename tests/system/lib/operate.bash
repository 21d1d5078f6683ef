# shellcheck shell=bash
# Helpers for the tests of the running-VM commands (list, status, stop, screenshot, qmp, cleanup), sd_notify and the
# restart policy. Load after lib/vm (these use vm_name, $T, $VGPUVM and $HELPERS). Everything waits on an event (tail
# -f, a pidfd, the shell's wait) with a bound, never by sleeping.
#
#   operate_setup / operate_teardown   call after vm_setup / before vm_teardown: track and end what the tests start
#                                      (VMs in PIDS, notify-recv daemons, and background clients added to CLIENT_PIDS)
#   start_vm_named NAME [ARGS...]      vgpuvm run $T/NAME.json in the background, log in $T/NAME.log, pid in PIDS[NAME]
#   wait_log_of NAME PATTERN [SECS]    wait_log for a VM started with start_vm_named
#   wait_vm_of NAME [SECS]             wait_vm for it: sets VM_STATUS
#   wait_file FILE PATTERN [SECS]      until a line of FILE matches the extended regex (FILE may not exist yet)
#   notify_start SOCKET OUTFILE        notify-recv -p in the background (pid kept for the teardown)
#   as_nobody CMD...                   CMD as uid and gid 65534 with no supplementary groups
#   stop_steps                         from `vgpuvm stop` output on stdin: the step of each line, space-separated
#   png_size FILE                      "WxH" from the PNG's IHDR; fails unless FILE starts with the PNG signature
#   pid_gone PID [SECS]                wait until PID has ended; a zombie counts as ended (ctl wait-gone)
#   pid_alive PID                      true if PID runs and is not a zombie
#   json_of CMD...                     CMD's stdout, checked to be JSON by jq
#   refute CMD...                      fails if CMD succeeds. Use it, not "! CMD": bash's errexit ignores a command
#                                      negated with "!", so in a bats test "! grep -q x log" never fails

operate_setup() {
	declare -gA PIDS=()
	NOTIFY_PIDS=()
	CLIENT_PIDS=()
	[ -x "$HELPERS/notify-recv" ] || {
		echo "$HELPERS/notify-recv is missing: run make helpers" >&2
		return 1
	}
	command -v jq >/dev/null || {
		echo "jq is not installed (apt-get install jq)" >&2
		return 1
	}
}

operate_teardown() {
	local name pid
	for name in "${!PIDS[@]}"; do
		pid=${PIDS[$name]}
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in "${CLIENT_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in "${NOTIFY_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		ctl wait-gone "$pid" 10 >/dev/null || kill -KILL "$pid" 2>/dev/null || true
	done
}

start_vm_named() {
	local name=$1; shift
	: > "$T/$name.log"
	"$VGPUVM" run "$T/$name.json" "$@" < /dev/null >> "$T/$name.log" 2>&1 3>&- &
	PIDS[$name]=$!
}

wait_log_of() {
	local name=$1 pattern=$2 secs=${3:-60}
	timeout "$secs" tail -n +1 --pid="${PIDS[$name]}" -f "$T/$name.log" 2>/dev/null | grep -E -m1 -q -- "$pattern" &&
		return 0
	grep -E -q -- "$pattern" "$T/$name.log" && return 0
	echo "--- no line matching '$pattern' within ${secs}s; log of $name:"; cat "$T/$name.log"
	return 1
}

wait_vm_of() {
	local name=$1 secs=${2:-60} wd pid=${PIDS[$1]}
	(sleep "$secs"; kill -KILL "$pid" 2>/dev/null; echo "--- watchdog: vgpuvm killed after ${secs}s" >> "$T/$name.log") 3>&- &
	wd=$!
	VM_STATUS=0
	wait "$pid" || VM_STATUS=$?
	kill "$wd" 2>/dev/null; wait "$wd" 2>/dev/null || true
	unset "PIDS[$name]"
	if grep -q -- '--- watchdog' "$T/$name.log"; then cat "$T/$name.log"; return 1; fi
}

wait_file() {
	local file=$1 pattern=$2 secs=${3:-30}
	[ -e "$file" ] || : >> "$file"
	timeout "$secs" tail -n +1 -f "$file" 2>/dev/null | grep -E -m1 -q -- "$pattern" && return 0
	echo "--- no line matching '$pattern' in $file within ${secs}s; it has:"; cat "$file"
	return 1
}

notify_start() {
	local pid
	pid=$("$HELPERS/notify-recv" -p "$1" "$2") || return 1
	NOTIFY_PIDS+=("$pid")
}

as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}

# The first of the four step names on each line that has one, in order: "powerdown quit term kill" at most. A step
# name counts as a word of its own (after a space, a colon or the line's start), so that "host-qmp-quit" is none.
stop_steps() {
	awk 'match($0, /(^|[ :])(powerdown|quit|term|kill)([ :,.]|$)/) {
		s = substr($0, RSTART, RLENGTH); gsub(/[^a-z]/, "", s); out = out (out == "" ? "" : " ") s
	} END { print out }'
}

png_size() {
	local file=$1 sig w h
	sig=$(head -c 8 "$file" | od -An -tx1 | tr -d ' \n')
	[ "$sig" = 89504e470d0a1a0a ] || { echo "not a PNG: starts with $sig"; return 1; }
	# The first chunk is IHDR: length (4), "IHDR" (4), then width and height, big-endian, at offsets 16 and 20.
	[ "$(dd if="$file" bs=1 skip=12 count=4 2>/dev/null)" = IHDR ] || { echo "no IHDR chunk first"; return 1; }
	w=$(od -An -tu1 -j16 -N4 "$file" | awk '{print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4}')
	h=$(od -An -tu1 -j20 -N4 "$file" | awk '{print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4}')
	echo "${w}x${h}"
}

pid_gone() {
	ctl wait-gone "$1" "${2:-10}"
}

pid_alive() {
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $state != Z* ]]
}

json_of() {
	local out
	out=$("$@") || { echo "$* failed: $out"; return 1; }
	jq -e . >/dev/null <<<"$out" || { echo "$* printed no JSON: $out"; return 1; }
	printf '%s\n' "$out"
}


#!/usr/bin/env bats
# Properties of `vgpuvm status --json` over generated VMs: names drawn from every character a name may hold, profile
# paths with spaces, quotes, backslashes, newlines, non-ASCII and bytes that are not UTF-8. The output must be strict
# UTF-8 JSON that jq and Python both read, that comes back the same when written out and read again, and whose fields
# are the VM's. (The QEMU side of the profile properties is the property layer: tests/property/run.sh.)

load lib/vm
load lib/operate
load lib/control
load lib/assert

setup() {
	vm_setup
	operate_setup
}

teardown() {
	operate_teardown
	vm_teardown
}

# check_status NAME PATH: the status of VM NAME, started from the profile at PATH, round-trips.
check_status() {
	"$VGPUVM" status "$1" --json >"$T/status.json"
	jq -e . "$T/status.json" >/dev/null
	"$CTL_PYTHON" - "$T/status.json" "$1" "$2" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
text = raw.decode("utf-8")          # strict: a byte that is not UTF-8 fails here
st = json.loads(text)
again = json.loads(json.dumps(st, ensure_ascii=False))
assert again == st, "does not round-trip"
assert json.loads(json.dumps(st)) == st, "does not round-trip through ASCII escapes"
name, path = sys.argv[2], sys.argv[3].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
assert st["name"] == name, (st["name"], name)
assert st["profile"] == path, (st["profile"], path)
assert st["state"] == "running" and st["qemu_status"] == "running", st
assert isinstance(st["supervisor_pid"], int) and isinstance(st["qemu_pid"], int), st
assert isinstance(st["uptime"], float) and st["uptime"] >= 0, st
assert st["display"] == {"type": "none", "gl": False} and st["vgpu"] is None and st["restarts"] == 0, st
PY
}

@test "status --json: strict UTF-8 JSON that round-trips, for generated names and profile paths" {
	local chars='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-'
	local -a files=("plain" "with space" "quote'd \"x\"" 'back\slash' $'new\nline' "caf$(printf '\xc3\xa9') $(printf '\xe2\x98\x83')" "not-utf8-$(printf '\xff\xfe')" "long-$(printf 'x%.0s' {1..150})")
	RANDOM=${PROPERTY_SEED:-7}
	for i in "${!files[@]}"; do
		local name="v$i" k
		for ((k = RANDOM % 40; k > 0; k--)); do name+=${chars:RANDOM % ${#chars}:1}; done
		local f="$T/${files[$i]}.json"
		printf '{"name": "%s", "memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "shutdown": {"powerdown_timeout": 0, "quit_timeout": 5}}\n' "$name" >"$f"
		: >"$T/log"
		"$VGPUVM" run "$f" </dev/null >>"$T/log" 2>&1 &
		VM_PID=$!
		wait_log 'is running'
		check_status "$name" "$f"
		"$VGPUVM" list --json | jq -e --arg n "$name" '.vms | map(.name) | index($n) != null'
		kill -TERM "$VM_PID"
		wait_vm 30
		[ "$VM_STATUS" -eq 0 ]
	done
}

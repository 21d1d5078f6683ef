#!/usr/bin/env bats
# vgpuvm metrics: a VM with an mdev in the fake sysfs (lib/fakesys) run by a real QEMU under TCG; the text file it
# writes served by Debian's prometheus-node-exporter (started here on 127.0.0.1, textfile collector only) and scraped
# with curl; Debian's promtool checks the format. A SIGKILLed supervisor's record, the fake types' counts, QEMU paused,
# and the rules of --textfile (atomic, root's directory, *.prom).

load lib/vm
load lib/fakesys
load lib/control
load lib/operate
load lib/assert

setup() {
	fakesys_vm_setup
	for c in prometheus-node-exporter promtool curl; do
		command -v "$c" >/dev/null || {
			echo "$c is not installed: scripts/deps.sh test installs it" >&2
			return 1
		}
	done
	TF=$T/textfile
	mkdir -m 0755 "$TF"
}

teardown() {
	fakesys_vm_teardown
}

# The value of one sample line of the text in FILE (exact name and labels), or nothing.
sample() {
	# ENVIRON, not -v: awk would take the backslashes of an escaped label value as its own escapes.
	key=$2 awk '$1 == ENVIRON["key"] { print $2 }' "$1"
}

# A free port on 127.0.0.1, chosen by the kernel.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# node_exporter DIR: starts prometheus-node-exporter with only the textfile collector on DIR, and scrapes it into
# $T/scrape once it answers.
node_exporter() {
	local port
	port=$(free_port)
	prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$1" >"$T/node-exporter.log" 2>&1 3>&- &
	CLIENT_PIDS+=($!)
	curl -sS --retry 30 --retry-connrefused --retry-delay 1 --max-time 30 -o "$T/scrape" \
		"http://127.0.0.1:$port/metrics" || {
		cat "$T/node-exporter.log"
		return 1
	}
}

kill_supervisor() {
	local q
	q=$(qemu_pid)
	kill -KILL "$VM_PID"
	wait_vm 10 || true
	[ "$VM_STATUS" -eq 137 ]
	[ -z "$q" ] || pid_gone "$q" 20
}

@test "metrics --textfile while a VM runs: node_exporter serves its values (up, running, RSS, restarts, the mdev); promtool passes" {
	vgpu_profile gvt '{"parent": "mdpy", "type": "mdpy-vga"}'
	name=$(vm_name gvt)
	start_vm gvt
	wait_log 'is running'
	q=$(qemu_pid)
	run "$VGPUVM" metrics --textfile "$TF/vgpuvm.prom"
	echo "$output"
	[ "$status" -eq 0 ]
	rss_proc=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$q/status")
	[ -z "$output" ]
	# The file is whole, 0644 for node_exporter's user, and no temporary file is left beside it.
	[ "$(stat -c %a "$TF/vgpuvm.prom")" = 644 ]
	[ "$(ls -A "$TF")" = vgpuvm.prom ]
	run promtool check metrics <"$TF/vgpuvm.prom"
	echo "$output"
	[ "$status" -eq 0 ]

	node_exporter "$TF"
	# node_exporter read the file without error, and serves the VM's samples as vgpuvm wrote them.
	[ "$(sample "$T/scrape" node_textfile_scrape_error)" = 0 ]
	[ "$(sample "$T/scrape" "vgpuvm_vm_up{vm=\"$name\"}")" = 1 ]
	[ "$(sample "$T/scrape" "vgpuvm_vm_state{state=\"running\",vm=\"$name\"}")" = 1 ]
	[ "$(sample "$T/scrape" "vgpuvm_vm_state{state=\"stopping\",vm=\"$name\"}")" = 0 ]
	[ "$(sample "$T/scrape" "vgpuvm_vm_restarts_total{vm=\"$name\"}")" = 0 ]
	[ "$(sample "$T/scrape" "vgpuvm_vm_last_exit_code{vm=\"$name\"}")" = 0 ]
	up=$(sample "$T/scrape" "vgpuvm_vm_uptime_seconds{vm=\"$name\"}")
	awk -v u="$up" 'BEGIN { exit !(u > 0 && u < 300) }'
	# QEMU's RSS as /proc said it just after, within 25% (a TCG guest's memory still moves a little).
	rss=$(sample "$T/scrape" "vgpuvm_vm_qemu_rss_bytes{vm=\"$name\"}")
	echo "rss $rss, /proc $rss_proc"
	awk -v a="$rss" -v b="$rss_proc" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 10000000 && d < b / 4) }'
	# The VM's mdev is the one used instance of mdpy-vga; available as the fake sysfs says.
	[ "$(sample "$T/scrape" 'vgpuvm_mdev_type_used_instances{parent="mdpy",type="mdpy-vga"}')" = 1 ]
	[ "$(sample "$T/scrape" 'vgpuvm_mdev_type_available_instances{parent="mdpy",type="mdpy-vga"}')" = \
		"$(fakesys_instances "$S" mdpy mdpy-vga)" ]
	[ "$(sample "$T/scrape" 'vgpuvm_mdev_type_used_instances{parent="mdpy",type="mdpy-xga"}')" = 0 ]
	# Doctor's checks by id, and when the file was written (node_exporter keeps vgpuvm's own timestamp metric).
	grep -q '^vgpuvm_doctor_check_failed{check="kvm"} [01]$' "$T/scrape"
	ts=$(sample "$T/scrape" vgpuvm_metrics_timestamp_seconds)
	awk -v t="$ts" -v now="$(date +%s)" 'BEGIN { exit !(t > now - 120 && t <= now + 1) }'
	stop_and_wait_gvt
}

stop_and_wait_gvt() {
	kill -TERM "$VM_PID"
	wait_vm 60
	[ "$VM_STATUS" -eq 0 ]
}

@test "metrics: a supervisor that was SIGKILLed leaves its record: vm_up 0 and nothing else of it; cleanup removes it" {
	vgpu_profile gvt '{"parent": "mdpy", "type": "mdpy-vga"}'
	name=$(vm_name gvt)
	start_vm gvt
	wait_log 'is running'
	kill_supervisor
	run "$VGPUVM" metrics --no-doctor
	echo "$output"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$T/out"
	[ "$(sample "$T/out" "vgpuvm_vm_up{vm=\"$name\"}")" = 0 ]
	[ "$(grep -c "vm=\"$name\"" "$T/out")" -eq 1 ]
	# The mdev the dead supervisor left still counts as used.
	[ "$(sample "$T/out" 'vgpuvm_mdev_type_used_instances{parent="mdpy",type="mdpy-vga"}')" = 1 ]
	promtool check metrics <"$T/out"
	"$VGPUVM" cleanup "$name"
	run "$VGPUVM" metrics --no-doctor
	[ "$status" -eq 0 ]
	[[ $output != *"vm=\"$name\""* ]]
	[[ $output == *'vgpuvm_mdev_type_used_instances{parent="mdpy",type="mdpy-vga"} 0'* ]]
}

@test "metrics: the fake sysfs's types give their available and used instances; --no-doctor leaves doctor out" {
	fakesys_set_instances "$S" 0000:00:02.0 i915-GVTg_V5_4 3
	fakesys_precreate "$S" 0000:00:02.0 i915-GVTg_V5_8 11111111-2222-3333-4444-555555555555
	fakesys_precreate "$S" 0000:00:02.0 i915-GVTg_V5_8 11111111-2222-3333-4444-666666666666
	fakesys_add_type "$S" mdpy 'mdpy-we"ird' 7
	run "$VGPUVM" metrics --no-doctor
	echo "$output"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$T/out"
	[ "$(sample "$T/out" 'vgpuvm_mdev_type_available_instances{parent="0000:00:02.0",type="i915-GVTg_V5_4"}')" = 3 ]
	[ "$(sample "$T/out" 'vgpuvm_mdev_type_used_instances{parent="0000:00:02.0",type="i915-GVTg_V5_4"}')" = 0 ]
	[ "$(sample "$T/out" 'vgpuvm_mdev_type_used_instances{parent="0000:00:02.0",type="i915-GVTg_V5_8"}')" = 2 ]
	[ "$(sample "$T/out" 'vgpuvm_mdev_type_available_instances{parent="0000:00:02.0",type="i915-GVTg_V5_8"}')" = \
		"$(fakesys_instances "$S" 0000:00:02.0 i915-GVTg_V5_8)" ]
	[ "$(sample "$T/out" 'vgpuvm_mdev_type_available_instances{parent="mdpy",type="mdpy-vga"}')" = 4 ]
	# A type name with a double quote comes out escaped, and the format still parses.
	[ "$(sample "$T/out" 'vgpuvm_mdev_type_available_instances{parent="mdpy",type="mdpy-we\"ird"}')" = 7 ]
	[[ $output != *vgpuvm_doctor_check* ]]
	promtool check metrics <"$T/out"
	run "$VGPUVM" metrics
	[ "$status" -eq 0 ]
	[[ $output == *'vgpuvm_doctor_check_failed{check="mdev_bus"}'* ]]
}

@test "metrics: a guest paused over QMP shows as paused, from the supervisor's own state" {
	vgpu_profile gvt '{"parent": "mdpy", "type": "mdpy-vga"}'
	name=$(vm_name gvt)
	start_vm gvt
	wait_log 'is running'
	"$VGPUVM" qmp "$name" '{"execute": "stop"}'
	wait_log 'event STOP'
	run "$VGPUVM" metrics --no-doctor
	echo "$output"
	printf '%s\n' "$output" >"$T/out"
	[ "$(sample "$T/out" "vgpuvm_vm_state{vm=\"$name\",state=\"paused\"}")" = 1 ]
	[ "$(sample "$T/out" "vgpuvm_vm_state{vm=\"$name\",state=\"running\"}")" = 0 ]
	"$VGPUVM" qmp "$name" '{"execute": "cont"}'
	wait_log 'event RESUME'
	run "$VGPUVM" metrics --no-doctor
	printf '%s\n' "$output" >"$T/out"
	[ "$(sample "$T/out" "vgpuvm_vm_state{vm=\"$name\",state=\"running\"}")" = 1 ]
	stop_and_wait_gvt
}

@test "metrics --textfile: replaces a symlink rather than writing through it; a relative name; refuses a directory others can write (77) and a name not *.prom (64)" {
	echo secret >"$T/secret"
	ln -s "$T/secret" "$TF/vgpuvm.prom"
	run "$VGPUVM" metrics --no-doctor --textfile "$TF/vgpuvm.prom"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/secret")" = secret ]
	[ -f "$TF/vgpuvm.prom" ] && [ ! -L "$TF/vgpuvm.prom" ]
	grep -q '^vgpuvm_metrics_timestamp_seconds ' "$TF/vgpuvm.prom"
	# A relative name is taken from the working directory.
	(cd "$TF" && "$VGPUVM" metrics --no-doctor --textfile rel.prom)
	grep -q '^vgpuvm_metrics_timestamp_seconds ' "$TF/rel.prom"

	mkdir -m 0777 "$T/open"
	run "$VGPUVM" metrics --no-doctor --textfile "$T/open/vgpuvm.prom"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == *"$T/open"* ]]
	[ -z "$(ls -A "$T/open")" ]

	run "$VGPUVM" metrics --no-doctor --textfile "$TF/vgpuvm.txt"
	[ "$status" -eq 64 ]
	[[ $output == *".prom"* ]]
	run "$VGPUVM" metrics --textfile "$T/none/vgpuvm.prom"
	echo "$output"
	[ "$status" -eq 73 ]
}

@test "the metrics timer and service: systemd-analyze verify passes with no warning; examples/ has the same units" {
	command -v systemd-analyze >/dev/null || {
		echo "systemd-analyze is not installed (apt-get install systemd)" >&2
		return 1
	}
	cmp "$ROOT_DIR/dist/vgpuvm-metrics.service" "$ROOT_DIR/examples/vgpuvm-metrics.service"
	cmp "$ROOT_DIR/dist/vgpuvm-metrics.timer" "$ROOT_DIR/examples/vgpuvm-metrics.timer"
	# verify wants the binary it names to exist: point it at this build.
	sed "s|/usr/local/bin/vgpuvm|$(cd "$(dirname "$VGPUVM")" && pwd)/$(basename "$VGPUVM")|g" \
		"$ROOT_DIR/dist/vgpuvm-metrics.service" >"$T/vgpuvm-metrics.service"
	cp "$ROOT_DIR/dist/vgpuvm-metrics.timer" "$T/"
	run systemd-analyze verify "$T/vgpuvm-metrics.service" "$T/vgpuvm-metrics.timer"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -qx 'ExecStart=/usr/local/bin/vgpuvm metrics --textfile /var/lib/prometheus/node-exporter/vgpuvm.prom' \
		"$ROOT_DIR/dist/vgpuvm-metrics.service"
	grep -qx 'OnUnitActiveSec=15s' "$ROOT_DIR/dist/vgpuvm-metrics.timer"
	# make install puts both in the unit directory, with the installed vgpuvm's path.
	make -s -C "$ROOT_DIR" install DESTDIR="$T/inst" PREFIX=/usr >/dev/null
	grep -qx 'ExecStart=/usr/bin/vgpuvm metrics --textfile /var/lib/prometheus/node-exporter/vgpuvm.prom' \
		"$T/inst/usr/lib/systemd/system/vgpuvm-metrics.service"
	grep -qx 'OnUnitActiveSec=15s' "$T/inst/usr/lib/systemd/system/vgpuvm-metrics.timer"
	grep -qx 'Documentation=man:vgpuvm(1)' "$T/inst/usr/lib/systemd/system/vgpuvm-metrics.timer"
}

@test "metrics between two tries: state restarting, the restart counted, the failed try's exit code" {
	fake_profile crash crash '"restart": "on-failure", "restart_delay": 30'
	name=$(vm_name crash)
	start_vm crash
	wait_log 'restarting in'
	run "$VGPUVM" metrics --no-doctor
	echo "$output"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$T/out"
	[ "$(sample "$T/out" "vgpuvm_vm_up{vm=\"$name\"}")" = 1 ]
	[ "$(sample "$T/out" "vgpuvm_vm_state{vm=\"$name\",state=\"restarting\"}")" = 1 ]
	[ "$(sample "$T/out" "vgpuvm_vm_state{vm=\"$name\",state=\"running\"}")" = 0 ]
	[ "$(sample "$T/out" "vgpuvm_vm_restarts_total{vm=\"$name\"}")" = 1 ]
	[ "$(sample "$T/out" "vgpuvm_vm_last_exit_code{vm=\"$name\"}")" = 3 ]
	# No QEMU between tries: no uptime, no RSS.
	[ -z "$(sample "$T/out" "vgpuvm_vm_uptime_seconds{vm=\"$name\"}")" ]
	[ -z "$(sample "$T/out" "vgpuvm_vm_qemu_rss_bytes{vm=\"$name\"}")" ]
	promtool check metrics <"$T/out"
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
}

# fake_server DIR: a control socket at DIR/control, served by uid 65534, that answers like a supervisor (greeting,
# qmp_capabilities, and a status object naming the VM "evil"): root must not believe it.
fake_server() {
	mkdir -p "$1"
	chown 65534:65534 "$1"
	# The base open to uid 65534, for its own list to see the directory (not writable: it stays root's alone).
	chmod 0755 "$(dirname "$1")"
	as_nobody /usr/bin/python3 -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1] + "/control")
s.listen(8)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n")
    f = c.makefile("rb")
    for line in f:
        m = json.loads(line)
        r = {} if m["execute"] == "qmp_capabilities" else {"format_version": 1, "name": "evil", "state": "running", "uptime": 1.0, "qemu_pid": 1, "restarts": 0}
        c.sendall(json.dumps({"return": r, "id": m.get("id")}).encode() + b"\r\n")
    c.close()
' "$1" >"$T/fake-server.log" 2>&1 3>&- &
	CLIENT_PIDS+=($!)
	wait_file "$T/fake-server.log" listening 10
}

@test "list and metrics ask every supervisor at once: three VMs listed; a dead socket and, as root, a supervisor of another uid are left out" {
	for v in a b c; do
		profile "$v" '"memory": "32M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "shutdown": {"powerdown_timeout": 0, "quit_timeout": 5}'
		start_vm_named "$v"
	done
	for v in a b c; do
		wait_log_of "$v" 'is running'
	done
	# A directory whose socket no one listens on any more, and one served by uid 65534.
	mkdir -p "$VGPUVM_RUNTIME_DIR/$(vm_name dead)"
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$VGPUVM_RUNTIME_DIR/$(vm_name dead)/control"
	fake_server "$VGPUVM_RUNTIME_DIR/$(vm_name evil)"
	# The fake server does answer: a client of its own uid is believed.
	[ "$(as_nobody env VGPUVM_RUNTIME_DIR="$VGPUVM_RUNTIME_DIR" "$VGPUVM" list --json | jq -r '.vms[].name')" = evil ]

	run "$VGPUVM" list
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(wc -l <<<"$output")" -eq 4 ]
	for v in a b c; do
		grep -qE "^$(vm_name "$v") +running " <<<"$output"
	done
	[[ $output != *evil* ]]
	run "$VGPUVM" list --json
	[ "$status" -eq 0 ]
	[ "$(jq '.vms | length' <<<"$output")" -eq 3 ]
	jq -e '[.vms[].qemu_status] == ["running", "running", "running"]' <<<"$output"
	run "$VGPUVM" metrics --no-doctor
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^vgpuvm_vm_up{vm=".*"} 1$' <<<"$output")" -eq 3 ]
	[[ $output != *evil* && $output != *"$(vm_name dead)"* ]]
	for v in a b c; do
		kill -TERM "${PIDS[$v]}"
		wait_vm_of "$v" 30
		[ "$VM_STATUS" -eq 0 ]
	done
}

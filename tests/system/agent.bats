#!/usr/bin/env bats
# The QEMU guest agent ("agent": true), on real parts: the host's qemu-ga runs inside the Linux test guest
# (tests/guest-linux/agent.sh) on the virtio-serial port vgpuvm gives it. A stop asks the agent first
# (guest-shutdown); status shows the agent, the guest's OS and its address; a silent agent costs the stop its
# deadline and no more, and a killed one nothing at all.

load lib/vm
load lib/control
load lib/operate
load lib/assert
load ../lib/linux-guest

setup() {
	VM_PREFIX=${VM_PREFIX:-vgpuvm-agent}
	vm_setup
	operate_setup
	chmod 0711 "$T"
	command -v qemu-ga >/dev/null || skip "qemu-ga is not installed (apt-get install qemu-guest-agent)"
	linux_guest_setup
}

teardown() {
	operate_teardown
	vm_teardown
}

# agent_profile NAME AGENT-MODE [SHUTDOWN-KEYS]: the guest with the agent in that mode (agent.sh) and a user NIC.
agent_profile() {
	echo "AGENT=$2" >"$LG_WORK/params"
	profile "$1" "$(linux_guest_json tests/guest-linux/agent.sh), \"net\": [{}], \"agent\": true, \"shutdown\": {${3:-\"agent_timeout\": 20, \"powerdown_timeout\": 1, \"quit_timeout\": 5}}"
}

# The log line of a shutdown step, by the words it begins with.
step_line() {
	grep -E "shutdown: .*; $1" "$T/log" | head -n1
}

@test "agent: status shows the agent, the guest's OS and address; a stop powers the guest off through guest-shutdown" {
	agent_profile a run
	start_vm a
	wait_log 'the guest agent answered' 90
	# The first answers may still be on their way: status answers from what the agent said last.
	for _ in $(seq 50); do
		json=$(json_of "$VGPUVM" status "$(vm_name a)" --json)
		jq -e '.agent.addresses != null and .agent.os != null' <<<"$json" >/dev/null && break
		sleep 0.2
	done
	echo "$json" | jq .agent
	jq -e '.agent.state == "connected"' <<<"$json"
	jq -e '.agent.addresses | map(select(.address == "10.0.2.15" and .prefix == 24 and .family == "ipv4")) | length == 1' <<<"$json"
	jq -e '.agent.addresses | map(select(.address == "127.0.0.1")) | length == 0' <<<"$json"
	# The guest's root is the host's: its OS is the host's, as qemu-ga reads it there.
	pretty=$(. /etc/os-release && echo "$PRETTY_NAME")
	jq -e --arg p "$pretty" --arg k "$(cat "$LG_DIR/kver")" '.agent.os.pretty_name == $p and .agent.os.kernel_release == $k' <<<"$json"
	jq -e '.agent.version | test("^[0-9]+\\.")' <<<"$json"
	# The human status says the same.
	"$VGPUVM" status "$(vm_name a)" | tee "$T/human"
	grep -E "^ *agent: +connected" "$T/human"
	grep -F "10.0.2.15" "$T/human"

	"$VGPUVM" stop "$(vm_name a)"
	wait_vm 60
	cat "$T/log"
	[ "$VM_STATUS" -eq 0 ]
	step_line "asking the guest agent to shut the guest down"
	# (bats does not fail on a negated command: the count is compared instead.)
	[ "$(grep -c 'pressing the power button' "$T/log")" = 0 ]
	grep -q 'event SHUTDOWN: guest=true' "$T/log"
	cat "$LG_WORK/report"
	grep -q '^shutdown .*-P' "$LG_WORK/report"
	assert_clean a
}

@test "agent: a silent agent delays the stop by its deadline, no more; then the power button" {
	agent_profile s silent '"agent_timeout": 3, "powerdown_timeout": 1, "quit_timeout": 5'
	start_vm s
	wait_log 'the guest agent answered' 90
	touch "$LG_WORK/silence"
	wait_file "$LG_WORK/report" '^qemu-ga silent' 30
	t0=$(date +%s%N)
	"$VGPUVM" stop "$(vm_name s)"
	wait_vm 60
	ms=$((($(date +%s%N) - t0) / 1000000))
	cat "$T/log"
	echo "stop took $ms ms"
	[ "$VM_STATUS" -eq 0 ]
	step_line "asking the guest agent to shut the guest down"
	step_line "pressing the power button \(system_powerdown\) after 3\.[0-9]+ s"
	step_line "asking QEMU to quit"
	# 3 s for the agent, 1 s for the power button, QEMU's quit: well under 10 s.
	[ "$ms" -lt 10000 ]
	assert_clean s
}

@test "agent: a killed agent is no step at all: the stop goes to the power button at once" {
	agent_profile k kill
	start_vm k
	wait_log 'the guest agent answered' 90
	touch "$LG_WORK/silence"
	wait_file "$LG_WORK/report" '^qemu-ga kill' 30
	wait_log 'the guest agent went away' 30
	json=$(json_of "$VGPUVM" status "$(vm_name k)" --json)
	jq -e '.agent.state == "waiting" and .agent.addresses == null' <<<"$json"
	"$VGPUVM" stop "$(vm_name k)"
	wait_vm 60
	cat "$T/log"
	[ "$VM_STATUS" -eq 0 ]
	[ "$(grep -c 'asking the guest agent' "$T/log")" = 0 ]
	step_line "pressing the power button \(system_powerdown\), waiting"
	assert_clean k
}

@test "agent: without \"agent\" there is no virtio-serial, and status says the agent is absent" {
	profile n '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "agent": false, "shutdown": {"powerdown_timeout": 0, "quit_timeout": 5}'
	run "$VGPUVM" argv "$T/n.json"
	[ "$status" -eq 0 ]
	[[ $output != *virtio-serial* ]]
	[[ $output != *guest_agent* ]]
	start_vm n
	wait_log 'is running' 30
	json=$(json_of "$VGPUVM" status "$(vm_name n)" --json)
	jq -e '.agent == {"state": "absent", "version": null, "os": null, "addresses": null}' <<<"$json"
	"$VGPUVM" stop "$(vm_name n)"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
}

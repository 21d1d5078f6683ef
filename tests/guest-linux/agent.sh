# shellcheck shell=bash
# The Linux test guest with the QEMU guest agent: brings up its NIC (10.0.2.15 on user networking), puts a stand-in
# for /sbin/shutdown that powers the guest off through sysrq (there is no init system to do it), finds the agent's
# port by name and runs the host's qemu-ga on it, then waits to be powered off from outside.
#   params: AGENT = run (the default) | silent (qemu-ga is stopped with SIGSTOP once $E2E_WORK/silence exists) |
#           kill (the same, with SIGKILL) | none (qemu-ga never starts)
set -u
. "$E2E_TOP/tests/guest-linux/lib.sh"
AGENT=run
params
load_drivers
out=$E2E_WORK/report
report_devices >"$out"
say() { echo "$*" >>"$out"; }
dev=$(awk '$1 == "nic" { print $2; exit }' "$out")
ip link set lo up
if [ -n "$dev" ]; then
	ip link set "$dev" up
	ip addr add 10.0.2.15/24 dev "$dev"
fi

# /sbin/shutdown is a link to systemctl: the bind mount lands on its target, in this guest only.
printf '#!/bin/sh\necho "shutdown $*" >>%s\nsync\necho o >/proc/sysrq-trigger\n' "$out" >/run/shutdown
chmod 0755 /run/shutdown
mount --bind /run/shutdown "$(readlink -f /sbin/shutdown)" && say "shutdown stand-in"

port=
for _ in $(seq 50); do
	for n in /sys/class/virtio-ports/*/name; do
		[ "$(cat "$n" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/$(basename "$(dirname "$n")")
	done
	[ -n "$port" ] && [ -e "$port" ] && break
	sleep 0.1
done
say "port ${port:-none}"
if [ "$AGENT" = none ] || [ -z "$port" ]; then
	sleep 600
	exit 0
fi
mkdir -p /run/qga
qemu-ga -m virtio-serial -p "$port" -t /run/qga -l "$E2E_WORK/qga.log" &
pid=$!
say "qemu-ga $pid"
if [ "$AGENT" = silent ] || [ "$AGENT" = kill ]; then
	while [ ! -e "$E2E_WORK/silence" ]; do sleep 0.2; done
	if [ "$AGENT" = silent ]; then kill -STOP "$pid"; else kill -KILL "$pid"; fi
	say "qemu-ga $AGENT"
fi
sleep 600

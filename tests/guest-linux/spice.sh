# shellcheck shell=bash
# The Linux test guest reports its devices (tests/guest-linux/lib.sh) and, one a line, the name of each virtio-serial
# port ("vport NAME"): a SPICE display's agent channel is com.redhat.spice.0, which spice-vdagent opens. Then it powers
# off.
set -u
. "$E2E_TOP/tests/guest-linux/lib.sh"
params
load_drivers
{
	report_devices
	for d in /sys/class/virtio-ports/*; do
		[ -r "$d/name" ] && echo "vport $(cat "$d/name")"
	done
} >"$E2E_WORK/report.tmp"
mv "$E2E_WORK/report.tmp" "$E2E_WORK/report"

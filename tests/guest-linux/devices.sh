# shellcheck shell=bash
# The Linux test guest reports the devices it has (tests/guest-linux/lib.sh) and powers off; with WAIT_GO=1 in the
# params, only once the host's test has made $E2E_WORK/go (or after 60 s), so that the test can look at the running
# VM from outside first.
set -u
. "$E2E_TOP/tests/guest-linux/lib.sh"
params
load_drivers
report_devices >"$E2E_WORK/report.tmp"
mv "$E2E_WORK/report.tmp" "$E2E_WORK/report"
if [ "${WAIT_GO:-}" = 1 ]; then
	for _ in $(seq 120); do
		[ -e "$E2E_WORK/go" ] && break
		sleep 0.5
	done
fi

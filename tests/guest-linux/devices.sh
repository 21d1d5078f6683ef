# shellcheck shell=bash
# The Linux test guest reports the devices it has (tests/guest-linux/lib.sh) and powers off.
set -u
. "$E2E_TOP/tests/guest-linux/lib.sh"
load_drivers
report_devices >"$E2E_WORK/report"

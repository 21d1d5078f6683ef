# shellcheck shell=bash
# The Linux test guest plays silence on its sound card (hw:0,0) until the host's test has made $E2E_WORK/go (or for
# 60 s), after writing its devices and "playing" (or "no aplay", "aplay failed") to the report; then powers off.
set -u
. "$E2E_TOP/tests/guest-linux/lib.sh"
load_drivers
out=$E2E_WORK/report
report_devices >"$out.tmp"
if ! command -v aplay >/dev/null; then
	echo "no aplay" >>"$out.tmp"
	mv "$out.tmp" "$out"
	exit 0
fi
aplay -q -D hw:0,0 -t raw -f S16_LE -r 48000 -c 2 /dev/zero 2>"$E2E_WORK/aplay.err" &
pid=$!
sleep 1
if kill -0 "$pid" 2>/dev/null; then
	echo playing >>"$out.tmp"
else
	echo "aplay failed: $(cat "$E2E_WORK/aplay.err")" >>"$out.tmp"
fi
mv "$out.tmp" "$out"
for _ in $(seq 120); do
	[ -e "$E2E_WORK/go" ] && break
	sleep 0.5
done
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0

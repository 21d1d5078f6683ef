# shellcheck shell=bash
# The Linux test guest's view of its virtiofs shares: the tag "rw" mounted and read (the file the test wrote), then
# written; the tag "ro" (a read-only share) mounted and read, then written to, which must fail.
set -u
report=$E2E_WORK/report
: >"$report"
say() { echo "$*" >>"$report"; }

modprobe virtiofs 2>/dev/null
mkdir -p /tmp/rw /tmp/ro
if mount -t virtiofs rw /tmp/rw; then
	say "mount-rw yes"
	say "read-rw $(cat /tmp/rw/hello 2>&1)"
	if echo "from-guest" >/tmp/rw/written 2>/dev/null; then say "write-rw yes"; else say "write-rw refused"; fi
	sync
	umount /tmp/rw
else
	say "mount-rw no"
fi
if mount -t virtiofs ro /tmp/ro; then
	say "mount-ro yes"
	say "read-ro $(cat /tmp/ro/hello 2>&1)"
	if echo "overwritten" >/tmp/ro/hello 2>/dev/null; then say "write-ro yes"; else say "write-ro refused"; fi
	if touch /tmp/ro/new 2>/dev/null; then say "create-ro yes"; else say "create-ro refused"; fi
	umount /tmp/ro
else
	say "mount-ro no"
fi

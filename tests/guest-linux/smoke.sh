# shellcheck shell=bash
# The Linux test guest's smoke test: it booted under vgpuvm, has its root over 9p, and writes into the work directory.
set -u
{
	echo "kernel $(uname -r)"
	ip -o link | awk -F': ' '{print "link " $2}'
	[ -d /sys/firmware/efi ] && echo "efi yes" || echo "efi no"
} >"$E2E_WORK/report"

#!/bin/sh
# Boots N test VMs from one profile, each as its own transient systemd service, waits until each reports READY
# (QEMU running), and saves a screenshot of each. As root, on a GVT-g host:
#
#   boot-lab.sh [-p PROFILE] [-o OUTDIR] N      start lab-1 .. lab-N, screenshots in OUTDIR (default .)
#   boot-lab.sh --stop N                        stop them (each through the power button, then quit, ...)
#
# Each VM gets its own name (so its own UUID, runtime directory and unit), its own VNC display 127.0.0.1:I (port
# 5900+I) and its own serial log. The disk is shared read-only: the profile says "snapshot": true, so each VM writes to
# a temporary overlay that is dropped when it ends.
set -eu

VGPUVM=${VGPUVM:-/usr/local/bin/vgpuvm}
PROFILE=/etc/vgpuvm/profiles/lab.json
OUTDIR=.
STOP=

while [ $# -gt 1 ]; do
	case $1 in
	-p) PROFILE=$2; shift 2 ;;
	-o) OUTDIR=$2; shift 2 ;;
	--stop) STOP=1; shift ;;
	*) echo "usage: $0 [-p PROFILE] [-o OUTDIR] [--stop] N" >&2; exit 64 ;;
	esac
done
[ $# -eq 1 ] || { echo "usage: $0 [-p PROFILE] [-o OUTDIR] [--stop] N" >&2; exit 64; }
N=$1

if [ -n "$STOP" ]; then
	# "vgpuvm stop" prints each shutdown step and returns with the VM's exit code once it is gone; the units then
	# end by themselves. The stops run side by side, so N guests take as long as the slowest.
	i=1
	while [ "$i" -le "$N" ]; do
		"$VGPUVM" stop "lab-$i" &
		i=$((i + 1))
	done
	wait
	exit 0
fi

mkdir -p /var/log/vgpuvm "$OUTDIR"
i=1
while [ "$i" -le "$N" ]; do
	# Type=notify: systemd-run returns only when the unit has started, that is when vgpuvm sent READY=1, which it
	# does once QEMU reports "running" over QMP. A VM that fails to start makes systemd-run fail, and this script
	# with it (set -e). The properties are those of examples/vgpuvm@.service.
	systemd-run --unit="vgpuvm-lab-$i" --description="vgpuvm lab VM $i" \
		--property=Type=notify --property=NotifyAccess=main \
		--property=KillMode=mixed --property=TimeoutStopSec=90 --property=TimeoutStartSec=150 \
		--property=ExecStopPost="-$VGPUVM cleanup lab-$i" \
		"$VGPUVM" run "$PROFILE" --set "name=lab-$i" --set "display.listen=127.0.0.1:$i" \
		--set "serial=file:/var/log/vgpuvm/lab-$i.serial"
	echo "lab-$i: running, VNC on 127.0.0.1:$((5900 + i))"
	i=$((i + 1))
done

# "Running" means QEMU runs the guest, not that the guest has booted: these first screenshots show the firmware or the
# boot loader. A test harness takes its own later on, the same way.
i=1
while [ "$i" -le "$N" ]; do
	"$VGPUVM" screenshot "lab-$i" "$OUTDIR/lab-$i.png"
	echo "lab-$i: $OUTDIR/lab-$i.png"
	i=$((i + 1))
done
"$VGPUVM" list

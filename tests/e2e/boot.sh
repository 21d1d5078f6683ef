#!/usr/bin/env bash
# Boots the end-to-end guest once, under TCG, and runs one guest-side script in it (see tests/e2e/init): Debian's
# kernel, the initramfs from setup.sh, the host's / read-only and build/e2e/work read-write over virtio-9p.
#
#   tests/e2e/boot.sh [-v] [-t SECONDS] SCRIPT LOG
#
# The guest's console (carriage returns dropped) goes to LOG, and with -v to stdout as well, line by line. The exit
# status is the script's own (the guest's E2E-EXIT line); 124 when the boot outlived SECONDS (default 300), 125 when
# the guest ended without an E2E-EXIT line (a kernel panic, say). Run setup.sh first.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${VGPUVM_E2E_DIR:-$top/build/e2e}
verbose=false secs=300
while getopts vt: o; do
	case $o in
	v) verbose=true ;;
	t) secs=$OPTARG ;;
	*) exit 64 ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -ne 2 ]; then
	echo "usage: $0 [-v] [-t SECONDS] SCRIPT LOG" >&2
	exit 64
fi
script=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
log=$2
vgpuvm=${VGPUVM:-$top/build/vgpuvm}
case $vgpuvm in /*) ;; *) vgpuvm=$PWD/$vgpuvm ;; esac

for f in "$out/kernel" "$out/initrd.cpio.gz" "$script" "$vgpuvm"; do
	[ -e "$f" ] || { echo "$0: $f is missing (run tests/e2e/setup.sh, and make)" >&2; exit 69; }
done
# The kernel command line carries the paths, and splits at spaces.
case "$top$out$script$vgpuvm" in
*[[:space:]]*) echo "$0: the paths must not contain spaces: $top" >&2; exit 64 ;;
esac
mkdir -p "$out/work"
# A scenario may give the outer QEMU devices of its own (an emulated USB device for the guest's kernel to see), on
# one line "# e2e-outer-qemu: ARGS...".
read -r -a outer < <(sed -n 's/^# e2e-outer-qemu: //p' "$script" | head -n1) || true

# qboot and mitigations=off save 2.5 s a boot; 2 GiB leave room for four nested QEMUs. -no-reboot turns a panic
# (panic=-1) into QEMU's exit. -k: QEMU gets SIGKILL 5 s after the SIGTERM of the timeout, whatever it does.
set +e
timeout -k 5 "$secs" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -machine pc -smp 2 -m 2048 \
	-bios /usr/share/qemu/qboot.rom -nodefaults -no-user-config -no-reboot -display none -serial stdio \
	-kernel "$out/kernel" -initrd "$out/initrd.cpio.gz" \
	-append "console=ttyS0 quiet mitigations=off panic=-1 rdinit=/init e2e_script=$script e2e_work=$out/work e2e_dir=$out e2e_vgpuvm=$vgpuvm e2e_top=$top" \
	-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
	-fsdev local,id=work,path="$out/work",security_model=none \
	-device virtio-9p-pci,fsdev=work,mount_tag=work "${outer[@]}" \
	</dev/null 2>&1 | sed -u 's/\r$//' | if $verbose; then tee "$log"; else cat >"$log"; fi
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	echo "e2e: the guest did not finish in $secs s" >>"$log"
	$verbose && echo "e2e: the guest did not finish in $secs s"
	exit 124
fi
status=$(sed -n 's/^E2E-EXIT=\([0-9]*\)$/\1/p' "$log" | tail -n1)
if [ -z "$status" ]; then
	echo "e2e: the guest ended without an E2E-EXIT line (QEMU exit $rc)" >>"$log"
	$verbose && echo "e2e: the guest ended without an E2E-EXIT line (QEMU exit $rc)"
	exit 125
fi
exit "$status"

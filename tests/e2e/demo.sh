#!/usr/bin/env bash
# make demo: the real kernel mdev chain on a machine without an Intel GPU. Boots Debian's kernel under TCG, loads the
# kernel's mdpy sample vGPU driver and runs vgpuvm inside on the stock mdpy-demo profile: mdev created, memlock set,
# QEMU running, the vGPU's screen saved as demo.png in the checkout, clean shutdown, mdev removed. Each step shows
# its real command and output. Run as root on Debian 12 (setup installs what is missing).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${VGPUVM_E2E_DIR:-$top/build/e2e}
export VGPUVM=${VGPUVM:-$top/build/vgpuvm}

echo "vgpuvm demo: the real vfio-mdev path, in a TCG guest with the kernel's mdpy sample vGPU"
echo
echo "1. Setup: packages, the sample mdev drivers, the guest's initramfs (quick once done)"
echo "\$ tests/e2e/setup.sh -v"
"$here/setup.sh" -v
[ -x "$VGPUVM" ] || { echo "demo: no $VGPUVM: run make first" >&2; exit 69; }

echo
echo "2. Boot the guest: Debian's kernel $(cat "$out/kver") under TCG, the host's / read-only over 9p, vgpuvm from this checkout"
rm -f "$out/work/demo.png"
rc=0
# The console as it comes, less the kernel's last line and the exit marker.
"$here/boot.sh" -v -t 300 "$here/demo-guest.sh" "$out/demo.log" | grep --line-buffered -v -e '^E2E-EXIT=' -e '^\[ *[0-9.]*\] reboot: Power down' ||
	rc=$?
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
	echo "demo: FAILED (exit $rc); the guest's console: $out/demo.log" >&2
	exit 1
fi
cp "$out/work/demo.png" "$top/demo.png"

echo
echo "9. The picture"
echo "  $top/demo.png: the mdpy vGPU's display, as QEMU showed it (QMP screendump through vgpuvm screenshot)"
echo
cat <<EOF
On a GVT-g host (Intel Core 5th to 10th generation) the same chain runs on the real iGPU:
  parent   0000:00:02.0 (/sys/bus/pci/devices/0000:00:02.0) instead of mdpy (/sys/class/mdev_bus/mdpy)
  type     i915-GVTg_V5_4 instead of mdpy-vga
  display  a GTK window with OpenGL (the vGPU's dmabufs) instead of none; memlock: guest RAM + 1 GiB, pinned for real
  command  sudo vgpuvm run gvtg-desktop        (the stock profile; see the README's quick start)
EOF

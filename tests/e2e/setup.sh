#!/usr/bin/env bash
# Prepares the end-to-end layer: the real kernel mdev path, under TCG, on a machine without a vGPU.
#
#   1. Debian packages: QEMU (with its GTK/GL display modules), Debian's kernel image and the matching headers and
#      source, a static busybox, Xvfb and Mesa. The kernel image is never booted on the host: it is the test guest's.
#   2. The kernel's sample mdev drivers, samples/vfio-mdev/{mdpy,mbochs,mtty}.c from linux-source, built out of tree
#      against the headers of that same kernel: mdpy has a region display, mbochs a dmabuf display (as GVT-g), mtty
#      none.
#   3. An initramfs (busybox, the virtio and 9p modules, tests/e2e/init) that mounts the host's / read-only over 9p,
#      chroots into it and runs one scenario script: the guest runs the host's own QEMU, Xvfb and vgpuvm.
#   4. The PVH kernel from tests/guest/build.sh (2 s faster a boot under TCG), the pixel/pid helper e2e-util, and
#      mbochs-edid.elf, a tiny multiboot guest that reads the mbochs vGPU's EDID.
#   5. The Debian package (tests/package/build.sh), which scenarios/package.sh installs in the guest.
#
# Everything goes to build/e2e/ (or $VGPUVM_E2E_DIR). Idempotent: each part is rebuilt only when its inputs changed,
# so a second run takes a fraction of a second. Prints nothing then, unless -v.
# Exit status: 0 ready; 69 something is missing and cannot be installed (not root, apt failed); 1 a build failed.
# Usage: tests/e2e/setup.sh [-v]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/initramfs.bash
. "$here/../lib/initramfs.bash"
top=$(cd "$here/../.." && pwd)
out=${VGPUVM_E2E_DIR:-$top/build/e2e}
verbose=false
[ "${1:-}" = -v ] && verbose=true
mkdir -p "$out"

say() { echo "setup: $*" >&2; }
die() {
	local code=$1
	shift
	echo "setup: error: $*" >&2
	exit "$code"
}
# True when FILE is missing or older than any of the other arguments.
stale() {
	local target=$1 f
	shift
	[ -e "$target" ] || return 0
	for f; do
		[ "$f" -nt "$target" ] && return 0
	done
	return 1
}

# --- 1. packages -------------------------------------------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
apt_updated=false
apt_install() {
	if [ "$(id -u)" != 0 ]; then
		die 69 "missing Debian packages: $*; install them as root: apt-get install $*"
	fi
	say "installing $*"
	export DEBIAN_FRONTEND=noninteractive
	if ! $apt_updated; then
		apt-get update -qq || die 69 "apt-get update failed"
		apt_updated=true
	fi
	# shellcheck disable=SC2068
	apt-get install -y -qq --no-install-recommends $@ >"$out/apt.log" 2>&1 ||
		{ tail -n 20 "$out/apt.log" >&2; die 69 "apt-get install $* failed (log: $out/apt.log)"; }
}

# x11-utils (xwininfo) finds QEMU's window on Xvfb; libpng-dev, gcc and make build e2e-util and the modules; mdevctl
# is run in the guest against vgpuvm (scenarios/mdevctl.sh); dpkg-dev, debhelper and go-md2man build the package.
pkgs=(qemu-system-x86 qemu-system-gui linux-image-amd64 linux-headers-amd64 linux-source busybox-static cpio xvfb
	xauth x11-utils libgl1-mesa-dri libegl1 xz-utils gcc make libc6-dev libpng-dev mdevctl dpkg-dev debhelper go-md2man)
missing=()
for p in "${pkgs[@]}"; do
	installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

# The newest Debian kernel, never a hard-coded version: it changes with point releases. linux-headers-amd64 and
# linux-image-amd64 can be at different versions for a while (one upgraded, the other not): then install the other
# half of the newest one, so that the modules built against the headers load into the kernel that boots.
kernel_version() { find /lib/modules -mindepth 1 -maxdepth 1 -name '*-amd64' -printf '%f\n' | sort -V | tail -n1; }
kver=$(kernel_version)
[ -n "$kver" ] || die 69 "no Debian amd64 kernel in /lib/modules after installing linux-image-amd64"
need=()
[ -r "/boot/vmlinuz-$kver" ] && [ -r "/lib/modules/$kver/modules.dep" ] || need+=("linux-image-$kver")
[ -e "/lib/modules/$kver/build/Makefile" ] || need+=("linux-headers-$kver")
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
[ -r "/boot/vmlinuz-$kver" ] || die 69 "/boot/vmlinuz-$kver is missing"
[ -e "/lib/modules/$kver/build/Makefile" ] || die 69 "the headers of $kver are missing (/lib/modules/$kver/build)"
[ -r /usr/share/qemu/qboot.rom ] || die 69 "/usr/share/qemu/qboot.rom is missing (qemu-system-data)"

# linux-source-6.1 for a 6.1.0-N-amd64 kernel.
series=$(echo "$kver" | cut -d. -f1,2)
tarball=/usr/src/linux-source-$series.tar.xz
if [ ! -r "$tarball" ]; then
	apt_install "linux-source-$series"
	[ -r "$tarball" ] || die 69 "$tarball is missing"
fi
if [ "$(cat "$out/kver" 2>/dev/null)" != "$kver" ]; then
	echo "$kver" >"$out/kver"
fi

# --- 2. the sample mdev drivers ------------------------------------------------------------------------------------
mod=$out/mod
if stale "$mod/mtty.ko" "$tarball" "$out/kver" "$here/setup.sh" ||
	stale "$mod/mdpy.ko" "$out/kver" || stale "$mod/mbochs.ko" "$out/kver"; then
	$verbose && say "building the sample mdev drivers for $kver from $tarball"
	rm -rf "$mod"
	mkdir -p "$mod"
	# Only the samples: xz still reads the whole archive (~10 s), but writes five small files.
	tar -xJf "$tarball" -C "$mod" --strip-components=3 --wildcards \
		"linux-source-$series/samples/vfio-mdev/*.c" "linux-source-$series/samples/vfio-mdev/*.h"
	for f in mdpy.c mbochs.c mtty.c; do
		[ -r "$mod/$f" ] || die 1 "$tarball has no samples/vfio-mdev/$f"
	done
	echo 'obj-m := mdpy.o mbochs.o mtty.o' >"$mod/Kbuild"
	make -s -C "/lib/modules/$kver/build" M="$mod" modules >"$mod/build.log" 2>&1 ||
		{ tail -n 30 "$mod/build.log" >&2; die 1 "building the sample mdev drivers failed (log: $mod/build.log)"; }
fi

# --- 3. the initramfs ----------------------------------------------------------------------------------------------
moddir=/lib/modules/$kver
# The modules init loads, in load order (tests/lib/initramfs.bash).
order=()
initramfs_modules "$moddir" drivers/virtio/virtio_pci net/9p/9pnet_virtio fs/9p/9p ||
	die 69 "the guest's modules are missing from $moddir"
inputs=("$here/init" "$here/setup.sh" "$here/../lib/initramfs.bash" "$moddir/modules.dep" /bin/busybox)
for rel in "${order[@]}"; do
	inputs+=("$moddir/$rel")
done
if stale "$out/initrd.cpio.gz" "${inputs[@]}"; then
	$verbose && say "building the initramfs"
	stage=$(mktemp -d "$out/stage.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	mkdir -p "$stage"/{bin,dev,proc,sys,newroot}
	cp /bin/busybox "$stage/bin/busybox"
	cp "$here/init" "$stage/init"
	chmod 0755 "$stage/init"
	initramfs_stage_modules "$stage" "$moddir"
	initramfs_pack "$stage" "$out/initrd.cpio.gz"
	rm -rf "$stage"
	trap - EXIT
fi

# --- 4. the kernel to boot and the helper --------------------------------------------------------------------------
# tests/guest/build.sh extracts the PVH-bootable vmlinux from the bzImage (its own initramfs is built too, but not
# used here). Without it, the bzImage boots, 2 s slower.
if ! "$top/tests/guest/build.sh" "$out/guest" >"$out/guest.log" 2>&1; then
	$verbose && say "tests/guest/build.sh failed (see $out/guest.log): booting the bzImage"
fi
if [ -f "$out/guest/vmlinux" ] && [ "$out/guest/vmlinux" -nt "/boot/vmlinuz-$kver" ]; then
	ln -sfn "$out/guest/vmlinux" "$out/kernel"
else
	ln -sfn "/boot/vmlinuz-$kver" "$out/kernel"
fi

if stale "$out/e2e-util" "$here/e2e-util.c"; then
	$verbose && say "building e2e-util"
	gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$out/e2e-util.tmp" "$here/e2e-util.c" -lpng ||
		die 1 "building e2e-util failed"
	mv -f "$out/e2e-util.tmp" "$out/e2e-util"
fi
# The guest of the mbochs scenarios: a 32-bit multiboot kernel, freestanding (no libc, so no gcc-multilib either).
if stale "$out/mbochs-edid.elf" "$here/mbochs-edid.c" "$here/mbochs-edid.ld"; then
	$verbose && say "building mbochs-edid.elf"
	gcc -m32 -O2 -std=gnu11 -Wall -Wextra -Werror -ffreestanding -fno-pic -fno-stack-protector \
		-fno-asynchronous-unwind-tables -nostdlib -static -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
		-Wl,-T,"$here/mbochs-edid.ld" -o "$out/mbochs-edid.elf.tmp" "$here/mbochs-edid.c" ||
		die 1 "building mbochs-edid.elf failed"
	mv -f "$out/mbochs-edid.elf.tmp" "$out/mbochs-edid.elf"
fi
# --- 5. the Debian package -----------------------------------------------------------------------------------------
# scenarios/package.sh installs it in the guest: built from the tree unless the package layer's is newer than it.
if ! deb=$("$top/tests/package/build.sh" -q "${BUILD:-build}" 2>"$out/package.log"); then
	tail -n 20 "$out/package.log" >&2
	die 1 "building the Debian package failed (tests/package/build.sh)"
fi
ln -sfn "$deb" "$out/vgpuvm.deb"

mkdir -p "$out/work"
$verbose && say "ready: kernel $kver, $(readlink "$out/kernel")"
exit 0

#!/usr/bin/env bash
# Builds the test guest: OUTDIR/initrd.cpio.gz (a static init from init.c and the two modules it needs),
# OUTDIR/kernel (a symlink to Debian's kernel) and OUTDIR/vmlinux (the same kernel uncompressed, which QEMU boots
# through its PVH entry point: under TCG that skips 2.5 s of xz decompression). Quick and silent when the outputs are
# newer than all of their inputs. Usage: tests/guest/build.sh OUTDIR
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 64
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/initramfs.bash
. "$here/../lib/initramfs.bash"
mkdir -p "$1"
out=$(cd "$1" && pwd)

# The newest Debian kernel that is installed, never a hard-coded version.
kver=$(find /lib/modules -mindepth 1 -maxdepth 1 -name '*-amd64' -printf '%f\n' | sort -V | tail -n1)
if [ -z "$kver" ] || [ ! -r "/boot/vmlinuz-$kver" ]; then
	echo "$0: no Debian amd64 kernel found (apt-get install linux-image-amd64)" >&2
	exit 69
fi
moddir=/lib/modules/$kver
ln -sfn "/boot/vmlinuz-$kver" "$out/kernel"

# The bzImage is a decompressor with the real kernel inside as one compressed stream (xz on Debian); the ELF image in
# it carries a PVH note (CONFIG_PVH=y), so QEMU can load it directly. Without that note there is no vmlinux, and
# callers use OUTDIR/kernel.
extract_vmlinux() {
	local img=$1 dst=$2 magic tool off
	for magic in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
		tool=${magic%%:*}
		command -v "$tool" >/dev/null || continue
		while read -r off; do
			# The stream is followed by the rest of the bzImage, which the decompressor calls trailing garbage
			# and fails on after writing everything: judge the output, not the exit status.
			tail -c "+$((off + 1))" "$img" | "$tool" -dc >"$dst" 2>/dev/null || true
			if [ "$(head -c 4 "$dst" | od -An -c | tr -d ' ')" = '177ELF' ] &&
				readelf -n "$dst" 2>/dev/null | grep -q 'type: (0x00000012)'; then
				return 0
			fi
		done < <(LC_ALL=C grep -obUaP "${magic#*:}" "$img" | cut -d: -f1 | head -n 4)
	done
	rm -f "$dst"
	return 1
}
if [ ! "$out/vmlinux" -nt "/boot/vmlinuz-$kver" ]; then
	if extract_vmlinux "/boot/vmlinuz-$kver" "$out/vmlinux.tmp"; then
		mv -f "$out/vmlinux.tmp" "$out/vmlinux"
	else
		rm -f "$out/vmlinux"
		echo "$0: no PVH-bootable vmlinux in /boot/vmlinuz-$kver; use $out/kernel" >&2
	fi
fi

# The modules the init loads, in load order (tests/lib/initramfs.bash).
order=()
initramfs_modules "$moddir" drivers/acpi/button drivers/input/evdev || exit 69

inputs=("$here/init.c" "$here/build.sh" "$here/../lib/initramfs.bash" "$moddir/modules.dep")
for rel in "${order[@]}"; do
	inputs+=("$moddir/$rel")
done
archive=$out/initrd.cpio.gz
if [ -e "$archive" ]; then
	stale=0
	for f in "${inputs[@]}"; do
		[ "$f" -nt "$archive" ] && stale=1
	done
	[ "$stale" -eq 0 ] && exit 0
fi

stage=$(mktemp -d "$out/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{dev,proc,sys}
gcc -static -Os -std=gnu11 -Wall -Wextra -Werror -o "$stage/init" "$here/init.c"
strip "$stage/init"

initramfs_stage_modules "$stage" "$moddir"
initramfs_pack "$stage" "$archive"

# shellcheck shell=bash
# Building a small initramfs from this machine's kernel modules, shared by tests/guest/build.sh (the power-button
# guest) and tests/e2e/setup.sh (the kernel-mdev guest). Source it; the functions use the array `order`.

# initramfs_modules MODDIR MODULE...: sets `order` to the modules' paths relative to MODDIR, each one's dependencies
# (from modules.dep, deepest first) before it. MODULE is a path under kernel/ without .ko, e.g. drivers/acpi/button.
# A module built into the kernel needs no loading and is left out. Returns 69 when one is missing.
initramfs_modules() {
	local moddir=$1 m rel
	shift
	order=()
	_initramfs_add() {
		local r=$1 dep line
		for dep in "${order[@]}"; do
			[ "$dep" != "$r" ] || return 0
		done
		line=$(grep -E "^${r}:" "$moddir/modules.dep" || true)
		for dep in ${line#*:}; do
			_initramfs_add "$dep"
		done
		order+=("$r")
	}
	for m in "$@"; do
		rel=$(grep -oE "^kernel/${m}\.ko(\.xz|\.zst|\.gz)?:" "$moddir/modules.dep" | head -n1 || true)
		if [ -z "$rel" ]; then
			grep -qE "/${m}\.ko" "$moddir/modules.builtin" && continue
			echo "module $m is neither in $moddir/modules.dep nor built in" >&2
			return 69
		fi
		_initramfs_add "${rel%:}"
	done
}

# initramfs_stage_modules STAGE MODDIR: copies the modules in `order` to STAGE/modules, decompressed (finit_module
# cannot take compressed modules unless the kernel decompresses them itself), and lists them in STAGE/modules.order.
initramfs_stage_modules() {
	local stage=$1 moddir=$2 rel base
	mkdir -p "$stage/modules"
	: >"$stage/modules.order"
	for rel in "${order[@]}"; do
		base=$(basename "$rel")
		case $base in
		*.ko.xz) xz -dc "$moddir/$rel" >"$stage/modules/${base%.xz}" ;;
		*.ko.zst) zstd -qdc "$moddir/$rel" >"$stage/modules/${base%.zst}" ;;
		*.ko.gz) gzip -dc "$moddir/$rel" >"$stage/modules/${base%.gz}" ;;
		*) cp "$moddir/$rel" "$stage/modules/$base" ;;
		esac
		echo "/modules/${base%.ko*}.ko" >>"$stage/modules.order"
	done
}

# initramfs_pack STAGE ARCHIVE: a reproducible gzip'd newc archive, written under a temporary name and renamed, so that
# an interrupted build never leaves a truncated archive that looks newer than its inputs.
initramfs_pack() {
	local stage=$1 archive=$2
	(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
		cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -6n >"$archive.tmp"
	mv -f "$archive.tmp" "$archive"
}

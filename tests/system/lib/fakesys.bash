# shellcheck shell=bash
# A fake sysfs for the mdev code: a tree shaped like /sys (two GVT-g types on 0000:00:02.0, two mdpy types on the
# mdpy sample device) and a daemon, build/helpers/fake-sysfs, that answers writes to "create" and "remove" the way the
# kernel's mdev core does. Point vgpuvm at it with VGPUVM_SYSFS_ROOT=ROOT. Source this file from a bats test.
#
# PARENT, wherever a function takes one, is an mdev_bus name ("0000:00:02.0", "mdpy") or a directory, absolute or
# relative to ROOT ("devices/virtual/mdpy/mdpy").
#
#   fakesys_make ROOT                          build the tree (ROOT is created if needed)
#   fakesys_start ROOT / fakesys_stop ROOT     start the daemon (returns once it is watching) / stop it and wait
#   fakesys_mdevs ROOT                         the UUIDs under ROOT/bus/mdev/devices, one a line, sorted
#   fakesys_wait_mdev ROOT UUID [SECONDS]      wait until ROOT/bus/mdev/devices/UUID is there (default 10 s)
#   fakesys_wait_gone ROOT UUID [SECONDS]      wait until it is gone
#   fakesys_parent ROOT PARENT                 the parent's directory, absolute
#   fakesys_instances ROOT PARENT TYPE         print available_instances
#   fakesys_set_instances ROOT PARENT TYPE N   set available_instances
#   fakesys_add_type ROOT PARENT TYPE N        add a type with N instances (the daemon picks it up while running)
#   fakesys_full_create ROOT PARENT TYPE       "create" becomes a link to /dev/full: writes fail with ENOSPC
#   fakesys_precreate ROOT PARENT TYPE UUID    make an mdev as if mdevctl had (the daemon need not run)
#   fakesys_busy_remove ROOT UUID              the mdev's "remove" becomes a link to /dev/full: writes fail with ENOSPC
#   fakesys_free_remove ROOT UUID              a plain "remove" again, served by the daemon
#
# The helpers are taken from $FAKESYS_HELPERS, else from BUILD (default build) in this checkout.

_fakesys_helpers() {
	if [ -n "${FAKESYS_HELPERS:-}" ]; then
		printf '%s\n' "$FAKESYS_HELPERS"
	else
		local top
		top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
		printf '%s/%s/helpers\n' "$top" "${BUILD:-build}"
	fi
}

# One mdev type directory with the attributes the kernel shows.
_fakesys_type() {
	local dir=$1 name=$2 description=$3 instances=$4
	mkdir -p "$dir/devices"
	printf '%s\n' "$name" >"$dir/name"
	printf '%b' "$description" >"$dir/description"
	printf '%s\n' "$instances" >"$dir/available_instances"
	printf 'vfio-pci\n' >"$dir/device_api"
	: >"$dir/create"
	chmod 0200 "$dir/create"
	chmod 0444 "$dir/name" "$dir/description" "$dir/device_api"
}

fakesys_make() {
	local root=$1 gpu types
	mkdir -p "$root"
	root=$(cd "$root" && pwd)

	gpu=$root/devices/pci0000:00/0000:00:02.0
	types=$gpu/mdev_supported_types
	mkdir -p "$types"
	printf '0x8086\n' >"$gpu/vendor"
	printf '0x5912\n' >"$gpu/device"
	printf '0x030000\n' >"$gpu/class"
	_fakesys_type "$types/i915-GVTg_V5_4" GVTg_V5_4 \
		'low_gm_size: 128MB\nhigh_gm_size: 512MB\nfence: 4\nresolution: 1920x1200\nweight: 4\n' 2
	_fakesys_type "$types/i915-GVTg_V5_8" GVTg_V5_8 \
		'low_gm_size: 64MB\nhigh_gm_size: 384MB\nfence: 4\nresolution: 1024x768\nweight: 2\n' 4

	types=$root/devices/virtual/mdpy/mdpy/mdev_supported_types
	mkdir -p "$types"
	_fakesys_type "$types/mdpy-vga" vga 'virtual display, 640x480 framebuffer\n' 4
	_fakesys_type "$types/mdpy-xga" xga 'virtual display, 1024x768 framebuffer\n' 4

	# Relative links, as the kernel makes them, so that the tree can be moved or bind-mounted.
	mkdir -p "$root/bus/pci/devices" "$root/class/mdev_bus" "$root/bus/mdev/devices" "$root/kernel/iommu_groups"
	ln -sfn ../../../devices/pci0000:00/0000:00:02.0 "$root/bus/pci/devices/0000:00:02.0"
	ln -sfn ../../devices/pci0000:00/0000:00:02.0 "$root/class/mdev_bus/0000:00:02.0"
	ln -sfn ../../devices/virtual/mdpy/mdpy "$root/class/mdev_bus/mdpy"
}

fakesys_parent() {
	local root=$1 parent=$2 dir
	case $parent in
	/*) dir=$parent ;;
	*/*) dir=$root/$parent ;;
	*) dir=$root/class/mdev_bus/$parent ;;
	esac
	if [ ! -d "$dir/mdev_supported_types" ]; then
		echo "fakesys: $parent is no mdev parent in $root" >&2
		return 1
	fi
	(cd "$dir" && pwd -P)
}

_fakesys_typedir() {
	local parent
	parent=$(fakesys_parent "$1" "$2") || return 1
	if [ ! -d "$parent/mdev_supported_types/$3" ]; then
		echo "fakesys: no type $3 under $2" >&2
		return 1
	fi
	printf '%s\n' "$parent/mdev_supported_types/$3"
}

fakesys_instances() {
	local dir
	dir=$(_fakesys_typedir "$1" "$2" "$3") || return 1
	cat "$dir/available_instances"
}

fakesys_set_instances() {
	local dir
	dir=$(_fakesys_typedir "$1" "$2" "$3") || return 1
	printf '%s\n' "$4" >"$dir/available_instances"
}

fakesys_add_type() {
	local parent
	parent=$(fakesys_parent "$1" "$2") || return 1
	_fakesys_type "$parent/mdev_supported_types/$3" "$3" 'a type made by a test\n' "$4"
}

fakesys_start() {
	local root=$1 bin
	bin=$(_fakesys_helpers)/fake-sysfs
	if [ ! -x "$bin" ]; then
		echo "fakesys: $bin is missing (make helpers)" >&2
		return 1
	fi
	# The daemon keeps only these three descriptors (it closes the rest, bats' fd 3 among them). It exits 0 here
	# only once its watches are in place.
	"$bin" "$root" </dev/null >>"$root/.fake-sysfs.log" 2>&1 || {
		echo "fakesys: fake-sysfs did not start; its log:" >&2
		cat "$root/.fake-sysfs.log" >&2
		return 1
	}
}

# The helper finds the daemon by its pid file, which the daemon keeps locked while it lives (so a stale file is no
# danger), and waits for its exit on a pidfd. No daemon, or no ROOT at all, is fine.
fakesys_stop() {
	[ -e "$1/.fake-sysfs.pid" ] || return 0
	"$(_fakesys_helpers)/fake-sysfs" --stop "$1"
}

fakesys_mdevs() {
	find "$1/bus/mdev/devices" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort
}

fakesys_wait_mdev() {
	"$(_fakesys_helpers)/wait-path" -t "${3:-10}" "$1/bus/mdev/devices/$2"
}

fakesys_wait_gone() {
	"$(_fakesys_helpers)/wait-path" -g -t "${3:-10}" "$1/bus/mdev/devices/$2"
}

fakesys_full_create() {
	local dir
	dir=$(_fakesys_typedir "$1" "$2" "$3") || return 1
	rm -f "$dir/create"
	ln -s /dev/full "$dir/create"
}

fakesys_precreate() {
	local root=$1 parent
	parent=$(fakesys_parent "$root" "$2") || return 1
	"$(_fakesys_helpers)/fake-sysfs" --create "$root" "$parent" "$3" "$4"
}

# A real busy mdev fails the write with EBUSY. No file that is safe to use here fails a write with EBUSY (only a
# FUSE file server could), so this fails it with ENOSPC, which takes the supervisor down the same error path.
# fakesys_free_remove ROOT UUID: undoes fakesys_busy_remove; the daemon serves the remove file again.
fakesys_free_remove() {
	local dev=$1/bus/mdev/devices/$2
	rm -f "$dev/remove"
	: >"$dev/remove"
	chmod 0200 "$dev/remove"
}

fakesys_busy_remove() {
	local dev=$1/bus/mdev/devices/$2
	if [ ! -d "$dev/" ]; then
		echo "fakesys: no mdev $2" >&2
		return 1
	fi
	rm -f "$dev/remove"
	ln -s /dev/full "$dev/remove"
}

# fakesys_vm_setup / fakesys_vm_teardown: the set-up of the tests that run VMs on the fake sysfs tree (after
# lib/vm and lib/operate are loaded): $T reachable by QEMU's user (0711, as /run is), the tree in $S served by
# fake-sysfs, a fake dev tree whose /dev/vfio nodes come and go with the mdevs, and $QEMU, a real QEMU without the vfio
# device.
fakesys_vm_setup() {
	vm_setup
	operate_setup
	chmod 0711 "$T"
	S=$T/sys
	export VGPUVM_DEV_ROOT=$T/dev
	mkdir -p "$VGPUVM_DEV_ROOT/vfio" "$VGPUVM_DEV_ROOT/dri"
	fakesys_make "$S"
	fakesys_start "$S"
	export VGPUVM_SYSFS_ROOT=$S
	QEMU=$ROOT_DIR/tests/helpers/qemu-no-vfio
}

fakesys_vm_teardown() {
	operate_teardown
	fakesys_stop "$S"
	vm_teardown
}

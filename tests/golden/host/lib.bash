# shellcheck shell=bash
# Host golden tests: `vgpuvm doctor` and `vgpuvm types` on fake host trees. Each case is host/NAME.cmd (the arguments
# after `vgpuvm`, one a line), an optional host/NAME.setup (bash, sourced in the tree's top directory after the
# healthy host is built: it breaks one thing, and may export FAKE_QEMU_WITHOUT), and host/NAME.out (stdout, then
# "exit N", then stderr).
#
# The healthy host: a Kaby Lake CPU, i915 with enable_gvt=Y and GuC auto, kvmgt loaded, three GVT-g types on
# 0000:00:02.0, no IOMMU, /dev/kvm, /dev/dri/renderD128, /dev/vfio/vfio, root's capabilities with an 8 MiB memlock
# limit, no VM running, no mdevctl definitions, the scripted QEMU first in PATH, and profiles/gvt.json (a 4 GiB GVT-g VM
# with ramfb and GTK).

# host_type DIR NAME DESCRIPTION INSTANCES
host_type() {
	mkdir -p "$1/devices"
	printf '%s\n' "${2#i915-}" >"$1/name"
	printf '%b' "$3" >"$1/description"
	printf '%s\n' "$4" >"$1/available_instances"
	printf 'vfio-pci\n' >"$1/device_api"
	: >"$1/create"
}

# host_base DIR: the healthy host, in DIR (which exists).
host_base() {
	local r=$1 gpu types here
	here=$(dirname "${BASH_SOURCE[0]}")
	mkdir -p "$r"/{sys,proc/self,dev/dri,dev/vfio,run,bin,profiles}
	mkdir -p "$r/sys/module/i915/parameters" "$r/sys/module/kvmgt"
	echo Y >"$r/sys/module/i915/parameters/enable_gvt"
	echo -1 >"$r/sys/module/i915/parameters/enable_guc"
	gpu=$r/sys/devices/pci0000:00/0000:00:02.0
	types=$gpu/mdev_supported_types
	mkdir -p "$types"
	host_type "$types/i915-GVTg_V5_2" GVTg_V5_2 \
		'low_gm_size: 256MB\nhigh_gm_size: 1024MB\nfence: 4\nresolution: 1920x1200\nweight: 8\n' 1
	host_type "$types/i915-GVTg_V5_4" GVTg_V5_4 \
		'low_gm_size: 128MB\nhigh_gm_size: 512MB\nfence: 4\nresolution: 1920x1200\nweight: 4\n' 2
	host_type "$types/i915-GVTg_V5_8" GVTg_V5_8 \
		'low_gm_size: 64MB\nhigh_gm_size: 384MB\nfence: 4\nresolution: 1024x768\nweight: 2\n' 4
	mkdir -p "$r/sys/bus/pci/devices" "$r/sys/class/mdev_bus" "$r/sys/bus/mdev/devices" "$r/sys/class/iommu"
	ln -s ../../../devices/pci0000:00/0000:00:02.0 "$r/sys/bus/pci/devices/0000:00:02.0"
	ln -s ../../devices/pci0000:00/0000:00:02.0 "$r/sys/class/mdev_bus/0000:00:02.0"

	for cpu in 0 1; do
		printf 'processor\t: %s\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 158\n' "$cpu"
		printf 'model name\t: Intel(R) Core(TM) i7-7700 CPU @ 3.60GHz\nflags\t\t: fpu vme vmx\n\n'
	done >"$r/proc/cpuinfo"
	printf 'Limit                     Soft Limit           Hard Limit           Units     \n' >"$r/proc/self/limits"
	printf 'Max locked memory         8388608              8388608              bytes     \n' >>"$r/proc/self/limits"
	printf 'Name:\tvgpuvm\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n' \
		>"$r/proc/self/status"

	: >"$r/dev/kvm"
	: >"$r/dev/dri/card0"
	: >"$r/dev/dri/renderD128"
	: >"$r/dev/vfio/vfio"
	cp "$here/qemu-system-x86_64" "$r/bin/"
	cat >"$r/profiles/gvt.json" <<'JSON'
{
	"name": "win10",
	"memory": "4G",
	"vgpu": { "parent": "0000:00:02.0", "type": "i915-GVTg_V5_4", "ramfb": true, "xres": 1920, "yres": 1080 },
	"display": { "type": "gtk", "gl": true }
}
JSON
}

# host_mdev DIR TYPE UUID: an mdev of TYPE on the iGPU, as the kernel shows one, with an IOMMU group of its own
# (/sys/kernel/iommu_groups/N, N counting up from 1).
host_mdev() {
	local r=$1 tdir=$1/sys/devices/pci0000:00/0000:00:02.0/mdev_supported_types/$2 g=1
	mkdir -p "$r/sys/devices/pci0000:00/0000:00:02.0/$3"
	ln -s "../mdev_supported_types/$2" "$r/sys/devices/pci0000:00/0000:00:02.0/$3/mdev_type"
	while [ -e "$r/sys/kernel/iommu_groups/$g" ]; do g=$((g + 1)); done
	mkdir -p "$r/sys/kernel/iommu_groups/$g/devices"
	ln -s "../../../../kernel/iommu_groups/$g" "$r/sys/devices/pci0000:00/0000:00:02.0/$3/iommu_group"
	ln -s "../../../devices/pci0000:00/0000:00:02.0/$3" "$r/sys/bus/mdev/devices/$3"
	ln -s "../../../$3" "$tdir/devices/$3"
	echo $(($(cat "$tdir/available_instances") - 1)) >"$tdir/available_instances"
}

# host_record DIR NAME UUID TYPE SUPERVISOR_PID QEMU_PID: a crash record in the runtime directory.
host_record() {
	mkdir -p "$1/run/$2"
	printf '{"name": "%s", "uuid": "%s", "type": "%s", "parent": "0000:00:02.0", "created": true, "supervisor_pid": %s, "qemu_pid": %s, "sysfs_root": "/sys"}\n' \
		"$2" "$3" "$4" "$5" "$6" >"$1/run/$2/record.json"
}

# host_alive DIR PID: the process PID runs, as the fake /proc tells.
host_alive() { mkdir -p "$1/proc/$2"; }

# host_holder DIR PID COMM UUID: the process PID (named COMM) runs and holds the mdev UUID's VFIO group open, as a
# QEMU does (/proc/PID/fd/N -> /dev/vfio/GROUP).
host_holder() {
	local g
	g=$(basename "$(readlink "$1/sys/bus/mdev/devices/$4/iommu_group")")
	mkdir -p "$1/proc/$2/fd"
	echo "$3" >"$1/proc/$2/comm"
	ln -s /dev/null "$1/proc/$2/fd/0"
	ln -s "/dev/vfio/$g" "$1/proc/$2/fd/23"
}

# host_mdevctl DIR UUID: mdevctl has a definition of the mdev UUID on the iGPU (/etc/mdevctl.d/PARENT/UUID).
host_mdevctl() {
	mkdir -p "$1/etc/mdevctl.d/0000:00:02.0"
	printf '{"mdev_type": "%s", "start": "auto"}\n' "$(basename "$(readlink "$1/sys/bus/mdev/devices/$2/mdev_type")")" \
		>"$1/etc/mdevctl.d/0000:00:02.0/$2"
}

# host_run CASE VGPUVM: builds the tree for host/CASE in a temporary directory and runs vgpuvm there; prints stdout,
# "exit N", stderr.
host_run() {
	local case=$1 vgpuvm=$2 t args rc
	t=$(mktemp -d)
	host_base "$t"
	mapfile -t args <"$case.cmd"
	(
		cd "$t" || exit 1
		# shellcheck disable=SC1090
		[ ! -f "$OLDPWD/$case.setup" ] || . "$OLDPWD/$case.setup"
		export VGPUVM_SYSFS_ROOT=$t/sys VGPUVM_PROC_ROOT=$t/proc VGPUVM_DEV_ROOT=$t/dev VGPUVM_RUNTIME_DIR=$t/run
		export VGPUVM_MDEVCTL_DIR=$t/etc/mdevctl.d
		export PATH=$t/bin:$PATH USER=alice
		unset SUDO_USER
		# A vgpuvm that hangs (on a FIFO, say) fails its case (exit 124) instead of hanging the layer.
		timeout -k 5 30 "$vgpuvm" "${args[@]}" >"$t/.stdout" 2>"$t/.stderr"
		echo $? >"$t/.rc"
	)
	rc=$(cat "$t/.rc")
	cat "$t/.stdout"
	echo "exit $rc"
	cat "$t/.stderr"
	rm -rf "$t"
}

# shellcheck shell=bash
# Sourced by the guest-side scripts (tests/e2e/scenarios/*.sh, tests/e2e/demo-guest.sh). They run inside the e2e
# guest as root, chrooted into the host's / (read-only), with tmpfs on /run, /tmp, /var/tmp and /root, and the
# environment tests/e2e/init gives them: VGPUVM (the binary under test), E2E_DIR (build/e2e: mod/*.ko, e2e-util),
# E2E_WORK (read-write, shared with the host; the working directory), E2E_TOP (the checkout), VGPUVM_RUNTIME_DIR.
#
# Every check prints one line, "ok: ..." or "FAIL: ...", and the first failure ends the script with status 1 after
# printing the logs of the VMs it started. The script ends with "PASS: NAME" from e2e_pass; reaching the end of the
# script without it is a failure too.
set -uo pipefail

E2E_NAME=$(basename "$0" .sh)
# shellcheck disable=SC2034 # for the scripts that source this
E2E_PROFILES=$E2E_TOP/tests/e2e/profiles
E2E_LOGS=/run/e2e
E2E_UTIL=$E2E_DIR/e2e-util
mkdir -p "$E2E_LOGS"
declare -A VM_PID=()
e2e_passed=false

e2e_on_exit() {
	local rc=$?
	if ! $e2e_passed; then
		[ "$rc" -ne 0 ] || rc=1
		echo "FAIL: $E2E_NAME (exit $rc)"
	fi
	exit "$rc"
}
trap e2e_on_exit EXIT

# step TEXT: a heading, with the guest's uptime.
step() { printf '\n== %s  [%s s]\n' "$*" "$(cut -d' ' -f1 /proc/uptime)"; }
ok() { echo "ok: $*"; }
fail() {
	local name
	echo "FAIL: $*"
	for name in "${!VM_PID[@]}"; do
		echo "--- vgpuvm run $name: $E2E_LOGS/$name.log"
		cat "$E2E_LOGS/$name.log" 2>/dev/null
	done
	exit 1
}
e2e_pass() {
	local left
	left=$(mdevs | tr '\n' ' ')
	[ -z "$left" ] || fail "mdevs left behind at the end: $left"
	e2e_passed=true
	echo
	echo "PASS: $E2E_NAME"
	exit 0
}

# vgpuvm ARGS: the binary under test, so that the scripts read as a user's commands.
vgpuvm() { "$VGPUVM" "$@"; }

# cmdline ARGS: the command as a user would type it, quoted where the shell needs it.
cmdline() {
	local a line=
	for a; do
		case $a in
		'' | *[[:space:]\"\'\$\*\?\;\&\|\<\>\(\)\{\}\[\]]*) line+=" '${a//\'/\'\\\'\'}'" ;;
		*) line+=" $a" ;;
		esac
	done
	echo "${line# }"
}

# show CMD...: prints the command, then runs it; its status is returned.
show() {
	echo "\$ $(cmdline "$@")"
	"$@"
}

# load_driver NAME: the vfio modules and the kernel's sample driver NAME (mdpy, mbochs or mtty).
load_driver() {
	modprobe vfio_iommu_type1 && modprobe mdev || fail "modprobe vfio_iommu_type1 mdev"
	if [ ! -d "/sys/class/mdev_bus/$1" ]; then
		insmod "$E2E_DIR/mod/$1.ko" || fail "insmod $E2E_DIR/mod/$1.ko"
	fi
	[ -d "/sys/class/mdev_bus/$1" ] || fail "no /sys/class/mdev_bus/$1 after loading $1.ko"
	ok "$1 loaded: parent /sys/class/mdev_bus/$1, types $(ls "/sys/class/mdev_bus/$1/mdev_supported_types" | tr '\n' ' ')"
}

# load_vgem: the kernel's virtual GEM driver, whose render node (/dev/dri/renderD128, root's, mode 0600) is the only
# one this guest can have; Mesa has no driver for it and falls back to software (kms_swrast), which is enough for a
# GL display to start.
load_vgem() {
	[ -c /dev/dri/renderD128 ] || modprobe vgem || fail "modprobe vgem"
	[ -c /dev/dri/renderD128 ] || fail "no /dev/dri/renderD128 after modprobe vgem"
	ok "vgem loaded: $(stat -c '%n, %U:%G, mode %a' /dev/dri/renderD128)"
}

# wait_serial NAME PREFIX: waits (at most 60 s) until the VM's serial output, which vgpuvm relays into its log, has
# a line with PREFIX (a fixed string); prints what follows PREFIX on that line.
wait_serial() {
	local line
	wait_log "$E2E_LOGS/$1.log" "$2" "${VM_PID[$1]}" 60 || fail "$1: no serial line with \"$2\" in 60 s"
	line=$(grep -m1 -F -- "$2" "$E2E_LOGS/$1.log" | tr -d '\r')
	echo "${line#*"$2"}"
}

# available PARENT TYPE: the type's available_instances.
available() { cat "/sys/class/mdev_bus/$1/mdev_supported_types/$2/available_instances"; }

# profile_uuid PROFILE [ARGS]: the mdev UUID vgpuvm will use, from its QEMU command line.
profile_uuid() {
	"$VGPUVM" argv "$@" | sed -n 's|.*sysfsdev=/sys/bus/mdev/devices/\([0-9a-f-]*\).*|\1|p'
}

mdev_exists() { [ -e "/sys/bus/mdev/devices/$1" ]; }

# mdevs: the UUIDs of all mdevs, one a line.
mdevs() { find /sys/bus/mdev/devices -mindepth 1 -maxdepth 1 -printf '%f\n' | sort; }

# sysfs_write VALUE FILE: echo VALUE > FILE, shown as such.
sysfs_write() {
	echo "\$ echo $1 > $2"
	echo "$1" >"$2"
}

# vm_start NAME PROFILE [ARGS]: `vgpuvm run` in the background, stderr to $E2E_LOGS/NAME.log.
vm_start() {
	local name=$1
	shift
	echo "\$ $(cmdline vgpuvm run "$@") &"
	"$VGPUVM" run "$@" >"$E2E_LOGS/$name.log" 2>&1 &
	VM_PID[$name]=$!
}

# wait_log FILE PATTERN PID SECONDS: waits until PATTERN shows up in FILE (tail -f, inotify), giving up when the
# process PID is gone or after SECONDS.
wait_log() {
	timeout "$4" grep -q -m1 -e "$2" < <(exec tail -n +1 -f --pid="$3" "$1" 2>/dev/null)
}

# vm_wait_running NAME: until vgpuvm logs that QEMU runs; fails with the log if vgpuvm ends first or in 60 s.
vm_wait_running() {
	wait_log "$E2E_LOGS/$1.log" 'is running' "${VM_PID[$1]}" 60 ||
		fail "$1: vgpuvm did not report QEMU running"
	ok "$1: $(grep -m1 'is running' "$E2E_LOGS/$1.log")"
}

# vm_wait_exit NAME: waits for `vgpuvm run` to end (it is our child: never call this in a subshell); its exit
# status goes to VM_RC.
vm_wait_exit() {
	VM_RC=0
	wait "${VM_PID[$1]}" || VM_RC=$?
}

# vm_expect_exit NAME CODE: `vgpuvm run` ended with CODE.
vm_expect_exit() {
	vm_wait_exit "$1"
	[ "$VM_RC" = "$2" ] || fail "$1: vgpuvm run exited $VM_RC, expected $2"
	ok "$1: vgpuvm run exited $VM_RC"
}

# log_has NAME TEXT: vgpuvm's log for NAME has TEXT (a fixed string).
log_has() {
	grep -qF -- "$2" "$E2E_LOGS/$1.log" || fail "$1: the log lacks \"$2\""
	ok "$1: log: $(grep -m1 -F -- "$2" "$E2E_LOGS/$1.log")"
}

# json_field NAME FIELD: one number or string field of `vgpuvm status NAME --json`.
json_field() {
	"$VGPUVM" status "$1" --json | sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -n1
}

# check_memlock PID MIB: QEMU's RLIMIT_MEMLOCK, soft and hard, is MIB MiB.
check_memlock() {
	local want=$(($2 * 1024 * 1024)) line soft hard
	line=$(grep '^Max locked memory' "/proc/$1/limits") || fail "no /proc/$1/limits"
	read -r soft hard < <(echo "$line" | awk '{print $4, $5}')
	[ "$soft" = "$want" ] && [ "$hard" = "$want" ] ||
		fail "QEMU's locked-memory limit is $soft (soft) $hard (hard), expected $want ($2 MiB)"
	ok "/proc/$1/limits: $line ($2 MiB, soft and hard)"
}

# check_mdev_in_use UUID PID TYPE: the mdev exists, has the type and is opened by QEMU through its VFIO group.
check_mdev_in_use() {
	local dev=/sys/bus/mdev/devices/$1 group
	mdev_exists "$1" || fail "no mdev $1"
	[ "$(basename "$(readlink "$dev/mdev_type")")" = "$3" ] || fail "mdev $1 is not of type $3"
	group=$(basename "$(readlink "$dev/iommu_group")")
	find "/proc/$2/fd" -lname "/dev/vfio/$group" 2>/dev/null | grep -q . || fail "QEMU (pid $2) does not hold /dev/vfio/$group"
	ok "mdev $1 ($3) exists; QEMU (pid $2) holds its VFIO group /dev/vfio/$group"
}

# proc_status PID: /proc/PID/status into the associative array PROC_STATUS (field: value, its blanks made single
# spaces); with bash alone, as each fork is dear in the guest while a nested QEMU runs. False when PID is gone.
# mapfile reads the file in one go: `while read` seeks back after each line, and each seek makes the kernel write the
# file anew, so a running process's changing counters shift the lines under it.
declare -A PROC_STATUS=()
proc_status() {
	local lines=() line a
	PROC_STATUS=()
	mapfile -t lines <"/proc/$1/status" || return 1
	for line in "${lines[@]}"; do
		case $line in
		[A-Za-z]*:*) ;;
		*) continue ;;
		esac
		read -r -a a <<<"${line#*:}"
		PROC_STATUS[${line%%:*}]=${a[*]}
	done
	[ -n "${PROC_STATUS[Uid]:-}" ]
}

# check_confined QEMU_PID SUPERVISOR_PID UID [GID]: QEMU runs as UID (real, effective, saved and file-system uid) and
# GID, with no capability in any set (and an empty bounding set too when its supervisor is root, who can empty it),
# NO_NEW_PRIVS, and seccomp filters (vgpuvm's and QEMU's own -sandbox: at least two); the supervisor runs under its
# own seccomp filter.
check_confined() {
	local q=$1 s=$2 uid=$3 gid=${4:-} f v caps=() s_euid
	proc_status "$s" || fail "no /proc/$s/status: the supervisor (pid $s) is gone"
	read -r _ s_euid _ <<<"${PROC_STATUS[Uid]}"
	v=${PROC_STATUS[Seccomp]:-}
	[ "$v" = 2 ] || fail "the supervisor (pid $s): Seccomp: ${v:-none}, expected 2 (its own filter, once QEMU runs)"
	proc_status "$q" || fail "no /proc/$q/status: QEMU (pid $q) is gone"
	v=${PROC_STATUS[Uid]}
	[ "$v" = "$uid $uid $uid $uid" ] || fail "QEMU (pid $q): Uid: $v, expected $uid $uid $uid $uid"
	if [ -n "$gid" ]; then
		v=${PROC_STATUS[Gid]:-}
		[ "$v" = "$gid $gid $gid $gid" ] || fail "QEMU (pid $q): Gid: $v, expected $gid $gid $gid $gid"
	fi
	for f in CapInh CapPrm CapEff CapAmb; do
		v=${PROC_STATUS[$f]:-}
		[ "$v" = 0000000000000000 ] || fail "QEMU (pid $q): $f: ${v:-none}, expected 0000000000000000"
		caps+=("$f 0")
	done
	if [ "$s_euid" = 0 ]; then
		v=${PROC_STATUS[CapBnd]:-}
		[ "$v" = 0000000000000000 ] ||
			fail "QEMU (pid $q) of a root supervisor: CapBnd: ${v:-none}, expected 0000000000000000"
		caps+=("CapBnd 0")
	fi
	v=${PROC_STATUS[NoNewPrivs]:-}
	[ "$v" = 1 ] || fail "QEMU (pid $q): NoNewPrivs: ${v:-none}, expected 1"
	v=${PROC_STATUS[Seccomp]:-}
	[ "$v" = 2 ] || fail "QEMU (pid $q): Seccomp: ${v:-none}, expected 2 (filter)"
	v=${PROC_STATUS[Seccomp_filters]:-}
	[ -n "$v" ] && [ "$v" -ge 2 ] ||
		fail "QEMU (pid $q): Seccomp_filters: ${v:-none}, expected at least 2 (vgpuvm's and QEMU's -sandbox)"
	ok "/proc/$q/status (QEMU): Uid $uid x4${gid:+, Gid $gid x4}, ${caps[*]}, NoNewPrivs 1, Seccomp 2 ($v filters)"
	ok "/proc/$s/status (supervisor): Seccomp 2"
}

# check_no_refusal NAME: vgpuvm's log for NAME has no system call refused by the supervisor's seccomp filter (each
# one is a bug: a path the filter forgot).
check_no_refusal() {
	! grep -F 'seccomp filter refused' "$E2E_LOGS/$1.log" || fail "$1: the supervisor's seccomp filter refused a call"
	ok "$1: no system call refused by the supervisor's seccomp filter"
}

# vfio_group UUID: the mdev's IOMMU group number (/dev/vfio/N).
vfio_group() {
	basename "$(readlink "/sys/bus/mdev/devices/$1/iommu_group")"
}

# check_owner FILE UID [WHEN]: FILE's owner is UID.
check_owner() {
	local o
	o=$(stat -c %u "$1") || fail "no $1"
	[ "$o" = "$2" ] || fail "$1 is owned by uid $o${3:+ $3}, expected $2"
	ok "$1 is owned by uid $o${3:+ $3}"
}

# wait_gradient NAME FILE [WRAPPER...]: takes screenshots until mdpy's grey gradient shows (QEMU shows a placeholder
# until its first display update has read the device's framebuffer); at most 30 s. WRAPPER (as_user, say) runs
# `vgpuvm screenshot` as someone else.
wait_gradient() {
	local deadline=$((SECONDS + 30)) n=0 verdict=
	while [ $SECONDS -lt $deadline ]; do
		n=$((n + 1))
		if "${@:3}" "$VGPUVM" screenshot "$1" "$2" 2>"$E2E_LOGS/screenshot.err"; then
			verdict=$("$E2E_UTIL" gradient "$2") && { ok "screenshot $n: $verdict"; return 0; }
		fi
	done
	cat "$E2E_LOGS/screenshot.err"
	fail "no mdpy gradient in $n screenshots in 30 s (last: ${verdict:-none})"
}

# start_xvfb: an X server on :99 for QEMU's GTK window; returns once it accepts clients (-displayfd: Xvfb writes the
# display number when it is ready, so this waits on that, not on a timer).
start_xvfb() {
	local d
	export HOME=/run NO_AT_BRIDGE=1 DISPLAY=:99
	exec {xfd}< <(exec Xvfb :99 -screen 0 1280x1024x24 -nolisten tcp -displayfd 1 2>"$E2E_LOGS/xvfb.log")
	XVFB_PID=$!
	read -r -t 30 -u "$xfd" d || { cat "$E2E_LOGS/xvfb.log"; fail "Xvfb did not start"; }
	ok "Xvfb (pid $XVFB_PID) serves display :$d"
}

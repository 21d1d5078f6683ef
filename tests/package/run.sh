#!/usr/bin/env bash
# The Debian package, in TAP. It is built from a copy of the tree (`dpkg-buildpackage -b -us -uc`, debian/), checked
# by lintian, then installed, used and purged in a throwaway root: an overlay of this machine's / whose writes go to a
# tmpfs in a mount namespace of the test's own, so that nothing the package does (the vgpuvm user and group,
# /etc/vgpuvm, the unit, the udev rule, the dpkg database) reaches the machine, even when the test dies half-way.
#
#   tests/package/run.sh [BUILD]     BUILD: the build tree (default $BUILD or build); the package goes to BUILD/pkg
#
# Needs root (mount namespaces, chroot), dpkg-dev, debhelper, lintian, and the build and run dependencies of the
# package (scripts/deps.sh build test package).
set -u
cd "$(dirname "$0")/../.." || exit 2
top=$PWD
build=${1:-${BUILD:-build}}
out=$top/$build/pkg
version=$(sed -n 's/^VERSION := //p' Makefile)
deb=$out/vgpuvm_${version}_amd64.deb
n=0 failed=0

# t DESCRIPTION COMMAND...: one test; the command's output is the diagnostic when it fails.
t() {
	local desc=$1 o
	shift
	n=$((n + 1))
	if o=$("$@" 2>&1); then
		echo "ok $n - $desc"
		[ -z "${VERBOSE:-}" ] || printf '%s\n' "$o" | sed 's/^/# /'
	else
		echo "not ok $n - $desc"
		printf '%s\n' "$o" | tail -n 40 | sed 's/^/# /'
		failed=$((failed + 1))
	fi
}

# ---- inside the mount namespace: the throwaway root ------------------------------------------------------------
# Reached through `unshare --mount` below as `run.sh --inside DIR N DEB`: DIR for the root, the tests numbered after N.
if [ "${1:-}" = --inside ]; then
	W=$2 n=$3 deb=$4
	M=$W/root
	mount -t tmpfs -o mode=0700 throwaway "$W" || exit 1
	mkdir -p "$W/upper" "$W/work" "$M"
	mount -t overlay overlay -o "lowerdir=/,upperdir=$W/upper,workdir=$W/work" "$M" || exit 1
	mount -t proc proc "$M/proc" && mount -t sysfs sysfs "$M/sys" && mount --rbind /dev "$M/dev" || exit 1
	cp "$deb" "$M/tmp/vgpuvm.deb"
	in_root() { chroot "$M" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

	install_pkg() { in_root env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/vgpuvm.deb; }
	t "dpkg -i installs the package (its maintainer scripts run)" install_pkg

	user() {
		local pw gr uid
		pw=$(in_root getent passwd vgpuvm) || { echo "no user vgpuvm"; return 1; }
		gr=$(in_root getent group vgpuvm) || { echo "no group vgpuvm"; return 1; }
		echo "$pw / $gr"
		IFS=: read -r _ _ uid _ _ _ shell <<<"$pw"
		[ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || { echo "uid $uid is not a system uid"; return 1; }
		[ "${shell##*/}" = nologin ] || { echo "shell $shell"; return 1; }
	}
	t "the vgpuvm system user and group exist (sysusers.d), with no login shell" user

	dirs() {
		local d got
		for d in "/run/vgpuvm 700 0" "/var/lib/vgpuvm 755 0" "/etc/vgpuvm/profiles 755 0"; do
			set -- $d
			got=$(stat -c '%a %u' "$M$1") || return 1
			[ "$got" = "$2 $3" ] || { echo "$1: mode and owner $got, expected $2 $3"; return 1; }
			echo "$1: $got"
		done
	}
	t "/run/vgpuvm (0700), /var/lib/vgpuvm (0755) and /etc/vgpuvm/profiles exist, root's (tmpfiles.d, the package)" dirs

	version_check() {
		local v
		v=$(in_root /usr/bin/vgpuvm --version) || return 1
		echo "$v"
		[ "$v" = "vgpuvm $version" ] && [ "$(in_root dpkg-query -W -f='${Version}' vgpuvm)" = "$version" ]
	}
	t "/usr/bin/vgpuvm --version says $version, the package's version" version_check

	stock() {
		local o
		o=$(in_root vgpuvm check mdpy-demo) || return 1
		echo "$o"
		[[ $o == "/usr/share/vgpuvm/profiles/mdpy-demo.json: ok: mdpy-demo: 64M, 1 CPU, pc, tcg; vGPU mdpy-vga on mdpy"* ]] ||
			return 1
		in_root vgpuvm argv mdpy-demo | grep -qx -- '-name' || return 1
		cmp "$M/usr/share/vgpuvm/profile.schema.json" profiles/profile.schema.json
	}
	t "the stock profiles are found by name from /usr/share/vgpuvm/profiles; the schema is beside them" stock

	verify() {
		local o
		o=$(in_root systemd-analyze verify vgpuvm@mdpy-demo.service 2>&1) || { echo "$o"; return 1; }
		[ -z "$o" ] || { echo "$o"; return 1; }
		grep -qx 'ExecStart=/usr/bin/vgpuvm run %i' "$M/usr/lib/systemd/system/vgpuvm@.service" || return 1
		o=$(in_root systemd-analyze verify vgpuvm-metrics.service vgpuvm-metrics.timer 2>&1) || { echo "$o"; return 1; }
		[ -z "$o" ] || { echo "$o"; return 1; }
		grep -q '^ExecStart=/usr/bin/vgpuvm metrics --textfile ' "$M/usr/lib/systemd/system/vgpuvm-metrics.service"
	}
	t "systemd-analyze verify vgpuvm@mdpy-demo.service and the metrics timer: no warning; they run /usr/bin/vgpuvm" verify

	man_pages() {
		local p o r=0
		for p in man1/vgpuvm.1 man5/vgpuvm-profile.5 man7/vgpuvm-control.7; do
			o=$(in_root env MANWIDTH=80 man --warnings -l "/usr/share/man/$p.gz" 2>&1 >/dev/null) || { echo "$p: $o"; r=1; }
			[ -z "$o" ] || { echo "$p: $o"; r=1; }
		done
		[ "$(in_root man -w vgpuvm-profile)" = /usr/share/man/man5/vgpuvm-profile.5.gz ] || { echo "man -w vgpuvm-profile"; r=1; }
		return $r
	}
	t "man -l renders the three pages without a warning; man finds them by name" man_pages

	# The udev rule's helper on a tree as the kernel lays it out: group 5 holds an mdev, group 6 a PCI device.
	udev() {
		local s=$M/tmp/sys prog
		mkdir -p "$s/bus/mdev" "$s/bus/pci" "$s/devices/virtual/mdpy/mdpy/5b1f0c1e-0000-4000-8000-000000000001" \
			"$s/devices/pci0000:00/0000:00:03.0" "$s/kernel/iommu_groups/5/devices" "$s/kernel/iommu_groups/6/devices"
		ln -s ../../../../bus/mdev "$s/devices/virtual/mdpy/mdpy/5b1f0c1e-0000-4000-8000-000000000001/subsystem"
		ln -s ../../../bus/pci "$s/devices/pci0000:00/0000:00:03.0/subsystem"
		ln -s ../../../../devices/virtual/mdpy/mdpy/5b1f0c1e-0000-4000-8000-000000000001 \
			"$s/kernel/iommu_groups/5/devices/5b1f0c1e-0000-4000-8000-000000000001"
		ln -s ../../../../devices/pci0000:00/0000:00:03.0 "$s/kernel/iommu_groups/6/devices/0000:00:03.0"
		prog=$(sed -n 's/.*PROGRAM="\([^ "]*\) %k".*/\1/p' "$M/usr/lib/udev/rules.d/70-vgpuvm.rules")
		echo "PROGRAM $prog"
		[ "$prog" = /usr/libexec/vgpuvm/vfio-group-is-mdev ] || return 1
		grep -q 'SUBSYSTEM=="vfio", KERNEL=="\[0-9\]\*".*GROUP="vgpuvm", MODE="0660"' "$M/usr/lib/udev/rules.d/70-vgpuvm.rules" || return 1
		in_root "$prog" 5 /tmp/sys || { echo "group 5 (an mdev) is not taken"; return 1; }
		in_root "$prog" 6 /tmp/sys && { echo "group 6 (a PCI device) is taken"; return 1; }
		in_root "$prog" 7 /tmp/sys && { echo "group 7 (no such group) is taken"; return 1; }
		in_root "$prog" vfio /tmp/sys; [ $? -eq 2 ] || { echo "/dev/vfio/vfio is not refused with 2"; return 1; }
		return 0
	}
	t "the udev rule gives the vgpuvm group /dev/vfio/N only when IOMMU group N holds an mdev" udev

	completion() {
		local o
		o=$(in_root bash -c '. /usr/share/bash-completion/completions/vgpuvm
			COMP_WORDBREAKS=" =:"; COMP_LINE="vgpuvm run mdpy"; COMP_POINT=${#COMP_LINE}; _vgpuvm; echo "${COMPREPLY[*]}"
			COMP_LINE="vgpuvm sta"; COMP_POINT=${#COMP_LINE}; COMPREPLY=(); _vgpuvm; echo "${COMPREPLY[*]}"') || return 1
		echo "$o"
		[ "$o" = $'mdpy-demo\nstatus' ]
	}
	t "bash completion is installed and offers the stock profiles of /usr/share and the commands" completion

	# The demo profile from /usr/bin, its vGPU left out (this root has no mdpy; the e2e layer runs it whole): QEMU
	# runs as the vgpuvm user that the package made.
	demo() {
		local log=$M/tmp/demo.log pid uid q st
		in_root vgpuvm run mdpy-demo --set vgpu=null </dev/null >"$log" 2>&1 &
		pid=$!
		timeout 60 tail -n +1 --pid=$pid -f "$log" | grep -q -m1 'is running' || { cat "$log"; return 1; }
		st=$(in_root vgpuvm status mdpy-demo --json) || { cat "$log"; return 1; }
		q=$(sed -n 's/^ *"qemu_pid": \([0-9]*\),$/\1/p' <<<"$st")
		uid=$(in_root id -u vgpuvm)
		echo "QEMU pid $q, uid $(stat -c %u "/proc/$q"); vgpuvm is uid $uid"
		[ -n "$q" ] && [ "$(stat -c %u "/proc/$q")" = "$uid" ] || { kill -KILL $pid; return 1; }
		in_root vgpuvm stop mdpy-demo --force || { kill -KILL $pid; return 1; }
		wait $pid || { echo "vgpuvm run exited $?"; cat "$log"; return 1; }
		grep -E 'is running|stopped|exit' "$log"
	}
	t "/usr/bin/vgpuvm runs the demo profile (without its vGPU) with QEMU as the vgpuvm user, and stops it" demo

	purge() { in_root env DEBIAN_FRONTEND=noninteractive dpkg --purge vgpuvm; }
	t "dpkg --purge removes the package" purge

	# What the install and the purge wrote, from the overlay's upper layer: only the state directories, dpkg's own
	# records and logs, the man-db cache, the user databases (the user went with the purge), and what the tests above
	# made themselves (in /tmp; systemd-analyze's run/systemd/systemd-units-load) may be there.
	left() {
		local rest f r=0
		rest=$(cd "$W/upper" && find . -mindepth 1 \( -type f -o -type l -o -type c \) -printf '%P\n' | grep -vE \
			'^(etc/(passwd|group|shadow|gshadow|subuid|subgid)-?|etc/\.pwd\.lock|var/lib/dpkg/.*|var/log/.*|var/cache/(man|debconf)/.*|tmp/.*|run/systemd/systemd-units-load)$')
		[ -z "$rest" ] || { echo "left after the purge:"; echo "$rest"; r=1; }
		for f in /var/lib/vgpuvm /run/vgpuvm; do
			[ -d "$M$f" ] || { echo "the state directory $f went too"; r=1; }
		done
		for f in /etc/vgpuvm /usr/bin/vgpuvm /usr/lib/udev/rules.d/70-vgpuvm.rules /usr/lib/systemd/system/vgpuvm@.service \
			/usr/lib/sysusers.d/vgpuvm.conf /usr/share/vgpuvm; do
			[ ! -e "$M$f" ] || { echo "$f is still there"; r=1; }
		done
		in_root getent passwd vgpuvm && { echo "the vgpuvm user is still there"; r=1; }
		in_root getent group vgpuvm && { echo "the vgpuvm group is still there"; r=1; }
		return $r
	}
	t "after the purge only the state directories /var/lib/vgpuvm and /run/vgpuvm are left; the user and group are gone" left
	[ "$failed" -eq 0 ]
	exit
fi

# ---- outside: build, lint, then the throwaway root -------------------------------------------------------------
echo "1..17"
if [ "$(id -u)" != 0 ]; then
	for i in $(seq 17); do echo "not ok $i - the package test needs root (a mount namespace and chroot)"; done
	exit 1
fi

build_pkg() {
	tests/package/build.sh "$build" && ls "$out"/*.deb
}
t "dpkg-buildpackage -b -us -uc builds $(basename "$deb")" build_pkg

# lintian's errors and warnings fail; info, pedantic and experimental tags are shown.
lint() {
	local o
	o=$(lintian -EvIL +pedantic "$out"/vgpuvm_"${version}"_amd64.changes 2>&1 | grep -v -e '^N: ' -e 'running with root privileges')
	printf '%s\n' "$o"
	! grep -qE '^[EW]: ' <<<"$o"
}
t "lintian: no error, no warning" lint

fields() {
	local f
	f=$(dpkg-deb -f "$deb" Depends Recommends Suggests) || return 1
	echo "$f"
	grep -qE '^Depends: (.*, )?qemu-system-x86(,|$)' <<<"$f" &&
		grep -qx 'Recommends: qemu-system-gui' <<<"$f" &&
		grep -qx 'Suggests: mdevctl, ovmf, swtpm, virt-viewer' <<<"$f"
}
t "Depends on qemu-system-x86, Recommends qemu-system-gui, Suggests mdevctl, ovmf, swtpm, virt-viewer" fields

files() {
	local list f r=0
	list=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
	for f in /usr/bin/vgpuvm /usr/share/vgpuvm/profiles/mdpy-demo.json /usr/share/vgpuvm/profiles/gvtg-desktop.json \
		/usr/share/vgpuvm/profile.schema.json /usr/share/man/man1/vgpuvm.1.gz /usr/share/man/man5/vgpuvm-profile.5.gz \
		/usr/share/man/man7/vgpuvm-control.7.gz /usr/lib/systemd/system/vgpuvm@.service /usr/lib/sysusers.d/vgpuvm.conf \
		/usr/lib/tmpfiles.d/vgpuvm.conf /usr/lib/udev/rules.d/70-vgpuvm.rules /usr/libexec/vgpuvm/vfio-group-is-mdev \
		/usr/share/bash-completion/completions/vgpuvm /etc/vgpuvm/profiles/ \
		/usr/lib/systemd/system/vgpuvm-metrics.service /usr/lib/systemd/system/vgpuvm-metrics.timer \
		/usr/share/doc/vgpuvm/examples/vgpuvm-metrics.timer; do
		grep -qxF "$f" <<<"$list" || { echo "missing: $f"; r=1; }
	done
	return $r
}
t "the package holds the binary, profiles, schema, man pages, units, sysusers, tmpfiles, udev rule, completion" files

# What this machine has before, so that the end can check the test changed nothing of it.
state() {
	getent passwd vgpuvm || echo "no user"
	getent group vgpuvm || echo "no group"
	dpkg-query -W -f='${Status}\n' vgpuvm 2>/dev/null || echo "not installed"
	ls -d /etc/vgpuvm /usr/bin/vgpuvm /usr/lib/udev/rules.d/70-vgpuvm.rules /usr/lib/systemd/system/vgpuvm@.service 2>&1
}
before=$(state)

inside_failed=false
if [ -s "$deb" ]; then
	W=$(mktemp -d /tmp/vgpuvm-pkg.XXXXXX)
	unshare --mount --propagation private bash "$0" --inside "$W" "$n" "$deb" || inside_failed=true
	rmdir "$W" 2>/dev/null
else
	for i in $(seq $((n + 1)) 16); do echo "not ok $i - no package to install"; done
	inside_failed=true
fi
n=16

unchanged() {
	local after
	after=$(state)
	[ "$after" = "$before" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; return 1; }
	echo "$after"
}
t "this machine is as it was: no vgpuvm user, group, package or file came from the test" unchanged
[ "$failed" -eq 0 ] && ! $inside_failed

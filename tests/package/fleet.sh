#!/usr/bin/env bash
# The fleet examples, in TAP: ansible-lint on the Ansible role examples/fleet/roles/vgpuvm, promtool on the alerting
# rules examples/fleet/alerts.yml (their syntax, then tests/package/fleet/alerts_test.yml: each alert fires on the
# series that should fire it), the example inventory's profiles, then the role itself, applied with
# `ansible-playbook -c local -i localhost,` to a throwaway root as tests/package/run.sh makes one (an overlay of this
# machine's / in a mount namespace of the test's own, its writes on a tmpfs): the package built by
# tests/package/build.sh, the vgpuvm group's member and memlock limit, the GVT-g modprobe.d file (update-initramfs a
# stand-in), two profiles, one unit enabled, the metrics timer. A second run must change nothing, and a profile
# vgpuvm check refuses must fail the play and leave the installed one alone. Nothing reaches the machine, even when
# the test dies half-way, so there is nothing to undo: the last test checks that.
#
#   tests/package/fleet.sh [BUILD]     BUILD: the build tree (default $BUILD or build); the package goes to BUILD/pkg
#
# Needs root, ansible, ansible-lint and promtool (prometheus), and what the package layer needs (scripts/deps.sh
# package fleet).
set -u
cd "$(dirname "$0")/../.." || exit 2
top=$PWD
build=${1:-${BUILD:-build}}
version=$(sed -n 's/^VERSION := //p' Makefile)
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
# Reached through `unshare --mount` below as `fleet.sh --inside DIR N DEB`: DIR for the root, the tests numbered after N.
if [ "${1:-}" = --inside ]; then
	W=$2 n=$3 deb=$4
	M=$W/root
	mount -t tmpfs -o mode=0700 throwaway "$W" || exit 1
	mkdir -p "$W/upper" "$W/work" "$M"
	mount -t overlay overlay -o "lowerdir=/,upperdir=$W/upper,workdir=$W/work" "$M" || exit 1
	mount -t proc proc "$M/proc" && mount -t sysfs sysfs "$M/sys" && mount --rbind /dev "$M/dev" || exit 1
	# The role and the test's play, inventory variables and .deb, where the play in the root finds them.
	F=/tmp/vgpuvm-fleet
	rm -rf "${M:?}$F" && mkdir -p "$M$F" || exit 1
	cp -r examples/fleet/roles tests/package/fleet/play.yml tests/package/fleet/vars.yml tests/package/fleet/bad.yml \
		tests/package/fleet/misnamed.yml "$M$F/" && cp "$deb" "$M$F/" || exit 1
	in_root() { chroot "$M" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
	# play [--as USER] LOG [ARG...]: the play, its output in LOG; its exit status. As root, with Ansible's temporary
	# files in a directory of vgpuvmfleet's; with --as, as USER with become (sudo), as over SSH to a rig.
	play() {
		local as=() log
		[ "$1" = --as ] && { as=(runuser -u "$2" -- env HOME="/home/$2" ANSIBLE_BECOME=1); shift 2; }
		[ ${#as[@]} -gt 0 ] || as=(env "ANSIBLE_REMOTE_TMP=$F/tmp")
		log=$1
		shift
		in_root "${as[@]}" ANSIBLE_ROLES_PATH=$F/roles ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0 \
			ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 \
			ansible-playbook -c local -i localhost, "$F/play.yml" -e "@$F/vars.yml" \
			-e "vgpuvm_deb=$F/$(basename "$deb")" "$@" >"$log" 2>&1
	}
	# recap LOG: localhost's PLAY RECAP line.
	recap() { grep -E '^localhost +: ok=' "$1"; }
	kver=$(cd "$M/lib/modules" 2>/dev/null && for k in *; do [ -n "$(find "$k" -name 'kvmgt.ko*' -print -quit)" ] && echo "$k"; done | tail -n1)

	# A member for the vgpuvm group: the role adds users, never creates them. Ansible's temporary files in a directory
	# of that user's, as they are in the connecting user's home on a rig reached as someone else with become: vgpuvm
	# refuses a profile there. A stand-in metrics timer, unless the package brings its own: the role enables the timer
	# only where it finds one.
	setup() {
		in_root useradd --system --no-create-home --shell /usr/sbin/nologin vgpuvmfleet || return 1
		mkdir -m 0755 "$M$F/tmp" && in_root chown vgpuvmfleet: "$F/tmp" || return 1
		in_root useradd --create-home --shell /bin/sh vgpuvmdeploy || return 1
		echo 'vgpuvmdeploy ALL=(ALL) NOPASSWD: ALL' >"$M/etc/sudoers.d/vgpuvm-fleet" &&
			chmod 0440 "$M/etc/sudoers.d/vgpuvm-fleet" || return 1
		printf '#!/bin/sh\necho "$*" >>/tmp/update-initramfs.log\n' >"$M/usr/sbin/update-initramfs" &&
			chmod 0755 "$M/usr/sbin/update-initramfs" && : >"$M/tmp/update-initramfs.log" || return 1
		if ! dpkg-deb -c "$deb" | grep -q '/vgpuvm-metrics\.timer$'; then
			printf '[Unit]\nDescription=stand-in\n[Service]\nType=oneshot\nExecStart=/bin/true\n' \
				>"$M/etc/systemd/system/vgpuvm-metrics.service" &&
				printf '[Unit]\nDescription=stand-in\n[Timer]\nOnUnitActiveSec=15s\n[Install]\nWantedBy=timers.target\n' \
					>"$M/etc/systemd/system/vgpuvm-metrics.timer" || return 1
			echo "the package has no vgpuvm-metrics.timer: a stand-in in /etc/systemd/system"
		fi
	}
	setup >/dev/null || { echo "# the throwaway root's set-up failed"; exit 1; }

	first() {
		play "$M/tmp/fleet-1.log"
		local rc=$?
		tail -n 30 "$M/tmp/fleet-1.log"
		[ $rc -eq 0 ] && recap "$M/tmp/fleet-1.log" | grep -q ' failed=0 '
	}
	t "ansible-playbook -c local -i localhost, applies the role (package, access, GVT-g, profiles, units, timer)" first

	pkg() {
		local s
		s=$(in_root dpkg-query -W -f='${Status} ${Version}' vgpuvm) || return 1
		echo "$s"
		[ "$s" = "install ok installed $version" ] && [ "$(in_root /usr/bin/vgpuvm --version)" = "vgpuvm $version" ]
	}
	t "the package is installed (dpkg-query: install ok installed $version)" pkg

	access() {
		local g
		in_root getent passwd vgpuvm || return 1
		g=$(in_root id -nG vgpuvmfleet) || return 1
		echo "vgpuvmfleet: $g"
		grep -qw vgpuvm <<<"$g" || return 1
		diff <(grep -v '^#' "$M/etc/security/limits.d/vgpuvm.conf") - <<-'EOF'
			@vgpuvm soft memlock 4194304
			@vgpuvm hard memlock 4194304
		EOF
		[ "$(stat -c '%U %a' "$M/etc/security/limits.d/vgpuvm.conf")" = "root 644" ]
	}
	t "the vgpuvm user exists; vgpuvmfleet is in the vgpuvm group, which has the memlock limit asked for" access

	gvt() {
		local f=$M/etc/modprobe.d/vgpuvm-gvt.conf deps
		diff <(grep -v '^#' "$f") - <<-'EOF' || return 1
			options i915 enable_gvt=1 enable_guc=0
			softdep i915 pre: kvmgt
		EOF
		[ "$(stat -c '%U %a' "$f")" = "root 644" ] || return 1
		[ -n "$kver" ] || { echo "no kernel with kvmgt in /lib/modules (scripts/deps.sh test installs linux-image-amd64)"; return 1; }
		# What modprobe would load for i915 with only that file, on the installed kernel: kvmgt, and i915 with the options.
		deps=$(modprobe --show-depends -C "$f" -d "$M" -S "$kver" i915) || return 1
		echo "$deps"
		grep -q '/kvmgt\.ko' <<<"$deps" && grep -qE '/i915\.ko(\.xz)? enable_gvt=1 enable_guc=0 *$' <<<"$deps"
	}
	t "/etc/modprobe.d/vgpuvm-gvt.conf: modprobe i915 on the installed kernel loads kvmgt and i915 with enable_gvt=1" gvt

	# The installed profiles, as JSON, against the inventory's, as the YAML parser reads them.
	profiles() {
		local p f r=0
		for p in fleettest fleetidle; do
			f=$M/etc/vgpuvm/profiles/$p.json
			[ "$(stat -c '%U %G %a' "$f")" = "root root 644" ] || { stat -c "$p: %U %G %a" "$f"; r=1; }
			/usr/bin/python3 - "$f" tests/package/fleet/vars.yml "$p" <<-'EOF' || r=1
				import json, sys, yaml
				got = json.load(open(sys.argv[1]))
				want = yaml.safe_load(open(sys.argv[2]))["vgpuvm_profiles"][sys.argv[3]]
				if got != want:
				    sys.exit(f"{sys.argv[3]}: {got} != {want}")
			EOF
			in_root vgpuvm check "$p" || r=1
		done
		[ "$(ls "$M/etc/vgpuvm/profiles")" = $'fleetidle.json\nfleettest.json' ] || { ls -l "$M/etc/vgpuvm/profiles"; r=1; }
		return $r
	}
	t "/etc/vgpuvm/profiles holds the inventory's two profiles, root's, 0644, and vgpuvm check finds them by name" profiles

	units() {
		local s
		s=$(in_root systemctl is-enabled vgpuvm@fleettest.service)
		echo "vgpuvm@fleettest: $s"
		[ "$s" = enabled ] || return 1
		s=$(in_root systemctl is-enabled vgpuvm@fleetidle.service)
		echo "vgpuvm@fleetidle: $s"
		[ "$s" != enabled ] || return 1
		s=$(in_root systemctl is-enabled vgpuvm-metrics.timer)
		echo "vgpuvm-metrics.timer: $s"
		[ "$s" = enabled ]
	}
	t "systemctl is-enabled: vgpuvm@fleettest and vgpuvm-metrics.timer are, vgpuvm@fleetidle (not in vgpuvm_units) is not" units

	# The handlers: the GVT-g file changed, so the initramfs is updated, once, and the play says a reboot is needed; it
	# did not reboot (the play ended). update-initramfs is a stand-in that records its arguments (the real one takes
	# half a minute and writes /boot).
	handlers() {
		grep -q 'RUNNING HANDLER \[vgpuvm : Say that GVT-g needs a reboot\]' "$M/tmp/fleet-1.log" || return 1
		grep -A1 'RUNNING HANDLER \[vgpuvm : Reboot for GVT-g\]' "$M/tmp/fleet-1.log" | grep -q skipping || return 1
		[ "$(cat "$M/tmp/update-initramfs.log")" = "-u" ] || { echo "update-initramfs ran with:"; cat "$M/tmp/update-initramfs.log"; return 1; }
		[ -z "$(find "$W/upper/boot" -type f 2>/dev/null)" ] || { find "$W/upper/boot" -type f; return 1; }
	}
	t "the handlers: update-initramfs -u ran once; a reboot is announced, not done" handlers

	# The second run as a deploying user with become, as a rig is reached over SSH: Ansible's files are in that user's
	# home, where vgpuvm refuses a profile; the role checks its profiles elsewhere.
	second() {
		play --as vgpuvmdeploy "$M/tmp/fleet-2.log"
		local rc=$?
		recap "$M/tmp/fleet-2.log"
		[ $rc -eq 0 ] || { grep -A3 -E "^(fatal|failed)" "$M/tmp/fleet-2.log"; return 1; }
		recap "$M/tmp/fleet-2.log" | grep -qE ' changed=0 .* failed=0 ' || { grep -B3 '^changed:' "$M/tmp/fleet-2.log"; return 1; }
		[ "$(cat "$M/tmp/update-initramfs.log")" = "-u" ] || { echo "update-initramfs ran again"; return 1; }
		# Ansible's files went to that user's home (the PUT lines of the play's log with -v would say so too).
		[ "$(in_root stat -c %U /home/vgpuvmdeploy/.ansible/tmp)" = vgpuvmdeploy ] ||
			{ echo "no /home/vgpuvmdeploy/.ansible/tmp of vgpuvmdeploy's"; return 1; }
	}
	t "a second run, as a user with become (sudo), changes nothing: changed=0 in the recap, no update-initramfs" second

	refused() {
		local before
		before=$(cat "$M/etc/vgpuvm/profiles/fleettest.json")
		play "$M/tmp/fleet-3.log" -e "@$F/bad.yml" && { echo "the play passed"; return 1; }
		grep -q 'memory: expected a size' "$M/tmp/fleet-3.log" || { tail -n 20 "$M/tmp/fleet-3.log"; return 1; }
		[ "$(cat "$M/etc/vgpuvm/profiles/fleettest.json")" = "$before" ] || { echo "fleettest.json changed"; return 1; }
		grep -E '^failed: .*fleettest' "$M/tmp/fleet-3.log"
	}
	t "a profile vgpuvm check refuses fails the play, with vgpuvm's message, and the installed one stays as it was" refused

	misnamed() {
		local before
		before=$(cd "$M" && cat etc/vgpuvm/profiles/fleettest.json var/lib/vgpuvm-deploy/profiles/fleettest.json) || return 1
		play "$M/tmp/fleet-misnamed.log" -e "@$F/misnamed.yml" && { echo "the play passed"; return 1; }
		grep -q 'has the name fleet-other: leave .*name.* out, or make it fleettest' "$M/tmp/fleet-misnamed.log" ||
			{ tail -n 20 "$M/tmp/fleet-misnamed.log"; return 1; }
		[ "$(cd "$M" && cat etc/vgpuvm/profiles/fleettest.json var/lib/vgpuvm-deploy/profiles/fleettest.json)" = "$before" ] ||
			{ echo "a profile changed"; return 1; }
		recap "$M/tmp/fleet-misnamed.log" | grep -E ' changed=0 .* failed=1 '
	}
	t "a profile whose \"name\" is not its key (the unit's instance) fails the play before it changes anything" misnamed

	# The other way to the package: an apt repository (vgpuvm_apt_repository), here a flat one on the disk holding the
	# same .deb, the only source of this root's apt, so that apt-get update reads nothing from the network. The
	# package is purged first; the role installs it again from there, and a second run changes nothing.
	repo() {
		local line="deb [trusted=yes] file:$F/repo ./" s
		in_root env DEBIAN_FRONTEND=noninteractive dpkg --purge vgpuvm >/dev/null || return 1
		mkdir -p "$M$F/repo" "$M/tmp/vgpuvm-fleet-apt" && cp "$deb" "$M$F/repo/" || return 1
		(cd "$M$F/repo" && dpkg-scanpackages . >Packages 2>/dev/null) || return 1
		mv "$M/etc/apt/sources.list" "$M/tmp/vgpuvm-fleet-apt/" 2>/dev/null
		find "$M/etc/apt/sources.list.d" -mindepth 1 -maxdepth 1 -exec mv {} "$M/tmp/vgpuvm-fleet-apt/" \;
		play "$M/tmp/fleet-4.log" -e vgpuvm_deb= -e "vgpuvm_apt_repository='$line'" ||
			{ tail -n 30 "$M/tmp/fleet-4.log"; return 1; }
		s=$(in_root dpkg-query -W -f='${Status} ${Version}' vgpuvm) || return 1
		echo "$s"
		[ "$s" = "install ok installed $version" ] || return 1
		grep -qxF "$line" "$M/etc/apt/sources.list.d/vgpuvm.list" || { cat "$M/etc/apt/sources.list.d/vgpuvm.list"; return 1; }
		play "$M/tmp/fleet-5.log" -e vgpuvm_deb= -e "vgpuvm_apt_repository='$line'" || { tail -n 30 "$M/tmp/fleet-5.log"; return 1; }
		recap "$M/tmp/fleet-5.log"
		recap "$M/tmp/fleet-5.log" | grep -qE ' changed=0 .* failed=0 ' || { grep -B3 '^changed:' "$M/tmp/fleet-5.log"; return 1; }
	}
	t "from an apt repository (vgpuvm_apt_repository) instead of a .deb: the package comes back after a purge; then changed=0" repo
	[ "$failed" -eq 0 ]
	exit
fi

# ---- outside: the tools, lint, the rules, then the throwaway root ----------------------------------------------
echo "1..16"
tools() {
	local c r=0
	for c in ansible-playbook ansible-lint promtool dpkg-buildpackage unshare sudo; do
		command -v "$c" >/dev/null || { echo "$c is missing (scripts/deps.sh package fleet)"; r=1; }
	done
	/usr/bin/python3 -c 'import apt, yaml' || { echo "python3-apt or python3-yaml is missing (scripts/deps.sh fleet)"; r=1; }
	[ "$(id -u)" = 0 ] || { echo "the fleet test needs root (a mount namespace and chroot)"; r=1; }
	return $r
}
t "ansible-playbook, ansible-lint, promtool, dpkg-buildpackage and sudo are installed; root" tools

# ansible-lint's production profile, its strictest, on everything in examples/fleet (the role, playbook, inventory
# and rules, as yamllint sees them too), then on the test's play; --offline: no Galaxy.
lint() {
	local o
	o=$(cd examples/fleet && ansible-lint --offline --nocolor 2>&1) || { echo "$o"; return 1; }
	echo "$o"
	grep -qE 'on ([5-9]|[1-9][0-9]+) files' <<<"$o" || { echo "ansible-lint found too few files in examples/fleet"; return 1; }
	(cd examples/fleet && ansible-lint --offline --nocolor "$top/tests/package/fleet/play.yml")
}
t "ansible-lint passes on examples/fleet (role, playbook, inventory, rules) and the test's play" lint

rules() {
	promtool check rules examples/fleet/alerts.yml && (cd tests/package/fleet && promtool test rules alerts_test.yml)
}
t "promtool check rules examples/fleet/alerts.yml; promtool test rules: each alert fires when it should" rules

# The example's inventory: the playbook parses, and each rig's profiles pass the vgpuvm of this tree's check, its
# units naming only those profiles.
example() {
	local d r=0 h
	ansible-playbook --syntax-check -i examples/fleet/inventory examples/fleet/site.yml || return 1
	d=$(mktemp -d) || return 1
	for h in rig01.lab.example rig02.lab.example; do
		ansible-inventory -i examples/fleet/inventory --host "$h" >"$d/$h.vars" || { r=1; continue; }
		/usr/bin/python3 - "$d/$h.vars" "$d" "$h" <<-'EOF' || { r=1; continue; }
			import json, os, sys
			v = json.load(open(sys.argv[1]))
			profiles = v["vgpuvm_profiles"]
			units = v.get("vgpuvm_units", list(profiles))
			if not profiles or set(units) - set(profiles):
			    sys.exit(f"{sys.argv[3]}: units {units}, profiles {list(profiles)}")
			os.mkdir(f"{sys.argv[2]}/{sys.argv[3]}")
			for name, p in profiles.items():
			    json.dump(p, open(f"{sys.argv[2]}/{sys.argv[3]}/{name}.json", "w"))
		EOF
		for p in "$d/$h"/*.json; do
			"${VGPUVM:-$build/vgpuvm}" check "$p" || r=1
		done
	done
	rm -rf "$d"
	return $r
}
t "the example inventory: site.yml parses; each rig's profiles pass vgpuvm check; its units have profiles" example

# What this machine has before, so that the end can check the test changed nothing of it.
state() {
	getent passwd vgpuvm || echo "no user"
	getent passwd vgpuvmfleet || echo "no user vgpuvmfleet"
	dpkg-query -W -f='${Status}\n' vgpuvm 2>/dev/null || echo "not installed"
	ls -d /etc/vgpuvm /etc/modprobe.d/vgpuvm-gvt.conf /etc/security/limits.d/vgpuvm.conf /var/cache/vgpuvm-deploy \
		/var/lib/vgpuvm-deploy /etc/apt/sources.list.d/vgpuvm.list \
		/etc/systemd/system/multi-user.target.wants/vgpuvm@fleettest.service 2>&1
	# The throwaway root's stand-in took the real one's place there only.
	sha256sum /usr/sbin/update-initramfs 2>&1
}
before=$(state)

deb=$(tests/package/build.sh -q "$build" 2>&1 | tail -n1)
inside_failed=false
if [ -n "$deb" ] && [ -s "$deb" ]; then
	W=$(mktemp -d /tmp/vgpuvm-fleet.XXXXXX)
	unshare --mount --propagation private bash "$0" --inside "$W" "$n" "$deb" || inside_failed=true
	rmdir "$W" 2>/dev/null
else
	for i in $(seq $((n + 1)) 15); do echo "not ok $i - no package to install (tests/package/build.sh: $deb)"; done
	inside_failed=true
fi
n=15

unchanged() {
	local after
	after=$(state)
	[ "$after" = "$before" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; return 1; }
	echo "$after"
}
t "this machine is as it was: no package, user, profile, modprobe.d, limits or apt file, or unit link came from the test" unchanged
[ "$failed" -eq 0 ] && ! $inside_failed

#!/bin/sh
# Installs the Debian packages vgpuvm needs to build and test, and only those that are missing: quick and quiet when
# everything is there. Usage: scripts/deps.sh [build] [test] [fuzz] [analyze] [package] [fleet] [e2e]   (default: build test)
set -eu
groups=${*:-build test}
pkgs=""
for g in $groups; do
	case $g in
	# go-md2man turns docs/*.md into the manual pages (make builds them only when it is there).
	build) pkgs="$pkgs gcc make pkg-config libjson-c-dev uuid-dev libseccomp-dev libcap-ng-dev go-md2man" ;;
	# Unit tests, golden files, bats system tests against a real QEMU under TCG, and the tiny guest for the
	# power-button test (Debian's kernel and an initramfs with a static init); strace for the fixtures' self-test;
	# man-db for the docs tests, which render each manual page with `man --warnings`; iproute2 for the NICs' tests
	# (network namespaces, bridges, taps); PulseAudio and aplay for the sound card's, a session's server on the host
	# and a player in the Linux test guest (which runs the host's userland); python3-jsonschema for the
	# schema test, which checks profile.schema.json against the parser; valgrind, whose memcheck runs each CLI command
	# once (valgrind.bats); UEFI (ovmf, with QEMU's firmware descriptors) and a TPM (swtpm, and swtpm_setup with
	# swtpm_localca) for the platform tests; Prometheus's node exporter, promtool (the prometheus package) and curl for
	# metrics.bats, which scrapes what `vgpuvm metrics --textfile` wrote; Xvfb, remote-viewer (virt-viewer) and
	# ImageMagick's import and convert for the SPICE display's (spice.bats); qemu-ga, which the Linux test guest runs
	# from the host's tree (agent.bats).
	test) pkgs="$pkgs clang-format libcmocka-dev bats jq python3 python3-jsonschema file qemu-system-x86 qemu-utils linux-image-amd64 cpio xz-utils strace procps util-linux man-db valgrind iproute2 pulseaudio pulseaudio-utils alsa-utils ovmf swtpm swtpm-tools prometheus-node-exporter prometheus curl xvfb virt-viewer imagemagick qemu-guest-agent" ;;
	# libFuzzer and the sanitizers' runtimes for `make fuzz`; gcc's analyzer and clang for `make analyze`.
	fuzz) pkgs="$pkgs clang libclang-rt-dev" ;;
	analyze) pkgs="$pkgs gcc clang" ;;
	# The Debian package: built with dpkg-buildpackage and debhelper, checked with lintian; installed in a throwaway
	# root, where its postinst needs systemd-sysusers and the unit is checked with systemd-analyze.
	package) pkgs="$pkgs dpkg-dev debhelper lintian systemd" ;;
	# The fleet examples (tests/package/fleet.sh): the Ansible role applied with ansible-playbook (its apt module needs
	# python3-apt; sudo for become, in the test's throwaway root) and checked by ansible-lint; the alerting rules
	# checked by promtool, which is in prometheus.
	fleet) pkgs="$pkgs ansible ansible-lint python3-apt python3-yaml sudo prometheus" ;;
	# The real kernel mdev path: sample drivers built from linux-source, a GL display under Xvfb; Debian's mdevctl,
	# run in the guest against vgpuvm.
	e2e) pkgs="$pkgs linux-headers-amd64 linux-source busybox-static cpio xvfb xauth x11-utils libgl1-mesa-dri libegl1 qemu-system-gui xz-utils libpng-dev mdevctl" ;;
	*) echo "deps.sh: unknown group '$g' (build, test, fuzz, analyze, package, fleet, e2e)" >&2; exit 64 ;;
	esac
done

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: install them as root: apt-get install$missing" >&2
	exit 69
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

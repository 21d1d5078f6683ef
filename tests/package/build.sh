#!/usr/bin/env bash
# Builds the Debian package from a copy of the tree as it is (committed or not, without build trees): dpkg-buildpackage
# -b -us -uc in BUILD/pkg/src, the .deb in BUILD/pkg, the log in BUILD/pkg/build.log. With -q, does nothing when
# BUILD/pkg already has a .deb newer than every file of the tree (the e2e layer's set-up uses that).
#
#   tests/package/build.sh [-q] [BUILD]      prints the .deb's path; exit 1 when the build failed
set -u
cd "$(dirname "$0")/../.." || exit 2
quick=false
[ "${1:-}" = -q ] && { quick=true; shift; }
out=$PWD/${1:-${BUILD:-build}}/pkg
version=$(sed -n 's/^VERSION := //p' Makefile)
deb=$out/vgpuvm_${version}_amd64.deb
files() { git ls-files -co --exclude-standard | grep -v -e '^vgpuvm$' -e '^build'; }

if $quick && [ -s "$deb" ] && [ -z "$(files | while read -r f; do [ "$f" -nt "$deb" ] && echo "$f"; done)" ]; then
	echo "$deb"
	exit 0
fi
rm -rf "$out"
mkdir -p "$out/src"
files | tar -cf - -T - | tar -xf - -C "$out/src" || exit 1
if ! (cd "$out/src" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" >&2
	exit 1
fi
[ -s "$deb" ] || { echo "dpkg-buildpackage made no $deb" >&2; exit 1; }
echo "$deb"

#!/usr/bin/env bats
# The command line: help, version, profile lookup, install. No VM is started here.

setup() {
	VGPUVM=${VGPUVM:-$BATS_TEST_DIRNAME/../../build/vgpuvm}
	T=$(mktemp -d)
	export HOME=$T/home XDG_CONFIG_HOME=
	unset VGPUVM_PROFILE_PATH
	mkdir -p "$HOME"
	echo '{"memory": "256M", "accel": "tcg"}' > "$T/plain.json"
}

teardown() {
	rm -rf "$T"
}

@test "--help lists the commands and exits 0" {
	run "$VGPUVM" --help
	[ "$status" -eq 0 ]
	[[ $output == *"Usage: vgpuvm COMMAND"* ]]
	[[ $output == *"argv"* && $output == *"check"* ]]
}

@test "--version prints the version" {
	run "$VGPUVM" --version
	[ "$status" -eq 0 ]
	[[ $output =~ ^vgpuvm\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "no command is a usage error (64)" {
	run "$VGPUVM"
	[ "$status" -eq 64 ]
}

@test "each command has --help" {
	for c in argv check; do
		run "$VGPUVM" "$c" --help
		[ "$status" -eq 0 ]
		[[ $output == "Usage: vgpuvm $c"* ]]
	done
}

@test "the stock desktop profile gives the classic GVT-g line plus the QMP monitor" {
	run "$VGPUVM" argv gvtg-desktop
	[ "$status" -eq 0 ]
	line=" $(echo "$output" | tr '\n' ' ')"
	uuid=$(echo "$output" | sed -n 's|.*sysfsdev=/sys/bus/mdev/devices/\([0-9a-f-]*\),.*|\1|p')
	[ ${#uuid} -eq 36 ]
	for want in " -enable-kvm " " -m 1G " " -nodefaults " " -M graphics=off " " -serial stdio " \
		" -display gtk,gl=on " " -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/$uuid,display=on " \
		" -chardev socket,id=vgpuvm-qmp,fd=3 " " -mon chardev=vgpuvm-qmp,mode=control "; do
		[[ $line == *"$want"* ]] || { echo "missing:$want in$line"; return 1; }
	done
}

@test "check prints a one-line summary and exits 0" {
	run "$VGPUVM" check "$T/plain.json"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == "$T/plain.json: ok: plain: 256M, 1 CPU, pc, tcg; no vGPU; window: none" ]]
}

@test "a bare name is found in VGPUVM_PROFILE_PATH before XDG and stock" {
	mkdir -p "$T/p1" "$T/p2" "$HOME/.config/vgpuvm/profiles"
	echo '{"memory": "128M", "accel": "tcg"}' > "$T/p2/gvtg-desktop.json"
	echo '{"memory": "512M", "accel": "tcg"}' > "$HOME/.config/vgpuvm/profiles/gvtg-desktop.json"
	VGPUVM_PROFILE_PATH=$T/p1:$T/p2 run "$VGPUVM" check gvtg-desktop
	[ "$status" -eq 0 ]
	[[ $output == "$T/p2/gvtg-desktop.json: ok: gvtg-desktop: 128M,"* ]]
	run "$VGPUVM" check gvtg-desktop
	[[ $output == "$HOME/.config/vgpuvm/profiles/gvtg-desktop.json: ok: gvtg-desktop: 512M,"* ]]
	XDG_CONFIG_HOME=$T/xdg run "$VGPUVM" check gvtg-desktop
	[[ $output == *"/profiles/stock/gvtg-desktop.json: ok: gvtg-desktop: 1G,"* ]]
}

@test "an unknown name exits 66 and lists every place looked at" {
	VGPUVM_PROFILE_PATH=$T/nowhere run "$VGPUVM" argv no-such-vm
	[ "$status" -eq 66 ]
	[[ $output == *'no profile named "no-such-vm"'* ]]
	[[ $output == *"$T/nowhere/no-such-vm.json"* ]]
	[[ $output == *"$HOME/.config/vgpuvm/profiles/no-such-vm.json"* ]]
	[[ $output == *"/etc/vgpuvm/profiles/no-such-vm.json"* ]]
	[[ $output == *"/profiles/stock/no-such-vm.json"* ]]
}

@test "a directory or unreadable file is not a profile (66)" {
	run "$VGPUVM" check "$T/"
	[ "$status" -eq 66 ]
	[[ $output == *"cannot read: Is a directory"* ]]
}

@test "a bad profile exits 65 with file, field and fix, and writes nothing" {
	echo '{"memory": "1G", "vgpu": {"type": "x", "xres": "abc", "yres": 1}}' > "$T/kiosk.json"
	cd "$T"
	before=$(ls -A "$T")
	run "$VGPUVM" argv kiosk.json
	[ "$status" -eq 65 ]
	[ "$output" = 'vgpuvm: error: kiosk.json: vgpu.xres: expected a positive integer, got "abc"' ]
	[ "$(ls -A "$T")" = "$before" ]
}

@test "journal mode: priority prefixes when stderr is the journal stream" {
	echo '{"memroy": 1}' > "$T/j.json"
	: > "$T/err"
	ino=$(stat -c '%d:%i' "$T/err")
	JOURNAL_STREAM=$ino "$VGPUVM" check "$T/j.json" 2>>"$T/err" || true
	grep -q '^<3>.*memroy: unknown key; did you mean "memory"' "$T/err"
}

@test "make install honours DESTDIR and PREFIX, and the installed binary finds its stock profiles" {
	cd "$BATS_TEST_DIRNAME/../.."
	make -s install PREFIX=/opt/vgpuvm-test DESTDIR="$T/root" BUILD="$T/build1" >/dev/null
	[ -x "$T/root/opt/vgpuvm-test/bin/vgpuvm" ]
	[ -f "$T/root/opt/vgpuvm-test/share/vgpuvm/profiles/gvtg-kiosk.json" ]
	# The manual pages (go-md2man is in scripts/deps.sh's build group) go where man looks for each section.
	local man=$T/root/opt/vgpuvm-test/share/man
	[ "$(man -M "$man" -w vgpuvm)" = "$man/man1/vgpuvm.1" ]
	[ "$(man -M "$man" -w vgpuvm-profile)" = "$man/man5/vgpuvm-profile.5" ]
	[ "$(man -M "$man" -w vgpuvm-control)" = "$man/man7/vgpuvm-control.7" ]
	make -s uninstall PREFIX=/opt/vgpuvm-test DESTDIR="$T/root" BUILD="$T/build1" >/dev/null
	[ ! -e "$T/root/opt/vgpuvm-test/bin/vgpuvm" ]
	[ ! -e "$T/root/opt/vgpuvm-test/share/vgpuvm" ]
	[ -z "$(find "$man" -type f)" ]
	# Without DESTDIR the binary runs where it was installed and finds the stock profiles under PREFIX/share.
	# Without go-md2man, make builds and installs everything but the manual pages, and says so.
	make -s install PREFIX="$T/prefix" BUILD="$T/build2" GO_MD2MAN= >/dev/null 2>"$T/install.err"
	grep -q 'go-md2man is not installed' "$T/install.err"
	[ ! -e "$T/prefix/share/man" ]
	[ ! -e "$T/build2/man" ]
	cd /
	run "$T/prefix/bin/vgpuvm" check gvtg-kiosk
	[ "$status" -eq 0 ]
	[[ $output == "$T/prefix/share/vgpuvm/profiles/gvtg-kiosk.json: ok: "* ]]
}

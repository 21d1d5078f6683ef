#!/usr/bin/env bats
# The files under examples/ stay valid: the profiles pass vgpuvm check, the unit file passes systemd-analyze verify
# without a warning, and the scripts parse (and pass shellcheck where it is installed). Nothing is started.

setup() {
	VGPUVM=${VGPUVM:-$BATS_TEST_DIRNAME/../../build/vgpuvm}
	EX=$(cd "$BATS_TEST_DIRNAME/../../examples" && pwd)
	T=$(mktemp -d)
}

teardown() {
	rm -rf "$T"
}

@test "examples: the kiosk and lab profiles pass vgpuvm check" {
	for p in "$EX/kiosk/kiosk.json" "$EX/lab/lab.json"; do
		run "$VGPUVM" check "$p"
		echo "$p: $output"
		[ "$status" -eq 0 ]
	done
	# And with the overrides the scripts use.
	run "$VGPUVM" check "$EX/kiosk/kiosk.json" --set display.full_screen=true
	[ "$status" -eq 0 ]
	run "$VGPUVM" argv "$EX/lab/lab.json" --set name=lab-3 --set display.listen=127.0.0.1:3 --set serial=file:/var/log/vgpuvm/lab-3.serial
	[ "$status" -eq 0 ]
	[[ $output == *"lab-3"* && $output == *"127.0.0.1:3"* ]]
}

@test "examples: vgpuvm@.service passes systemd-analyze verify with no warning" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	# verify wants the binaries it names to exist: point them at this build.
	sed "s|/usr/local/bin/vgpuvm|$(cd "$(dirname "$VGPUVM")" && pwd)/$(basename "$VGPUVM")|g" "$EX/vgpuvm@.service" > "$T/vgpuvm@lab-1.service"
	run systemd-analyze verify "$T/vgpuvm@lab-1.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -qx 'Type=notify' "$EX/vgpuvm@.service"
	grep -qx 'NotifyAccess=main' "$EX/vgpuvm@.service"
	grep -qx 'KillMode=mixed' "$EX/vgpuvm@.service"
}

@test "examples: the scripts parse, and pass shellcheck where it is installed" {
	for s in "$EX/kiosk/xinitrc" "$EX/lab/boot-lab.sh"; do
		[ -x "$s" ]
		sh -n "$s"
	done
	run "$EX/lab/boot-lab.sh"
	[ "$status" -eq 64 ]
	command -v shellcheck >/dev/null || skip "shellcheck is not installed"
	shellcheck -s sh "$EX/kiosk/xinitrc" "$EX/lab/boot-lab.sh"
}

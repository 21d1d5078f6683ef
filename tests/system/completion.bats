#!/usr/bin/env bats
# Bash completion (completion/vgpuvm.bash), as bash runs it: COMP_LINE and COMP_POINT set as for a TAB at the end of
# the line, bash's default COMP_WORDBREAKS, the function called, COMPREPLY read. The commands and options against
# vgpuvm's own --help, profile names from each place of the lookup path, running VM names, mdev types, parents and
# UUIDs from a fake sysfs tree.

load lib/vm
load lib/fakesys
load lib/assert

setup() {
	vm_setup
	# shellcheck source=completion/vgpuvm.bash
	. "$ROOT_DIR/completion/vgpuvm.bash"
	unset XDG_CONFIG_HOME
	export HOME=$T/home
	COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'
}

teardown() {
	vm_teardown
}

# complete LINE: what TAB at the end of LINE offers, sorted, one a line, into $output.
complete_line() {
	COMP_LINE=$1
	COMP_POINT=${#1}
	COMPREPLY=()
	_vgpuvm
	output=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort)
	echo "completing [$1]:"
	printf '%s\n' "$output" | sed 's/^/  /'
}

words() { printf '%s\n' "$@" | sort; }

@test "completion: the commands are those of vgpuvm --help, and the global options" {
	complete_line "$VGPUVM "
	[ "$output" = "$(words $("$VGPUVM" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }'))" ]
	[ "$(wc -l <<<"$output")" -ge 11 ]
	complete_line "$VGPUVM st"
	[ "$output" = "$(words status stop)" ]
	complete_line "$VGPUVM --"
	[ "$output" = "$(words --help --version)" ]
}

@test "completion: each command's options, from its --help" {
	complete_line "$VGPUVM run some-profile --"
	[ "$output" = "$(words --help --set --uuid)" ]
	complete_line "$VGPUVM stop vm --"
	[ "$output" = "$(words --force --help --timeout)" ]
	complete_line "$VGPUVM status --j"
	[ "$output" = --json ]
	complete_line "$VGPUVM check p --set x=1 --"
	[ "$output" = "$(words --help --set)" ]
	# Nothing after --timeout: it takes seconds.
	complete_line "$VGPUVM stop vm --timeout "
	[ -z "$output" ]
	complete_line "$VGPUVM metrics --"
	[ "$output" = "$(words --help --no-doctor --textfile)" ]
	# After --textfile, directories and *.prom files.
	mkdir "$T/tf" "$T/tf/sub"
	touch "$T/tf/vgpuvm.prom" "$T/tf/other.txt"
	complete_line "$VGPUVM metrics --textfile $T/tf/"
	[ "$output" = "$(words "$T/tf/sub" "$T/tf/vgpuvm.prom")" ]
}

@test "completion: profile names from VGPUVM_PROFILE_PATH, the user's directory and the stock ones, each once" {
	mkdir -p "$T/p1" "$T/p2" "$HOME/.config/vgpuvm/profiles"
	echo '{}' >"$T/p1/alpha.json"
	echo '{}' >"$T/p2/beta.json"
	echo '{}' >"$T/p2/mdpy-demo.json"
	echo '{}' >"$HOME/.config/vgpuvm/profiles/gamma.json"
	echo 'not a profile' >"$T/p1/notes.txt"
	export VGPUVM_PROFILE_PATH=$T/p1:$T/p2
	complete_line "$VGPUVM run "
	for p in alpha beta gamma gvtg-desktop gvtg-kiosk lab-headless mdpy-demo; do
		grep -qx "$p" <<<"$output"
	done
	[ "$(grep -cx mdpy-demo <<<"$output")" -eq 1 ]
	refute grep -q notes <<<"$output"
	complete_line "$VGPUVM doctor g"
	[ "$output" = "$(words gamma gvtg-desktop gvtg-kiosk)" ]
	# XDG_CONFIG_HOME replaces ~/.config.
	mkdir -p "$T/xdg/vgpuvm/profiles"
	echo '{}' >"$T/xdg/vgpuvm/profiles/delta.json"
	XDG_CONFIG_HOME=$T/xdg complete_line "$VGPUVM argv "
	grep -qx delta <<<"$output"
	refute grep -qx gamma <<<"$output"
	# A path: .json files and directories.
	complete_line "$VGPUVM check $T/p1/"
	[ "$output" = "$T/p1/alpha.json" ]
	# Only the first argument is a profile.
	complete_line "$VGPUVM run alpha "
	[ -z "$output" ]
}

@test "completion: --set vgpu.type= offers the host's mdev types, vgpu.parent= its parents, --uuid its mdevs" {
	S=$T/sys
	fakesys_make "$S"
	export VGPUVM_SYSFS_ROOT=$S
	complete_line "$VGPUVM run p --set vgpu.type="
	# Bash replaces only what follows the '=' of COMP_WORDBREAKS.
	[ "$output" = "$(words i915-GVTg_V5_4 i915-GVTg_V5_8 mdpy-vga mdpy-xga)" ]
	complete_line "$VGPUVM run p --set vgpu.type=mdpy"
	[ "$output" = "$(words mdpy-vga mdpy-xga)" ]
	complete_line "$VGPUVM argv p --set vgpu.parent=0000:00"
	[ "$output" = "00:02.0" ]
	complete_line "$VGPUVM argv p --set vgpu.parent="
	[ "$output" = "$(words 0000:00:02.0 mdpy)" ]
	# Without '=' among the word breaks, the whole word.
	COMP_WORDBREAKS=$' \t\n'
	complete_line "$VGPUVM run p --set vgpu.type=i915-GVTg_V5_"
	[ "$output" = "$(words vgpu.type=i915-GVTg_V5_4 vgpu.type=i915-GVTg_V5_8)" ]
	complete_line "$VGPUVM run p --set vg"
	[ "$output" = "$(words vgpu.parent= vgpu.type=)" ]
	# --uuid: the mdevs there are.
	u=3b0b8c4e-7d2f-4e61-9a5c-0f1e2d3c4b5a
	complete_line "$VGPUVM run p --uuid "
	[ -z "$output" ]
	fakesys_precreate "$S" mdpy mdpy-vga "$u"
	complete_line "$VGPUVM run p --uuid "
	[ "$output" = "$u" ]
}

@test "completion: the names of the running VMs for status, stop, screenshot, viewer, qmp, usb and cleanup; then a .png file; usb's actions" {
	profile a '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "shutdown": {"powerdown_timeout": 1}'
	complete_line "$VGPUVM stop "
	[ -z "$output" ]
	start_vm a
	wait_log 'is running'
	for c in status stop screenshot viewer qmp usb cleanup; do
		complete_line "$VGPUVM $c "
		[ "$output" = "$(vm_name a)" ]
	done
	complete_line "$VGPUVM usb $(vm_name a) "
	[ "$output" = "$(words attach detach)" ]
	complete_line "$VGPUVM stop --force "
	[ "$output" = "$(vm_name a)" ]
	mkdir "$T/shots"
	: >"$T/shots/old.png"
	: >"$T/shots/old.txt"
	complete_line "$VGPUVM screenshot $(vm_name a) $T/shots/"
	[ "$output" = "$T/shots/old.png" ]
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	complete_line "$VGPUVM stop "
	[ -z "$output" ]
}

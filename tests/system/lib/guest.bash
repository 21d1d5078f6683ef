# shellcheck shell=bash
# The tiny test guest (tests/guest/): Debian's kernel and an initramfs whose init obeys, ignores or pre-empts the ACPI
# power button. Source this from a bats test.
#
#   guest_build                 build it (quick when up to date) into guest_dir; fails if it cannot
#   guest_dir                   where it is: $VGPUVM_GUEST_DIR, else BUILD (default build)/guest in this checkout
#   guest_kernel                the kernel to boot: DIR/vmlinux (PVH, 2.5 s faster under TCG) if there, else DIR/kernel
#   guest_qemu_args MODE        QEMU arguments that boot it, one a line (MODE: button, selfoff, ignore or echo)
#   guest_extra_args_json MODE  the same as a JSON list, for a profile's "extra_args"
#
# The guest prints VGPUVM-GUEST-READY on ttyS0 once it is in its final state, and VGPUVM-GUEST-POWEROFF before it
# powers off. The arguments include -no-reboot, so that a guest that panics ends QEMU instead of booting again.

guest_dir() {
	if [ -n "${VGPUVM_GUEST_DIR:-}" ]; then
		printf '%s\n' "$VGPUVM_GUEST_DIR"
	else
		local top
		top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
		printf '%s/%s/guest\n' "$top" "${BUILD:-build}"
	fi
}

guest_build() {
	local top
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
	"$top/tests/guest/build.sh" "$(guest_dir)"
}

guest_kernel() {
	local dir
	dir=$(guest_dir)
	if [ -f "$dir/vmlinux" ]; then
		printf '%s\n' "$dir/vmlinux"
	else
		printf '%s\n' "$dir/kernel"
	fi
}

guest_qemu_args() {
	local mode=${1:-button}
	printf '%s\n' -kernel "$(guest_kernel)" -initrd "$(guest_dir)/initrd.cpio.gz" \
		-append "console=ttyS0 quiet panic=-1 mitigations=off vgpuvm_guest=$mode" -no-reboot
}

guest_extra_args_json() {
	local arg sep='' out='['
	while IFS= read -r arg; do
		arg=${arg//\\/\\\\}
		arg=${arg//\"/\\\"}
		out+="$sep\"$arg\""
		sep=', '
	done < <(guest_qemu_args "$@")
	printf '%s]\n' "$out"
}

# guest_profile NAME MODE [MORE-JSON]: a VM that boots the tiny guest in MODE, its console on vgpuvm's stdout (so
# wait_log sees VGPUVM-GUEST-READY). Needs lib/vm.bash's profile.
guest_profile() {
	local name=$1 mode=$2 more=${3:-}
	guest_build >/dev/null
	profile "$name" "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"stdio\", \"display\": {\"type\": \"none\"}, \"extra_args\": $(guest_extra_args_json "$mode")${more:+, $more}"
}

#!/usr/bin/env bats
# The Linux test guest (tests/lib/linux-guest.bash) booted by vgpuvm: the base that the device features' tests build
# on. A feature is verified when the guest sees it from the inside.

load lib/vm
load ../lib/linux-guest

setup() {
	vm_setup
	chmod 0711 "$T"
	linux_guest_setup
}

teardown() {
	vm_teardown
}

@test "guest: a Linux guest booted by vgpuvm reports from the inside and powers off; vgpuvm exits 0" {
	profile lg "$(linux_guest_json tests/guest-linux/smoke.sh)"
	start_vm lg
	wait_vm 120
	cat "$T/log"
	linux_guest_console | tail -n 5
	[ "$VM_STATUS" -eq 0 ]
	[ "$(linux_guest_exit)" = 0 ]
	cat "$LG_WORK/report"
	grep -qx "kernel $(cat "$LG_DIR/kver" 2>/dev/null || uname -r)" "$LG_WORK/report" || grep -q '^kernel ' "$LG_WORK/report"
	grep -qx 'link lo' "$LG_WORK/report"
	grep -qx 'efi no' "$LG_WORK/report"
	assert_clean lg
}

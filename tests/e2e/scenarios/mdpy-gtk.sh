# shellcheck shell=bash
# The classic GVT-g display line for real: QEMU's GTK window with OpenGL (-display gtk,gl=on), on an X server (Xvfb),
# showing the mdpy sample vGPU's region display.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mdpy-gtk.json
N=e2e-mdpy-gtk

step "mdpy loaded, an X server"
load_driver mdpy
U=$(profile_uuid "$P")
vgpuvm argv "$P" | grep -qx 'gtk,gl=on' || fail "vgpuvm argv $P has no -display gtk,gl=on"
ok "vgpuvm argv: -display gtk,gl=on, device /sys/bus/mdev/devices/$U"
start_xvfb

step "vgpuvm run with the GTK window"
vm_start $N "$P"
vm_wait_running $N
log_has $N "created mdev $U (type mdpy-vga on mdpy)"
Q=$(json_field $N qemu_pid)
check_mdev_in_use "$U" "$Q" mdpy-vga
check_memlock "$Q" 1088
show vgpuvm status $N || fail "vgpuvm status $N"
# QEMU's GTK window is on the X server, titled after the VM.
win=$(xwininfo -root -tree | grep -m1 -F '"QEMU (e2e-mdpy-gtk)"') || { xwininfo -root -tree; fail "no QEMU window on :99"; }
ok "the window on $DISPLAY:$win"

step "vgpuvm screenshot: mdpy's grey gradient, through the GTK console"
wait_gradient $N "$E2E_WORK/$N.png"

step "vgpuvm stop"
show vgpuvm stop $N --force || fail "vgpuvm stop $N exited $?"
vm_expect_exit $N 0
log_has $N "removed mdev $U"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U is gone"
grep -i -E 'gtk|gdk|egl|opengl' "$E2E_LOGS/$N.log" | grep -v -i 'display' && fail "QEMU complained about the display"
kill "$XVFB_PID"
e2e_pass

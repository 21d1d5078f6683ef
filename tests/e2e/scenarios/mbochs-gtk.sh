# shellcheck shell=bash
# mbochs (a dmabuf display, GVT-g's kind) in QEMU's GTK window with OpenGL, on an X server with Mesa's software
# renderer: the combination people try first without a GPU. It cannot work on Debian 12: QEMU's GTK window takes its
# EGL from the X server, and Xvfb has no DRI3, so Mesa 22.3 gives it llvmpipe through swrast, whose EGL lacks
# EGL_EXT_image_dma_buf_import; QEMU 7.2 then refuses the vGPU's console at start ("The console requires display
# DMABUF support"). This checks the premise (no DRI3 on the X server) and the outcome: QEMU's message, vgpuvm's hint
# naming the missing import, QEMU's status, and no mdev left behind. (egl-headless on vgem's render node, which Mesa
# runs on kms_swrast, starts; importing the dmabuf of a guest that sets a mode crashes QEMU's llvmpipe threads, because
# Linux 6.1 gives no dumb-buffer mapping for an imported object (drm_gem_dumb_map_offset): no picture that way either.)
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mbochs.json
N=e2e-mbochs
GTK=(--set 'display={"type": "gtk", "gl": true}')

step "mbochs loaded; an X server without DRI3"
load_driver mbochs
U=$(profile_uuid "$P")
vgpuvm argv "$P" "${GTK[@]}" | grep -qx 'gtk,gl=on' || fail "vgpuvm argv has no -display gtk,gl=on"
ok "vgpuvm argv: -display gtk,gl=on, device /sys/bus/mdev/devices/$U"
start_xvfb
exts=$(xdpyinfo -queryExtensions 2>/dev/null | sed -n 's/^ *\([A-Za-z0-9-]*\) *(opcode.*/\1/p' | tr '\n' ' ')
[ -n "$exts" ] || fail "xdpyinfo lists no extensions on $DISPLAY"
case " $exts " in *" DRI3 "*) fail "Xvfb offers DRI3 now: this scenario's premise no longer holds ($exts)" ;; esac
ok "$DISPLAY has no DRI3 (extensions: $exts)"

step "vgpuvm run with gtk,gl=on: QEMU refuses the dmabuf console; vgpuvm says why, removes the mdev"
vm_start $N "$P" "${GTK[@]}"
vm_wait_exit $N
cat "$E2E_LOGS/$N.log"
[ "$VM_RC" -ne 0 ] && [ "$VM_RC" -lt 64 ] || fail "vgpuvm run exited $VM_RC, expected QEMU's own failure status"
ok "vgpuvm run exited $VM_RC (QEMU's status)"
log_has $N "The console requires display DMABUF support"
grep -q '^vgpuvm: error: hint: .*EGL_EXT_image_dma_buf_import' "$E2E_LOGS/$N.log" ||
	fail "the hint does not name the missing dma-buf import"
ok "$(grep -m1 'hint:' "$E2E_LOGS/$N.log")"
log_has $N "removed mdev $U"
mdev_exists "$U" && fail "mdev $U is still there"
ok "mdev $U is gone"
kill "$XVFB_PID"
e2e_pass

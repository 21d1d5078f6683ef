#!/usr/bin/env bats
# The hints `vgpuvm run` gives after QEMU's known failure messages, as a user sees them: run by the scripted fake
# QEMU, which echoes its arguments to stderr (so one argument carries the message) and then fails. The hint about
# Mesa's drivers depends on the files where Mesa's loader looks (LIBGL_DRIVERS_PATH, inherited by QEMU).

load lib/vm
load lib/assert

setup() {
	vm_setup
	mkdir -p "$T/dri-bookworm" "$T/dri-amber"
	# Debian 12's Mesa 22.3 for Intel: iris and crocus, no i965; a host with mesa-amber's i965 beside them.
	touch "$T/dri-bookworm/iris_dri.so" "$T/dri-bookworm/crocus_dri.so"
	touch "$T/dri-amber/iris_dri.so" "$T/dri-amber/i965_dri.so"
}

teardown() {
	vm_teardown
}

# fails_with NAME MESSAGE: a VM whose QEMU prints MESSAGE and exits 1 after the QMP greeting.
fails_with() {
	fake_profile "$1" "exit-after-greeting 1" "\"extra_args\": [\"-msg\", \"qemu-system-x86_64: $2\"]"
}

hint_line() { grep '^vgpuvm: error: hint: ' <<<"$output"; }

@test "run: after eglCreateImageKHR failed, the hint gives INTEL_DEBUG=norbc and says i965 cannot work without i965_dri.so" {
	fails_with egl "eglCreateImageKHR failed"
	LIBGL_DRIVERS_PATH=$T/dri-bookworm run "$VGPUVM" run "$T/egl.json"
	[ "$status" -eq 1 ]
	[ "$(hint_line)" = 'vgpuvm: error: hint: the host'\''s Mesa could not import the vGPU'\''s display buffer (a dma-buf). On Intel graphics with Mesa 20 or later (iris), the known workaround keeps iris and turns its render compression off: "env": {"INTEL_DEBUG": "norbc"} (intel/gvt-linux#142; Mesa 22.3 also names it noccs). MESA_LOADER_DRIVER_OVERRIDE=i965, which older guides give, cannot work here: this host has no i965_dri.so (Mesa 22.0 removed it)' ]
}

@test "run: after eglCreateImageKHR failed, the hint offers i965 where i965_dri.so is installed" {
	fails_with egl "eglCreateImageKHR failed"
	LIBGL_DRIVERS_PATH=$T/dri-amber run "$VGPUVM" run "$T/egl.json"
	[ "$status" -eq 1 ]
	[ "$(hint_line)" = 'vgpuvm: error: hint: the host'\''s Mesa could not import the vGPU'\''s display buffer (a dma-buf). On Intel graphics with Mesa 20 or later (iris), the known workaround keeps iris and turns its render compression off: "env": {"INTEL_DEBUG": "norbc"} (intel/gvt-linux#142; Mesa 22.3 also names it noccs); or "MESA_LOADER_DRIVER_OVERRIDE": "i965", the driver of Mesa before 22.0 (or mesa-amber), which this host has' ]
}

@test "run: a dmabuf console refused with GL on says that the EGL must import dma-bufs" {
	fails_with dmabuf "The console requires display DMABUF support."
	run "$VGPUVM" run "$T/dmabuf.json"
	[ "$status" -eq 1 ]
	[ "$(hint_line)" = 'vgpuvm: error: hint: this vGPU shows its display as dmabufs: the window needs OpenGL ("gl": true) from an EGL that imports dma-bufs (EGL_EXT_image_dma_buf_import), which takes a GPU'\''s driver: an X server without DRI3 (Xvfb, say) or software rendering (llvmpipe) has none; or use "egl-headless" on a GPU'\''s render node' ]
}

@test "run: xres and yres on a device without an EDID region: the hint says to remove them" {
	fails_with edid "-device vfio-pci,sysfsdev=/sys/bus/mdev/devices/x,display=on,xres=800,yres=600: vfio x: xres and yres properties need edid support"
	run "$VGPUVM" run "$T/edid.json"
	[ "$status" -eq 1 ]
	[ "$(hint_line)" = 'vgpuvm: error: hint: this mdev type has no EDID region, so QEMU cannot give the guest a resolution: remove vgpu.xres and vgpu.yres (the kernel'\''s mdpy sample has none; mbochs and GVT-g do)' ]
}

argv
set-wrong-type.json
--set
vgpu.xres=abc
--set
vgpu.yres=1080

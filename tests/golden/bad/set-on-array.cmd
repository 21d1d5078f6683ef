argv
set-on-array.json
--set
vgpu.xres=1

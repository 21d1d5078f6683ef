argv
set-no-equals.json
--set
vgpu.xres

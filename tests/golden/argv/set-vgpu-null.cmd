argv
set-vgpu-null.json
--set
vgpu=null

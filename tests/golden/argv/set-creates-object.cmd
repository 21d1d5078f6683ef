argv
set-creates-object.json
--set
vgpu.type=mdpy-vga
--set
vgpu.parent=mdpy
--set
disks=[{"file":"/tmp/a.qcow2"}]

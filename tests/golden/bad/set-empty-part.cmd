argv
x.json
--set
vgpu..xres=1

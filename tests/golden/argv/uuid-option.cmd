argv
uuid-option.json
--set
vgpu.uuid=11111111-2222-3333-4444-555555555555
--uuid
6f0d3f5e-8a1b-4c2d-9e3f-0a1b2c3d4e5f

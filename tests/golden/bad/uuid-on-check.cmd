check
x.json
--uuid
6f0d3f5e-8a1b-4c2d-9e3f-0a1b2c3d4e5f

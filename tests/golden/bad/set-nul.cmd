argv
set-too-deep.json
--set
extra_args=["x\u0000y"]

argv
--colour
x.json

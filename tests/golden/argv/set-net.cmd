argv
set-net.json
--set
net=[{"forward": [{"host": 2222, "guest": 22}]}]
--set
input.tablet=true

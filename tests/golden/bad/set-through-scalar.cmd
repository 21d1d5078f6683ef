argv
set-through-scalar.json
--set
memory.size=2G

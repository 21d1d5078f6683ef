check
a.json
b.json

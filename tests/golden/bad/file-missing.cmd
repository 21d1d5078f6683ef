argv
does-not-exist.json

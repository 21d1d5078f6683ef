check
set-on-string.json
--set
memory=1G

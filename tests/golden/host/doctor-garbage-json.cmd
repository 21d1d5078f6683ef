doctor
--json
profiles/gvt.json

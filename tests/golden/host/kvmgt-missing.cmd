doctor
profiles/gvt.json

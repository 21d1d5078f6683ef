doctor
profiles/gvt-i965.json

doctor
profiles/gvt-iris.json

doctor
profiles/p40.json

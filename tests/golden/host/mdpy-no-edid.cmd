doctor
profiles/mdpy.json

check
kiosk.json

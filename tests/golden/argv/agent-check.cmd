check
agent-check.json

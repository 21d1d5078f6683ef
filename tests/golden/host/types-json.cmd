types
--json

types

"""Domain models (pydantic): one module per entity; camelCase on the wire, snake_case in code."""

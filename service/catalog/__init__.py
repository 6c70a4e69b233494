"""The use cases: public reads and admin writes, with their cache keys, tags and renderers."""

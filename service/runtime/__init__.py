"""What the composition root wires: app keys, cleanup contexts, readiness, the cache assembly."""

"""Load tests with an SLO gate, and the read-path benchmark (HTTP to loopback only)."""

"""Data for dev mode (demo) and for load tests (synthetic), written straight to the table."""

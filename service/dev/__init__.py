"""Dev-only tooling: dev mode, the patched moto server, the dev Cognito pool, seeding.

No production path imports this package; only the CLI does."""

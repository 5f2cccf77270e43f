"""openapi endpoints (being built)."""

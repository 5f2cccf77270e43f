"""initiatives endpoints (being built)."""

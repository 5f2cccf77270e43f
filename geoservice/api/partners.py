"""partners endpoints (being built)."""

"""Imports of registry data (initiatives, partners) from files: validated, atomic, idempotent."""

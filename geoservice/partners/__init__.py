"""Partner organisations: their records checked (validation), edited by their own editors (editing), exported
in the import's format (export), and found for a resident's plan (support). The import is imports/partners.py."""

"""Click commands of the registry (import, export, demo), registered on the main group in cli.py."""

"""Analyses over the registry and the CBS map: gap analysis (white spots) and outreach regions."""

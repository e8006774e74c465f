"""A backend keeping PII with Strongroom: see README.md."""

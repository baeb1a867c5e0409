"""Hand-written migration scripts; shipped as package data (see setup.py)."""

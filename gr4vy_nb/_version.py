"""The version of gr4vy-nb (read by pyproject.toml too)."""

__version__ = "0.1.0"

"""gr4vy-nb: read, report on and safely bulk-update Gr4vy checkout sessions."""

__version__ = "0.1.0"
